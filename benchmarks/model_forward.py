"""Forward throughput of the two paper models on CPU: encode (atoms) + decode (probes) for a 50-atom cell.

A random 50-atom periodic structure (Li, O, Ni, Co, Mn at ~0.1 atoms/Å³, no pair closer than 1.6 Å) with
20,000 random probes, cutoff 4 Å, full-size presets (random weights: timing does not depend on them),
float32, ``torch.set_num_threads(2)``, ``torch.inference_mode``. Graph building (neighbour lists) is timed
separately and not part of the model throughput. Decoding runs in probe chunks of 1000 (as the released
predict script does; rhograph's decoder also splits larger chunks into edge blocks on CPU by itself).

For comparison the script also decodes with a per-edge evaluation in the style of the released code (the
message MLP of the invariant model applied to the concatenated [sender, receiver] state of every edge, and
the equivariant messages formed per edge from gathered atom states), checks that both agree, and prints the
speed-up of rhograph's decoder over it, measured in the same run.

The machine is shared: timings are the best of ``--repeats`` runs, interleaving the two decoders.

Run: python benchmarks/model_forward.py [--probes 20000] [--chunk 1000] [--repeats 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import ase
import numpy as np
import torch

import rhograph
from rhograph import keys
from rhograph.data import collate, make_sample
from rhograph.models.density_model import AtomStates, DensityModel


def structure(num_atoms: int = 50, seed: int = 0) -> ase.Atoms:
    rng = np.random.default_rng(seed)
    length = (num_atoms / 0.1) ** (1 / 3)
    cell = np.diag([length, length, length]) + rng.uniform(-0.5, 0.5, size=(3, 3)) * (1 - np.eye(3))
    positions: list[np.ndarray] = []
    while len(positions) < num_atoms:
        candidate = rng.uniform(0, 1, size=3) @ cell
        frac = np.linalg.solve(cell.T, np.array([*positions, candidate]).T).T
        delta = frac[:-1] - frac[-1]
        delta -= np.round(delta)
        if not len(positions) or np.linalg.norm(delta @ cell, axis=1).min() > 1.6:
            positions.append(candidate)
    numbers = rng.choice([3, 8, 28, 27, 25], size=num_atoms)
    return ase.Atoms(numbers=numbers, positions=np.array(positions), cell=cell, pbc=True)


def released_style_decode(model: DensityModel, states: AtomStates, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Per-edge decoder (the released code's order of operations), for the speed comparison."""
    from rhograph.nn.geometry import edge_vectors

    probes, edges = batch[keys.PROBE_POSITIONS], batch[keys.PROBE_EDGES]
    vectors = edge_vectors(probes, batch[keys.POSITIONS], edges, batch[keys.PROBE_EDGE_OFFSETS], batch[keys.CELL], None)
    distance = torch.linalg.vector_norm(vectors, dim=1)
    num = probes.shape[0]
    pm = model.probe_model
    if model.config.architecture == "schnet":
        basis = pm.basis(distance)
        p = torch.zeros(num, model.config.hidden_size)
        for t, layer in enumerate(pm.messagesum_layers):
            mf = layer.message_function
            nodes = mf.msg_function_node(torch.cat((states.scalar[t][edges[0]], p[edges[1]]), dim=1))
            gates = mf.msg_function_edge(basis) * mf.soft_cutoff(distance)[:, None]
            msum = torch.zeros_like(p).index_add_(0, edges[1], nodes * gates)
            g = pm.probe_state_gate_functions[t](p)
            p = p * g + (1 - g) * pm.probe_state_transition_functions[t](msum)
        return pm.readout_function(p).squeeze(1)
    F = model.config.hidden_size
    basis, fcut = pm.basis(distance), pm.cutoff_function(distance)
    unit = vectors / distance.clamp_min(1e-12)[:, None]
    s, v = torch.zeros(num, F), torch.zeros(num, 3, F)
    assert states.vector is not None
    for t, (layer, update) in enumerate(zip(pm.message_layers, pm.scalar_vector_update, strict=True)):
        s_atoms, v_atoms = states.scalar[t], states.vector[t]
        x = layer.filter_layer(basis) * fcut[:, None] * layer.scalar_message_mlp(s_atoms)[edges[0]]
        g_sv, g_ev, g_s = torch.split(x, F, dim=1)
        m_s = s_atoms[edges[0]] * g_s
        m_v = v_atoms[edges[0]] * g_sv[:, None, :] + g_ev[:, None, :] * unit[:, :, None]
        sum_s = torch.zeros_like(s).index_add_(0, edges[1], m_s)
        sum_v = torch.zeros_like(v).index_add_(0, edges[1], m_v)
        gate_s, gate_v = torch.split(layer.update_gate_mlp(sum_s), F, dim=1)
        s = gate_s * s + (1 - gate_s) * sum_s
        v = gate_v[:, None, :] * v + (1 - gate_v[:, None, :]) * sum_v
        s, v = update(s, v)
    return pm.readout_function(s).squeeze(1)


