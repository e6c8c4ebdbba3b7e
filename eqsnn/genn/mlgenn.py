"""eqsnn neurons in ml_genn networks: :func:`get_model` and :func:`ml_genn_neuron`."""

from __future__ import annotations

import numpy as np

from ..errors import BackendError
from ..stdlib.protocol import Buildable
from .population import GeNNPopulation, population_shape, resolve_model

__all__ = ["get_model", "ml_genn_neuron"]


def _ml_genn_value(value):
    """eqsnn initialisers as ml_genn's (GeNN samples them); anything else unchanged."""
    from ..initializers import INITIALIZERS, Normal, Uniform

    if isinstance(value, str) and value in INITIALIZERS:
        value = INITIALIZERS[value]()
    if isinstance(value, (Normal, Uniform)):
        from ml_genn import initializers

        if isinstance(value, Normal):
            return initializers.Normal(mean=value.mean, sd=value.sd)
        return initializers.Uniform(min=value.min, max=value.max)
    return value


def get_model(neuron, population, dt: float, batch_size: int, *, seed: int = 0):
    """What ml_genn's ``Neuron.get_model(population, dt, batch_size)`` returns, for eqsnn.

    ``neuron`` is an ``eqsnn.neurons`` neuron or an :class:`eqsnn.Model`
    (then with its declared defaults).  The result is an
    ``ml_genn.utils.model.NeuronModel``: per-neuron params are READ_ONLY
    vars, the population-wide precompute derived params; ml_genn attaches
    its own readout to ``neuron.output_var`` (an eqsnn readout set on the
    neuron is not used).  A signed neuron sends every spike as ``+w`` through
    ml_genn's synapses, with the sign in its ``SpikeSign`` var.
    """
    try:
        from ml_genn.utils.model import NeuronModel
    except ImportError as error:
        raise BackendError(f"get_model needs ml_genn ({error})",
                           hint="install ml_genn 2.x (https://github.com/genn-team/ml_genn) "
                                "and PyGeNN") from None
    if callable(getattr(neuron, "build", None)) and getattr(neuron, "readout", None):
        import copy

        neuron = copy.copy(neuron)
        neuron.readout = None
    shape = population_shape(population.shape)
    model, params, init, obj = resolve_model(neuron, shape, batch_size, dt, seed, {}, {})
    free = frozenset({"Input"}) if _data_input(obj) else frozenset()
    # float64 literals: exact in a double model, correctly rounded in a float one
    pop = GeNNPopulation(model, int(np.prod(shape)), params, init, "float64", dt, seed, free)
    model_dict = pop.neuron_model_kwargs()
    model_dict.pop("params", None)
    model_dict["params"] = list(pop.spec.params)
    var_vals = {name: _ml_genn_value(value) for name, value in pop.var_vals.items()}
    output = getattr(obj, "output_var", None)
    return NeuronModel(model_dict, pop.spec.code.names.get(output) if output else None,
                       dict(pop.param_vals), var_vals, dict(pop.arrays))


def _data_input(obj) -> bool:
    return isinstance(obj, Buildable) and obj.takes_data_input


_ML_GENN_CLASSES: dict = {}


def ml_genn_neuron(neuron, readout=None):
    """``neuron`` (an ``eqsnn.neurons`` neuron or an :class:`eqsnn.Model`) as an
    ``ml_genn.neurons.Neuron`` for ml_genn's ``Population``; ``readout`` is ml_genn's.

    eqsnn's data-input neurons (``IntegrateFireInput``, ``BinarySpikeInput``,
    ...) become ml_genn input neurons: ``Input`` is a var (or, with
    ``input_frames > 1``, an extra global param) set by ml_genn's
    ``set_input``.
    """
    from ml_genn.neurons import Neuron as MLGeNNNeuron
    from ml_genn.neurons.input import InputBase as MLGeNNInputBase

    if isinstance(neuron, MLGeNNNeuron):
        return neuron
    data = _data_input(neuron)
    if data not in _ML_GENN_CLASSES:
        bases = (MLGeNNNeuron, MLGeNNInputBase) if data else (MLGeNNNeuron,)

        def init(self, eqsnn_neuron, readout=None):
            kwargs = {}
            if data:
                kwargs = {"var_name": "Input", "egp_name": "Input",
                          "input_frames": eqsnn_neuron.input_frames,
                          "input_frame_timesteps": eqsnn_neuron.input_frame_timesteps}
            MLGeNNNeuron.__init__(self, readout=readout, **kwargs)
            self.eqsnn_neuron = eqsnn_neuron

        def neuron_model(self, population, dt, batch_size):
            model = get_model(self.eqsnn_neuron, population, dt, batch_size)
            if data:
                model = self.create_input_model(model, batch_size, population.shape,
                                                replace_input="Input")
            return model

        _ML_GENN_CLASSES[data] = type("EqsnnNeuron", bases, {
            "__init__": init, "get_model": neuron_model,
            "__doc__": "An eqsnn neuron in an ml_genn network (see eqsnn.genn.ml_genn_neuron)."})
    return _ML_GENN_CLASSES[data](neuron, readout)
