"""The c backend's deferred pass: the neurons whose whole-step try did not settle the step
run the substep loop together, in vectorised blocks (eqsnn.backends.c_deferred_pass).

The oracle is the numpy backend, which runs the same algorithm on whole arrays
with no such pass: float64 states within 1e-9, identical spikes, spike offsets
within 1e-9.  The runs mix neurons that settle at once with neurons that need
several substeps, crossings located inside the step (AdEx, the quadratic model)
and grid thresholds (no in-step crossing), the substep bound being reached,
every neuron of every tile deferred (more than run together, 512, so in turns),
two lanes, one thread (one tile of up to 8192) and two (tiles of 2048, run_tile), and a
population that is neither a multiple of the block (16) nor of the tile.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from test_adaptive import ADEX, IZHIKEVICH, QUADRATIC

import eqsnn
from eqsnn.backends import c as c_backend
from eqsnn.backends.c_deferred_pass import LANES
from eqsnn.backends.c_run_loop import DEFERRING_TILE, TILE, run_tile
from eqsnn.pipeline import EqsnnWarning

pytestmark = pytest.mark.c

N, BATCH = 2100, 2  # two threads: tiles of 2048 (run_tile), then 52 = 3 * 16 + 4: a partial block
GRID = IZHIKEVICH.replace("threshold: v >= v_peak", "threshold: v >= v_peak or u > 1e6")
# after the integration v is kicked up now and then: neurons whose try took the step below
# the threshold cross it on the grid (the loop-free step keeps its threshold test)
KICKED = QUADRATIC.replace("    threshold:", "    after:\n        if sin(t / 3) > 0.95: v += 4\n"
                           "    threshold:")

CASES = {
    # name: (model text, dt, steps, the input I and initial states, whether the bound warns)
    "adex": (ADEX, 0.1, 120, "adex", False),
    "adex-1ms": (ADEX, 1.0, 30, "adex", False),
    "adex-bound-3": (ADEX + "    method: adaptive(max_substeps=3)\n", 0.1, 120, "adex", True),
    "adex-all-deferred": (ADEX + "    method: adaptive(max_substeps=1)\n", 0.1, 120, "adex",
                          True),
    "quadratic": (QUADRATIC, 0.5, 120, "quadratic", False),
    "izhikevich-grid": (GRID, 0.1, 120, "izhikevich", False),
    "quadratic-kicked": (KICKED, 0.1, 200, "quadratic", False),
    # strongly driven at a coarse dt: several crossings in a step, so a neuron set aside
    # for its crossing is set aside again after it (the set-aside loop's later rounds)
    "quadratic-hot": (QUADRATIC, 2.0, 40, "quadratic-hot", False),
}


def _setup(kind, generator):
    """The input ``I`` (batch, n) and the initial states, random so that neurons fire out
    of phase (some tiles have many neurons in a spike at once, some none)."""
    shape = (BATCH, N)
    if kind == "adex":
        return generator.uniform(300.0, 1500.0, shape), {
            "V": generator.uniform(-70.6, -41.0, shape), "w": generator.uniform(0, 100, shape)}
    if kind == "quadratic":
        return generator.uniform(0.5, 3.0, shape), {"v": generator.uniform(-3.0, 9.5, shape)}
    if kind == "quadratic-hot":
        return generator.uniform(20.0, 200.0, shape), {"v": generator.uniform(-3.0, 9.5, shape)}
    return generator.uniform(5.0, 15.0, shape), {"v": generator.uniform(-70.0, 25.0, shape)}


def started(text, backend, n, dt, initial, *, batch, threads=None, **options):
    """A float64 (unless ``precision`` says otherwise) Simulator of ``text`` on ``threads``
    threads where given, started from ``initial``; its model's own state names, and
    whether it locates crossings (has spike offsets)."""
    options.setdefault("precision", "float64")
    sim = eqsnn.Simulator(eqsnn.compile(text), n, batch_size=batch, dt=dt, backend=backend,
                          **options)
    if threads is not None:
        sim._runner.threads = threads
    for state, value in initial.items():
        sim.set_state(state, value)
    names = [s.name for s in sim.model.states if not s.name.startswith("_")]
    return sim, names, "_spike_offset" in {s.name for s in sim.model.states}


def _run(name, backend, threads=None):
    text, dt, steps, kind, bound = CASES[name]
    generator = np.random.default_rng(7)
    current, initial = _setup(kind, generator)
    sim, names, located = started(text, backend, N, dt, initial, batch=BATCH, threads=threads)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", EqsnnWarning)
        result = sim.run(steps, inputs={"I": np.broadcast_to(current, (steps, BATCH, N))},
                         record=[*names, "spikes", *(["spike_offset"] if located else [])],
                         progress=False)
    assert any("reached its bound" in str(w.message) for w in caught) == bound
    return result, names


@pytest.mark.parametrize("name", list(CASES))
def test_the_deferred_pass_gives_the_numbers_of_the_numpy_backend(name):
    """Two lanes, two threads on c (the run is over the work bound at which c uses them)."""
    expected, names = _run(name, "numpy")
    got, _ = _run(name, "c", threads=2)
    assert len(expected.spikes) >= 20
    for attribute in ("step", "neuron", "batch"):
        np.testing.assert_array_equal(getattr(got.spikes, attribute),
                                      getattr(expected.spikes, attribute))
    # where a neuron crosses several times a step (110,000 second crossings), a substep
    # size decided by a last bit (an error within rounding of the controller's bounds, the
    # exp of the two backends) now and then differs, and with it the state, by about the
    # method's tolerance (rtol 1e-8: 2.3e-9 in 9 of 168,000 values, the code before the
    # crossings ran together included); elsewhere 1e-9
    tolerance = 1e-7 if name == "quadratic-hot" else 1e-9
    if name != "izhikevich-grid":  # located crossings: where in the step
        if name != "adex-all-deferred":  # one substep, the last: no crossing located
            assert np.any(expected.spikes.offset < 0.9 * CASES[name][1])
        np.testing.assert_allclose(got.spikes.offset, expected.spikes.offset, rtol=0,
                                   atol=tolerance)
    for state in names:
        np.testing.assert_allclose(got.vars[state], expected.vars[state], rtol=tolerance,
                                   atol=tolerance)


@pytest.mark.parametrize("name", ["adex", "quadratic-hot"])
def test_one_thread_and_two_give_the_same_bits(name):
    one, names = _run(name, "c", threads=1)  # one tile of 2100 (two threads: 2048 and 52)
    two, _ = _run(name, "c", threads=2)
    for state in names:
        np.testing.assert_array_equal(one.vars[state], two.vars[state])
    np.testing.assert_array_equal(one.spikes.offset, two.spikes.offset)


def test_a_run_on_several_threads_takes_tiles_enough_to_share():
    """The largest tile on one thread; on several, at least four tiles a thread where the
    population allows it, never below 2048 nor above the largest, a multiple of 512."""
    assert run_tile(DEFERRING_TILE, 100_000, 1, 1) == DEFERRING_TILE
    assert run_tile(DEFERRING_TILE, 10**6, 1, 16) == DEFERRING_TILE
    assert run_tile(DEFERRING_TILE, 100_000, 1, 16) == 2048  # 1562 would give 64 tiles
    assert run_tile(DEFERRING_TILE, 400_000, 1, 16) == 6144  # 65 tiles of 6144
    assert run_tile(DEFERRING_TILE, 100_000, 4, 4) == DEFERRING_TILE  # 13 tiles a lane, 4 lanes
    assert run_tile(DEFERRING_TILE, 2100, 2, 2) == 2048
    assert run_tile(TILE, 100_000, 1, 16) == TILE  # a step without a substep loop: 512


@pytest.mark.parametrize("tile", [1000, 2 * DEFERRING_TILE, 0])
def test_the_compiled_run_refuses_a_tile_it_was_not_printed_for(monkeypatch, tile):
    """Not a multiple of 512 (the spike words of a tile fill whole lines), more than the
    buffers hold, or none: eqsnn_run returns 1 and runs nothing."""
    from eqsnn.errors import BackendError

    sim = eqsnn.Simulator(eqsnn.compile(ADEX), 3000, backend="c", precision="float64")
    before = sim.state["V"].copy()
    monkeypatch.setattr(c_backend, "run_tile", lambda *args: tile)
    with pytest.raises(BackendError, match="eqsnn_run rejected its arguments"):
        sim.run(2, inputs={"I": 800.0})
    np.testing.assert_array_equal(sim.state["V"], before)


def _chain(n: int) -> str:
    """A quadratic neuron driving a chain of ``n - 1`` linear states: ``n`` ODE states."""
    return "\n".join(["neuron Chain", "    input I = 0.0",
                      *(f"    state x{i} = 0.0" for i in range(n)),
                      "    dx0/dt = (x0 * x0 / 10 + I) / 5",
                      *(f"    dx{i}/dt = (x{i - 1} - x{i}) / {5 + i}" for i in range(1, n)),
                      "    threshold: x0 >= 5", "    reset:", "        x0 = -1", ""])


def test_a_model_of_many_states_runs_fewer_deferred_neurons_together():
    """The pass's buffers live on the thread's stack beside the tile's rows: 40 states and
    their carried stages took about 0.8 MB at 512 neurons; they now stay within
    BUFFER_BYTES, and the neurons run in more turns, as numpy runs them."""
    import re

    from eqsnn.backends.c_deferred_pass import BUFFER_BYTES, CAPACITY

    text = _chain(40)
    source = str(c_backend.emit(eqsnn.compile(text).ir))
    size = int(re.search(r"int _di\[(\d+)\]", source).group(1))
    assert size - 2 * LANES < CAPACITY
    widths = {"FLOAT": 8, "int": 4, "unsigned char": 1}
    total = 0
    for line in source.splitlines():
        declared = re.match(r"\s+(FLOAT|int|unsigned char) (.*);", line)
        if declared and f"[{size}]" in line:
            total += widths[declared.group(1)] * size * declared.group(2).count(f"[{size}]")
    assert 0.5 * BUFFER_BYTES < total <= BUFFER_BYTES
    adex = str(c_backend.emit(eqsnn.compile(ADEX).ir))
    assert f"int _di[{CAPACITY + 2 * LANES}]" in adex  # a small model keeps them all
    runs = []
    for backend in ("numpy", "c"):
        sim = eqsnn.Simulator(eqsnn.compile(text), 700, dt=0.5, backend=backend,
                              precision="float64")
        sim.set_state("x0", np.random.default_rng(5).uniform(-3.0, 4.9, 700))
        runs.append(sim.run(20, inputs={"I": np.linspace(1.0, 30.0, 700)},
                            record=["x0", "x39", "spikes"], progress=False))
    expected, got = runs
    assert len(expected.spikes) > 100
    np.testing.assert_array_equal(got.spikes.neuron, expected.spikes.neuron)
    np.testing.assert_array_equal(got.spikes.step, expected.spikes.step)
    for state in ("x0", "x39"):
        np.testing.assert_allclose(got.vars[state], expected.vars[state], rtol=1e-9,
                                   atol=1e-9)


def test_the_c_step_runs_the_deferred_neurons_in_vectorised_blocks():
    """The loop body is cut into loop-free parts called in blocks of a constant count; the
    crossing's location is taken out of the block loop (its rare branch) where there is
    one, and only there."""
    for text, light in ((ADEX, True), (GRID, False)):
        source = str(c_backend.emit(eqsnn.compile(text).ir))
        tile = source.split("static void eqsnn_run_tile", 1)[1]
        for part in ("eqsnn_deferred_begin(", "eqsnn_deferred_iteration", "eqsnn_deferred_end("):
            assert part in tile
        assert f"for (ml = 0; ml < {LANES}; ++ml)" in tile
        assert ("eqsnn_deferred_iteration_light(" in tile) == light
        assert "eqsnn_neuron_step(" not in tile  # the scalar full step is gone from the loop
        # the loop-free step leaves the try's error, and BEGIN starts from it
        assert "&_terr[j - first]" in tile and "const FLOAT _try_err" in source


def test_the_loop_free_step_leaves_out_the_threshold_only_where_the_try_settles_it():
    """A neuron whose try took the step is below the threshold at its end, so the loop-free
    step needs no threshold test and no reset, unless the after: block writes what the
    threshold reads (then it tests it as the full step does; the kicked case above checks
    its spikes against numpy)."""
    for text, settled in ((ADEX, True), (QUADRATIC, True), (GRID, True), (KICKED, False),
                          (ADEX.replace("    threshold:", "    after:\n        w = w + 0.5\n"
                                        "    threshold:"), True)):
        model = eqsnn.compile(text).ir
        assert model.meta["adaptive"]["try_settles_threshold"] is settled
        source = str(c_backend.emit(model))
        fast = source.split("eqsnn_neuron_step_fast(", 1)[1].split("#undef EQSNN_FAST_STEP")[0]
        assert ("_spike = 0;" in fast) is settled
    rk4 = eqsnn.compile(ADEX + "    method: rk4\n").ir
    assert "adaptive" not in rk4.meta


def test_begin_tries_the_step_again_where_the_try_is_not_as_the_method_prints_it():
    """BEGIN takes the try's error from the loop-free step only where the try is the one
    eqsnn.solve.adaptive prints (its stages, error, acceptance, the neuron done, the step
    taken, the rejection): another statement in it, or no try, and BEGIN tries again."""
    import sympy

    from eqsnn import ir

    model = eqsnn.compile(ADEX).ir
    step = list(model.step)
    k = next(k for k, stmt in enumerate(step)
             if isinstance(stmt, ir.If) and stmt.cond == sympy.Symbol("_ad_try"))
    step[k] = ir.If(step[k].cond, (*step[k].body, ir.Local("_ad_more", "float", sympy.Integer(0))))
    changed = str(c_backend.emit(model.replace(step=tuple(step))))
    assert "_ad_more" in changed
    no_try = str(c_backend.emit(eqsnn.compile(ADEX + "    method: adaptive(max_substeps=1)\n").ir))
    for source in (changed, no_try):
        assert "eqsnn_deferred_begin(" in source and "_try_err" not in source


def test_the_step_size_factor_is_read_from_the_c_librarys_own_values():
    """exp(c*j) for the controller's clamped integer j is the scalar exp's value in every
    build (vector exp may differ in the last bit, and a last bit decides h >= dt)."""
    import math
    import re

    from eqsnn.backends import EmitOptions

    source = str(c_backend.emit(eqsnn.compile(IZHIKEVICH).ir,  # no exp on the right
                                EmitOptions(precision="float64")))
    assert not re.search(r"_t[0-9]+ = exp\(", source)
    factor = 0.17328679513998632  # ln 2 / 4 as the controller prints it
    for k in range(-9, 10):
        literal = f"({float(k)!r})" if k < 0 else f"{float(k)!r}"
        assert f"== {literal} ? {math.exp(factor * k)!r} : 0.0)" in source
    assert len(re.findall(r"== \(-9\.0\) \?", source)) >= 2  # the try's factor, the loop's


def test_a_negative_threshold_beside_the_try_prints_and_runs_as_on_numpy():
    """The check of the try's shape walks the thresholds; a negative threshold is one
    comparison (a SymPy relational, whose truth value is undecidable), and printing the
    step used to fail on it with a TypeError."""
    text = ("neuron Q\n    state v = 0.0\n    input I = 0.0\n    dv/dt = v * v / 10 + I\n"
            "    threshold: v >= 5\n    reset: v = -1\n"
            "    negative threshold: v <= -5\n    negative reset: v = 1\n")
    current = np.linspace(-3.0, 3.0, 40)
    runs = {}
    for backend in ("numpy", "c"):
        sim = eqsnn.Simulator(eqsnn.compile(text), 40, dt=0.5, backend=backend,
                              precision="float64")
        runs[backend] = sim.run(30, inputs={"I": current}, record=["v", "spikes"],
                                progress=False)
    expected, got = runs["numpy"], runs["c"]
    assert expected.spikes.signed and np.any(expected.spikes.sign < 0)
    assert np.any(expected.spikes.sign > 0)
    np.testing.assert_array_equal(got.spikes.neuron, expected.spikes.neuron)
    np.testing.assert_array_equal(got.spikes.sign, expected.spikes.sign)
    np.testing.assert_allclose(got.vars["v"], expected.vars["v"], rtol=1e-9, atol=1e-9)
