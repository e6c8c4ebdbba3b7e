"""Attacks on the c backend's adaptive step: the loop-free step that leaves out the
threshold where the whole-step try settles it (eqsnn.solve.assemble.try_settles_threshold),
the tile sizes of a deferring step (eqsnn.backends.c_run_loop.run_tile) and the set-aside
loop of the deferred pass (eqsnn.backends.c_deferred_pass).

The oracle is the numpy backend, which runs the same algorithm on whole arrays with none
of these shortcuts: float64 states within 1e-9, identical spikes (step, neuron, lane,
sign), spike offsets within 1e-9.  Every run has neurons that spike; the models whose
spikes stay on the grid are checked to be so.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from test_adaptive import ADEX, QUADRATIC
from test_c_deferred import started

import eqsnn
from eqsnn.backends import c as c_backend
from eqsnn.backends.c_deferred_pass import CAPACITY
from eqsnn.errors import NumericalError
from eqsnn.pipeline import EqsnnWarning

pytestmark = pytest.mark.c

# v blows up in both directions; crossings of the threshold are located inside the step,
# those of the negative threshold act on the grid
SIGNED = """neuron Signed
    state v = 0.0
    input I = 0.0
    dv/dt = v * abs(v) / 10 + I
    threshold: v >= 5
    reset: v = -1
    negative threshold: v <= -5
    negative reset: v = 1
