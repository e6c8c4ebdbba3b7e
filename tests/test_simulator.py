"""The Simulator contract: results, continuation, reset, and every rejected input."""

import sys

import helpers
import numpy as np
import pytest

import eqsnn
from eqsnn import ir
from eqsnn.errors import BackendError, EqsnnError, ParameterError, ShapeError
from eqsnn.runtime import Simulator, progress


def lif_spike_steps(current, alpha, steps, threshold=1.0):
    """Closed form of LIF with delta input from V=0: V_k = I (1 - alpha^k)/(1 - alpha)."""
    v, out = 0.0, []
    for step in range(steps):
        v = alpha * v + current
        if v >= threshold:
            out.append(step)
            v -= threshold
    return out


# --- results -------------------------------------------------------------------
def test_lif_follows_the_closed_form():
    sim = Simulator(helpers.lif(), 3, precision="float64", params={"tau_mem": 20.0})
    result = sim.run(13, inputs={"Isyn": 0.1}, record=["V"])
    alpha = np.exp(-1 / 20)
    k = np.arange(1, 14)
    np.testing.assert_allclose(result.vars["V"][:, 0, 1], 0.1 * (1 - alpha**k) / (1 - alpha),
                               rtol=1e-13)
    assert result.vars["V"].shape == (13, 1, 3)


def test_lif_spike_steps_per_neuron_params():
    tau = np.array([5.0, 20.0, 50.0, 100.0])
    sim = Simulator(helpers.lif(), 4, precision="float64", params={"tau_mem": tau})
    result = sim.run(200, inputs={"Isyn": 0.08}, record=["spikes"])
    for neuron, tau_mem in enumerate(tau):
        mine = result.spikes.step[result.spikes.neuron == neuron]
        assert list(mine) == lif_spike_steps(0.08, np.exp(-1 / tau_mem), 200)
    assert not np.any(result.spikes.neuron == 0)  # tau 5: 0.08/(1-alpha) < 1, never fires
    assert np.any(result.spikes.neuron == 3)


@pytest.mark.parametrize("precision, tau_refrac, dt, blocked", [
    ("float32", 3.0, 1.0, 3),
    ("float32", 0.3, 0.1, 4),  # the float countdown adds a step (spec §3.1)
    ("float64", 1.0, 0.1, 11),
    ("float64", 5.0, 0.1, 51),
])
def test_refractory_countdown(precision, tau_refrac, dt, blocked):
    sim = Simulator(helpers.lif_refractory(), 1, dt=dt, precision=precision,
                    params={"tau_refrac": tau_refrac})
    result = sim.run(3 * blocked + 1, inputs={"Isyn": 5.0}, record=["spikes"])
    assert list(result.spikes.step) == [0, blocked, 2 * blocked, 3 * blocked]


def test_float32_and_float64():
    runs = {}
    for precision in ("float32", "float64"):
        sim = Simulator(helpers.current_lif(), 2, dt=0.5, precision=precision, init={"I": 1.0})
        runs[precision] = sim.run(50, record=["V"]).vars["V"]
        assert runs[precision].dtype == np.dtype(precision)
    np.testing.assert_allclose(runs["float32"], runs["float64"], rtol=1e-5)
    assert np.any(runs["float32"] != runs["float64"])


def test_batch_lanes_with_held_and_per_step_inputs():
    sim = Simulator(helpers.integrate_fire(), 3, batch_size=2, precision="float64",
                    params={"v_thresh": 1e9})
    per_lane = np.array([[0.1, 0.2, 0.3], [1.0, 2.0, 3.0]])
    held = sim.run(4, inputs={"Isyn": per_lane}, record=["V"]).vars["V"]
    np.testing.assert_allclose(held[-1], 4 * per_lane)
    sim.reset()
    every_step = sim.run(4, inputs={"Isyn": np.broadcast_to(per_lane, (4, 2, 3))},
                         record=["V"]).vars["V"]
    np.testing.assert_array_equal(held, every_step)
    sim.reset()
    ramp = np.arange(4.0).reshape(4, 1, 1)  # per step, same for every lane and neuron
    np.testing.assert_allclose(sim.run(4, inputs={"Isyn": ramp}, record=["V"]).vars["V"][:, 0, 0],
                               [0, 1, 3, 6])


