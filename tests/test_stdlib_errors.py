"""The error cases of spec §4 and §7 (and §5, §6): class, builtin base and message."""

from __future__ import annotations

import numpy as np
import pytest

import eqsnn
from eqsnn import neurons as N
from eqsnn.errors import (
    EqsnnError,
    LibraryError,
    LibraryNotImplementedError,
    LibraryValueError,
)
from eqsnn.initializers import Normal, Uniform
from eqsnn.neurons import registry as library
from eqsnn.readouts import with_readout


def raises(builtin, library_class, match):
    """ml_genn's builtin, eqsnn's subclass of it, and the message."""
    assert issubclass(library_class, builtin) and issubclass(library_class, EqsnnError)
    return pytest.raises(library_class, match=match)


def lif_input_sim(**kwargs):
    frames = kwargs.pop("input_frames", 1)
    return eqsnn.Simulator(N.LeakyIntegrateFireInput(input_frames=frames), (2, 3), **kwargs)


# --- §4.1 input shapes ----------------------------------------------------------------------
@pytest.mark.parametrize("batch_size, frames, shape, match", [
    (1, 1, (3, 2), r"input shape \(3, 2\) does not match population shape \(2, 3\)"),
    (1, 1, (6,), r"does not match population shape"),
    (1, 1, (2, 2, 3), r"input shape \(2, 2, 3\) does not match batch size 1"),
    (3, 1, (2, 3), r"does not match batch size 3"),  # a batch needs a leading (m,)
    (3, 1, (4, 2, 3), r"input shape \(4, 2, 3\) does not match batch size 3"),
    (1, 4, (2, 3), r"input shape \(2, 3\) does not match timesteps 4"),
    (1, 4, (3, 2, 3), r"does not match timesteps 4"),
    (1, 4, (2, 4, 2, 3), r"does not match batch size 1"),
    (2, 4, (4, 2, 3), r"does not match batch size 2"),
    (2, 4, (3, 4, 2, 3), r"does not match batch size 2"),
])
def test_input_shape_errors(batch_size, frames, shape, match):
    sim = lif_input_sim(batch_size=batch_size, input_frames=frames)
    with raises(RuntimeError, LibraryError, match):
        sim.run(5, {"Input": np.zeros(shape)})
    assert sim.step == 0  # nothing ran


@pytest.mark.parametrize("batch_size, frames, shape", [
    (1, 1, (2, 3)), (1, 1, (1, 2, 3)), (3, 1, (3, 2, 3)), (3, 1, (1, 2, 3)),
    (1, 4, (4, 2, 3)), (1, 4, (1, 4, 2, 3)), (2, 4, (2, 4, 2, 3)), (2, 4, (1, 4, 2, 3)),
])
def test_input_shapes_accepted(batch_size, frames, shape):
    sim = lif_input_sim(batch_size=batch_size, input_frames=frames)
    x = np.full(shape, 0.5)
    V = sim.run(6, {"Input": x}, ("V",)).vars["V"]
    m = shape[0] if len(shape) > 2 + (frames > 1) else 1
    assert np.all(V[:, :m] > 0) and np.all(V[:, m:] == 0)  # missing lanes are zero-padded


# --- §4.2, §4.3 signed spikes with frames -------------------------------------------------------
@pytest.mark.parametrize("cls", [N.BinarySpikeInput, N.PoissonInput])
def test_signed_spikes_with_frames(cls):
    with raises(NotImplementedError, LibraryNotImplementedError,
                f"{cls.__name__} does not support signed spikes with input_frames > 1"):
        cls(signed_spikes=True, input_frames=2)
    cls(signed_spikes=True)
    cls(input_frames=2)


@pytest.mark.parametrize("value", [0, -1, 1.5, "2"])
def test_input_frames_must_be_positive_integers(value):
    with raises(ValueError, LibraryValueError, "input_frames must be a positive integer"):
        N.IntegrateFireInput(input_frames=value)
    with raises(ValueError, LibraryValueError, "input_frame_timesteps must be a positive"):
        N.PoissonInput(input_frame_timesteps=value)


