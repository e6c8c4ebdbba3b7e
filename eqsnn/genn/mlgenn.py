"""eqsnn neurons in ml_genn networks: :func:`get_model`, :func:`ml_genn_neuron` and
the names ml_genn's callbacks take (:func:`ml_genn_names`)."""

from __future__ import annotations

import functools

import numpy as np
import sympy

from .. import ir
from ..errors import BackendError
from ..stdlib.protocol import Buildable
from .population import GeNNPopulation, population_shape, resolve_model

__all__ = ["get_model", "ml_genn_names", "ml_genn_neuron"]


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
    if callable(getattr(neuron, "build", None)) and getattr(neuron, "readout", None):
        import copy

        neuron = copy.copy(neuron)
        neuron.readout = None
    shape = population_shape(population.shape)
    model, params, init, obj = resolve_model(neuron, shape, batch_size, dt, seed, {}, {})
    _refuse_typed_isyn(model)
    try:
        from ml_genn.utils.model import NeuronModel
    except ImportError as error:
        raise BackendError(f"get_model needs ml_genn ({error})",
                           hint="install ml_genn 2.x (https://github.com/genn-team/ml_genn) "
                                "and PyGeNN") from None
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


def _refuse_typed_isyn(model) -> None:
    """A BackendError where the model's ``Isyn`` is an int or bool input: on GeNN it is the
    additional input var ``Isyn_`` (GeNN's ``Isyn`` is a float), so what ml_genn's
    connections add to ``Isyn`` would never reach it."""
    typed = next((item for item in model.inputs if item.name == "Isyn" and item.dtype != "float"),
                 None)
    if typed is not None:
        raise BackendError(
            f"{model.name}'s input Isyn is {typed.dtype}: ml_genn's connections add a float to "
            "GeNN's Isyn, which this model would not read (on GeNN an int or bool Isyn is the "
            "separate input Isyn_)",
            hint="declare 'input Isyn' as a float (the default) for ml_genn's connections, or "
                 "give the int input another name")


def _data_input(obj) -> bool:
    return isinstance(obj, Buildable) and obj.takes_data_input


def ml_genn_names(neuron) -> dict[str, str]:
    """ml_genn's names of ``neuron``'s values -> the GeNN var names they map to.

    As ml_genn's neurons do (``v`` -> ``V``, ``a`` -> ``A``): a param that is
    a state's initial value (``state V = v``) names that state; every other
    param names itself (a GeNN param, or a READ_ONLY var where it is given per
    neuron); a state names itself and, where no param takes it, by its
    lower-case name.  ``VarRecorder(pop, name)`` records what a name maps to.
    Needs neither ml_genn nor PyGeNN.
    """
    from ..printing.genn_expressions import genn_names

    model = _ir_of(neuron)
    names, _ = genn_names(model)
    initialises = {}
    for state in model.states:
        if isinstance(state.init, sympy.Symbol):
            initialises.setdefault(str(state.init), state.name)
    out = {}
    for param in model.params:
        out[param.name] = names[initialises.get(param.name, param.name)]
    for state in model.states:
        out.setdefault(state.name, names[state.name])
    for state in model.states:
        out.setdefault(state.name.lower(), names[state.name])
    return out


def _ir_of(neuron):
    from ..model import Model

    if isinstance(neuron, Model):
        neuron = neuron.ir
    elif callable(getattr(neuron, "model", None)):
        neuron = neuron.model().ir
    if not isinstance(neuron, ir.Model):
        raise BackendError(f"cannot use {type(neuron).__name__} as an ml_genn neuron",
                           hint="give an eqsnn.neurons neuron or an eqsnn.Model")
    if neuron.meta.get("kind") == "synapse":
        raise BackendError(f"{neuron.name} is a synapse model, not a neuron model",
                           hint="give it to ml_genn's Connection as "
                                "synapse=eqsnn.genn.ml_genn_synapse(...)")
    return neuron


_ML_GENN_CLASSES: dict = {}
#: instance attributes of the wrapper and of ml_genn's InputBase (no ml_genn name may be one)
_TAKEN = frozenset({"eqsnn_neuron", "var_name", "egp_name", "input_frames",
                    "input_frame_timesteps"})