def test_held_inputs_are_not_expanded():
    from eqsnn.runtime.inputs import prepare_inputs

    model = helpers.integrate_fire()
    assert prepare_inputs(model, {"Isyn": 1.0}, 1000, 4, (50,))["Isyn"].shape == (1, 1, 1)
    assert prepare_inputs(model, {"Isyn": np.ones(50)}, 1000, 4, (50,))["Isyn"].shape == (1, 1, 50)
    assert prepare_inputs(model, {"Isyn": np.ones((4, 50))}, 1000, 4, (50,))["Isyn"].shape \
        == (1, 4, 50)
    assert prepare_inputs(model, {"Isyn": np.ones((4, 5, 10))}, 1000, 4, (5, 10))["Isyn"].shape \
        == (1, 4, 50)


def test_consecutive_runs_continue_and_reset_restores():
    sim = Simulator(helpers.lif_refractory(), 5, params={"tau_refrac": 2.0})
    current = np.linspace(0.1, 0.6, 5)
    whole = sim.run(60, inputs={"Isyn": current}, record=["V", "spikes"])
    sim.reset()
    assert sim.step == 0 and np.all(sim.state["V"] == 0)
    first = sim.run(25, inputs={"Isyn": current}, record=["V", "spikes"])
    second = sim.run(35, inputs={"Isyn": current}, record=["V", "spikes"])
    np.testing.assert_array_equal(np.concatenate([first.vars["V"], second.vars["V"]]),
                                  whole.vars["V"])
    np.testing.assert_array_equal(np.concatenate([first.spikes.step, second.spikes.step + 25]),
                                  whole.spikes.step)
    np.testing.assert_array_equal(second.spikes.times, (25 + second.spikes.step) * 1.0)
    assert sim.step == 60 and sim.t == 60.0


def test_record_subsets_and_shapes():
    sim = Simulator(helpers.integrate_fire(), (2, 3), batch_size=2, params={"v_thresh": 1e9})
    x = np.arange(6.0).reshape(2, 3)
    result = sim.run(3, inputs={"Isyn": x}, record={"V": [5, 0], "spikes": None})
    assert result.vars["V"].shape == (3, 2, 2)
    np.testing.assert_allclose(result.vars["V"][-1], [[15.0, 0.0], [15.0, 0.0]])
    full = sim.run(1, inputs={"Isyn": x}, record="V").vars["V"]
    assert full.shape == (1, 2, 2, 3) and sim.state["V"].shape == (2, 2, 3)
    assert len(result.spikes) == 0


def test_per_neuron_params_in_the_population_shape_or_flat():
    tau = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    for given in (tau, tau.ravel()):
        sim = Simulator(helpers.lif(), (2, 3), precision="float64",
                        params={"tau_mem": given, "v_thresh": 100.0})
        v = sim.run(2, inputs={"Isyn": 1.0}, record=["V"]).vars["V"][-1, 0]
        np.testing.assert_allclose(v, np.exp(-1 / tau) + 1)


def test_spikes_sorted_with_a_per_lane_view():
    sim = Simulator(helpers.lif(), 3, batch_size=2)
    result = sim.run(10, inputs={"Isyn": [[0.6, 0.0, 2.0], [0.0, 1.0, 0.0]]}, record=["spikes"])
    spikes = result.spikes
    order = np.lexsort((spikes.neuron, spikes.batch, spikes.step))
    np.testing.assert_array_equal(order, np.arange(len(spikes)))
    times, ids = spikes.per_lane[1]
    np.testing.assert_array_equal(ids, np.ones(10))
    np.testing.assert_array_equal(times, np.arange(10.0))
    assert spikes.sign is None and spikes.counts(3).tolist() == [[5, 0, 10], [0, 10, 0]]
    assert spikes.counts().tolist() == [[5, 0, 10], [0, 10, 0]]  # the population's shape (3,)


def test_spikes_of_a_shaped_population_index_its_shape():
    """A (2, 3) population: ids are C-order flat; index gives (row, column); counts() has the
    population's shape; the counts match the closed form of each neuron's rate."""
    current = np.array([[0.0, 0.25, 0.5], [1.0, 2.0, 0.0]])  # delta input, threshold 1
    sim = Simulator(helpers.lif(), (2, 3), batch_size=2, precision="float64")
    spikes = sim.run(20, inputs={"Isyn": current}, record=["spikes"]).spikes
    rows, columns = spikes.index
    np.testing.assert_array_equal(rows * 3 + columns, spikes.neuron)
    counts = spikes.counts()
    assert counts.shape == (2, 2, 3)
    for r in range(2):
        for c in range(3):
            expected = len(lif_spike_steps(current[r, c], np.exp(-1 / 20), 20))
            assert counts[0, r, c] == counts[1, r, c] == expected
    assert counts[0, 1, 1] == 20 and counts[0, 0, 0] == 0