# --- §4.4 spike input ---------------------------------------------------------------------------
def test_spike_input_errors():
    a = N.preprocess_spikes([1.0, 2.0], [0, 1], 3)
    sim = eqsnn.Simulator(N.SpikeInput(max_spikes=4), 3, batch_size=2)
    with raises(RuntimeError, LibraryError, "3 examples of spikes do not fit batch size 2"):
        sim.run(5, {"Input": [a, a, a]})
    with raises(RuntimeError, LibraryError, "different numbers of neurons"):
        sim.run(5, {"Input": [a, N.preprocess_spikes([1.0], [0], 4)]})
    with raises(RuntimeError, LibraryError, "spikes are given for 4 neurons, the population"):
        sim.run(5, {"Input": [N.preprocess_spikes([1.0], [0], 4)]})
    big = N.preprocess_spikes([1.0, 2.0, 3.0], [0, 1, 2], 3)
    with raises(RuntimeError, LibraryError, r"5 spikes in this batch exceed max_spikes=4"):
        sim.run(5, {"Input": [a, big]})
    with raises(RuntimeError, LibraryError, "a sequence of PreprocessedSpikes"):
        sim.run(5, {"Input": [[1.0, 2.0]]})
    assert sim.step == 0
    assert len(sim.run(5, {"Input": [a, a]}, ("spikes",)).spikes) == 4
    with raises(RuntimeError, LibraryError, "neuron ids must lie in"):
        N.preprocess_spikes([1.0], [3], 3)
    with raises(RuntimeError, LibraryError, "2 spike times but 1 neuron ids"):
        N.preprocess_spikes([1.0, 2.0], [0], 3)


def test_rejected_spike_input_leaves_the_state_unchanged():
    a = N.preprocess_spikes([1.0, 7.0], [0, 0], 1)
    sim = eqsnn.Simulator(N.SpikeInput(max_spikes=2), 1)
    sim.run(3, {"Input": [a]})
    before = dict(sim.state)
    with pytest.raises(LibraryError):
        sim.run(3, {"Input": [N.preprocess_spikes([1.0, 2.0, 3.0], [0, 0, 0], 1)]})
    assert {k: v.tolist() for k, v in sim.state.items()} == \
        {k: v.tolist() for k, v in before.items()}


# --- §5 few-spike neurons -------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [N.FewSpikeRelu, N.FewSpikeReluInput])
@pytest.mark.parametrize("kwargs, match", [
    ({"k": "10"}, "k must be a number"), ({"alpha": [25]}, "alpha must be a number"),
    ({"alpha": Normal()}, "alpha must be a number"),
])
def test_few_spike_k_and_alpha_must_be_numbers(cls, kwargs, match):
    with raises(RuntimeError, LibraryError, match):
        cls(**kwargs)


def test_few_spike_value_errors():
    with raises(ValueError, LibraryValueError, "needs an even k"):
        N.FewSpikeReluInput(k=5, signed_input=True)
    with raises(ValueError, LibraryValueError, "needs an even k"):
        N.FewSpikeRelu(k=7, source_signed=True)
    with raises(ValueError, LibraryValueError, "k must be a positive integer"):
        N.FewSpikeRelu(k=0)
    with raises(ValueError, LibraryValueError, "alpha must be > 0"):
        N.FewSpikeReluInput(alpha=0.0)
    with raises(ValueError, LibraryValueError, "source_alpha must be > 0"):
        N.FewSpikeRelu(source_alpha=-1.0)
    with pytest.raises(TypeError):
        N.FewSpikeRelu(10, 25, None, 25.0)  # source_alpha is keyword-only
    assert N.FewSpikeRelu(alpha=3).source_alpha == 3.0


def test_few_spike_relu_takes_only_the_var_readout():
    with raises(NotImplementedError, LibraryNotImplementedError, "only the Var readout"):
        N.FewSpikeRelu(readout="spike_count")
    neuron = N.FewSpikeRelu(readout="var")
    with raises(NotImplementedError, LibraryNotImplementedError, "not AvgVar"):
        neuron.readout = "avg_var"
    assert neuron.readout == eqsnn.readouts.Var()  # a refused assignment changes nothing


# --- §6 readouts --------------------------------------------------------------------------------
@pytest.mark.parametrize("readout", ["spike_count", "first_spike_time"])
def test_spike_readouts_need_a_spiking_model(readout):
    with raises(RuntimeError, LibraryError, "can only be used with spiking models"):
        eqsnn.Simulator(N.LeakyIntegrate(readout=readout), 1)


@pytest.mark.parametrize("readout", ["var", "avg_var", "avg_var_exp_weight", "sum_var",
                                     "max_var"])
