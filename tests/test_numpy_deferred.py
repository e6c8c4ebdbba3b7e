"""The numpy backend's phased adaptive step (eqsnn.backends.numpy_deferred) against its
one-pass step (EQSNN_NUMPY_DEFER=0): the same numbers to the bit.

The one-pass step is the model's IR executed statement by statement on the whole
population (the path the accuracy tests against solve_ivp in test_adaptive.py and
test_spike_offsets.py ran on before the phases existed); the phased step runs the
whole-step try tile by tile, the substep loop once per step on the neurons the try
deferred, gathered from every lane and tile, and the rest tile by tile.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from test_adaptive import ADEX, IZHIKEVICH, QIF, QUADRATIC

import eqsnn
from eqsnn.backends import numpy_deferred
from eqsnn.pipeline import EqsnnWarning

HIDDEN = ("_substep", "_substep_limit_step", "_extra_crossings")

REFRACTORY_ADEX = ADEX.replace(
    "    state V = -70.6\n",
    "    param tau_refrac = 2.0\n    state V = -70.6\n    state refrac_left = 0.0\n").replace(
    "    dw/dt", "    refractory: refrac_left > 0\n    dw/dt").replace(
    "exp((V - v_t) / delta_t) - w + I) / c_mem",
    "exp((V - v_t) / delta_t) - w + I) / c_mem unless refractory").replace(
    "        w += b\n", "        w += b\n        refrac_left = tau_refrac\n"
) + "    after:\n        if refractory: refrac_left -= dt\n"

# a threshold that is not one comparison: spikes on the step grid, no crossing in the step
GRID = """
neuron Grid
    state v = 0.0
    input I = 0.0
    dv/dt = (I - v + 0.1 * v * v) / 5
    threshold: v >= 1.0 or v <= -100.0
    reset:
        v = 0.0
"""

SIGNED = """
neuron Signed
    state v = 0.0
    input I = 0.0
    dv/dt = I + 0.1 * v * v
    method: adaptive
    threshold: v >= 1.0
    reset:
        v = 0.0
    negative threshold: v <= -1.0
    negative reset:
        v = 0.0
"""


class LoopSizes:
    """Records how many neurons the loop phase ran on in each step that ran it (``sizes``;
    it runs again on the same neurons after a cross phase), and for each call of the cross
    phase, the loop iteration in which each of its neurons crossed (``crossings``: step,
    iterations)."""

    def __init__(self, sim):
        programs = sim._runner.program.phases.programs
        self.sizes, self.crossings, self.steps = [], [], set()
        loop, cross = programs["loop"].run, programs.get("cross")

        def run(view, steps, step, *args):
            if step not in self.steps:
                self.steps.add(step)
                self.sizes.append(view.neuron_id.size)
            return loop(view, steps, step, *args)
        programs["loop"].run = run
        if cross is not None:
            cross_run = cross.run

            def located(view, steps, step, *args):
                # the loop iteration (counted per neuron) in which each substep crossed
                self.crossings.append((step, view.states["_ad_it"].ravel().copy()))
                return cross_run(view, steps, step, *args)
            cross.run = located


def simulate(monkeypatch, text, n, dt, steps, inputs, *, defer, batch=1, tile=None,
             record=("spikes",), setup=None, block_steps=None, params=None):
    monkeypatch.setenv(numpy_deferred.ENVIRONMENT, "1" if defer else "0")
    if tile is None:
        monkeypatch.delenv("EQSNN_NUMPY_TILE", raising=False)
    else:
        monkeypatch.setenv("EQSNN_NUMPY_TILE", str(tile))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EqsnnWarning)
        sim = eqsnn.Simulator(eqsnn.compile(text), n, batch_size=batch, dt=dt,
                              precision="float64", check=False, params=params)
        if setup is not None:
            setup(sim)
        if block_steps is not None:
            sim._runner.spike_block_bytes = block_steps * batch * n
        sizes = LoopSizes(sim) if defer else None
        result = sim.run(steps, inputs=inputs, record=_record(record))
    hidden = {name: sim._runner.get_state(name) for name in HIDDEN}
    return result, hidden, sizes


def _record(record):
    """Names, or a dict of names to neuron ids (None: all) where an entry is a dict."""
    if not any(isinstance(item, dict) for item in record):
        return list(record)
    merged: dict = {}
    for item in record:
        merged.update(item if isinstance(item, dict) else {item: None})
    return merged


def assert_same(monkeypatch, text, n, dt, steps, inputs, **options):
    """Both paths, compared to the bit; the phased run's loop sizes."""
    one, hidden_one, _ = simulate(monkeypatch, text, n, dt, steps, inputs, defer=False,
                                  **options)
    phased, hidden_phased, sizes = simulate(monkeypatch, text, n, dt, steps, inputs,
                                            defer=True, **options)
    assert set(one.vars) == set(phased.vars)
    for name in one.vars:
        np.testing.assert_array_equal(phased.vars[name], one.vars[name], err_msg=name)
    for name in HIDDEN:
        np.testing.assert_array_equal(hidden_phased[name], hidden_one[name], err_msg=name)
    if one.spikes is not None:
        assert len(one.spikes) > 0
        for field in ("step", "batch", "neuron"):
            np.testing.assert_array_equal(getattr(phased.spikes, field),
                                          getattr(one.spikes, field))
        if one.spikes.signed:
            np.testing.assert_array_equal(phased.spikes.sign, one.spikes.sign)
        if "spike_offset" in options.get("record", ()):
            np.testing.assert_array_equal(phased.spikes.offset, one.spikes.offset)
    return phased, sizes.sizes


