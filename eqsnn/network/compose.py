"""A target neuron and its incoming synapse models as one :class:`eqsnn.ir.Model`.

The network step (``docs/network.md``, "The step") at step k, for one target
population with connections c0, c1, ... in connection order:

1. each connection's ``on_spike`` runs with the summed weight that arrives in
   this step (the composed model's input ``<conn>__w``), then its ``output``
   is computed from the synapse state and the target's start-of-step state;
2. the outputs are added to the target's input after the user's own value,
   in connection order (``((Isyn + out0) + out1) + ...``);
3. the synapse dynamics advance (the synapse model's update and ``after:``);
4. the neuron steps, reading the sums in place of its inputs.

Everything is renamed with the prefix ``<conn>__`` so that the parts cannot
collide, and the result is an ordinary IR model, which every backend runs.
"""

from __future__ import annotations

import dataclasses

import sympy

from .. import ir
from ..errors import ParameterError
from ..frontend.synapse import OUTPUT, WEIGHT
from ..frontend.unit_system import DIMENSIONLESS, internal_symbol


@dataclasses.dataclass(frozen=True)
class Incoming:
    """One connection into the target: its prefix name, synapse model and target input."""

    name: str
    synapse: ir.Model
    target: str


def prefix(name: str) -> str:
    return f"{name}__"


def _rename_precompute(item, subs, names):
    if isinstance(item, ir.Derived):
        return ir.Derived(names[item.name], item.expr.xreplace(subs))

    def table(rows):
        if rows is None:
            return None
        return tuple(tuple(None if n is None else names[n] for n in row) for row in rows)

    return ir.Propagator(
        item.matrix.xreplace(subs), table(item.phi), table(item.gamma),
        None if item.noise is None else item.noise.xreplace(subs), table(item.chol))


def _synapse_parts(incoming: Incoming, neuron: ir.Model):
    """The renamed declarations and step of one incoming synapse model."""
    model, pre = incoming.synapse, prefix(incoming.name)
    post = model.meta.get("post", ())
    own = [p.name for p in model.params] + [s.name for s in model.states]
    own += list(model.precompute_names) + [loc.name for loc in model.locals()] + [WEIGHT]
    names = {name: pre + name for name in own}
    subs = {sympy.Symbol(old): sympy.Symbol(new) for old, new in names.items()}
    neuron_states = {s.name: s for s in neuron.states}
    for name in post:
        state = neuron_states.get(name)
        if state is None or state.dtype != "float":
            raise ParameterError(
                f"connection {incoming.name!r}: synapse model {model.name} reads the target's "
                f"state {name!r} ('post {name}'), which neuron model {neuron.name} does not "
                "have as a float state",
                hint=f"target a neuron with a float state {name!r}, or change the synapse's "
                "'post' name")
        subs[sympy.Symbol(name)] = sympy.Symbol(name)
    params = tuple(dataclasses.replace(p, name=names[p.name]) for p in model.params)
    states = tuple(ir.State(names[s.name], s.dtype, s.init.xreplace(subs), s.bounds)
                   for s in model.states)
    precompute = tuple(_rename_precompute(item, subs, names) for item in model.precompute)
    step = ir.map_statements(model.step, lambda expr: expr.xreplace(subs),
                             lambda name: names.get(name, name))
    return params, states, precompute, step, names[OUTPUT], names[WEIGHT]


def _check_units(incoming: Incoming, neuron: ir.Model) -> None:
    """A synapse model without units computes its output in the internal unit of the target
    input's dimension: refused where the input is declared in another unit (a Delta of
    weight 6 into an input in nS would deliver 6 uS).  One with units: see
    :func:`_check_dimensions`."""
    synapse = incoming.synapse
    if synapse.units or synapse.meta.get("output_unit") is not None:
        _check_dimensions(incoming, neuron)
        return
    unit = dict(neuron.units).get(incoming.target)
    if unit is None or unit.factor == 1:
        return
    internal = internal_symbol(unit.dimension)
    raise ParameterError(
        f"connection {incoming.name!r}: input {incoming.target!r} of {neuron.name} is in "
        f"{unit.symbol}, and synapse model {incoming.synapse.name} has no units: its output "
        f"would arrive in {internal} (the unit eqsnn keeps a {unit.dimension.words()} in), "
        f"so its weights would be read as {internal}, not {unit.symbol}",
        hint=f"declare the input in {internal} (input {incoming.target} = 0 {internal}), or "
        "connect a synapse model written with units (state g = 0 nS ... on_spike: g += w)")