def test_var_readouts_need_an_output_variable(readout):
    neuron = N.BinarySpikeInput()
    neuron.readout = readout
    with raises(RuntimeError, LibraryError, "only be used with models with state variables"):
        eqsnn.Simulator(neuron, 1)
    neuron = N.SpikeInput()
    neuron.readout = readout
    with raises(RuntimeError, LibraryError, "needs an output variable"):
        eqsnn.Simulator(neuron, 1)
    model = eqsnn.load("examples/lif_pulse.eqs")
    with raises(RuntimeError, LibraryError, "output variable 'U' of .* is not a state"):
        with_readout(model, readout, var="U")


def test_get_readout_without_readout():
    with raises(RuntimeError, LibraryError, "LeakyIntegrateFire has no readout"):
        N.LeakyIntegrateFire().get_readout()
    assert N.LeakyIntegrateFire(readout="var").get_readout().name == "var"


# --- §7 values, initialisers, names --------------------------------------------------------------
@pytest.mark.parametrize("value", ["normal", Normal(), Uniform(1.0, 2.0)])
@pytest.mark.parametrize("cls, arg", [
    (N.LeakyIntegrateFire, "tau_mem"), (N.LeakyIntegrate, "tau_mem"),
    (N.AdaptiveLeakyIntegrateFire, "tau_mem"), (N.AdaptiveLeakyIntegrateFire, "tau_adapt"),
    (N.LeakyIntegrateFireInput, "tau_mem"),
])
def test_dt_transformed_arguments_reject_initializers(cls, arg, value):
    with raises(NotImplementedError, LibraryNotImplementedError,
                f"{arg} is transformed by dt and so cannot be given as an initializer"):
        cls(**{arg: value})
    cls(**{arg: [10.0, 20.0]})  # numbers and arrays are fine
    cls(**{arg: np.float32(5.0)})


def test_value_errors():
    with raises(RuntimeError, LibraryError, "Initializer object 'gauss' unknown"):
        N.LeakyIntegrateFire(v="gauss")
    with raises(RuntimeError, LibraryError, "v_thresh must be a number, a sequence, an "
                                            "Initializer or a string, not dict"):
        N.LeakyIntegrateFire(v_thresh={"a": 1})
    with raises(RuntimeError, LibraryError, "v_reset must be given a value, not None"):
        N.IntegrateFire(v_reset=None)
    with raises(RuntimeError, LibraryError, "v_thresh has 2 values for 6 neurons"):
        eqsnn.Simulator(N.LeakyIntegrateFire(v_thresh=[1.0, 2.0]), 6)
    with raises(RuntimeError, LibraryError, "tau_mem must be numbers"):
        N.LeakyIntegrateFire(tau_mem=["a", "b"])
    assert N.LeakyIntegrateFire(tau_refrac=None).tau_refrac is None


def test_violated_constraints_are_parameter_errors():
    with pytest.raises(EqsnnError, match="tau_mem must be > 0"):
        eqsnn.Simulator(N.LeakyIntegrateFire(tau_mem=[5.0, -1.0]), 2)


def test_get_object_errors():
    with raises(RuntimeError, LibraryError, "Neuron object 'lif' unknown"):
        library.get_neuron("lif")
    with raises(RuntimeError, LibraryError,
                "Neuron should be specified either as a string or a Neuron object"):
        library.get_neuron(3)
    with raises(RuntimeError, LibraryError, "Readout object 'spikes' unknown"):
        N.LeakyIntegrateFire(readout="spikes")
    with raises(RuntimeError, LibraryError,
                "Readout should be specified either as a string or a Readout object"):
        N.LeakyIntegrateFire(readout=N.LeakyIntegrate())
    with raises(RuntimeError, LibraryError, "Neuron is abstract"):
        eqsnn.Simulator(N.Neuron(), 1)
    with raises(RuntimeError, LibraryError, "Neuron object 'nope' unknown"):
        library.neuron_source("nope")


@pytest.mark.parametrize("value", [1j, 2 + 0j, np.complex64(3), [10.0, 1 + 2j],
                                   [5.0, np.complex64(1)], np.array([10.0, 20.0 + 1j])])
def test_a_complex_value_is_refused_naming_the_argument(value):
    # a complex number is a numbers.Number but no time constant: not a bare TypeError from
    # float(), and not an array whose imaginary part numpy drops with only a warning
    with pytest.raises(LibraryError, match=r"tau_mem must be (a )?real numbers?, not .*j"):
        N.LeakyIntegrateFire(tau_mem=value)
    with pytest.raises(LibraryError, match=r"v must be (a )?real"):
        N.LeakyIntegrate(v=value)