@pytest.mark.parametrize("dt", [0.1, 1.0])
def test_adex_lanes_tiles_recorded_states_and_offsets_match_the_one_pass_step(monkeypatch, dt):
    """Two lanes with their own currents, 37 neurons in tiles of 8 (the last one short),
    every state recorded for all neurons and w for three, spike blocks of 3 steps."""
    n, batch = 37, 2
    current = np.random.default_rng(3).uniform(300.0, 1500.0, (batch, n))

    def setup(sim):
        generator = np.random.default_rng(4)
        sim.set_state("V", generator.uniform(-70.6, -45.0, (batch, n)))
        sim.set_state("w", generator.uniform(0.0, 100.0, (batch, n)))
    result, sizes = assert_same(
        monkeypatch, ADEX, n, dt, 60, {"I": current}, batch=batch, tile=8, setup=setup,
        record=("V", {"w": [3, 20, 36]}, "spikes", "spike_offset"), block_steps=3)
    assert result.vars["V"].shape == (60, batch, n) and result.vars["w"].shape == (60, batch, 3)
    assert 0 < len(sizes) <= 60  # not called in a step that deferred no neuron
    assert 0 < max(sizes) < batch * n  # the loop ran on some neurons, never on all
    assert set(result.spikes.batch) == {0, 1}


@pytest.mark.parametrize("text, inputs, record", [
    (IZHIKEVICH, {"I": [5.0, 10.0, 15.0, 20.0, 30.0]}, ("v", "u", "spikes", "spike_offset")),
    (QUADRATIC, {"I": [0.5, 1.5, 3.0, 2.0, 1.0]}, ("v", "w", "g", "spikes", "spike_offset")),
    (GRID, {"I": [1.5, 2.0, 2.5, 3.0, 0.5]}, ("v", "spikes")),
    (REFRACTORY_ADEX, {"I": [600.0, 900.0, 1200.0, 1500.0, 1000.0]},
     ("V", "w", "refrac_left", "spikes", "spike_offset")),
    (SIGNED, {"I": [0.8, -1.5, 2.0, -0.3, 0.4]}, ("v", "spikes")),
], ids=["izhikevich", "own-quadratic-time-varying", "grid-threshold", "refractory-after",
        "negative-threshold"])