def _kind(unit) -> str:
    """``'a current'``, or ``'a dimensionless value'`` for no unit."""
    if unit is None or unit.dimension.dimensionless:
        return "a dimensionless value"
    return f"a {unit.dimension.words()}"


def _described(unit) -> str:
    """``'a current (pA)'``, or ``'dimensionless'`` for no unit."""
    if unit is None or unit.dimension.dimensionless:
        return "dimensionless"
    return f"{_kind(unit)} ({unit.symbol})"


def _dimension(unit):
    return DIMENSIONLESS if unit is None else unit.dimension


def _check_dimensions(incoming: Incoming, neuron: ir.Model) -> None:
    """A synapse model with units into a neuron model with units: each ``post`` state has the
    dimension the synapse reads it in, and the output the dimension of the target input.
    Values cross in the internal units, so equal dimensions need no conversion.  A neuron
    model without units opted out: it reads and receives numbers in the internal units."""
    if not neuron.units:
        return
    synapse, name = incoming.synapse, incoming.name
    ours, theirs = dict(synapse.units), dict(neuron.units)
    floats = {s.name for s in neuron.states if s.dtype == "float"}
    for state in synapse.meta.get("post", ()):
        read, have = ours.get(state), theirs.get(state)
        if state not in floats or _dimension(read) == _dimension(have):
            continue  # a state the target lacks: refused by _synapse_parts
        written = "1" if read is None else read.symbol
        raise ParameterError(
            f"connection {name!r}: synapse model {synapse.name} reads the target's state "
            f"{state!r} as {_described(read)} ('post {state} [{written}]'), but {state} of "
            f"{neuron.name} is {_described(have)}",
            hint=f"connect it to a neuron whose {state} is {_kind(read)}, or read {state} in "
            "its own dimension "
            f"('post {state} [{'1' if have is None else have.symbol}]')")
    output = synapse.meta.get("output_unit")
    target = theirs.get(incoming.target)
    if output is None or output.dimension == _dimension(target):
        return
    fits = [i.name for i in neuron.inputs if i.dtype == "float"
            and _dimension(theirs.get(i.name)) == output.dimension]
    where = (f"connect it to an input that is {_kind(output)} (target_input={fits[0]!r})"
             if fits else f"declare an input that is {_kind(output)} and connect it there "
             "(target_input=...)")
    raise ParameterError(
        f"connection {name!r}: the output of synapse model {synapse.name} is "
        f"{_described(output)}, but input {incoming.target!r} of {neuron.name} is "
        f"{_described(target)}",
        hint=f"{where}, or change the synapse's 'output:' to give {_kind(target)}")


def compose(neuron: ir.Model, incoming: tuple[Incoming, ...]) -> ir.Model:
    """``neuron`` receiving every connection in ``incoming`` (see the module doc)."""
    if not incoming:
        return neuron
    params, states, precompute, step, inputs = [], [], [], [], []
    outputs: dict[str, list[str]] = {}
    for conn in incoming:
        _check_units(conn, neuron)
        p, s, pre, st, output, weight = _synapse_parts(conn, neuron)
        params += p
        states += s
        precompute += pre
        step += st
        inputs.append(ir.Input(weight, "float", 0.0))
        outputs.setdefault(conn.target, []).append(output)
    meta = dict(neuron.meta)
    meta["synapses"] = tuple((c.name, c.synapse.name, c.target) for c in incoming)
    return neuron.with_input_sums(outputs, inputs, step).replace(
        params=neuron.params + tuple(params),
        states=neuron.states + tuple(states),
        precompute=neuron.precompute + tuple(precompute),
        meta=meta,
    ).validate()
