"""The op table of the NumPy printer: one lowered op as NumPy text.

Three forms, all computing the same bits for the same operands:

* :func:`expression`: a Python expression returning a new value (scalars,
  values hoisted out of the step loop);
* :func:`array_op`: in-place code writing a preallocated buffer (``out=``),
  optionally only where a mask holds (``where=``);
* :func:`gathered_op`: the op on the elements a list of flat positions picks
  out, for a masked store whose mask holds on few elements (see
  :data:`GATHER_SAFE`).

Shape classes name the broadcast shape of a value: ``scalar`` (constants,
population-wide params, ``t``, ``step``, ``dt``), ``neuron`` (per-neuron
params, ``id``: ``(1, n)``), ``lane`` (``batch``: ``(batch, 1)``) or ``full``
(states, locals, inputs, draws: ``(batch, n)``).
"""

from __future__ import annotations

import keyword

from .. import ir
from .ops import WIDE_FUNCTIONS, Op

__all__ = [
    "SCALAR", "NEURON", "LANE", "FULL", "BUFFER_SHAPES", "NUMPY_TYPES", "GATHER_SAFE",
    "join", "expression", "array_op", "gathered_op", "kind",
    "python_names",
]

SCALAR, NEURON, LANE, FULL = "scalar", "neuron", "lane", "full"

#: shape of a work buffer of each class, as printed in ``allocate``
BUFFER_SHAPES = {FULL: "(batch, n)", NEURON: "(1, n)", LANE: "(batch, 1)"}
#: NumPy type of each IR type, as printed
NUMPY_TYPES = {"float": "FLOAT", "int": "np.int32", "bool": "np.bool_"}

_UFUNCS = {
    "add": "np.add", "sub": "np.subtract", "mul": "np.multiply", "div": "np.divide",
    "mod": "np.remainder", "floordiv": "np.floor_divide", "min": "np.fmin", "max": "np.fmax",
    "neg": "np.negative",
    "lt": "np.less", "le": "np.less_equal", "gt": "np.greater", "ge": "np.greater_equal",
    "eq": "np.equal", "ne": "np.not_equal",
    "and": "np.logical_and", "or": "np.logical_or", "not": "np.logical_not",
    "exp": "np.exp", "expm1": "np.expm1", "log": "np.log", "log1p": "np.log1p",
    "sqrt": "np.sqrt", "abs": "np.absolute", "sin": "np.sin", "cos": "np.cos",
    "tanh": "np.tanh", "floor": "np.floor", "ceil": "np.ceil", "pow": "np.power",
}
_OPERATORS = {
    "add": "{} + {}", "sub": "{} - {}", "mul": "{} * {}", "div": "{} / {}", "mod": "{} % {}",
    "floordiv": "{} // {}",
    "neg": "-{}", "lt": "{} < {}", "le": "{} <= {}", "gt": "{} > {}", "ge": "{} >= {}",
    "eq": "{} == {}", "ne": "{} != {}",
}

#: Ops whose result is the same bits however NumPy's loop runs (contiguous or
#: strided, SIMD or scalar, under ``where=`` or on gathered elements): IEEE's
#: correctly rounded arithmetic and square root, exact comparisons, logic,
#: sign and rounding to an integer.  Transcendental functions, ``pow``,
#: ``fmin``/``fmax`` (the sign of a zero result) and casts are left out: their
#: SIMD and scalar loops may differ, so they keep the ``where=`` form.
GATHER_SAFE = frozenset({
    "add", "sub", "mul", "div", "neg", "lt", "le", "gt", "ge", "eq", "ne",
    "and", "or", "not", "abs", "floor", "ceil", "sqrt", "keep",
})


def kind(op: Op) -> str:
    """The function of a ``call``, the op itself otherwise."""
    return op.fn if op.op == "call" else op.op


def join(*classes: str) -> str:
    """Shape class of a value computed from values of these classes."""
    kinds = set(classes) - {SCALAR}
    if not kinds:
        return SCALAR
    if FULL in kinds or kinds == {NEURON, LANE}:
        return FULL
    return kinds.pop()


def expression(op: Op, args: list[str], shape_class: str) -> str:
    """``op`` as a Python expression returning a new value (scalars, hoisted values)."""
    name = kind(op)
    if name in WIDE_FUNCTIONS:
        # astype without a copy: free where FLOAT is float64 (FLOAT(...) would copy an array)
        return f"{_UFUNCS[name]}({', '.join(args)}, dtype=np.float64).astype(FLOAT, copy=False)"
    if name in ("rand_uniform", "rand_normal"):
        draw = "uniform" if name == "rand_uniform" else "normal"
        return f"_draws.{draw}(_seed, step, neuron_id, lane, {args[0]})"
    if name == "cast":
        return f"{NUMPY_TYPES[op.dtype]}({args[0]})"
    if name == "select":
        if shape_class == SCALAR:
            return f"({args[1]} if {args[0]} else {args[2]})"
        return f"np.where({args[0]}, {args[1]}, {args[2]})"
    if name == "array_get":
        return f"np.take({args[0]}, {args[1]}, mode=\"clip\")"
    if name == "keep":
        return f"({args[0]} + 0.0 * {args[1]})"
    if name in _OPERATORS:
        return _OPERATORS[name].format(*args)
    return f"{_UFUNCS[name]}({', '.join(args)})"


def array_op(op: Op, args: list[str], dest: str, where: str) -> list[str]:
    """``op`` as in-place NumPy code writing ``dest`` (``where`` is ``""`` or ``", where=m"``)."""
    name = kind(op)
    if name == "cast":
        return [f'np.copyto({dest}, {args[0]}, casting="unsafe"{where})']
    if name == "select":
        condition, then, otherwise = args
        return [
            f"np.copyto({dest}, {otherwise})",
            f"np.copyto({dest}, {then}, where={condition})",
        ]
    if name == "array_get":
        return [f'np.take({args[0]}, {args[1]}, mode="clip", out={dest})']
    if name == "keep":  # the product first: dest may be either argument
        return [f"np.add({args[0]}, np.multiply({args[1]}, 0.0), out={dest}{where})"]
    wide = ", dtype=np.float64" if name in WIDE_FUNCTIONS else ""
    return [f"{_UFUNCS[name]}({', '.join(args)}, out={dest}{where}{wide})"]


def gathered_op(op: Op, args: list[str]) -> str:
    """A :data:`GATHER_SAFE` op on gathered operands, as an expression returning a new array."""
    if kind(op) == "keep":
        return f"np.add({args[0]}, np.multiply({args[1]}, 0.0))"
    return f"{_UFUNCS[kind(op)]}({', '.join(args)})"


# --- names and types ---------------------------------------------------
_BUILTIN_NAMES = {"t": "t", "step": "step", "dt": "dt", "id": "neuron_id", "batch": "lane"}
_TEMPLATE_NAMES = {"np", "rng", "FLOAT", "pop", "steps", "step0", "inputs", "recorders",
                   "spikes", "i", "allocate", "run", "batch", "n"}



def python_names(model: ir.Model) -> dict[str, str]:
    """A distinct Python identifier for every model name (``id`` is ``neuron_id``, ...).

    Model names never start with ``_`` in the printed code; the printer's own
    names all do.
    """
    names = dict(_BUILTIN_NAMES)
    taken = set(_TEMPLATE_NAMES) | set(keyword.kwlist) | set(names.values())
    for name in model.name_types():
        if name in names:
            continue
        candidate = "m" + name if name.startswith("_") else name
        while candidate in taken:
            candidate += "_"
        names[name] = candidate
        taken.add(candidate)
    return names