@pytest.mark.parametrize("make, name", [
    (lambda v: N.LeakyIntegrateFire(relative_reset=v), "relative_reset"),
    (lambda v: N.LeakyIntegrateFire(integrate_during_refrac=v), "integrate_during_refrac"),
    (lambda v: N.LeakyIntegrate(scale_i=v), "scale_i"),
    (lambda v: N.AdaptiveLeakyIntegrateFire(relative_reset=v), "relative_reset"),
    (lambda v: N.LeakyIntegrateFireInput(scale_i=v), "scale_i"),
    (lambda v: N.PoissonInput(signed_spikes=v), "signed_spikes"),
    (lambda v: N.FewSpikeReluInput(signed_input=v), "signed_input"),
    (lambda v: N.FewSpikeRelu(source_signed=v), "source_signed"),
])
def test_a_switch_takes_a_bool_not_a_strings_truth(make, name):
    # ml_genn tests the truth of these, so "False" (from a config file) would mean True
    for bad in ("False", "no", 2, 0.5, None):
        with pytest.raises(LibraryError, match=rf"{name} must be True or False, not ") as error:
            make(bad)
        assert f"{name}=False" in error.value.hint
    for good, expected in ((True, True), (0, False), (np.bool_(True), True)):
        assert getattr(make(good), name) is expected
    neuron = make(False)
    with pytest.raises(LibraryError, match=rf"{name} must be True or False"):
        setattr(neuron, name, "True")  # assigning later is checked too
    assert getattr(neuron, name) is False


def _ml_genn_class(name, module):
    # stands in for ml_genn's own class (the test needs no ml_genn)
    return type(name, (), {"__module__": f"ml_genn.{module}", "__init__": lambda self: None})


def test_ml_genns_own_objects_are_refused_naming_the_eqsnn_twin():
    spike_count = _ml_genn_class("SpikeCount", "readouts.spike_count")()
    with pytest.raises(LibraryError, match="Readout should be specified") as error:
        N.LeakyIntegrateFire(readout=spike_count)
    assert "SpikeCount is ml_genn's" in error.value.hint
    assert "eqsnn.readouts.SpikeCount" in error.value.hint

    normal = _ml_genn_class("Normal", "initializers")()
    with pytest.raises(LibraryError, match="v must be a number") as error:
        N.LeakyIntegrateFire(v=normal)
    assert "eqsnn.initializers.Normal" in error.value.hint

    lif = _ml_genn_class("LeakyIntegrateFire", "neurons.leaky_integrate_fire")()
    with pytest.raises(eqsnn.errors.ParameterError, match="got LeakyIntegrateFire") as error:
        eqsnn.Simulator(lif, 3)
    assert "eqsnn.neurons.LeakyIntegrateFire" in error.value.hint
    assert "name" not in error.value.hint  # the Simulator takes no neuron name


@pytest.mark.parametrize("value, match", [
    (10**400, r"tau_mem is too large for a float: 1000"),
    ([10.0, 10**400], r"tau_mem is too large for a float"),
    ([1.0, [2.0]], r"tau_mem must be numbers, got \[1.0, \[2.0\]\]"),
    ([[1.0], 2.0 + 1j], r"tau_mem must be numbers"),
])
def test_a_value_numpy_cannot_make_a_float_array_is_a_library_error(value, match):
    with pytest.raises(LibraryError, match=match):
        N.LeakyIntegrateFire(tau_mem=value)


@pytest.mark.parametrize("cls", [N.FewSpikeRelu, N.FewSpikeReluInput])
@pytest.mark.parametrize("kwargs, error, match", [
    ({"k": float("nan")}, LibraryValueError, r"k must be an integer number of steps, not nan"),
    ({"k": float("inf")}, LibraryValueError, r"k must be an integer number of steps, not inf"),
    ({"k": 1j}, LibraryError, r"k must be a number, not 1j"),
    ({"alpha": float("nan")}, LibraryValueError, r"alpha must be > 0, not nan"),
    ({"alpha": 2j}, LibraryError, r"alpha must be a number, not 2j"),
])
def test_few_spike_k_and_alpha_refuse_nan_inf_and_complex_when_constructed(cls, kwargs, error,
                                                                           match):
    with pytest.raises(error, match=match):
        cls(**kwargs)