def best_of(repeats: int, fn) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--probes", type=int, default=20_000)
    parser.add_argument("--chunk", type=int, default=1_000, help="probes per decoder call")
    parser.add_argument("--repeats", type=int, default=3, help="timed repetitions (best is reported)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    atoms = structure()
    rng = np.random.default_rng(1)
    probes = rng.uniform(0, 1, size=(args.probes, 3)) @ atoms.cell.array
    t0 = time.perf_counter()
    atom_batch = collate([make_sample(atoms, None, cutoff=4.0)])
    chunks = []
    for start in range(0, args.probes, args.chunk):
        chunks.append(collate([make_sample(atoms, probes[start : start + args.chunk], cutoff=4.0)]))
    graph_time = time.perf_counter() - t0
    num_edges = sum(c[keys.PROBE_EDGES].shape[1] for c in chunks)
    print(
        f"structure: {len(atoms)} atoms, cell volume {atoms.get_volume():.0f} Å³, "
        f"{atom_batch[keys.ATOM_EDGES].shape[1]} atom edges; {args.probes} probes, "
        f"{num_edges / args.probes:.1f} edges per probe, chunks of {args.chunk}"
    )
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, float32, CPU")
    print(f"graph building (not in the model figures): {graph_time:.2f} s")
    print()
    header = f"{'preset':<16}{'params':>10}{'encode ms':>11}{'decode s':>10}{'probes/s':>11}{'decode %':>10}"
    print(header + f"{'per-edge s':>12}{'speed-up':>10}")
    for preset in ("deepdft-schnet", "deepdft-painn"):
        torch.manual_seed(0)
        model = rhograph.build_model(preset).eval()
        with torch.inference_mode():
            model.encode_atoms(atom_batch)  # warm-up
            encode_time, states = best_of(args.repeats, lambda m=model: m.encode_atoms(atom_batch))

            def decode(m=model, s=states):
                return torch.cat([m.decode_probes(s, chunk) for chunk in chunks])

            def decode_released(m=model, s=states):
                return torch.cat([released_style_decode(m, s, chunk) for chunk in chunks])

            decode(model, states)
            decode_time = released_time = float("inf")
            for _ in range(args.repeats):  # interleaved, so both see the same machine load
                elapsed, rho = best_of(1, decode)
                decode_time = min(decode_time, elapsed)
                elapsed, rho_released = best_of(1, decode_released)
                released_time = min(released_time, elapsed)
        assert torch.allclose(rho, rho_released, rtol=1e-4, atol=1e-5), "decoders disagree"
        total = encode_time + decode_time
        print(
            f"{preset:<16}{model.num_parameters():>10,}{encode_time * 1e3:>11.1f}{decode_time:>10.2f}"
            f"{args.probes / total:>11,.0f}{100 * decode_time / total:>9.1f}%"
            f"{released_time:>12.2f}{released_time / decode_time:>9.2f}x"
        )
    print()
    print("probes/s = probes / (encode + decode); speed-up = per-edge (released-style) decode time / rhograph's.")


if __name__ == "__main__":
    main()
