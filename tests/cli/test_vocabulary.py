"""One vocabulary across verbs: -o/--output/--out, -v/-q after the verb, defaults and an example in --help."""

from __future__ import annotations

import argparse
import logging

import pytest

from rhograph.cli.main import VERBS, build_parser, main


def _verb_parsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_every_verb_help_shows_an_example_and_accepts_v_and_q(verb, capsys):
    with pytest.raises(SystemExit) as info:
        main([verb, "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert "example:\n  rhograph " in text, text
    assert "-v, --verbose" in text and "-q, --quiet" in text


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_output_options_are_one_vocabulary(verb):
    parser = _verb_parsers()[verb]
    spellings = [set(a.option_strings) & {"-o", "--output", "--out"} for a in parser._actions]
    found = [s for s in spellings if s]
    assert found in ([], [{"-o", "--output", "--out"}]), found


def test_defaults_are_shown(capsys):
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: auto)" in text  # --pbc and --device, whose help did not name their default
    assert "(default: -1)" in text


def test_v_and_q_after_the_verb(capsys):
    main(["models", "-q"])
    assert logging.getLogger().level == logging.WARNING
    main(["models", "-vv"])
    assert logging.getLogger().level == logging.DEBUG
    main(["-q", "models"])
    assert logging.getLogger().level == logging.WARNING


def test_out_and_output_are_aliases_with_the_verbs_destination():
    parsers = _verb_parsers()
    assert str(parsers["train"].parse_args(["data", "-o", "run"]).out) == "run"
    assert str(parsers["train"].parse_args(["data", "--output", "run"]).out) == "run"
    assert parsers["predict"].parse_args(["a.xyz", "--out", "a.cube"]).output == "a.cube"


def test_grid_step_is_the_one_name_and_spacing_a_deprecated_alias(caplog):
    parser = _verb_parsers()["label"]
    assert parser.parse_args(["w.xyz", "-o", "x", "--grid-step", "0.2"]).spacing == 0.2
    assert parser.parse_args(["w.xyz", "-o", "x"]).spacing == 0.15
    with caplog.at_level(logging.WARNING):
        assert parser.parse_args(["w.xyz", "-o", "x", "--spacing", "0.3"]).spacing == 0.3
    assert "--spacing is deprecated; use --grid-step" in caplog.text
    assert "--spacing" not in parser.format_help()


def test_training_accepts_the_pbc_words_of_predict():
    from rhograph.train.config import TrainConfig

    assert [TrainConfig(data="x", pbc=word).pbc for word in ("auto", "on", "off")] == ["file", "all", "none"]


def test_every_option_of_every_verb_has_help():
    def undocumented(parser, name):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for verb, sub in action.choices.items():
                    yield from undocumented(sub, f"{name} {verb}")
            elif action.help is None:
                yield f"{name} {action.option_strings or action.dest}"

    assert list(undocumented(build_parser(), "rhograph")) == []
