"""The top-level API: discoverable with ``dir()`` / ``help()``, and ``load_model`` takes bundled names."""

from __future__ import annotations

import pydoc

import pytest

import rhograph


def test_dir_and_all_list_the_lazy_functions():
    for name in (
        "predict",
        "predict_to_file",
        "load_model",
        "read_density",
        "write_density",
        "build_model",
        "available_models",
    ):
        assert name in dir(rhograph)
        assert name in rhograph.__all__
        assert callable(getattr(rhograph, name))
    assert "DensityGrid" in dir(rhograph)


def test_help_shows_the_functions():
    text = pydoc.render_doc(rhograph, renderer=pydoc.plaintext)
    for signature in ("predict(", "load_model(", "read_density(", "available_models("):
        assert signature in text
    assert "class DensityGrid" in text


def test_load_model_takes_bundled_names():
    names = rhograph.available_models()
    if "qm9-painn-delta" not in names:
        pytest.skip("bundled model not installed")
    model = rhograph.load_model("qm9-painn-delta")
    assert not model.training
    from rhograph.inference.model_source import resolve_model

    reference = resolve_model("qm9-painn-delta").model
    assert model.config == reference.config
    from rhograph.inference.model_source import DEFAULT_MODEL

    default = rhograph.load_model()
    assert default.config == resolve_model(DEFAULT_MODEL).model.config


def test_load_model_unknown_name_lists_the_bundled_ones(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a bundled model name"):
        rhograph.load_model("qm9-painn-deltaa")
    with pytest.raises(FileNotFoundError):
        rhograph.load_model(tmp_path / "nothing.pt")
