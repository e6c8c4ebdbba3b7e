"""The arguments of :class:`~eqsnn.network.Network`'s building methods, checked before
anything is stored: the name of a population or connection, a population's size, and what
:meth:`~eqsnn.network.Network.connect` is given (its source and target, the target's input,
the connectivity, a weight-update rule's values)."""

from __future__ import annotations

from ..errors import ParameterError
from ..runtime.inputs import is_int, unknown_name
from .connectivity import Connectivity

__all__ = ["new_name", "population_size", "check_endpoints", "check_target_input",
           "check_connectivity", "refuse_rule_values_without_rule",
           "refuse_plastic_weight_unit"]


def new_name(network, name, default) -> str:
    """``name`` (or ``default`` for None), an identifier not yet taken in ``network``."""
    if name is None:
        name = default
    if not isinstance(name, str) or not name.isidentifier() or name.startswith("_") \
            or "__" in name:
        raise ParameterError(f"name must be an identifier without '__' and not starting "
                             f"with '_', not {name!r}")
    if name in network.populations or name in network.connections:
        raise ParameterError(f"the network already has a population or connection named "
                             f"{name!r}", hint="give each one its own name")
    return name


def population_size(name: str, n) -> int:
    if not is_int(n) or n < 1:
        raise ParameterError(f"population {name!r}: n must be a positive integer, not {n!r}")
    return int(n)


def check_endpoints(name: str, source, target) -> None:
    """A connection's target takes input, and its source spikes, without a sign."""
    if target.is_source:
        raise ParameterError(f"connection {name!r}: target {target.name!r} is a spike "
                             "source and receives no input")
    if not source.spiking:
        raise ParameterError(f"connection {name!r}: source {source.name!r} ({source.ir.name})"
                             " has no threshold and never spikes")
    if not source.is_source and source.ir.signed:
        raise ParameterError(
            f"connection {name!r}: source {source.name!r} ({source.ir.name}) has a "
            "negative threshold, and a connection carries spikes without their sign: a "
            "negative spike would deliver +w as a positive one does",
            hint="connect from a model without 'negative threshold:', or split the "
            "signs into two populations (one per threshold) with weights w and -w")


def check_target_input(name: str, target, target_input: str) -> None:
    """``target_input`` is a float input of the target, which takes no data input."""
    declared = {i.name: i for i in target.ir.inputs}
    if target_input not in declared:
        raise unknown_name("input", target_input, declared)
    if declared[target_input].dtype != "float":
        raise ParameterError(f"connection {name!r}: input {target_input!r} of "
                             f"{target.ir.name} is not a float input")
    if target._build is not None and target._build.input_name is not None:
        raise ParameterError(f"connection {name!r}: {target.ir.name} takes a data input "
                             "and cannot be a connection's target")


def refuse_rule_values_without_rule(name: str, weight_update, params, init) -> None:
    """Checked before the connectivity is drawn, which may take long."""
    if weight_update is None and (params or init):
        raise ParameterError(
            f"connection {name!r}: weight_update_params or weight_update_init without a "
            "weight_update model would be ignored, and the weights stay static",
            hint="give the rule too (weight_update=StdpAdditive(...) or a compiled "
            "model), or leave out its values")


def check_connectivity(name: str, connectivity) -> None:
    if not isinstance(connectivity, Connectivity):
        raise ParameterError(f"connection {name!r}: connectivity must be Dense(), "
                             f"FixedProbability(p), ..., not {connectivity!r}")


def refuse_plastic_weight_unit(name: str, model, weight_update, unit) -> None:
    """A weight-update rule acts on the weight in the internal unit: a plastic weight must
    be declared in it."""
    if weight_update is not None and unit is not None and unit.factor != 1:
        raise ParameterError(
            f"connection {name!r}: the weight of {model.name} is in {unit}, which eqsnn "
            "keeps in another unit inside; a weight-update model's w and its params "
            "(w_max, a_plus, ...) have no unit and would act in that other unit",
            hint="declare the synapse state that 'on_spike' adds w to in its dimension's "
            "internal unit (nA for a current, uS for a conductance, mV for a voltage)")
