"""The CPU decoder's thread count chosen from measured speed (ThreadGovernor, GridPredictor adaptive_threads)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase.build import bulk, molecule

from rhograph.inference import engine
from rhograph.inference.engine import GridPredictor
from rhograph.inference.grids import make_grid
from rhograph.inference.threads import ThreadGovernor
from rhograph.testing.structures import tiny_model


def run(governor: ThreadGovernor, seconds_per_edge: dict[int, float], pieces: int) -> list[tuple[int, bool]]:
    """Drive the governor through ``pieces`` decisions on a machine with the given speeds."""
    choices = []
    for _ in range(pieces):
        threads, trial = governor.choose()
        governor.record(threads, 1000, 1000 * seconds_per_edge[threads], trial)
        choices.append((threads, trial))
    return choices


def test_one_thread_first_then_a_trial_of_more():
    governor = ThreadGovernor(max_threads=2)
    assert governor.choose() == (1, False)
    governor.record(1, 100, 1.0, False)
    assert governor.choose() == (2, True)


def test_collapsing_threads_are_tried_ever_more_rarely():
    choices = run(ThreadGovernor(max_threads=2, first_retry=4, max_retry=32), {1: 1e-6, 2: 1e-5}, 200)
    trials = [i for i, (threads, trial) in enumerate(choices) if trial]
    assert all(choices[i][0] == 2 for i in trials)
    assert all(threads == 1 for threads, trial in choices if not trial)
    gaps = np.diff(trials)
    assert trials[0] == 1  # right after the first 1-thread piece
    assert list(gaps[:3]) == [9, 17, 33] and set(gaps[3:]) == {33}  # each lost trial doubles the wait, up to 32


def test_faster_threads_are_kept_and_dropped_when_the_machine_gets_busy():
    governor = ThreadGovernor(max_threads=4, first_retry=4)
    quiet = run(governor, {1: 2e-6, 4: 1e-6}, 50)
    assert [t for t, trial in quiet[10:] if not trial] == [4] * len([1 for _, trial in quiet[10:] if not trial])
    busy = run(governor, {1: 2e-6, 4: 3e-5}, 50)
    assert all(t == 1 for t, trial in busy[5:] if not trial)


def test_single_thread_governor_never_tries_more():
    assert run(ThreadGovernor(max_threads=1), {1: 1e-6}, 10) == [(1, False)] * 10
    with pytest.raises(ValueError, match="max_threads"):
        ThreadGovernor(max_threads=0)


@pytest.fixture(scope="module", params=["deepdft-painn", "deepdft-schnet"])
def model(request):
    return tiny_model(request.param, dtype=torch.float32, seed=3)


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("structure", ["molecule", "crystal"])
def test_governed_pieces_give_the_values_of_one_call(model, structure, two_threads, monkeypatch):
    monkeypatch.setattr(engine, "PIECE_EDGES", 500)
    monkeypatch.setattr(engine, "TRIAL_EDGES", 100)
    if structure == "molecule":
        atoms, spec = make_grid(molecule("CH3CH2OH"), grid_step=0.4, vacuum=2.0)
    else:
        atoms, spec = make_grid(bulk("NaCl", "rocksalt", a=5.0), grid_step=0.5)
    fixed = GridPredictor(model, chunk_size=1000, adaptive_threads=False).predict_grid(atoms, spec)
    governed_predictor = GridPredictor(model, chunk_size=1000)
    governed = governed_predictor.predict_grid(atoms, spec)
    np.testing.assert_allclose(governed.values, fixed.values, rtol=1e-5, atol=1e-7)
    assert governed.stats.num_decoded == fixed.stats.num_decoded
    assert set(governed_predictor.governor.cost) == {1, 2}  # both counts were measured
    assert torch.get_num_threads() == 2  # the caller's setting is restored


def test_pieces_run_with_the_governors_thread_counts(model, two_threads, monkeypatch):
    monkeypatch.setattr(engine, "PIECE_EDGES", 400)
    monkeypatch.setattr(engine, "TRIAL_EDGES", 100)
    atoms, spec = make_grid(bulk("NaCl", "rocksalt", a=5.0), grid_step=0.5)
    seen: list[tuple[int, int]] = []
    decode = model.decode_probes

    def recording(states, batch, *args, **kwargs):
        seen.append((torch.get_num_threads(), int(batch["probe_edges"].shape[1])))
        return decode(states, batch, *args, **kwargs)

    monkeypatch.setattr(model, "decode_probes", recording)
    GridPredictor(model, chunk_size=spec.num_points).predict_grid(atoms, spec)
    pieces = [s for s in seen if s[1] > 0]  # the 0-edge call is the value of unreached probes
    assert pieces[0][0] == 1 and pieces[1][0] == 2  # 1 thread first, then a trial of 2
    assert pieces[1][1] < pieces[0][1]  # the trial piece is the small one
    assert sum(edges for _, edges in pieces) > 0 and len(pieces) > 3
    seen.clear()
    GridPredictor(model, chunk_size=spec.num_points, adaptive_threads=False).predict_grid(atoms, spec)
    assert [t for t, edges in seen if edges > 0] == [2]  # one call with torch's threads
