"""Import of released DeepDFT model folders, checked against a straightforward numpy evaluation of the
equations of the paper / reference notes written here (not the model code), with a brute-force neighbour
search, on state dicts that use the released key names and shapes with random weights."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import ase
import numpy as np
import pytest
import torch

from rhograph.cli.main import main
from rhograph.errors import CheckpointError
from rhograph.models import PRESETS, build_model
from rhograph.models.checkpoint import load_checkpoint, load_model
from rhograph.models.deepdft import is_deepdft_folder, load_deepdft_folder
from rhograph.testing import predict_density, random_probes, small_molecule, small_periodic_cell


# ------------------------------------------------------------------------- released names and shapes
def released_shapes(painn: bool, T: int, F: int, cutoff: float, num_basis: int = 30) -> dict[str, tuple[int, ...]]:
    """Parameter names and shapes of the released DeepDFT models (reference notes)."""
    shapes: dict[str, tuple[int, ...]] = {"atom_model.atom_embeddings.weight": (119, F)}

    def linear(name: str, n_in: int, n_out: int, bias: bool = True) -> None:
        shapes[f"{name}.weight"] = (n_out, n_in)
        if bias:
            shapes[f"{name}.bias"] = (n_out,)

    def mlp(name: str, n_in: int, hidden: int, n_out: int) -> None:
        linear(f"{name}.0", n_in, hidden)
        linear(f"{name}.2", hidden, n_out)

    if not painn:
        K = math.ceil(cutoff / 0.1)
        for i in range(T):
            msg = f"atom_model.interactions.{i}.message_sum_module.message_function"
            mlp(f"{msg}.msg_function_edge", K, F, F)
            mlp(f"{msg}.msg_function_node", 2 * F, 2 * F, F)
            mlp(f"atom_model.interactions.{i}.state_transition_function", F, F, F)
            msg = f"probe_model.messagesum_layers.{i}.message_function"
            mlp(f"{msg}.msg_function_edge", K, F, F)
            mlp(f"{msg}.msg_function_node", 2 * F, 2 * F, F)
            mlp(f"probe_model.probe_state_gate_functions.{i}", F, F, F)
            mlp(f"probe_model.probe_state_transition_functions.{i}", F, F, F)
        mlp("probe_model.readout_function", F, F, 1)
        return shapes
    for i in range(T):
        for prefix in (f"atom_model.interactions.{i}", f"probe_model.message_layers.{i}"):
            linear(f"{prefix}.filter_layer", num_basis, 3 * F)
            mlp(f"{prefix}.scalar_message_mlp", F, F, 3 * F)
        mlp(f"probe_model.message_layers.{i}.update_gate_mlp", F, 2 * F, 2 * F)
        for prefix in (f"atom_model.scalar_vector_update.{i}", f"probe_model.scalar_vector_update.{i}"):
            linear(f"{prefix}.linearU", F, F, bias=False)
            linear(f"{prefix}.linearV", F, F, bias=False)
            mlp(f"{prefix}.combined_mlp", 2 * F, F, 3 * F)
    mlp("probe_model.readout_function", F, F, 1)
    return shapes


def random_state_dict(shapes: dict[str, tuple[int, ...]], seed: int) -> dict[str, torch.Tensor]:
    rng = np.random.default_rng(seed)
    state = {}
    for name, shape in shapes.items():
        if name.endswith("bias"):
            values = rng.normal(scale=0.3, size=shape)
        elif "embeddings" in name:
            values = rng.normal(size=shape)
        else:
            values = rng.normal(scale=1.0 / math.sqrt(shape[1]), size=shape)
        state[name] = torch.tensor(values, dtype=torch.float32)
    return state


def write_folder(
    folder: Path,
    painn: bool,
    T: int = 2,
    F: int = 6,
    cutoff: float = 3.0,
    seed: int = 0,
    num_basis: int = 7,
    **arguments,
) -> dict[str, torch.Tensor]:
    """A DeepDFT model folder as the released runner writes it."""
    folder.mkdir(parents=True, exist_ok=True)
    state = random_state_dict(released_shapes(painn, T, F, cutoff, num_basis=num_basis), seed)
    args = {
        "load_model": None,
        "cutoff": cutoff,
        "split_file": "/data/split.json",
        "num_interactions": T,
        "node_size": F,
        "output_dir": "/runs/x",
        "dataset": "/data/set.txt",
        "max_steps": 10000000,
        "device": "cuda",
        "use_painn_model": painn,
        "ignore_pbc": False,
    }
    args.update(arguments)
    (folder / "arguments.json").write_text(json.dumps(args))
    optimizer = {"state": {}, "param_groups": [{"lr": 1e-4, "betas": (0.9, 0.999), "params": list(range(len(state)))}]}
    torch.save(
        {
            "model": state,
            "optimizer": optimizer,
            "scheduler": {"base_lrs": [1e-4], "last_epoch": 12345},
            "step": 12345,
            "best_val_mae": np.float64(0.0123),
        },
        folder / "best_model.pth",
    )
    return state


# ------------------------------------------------------------------- straightforward reference evaluation
def neighbours(senders: np.ndarray, receivers: np.ndarray, cell: np.ndarray, pbc, cutoff: float, same: bool):
    """All (sender j, receiver i, r_i − (r_j + n·cell)) with length < cutoff, by brute force over images."""
    ranges = [range(-3, 4) if p else range(1) for p in pbc]
    rows = []
    for n in itertools.product(*ranges):
        shift = np.asarray(n, dtype=float) @ cell
        for j, i in itertools.product(range(len(senders)), range(len(receivers))):
            if same and j == i and not any(n):
                continue
            vec = receivers[i] - (senders[j] + shift)
            if np.linalg.norm(vec) < cutoff:
                rows.append((j, i, vec))
    j, i, vec = zip(*rows, strict=True)
    return np.array(j), np.array(i), np.array(vec)


def ssp(x):
    return np.logaddexp(0.0, x) - np.log(2.0)


def silu(x):
    return x / (1.0 + np.exp(-x))


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


class Weights:
    def __init__(self, state):
        self.w = {k: v.double().numpy() for k, v in state.items()}

    def lin(self, name, x):
        y = x @ self.w[f"{name}.weight"].T
        return y + self.w[f"{name}.bias"] if f"{name}.bias" in self.w else y

    def mlp(self, name, x, act):
        return self.lin(f"{name}.2", act(self.lin(f"{name}.0", x)))


def scatter(values, index, size):
    out = np.zeros((size, *values.shape[1:]))
    np.add.at(out, index, values)
    return out


def reference_schnet(state, atoms: ase.Atoms, probes: np.ndarray, T: int, cutoff: float) -> np.ndarray:
    W = Weights(state)
    pos, cell, pbc = atoms.positions, atoms.cell.array, atoms.pbc
    mu = 0.1 * np.arange(math.ceil(cutoff / 0.1))

    def gauss(d):
        return np.exp(-((d[:, None] - mu) ** 2) / (2 * 0.1**2))

    def soft(d):
        return (1.0 - sigmoid(5 * (d - (cutoff - 1.5))))[:, None]

    h = W.w["atom_model.atom_embeddings.weight"][atoms.numbers]
    j, i, vec = neighbours(pos, pos, cell, pbc, cutoff, same=True)
    d = np.linalg.norm(vec, axis=1)
    layers = []
    for t in range(T):
        mf = f"atom_model.interactions.{t}.message_sum_module.message_function"
        m = W.mlp(f"{mf}.msg_function_node", np.concatenate([h[j], h[i]], 1), ssp)
        m = m * W.mlp(f"{mf}.msg_function_edge", gauss(d), ssp) * soft(d)
        h = h + W.mlp(f"atom_model.interactions.{t}.state_transition_function", scatter(m, i, len(h)), ssp)
        layers.append(h)
    j, i, vec = neighbours(pos, probes, cell, pbc, cutoff, same=False)
    d = np.linalg.norm(vec, axis=1)
    p = np.zeros((len(probes), h.shape[1]))
    for t in range(T):
        mf = f"probe_model.messagesum_layers.{t}.message_function"
        m = W.mlp(f"{mf}.msg_function_node", np.concatenate([layers[t][j], p[i]], 1), ssp)
        m = m * W.mlp(f"{mf}.msg_function_edge", gauss(d), ssp) * soft(d)
        gate = sigmoid(W.mlp(f"probe_model.probe_state_gate_functions.{t}", p, ssp))
        new = W.mlp(f"probe_model.probe_state_transition_functions.{t}", scatter(m, i, len(p)), ssp)
        p = gate * p + (1 - gate) * new
    return W.mlp("probe_model.readout_function", p, ssp)[:, 0]


def reference_painn(state, atoms: ase.Atoms, probes: np.ndarray, T: int, cutoff: float) -> np.ndarray:
    W = Weights(state)
    pos, cell, pbc = atoms.positions, atoms.cell.array, atoms.pbc
    F = W.w["atom_model.atom_embeddings.weight"].shape[1]
    K = W.w["atom_model.interactions.0.filter_layer.weight"].shape[1]
    n = np.arange(1, K + 1)

    def messages(prefix, s, v, j, vec, num):
        d = np.linalg.norm(vec, axis=1)
        unit = vec / d[:, None]
        basis = np.sin(n * np.pi * d[:, None] / cutoff) / d[:, None]
        fcut = np.where(d < cutoff, 0.5 * (np.cos(np.pi * d / cutoff) + 1), 0.0)
        x = W.lin(f"{prefix}.filter_layer", basis) * fcut[:, None] * W.mlp(f"{prefix}.scalar_message_mlp", s[j], silu)
        gate_state_vector, gate_edge_vector, gate_node_state = x[:, :F], x[:, F : 2 * F], x[:, 2 * F :]
        ms = s[j] * gate_node_state  # the released s_j factor
        mv = v[j] * gate_state_vector[:, None, :] + gate_edge_vector[:, None, :] * unit[:, :, None]
        return ms, mv

    def update(prefix, s, v):
        uv = v @ W.w[f"{prefix}.linearU.weight"].T
        vv = v @ W.w[f"{prefix}.linearV.weight"].T
        a = W.mlp(f"{prefix}.combined_mlp", np.concatenate([s, np.sqrt((vv**2).sum(1))], 1), silu)
        a_ss, a_sv, a_vv = a[:, :F], a[:, F : 2 * F], a[:, 2 * F :]
        return s + a_ss + a_sv * (uv * vv).sum(1), v + a_vv[:, None, :] * uv

    s = W.w["atom_model.atom_embeddings.weight"][atoms.numbers]
    v = np.zeros((len(s), 3, F))
    j, i, vec = neighbours(pos, pos, cell, pbc, cutoff, same=True)
    layers = []
    for t in range(T):
        ms, mv = messages(f"atom_model.interactions.{t}", s, v, j, vec, len(s))
        s, v = s + scatter(ms, i, len(s)), v + scatter(mv, i, len(s))
        s, v = update(f"atom_model.scalar_vector_update.{t}", s, v)
        layers.append((s, v))
    j, i, vec = neighbours(pos, probes, cell, pbc, cutoff, same=False)
    sp, vp = np.zeros((len(probes), F)), np.zeros((len(probes), 3, F))
    for t in range(T):
        ms, mv = messages(f"probe_model.message_layers.{t}", *layers[t], j, vec, len(probes))
        sum_s, sum_v = scatter(ms, i, len(probes)), scatter(mv, i, len(probes))
        gates = sigmoid(W.mlp(f"probe_model.message_layers.{t}.update_gate_mlp", sum_s, silu))
        g_s, g_v = gates[:, :F], gates[:, F:, None].transpose(0, 2, 1)
        sp, vp = g_s * sp + (1 - g_s) * sum_s, g_v * vp + (1 - g_v) * sum_v
        sp, vp = update(f"probe_model.scalar_vector_update.{t}", sp, vp)
    return W.mlp("probe_model.readout_function", sp, silu)[:, 0]


# ------------------------------------------------------------------------------------------------ tests
@pytest.mark.parametrize("painn", [False, True], ids=["schnet", "painn"])
@pytest.mark.parametrize("structure", ["periodic", "molecule"])
def test_imported_model_equals_the_reference_equations(tmp_path: Path, painn: bool, structure: str) -> None:
    T, cutoff = 2, 3.0
    state = write_folder(tmp_path / "run", painn, T=T, cutoff=cutoff, seed=11)
    atoms = small_periodic_cell(8) if structure == "periodic" else small_molecule(8)
    probes = random_probes(atoms, 6, 8)
    reference = (reference_painn if painn else reference_schnet)(state, atoms, probes, T, cutoff)
    assert np.ptp(reference) > 1e-3
    model = load_model(tmp_path / "run")
    assert model.config.architecture == ("painn" if painn else "schnet")
    if painn:
        assert model.config.num_basis == 7  # inferred from the weights
    else:
        assert model.config.gaussian_step == 0.1
    np.testing.assert_allclose(predict_density(model.double(), atoms, probes), reference, rtol=1e-9, atol=1e-10)
    model32 = load_model(tmp_path / "run")  # float32, as released
    np.testing.assert_allclose(predict_density(model32, atoms, probes), reference, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("preset", ["deepdft-schnet", "deepdft-painn"])
def test_released_full_size_shapes_give_the_preset(tmp_path: Path, preset: str) -> None:
    painn = preset == "deepdft-painn"
    T = PRESETS[preset].fields["num_interactions"]
    shapes = released_shapes(painn, T, 128, 4.0)
    assert sum(math.prod(s) for s in shapes.values()) == build_model(preset).num_parameters()
    write_folder(tmp_path / "run", painn, T=T, F=128, cutoff=4.0, num_basis=30, ignore_pbc=True)
    assert is_deepdft_folder(tmp_path / "run")
    loaded = load_deepdft_folder(tmp_path / "run")
    assert loaded.config == build_model(preset).config
    assert loaded.metadata["ignore_pbc"] is True and loaded.metadata["step"] == 12345
    assert loaded.metadata["best_val_mae"] == pytest.approx(0.0123)


def test_cli_convert(tmp_path: Path, capsys) -> None:
    write_folder(tmp_path / "qm9_painn", True, seed=3)
    out = tmp_path / "converted.pt"
    assert main(["convert-deepdft", str(tmp_path / "qm9_painn"), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "painn (T=" in printed and str(out) in printed
    atoms = small_periodic_cell(2)
    probes = random_probes(atoms, 5, 2)
    np.testing.assert_array_equal(
        predict_density(load_model(out), atoms, probes),
        predict_density(load_model(tmp_path / "qm9_painn"), atoms, probes),
    )
    checkpoint = load_checkpoint(out)
    assert checkpoint["metadata"]["source"] == "DeepDFT"
    assert checkpoint["metadata"]["arguments"]["node_size"] == 6
    # refuses to overwrite without --force; the default output sits beside the folder
    assert main(["convert-deepdft", str(tmp_path / "qm9_painn"), "-o", str(out)]) == 1
    assert main(["convert-deepdft", str(tmp_path / "qm9_painn"), "-o", str(out), "--force"]) == 0
    assert main(["convert-deepdft", str(tmp_path / "qm9_painn")]) == 0
    assert (tmp_path / "qm9_painn.pt").is_file()


def test_cli_reports_bad_folders(tmp_path: Path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["convert-deepdft", str(tmp_path / "empty"), "-o", str(tmp_path / "x.pt")]) == 1
    assert "best_model.pth" in capsys.readouterr().err


def test_architecture_mismatch_between_arguments_and_weights(tmp_path: Path) -> None:
    write_folder(tmp_path / "run", painn=False, use_painn_model=True)
    with pytest.raises(CheckpointError, match=r"describes a deepdft-painn model .* holds a deepdft-schnet model"):
        load_model(tmp_path / "run")


def test_hyper_parameters_that_do_not_fit_the_weights(tmp_path: Path) -> None:
    write_folder(tmp_path / "wide", painn=True, F=6, node_size=8)
    with pytest.raises(CheckpointError, match=r"F=6.*but the model is painn \(T=2, F=8.*shape mismatch"):
        load_model(tmp_path / "wide")
    write_folder(tmp_path / "deep", painn=True, num_interactions=3)
    with pytest.raises(CheckpointError, match="missing key"):
        load_model(tmp_path / "deep")
    write_folder(tmp_path / "cut", painn=False, cutoff=3.0)
    args = json.loads((tmp_path / "cut" / "arguments.json").read_text())
    (tmp_path / "cut" / "arguments.json").write_text(json.dumps({**args, "cutoff": 5.0}))
    with pytest.raises(CheckpointError, match="Gaussian expansion has 30 functions"):
        load_model(tmp_path / "cut")


def test_broken_folders(tmp_path: Path) -> None:
    write_folder(tmp_path / "run", painn=True)
    (tmp_path / "run" / "arguments.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_model(tmp_path / "run")
    (tmp_path / "run" / "arguments.json").write_text(json.dumps({"num_interactions": 2, "node_size": 6}))
    with pytest.raises(CheckpointError, match="lacks 'cutoff'"):
        load_model(tmp_path / "run")
    write_folder(tmp_path / "trunc", painn=True)
    weights = tmp_path / "trunc" / "best_model.pth"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(CheckpointError, match=r"best_model\.pth"):
        load_model(tmp_path / "trunc")
    write_folder(tmp_path / "other", painn=True)
    torch.save({"model": {"encoder.weight": torch.zeros(2, 2)}}, tmp_path / "other" / "best_model.pth")
    with pytest.raises(CheckpointError, match="no DeepDFT weights"):
        load_model(tmp_path / "other")
    with pytest.raises(FileNotFoundError):
        load_deepdft_folder(tmp_path / "absent")
