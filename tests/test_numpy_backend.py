"""The numpy backend: emitted text, the runner contract, exact arithmetic, allocation."""

import glob
import linecache
import tracemalloc
import warnings

import helpers
import numpy as np
import pytest
import sympy
from ir_interp import Interpreter

import eqsnn
from eqsnn import ir, neurons, rng
from eqsnn.backends import EmitOptions, Instance, numpy_tiles
from eqsnn.backends import numpy as numpy_backend
from eqsnn.errors import BackendError
from eqsnn.runtime import host
from eqsnn.runtime.recording import SpikeBuffer


def start(model, n=4, batch=1, dt=1.0, precision="float64", params=None, init=None,
          arrays=None, seed=0, per_neuron=()):
    """A runner for ``model`` built straight from the backend contract (no Simulator)."""
    values = {p.name: np.float64(p.default) for p in model.params if p.default is not None}
    values.update({k: np.asarray(v, np.float64) for k, v in (params or {}).items()})
    values.update(host.evaluate_precompute(model, values, dt))
    initial = host.evaluate_initial(model, values, values, dt)
    initial = {k: np.broadcast_to(v, (batch, n)) for k, v in initial.items()}
    initial.update({k: np.broadcast_to(v, (batch, n)) for k, v in (init or {}).items()})
    per_neuron = frozenset(per_neuron) | {k for k, v in values.items() if np.ndim(v) == 1}
    source = numpy_backend.emit(model, EmitOptions(precision, per_neuron))
    instance = Instance(n, batch, dt, precision, values, initial, arrays or {}, seed)
    return numpy_backend.load(source).start(instance)


def held(value):
    return np.full((1, 1, 1), value)


# --- the emitted text -----------------------------------------------------------
def test_lif_source_is_in_place_numpy():
    text = numpy_backend.emit(helpers.lif_refractory(), EmitOptions("float32")).text
    loop = text.split("for i in range(steps):")[1]
    for line in [
        "np.multiply(Alpha, V, out=V)",
        "np.add(Isyn, V, out=V)",
        "np.greater(RefracTime, _c0, out=_mask0)",
        "np.subtract(RefracTime, dt, out=RefracTime, where=_mask0)",
        "np.copyto(RefracTime, tau_refrac, where=_spike)",
        "spikes.write(i, _spike)",
    ]:
        assert line in loop
    assert "np.where" not in loop and "astype" not in loop
    assert "_c0 = FLOAT(0.0)" in text and "FLOAT = np.float32" in text
    assert "rng" not in text  # no draws, no generator
    compile(text, "<lif>", "exec")


def test_source_of_a_model_with_draws_uses_the_counter_generator():
    text = numpy_backend.emit(helpers.noisy(), EmitOptions("float64")).text
    assert "from eqsnn import rng_buffers" in text
    assert "_draws = rng_buffers.workspace(pop.buffers, FLOAT)" in text
    assert "_draws.normal(_seed, step, neuron_id, lane, 1)" in text


def test_params_only_terms_are_computed_once_per_run():
    model = helpers.lif().replace(step=(ir.Assign("V", helpers.V * sympy.exp(-helpers.dt / 7)),))
    text = numpy_backend.emit(model, EmitOptions("float32")).text
    before, loop = text.split("for i in range(steps):")
    assert "np.exp" in before and "np.exp" not in loop


def test_generated_lines_are_available_to_tracebacks():
    program = numpy_backend.load(numpy_backend.emit(helpers.lif(), EmitOptions("float32")))
    filename = program.run.__code__.co_filename
    assert "".join(linecache.getlines(filename)) == program.source.text


def test_emit_rejects_an_unknown_precision():
    with pytest.raises(BackendError, match="float16"):
        numpy_backend.emit(helpers.lif(), EmitOptions("float16"))


