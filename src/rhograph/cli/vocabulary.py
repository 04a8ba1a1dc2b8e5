"""One vocabulary for every verb of ``rhograph``, applied in one place.

Every verb parser is a :class:`VerbParser`, which

- accepts ``-o``, ``--output`` and ``--out`` for a verb's output (whichever one the verb declares);
- accepts ``-v`` / ``-q`` after the verb as well as before it;
- shows each option's default in ``--help`` (:class:`HelpFormatter`) and ends ``--help`` with an example
  (:data:`EXAMPLES`).

Renamed options stay accepted through :func:`add_deprecated_alias` (hidden from ``--help``; a warning names the
new spelling). The periodicity vocabulary is ``auto`` / ``on`` / ``off`` (:data:`PBC_CHOICES`).
"""

from __future__ import annotations

import argparse
import logging
import re
from typing import Any

log = logging.getLogger(__name__)

#: The spellings of a verb's output option; a verb declaring any of them accepts all.
OUTPUT_OPTIONS = ("-o", "--output", "--out")

#: Periodicity of a structure or grid: as the file says, periodic along all axes, or not periodic.
PBC_CHOICES = ("auto", "on", "off")

#: An example command line per verb, shown at the end of ``rhograph VERB --help``.
EXAMPLES: dict[str, str] = {
    "info": "rhograph info water.cube CHGCAR --json",
    "predict": "rhograph predict water.xyz -o water.cube --grid-step 0.1\n"
    "  rhograph predict *.xyz -o preds/ --format chgcar --model qm9-painn-small --json",
    "evaluate": "rhograph evaluate data/qm9 --model run/best.pt --split data/qm9/split.json -o eval/",
    "learning-curve": "rhograph learning-curve data/qm9 --sizes 50 100 200 --max-steps 20000 -o curve/",
    "demo": "rhograph demo -o demo-out --molecule water",
    "train": "rhograph train data/qm9 -o run/ --preset deepdft-painn --max-steps 100000 --set lr=5e-4\n"
    "  rhograph train -o run/ --resume",
    "models": "rhograph models --json",
    "convert-deepdft": "rhograph convert-deepdft qm9_painn/ -o qm9_painn.pt",
    "label": "rhograph label water.xyz -o labels/ --grid-step 0.15 --compact",
    "atom-densities": "rhograph atom-densities -o atoms.npz --elements H C N O F",
    "data": "rhograph data qm9 --count 200 -o data/qm9",
    "data qm9": "rhograph data qm9 --count 200 --seed 0 -o data/qm9",
    "bader": "rhograph bader CHGCAR --ref AECCAR0 AECCAR2 --json",
    "variability": "rhograph variability pbe.cube scan.cube b3lyp.cube --json",
    "charge-transfer": "rhograph charge-transfer --full full.cube --removed removed.cube --model run/best.pt -o ct/",
    "compare": "rhograph compare pred.cube ref.cube --json",
}


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the layout of docstring descriptions and adds ``(default: X)`` to options whose help does not
    already name a default (flags and options without a default get none)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "default" in text.lower()
            or default in (None, False, argparse.SUPPRESS)
            or default == []
            or not (action.option_strings or action.nargs in ("?", "*"))
        ):
            return action.help
        return f"{text} (default: %(default)s)"


class VerbParser(argparse.ArgumentParser):
    """The parser of one verb (and of sub-verbs such as ``data qm9``): see the module docstring."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["formatter_class"] = HelpFormatter
        super().__init__(*args, **kwargs)
        verb = self.prog.split(" ", 1)[1] if " " in self.prog else self.prog
        example = EXAMPLES.get(verb)
        if example:
            self.epilog = f"{self.epilog}\n\n" if self.epilog else ""
            self.epilog += f"example:\n  {example}"
        self.add_argument(
            "-v", "--verbose", action="count", default=argparse.SUPPRESS, help="more log output (-vv for debug)"
        )
        self.add_argument(
            "-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="only warnings and errors"
        )

    def add_argument(self, *names: Any, **kwargs: Any) -> argparse.Action:
        """``add_argument`` that gives an output option all of :data:`OUTPUT_OPTIONS` (the verb's own ``dest``)
        and has it checked before the verb runs (:func:`check_output_option`).

        ``output_kind`` (output options only): ``"folder"`` or ``"file"`` (default: ``"folder"`` when the help
        says directory or folder and not file), or ``None`` for a verb that checks its output itself.
        """
        kind = kwargs.pop("output_kind", "infer")
        if names and set(names) & set(OUTPUT_OPTIONS):
            longs = [name for name in names if name.startswith("--")]
            kwargs.setdefault("dest", longs[0][2:].replace("-", "_") if longs else "output")
            names = OUTPUT_OPTIONS
            if kind == "infer":
                text = str(kwargs.get("help", ""))
                kind = "folder" if re.search(r"\b(directory|folder)\b", text) and "file" not in text else "file"
            self.set_defaults(_output_check=(kwargs["dest"], kind))
        return super().add_argument(*names, **kwargs)


def check_output_option(args: argparse.Namespace) -> None:
    """Before a verb runs: its output file or folder can be written (nothing is created).

    Raises:
        OutputError: naming the path and why (read-only folder, a file where a folder is needed, ...).
    """
    from rhograph.io.atomic import check_location

    dest, kind = getattr(args, "_output_check", (None, None))
    value = getattr(args, dest, None) if dest and kind else None
    if value:
        check_location(value, folder=kind == "folder")


class _DeprecatedAlias(argparse.Action):
    def __init__(self, option_strings: list[str], dest: str, new: str = "", **kwargs: Any) -> None:
        self.new = new
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option: Any = None):
        log.warning("%s is deprecated; use %s", option, self.new)
        setattr(namespace, self.dest, values)


def add_deprecated_alias(parser: Any, old: str, action: argparse.Action) -> None:
    """Accept ``old`` as a hidden, deprecated spelling of ``action`` (same type and destination)."""
    parser.add_argument(
        old,
        action=_DeprecatedAlias,
        new=action.option_strings[-1],
        dest=action.dest,
        type=action.type,
        metavar=action.metavar,
        default=argparse.SUPPRESS,
        help=argparse.SUPPRESS,
    )