def test_signed_spikes_through_the_simulator():
    sim = Simulator(helpers.binary_signed(), 2)
    spikes = sim.run(2, inputs={"x": [[[1.0, -1.0]], [[0.0, 2.0]]]}, record=["spikes"]).spikes
    assert spikes.sign.tolist() == [1, -1, 1] and spikes.neuron.tolist() == [0, 1, 1]


def test_readout_restarts_every_run():
    sim = Simulator(helpers.lif_counting(), 2)
    first = sim.run(20, inputs={"Isyn": [0.5, 0.25]})
    second = sim.run(20, inputs={"Isyn": [0.5, 0.25]})
    alpha = np.exp(-1 / 20)
    for neuron, current in enumerate([0.5, 0.25]):
        steps = np.array(lif_spike_steps(current, alpha, 40))
        assert first.readout[0, neuron] == np.sum(steps < 20) > 0
        assert second.readout[0, neuron] == np.sum(steps >= 20) > 0
    assert first.readout.shape == (1, 2)


def test_run_steps_is_set_for_every_run():
    sim = Simulator(helpers.leaky_average(), 1, precision="float64")
    for steps in (10, 4):
        result = sim.run(steps, inputs={"Isyn": 1.0}, record=["V"])
        np.testing.assert_allclose(result.readout[0], result.vars["V"][:, 0].mean(), rtol=1e-12)


def test_progress_pieces_do_not_change_results(monkeypatch):
    def run(progress):
        sim = Simulator(helpers.noisy(), 4, batch_size=2, seed=5)
        return sim.run(37, record=["V", "spikes"], progress=progress)

    reference = run(False)
    monkeypatch.setattr(progress, "BAR_SECONDS", 0.0)  # the bar path, in pieces
    monkeypatch.setattr(progress, "PROBE_SECONDS", 0.0)
    monkeypatch.setattr(progress, "PIECE_SECONDS", 0.0)
    for choice in (None, True):
        result = run(choice)
        np.testing.assert_array_equal(result.vars["V"], reference.vars["V"])
        np.testing.assert_array_equal(result.spikes.step, reference.spikes.step)


def test_timing_and_repr():
    result = Simulator(helpers.lif(), 2).run(5, record=["V"])
    assert result.timing.steps == 5 and result.timing.total >= result.timing.simulate > 0
    assert "V (5, 1, 2)" in repr(result)


def test_state_is_a_read_only_mapping_of_copies():
    sim = Simulator(helpers.lif(), 2)
    state = sim.state
    assert list(state) == ["V"] and len(state) == 1
    with pytest.raises(ValueError):
        state["V"][0, 0] = 5.0
    sim.set_state("V", [0.25, 0.5])
    assert sim.state["V"].tolist() == [[0.25, 0.5]]
    assert state["V"].tolist() == [[0.25, 0.5]]  # fetched on access


def test_accepts_compiled_models_and_standard_library_neurons():
    model = eqsnn.compile("neuron Leak\n    param tau = 10.0 (> 0)\n    state V = 1.0\n"
                          "    dV/dt = -V / tau\n")
    v = Simulator(model, 1, precision="float64").run(3, record=["V"]).vars["V"][:, 0, 0]
    np.testing.assert_allclose(v, np.exp(-np.arange(1, 4) / 10), rtol=1e-12)
    from eqsnn import neurons

    lif = neurons.LeakyIntegrateFire(v_thresh=1.0, tau_mem=20.0, readout="spike_count")
    result = Simulator(lif, 2).run(30, inputs={"Isyn": [0.08, 0.2]}, record=["spikes"])
    assert result.readout.tolist() == [[len(lif_spike_steps(0.08, np.exp(-1 / 20), 30)),
                                        len(lif_spike_steps(0.2, np.exp(-1 / 20), 30))]]


