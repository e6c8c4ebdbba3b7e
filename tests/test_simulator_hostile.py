"""A hostile user's calls on the Simulator: flags that are not bools, copies of a simulator."""

import copy
import pickle

import numpy as np
import pytest

import eqsnn
from eqsnn.errors import ParameterError

LIF = eqsnn.load("examples/lif_pulse.eqs")


@pytest.mark.parametrize("flag", [0, 1, np.True_, np.False_, "no", 0.0])
def test_progress_takes_only_none_true_or_false(flag):
    # 0 == False and np.True_ == True, so `progress in (None, True, False)` took them,
    # while check= and fast_math= refuse the same values
    sim = eqsnn.Simulator(LIF, 3)
    with pytest.raises(ParameterError, match=r"progress must be None, True or False, not "):
        sim.run(2, progress=flag)
    assert sim.step == 0


@pytest.mark.parametrize("backend", ["numpy", "c"])
@pytest.mark.parametrize("how", [copy.copy, copy.deepcopy,
                                 lambda sim: pickle.loads(pickle.dumps(sim))])
def test_a_simulator_is_not_copied(backend, how):
    # copy.copy shared the backend's states: running the copy moved the original's states
    # while its step counter stayed; deepcopy worked on numpy only, and failed obscurely on c
    sim = eqsnn.Simulator(LIF, 3, backend=backend)
    sim.run(4)
    before = sim.state["V"].copy()
    with pytest.raises(ParameterError, match=r"a Simulator cannot be copied or pickled") as err:
        how(sim)
    assert "init=" in err.value.hint
    np.testing.assert_array_equal(sim.state["V"], before)
    assert sim.step == 4
    # a new Simulator from the state is what the message offers: it continues the same way
    again = eqsnn.Simulator(LIF, 3, backend=backend, init={"V": before})
    np.testing.assert_array_equal(again.run(5, record=["V"]).vars["V"],
                                  sim.run(5, record=["V"]).vars["V"])


@pytest.mark.parametrize("backend", ["numpy", "c"])
@pytest.mark.parametrize("steps", [2**64, 2**63, np.uint64(2**63 + 5)])
def test_steps_beyond_the_step_counter_are_refused(backend, steps):
    # the c backend passed the count as a C long, which wrapped 2**64 to 0: the run
    # returned at once having run nothing, and sim.step had moved on by 2**64
    sim = eqsnn.Simulator(LIF, 3, backend=backend)
    sim.run(2)
    with pytest.raises(ParameterError, match=r"would take the step counter from 2 past "
                       r"9223372036854775807 \(2\*\*63 - 1\).*nothing was run"):
        sim.run(steps, progress=False)
    assert sim.step == 2


def test_a_run_may_end_on_the_last_step():
    sim = eqsnn.Simulator(LIF, 3, precision="float64")
    sim._step = 2**63 - 1 - 5  # as if that many steps had run (the count only)
    with pytest.raises(ParameterError, match="past 9223372036854775807"):
        sim.run(6)
    v = sim.run(5, record=["V"]).vars["V"]
    assert sim.step == 2**63 - 1
    # V <- exp(-1/20) V + 0.1 from V = 0, a plain loop as the oracle
    expected, value = [], 0.0
    for _ in range(5):
        value = np.exp(-1 / 20) * value + 0.1
        expected.append(value)
    np.testing.assert_allclose(v[:, 0, 0], expected, rtol=1e-12)


@pytest.mark.parametrize("backend", ["numpy", "c"])
@pytest.mark.parametrize("how", [copy.deepcopy, lambda r: pickle.loads(pickle.dumps(r))])
def test_a_result_is_copied_and_pickled(backend, how):
    # its read-only mappings (vars, units) made copy.deepcopy and pickle fail with
    # "TypeError: cannot pickle 'mappingproxy' object"
    sim = eqsnn.Simulator(LIF, 4, batch_size=2, backend=backend)
    result = sim.run(30, inputs={"Isyn": [0.2, 0.3, 0.5, 1.2]}, record=["V", "spikes"])
    again = how(result)
    assert list(again.vars) == ["V"] and again.units == result.units
    np.testing.assert_array_equal(again.vars["V"], result.vars["V"])
    assert again.vars["V"] is not result.vars["V"]
    with pytest.raises(TypeError):
        again.vars["V"] = 0  # still a read-only mapping
    assert len(again.spikes) == len(result.spikes) > 0
    np.testing.assert_array_equal(again.spikes.times, result.spikes.times)
    np.testing.assert_array_equal(again.spikes.neuron, result.spikes.neuron)
    np.testing.assert_array_equal(again.spikes.counts(), result.spikes.counts())
    assert again.info == result.info and again.timing == result.timing


def test_masked_values_are_refused_not_unmasked():
    # np.asarray dropped the mask: the run used the data under it, silently
    adex = eqsnn.load("examples/adex.eqs")
    masked = np.ma.masked_array([600.0, 1e4, 800.0], mask=[0, 1, 0])
    sim = eqsnn.Simulator(adex, 3, precision="float64")
    with pytest.raises(ParameterError, match=r"input 'I' is a masked array with masked "
                       r"values at index \(1,\); eqsnn has no missing values") as err:
        sim.run(2, inputs={"I": masked})
    assert "filled" in err.value.hint and sim.step == 0
    with pytest.raises(ParameterError, match=r"param 'tau_w' is a masked array"):
        eqsnn.Simulator(adex, 3, params={"tau_w": np.ma.masked_array([1.0, 2, 3],
                                                                     mask=[1, 0, 0])})
    with pytest.raises(ParameterError, match=r"state 'V' is a masked array"):
        sim.set_state("V", np.ma.masked_array([-60.0, -60, -60], mask=[0, 0, 1]))
    # a mask that hides nothing is plain data
    held = sim.run(3, inputs={"I": np.ma.masked_array([600.0, 700, 800], mask=False)},
                   record=["V"]).vars["V"]
    plain = eqsnn.Simulator(adex, 3, precision="float64").run(
        3, inputs={"I": [600.0, 700, 800]}, record=["V"]).vars["V"]
    np.testing.assert_array_equal(held, plain)


