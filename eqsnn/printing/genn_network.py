"""GeNN models of a network: postsynaptic models, weight-update models, target neurons.

A connection becomes a GeNN synapse group with three parts:

* **the postsynaptic model** (:func:`postsynaptic_spec`), printed from the eqsnn
  synapse model: its params, states (vars) and precompute (derived params) are
  the synapse model's, its ``post`` names are neuron var references, and its
  sim code is::

      const scalar w = inSyn;   // the weights that arrived this step, summed from 0
      inSyn = 0.0;              // GeNN's inSyn is only the step's accumulator
      <the synapse model's step: on_spike, output, the dynamics, after:>
      injectCurrent(output);

  The output goes into the target's additional input var of its own
  connection (``post_target_var``), never straight into ``Isyn``;
* **the weight-update model** (:func:`weight_update_spec`): for a static
  connection, a
  per-synapse weight ``eqsnn_weight`` added to the postsynaptic input on a
  presynaptic spike (``addToPost(eqsnn_weight)``), or with per-synapse delays
  ``addToPostDelay(eqsnn_weight, eqsnn_delay)`` (GeNN's heterogeneous
  dendritic delay); a plastic connection's model is printed from its
  :class:`~eqsnn.ir.WeightUpdate` by :mod:`eqsnn.printing.genn_plasticity`;
* **the target neuron** (:func:`network_neuron`): the eqsnn neuron with one
  extra float input per incoming connection, which it adds to the input the
  connection targets in connection order, after the user's own value
  (``((Isyn + in_c0) + in_c1) + ...``) as eqsnn's network step does.  GeNN
  thus never sums two connections' outputs into one variable: its order of
  postsynaptic models cannot change the result.

Printing needs no PyGeNN.

>>> from eqsnn.network import ExpCond
>>> spec = postsynaptic_spec(ExpCond().build()[0].ir, "float32")
>>> spec.neuron_var_refs
(('V', 'scalar', 'V'),)
>>> print(spec.sim_code.splitlines()[0])
const scalar w = inSyn;
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import ir
from ..errors import BackendError
from ..frontend.synapse import OUTPUT, WEIGHT
from .genn import genn_spec

__all__ = ["DELAY_VAR", "WEIGHT_VAR", "PostsynapticSpec", "WeightUpdateSpec", "connection_input",
           "network_neuron",
           "postsynaptic_spec", "weight_update_spec"]


#: the static weight-update model's per-synapse weight and delay vars (GeNN keeps one
#: namespace for a synapse group's weight-update and postsynaptic vars)
WEIGHT_VAR, DELAY_VAR = "eqsnn_weight", "eqsnn_delay"


def connection_input(name: str) -> str:
    """The eqsnn name of the neuron input that connection ``name`` drives."""
    return f"{name}__in"


def network_neuron(neuron: ir.Model, incoming: tuple[tuple[str, str], ...]) -> ir.Model:
    """``neuron`` with an input per incoming connection ``(name, target input)``, added to
    the target input in connection order after the user's value (see the module doc)."""
    if not incoming:
        return neuron
    declared = {i.name for i in neuron.inputs}
    extra, outputs = [], {}
    for name, target in incoming:
        if target not in declared:
            raise BackendError(f"connection {name!r}: {neuron.name} has no input {target!r}")
        extra.append(ir.Input(connection_input(name), "float", 0.0))
        outputs.setdefault(target, []).append(connection_input(name))
    return neuron.with_input_sums(outputs, extra).validate()


@dataclass(frozen=True)
class PostsynapticSpec:
    """The arguments of ``pygenn.create_postsynaptic_model`` for one eqsnn synapse model.

    ``params`` ``(name, type)``; ``vars`` ``(name, type, access)``;
    ``derived_params`` names (the host precompute, renamed in ``precompute``);
    ``neuron_var_refs`` ``(GeNN name, type, eqsnn name of the target's state)``;
    ``origin`` maps each GeNN name to ``(kind, eqsnn name)`` as in
    :class:`~eqsnn.printing.genn.GeNNSpec`.
    """

    class_name: str
    params: tuple
    vars: tuple
    derived_params: tuple
    neuron_var_refs: tuple
    sim_code: str
    origin: dict
    precompute: tuple
    names: dict