def test_plot(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    result = Simulator(helpers.lif(), 3).run(20, inputs={"Isyn": 0.3}, record=["V", "spikes"])
    figure = result.plot(tmp_path / "out.png")
    assert len(figure.axes) == 2 and (tmp_path / "out.png").stat().st_size > 0
    for name in ("matplotlib", "matplotlib.figure"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r"pip install eqsnn\[plot\]"):
        result.plot()


# --- rejected input: a clear error and nothing changed ----------------------------
def no_default(name):
    model = helpers.lif()
    params = tuple(ir.Param(p.name, default=None) if p.name == name else p for p in model.params)
    return model.replace(params=params)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(params={"tau_men": 5.0}), ParameterError,
     "unknown param 'tau_men'; did you mean 'tau_mem'"),
    (dict(params={"tau_mem": np.nan}), ParameterError, "param 'tau_mem' must be finite; got nan"),
    (dict(params={"v_thresh": [1, 2, np.inf, 3]}), ParameterError, "got inf at index \\(2,\\)"),
    (dict(params={"tau_mem": [5.0, 5.0, 5.0, -1.0]}), ParameterError,
     "tau_mem must be > 0; neuron 3 has -1.0"),
    (dict(params={"tau_mem": 0.0}), ParameterError, "tau_mem must be > 0; got 0.0"),
    (dict(params={"tau_mem": np.ones(3)}), ShapeError,
     "has shape \\(3,\\); expected a scalar or one value per neuron, shape \\(4,\\)"),
    (dict(params={"tau_mem": "fast"}), ParameterError, "must be numeric"),
    (dict(params=[1.0]), ParameterError, "params must be a mapping"),
    (dict(init={"U": 1.0}), ParameterError, "unknown state 'U'"),
    (dict(init={"V": np.ones((2, 4))}), ShapeError, "expected a shape broadcastable to "
     "\\(batch, \\*shape\\) = \\(1, 4\\)"),
    (dict(init={"V": [0.0, np.nan, 0, 0]}), ParameterError, "state 'V' must be finite"),
    (dict(batch_size=0), ParameterError, "batch_size must be a positive integer"),
    (dict(dt=-1.0), ParameterError, "dt must be a positive finite number"),
    (dict(dt=float("nan")), ParameterError, "dt must be a positive finite number"),
    (dict(precision="float16"), ParameterError, "precision must be 'float32' or 'float64'"),
    (dict(seed=-1), ParameterError, "seed must be an integer"),
    (dict(backend="fortran"), BackendError, "unknown backend 'fortran'"),
])
def test_constructor_rejects(kwargs, error, message):
    with pytest.raises(error, match=message):
        Simulator(helpers.lif(), 4, **kwargs)


@pytest.mark.parametrize("model, n, error, message", [
    (no_default("tau_mem"), 4, ParameterError, "param 'tau_mem' has no default"),
    (helpers.lif(), 0, ParameterError, "n must be a positive integer or a tuple"),
    (helpers.lif(), (2, -1), ParameterError, "n must be a positive integer or a tuple"),
    (helpers.counter(), 2, None, None),
    ("LIF", 2, ParameterError, "expected an eqsnn.Model, got str"),
    (helpers.spike_source(), 2, ParameterError, "array 'SpikeTimes' was not given"),
    (helpers.leaky_average(), 2, None, None),
])
def test_constructor_rejects_models_and_sizes(model, n, error, message):
    if error is None:
        Simulator(model, n)
        return
    with pytest.raises(error, match=message):
        Simulator(model, n)


def test_int_states_and_runtime_params_are_checked():
    with pytest.raises(ParameterError, match="state 'count' must be integers"):
        Simulator(helpers.counter(), 2, init={"count": 1.5})
    with pytest.raises(ParameterError, match="'run_steps' is set by the Simulator"):
        Simulator(helpers.leaky_average(), 2, params={"run_steps": 3})


@pytest.fixture
def busy_sim():
    """A simulator with some history, so an unchanged state is not the initial one."""
    sim = Simulator(helpers.integrate_fire(), 4, batch_size=2, params={"v_thresh": 1e9})
    sim.run(3, inputs={"Isyn": [0.1, 0.2, 0.3, 0.4]})
    return sim


