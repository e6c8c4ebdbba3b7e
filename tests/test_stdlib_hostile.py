"""The standard library attacked: values a careless or hostile user gives its neurons.

Each case is refused with a :class:`~eqsnn.errors.EqsnnError` that names the argument
and the fix, before anything runs, or gives the result spec/ml_genn-neurons.md
describes (checked against an independent computation, never saved output).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import eqsnn
from eqsnn import neurons as N
from eqsnn.errors import EqsnnError, LibraryError, LibraryValueError

P = N.PreprocessedSpikes


# --- SpikeInput: a PreprocessedSpikes made by hand ---------------------------------------------
@pytest.mark.parametrize("spikes, match", [
    (P(np.array([2, 1, 3]), np.array([1.0, 2.0, 3.0])), r"end_spikes must not decrease"),
    (P(np.array([-1, 2, 3]), np.array([1.0, 2.0, 3.0])), r"end_spikes must not be negative"),
    (P(np.array([1, 2, 5]), np.array([1.0, 2.0, 3.0])),
     r"end_spikes ends at 5 but there are 3 spike times"),
    (P(np.array([1, 2, 2]), np.array([1.0, 2.0, 3.0])),
     r"end_spikes ends at 2 but there are 3 spike times"),
    (P(np.array([1.5, 2, 3]), np.array([1.0, 2.0, 3.0])), r"end_spikes must be integers"),
    (P(np.array([[1, 2, 3]]), np.array([1.0, 2.0, 3.0])), r"end_spikes must be 1-D"),
    (P(np.array([3, 3, 3]), np.array([3.0, 1.0, 2.0])),
     r"spike times of neuron 0 are not in ascending order"),
    (P(np.array([1, 3, 3]), np.array([5.0, 2.0, 1.0])),
     r"spike times of neuron 1 are not in ascending order"),
    (P(np.array([1, 2, 3]), np.array([np.nan, 2.0, 3.0])), r"spike time 0 is nan"),
    (P(np.array([1, 2, 3]), np.array([1.0, np.inf, 3.0])), r"spike time 1 is inf"),
    (P(np.array([1, 2, 3]), np.array(["a", "b", "c"])), r"spike times must be numbers"),
    (P(np.array([1, 2, 3]), np.array([1.0, 2.0, 3.0 + 1j])), r"spike times must be real"),
])
@pytest.mark.parametrize("backend", ["numpy", pytest.param("c", marks=pytest.mark.c)])
def test_a_malformed_preprocessed_spikes_is_refused(spikes, match, backend):
    # ml_genn's layout: end_spikes[i] counts the spikes of neurons 0..i, each neuron's
    # times ascending; anything else read indices out of range or fired nonsense silently
    good = N.preprocess_spikes([1.0, 2.0, 3.0], [0, 1, 2], 3)
    sim = eqsnn.Simulator(N.SpikeInput(), 3, batch_size=2, backend=backend)
    sim.run(2, {"Input": [good]})
    before = {k: v.copy() for k, v in sim.state.items()}
    with pytest.raises(LibraryError, match=match) as error:
        sim.run(6, {"Input": [good, spikes]})
    assert "example 1" in str(error.value)
    assert "preprocess_spikes" in error.value.hint
    assert sim.step == 2
    assert all(np.array_equal(sim.state[k], v) for k, v in before.items())


def test_a_well_formed_preprocessed_spikes_made_by_hand_is_accepted():
    # ties, empty neurons and lists are all within the layout
    spikes = P([0, 2, 2, 4], [1.0, 1.0, 0.0, 2.0])
    result = eqsnn.Simulator(N.SpikeInput(), 4).run(5, {"Input": [spikes]}, ("spikes",))
    got = sorted(zip(result.spikes.step.tolist(), result.spikes.neuron.tolist()))
    assert got == [(0, 3), (1, 1), (2, 1), (2, 3)]


@pytest.mark.parametrize("times, match", [
    ([1.0, np.inf], r"spike time 1 is inf"), ([-np.inf, 1.0], r"spike time 0 is -inf"),
    ([np.nan, 1.0], r"spike time 0 is NaN"), ([1.0, 2.0 + 1j], r"spike times must be real"),
    (np.array([1.0, 2.0 + 0j]), r"spike times must be real"),
])
def test_preprocess_spikes_refuses_times_that_are_no_time(times, match):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not numpy's ComplexWarning: the imaginary part dropped
        with pytest.raises(LibraryError, match=match) as error:
            N.preprocess_spikes(times, [0, 1], 2)
    assert "real" in str(error.value) or "left out" in error.value.hint


# --- few-spike neurons: k and alpha -------------------------------------------------------------
@pytest.mark.parametrize("k", [32, 64, 150, 1030])
@pytest.mark.parametrize("cls", [N.FewSpikeRelu, N.FewSpikeReluInput])
def test_few_spike_k_above_31_is_refused(cls, k):
    # ml_genn's thresholds are 32-bit integer shifts (k <= 31); beyond, eqsnn's float
    # thresholds alpha 2^-k underflowed (float32 from k = 150, float64 from k = 1030) and
    # the input fired every step, or Fx became NaN
    with pytest.raises(LibraryValueError, match=rf"k must be at most 31, not {k}") as error:
        cls(k=k)
    assert "31" in error.value.hint


@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_few_spike_input_with_k_31_encodes_exactly(precision):
    # spec §5: the greedy binary expansion of x / alpha, k bits, thresholds alpha 2^-(p+1)
    x, k = 0.3, 31
    result = eqsnn.Simulator(N.FewSpikeReluInput(k=k, alpha=1.0), 1, precision=precision)\
        .run(k, {"Input": [x]}, ("spikes",))
    V = float(np.float32(x) if precision == "float32" else x)
    bits = []
    for p in range(k):
        bits.append(V >= 2.0 ** -(p + 1))
        V -= 2.0 ** -(p + 1) if bits[-1] else 0.0
    assert result.spikes.step.tolist() == [p for p in range(k) if bits[p]]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 0.0, -1.0])
def test_few_spike_source_alpha_is_checked_like_alpha(value):
    with pytest.raises(LibraryValueError, match=r"source_alpha must be (> 0|finite), not"):
        N.FewSpikeRelu(source_alpha=value)
    with pytest.raises(LibraryValueError, match=r"^alpha must be (> 0|finite), not"):
        N.FewSpikeRelu(alpha=value)


# --- data inputs --------------------------------------------------------------------------------
@pytest.mark.parametrize("cls, frames", [(N.IntegrateFireInput, 1), (N.PoissonInput, 3),
                                         (N.FewSpikeReluInput, 1)])
def test_a_complex_data_input_is_refused_not_cut_to_its_real_part(cls, frames):
    neuron = cls(input_frames=frames) if frames > 1 else cls()
    sim = eqsnn.Simulator(neuron, 2)
    x = np.array([0.5 + 1j, 0.2]) if frames == 1 else np.full((frames, 2), 0.5 + 1j)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(LibraryError, match=r"input must be real numbers, not complex"):
            sim.run(3, {"Input": x})
    assert sim.step == 0


@pytest.mark.parametrize("cls", [N.FewSpikeRelu, N.FewSpikeReluInput])
def test_few_spike_k_above_31_given_as_a_param_is_refused(cls):
    # the .eqs files carry the bound, so a param override cannot pass the constructor's check
    with pytest.raises(eqsnn.errors.ParameterError, match=r"k must be <= 31; got 40"):
        eqsnn.Simulator(cls(k=4, alpha=1.0), 1, params={"k": 40})


# --- SpikeInput: times count from the start of the run the input is given to -------------------
def expected_spike_steps(times, dt, steps, precision):
    """Spec §4.4: the first step n, not used by an earlier spike, with t = n dt >= s; t is
    ``timestep * dt`` in the model precision, as GeNN computes it."""
    real = np.float32 if precision == "float32" else np.float64
    t = real(np.arange(steps)) * real(dt)
    out, n = [], 0
    for s in np.sort(np.asarray(times, np.float64)):
        while n < steps and not t[n] >= real(s):
            n += 1
        if n == steps:
            break
        out.append(n)
        n += 1
    return out


@pytest.mark.parametrize("precision", ["float32", "float64"])
@pytest.mark.parametrize("dt", [0.3, 0.7, 0.1, 1.0])
@pytest.mark.parametrize("backend", ["numpy", pytest.param("c", marks=pytest.mark.c)])
def test_spike_input_fires_at_the_same_steps_in_every_run(backend, dt, precision):
    # times on the step grid are where rounding decides; a later run without reset() used
    # to compare t = (step0 + n) dt with s + step0 dt, which rounds differently (dt = 0.3,
    # float64: one spike in ten a step late)
    rng = np.random.default_rng(5)
    n, steps = 40, 32
    times = np.round(rng.uniform(0, 30, n)) * dt
    spikes = N.preprocess_spikes(times, np.arange(n), n)
    expected = [expected_spike_steps([s], dt, steps, precision) for s in times]
    sim = eqsnn.Simulator(N.SpikeInput(), n, backend=backend, precision=precision, dt=dt)
    for _ in range(25):
        result = sim.run(steps, {"Input": [spikes]}, ("spikes",))
        got = [[] for _ in range(n)]
        for step, neuron in zip(result.spikes.step.tolist(), result.spikes.neuron.tolist()):
            got[neuron].append(step)
        assert got == expected, f"run at step {sim.step - steps}"


# --- InitValue arguments ------------------------------------------------------------------------
@pytest.mark.parametrize("value, match", [
    (True, r"v_thresh must be a number, not True"),
    (np.bool_(False), r"v_thresh must be a number, not False"),
    (np.array([True, False]), r"v_thresh must be numbers, not an array of bool"),
    (np.array(["2020-01-01"], dtype="datetime64[D]"),
     r"v_thresh must be numbers, not an array of datetime64"),
    (np.array([20], dtype="timedelta64[ms]"),
     r"v_thresh must be numbers, not an array of timedelta64"),
])
def test_an_init_value_that_is_no_number_is_refused(value, match):
    # a bool is a membrane value only by accident (a shifted positional argument), and a
    # date or a numpy duration became its count of days or ms without a word
    with pytest.raises(LibraryError, match=match) as error:
        N.LeakyIntegrateFire(v_thresh=value)
    assert "v_thresh" in error.value.hint


@pytest.mark.parametrize("value", [np.array(0.7), np.array(0.7, dtype=np.float32),
                                   np.array(3)])
def test_a_zero_dimensional_array_is_a_number(value):
    # numpy's 0-d arrays stand for numbers; taken as one per-neuron value, a population of
    # three neurons refused it ("v has 1 values for 3 neurons")
    neuron = N.LeakyIntegrateFire(v=value)
    assert neuron.v == float(value)
    V = eqsnn.Simulator(neuron, 3, precision="float64").state["V"]
    np.testing.assert_array_equal(V, np.full((1, 3), float(value)))


# --- names and reprs ----------------------------------------------------------------------------
@pytest.mark.parametrize("name, snake", [("SpikeCount", "spike_count"),
                                         ("AvgVarExpWeight", "avg_var_exp_weight"),
                                         ("LeakyIntegrateFire", "leaky_integrate_fire")])
def test_a_class_name_given_as_a_name_points_at_the_snake_case_name(name, snake):
    # ml_genn's names are the snake_case class names; the class name itself is the slip
    with pytest.raises(LibraryError, match=rf"object '{name}' unknown") as error:
        if snake == "leaky_integrate_fire":
            N.get_neuron(name)
        else:
            N.LeakyIntegrateFire(readout=name)
    assert f"'{snake}'" in error.value.hint


@pytest.mark.parametrize("neuron, shown", [
    (N.LeakyIntegrateFire(scale_i=True, readout="var"), ["scale_i=True", "readout=Var()",
                                                         "relative_reset=True"]),
    (N.AdaptiveLeakyIntegrateFire(relative_reset=False), ["relative_reset=False"]),
    (N.IntegrateFireInput(input_frames=3), ["input_frames=3", "input_frame_timesteps=1"]),
    (N.PoissonInput(signed_spikes=True), ["signed_spikes=True"]),
    (N.SpikeInput(max_spikes=7), ["max_spikes=7"]),
    (N.get_neuron("spike_input"), ["max_spikes=1000000"]),
    (N.LeakyIntegrate(scale_i=True), ["scale_i=True"]),
])
def test_a_neurons_repr_shows_every_constructor_argument(neuron, shown):
    # two neurons that differ only in an option or the readout printed the same
    text = repr(neuron)
    for part in shown:
        assert part in text, text
    if isinstance(neuron, N.Input):  # an input takes a readout by assignment only
        assert "readout" not in text
        neuron.readout = "spike_count"
        assert repr(neuron).endswith(", readout=SpikeCount())")


# --- per-neuron arrays shaped like another population ------------------------------------------
@pytest.mark.parametrize("value, shape", [(np.ones((3, 2)), (2, 3)), (np.ones((2, 3)), (6,)),
                                          (np.ones((2, 2, 3)), (2, 6))])
def test_a_per_neuron_array_shaped_unlike_the_population_is_refused(value, shape):
    # it has one value per neuron, but which neuron gets which is a guess (C-order
    # flattening, as ml_genn does silently): a transposed array gave each neuron another's value
    neuron = N.LeakyIntegrateFire(v_thresh=value)
    with pytest.raises(LibraryError, match=rf"v_thresh is shaped {value.shape!s:s}".replace(
            "(", r"\(").replace(")", r"\)")) as error:
        eqsnn.Simulator(neuron, shape)
    assert ".ravel()" in error.value.hint


@pytest.mark.parametrize("value, shape", [(np.arange(6.0).reshape(2, 3), (2, 3)),
                                          (np.arange(6.0).reshape(6, 1), (6,)),
                                          (np.arange(6.0).reshape(1, 6), (6,)),
                                          (np.arange(6.0), (2, 3)),
                                          (np.arange(6.0).reshape(2, 1, 3), (2, 3))])
def test_a_per_neuron_array_shaped_like_the_population_is_taken_in_c_order(value, shape):
    V = eqsnn.Simulator(N.LeakyIntegrateFire(v=value, v_thresh=100.0), shape,
                        precision="float64").state["V"]
    np.testing.assert_array_equal(V.reshape(-1), np.arange(6.0))


# --- readouts on a user's own model whose names they would take --------------------------------
@pytest.mark.parametrize("declaration, readout, taken", [
    ("param run_steps = 3.0", "avg_var", "run_steps"),
    ("param run_steps = 3.0", "avg_var_exp_weight", "run_steps"),
    ("input VSum = 0.0", "sum_var", "VSum"),
    ("input Scount = 0.0", "spike_count", "Scount"),
    ("array TFirstSpike", "first_spike_time", "TFirstSpike"),
    ("state VMax = 0.0", "max_var", "VMax"),
])
def test_a_readout_refuses_a_model_that_has_its_names(declaration, readout, taken):
    # a param named run_steps gave "invalid IR ... a bug in eqsnn itself"; an input or array
    # of the accumulator's name was not looked at
    text = (f"neuron Mine\n    {declaration}\n    state V = 0.0\n    input Isyn = 0.0\n"
            "    after: V += Isyn\n    threshold: V >= 1\n    reset: V = 0\n")
    model = eqsnn.compile(text)
    with pytest.raises(LibraryError, match=rf"model Mine already has a '{taken}'") as error:
        eqsnn.readouts.with_readout(model, readout, var="V")
    assert "rename" in error.value.hint


@pytest.mark.parametrize("model, hint", [
    ("examples/lif_pulse.eqs", "eqsnn.load"),
    (N.LeakyIntegrateFire(), "neuron.readout"),
    (None, "eqsnn.load"),
])
def test_with_readout_takes_a_model_and_says_what_to_do_with_anything_else(model, hint):
    # these were AttributeErrors ("'str' object has no attribute 'ir'")
    with pytest.raises(LibraryError, match=r"with_readout takes an eqsnn.Model") as error:
        eqsnn.readouts.with_readout(model, "var", var="V")
    assert hint in error.value.hint


# --- arguments assigned after construction ------------------------------------------------------
@pytest.mark.parametrize("make, attr, bad, match", [
    (N.IntegrateFireInput, "input_frames", 0, r"input_frames must be a positive integer"),
    (N.PoissonInput, "input_frame_timesteps", 0,
     r"input_frame_timesteps must be a positive integer"),
    (N.LeakyIntegrateFireInput, "input_frames", 2.5, r"input_frames must be a positive"),
    (N.SpikeInput, "max_spikes", -1, r"max_spikes must be a positive integer"),
    (N.FewSpikeReluInput, "k", "4", r"k must be a number"),
    (N.FewSpikeRelu, "k", 40, r"k must be at most 31"),
    (N.FewSpikeRelu, "alpha", float("nan"), r"alpha must be > 0"),
    (N.FewSpikeRelu, "source_alpha", -2.0, r"source_alpha must be > 0"),
])
def test_an_argument_assigned_later_is_checked_as_in_the_constructor(make, attr, bad, match):
    # input_frame_timesteps = 0 divided by zero and gave every lane V = 0 without an error
    neuron = make()
    before = getattr(neuron, attr)
    with pytest.raises(EqsnnError, match=match):
        setattr(neuron, attr, bad)
    assert getattr(neuron, attr) == before


@pytest.mark.parametrize("make, change, match", [
    (lambda: N.BinarySpikeInput(signed_spikes=True), ("input_frames", 2),
     r"does not support signed spikes with input_frames > 1"),
    (lambda: N.PoissonInput(input_frames=2), ("signed_spikes", True),
     r"does not support signed spikes with input_frames > 1"),
    (lambda: N.FewSpikeReluInput(k=4, signed_input=True), ("k", 5), r"needs an even k"),
    (lambda: N.FewSpikeRelu(k=4, source_signed=True), ("k", 7), r"needs an even k"),
    (lambda: N.FewSpikeReluInput(k=5), ("signed_input", True), r"needs an even k"),
    (lambda: N.FewSpikeReluInput(), ("input_frames", 3), r"takes a static input only"),
])
def test_options_combined_after_construction_are_refused_when_built(make, change, match):
    # a signed few-spike input with k = 5 set later sent no spike at all for x = -0.6
    neuron = make()
    setattr(neuron, *change)
    with pytest.raises(EqsnnError, match=match):
        eqsnn.Simulator(neuron, 1)


def test_a_quantity_with_a_unit_is_refused_with_the_number_to_give():
    # ml_genn's arguments are plain numbers in ms (and the model's own units); a Quantity
    # was refused without saying what to give instead
    from eqsnn.units import Quantity, lookup

    with pytest.raises(LibraryError, match=r"tau_mem must be a number, .* not Quantity") \
            as error:
        N.LeakyIntegrateFire(tau_mem=Quantity(20, lookup("ms")))
    assert "plain number" in error.value.hint and "tau_mem=20" in error.value.hint
    with pytest.raises(LibraryError, match=r"tau_mem must be a number") as error:
        N.LeakyIntegrateFire(tau_mem=Quantity(0.02, lookup("s")))
    assert "tau_mem=20.0 for 0.02 s" in error.value.hint
    with pytest.raises(LibraryError, match=r"v_thresh must be a number") as error:
        N.LeakyIntegrateFire(v_thresh=Quantity(-50, lookup("mV")))
    assert "plain number" in error.value.hint and "v_thresh=" not in error.value.hint


def test_a_refused_assignment_leaves_the_neuron_as_it_was():
    neuron = N.LeakyIntegrateFire(readout="sum_var", tau_mem=[10.0, 20.0])
    for attr, bad in (("readout", "spikes"), ("tau_mem", "normal"), ("scale_i", "yes")):
        with pytest.raises(EqsnnError):
            setattr(neuron, attr, bad)
    assert neuron.readout == eqsnn.readouts.SumVar() and neuron.scale_i is False
    assert neuron.tau_mem.tolist() == [10.0, 20.0]
    few = N.FewSpikeRelu(readout="var")
    with pytest.raises(EqsnnError, match="only the Var readout"):
        few.readout = "max_var"
    assert few.readout == eqsnn.readouts.Var()  # it was set to None


# --- readouts of a state with a unit ------------------------------------------------------------
VOLT_MODEL = """neuron VoltLeak
    param tau = 10 ms (> 0 ms)
    state U = -0.06 volt
    input I = 0.001 volt
    dU/dt = -U / tau
    after: U += I