def postsynaptic_spec(model: ir.Model, precision: str = "float32", *,
                      wide_math: bool = True) -> PostsynapticSpec:
    """How the eqsnn synapse model ``model`` becomes a GeNN postsynaptic model."""
    if model.meta.get("kind") != "synapse":
        raise BackendError(f"{model.name} is not a synapse model")
    if any(isinstance(s, ir.While) for s in ir.walk_statements(model.step)):
        raise BackendError(
            f"synapse model {model.name} is integrated with substeps (method: "
            f"{model.method.name}), which the pygenn backend cannot emit yet",
            hint="name a fixed-step method for GeNN, e.g. 'method: rk4', with a small dt")
    spec = genn_spec(model, precision, wide_math=wide_math)
    names = spec.code.names
    if spec.code.draws:
        raise BackendError(f"synapse model {model.name} draws random numbers, which the "
                           "pygenn backend does not support in postsynaptic models yet")
    if spec.vars and any(a != "READ_WRITE" for _, _, a in spec.vars):
        raise BackendError(f"synapse model {model.name}: values per neuron are not supported "
                           "on pygenn")
    clash = {WEIGHT_VAR, DELAY_VAR} & set(names.values())
    if clash:
        raise BackendError(f"synapse model {model.name} uses the name {sorted(clash)[0]!r}, "
                           "which the pygenn backend keeps for the weight-update model",
                           hint="rename it")
    post = tuple(model.meta.get("post", ()))
    refs = tuple((names[p], "scalar", p) for p in post)
    lines = [f"const scalar {names[WEIGHT]} = inSyn;", "inSyn = 0.0;", spec.sim_code,
             f"injectCurrent({names[OUTPUT]});"]
    params = tuple(p for p in spec.params if spec.origin[p[0]][0] == "param")
    return PostsynapticSpec(
        class_name=model.name, params=params, vars=spec.vars,
        derived_params=spec.derived_params, neuron_var_refs=refs,
        sim_code="\n".join(line for line in lines if line), origin=spec.origin,
        precompute=spec.precompute, names=names)


@dataclass(frozen=True)
class WeightUpdateSpec:
    """The arguments of ``pygenn.create_weight_update_model`` for one kind of rule.

    ``vars`` ``(name, type)`` per synapse; ``pre_spike_syn_code`` what a
    presynaptic spike does; ``delay_var`` the per-synapse delay var (steps of
    GeNN's dendritic delay) or None.
    """

    class_name: str
    vars: tuple
    pre_spike_syn_code: str
    delay_var: str | None = None


def weight_update_spec(kind: str = "static", *, heterogeneous_delay: bool = False,
                       rule=None) -> WeightUpdateSpec:
    """The GeNN weight-update model of an eqsnn connection.

    ``kind`` ``"static"``: a per-synapse weight ``g`` added to the postsynaptic
    input when a presynaptic spike arrives.  A plastic rule (an
    :class:`~eqsnn.ir.WeightUpdate`) is printed by
    :func:`eqsnn.printing.genn_plasticity.plastic_parts` instead.
    """
    if rule is not None or kind != "static":
        name = getattr(rule, "name", kind)
        raise BackendError(
            f"weight_update_spec prints the static rule only, not {name!r}",
            hint="print a plastic weight-update model with "
            "eqsnn.printing.genn_plasticity.plastic_parts")
    if heterogeneous_delay:
        return WeightUpdateSpec("EqsnnStaticDelay", ((WEIGHT_VAR, "scalar"),
                                                     (DELAY_VAR, "uint32_t")),
                                f"addToPostDelay({WEIGHT_VAR}, {DELAY_VAR});", DELAY_VAR)
    return WeightUpdateSpec("EqsnnStatic", ((WEIGHT_VAR, "scalar"),),
                            f"addToPost({WEIGHT_VAR});")