@pytest.mark.parametrize("dt", [0.1, 1.0])
def test_models_with_and_without_crossings_in_the_step_match(monkeypatch, text, inputs,
                                                              record, dt):
    assert_same(monkeypatch, text, 5, dt, 80 if dt == 1.0 else 250, inputs, tile=2,
                record=record)


def test_every_neuron_deferred(monkeypatch):
    """A carried substep size below dt leaves the try to none: the loop runs on all."""
    def setup(sim):
        sim._runner.set_state("_substep", 0.01)
    result, sizes = assert_same(monkeypatch, ADEX, 6, 0.1, 3, {"I": 1500.0}, batch=2, tile=4,
                                setup=setup, record=("V", "w"))
    assert sizes[0] == 12


def test_no_neuron_deferred_runs_no_loop(monkeypatch):
    """At rest every neuron finishes the step in the try: the loop phase never runs."""
    _, sizes = assert_same(monkeypatch, ADEX, 9, 0.1, 20, {"I": 0.0}, tile=4,
                           record=("V", "w"))
    assert sizes == []


@pytest.mark.parametrize("bound", [1, 3])
def test_a_bound_on_the_substeps_is_reached_the_same_way(monkeypatch, bound):
    text = ADEX + f"    method: adaptive(max_substeps={bound})\n"
    _, sizes = assert_same(monkeypatch, text, 5, 1.0, 30,
                           {"I": [300.0, 600.0, 900.0, 1200.0, 1500.0]}, tile=2,
                           record=("V", "w", "spikes"))
    assert sizes


def test_several_crossings_in_a_step(monkeypatch):
    """Second crossings inside one step are reset and counted in the hidden state the
    same way (compared by assert_same)."""
    assert_same(monkeypatch, QIF, 3, 1.0, 5, {"I": [100.0, 50.0, 80.0]}, tile=2,
                record=("v", "spikes", "spike_offset"))