"""


@pytest.mark.parametrize("readout", ["var", "sum_var", "avg_var", "max_var",
                                     "avg_var_exp_weight"])
@pytest.mark.parametrize("backend", ["numpy", pytest.param("c", marks=pytest.mark.c)])
def test_a_readout_is_in_the_unit_of_the_state_it_reads(readout, backend):
    # U is declared in volt and recorded in volt, but its readouts came back in the
    # internal mV (var: -41.7 for a U of -0.0417 volt)
    model = eqsnn.readouts.with_readout(eqsnn.compile(VOLT_MODEL), readout, var="U")
    T = 7
    sim = eqsnn.Simulator(model, 2, backend=backend, precision="float64")
    result = sim.run(T, {"I": np.array([0.001, 0.03])}, ("U",))
    y = result.vars["U"]  # volt, every step, (steps, batch, n)
    n = np.arange(T)[:, None, None]
    expected = {"var": y[-1], "sum_var": y.sum(0), "avg_var": y.mean(0),
                "max_var": np.maximum(0.0, y.max(0)),
                "avg_var_exp_weight": (np.exp(-n / T) * y).sum(0) / T}[readout]
    np.testing.assert_allclose(result.readout, expected, rtol=1e-12, atol=1e-15)
    assert np.abs(y).max() < 0.2 and y.max() > 0  # volt, not mV; max_var above its floor
