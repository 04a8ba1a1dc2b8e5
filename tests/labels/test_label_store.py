"""How labels are kept: compact-only labels checked without a grid, single-precision compressed files,
checksums in the manifest (resume and ``--verify``), and manifests from before the solver settings moved."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

pytest.importorskip("pyscf")

from rhograph.cli.main import main
from rhograph.labels import CompactDensity, label_structures, read_structures
from rhograph.labels.compact import _pack
from rhograph.labels.manifest import Manifest

from .conftest import H2, WATER, tiny_config


@pytest.fixture(scope="module")
def compact_only(tmp_path_factory):
    out = tmp_path_factory.mktemp("compact_only")
    config = tiny_config(write_grid=False)
    report = label_structures(read_structures([WATER, H2]), out, config, workers=1, threads=1)
    assert report.ok
    return out, config


def test_compact_only_molecule_is_checked_on_the_xc_grid(compact_only):
    out, _ = compact_only
    assert sorted(p.name for p in out.iterdir()) == ["h2.dm.npz", "manifest.json", "water.dm.npz"]
    entry = json.loads((out / "manifest.json").read_text())["structures"]["water"]
    assert "electrons_grid" not in entry  # no density grid was evaluated
    assert entry["electrons_box"] == pytest.approx(8.0, abs=8e-3)
    assert entry["solver"] == {"xc_grid_level": 1, "conv_tol": 1e-8, "max_cycle": 100}
    assert CompactDensity.load(out / "water.dm.npz").to_grid().electrons == pytest.approx(8.0, abs=8e-3)


def test_a_box_too_small_for_the_density_fails_without_a_grid(tmp_path):
    report = label_structures(read_structures([WATER]), tmp_path, tiny_config(write_grid=False, vacuum=0.0))
    assert "over the box" in report.failed["water"]
    assert not (tmp_path / "water.dm.npz").exists()


def test_compact_files_store_single_precision_compressed(compact_only):
    out, _ = compact_only
    with np.load(out / "water.dm.npz") as npz:
        assert npz["dm_tril"].dtype == np.float32 and int(npz["format_version"]) == 2
    with zipfile.ZipFile(out / "water.dm.npz") as archive:
        assert all(info.compress_type == zipfile.ZIP_DEFLATED for info in archive.infolist())
    label = CompactDensity.load(out / "water.dm.npz")
    assert label.dm.dtype == np.float64  # evaluated in double precision
    assert label.electrons_exact == pytest.approx(8.0, abs=1e-5)


def test_format_1_files_still_load(compact_only, tmp_path):
    out, _ = compact_only
    with np.load(out / "water.dm.npz") as npz:
        arrays = {key: npz[key] for key in npz.files}
    label = CompactDensity.load(out / "water.dm.npz")
    arrays["format_version"] = np.int64(1)
    arrays["dm_tril"] = _pack(label.dm)  # float64, as format 1 stored it
    np.savez(tmp_path / "old.dm.npz", **arrays)
    old = CompactDensity.load(tmp_path / "old.dm.npz")
    points = np.random.default_rng(0).random((50, 3)) * 3.0
    np.testing.assert_allclose(old.evaluate(points), label.evaluate(points), rtol=1e-12)


def test_a_changed_file_fails_verification_and_is_labelled_again(tmp_path):
    config = tiny_config(write_grid=False)
    label_structures(read_structures([H2]), tmp_path, config, workers=1, threads=1)
    manifest = Manifest.open(tmp_path, config.density_settings())
    assert manifest.verify() == {}
    recorded = manifest.structures["h2"]["sha256"]["h2.dm.npz"]

    label = CompactDensity.load(tmp_path / "h2.dm.npz")
    label.dm = label.dm * 1.5  # a silently corrupted label
    label.save(tmp_path / "h2.dm.npz")
    assert "SHA-256 mismatch" in Manifest.open(tmp_path, config.density_settings()).verify()["h2"]

    report = label_structures(read_structures([H2]), tmp_path, config, workers=1, threads=1)
    assert report.done == ["h2"]
    manifest = Manifest.open(tmp_path, config.density_settings())
    assert manifest.verify() == {} and manifest.structures["h2"]["sha256"]["h2.dm.npz"] == recorded


def test_cli_verify_reports_missing_and_changed_labels(tmp_path, capsys):
    densities = tmp_path / "densities"
    config = tiny_config(write_grid=False)
    label_structures(read_structures([WATER, H2]), densities, config, workers=1, threads=1)
    args = [
        "data",
        "qm9",
        "-o",
        str(tmp_path),
        "--verify",
        "--basis",
        "gth-szv",
        "--ke-cutoff",
        "30",
        "--compact",
        "--no-grid",
    ]
    assert main(args) == 0
    assert "2 of 2 labels match" in capsys.readouterr().out
    (densities / "h2.dm.npz").unlink()
    assert main(args) == 1
    assert "h2: missing h2.dm.npz" in capsys.readouterr().out


def test_a_manifest_from_before_the_solver_settings_moved_is_resumed(tmp_path):
    config = tiny_config(write_grid=False)
    old_settings = {**config.density_settings(), "xc_grid_level": 3}
    entry = {"status": "done", "converged": True, "files": ["h2.dm.npz"]}
    manifest = {"format": "rhograph-labels", "version": 1, "settings": old_settings, "structures": {"h2": entry}}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    opened = Manifest.open(tmp_path, config.density_settings())
    assert opened.structures["h2"]["solver"] == {"xc_grid_level": 3}


def test_a_second_labelling_process_on_the_same_directory_is_refused(tmp_path):
    from rhograph.errors import RunDirLockedError
    from rhograph.io.lock import DirectoryLock
    from rhograph.labels.runner import LOCK_NAME

    with DirectoryLock(tmp_path, LOCK_NAME, "labelling run"):  # as a running `rhograph label` holds it
        with pytest.raises(RunDirLockedError, match="another labelling run"):
            label_structures(read_structures([H2]), tmp_path, tiny_config(write_grid=False))
    report = label_structures(read_structures([H2]), tmp_path, tiny_config(write_grid=False))
    assert report.done == ["h2"] and not (tmp_path / LOCK_NAME).exists()