def test_crossings_of_different_loop_iterations_located_together(monkeypatch):
    """Neurons whose substeps cross in different iterations of one step's loop wait for
    one cross phase: the same bits as the one-pass step, where each is located in its own
    iteration, and the c backend's spikes and states (within 1e-9, docs/numerics.md)."""
    n = 60
    current = np.random.default_rng(6).uniform(300.0, 1500.0, n)
    v0 = np.random.default_rng(7).uniform(-70.6, -45.0, n)
    w0 = np.random.default_rng(8).uniform(0.0, 100.0, n)

    def setup(sim):
        sim.set_state("V", v0)
        sim.set_state("w", w0)
    steps = 400
    phased, _, sizes = simulate(monkeypatch, ADEX, n, 0.1, steps, {"I": current}, defer=True,
                                setup=setup, record=("V", "w", "spikes", "spike_offset"))
    together = [iterations for _, iterations in sizes.crossings
                if len(set(iterations.tolist())) > 1]
    assert len(together) >= 5  # steps whose cross phase located crossings of several iterations
    assert_same(monkeypatch, ADEX, n, 0.1, steps, {"I": current}, setup=setup,
                record=("V", "w", "spikes", "spike_offset"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EqsnnWarning)
        sim = eqsnn.Simulator(eqsnn.compile(ADEX), n, dt=0.1, backend="c", precision="float64",
                              check=False)
        setup(sim)
        c_run = sim.run(steps, inputs={"I": current}, record=["V", "w", "spikes"])
    assert len(phased.spikes) >= 50
    for field in ("step", "neuron"):
        np.testing.assert_array_equal(getattr(phased.spikes, field), getattr(c_run.spikes, field))
    for name in ("V", "w"):
        np.testing.assert_allclose(phased.vars[name], c_run.vars[name], rtol=1e-9, atol=1e-9)


def test_phases_only_for_a_step_with_one_loop():
    fixed = eqsnn.compile(ADEX + "    method: rk4\n")
    assert numpy_deferred.phase_models(fixed.ir) is None
    phases = numpy_deferred.phase_models(eqsnn.compile(ADEX).ir)
    assert list(phases) == ["try", "reject", "loop", "cross", "finish"]
    # spikes on the step grid: no crossing to locate, no cross phase
    assert list(numpy_deferred.phase_models(eqsnn.compile(GRID).ir)) == [
        "try", "reject", "loop", "finish"]
    # the next substep size of a rejected try is computed for the deferred neurons only
    from eqsnn import ir

    def declared(model):
        return {s.name for s in ir.walk_statements(model.step) if isinstance(s, ir.Local)}
    assert "_adf_fac" in declared(phases["reject"]) and "_adf_fac" not in declared(
        phases["try"])
    # the try's locals are computed unmasked; its stores stay under the flag
    top = phases["try"].step
    assert not any(isinstance(s, ir.If) and str(s.cond) == "_ad_try" for s in top)
    assert any(isinstance(s, ir.Local) and s.name.startswith("_kf") for s in top)
    # the loop's condition and the threshold read locals carried between the phases
    carried = {s.name for s in phases["finish"].states} - {s.name for s in
                                                           eqsnn.compile(ADEX).ir.states}
    assert {"_ad_tau", "_crossed", "_ad_h"} <= carried


def test_the_grid_model_is_adaptive_with_spikes_on_the_grid():
    model = eqsnn.compile(GRID)
    assert model.method == "adaptive"
    assert "spikes on the step grid" in model.reasons["adaptive"]


# the drive depends on the neuron's id and lane, and on a per-neuron param: the gathered
# population of the loop carries the ids, lanes and values of its neurons
INDEXED = """
neuron Indexed
    param gain = 1.0
    param v_peak = 10.0
    state v = -2.0
    input I = 1.0
    dv/dt = (v * v + gain * I * (1 + 0.1 * id) * (1 + 0.5 * batch) - v) / 10
    threshold: v >= v_peak
    reset:
        v = -3.0
"""


def test_per_neuron_params_ids_lanes_and_inputs_per_step_match(monkeypatch):
    steps, batch, n = 120, 2, 7
    drive = np.random.default_rng(5).uniform(0.5, 3.0, (steps, batch, n))
    result, sizes = assert_same(monkeypatch, INDEXED, n, 0.5, steps, {"I": drive},
                                batch=batch, tile=3, params={"gain": np.linspace(0.5, 2.0, n)},
                                record=("v", "spikes", "spike_offset"))
    assert sizes and len(set(result.spikes.neuron)) > 3


def test_the_try_is_unmasked_only_where_that_is_the_same_computation():
    """Locals of the flagged block are computed everywhere; an assignment, or an if with an
    else (its body may change what its condition reads), stays under the flag; a local
    the rest of the step reads keeps the block as it was."""
    import sympy

    from eqsnn import ir
    x, y, c, flag = (sympy.Symbol(name) for name in ("x", "y", "c", "_flag"))
    block = ir.If(flag, (
        ir.Local("y", "float", 2 * x),
        ir.Local("c", "bool", sympy.StrictGreaterThan(y, 1)),
        ir.If(c, (ir.Assign("x", y),)),
        ir.If(c, (ir.Assign("x", 3 * y),), (ir.Assign("x", y + 1),)),
        ir.Assign("x", x + 1),
    ))
    statements = (ir.Local("_flag", "bool", sympy.StrictGreaterThan(x, 0)), block)
    out = numpy_deferred._unmasked_try(statements, "_flag", {})
    assert [type(s).__name__ for s in out] == ["Local", "Local", "Local", "If", "If", "If"]
    assert out[3].cond == sympy.And(flag, c) and out[3].body == block.body[2].body
    assert out[4] == ir.If(flag, (block.body[3],))
    assert out[5] == ir.If(flag, (block.body[4],))
    read_after = statements + (ir.Assign("x", y),)
    assert numpy_deferred._unmasked_try(read_after, "_flag", {}) == read_after
    assert numpy_deferred._unmasked_try(statements, "_flag", {"c": "bool"}) == statements