"""


def _q(threshold=None, after="", before="", extra="", reset=None, ode=None):
    """QUADRATIC with its threshold, reset or dv/dt replaced and blocks added."""
    text = QUADRATIC
    if threshold is not None:
        text = text.replace("threshold: v >= v_peak", f"threshold: {threshold}")
    if reset is not None:
        text = text.replace("    reset:\n        v = v_reset\n", f"    reset:\n{reset}")
    if ode is not None:
        text = text.replace("dv/dt = (v * v + I * (1 + 0.5 * sin(t / 15)) - w + g * (e_syn - v)) "
                            "/ tau_m", ode)
    blocks = extra + (f"    before:\n{before}" if before else "") + (
        f"    after:\n{after}" if after else "")
    return text.replace("    threshold:", blocks + "    threshold:")


KICK = "        if sin(t / 3) > 0.9: g += 3\n"
# name: (model text, dt, whether the loop-free step leaves the threshold out, located)
THRESHOLDS = {
    "reads-input": (_q("v >= v_peak - I"), 0.5, True, True),
    "reads-t": (_q("v >= v_peak + 2 * sin(t / 3)"), 0.5, True, True),
    "reads-param-per-neuron": (QUADRATIC, 0.5, True, True),
    "refractory": (_q("v >= v_peak and not refractory", after="        if refractory: "
                      "ref -= dt\n", extra="    param t_ref = 1.5\n    state ref = 0.0\n"
                      "    refractory: ref > 0\n", reset="        v = v_reset\n"
                      "        ref = t_ref\n",
                      ode="dv/dt = (v * v + I - w + g * (e_syn - v)) / tau_m unless "
                      "refractory"), 0.5, True, True),
    # after: writes what the threshold reads through a let
    "let-kicked": (_q("level >= v_peak", after=KICK, extra="    let level = v + 0.5 * g\n"),
                   0.1, False, True),
    # after: writes a state the threshold reads, computed from an ODE state
    "state-written-after": (_q("level >= v_peak", after="        level = v + 3 * "
                               "max(sin(t / 2), 0)\n", extra="    state level = 0.0\n"),
                            0.1, False, False),
    "after-writes-other": (_q(after="        w = w * 0.999\n"), 0.5, True, True),
    "before-kicks": (_q(before=KICK), 0.5, True, True),
    "expression": (_q("v - 0.2 * w >= v_peak"), 0.5, True, True),
    "square": (_q("v * v >= 100"), 0.5, True, True),
    "or-grid": (_q("v >= v_peak or w > 1e6"), 0.1, True, False),
    "random-grid": (_q("v >= v_peak + rand_uniform()"), 0.1, True, False),
    "random-reset-grid": (_q(reset="        v = v_reset + rand_uniform()\n"), 0.1, True,
                          False),
    "int-state": (_q("v >= v_peak - count % 3", extra="    state count: int = 0\n",
                     reset="        v = v_reset\n        count += 1\n"), 0.5, True, True),
    "bool-state-before": (_q("v >= v_peak and armed", before="        armed = sin(t / 4) > "
                             "-0.5\n", extra="    state armed: bool = true\n",
                             ode="dv/dt = (v * v + I - w + g * (e_syn - v)) / tau_m unless "
                             "not armed"), 0.5, True, True),
    # disarmed every other step: v crosses then, and spikes once after: arms it
    "bool-state-after": (_q("v >= v_peak and armed", after="        armed = not armed\n",
                            extra="    state armed: bool = true\n"), 0.1, False, True),
    "signed": (SIGNED, 0.5, True, True),
    "signed-kicked": (SIGNED.replace("    threshold:", "    after:\n        if sin(t / 2) > "
                                     "0.9: v += 3\n    threshold:"), 0.1, False, True),
}


def _initial(text, shape, generator):
    """The drive I and the initial states: random, so that neurons fire out of phase."""
    if "neuron Signed" in text:
        return generator.uniform(-3.0, 3.0, shape), {"v": generator.uniform(-4.5, 4.5, shape)}
    return generator.uniform(0.5, 3.0, shape), {"v": generator.uniform(-3.0, 9.5, shape)}


def _run(text, backend, n, dt, steps, *, batch=1, threads=None, precision="float64",
         record=None, check=True, params=None, current=None):
    generator = np.random.default_rng(11)
    drive, initial = _initial(text, (batch, n), generator)
    current = drive if current is None else current
    sim, names, located = started(text, backend, n, dt, initial, batch=batch, threads=threads,
                                  precision=precision, params=params, check=check)
    wanted = record if record is not None else {name: None for name in names}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EqsnnWarning)  # the substep bound, where reached
        result = sim.run(steps, inputs={"I": current},
                         record={**wanted, "spikes": None,
                                 **({"spike_offset": None} if located else {})},
                         progress=False)
    return result, list(wanted), located


def _same(expected, got, names, located, tolerance=1e-9):
    for attribute in ("step", "neuron", "batch"):
        np.testing.assert_array_equal(getattr(got.spikes, attribute),
                                      getattr(expected.spikes, attribute))
    if expected.spikes.signed:
        np.testing.assert_array_equal(got.spikes.sign, expected.spikes.sign)
    if located:
        np.testing.assert_allclose(got.spikes.offset, expected.spikes.offset, rtol=0,
                                   atol=tolerance)
    for state in names:
        np.testing.assert_allclose(got.vars[state], expected.vars[state], rtol=tolerance,
                                   atol=tolerance)


@pytest.mark.parametrize("name", list(THRESHOLDS))
def test_a_threshold_the_try_settles_or_not_spikes_as_on_numpy(name):
    """Each threshold's loop-free step keeps or leaves out its test as the soundness
    argument says, and the c run gives numpy's spikes and states."""
    text, dt, settled, located = THRESHOLDS[name]
    model = eqsnn.compile(text)
    assert model.ir.meta["adaptive"]["try_settles_threshold"] is settled
    assert (model.ir.meta["adaptive"]["grid_reason"] == "") is located
    params = None
    if name == "reads-param-per-neuron":
        params = {"v_peak": np.linspace(6.0, 14.0, 300)}
    expected, names, has_offset = _run(text, "numpy", 300, dt, 80, params=params)
    got, _, _ = _run(text, "c", 300, dt, 80, params=params)
    assert has_offset is located
    assert len(expected.spikes) >= 30
    if name.startswith("signed"):
        assert np.any(expected.spikes.sign < 0) and np.any(expected.spikes.sign > 0)
    if located:  # crossings inside the step, and some on the grid (settled) or kicked
        assert np.any(expected.spikes.offset < 0.9 * dt)
    _same(expected, got, names, has_offset)