@pytest.mark.parametrize("call, error, message", [
    (dict(inputs={"Isin": 1.0}), ParameterError, "unknown input 'Isin'; did you mean 'Isyn'"),
    (dict(inputs={}), ParameterError, "input 'Isyn' has no default value and was not given"),
    (dict(inputs={"Isyn": np.ones((3, 4))}), ShapeError,
     "input 'Isyn' has shape \\(3, 4\\); expected a shape broadcastable to "
     "\\(steps, batch, \\*shape\\) = \\(5, 2, 4\\)"),
    (dict(inputs={"Isyn": np.ones((6, 2, 4))}), ShapeError, "has shape \\(6, 2, 4\\)"),
    (dict(inputs={"Isyn": [1.0, np.nan, 0.0, 0.0]}), ParameterError,
     "input 'Isyn' must be finite; got nan at index \\(1,\\)"),
    (dict(inputs={"Isyn": ["a", "b", "c", "d"]}), ParameterError, "must be numeric"),
    (dict(inputs=[1.0]), ParameterError, "inputs must be a mapping"),
    (dict(inputs={"Isyn": 1.0}, record=["U"]), ParameterError, "unknown state 'U'"),
    (dict(inputs={"Isyn": 1.0}, record=["v"]), ParameterError, "did you mean 'V'"),
    (dict(inputs={"Isyn": 1.0}, record={"V": [0, 4]}), ParameterError,
     "record\\['V'\\] has neuron id 4, outside 0..3"),
    (dict(inputs={"Isyn": 1.0}, record={"V": [-1]}), ParameterError, "neuron id -1"),
    (dict(inputs={"Isyn": 1.0}, record={"V": [0.5]}), ParameterError, "integer neuron ids"),
    (dict(inputs={"Isyn": 1.0}, progress="yes"), ParameterError, "progress must be"),
])
def test_run_rejects_bad_input_and_changes_nothing(busy_sim, call, error, message):
    before = {name: value.copy() for name, value in busy_sim.state.items()}
    with pytest.raises(error, match=message):
        busy_sim.run(5, **call)
    assert busy_sim.step == 3
    for name, value in busy_sim.state.items():
        np.testing.assert_array_equal(value, before[name])


@pytest.mark.parametrize("steps", [-1, 2.5, True, "10"])
def test_run_rejects_bad_step_counts(busy_sim, steps):
    with pytest.raises(ParameterError, match="steps must be a non-negative integer"):
        busy_sim.run(steps, inputs={"Isyn": 1.0})
    assert busy_sim.step == 3


def test_record_spikes_needs_a_threshold():
    sim = Simulator(helpers.current_lif(), 2)
    with pytest.raises(ParameterError, match="has no threshold"):
        sim.run(2, record=["spikes"])


@pytest.mark.parametrize("name, value, error, message", [
    ("U", 1.0, ParameterError, "unknown state 'U'"),
    ("V", np.ones(3), ShapeError, "state 'V' got shape \\(3,\\)"),
    ("V", np.inf, ParameterError, "state 'V' must be finite"),
])
def test_set_state_rejects_bad_values_and_changes_nothing(busy_sim, name, value, error, message):
    before = busy_sim.state["V"].copy()
    with pytest.raises(error, match=message):
        busy_sim.set_state(name, value)
    np.testing.assert_array_equal(busy_sim.state["V"], before)


def test_every_error_is_an_eqsnn_error():
    assert issubclass(ParameterError, EqsnnError) and issubclass(ShapeError, EqsnnError)


def test_set_state_refuses_a_hidden_state_as_init_does():
    """init= refused the generated code's hidden states but set_state wrote them."""
    model = eqsnn.load("examples/adex.eqs")
    sim = Simulator(model, 3, dt=0.1, precision="float64")
    hidden = [name for name in sim.state if name.startswith("_")]
    assert "_substep" in hidden
    before = {name: value.copy() for name, value in sim.state.items()}
    for name in hidden:
        with pytest.raises(ParameterError, match=f"state '{name}' is kept by eqsnn itself") \
                as caught:
            sim.set_state(name, 0.0)
        assert caught.value.hint == "known states: V, w"
    for name, value in sim.state.items():
        np.testing.assert_array_equal(value, before[name])
    sim.set_state("V", -60.0)  # a public state still can be written
    assert (sim.state["V"] == -60.0).all()


@pytest.mark.parametrize("name, value", [("dt", 1.0), ("precision", "float64"), ("n", 5),
                                         ("batch_size", 3), ("seed", 7), ("check", False),
                                         ("backend", "c")])
def test_a_simulators_settings_are_fixed_when_it_is_made(name, value):
    """``sim.dt = 1.0`` after construction was taken without a word: the compiled update
    kept dt = 0.1 while ``sim.dt`` (and the time axis it labels) said 1.0."""
    model = eqsnn.compile("neuron A\n    param tau = 10.0\n    state V = 0.0\n"
                          "    input I = 1.0\n    dV/dt = (-V + I) / tau\n")
    sim = Simulator(model, 2, dt=0.1, precision="float32")
    before = getattr(sim, name)
    with pytest.raises(ParameterError, match=rf"Simulator\.{name} is fixed when the simulator "
                       r"is made \(it is .*\)") as caught:
        setattr(sim, name, value)
    assert f"make a new Simulator(...) for another {name}" in caught.value.hint
    assert getattr(sim, name) == before
    sim.run(10)  # unchanged: the exact update of dt = 0.1
    np.testing.assert_allclose(sim.state["V"], 1 - np.exp(-1.0 / 10.0), rtol=1e-6)