def test_init_names_a_hidden_state_as_set_state_does():
    # init= called the adaptive method's '_substep' an unknown state, set_state said it is
    # kept by eqsnn itself
    adex = eqsnn.load("examples/adex.eqs")
    with pytest.raises(ParameterError, match=r"state '_substep' is kept by eqsnn itself") \
            as from_init:
        eqsnn.Simulator(adex, 3, init={"_substep": 1.0})
    sim = eqsnn.Simulator(adex, 3)
    with pytest.raises(ParameterError, match=r"state '_substep' is kept by eqsnn itself") \
            as from_set:
        sim.set_state("_substep", 1.0)
    assert from_init.value.hint == from_set.value.hint == "known states: V, w"
    with pytest.raises(ParameterError, match=r"unknown state '_nothing'"):
        eqsnn.Simulator(adex, 3, init={"_nothing": 1.0})


@pytest.mark.parametrize("dt", [1e300, 1e-50, 1e-39])
def test_a_dt_that_float32_cannot_hold_is_refused_before_anything_runs(dt):
    """float32 held dt = 1e300 as inf and 1e-50 as 0 (a run in which nothing moved), and
    1e-39 as a denormal; float64 holds all three."""
    from eqsnn.network import Network
    model = eqsnn.compile("neuron L\n    state V = 0.0\n    input I = 0.0\n"
                          "    dV/dt = (I - V) / 10.0\n")
    with pytest.raises(ParameterError, match=r"outside what float32 holds") as caught:
        eqsnn.Simulator(model, 2, dt=dt, precision="float32")
    with np.errstate(over="ignore"):
        held = float(np.array(dt).astype("float32"))
    assert f"the step would run with dt = {held!r}" in str(caught.value)
    assert "precision='float64'" in caught.value.hint
    with pytest.raises(ParameterError, match=r"outside what float32 holds"):
        Network(dt=dt, precision="float32")
    sim = eqsnn.Simulator(model, 2, dt=dt, precision="float64")  # float64 holds them
    assert sim.dt == dt
    with pytest.raises(ParameterError, match=r"outside what float64 holds"):
        eqsnn.Simulator(model, 2, dt=1e-320, precision="float64")


def test_a_population_too_big_for_memory_is_refused_before_anything_is_allocated(
        monkeypatch):
    """Simulator(model, 10**12) raised NumPy's bare MemoryError, and a size that the system
    lends lazily (n = 3e9 here) was killed when its arrays were filled."""
    from eqsnn.runtime import guard

    model = eqsnn.compile("neuron L\n    state V = 0.0\n    state k: int = 0\n"
                          "    input I = 0.0\n    dV/dt = (I - V) / 10.0\n")
    with pytest.raises(ParameterError, match=r"1000000000000 neurons of L hold \d+ states: "
                       r"at least .* TiB, more than the .* of memory available now; "
                       "nothing was allocated") as caught:
        eqsnn.Simulator(model, 10**12, precision="float64")
    assert caught.value.hint == "simulate fewer neurons or lanes, or in float32"
    monkeypatch.setattr(guard, "available_memory", lambda: 1000)
    # V (8 bytes), k (4) and the check's two int states (4 each): 20 bytes a neuron and lane
    with pytest.raises(ParameterError,
                       match=r"26 neurons in 2 lanes of L hold 4 states: at least 1.0 KiB"):
        eqsnn.Simulator(model, 26, batch_size=2, precision="float64")
    eqsnn.Simulator(model, 25, batch_size=2, precision="float64")  # 1000 bytes: fits
    monkeypatch.setattr(guard, "available_memory", lambda: None)  # unknown: no check
    eqsnn.Simulator(model, 1000, precision="float64")


@pytest.mark.parametrize("value", [True, np.False_, [True, False, True], np.ones(3, bool),
                                   [1.0, True, 2.0]])
def test_a_bool_for_a_number_param_is_refused_not_taken_as_one(value):
    # params={"tau_w": True} ran with a time constant of 1 (ms), without a word
    adex = eqsnn.load("examples/adex.eqs")
    with pytest.raises(ParameterError, match=r"param 'tau_w' is a number \(float\); got "
                       r"True or False") as err:
        eqsnn.Simulator(adex, 3, params={"tau_w": value})
    assert "not taken as 1 or 0" in err.value.hint
    flagged = eqsnn.compile("neuron F\n    param on: bool = true\n    param g = 1.0\n"
                            "    state v = 1.0\n    dv/dt = -g * v\n    after:\n"
                            "        if on: v = 0\n")
    sim = eqsnn.Simulator(flagged, 3, params={"on": np.array([True, False, True]), "g": 2},
                          precision="float64")
    sim.run(1)  # a bool param takes bools; an int is a number
    np.testing.assert_allclose(sim.state["v"][0], [0.0, np.exp(-2 * sim.dt), 0.0], rtol=1e-12)