# (n, batch, threads): around the block (16), the spike words' tile (512), the largest
# tile (8192) and the smallest on several threads (2048)
SIZES = [(1, 1, 1), (1, 3, 3), (511, 2, 2), (512, 1, 3), (513, 3, 1), (8191, 1, 2),
         (8192, 2, 3), (8193, 1, 1), (8193, 2, 2), (20000, 1, 3)]


@pytest.mark.parametrize("n, batch, threads", SIZES)
def test_every_tile_size_and_thread_count_gives_the_numpy_run(monkeypatch, n, batch, threads):
    """Spikes and negative spikes, a subset of neurons recorded (first, last, across tile
    borders, out of order, repeated), on 1 to 3 threads (forced below the work bound at
    which c uses them)."""
    monkeypatch.setattr(c_backend, "PARALLEL_WORK", 0)
    # out of order and repeated (the recorder's rows are the sorted unique ids, mapped back)
    index = np.array([n - 1, 0, n // 2, 511, 512, 2047, 2048, 8191, 8192, n - 2, 0]) % n
    record = {"v": index}
    steps = 6 if n > 8192 else 12
    expected, names, located = _run(SIGNED, "numpy", n, 0.5, steps, batch=batch,
                                    record=record)
    got, _, _ = _run(SIGNED, "c", n, 0.5, steps, batch=batch, threads=threads, record=record)
    assert got.vars["v"].shape == (steps, batch, len(index))
    if n > 1:
        assert np.any(expected.spikes.sign < 0) and np.any(expected.spikes.sign > 0)
    else:
        assert len(expected.spikes) >= 1
    _same(expected, got, names, located)


@pytest.mark.parametrize("n, batch, threads", [(8193, 2, 2), (20000, 1, 3)])
def test_several_threads_give_the_bits_of_one(monkeypatch, n, batch, threads):
    """One thread runs tiles of 8192, several of 2048 (run_tile): the same bits."""
    monkeypatch.setattr(c_backend, "PARALLEL_WORK", 0)
    one, names, _ = _run(SIGNED, "c", n, 0.5, 6, batch=batch, threads=1)
    many, _, _ = _run(SIGNED, "c", n, 0.5, 6, batch=batch, threads=threads)
    assert len(one.spikes) >= 100
    for state in names:
        np.testing.assert_array_equal(many.vars[state], one.vars[state])
    for attribute in ("step", "neuron", "batch", "sign", "offset"):
        np.testing.assert_array_equal(getattr(many.spikes, attribute),
                                      getattr(one.spikes, attribute))


@pytest.mark.parametrize("threads", [1, 2])
def test_a_fused_network_with_an_adaptive_population_runs_as_on_numpy(monkeypatch, threads):
    """A network on c runs its steps in one compiled call (fused): the adaptive population
    takes its tile size from run_tile there too, on one thread and on two."""
    from eqsnn.backends import c_network
    from eqsnn.network import Exponential, Network

    monkeypatch.setattr(c_network, "PARALLEL_NEURONS", 0)
    positive = SIGNED.split("    negative threshold")[0]  # a connection carries no sign
    model = eqsnn.compile(positive.replace("input I = 0.0", "input I = 0.0\n    input Isyn = "
                                           "0.0").replace("+ I\n", "+ I + Isyn\n"))
    runs = []
    for backend in ("numpy", "c"):
        net = Network(dt=0.5, precision="float64", backend=backend)
        a = net.add_population("a", model, 2100)
        b = net.add_population("b", model, 600)
        net.connect(a, b, Exponential(tau=2.0), weight=0.01, delay=1)
        if backend == "c":
            net.build()
            for pop in (a, b):
                pop._sim._runner.threads = threads
        drive = np.random.default_rng(3).uniform(0.5, 3.0, 2100)
        with pytest.warns(EqsnnWarning, match="second threshold crossing"):  # b, driven hard
            runs.append((net, net.run(30, inputs={"a": {"I": drive}},
                                      record={"a": ["v", "spikes"], "b": ["v", "spikes"]})))
    (_, expected), (fused, got) = runs
    assert fused._fused is not None and fused.unfused_reason is None
    for pop in ("a", "b"):
        assert len(expected[pop].spikes) >= 20
        _same(expected[pop], got[pop], ["v"], False)
    assert len(got["b"].spikes) > 0


HOT = _q(reset="        v = v_reset\n        w += b\n")  # QUADRATIC itself


@pytest.mark.parametrize("bound", [None, 1, 2, 3, 6])
def test_more_crossings_than_the_pass_holds_at_once_at_every_substep_bound(bound):
    """Strongly driven at a coarse dt: every neuron crosses every step, several times, on one
    thread (one tile of 1500, so three turns of at most 512 deferred); with max_substeps 1
    to 3 and 6 the bound is reached while neurons are set aside, and at 6 the set-aside loop
    runs more rounds than the bound (a crossing takes two: set aside, then the full one)."""
    text = QUADRATIC if bound is None else QUADRATIC.replace(
        "    threshold", f"    method: adaptive(max_substeps={bound})\n    threshold")
    n = 3 * CAPACITY - 36
    current = np.random.default_rng(5).uniform(20.0, 200.0, (1, n))
    expected, names, located = _run(text, "numpy", n, 2.0, 12, current=current)
    got, _, _ = _run(text, "c", n, 2.0, 12, threads=1, current=current)
    assert len(expected.spikes) >= 0.9 * n * 12  # (nearly) every neuron every step
    # several crossings a step: a substep size decided by a last bit now and then differs
    # (tests/test_c_deferred.py, quadratic-hot), by about the method's tolerance
    _same(expected, got, names, located, tolerance=1e-7)


def test_float32_runs_the_deferred_pass_as_numpy_does():
    """float32 tolerances (1e-4 relative): the same spikes, the states within a few units
    in the last place of the tolerance."""
    expected, names, located = _run(QUADRATIC, "numpy", 1100, 0.5, 60, precision="float32")
    got, _, _ = _run(QUADRATIC, "c", 1100, 0.5, 60, threads=1, precision="float32")
    assert len(expected.spikes) >= 100
    _same(expected, got, names, located, tolerance=1e-4)


# the reset makes w NaN (a log of a negative number) or infinite (b / Z, Z = 0) at the
# first crossing, inside the step: the step of the first crossing differs between neurons
NAN_RESET = ADEX.replace("        w += b\n", "        w += b * log(w / b - 100)\n")
INF_RESET = ADEX.replace("input I = 0.0", "input I = 0.0\n    input Z = 0.0").replace(
    "        w += b\n", "        w += b / Z\n")


@pytest.mark.parametrize("text", [NAN_RESET, INF_RESET], ids=["nan", "inf"])
def test_a_state_that_turns_nan_or_infinite_mid_step_is_named_as_numpy_names_it(text):
    """The numerical check names the first failing step, state and neuron on c as on
    numpy; with check=False the run goes on and gives numpy's states, NaN and inf in the
    same places."""
    n = 700
    current = np.linspace(400.0, 1500.0, n)
    errors = []
    for backend in ("numpy", "c"):
        sim = eqsnn.Simulator(eqsnn.compile(text), n, dt=0.1, backend=backend,
                              precision="float64")
        with pytest.raises(NumericalError) as caught:
            sim.run(300, inputs={"I": current}, progress=False)
        errors.append(caught.value)
    expected, got = errors
    assert expected.state == "w"
    assert (got.state, got.step, got.neuron) == (expected.state, expected.step,
                                                 expected.neuron)
    runs = []
    for backend in ("numpy", "c"):
        sim = eqsnn.Simulator(eqsnn.compile(text), n, dt=0.1, backend=backend,
                              precision="float64", check=False)
        runs.append(sim.run(300, inputs={"I": current}, record=["V", "w", "spikes"],
                            progress=False))
    expected, got = runs
    assert not np.all(np.isfinite(expected.vars["w"][-1]))
    np.testing.assert_array_equal(np.isnan(got.vars["w"]), np.isnan(expected.vars["w"]))
    np.testing.assert_array_equal(np.isinf(got.vars["w"]), np.isinf(expected.vars["w"]))
    _same(expected, got, ["V", "w"], False)


MANY_INPUTS = 40


def _many_inputs_model():
    """QUADRATIC with MANY_INPUTS more inputs added into dv/dt."""
    extra = "".join(f"    input J{k} = 0.0\n" for k in range(MANY_INPUTS))
    total = " + ".join(f"J{k}" for k in range(MANY_INPUTS))
    return QUADRATIC.replace("    input I = 1.0\n", "    input I = 1.0\n" + extra).replace(
        "- w + g", f"- w + {total} + g")


def test_a_step_with_many_inputs_runs_on_a_small_thread_stack():
    """An input that is one value for every neuron is copied into a row of the tile, on the
    thread's stack: forty such rows of 8192 neurons (2.5 MiB) overflowed a 2 MiB thread
    stack (OMP_STACKSIZE=2M, or glibc's default for a thread where `ulimit -s` is
    unlimited) and the process died.  On two threads, 70,000 neurons (tiles of up to 8192)
    give the bits of one thread (on the main thread's larger stack) and, on the neurons
    numpy runs too, numpy's numbers."""
    import os
    import pathlib
    import subprocess
    import sys

    script = f"""
import sys
sys.path.insert(0, {str(pathlib.Path(__file__).parent)!r})
import numpy as np
import eqsnn
from test_c_deferred_attacks import MANY_INPUTS, _many_inputs_model
text = _many_inputs_model()
runs = []
for backend, n, threads in (("numpy", 2000, None), ("c", 70000, 1), ("c", 70000, 2)):
    sim = eqsnn.Simulator(eqsnn.compile(text), n, dt=0.5, backend=backend,
                          precision="float64")
    if threads is not None:
        sim._runner.threads = threads
    sim.set_state("v", np.resize(np.linspace(-3.0, 9.5, 2000), n))
    inputs = {{f"J{{k}}": 0.01 for k in range(MANY_INPUTS)}}
    runs.append(sim.run(4, inputs={{**inputs, "I": 1.5}}, record=["v", "spikes"],
                        progress=False))
expected, one, two = runs
assert len(expected.spikes) > 20
np.testing.assert_array_equal(two.vars["v"], one.vars["v"])
np.testing.assert_array_equal(two.spikes.neuron, one.spikes.neuron)
np.testing.assert_array_equal(two.spikes.neuron[two.spikes.neuron < 2000],
                              expected.spikes.neuron)
np.testing.assert_allclose(two.vars["v"][..., :2000], expected.vars["v"], rtol=1e-9,
                           atol=1e-9)
print("ok")
"""
    root = pathlib.Path(eqsnn.__file__).parents[1]
    env = {**os.environ, "OMP_STACKSIZE": "2M",
           "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("ok")


def test_the_deferring_tile_keeps_its_input_rows_within_the_stack_budget():
    """The tile the text is printed for: 8192 with a few inputs, fewer with many (a multiple
    of 512), its rows (8 bytes an input and for the try's errors, 2 for the flags) within
    TILE_STACK_BYTES; a step without a substep loop keeps 512."""
    from eqsnn.backends import EmitOptions
    from eqsnn.backends.c_run_loop import DEFERRING_TILE, TILE, TILE_STACK_BYTES, tile_size

    for text, inputs in ((QUADRATIC, 1), (_many_inputs_model(), MANY_INPUTS + 1)):
        source = c_backend.emit(eqsnn.compile(text).ir, EmitOptions(precision="float64"))
        tile = source.extra["tile"]
        assert tile == tile_size(True, source.extra["layout"])
        assert tile % TILE == 0 and tile * (8 * (inputs + 1) + 2) <= TILE_STACK_BYTES
        assert f"_copy0[{tile}]" in str(source) and f"flag_rows[2 * {tile}]" in str(source)
        assert (tile == DEFERRING_TILE) is (inputs == 1)
    assert tile_size(False) == TILE
