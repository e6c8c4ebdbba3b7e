"""A tile that runs its steps again on ``c`` gives every output of the run, once.

Where the check's cheap test fails (``eqsnn.printing.c_check``), the ``c`` tile
loop copies the tile's states back and runs the same steps again with the exact
check (``eqsnn.backends.c_run_check``).  Everything those steps write must then
be what one run writes: the recorded states (all neurons or some), the spike
bits, the readouts' accumulators, int counters, random draws, and in a network
the spikes delivered and the weights a plasticity rule changes.  These tests
compare each with the ``numpy`` backend (which has no such second run) on runs
that fail in the first step, the last, in two tiles of one step, in another
lane, in a state that leaves its bounds and comes back, in windows and in
single steps, in float32 and float64, in tiles whose saved states stay on the
stack and in tiles whose copy is allocated.
"""

from __future__ import annotations

import numpy as np
import pytest

import eqsnn
from eqsnn.errors import NumericalError
from eqsnn.network import Delta, Network
from eqsnn.network.stdp import StdpAdditive
from eqsnn.readouts import with_readout

pytestmark = pytest.mark.c

TILE = 512  # neurons per tile of the c run loop (c_run_loop.TILE)

# V with symmetric bounds (the magnitude test), w with bounds on both sides of 0 (the sign
# split), z with bounds above 0 (the order key); a counter, a draw in every step (so no
# test waits for a second pass) and a sum of the draws
MODEL = """
neuron Retried
    param tau = 20.0 (> 0)
    state V = 0.0 (> -1000, < 1000)
    state w = 0.0 (> -100, < 1e6)
    state z = 1.0 (> 0.5, < 5)
    state c: int = 0
    state u = 0.0
    state q = 0.0
{extra_states}    input Isyn = 0.0
    dV/dt = -V / tau
    dw/dt = -w / 50
    after:
        V += Isyn
        c += 1
        u = rand_uniform()
        z = 1 + u
        q += u
{extra_statements}    threshold: V >= 1.0
    reset:
        V = 0
        w += 1
"""

# two more float states: 512 neurons x 8 bytes per float state are past the 16 KiB of a
# tile's copy kept on the stack, so the copy is allocated (c_run_check.STACK_BYTES)
BIG = ("    state q2 = 0.0\n    state q3 = 0.0\n", "        q2 += 2 * u\n        q3 = q2 - q\n")


def _model(big: bool, readout):
    extra = BIG if big else ("", "")
    text = MODEL.format(extra_states=extra[0], extra_statements=extra[1])
    if not big:  # fewer states: the copy stays on the stack
        text = text.replace("    state q = 0.0\n", "").replace("        q += u\n", "")
        text = text.replace("    state w = 0.0 (> -100, < 1e6)\n", "")
        text = text.replace("    dw/dt = -w / 50\n", "").replace("        w += 1\n", "")
        text = text.replace("    state u = 0.0\n", "").replace(
            "        u = rand_uniform()\n        z = 1 + u\n", "        z = 1 + rand_uniform()\n")
    model = eqsnn.compile(text)
    return with_readout(model, readout, "V") if readout else model


def _run(backend, model, n, current, *, precision, batch=1, shape=None, record=None,
         mode="one", **options):
    """``(error as a tuple or None, [Result, ...], final states)`` of a run of ``model``."""
    sim = eqsnn.Simulator(model, shape or n, batch_size=batch, backend=backend,
                          precision=precision, seed=7, **options)
    if backend == "c":
        assert "_exact" in sim.source.text  # the run has the cheap test
    record = record if record is not None else [
        s.name for s in model.ir.states if not s.name.startswith("_")] + ["spikes"]
    steps = current.shape[0]
    results, error = [], None
    if mode == "loop":  # a run(1) per step; each failing step raises
        for k in range(steps):
            try:
                results.append(sim.run(1, inputs={"Isyn": current[k:k + 1]}, record=record))
            except NumericalError as caught:
                results.append(caught.result)
                error = error or caught
    else:
        try:
            results.append(sim.run(steps, inputs={"Isyn": current}, record=record,
                                   progress=mode == "windows"))
        except NumericalError as caught:
            error, results = caught, [caught.result]
    summary = None if error is None else (error.state, error.step, error.lane, error.neuron,
                                          error.count, error.cause)
    return summary, results, {name: np.array(value) for name, value in sim.state.items()}, sim


def _same_as_numpy(model, n, current, **kwargs):
    """Run ``c`` and ``numpy`` and compare the error, every recorded array, the spikes, the
    readout and the final states; returns the error and the c Simulator."""
    got = _run("c", model, n, current, **kwargs)
    want = _run("numpy", model, n, current, **kwargs)
    assert got[0] == want[0]
    assert len(got[1]) == len(want[1])
    for mine, theirs in zip(got[1], want[1]):
        assert set(mine.vars) == set(theirs.vars)
        for name in theirs.vars:
            assert np.array_equal(mine.vars[name], theirs.vars[name], equal_nan=True), name
        assert (mine.spikes is None) == (theirs.spikes is None)
        if theirs.spikes is not None:
            assert np.array_equal(mine.spikes.bits, theirs.spikes.bits)
        assert (mine.readout is None) == (theirs.readout is None)
        if theirs.readout is not None:
            assert np.array_equal(mine.readout, theirs.readout, equal_nan=True)
    for name, value in want[2].items():
        assert np.array_equal(got[2][name], value, equal_nan=True), name
    return got[0], got[3]


