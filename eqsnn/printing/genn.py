"""GeNN neuron models: one model as the arguments of ``pygenn.create_neuron_model``.

:func:`genn_spec` decides what each eqsnn name becomes in GeNN: a state a
READ_WRITE var; a param a param, or a READ_ONLY var where it is given per
neuron; a precompute value a derived param (eqsnn's float64 host
precompute, see :class:`eqsnn.genn.Precompute`), or a READ_ONLY var where it
is computed from a per-neuron value; an array an extra global param with an
int length param; an input other than a float ``Isyn`` (GeNN's own, a ``scalar``) an
additional input var (an int or bool ``Isyn`` is ``Isyn_``, of its type).
:class:`GeNNSpec` holds those arguments and where each GeNN name comes from.

The code strings are printed by :mod:`eqsnn.printing.genn_code`.
:func:`genn_precision` names GeNN's precision for eqsnn's.

>>> import sympy
>>> from eqsnn import ir
>>> V = sympy.Symbol("V")
>>> model = ir.Model("Leak", states=(ir.State("V"),), precompute=(
...     ir.Derived("_phi", sympy.exp(-sympy.Symbol("dt"))),),
...     step=(ir.Assign("V", sympy.Symbol("_phi") * V),), threshold=V > 1)
>>> spec = genn_spec(model, "float64")
>>> spec.vars, spec.derived_params, spec.origin["phi_"]
((('V', 'scalar', 'READ_WRITE'),), ('phi_',), ('precompute', '_phi'))
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from .. import ir
from .genn_code import GeNNCode, print_genn
from .genn_expressions import GENN_TYPES

__all__ = ["GeNNSpec", "genn_precision", "genn_spec"]


@dataclass(frozen=True)
class GeNNSpec:
    """The arguments of ``pygenn.create_neuron_model`` for one model, and where they come from.

    ``params``: ``(name, type)``; ``vars``: ``(name, type, access)`` with
    access a ``pygenn.VarAccess`` member name; ``derived_params``: names
    (their values are the host precompute); ``extra_global_params``:
    ``(name, type)``; ``additional_input_vars``: ``(name, type, init)``.
    ``origin`` maps each GeNN name to ``(kind, eqsnn name)``, kind one of
    ``param state precompute input array length sign local`` (``local``: a
    step local that the threshold or reset reads, carried in a hidden var).  ``precompute``
    holds the IR precompute items, renamed to GeNN names; ``per_neuron``
    the eqsnn names given per neuron (READ_ONLY vars).
    """

    class_name: str
    params: tuple
    vars: tuple
    derived_params: tuple
    sim_code: str
    threshold_condition_code: str | None
    reset_code: str | None
    extra_global_params: tuple
    additional_input_vars: tuple
    code: GeNNCode
    origin: dict
    precompute: tuple
    per_neuron: frozenset


def genn_spec(model: ir.Model, precision: str = "float32", per_neuron=frozenset(), *,
              batch: str | None = None, free_inputs=frozenset(),
              wide_math: bool = True) -> GeNNSpec:
    """How ``model`` becomes a GeNN neuron model.

    ``per_neuron`` names the params and precompute values given one value per
    neuron: they, and every precompute value computed from them, become
    READ_ONLY vars; the other precompute values become derived params.
    Additional input vars, like GeNN's ``Isyn``, start each step at 0 and sum
    what targets them (a declared default is the Simulator's, not GeNN's);
    ``free_inputs`` are left for the caller to declare (ml_genn's input
    neurons add ``Input`` as a var or an EGP).  ``wide_math``: see :func:`print_genn`.
    """
    code = print_genn(model, precision, batch, wide_math=wide_math)
    names = code.names
    per_neuron = _per_neuron_closure(model, per_neuron)
    origin: dict = {}
    params, variables, derived = [], [], []
    for param in model.params:
        kind = (variables if param.name in per_neuron else params)
        entry = (names[param.name], GENN_TYPES[param.dtype])
        kind.append(entry + ("READ_ONLY",) if kind is variables else entry)
        origin[names[param.name]] = ("param", param.name)
    declared = {p.name for p in model.params}
    for name in model.runtime_params:
        if name not in declared:
            params.append((names[name], "int"))
            origin[names[name]] = ("param", name)
    states = [(names[s.name], GENN_TYPES[s.dtype], "READ_WRITE") for s in model.states]
    origin.update({names[s.name]: ("state", s.name) for s in model.states})
    for name in model.precompute_names:
        if name in per_neuron:
            variables.append((names[name], "scalar", "READ_ONLY"))
        else:
            derived.append(names[name])
        origin[names[name]] = ("precompute", name)
    for name, dtype in code.carried:
        states.append((names[name], GENN_TYPES[dtype], "READ_WRITE"))
        origin[names[name]] = ("local", name)
    if code.sign_var is not None:
        states.append((code.sign_var, "int8_t", "READ_WRITE"))
        origin[code.sign_var] = ("sign", None)
    egps = []
    for array in model.arrays:
        egps.append((names[array.name], GENN_TYPES[array.dtype] + "*"))
        params.append((code.array_lengths[array.name], "int"))
        origin[names[array.name]] = ("array", array.name)
        origin[code.array_lengths[array.name]] = ("length", array.name)
    inputs = []
    for item in model.inputs:
        origin[names[item.name]] = ("input", item.name)
        if names[item.name] != "Isyn" and item.name not in free_inputs:
            zero = {"float": 0.0, "int": 0, "bool": False}[item.dtype]
            inputs.append((names[item.name], GENN_TYPES[item.dtype], zero))
    return GeNNSpec(
        class_name=model.name, params=tuple(params), vars=tuple(states + variables),
        derived_params=tuple(derived), sim_code=code.sim_code,
        threshold_condition_code=code.threshold_condition_code, reset_code=code.reset_code,
        extra_global_params=tuple(egps), additional_input_vars=tuple(inputs), code=code,
        origin=origin, precompute=_renamed_precompute(model.precompute, names),
        per_neuron=frozenset(per_neuron))


def _per_neuron_closure(model: ir.Model, given) -> set[str]:
    """The given per-neuron names plus every precompute value computed from one of them."""
    per_neuron = {name for name in given
                  if name in {p.name for p in model.params} | set(model.precompute_names)}
    for item in model.precompute:
        exprs = ([item.expr] if isinstance(item, ir.Derived)
                 else [item.matrix] + ([item.noise] if item.noise is not None else []))
        used = {str(s) for expr in exprs for s in expr.free_symbols}
        names = [item.name] if isinstance(item, ir.Derived) else list(item.names())
        if used & per_neuron or set(names) & per_neuron:
            per_neuron.update(names)
    return per_neuron


def _renamed_precompute(items, names) -> tuple:
    """The precompute items over GeNN names (params, dt and earlier precompute values)."""
    mapping = {sympy.Symbol(old): sympy.Symbol(new) for old, new in names.items() if old != new}

    def rename(expr):
        return expr.xreplace(mapping) if expr is not None else None

    def table(rows):
        return None if rows is None else tuple(
            tuple(None if n is None else names[n] for n in row) for row in rows)

    out = []
    for item in items:
        if isinstance(item, ir.Derived):
            out.append(ir.Derived(names[item.name], rename(item.expr)))
        else:
            out.append(ir.Propagator(rename(item.matrix), table(item.phi), table(item.gamma),
                                     rename(item.noise), table(item.chol)))
    return tuple(out)


def genn_precision(precision: str) -> str:
    """GeNN's name (``float``/``double``) of an eqsnn precision (``float32``/``float64``)."""
    return {"float32": "float", "float64": "double"}[precision]