# --- exact arithmetic -----------------------------------------------------------
@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_lif_matches_a_hand_written_loop_bit_for_bit(precision):
    dtype = np.dtype(precision).type
    current = np.array([0.05, 0.1, 0.3, 1.2])
    runner = start(helpers.lif(), precision=precision, params={"tau_mem": 10.0})
    raw = runner.run(200, 0, {"Isyn": current.reshape(1, 1, 4)}, {"V": None}, True)
    alpha, v, trace, fired = dtype(np.exp(-1 / 10)), np.zeros(4, dtype), [], []
    for _ in range(200):
        v = alpha * v + current.astype(dtype)
        spike = v >= dtype(1)
        v = np.where(spike, v - dtype(1), v)
        trace.append(v)
        fired.append(spike)
    np.testing.assert_array_equal(raw.vars["V"][:, 0], np.array(trace))
    assert raw.vars["V"].dtype == dtype
    step, neuron = np.nonzero(np.array(fired))
    np.testing.assert_array_equal(raw.spike_step, step)
    np.testing.assert_array_equal(raw.spike_neuron, neuron)


def test_float32_values_stay_float32():
    runner = start(helpers.lif(), precision="float32", params={"tau_mem": [5.0, 10, 20, 40]})
    assert type(runner.values["v_thresh"]) is np.float32
    assert runner.values["Alpha"].dtype == np.float32 and runner.values["Alpha"].shape == (4,)
    assert type(runner.values["dt"]) is np.float32


def test_time_is_step_times_dt_rounded_to_the_precision():
    t, step = sympy.Symbol("t"), sympy.Symbol("step")
    model = ir.Model("Clock", states=(ir.State("x"), ir.State("s", "int")),
                     step=(ir.Assign("x", t), ir.Assign("s", step)))
    runner = start(model, n=1, dt=0.1, precision="float32")
    first = runner.run(5, 0, {}, {"x": None, "s": None}, False)
    later = runner.run(5, 5, {}, {"x": None, "s": None}, False)
    times = np.concatenate([first.vars["x"], later.vars["x"]]).ravel()
    np.testing.assert_array_equal(times, (np.arange(10) * 0.1).astype(np.float32))
    np.testing.assert_array_equal(later.vars["s"].ravel(), np.arange(5, 10))
    assert later.vars["s"].dtype == np.int32


STEPS = 40  # the interpreter is slow
EXAMPLES = [p for p in sorted(glob.glob("examples/*.eqs"))
            if not any(word in p for word in ("noise", "poisson"))]