@functools.cache
def _name_descriptor():
    """ml_genn's ``ValueDescriptor``, reading and writing the wrapped eqsnn neuron's value."""
    from ml_genn.utils.value import ValueDescriptor

    class EqsnnValue(ValueDescriptor):
        def __get__(self, instance, owner):
            if instance is None:
                return self
            return getattr(instance.eqsnn_neuron, self.name, None)

        def __set__(self, instance, value):
            if not hasattr(instance.eqsnn_neuron, self.name):
                raise BackendError(f"{self.name} is not a value of "
                                   f"{type(instance.eqsnn_neuron).__name__} that can be set",
                                   hint="set the values of the eqsnn neuron itself")
            setattr(instance.eqsnn_neuron, self.name, value)

    return EqsnnValue


def _neuron_class(data: bool, names: dict):
    """The ml_genn ``Neuron`` class for a data-input neuron or not, with ``names``."""
    from ml_genn.neurons import Neuron as MLGeNNNeuron
    from ml_genn.neurons.input import InputBase as MLGeNNInputBase

    key = (data, tuple(sorted(names.items())))
    if key in _ML_GENN_CLASSES:
        return _ML_GENN_CLASSES[key]
    bases = (MLGeNNNeuron, MLGeNNInputBase) if data else (MLGeNNNeuron,)

    def init(self, eqsnn_neuron, readout=None):
        kwargs = {}
        if data:
            kwargs = {"var_name": "Input", "egp_name": "Input",
                      "input_frames": eqsnn_neuron.input_frames,
                      "input_frame_timesteps": eqsnn_neuron.input_frame_timesteps}
        self.__dict__["eqsnn_neuron"] = eqsnn_neuron
        MLGeNNNeuron.__init__(self, readout=readout, **kwargs)

    def neuron_model(self, population, dt, batch_size):
        model = get_model(self.eqsnn_neuron, population, dt, batch_size)
        if data:
            model = self.create_input_model(model, batch_size, population.shape,
                                            replace_input="Input")
        return model

    def show(self):
        return f"ml_genn_neuron({self.eqsnn_neuron!r})"

    namespace = {"__init__": init, "get_model": neuron_model, "__repr__": show,
                 "__doc__": "An eqsnn neuron in an ml_genn network "
                            "(see eqsnn.genn.ml_genn_neuron)."}
    descriptor = _name_descriptor()
    for name, genn_name in names.items():
        if name.isidentifier() and not name.startswith("_") and name not in namespace \
                and not any(hasattr(base, name) for base in bases) and name not in _TAKEN:
            namespace[name] = descriptor(genn_name)
    cls = _ML_GENN_CLASSES[key] = type("EqsnnNeuron", bases, namespace)
    return cls


def ml_genn_neuron(neuron, readout=None):
    """``neuron`` (an ``eqsnn.neurons`` neuron or an :class:`eqsnn.Model`) as an
    ``ml_genn.neurons.Neuron`` for ml_genn's ``Population``.

    ``readout`` is ml_genn's (an object or a name such as ``"sum_var"``); by
    default the neuron's own eqsnn readout, by its name.  ml_genn's callbacks
    take ml_genn's names: ``VarRecorder(pop, "v")`` records ``V`` (see
    :func:`ml_genn_names`).  eqsnn's data-input neurons
    (``IntegrateFireInput``, ``BinarySpikeInput``, ...) become ml_genn input
    neurons: ``Input`` is a var (or, with ``input_frames > 1``, an extra
    global param) set by ml_genn's ``set_input``.
    """
    try:
        from ml_genn.neurons import Neuron as MLGeNNNeuron
    except ImportError as error:
        raise BackendError(f"ml_genn_neuron needs ml_genn ({error})",
                           hint="install ml_genn 2.x (https://github.com/genn-team/ml_genn) "
                                "and PyGeNN") from None

    if isinstance(neuron, MLGeNNNeuron):
        return neuron
    own = getattr(neuron, "readout", None)
    if readout is None and own is not None and hasattr(own, "apply"):
        readout = own.name
    return _neuron_class(_data_input(neuron), ml_genn_names(neuron))(neuron, readout)