def _current(steps, batch, n, precision, hits):
    current = np.random.default_rng(1).uniform(0, 0.12, (steps, batch, n)).astype(precision)
    for step, lane, neuron, value in hits:
        current[step, lane, neuron] = value
    return current


CASES = {
    # the first step of lane 1 and the last step of lane 0, in two tiles; a 2-D population
    "first-and-last-step-two-lanes-2d": dict(
        n=1040, steps=12, batch=2, shape=(20, 52), precision="float64", big=False,
        readout="sum_var", hits=[(0, 1, 1039, 5000.0), (11, 0, 3, -5000.0)],
        first=("V", 0, 1, 1039, 2, "update")),
    # two tiles fail in one step; one neuron leaves and comes back (named once, first)
    "two-tiles-one-step-and-back": dict(
        n=1030, steps=16, batch=1, shape=None, precision="float32", big=True,
        readout="max_var", hits=[(5, 0, 600, -5000.0), (5, 0, 40, -5000.0),
                                 (3, 0, 1029, -5000.0), (4, 0, 1029, 4762.0)],
        first=("V", 3, 0, 1029, 3, "update")),
    # fewer neurons than a tile, the copy allocated; a spike counter
    "smaller-than-a-tile": dict(
        n=7, steps=10, batch=1, shape=None, precision="float64", big=True,
        readout="spike_count", hits=[(6, 0, 6, 3000.0)], first=("V", 6, 0, 6, 1, "update")),
    # float32 on the stack, the average readout, the last tile short
    "last-tile-short": dict(
        n=TILE + 3, steps=10, batch=1, shape=None, precision="float32", big=False,
        readout="avg_var", hits=[(9, 0, TILE + 2, -2000.0)],
        first=("V", 9, 0, TILE + 2, 1, "update")),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_a_tile_run_again_writes_what_numpy_writes(case):
    spec = CASES[case]
    model = _model(spec["big"], spec["readout"])
    current = _current(spec["steps"], spec["batch"], spec["n"], spec["precision"],
                       spec["hits"])
    if spec["shape"]:
        current = current.reshape((spec["steps"], spec["batch"]) + spec["shape"])
    first, sim = _same_as_numpy(model, spec["n"], current, precision=spec["precision"],
                                batch=spec["batch"], shape=spec["shape"])
    assert first == spec["first"]
    assert ("malloc(" in sim.source.text) == spec["big"]


@pytest.mark.parametrize("mode", ["windows", "loop"])
def test_windows_and_single_steps_name_and_record_as_numpy_does(mode):
    current = _current(24, 1, 1030, "float64", [(17, 0, 550, -5000.0), (20, 0, 2, 5000.0)])
    first, _ = _same_as_numpy(_model(True, "sum_var"), 1030, current, precision="float64",
                              mode=mode)
    assert first[:4] == ("V", 17, 0, 550)


def test_some_neurons_recorded_from_a_tile_run_again_are_numpy_s():
    current = _current(12, 1, 1030, "float64", [(6, 0, 1000, -3000.0)])
    record = {"V": [3, 999, 1000, 1029], "z": [1000], "c": [0, 1029]}
    first, _ = _same_as_numpy(_model(True, None), 1030, current, precision="float64",
                              record=record)
    assert first == ("V", 6, 0, 1000, 1, "update")


def test_a_run_interrupted_after_a_tile_ran_again_leaves_no_failure_behind():
    """A first window fails (its tile runs again and records the failure); Ctrl-C in a later
    window rolls the run back, so the next run names its own first failure, not that one."""
    current = _current(40, 1, 1030, "float64", [(0, 0, 900, -5000.0), (30, 0, 10, -5000.0)])
    named = {}
    for backend in ("c", "numpy"):
        sim = eqsnn.Simulator(_model(False, None), 1030, backend=backend,
                              precision="float64")
        run, calls = sim._runner.run, []

        def interrupted(*args, run=run, calls=calls, **kwargs):
            calls.append(args[1])  # the window's first step
            if len(calls) == 3:
                raise KeyboardInterrupt
            return run(*args, **kwargs)
        sim._runner.run = interrupted
        with pytest.raises(KeyboardInterrupt):
            sim.run(40, inputs={"Isyn": current}, progress=True)
        assert calls[:3] == [0, 1, 3] and sim.step == 0
        sim._runner.run = run
        later = current.copy()
        later[0, 0, 900] = 0.05
        with pytest.raises(NumericalError) as caught:
            sim.run(40, inputs={"Isyn": later}, record=["V", "c"])
        error = caught.value
        named[backend] = (error.step, error.neuron, error.count,
                          np.asarray(error.result.vars["c"]), np.asarray(error.result.vars["V"]))
    assert named["c"][:3] == named["numpy"][:3] == (30, 10, 1)
    for mine, theirs in zip(named["c"][3:], named["numpy"][3:]):
        assert np.array_equal(mine, theirs)


LIF = """
neuron BoundedLif
    param tau = 20.0 (> 0)
    state V = 0.0 (> -1000, < 1000)
    state c: int = 0
    input Isyn = 0.0
    dV/dt = -V / tau
    after:
        V += Isyn
        c += 1
    threshold: V >= 1.0
    reset: V = 0.0
"""


def _network(backend, fuse, n=1030, steps=30, m=50):
    rng = np.random.default_rng(3)
    net = Network(dt=1.0, precision="float64", backend=backend)
    net._fuse = fuse
    pairs = sorted({(int(a), int(b)) for a, b in zip(rng.integers(0, steps, 300),
                                                     rng.integers(0, m, 300))})
    source = net.add_spike_source("s", m, steps=[a for a, _ in pairs],
                                  neurons=[b for _, b in pairs])
    lif = eqsnn.compile(LIF)
    net.add_population("p", lif, n)
    net.add_population("q", lif, n)
    weight = rng.uniform(0, 0.6, (m, n))
    weight[7, 900] = 5000.0  # past V's bound where it arrives, reset at once
    weight[8, 30] = -5000.0  # below, stays out
    rule = dict(weight_update=StdpAdditive(tau_plus=8.0, tau_minus=12.0, a_plus=0.02,
                                           a_minus=0.03, w_min=-1e4, w_max=1e4))
    first = net.connect(source, "p", Delta(), weight=weight, delay=2, target_input="Isyn",
                        **rule)
    inner = rng.uniform(0, 0.3, (n, n)) * (rng.uniform(size=(n, n)) < 0.02)
    second = net.connect("p", "q", Delta(), weight=inner, delay=1, target_input="Isyn",
                         **rule)
    with pytest.raises(NumericalError) as caught:
        net.run(steps, record={"p": ["V", "c", "spikes"], "q": ["V", "spikes"]})
    error = caught.value
    out = {f"{p}.{name}": np.asarray(error.result[p].vars[name])
           for p in "pq" for name in error.result[p].vars}
    out.update({f"{p}.spikes": np.asarray(error.result[p].spikes.bits) for p in "pq"})
    out.update(first=np.array(first.weights), second=np.array(second.weights))
    # the oracle: the first arrival of a weight past the bound (delay 2), the neuron before
    first_bad = min((step + 2, {7: 900, 8: 30}[neuron]) for step, neuron in pairs
                    if neuron in (7, 8))
    expected = ("p", "V", *first_bad, 2, "update")
    return (error.population, error.state, error.step, error.neuron, error.count,
            error.cause), out, expected


@pytest.mark.parametrize("fuse", [True, False], ids=["fused", "stepped"])
def test_a_plastic_network_whose_tile_runs_again_delivers_and_learns_once(fuse):
    """A population run one step a call, whose tile runs that step again: the spikes it
    sends (to q), the weights STDP changes and the records are numpy's."""
    want = _network("numpy", False)
    got = _network("c", fuse)
    assert got[0] == want[0] == want[2]
    for name, value in want[1].items():
        assert np.array_equal(got[1][name], value, equal_nan=True), name


# one value in each of 64 tiles, at every position of a SIMD vector (t * 33 % 512 is t mod 16
# modulo 16, in a different vector of the tile each time): the fold is a reduction across
# the vectorised neuron loop, and no lane of it may lose its value
LANES = """
neuron Lanes
    state V = 0.5 {bounds}
    input I = 0.5
    after:
        V = I
"""


@pytest.mark.parametrize("precision, fast_math", [("float32", False), ("float64", True)])
@pytest.mark.parametrize("bounds, bad", [
    ("(> -1000, < 1000)", 1000.0),  # magnitude
    ("(> -100, < 1000)", -100.0),  # sign split
    ("(> 0.25, < 1000)", 0.25),  # order key, below
    ("(> 0.25, < 1000)", 1000.0),  # order key, above
])
def test_a_value_in_any_lane_of_the_vectorised_loop_makes_its_tile_run_again(
        precision, fast_math, bounds, bad):
    tiles, steps = 64, 6
    n = TILE * tiles
    current = np.full((steps, 1, n), 0.5)
    placed = [(1 + t % 5, t * TILE + t * 33 % TILE) for t in range(tiles)]
    for step, neuron in placed:
        current[step, 0, neuron] = bad
    sim = eqsnn.Simulator(eqsnn.compile(LANES.format(bounds=bounds)), n, backend="c",
                          precision=precision, fast_math=fast_math)
    with pytest.raises(NumericalError) as caught:
        sim.run(steps, inputs={"I": current})
    error = caught.value
    # every tile ran again (only the exact run counts a neuron), and the first is named
    assert error.count == tiles
    assert (error.step, error.neuron) == min(placed)