@pytest.mark.parametrize("path", EXAMPLES)
def test_examples_agree_with_the_naive_interpreter(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = eqsnn.load(path).ir
    inputs = {i.name: 0.7 for i in model.inputs}
    oracle = Interpreter(model, n=3, dt=0.5)
    runner = start(model, n=3, dt=0.5)
    names = [s.name for s in model.states]
    raw = runner.run(STEPS, 0, {k: held(v) for k, v in inputs.items()},
                     dict.fromkeys(names), model.spiking)
    spikes = []
    for i in range(STEPS):
        spikes.append(oracle.step(inputs))
        for name in names:
            np.testing.assert_allclose(raw.vars[name][i, 0], oracle.state[name], rtol=1e-9,
                                       atol=1e-12, err_msg=f"{name} at step {i}")
    step, neuron = np.nonzero(np.array(spikes))
    np.testing.assert_array_equal(raw.spike_step, step)
    np.testing.assert_array_equal(raw.spike_neuron, neuron)


def test_branches_model_against_the_interpreter():
    model = helpers.branches()
    oracle = Interpreter(model, n=6, dt=0.5)
    runner = start(model, n=6, dt=0.5)
    drive = np.linspace(-1, 6, 6)
    raw = runner.run(4, 0, {"drive": drive.reshape(1, 1, 6)}, {"x": None, "y": None}, False)
    for i in range(4):
        oracle.step({"drive": drive})
        np.testing.assert_allclose(raw.vars["x"][i, 0], oracle.state["x"], rtol=1e-14)
        np.testing.assert_allclose(raw.vars["y"][i, 0], oracle.state["y"], rtol=1e-14)


# --- random draws -------------------------------------------------------------
def test_draws_are_philox_with_counter_step_neuron_lane_draw():
    runner = start(helpers.noisy(), n=5, batch=2, precision="float32", seed=7)
    first = runner.run(20, 0, {}, {"V": None, "U": None}, True)
    second = runner.run(10, 20, {}, {"U": None}, False)
    steps = np.arange(30).reshape(30, 1, 1)
    ids, lanes = np.arange(5).reshape(1, 1, 5), np.arange(2).reshape(1, 2, 1)
    uniform = rng.uniform(7, steps, ids, lanes, 0, np.float32)
    normal = rng.normal(7, steps, ids, lanes, 1, np.float32)
    np.testing.assert_array_equal(first.vars["U"], uniform[:20])
    np.testing.assert_array_equal(second.vars["U"], uniform[20:])
    np.testing.assert_array_equal(first.vars["V"], np.cumsum(normal[:20], axis=0,
                                                             dtype=np.float32))
    level = np.exp(-(np.float32(0.1) * np.float32(1.0)))
    expected = np.nonzero(uniform[:20] >= level)
    for got, want in zip((first.spike_step, first.spike_batch, first.spike_neuron), expected):
        np.testing.assert_array_equal(got, want)


# --- arrays, signs, ints --------------------------------------------------------
def test_array_reads_are_clamped():
    runner = start(helpers.spike_source(), n=2, arrays={"SpikeTimes": [0.0, 2.0]},
                   init={"StartSpike": [0, 2], "EndSpike": [2, 2]})
    raw = runner.run(5, 0, {}, {"StartSpike": None}, True)
    np.testing.assert_array_equal(raw.spike_step, [0, 2])
    np.testing.assert_array_equal(raw.spike_neuron, [0, 0])
    assert raw.vars["StartSpike"][-1, 0].tolist() == [2, 2]


def test_signed_spikes():
    runner = start(helpers.binary_signed(), n=3, batch=2)
    x = np.array([[[1, -1, 0], [0, 0, -3]], [[-2, 0, 3], [5, 0, 0]]], float)
    raw = runner.run(2, 0, {"x": x}, {}, True)
    assert list(zip(raw.spike_step, raw.spike_batch, raw.spike_neuron, raw.spike_sign)) == [
        (0, 0, 0, 1), (0, 0, 1, -1), (0, 1, 2, -1), (1, 0, 0, -1), (1, 0, 2, 1), (1, 1, 0, 1)]


def test_int_and_bool_states():
    runner = start(helpers.counter(), n=2)
    raw = runner.run(7, 0, {}, {"count": None, "flag": None}, True)
    assert raw.vars["count"].dtype == np.int32 and raw.vars["flag"].dtype == np.bool_
    np.testing.assert_array_equal(raw.vars["count"][:, 0, 0], np.arange(1, 8))
    np.testing.assert_array_equal(np.unique(raw.spike_step), [2, 5])


# --- runner contract ---------------------------------------------------------
def test_recording_chosen_neurons_and_state_copies():
    runner = start(helpers.integrate_fire(), n=5, batch=2, params={"v_thresh": 100.0})
    raw = runner.run(3, 0, {"Isyn": np.arange(10.0).reshape(1, 2, 5) / 10}, {"V": [4, 1]}, False)
    assert raw.vars["V"].shape == (3, 2, 2)
    np.testing.assert_allclose(raw.vars["V"][-1], [[1.2, 0.3], [2.7, 1.8]])
    copy = runner.get_state("V")
    copy[:] = 99
    assert runner.get_state("V")[0, 0] != 99


def test_set_value_rejects_per_neuron_values_for_a_scalar_param():
    runner = start(helpers.lif())
    runner.set_value("v_thresh", 2.0)
    assert runner.values["v_thresh"] == 2.0
    with pytest.raises(BackendError, match="v_thresh"):
        runner.set_value("v_thresh", np.ones(4))


def test_a_step_allocates_nothing():
    n = 20000
    runner = start(helpers.lif_refractory(), n=n, params={"tau_refrac": 3.0})
    inputs = {"Isyn": np.full((1, 1, n), 0.2)}
    runner.run(10, 0, inputs, {}, False)  # warm up
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        runner.run(500, 10, inputs, {}, False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak - before < n * 8 // 4  # no (n,) float64 temporary was ever alive


def test_spike_buffer_in_several_blocks():
    flags = np.random.default_rng(0).random((10, 2, 3)) < 0.3
    negative = np.random.default_rng(1).random((10, 2, 3)) < 0.2
    buffer = SpikeBuffer(10, 2, 3, signed=True, max_bytes=2 * 3 * 3)
    assert len(buffer.block) == 3
    for i in range(10):
        buffer.write(i, flags[i], negative[i] & ~flags[i])
    step, lane, neuron, sign = buffer.result()
    expected = np.nonzero(flags | negative)
    for got, want in zip((step, lane, neuron), expected):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(sign, np.where(flags[expected], 1, -1))


# --- fast paths: held inputs, sparse masked stores, tiles: the same bits ------------
S = sympy.Symbol


def held_mix() -> ir.Model:
    """Values of one and of two inputs, an int and a bool state, masks of several kinds."""
    a, b, V, count, on = S("a"), S("b"), S("V"), S("count"), S("on")
    return ir.Model(
        name="HeldMix",
        params=(ir.Param("g", default=0.7), ir.Param("v_thresh", default=1.0)),
        states=(ir.State("V"), ir.State("count", "int"), ir.State("on", "bool")),
        inputs=(ir.Input("a", default=0.0), ir.Input("b", default=1.0)),
        step=(
            ir.Assign("V", V * sympy.exp(-S("dt") / 4) + a * b * S("g") - a / 3
                      + sympy.exp(b) / 50 + ir.RandNormal(0) / 20),
            ir.Assign("on", V > 0.5 * S("v_thresh")),
            ir.If(on, (ir.Assign("count", count + 1),)),
            ir.If(V < 0, (ir.Assign("V", -V * b),), (ir.Assign("count", count + 2),)),
        ),
        threshold=V >= S("v_thresh"),
        reset=(ir.Assign("V", V - S("v_thresh")), ir.Assign("count", count * 2),
               ir.Assign("on", sympy.false)),
    )


FAST_PATH_MODELS = {
    "held_mix": (held_mix, {"a": (0.0, 0.6), "b": (0.5, 1.5)}),
    "lif_refractory": (helpers.lif_refractory, {"Isyn": (0.0, 0.6)}),
    "noisy": (helpers.noisy, {}),
    "counter": (helpers.counter, {}),
    "binary_signed": (helpers.binary_signed, {"x": (-1.0, 1.0)}),
    "branches": (helpers.branches, {"drive": (-1.0, 6.0)}),
}


def fast_path_runs(name, precision="float32", tile=0, positions=None, held=True,
                   n=37, batch=3, steps=24):
    """Two runs of a model; recorded states (all, and a subset), spikes, final states."""
    build, ranges = FAST_PATH_MODELS[name]
    model = build()
    runner = start(model, n=n, batch=batch, precision=precision, seed=5,
                   params={"v_thresh": np.linspace(0.8, 1.2, n)} if name == "held_mix" else None)
    runner.tiling = numpy_tiles.Tiling(batch, n, tile)
    runner.spike_block_bytes = 5 * batch * n  # blocks of 5 steps: several per run
    if positions is always_outside:  # the store everywhere, the few outside put back
        outside = runner.program.run.__globals__.get("_Outside")
        positions = where_only if outside is None else (
            lambda mask: outside(np.flatnonzero(~mask)))
    if positions is not None:
        runner.program.run.__globals__.update(_positions=positions, _SPARSE_MIN=0)
    generator = np.random.default_rng(3)
    states = [s.name for s in model.states]
    record = {name: None for name in states}
    record[states[0]] = [5 % n, 0, n - 1, 5 % n, n // 2]  # any order, repeats
    results = []
    for first in (0, steps):
        inputs = {}
        for input_name, (low, high) in ranges.items():
            value = generator.uniform(low, high, (1, 1, n))
            inputs[input_name] = value if held else np.broadcast_to(value, (steps, batch, n))
        raw = runner.run(steps, first, inputs, record, model.spiking)
        results.append(raw)
    final = {name: runner.get_state(name) for name in states}
    return results, final


def assert_same_bits(got, want):
    (runs, final), (expected_runs, expected_final) = got, want
    for raw, expected in zip(runs, expected_runs):
        for name, value in expected.vars.items():
            assert raw.vars[name].dtype == value.dtype
            np.testing.assert_array_equal(raw.vars[name].view(np.uint8),
                                          value.view(np.uint8), err_msg=name)
        for field in ("spike_step", "spike_batch", "spike_neuron", "spike_sign"):
            np.testing.assert_array_equal(getattr(raw, field), getattr(expected, field))
    for name, value in expected_final.items():
        np.testing.assert_array_equal(final[name].view(np.uint8), value.view(np.uint8))


def where_only(mask):
    return None


def always_sparse(mask):
    return np.flatnonzero(mask)


def always_outside(mask):
    raise AssertionError("replaced in fast_path_runs by the program's _Outside")


@pytest.mark.parametrize("name", sorted(FAST_PATH_MODELS))
@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_fast_paths_give_the_bits_of_the_straightforward_path(name, precision):
    """Held vs per-step inputs, where= vs sparse stores, one tile vs neuron or lane tiles."""
    reference = fast_path_runs(name, precision, positions=where_only, held=False)
    assert_same_bits(fast_path_runs(name, precision, positions=where_only), reference)
    assert_same_bits(fast_path_runs(name, precision, positions=always_sparse), reference)
    assert_same_bits(fast_path_runs(name, precision, positions=always_outside), reference)
    for tile in (7, 2 * 37, 10**6):  # 6 parts of 7 or 2 of a lane; 2 lanes; all
        assert_same_bits(fast_path_runs(name, precision, tile=tile), reference)
        assert_same_bits(fast_path_runs(name, precision, tile=tile, held=False,
                                        positions=always_sparse), reference)


def test_tiles_also_split_batch_one_and_keep_global_ids():
    tiling = numpy_tiles.Tiling(1, 10, 4)
    assert [(r.start, r.stop, c.start, c.stop) for r, c in tiling.tiles] == [
        (0, 1, 0, 4), (0, 1, 4, 8), (0, 1, 8, 10)]  # 10 is not a multiple of 4
    assert len(numpy_tiles.Tiling(5, 10, 20).tiles) == 3  # lanes 0-1, 2-3, 4
    assert len(numpy_tiles.Tiling(5, 10, 0).tiles) == 1
    reference = fast_path_runs("noisy", n=10, batch=1)
    assert_same_bits(fast_path_runs("noisy", n=10, batch=1, tile=4), reference)


def test_the_tile_size_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(numpy_tiles.ENVIRONMENT, "7")
    sim = eqsnn.Simulator(neurons.LeakyIntegrateFire(tau_refrac=2.0), 20, batch_size=2)
    current = np.random.default_rng(0).uniform(0, 0.3, (40, 2, 20))
    tiled = sim.run(40, inputs={"Isyn": current}, record={"V": [3, 19], "spikes": None})
    assert len(sim._runner.tiling.tiles) == 6
    monkeypatch.setenv(numpy_tiles.ENVIRONMENT, "0")
    sim = eqsnn.Simulator(neurons.LeakyIntegrateFire(tau_refrac=2.0), 20, batch_size=2)
    whole = sim.run(40, inputs={"Isyn": current}, record={"V": [3, 19], "spikes": None})
    assert len(sim._runner.tiling.tiles) == 1
    np.testing.assert_array_equal(tiled.vars["V"], whole.vars["V"])
    np.testing.assert_array_equal(tiled.spikes.neuron, whole.spikes.neuron)
    np.testing.assert_array_equal(tiled.spikes.step, whole.spikes.step)


def test_values_of_held_inputs_are_computed_before_the_loop():
    text = numpy_backend.emit(held_mix(), EmitOptions("float32")).text
    before, loop = text.split("for i in range(steps):")
    assert "if _held_a:\n            np.multiply(_c0, a, out=_held0)" in before
    assert "if _held_a and _held_b:\n            np.multiply(a, b, out=_held3)" in before
    assert "a = _all_a[i]\n                np.multiply(_c0, a, out=_held0)" in loop
    assert "if not (_held_a and _held_b):\n                np.multiply(a, b, out=_held3)" in loop
    assert "b = _all_b[i]\n                np.exp(b, out=_held1, dtype=np.float64)" in loop
    assert "np.add(V, _held4, out=V)" in loop


def test_masked_stores_have_a_sparse_form_only_where_it_is_exact():
    text = numpy_backend.emit(held_mix(), EmitOptions("float32")).text
    assert "_at0 = _positions(on)" in text  # a bool state as the mask
    assert "count.put(_at0, np.add(1, count.take(_at0)))" in text
    assert "np.add(1, count, out=count, where=on)" in text
    per_neuron = numpy_backend.emit(held_mix(), EmitOptions("float32", frozenset({"v_thresh"})))
    # V - v_thresh with an (n,) v_thresh keeps the where= form
    assert "np.subtract(V, v_thresh, out=V, where=_spike)\n            # count" in per_neuron.text
    model = helpers.lif().replace(reset=(ir.Assign("V", sympy.exp(helpers.V)),))
    assert ".put(" not in numpy_backend.emit(model, EmitOptions("float32")).text


def test_positions_choose_the_cheaper_form():
    program = numpy_backend.load(numpy_backend.emit(helpers.lif(), EmitOptions("float32")))
    positions = program.run.__globals__["_positions"]
    assert program.run.__globals__["_SPARSE_MIN"] == 16384  # smaller: always where=
    mask = np.zeros((2, 20000), bool)
    assert positions(mask).size == 0
    mask[1, ::20] = True
    np.testing.assert_array_equal(positions(mask), np.flatnonzero(mask))
    mask[:] = True
    mask[0, ::3] = False
    assert positions(mask) is None  # dense: where=
    mask[:] = True
    mask[1, 7] = mask[0, 19999] = False
    outside = positions(mask)  # almost everywhere: every element, the two put back
    assert type(outside) is program.run.__globals__["_Outside"]
    np.testing.assert_array_equal(outside.at, [19999, 20007])
    mask[:] = True
    assert positions(mask).at.size == 0
    mask[:] = False
    mask[0, 3] = True
    assert positions(mask) is None  # very sparse: where=


def test_spike_regions_and_commits():
    flags = np.random.default_rng(0).random((10, 2, 3)) < 0.3
    buffer = SpikeBuffer(10, 2, 3, signed=False, max_bytes=2 * 3 * 4)
    for first in range(0, 10, 4):
        for rows, cols in [(slice(0, 1), slice(0, 3)), (slice(1, 2), slice(0, 2)),
                           (slice(1, 2), slice(2, 3))]:
            region = buffer.region(rows, cols)
            for i in range(min(4, 10 - first)):
                region.write(i, flags[first + i][rows, cols])
        buffer.commit(first, min(4, 10 - first))
    step, lane, neuron, sign = buffer.result()
    for got, want in zip((step, lane, neuron), np.nonzero(flags)):
        np.testing.assert_array_equal(got, want)
    assert sign is None
