"""Labelling on a Dask cluster (a local one here): same labels as a local run, manifest, resume."""

from __future__ import annotations

import json

import pytest
from tests.labels.conftest import H2, WATER, tiny_config


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_local_dask_cluster_labels_like_a_local_run(labelled, tmp_path, capsys) -> None:
    pytest.importorskip("pyscf")
    pytest.importorskip("distributed")
    from rhograph.cli.main import main

    local_dir, _ = labelled
    out = tmp_path / "dask"
    args = ["-q", "label", str(WATER), str(H2), "-o", str(out), "--basis", "gth-szv", "--spacing", "0.15"]
    args += ["--ke-cutoff", "30", "--compact", "--workers", "2", "--threads", "1", "--scheduler", "local"]
    assert main(args) == 0, capsys.readouterr()
    manifest = json.loads((out / "manifest.json").read_text())
    reference = json.loads((local_dir / "manifest.json").read_text())
    for name in ("water", "h2"):
        entry = manifest["structures"][name]
        assert entry["status"] == "done"
        assert entry["energy_hartree"] == pytest.approx(reference["structures"][name]["energy_hartree"], abs=1e-7)
        for file in entry["files"]:
            assert (out / file).is_file()
    assert manifest["settings"] == json.loads((local_dir / "manifest.json").read_text())["settings"]
    # resumable: a second run finds everything done and computes nothing
    assert main(args) == 0
    assert "0 labelled, 2 already done" in capsys.readouterr().out
    assert tiny_config().basis == "gth-szv"
