"""The intermediate representation every backend consumes.

An :class:`Model` is a frozen description of one step of one neuron:

* ``params``, ``states``, ``inputs``, ``arrays``: the declarations;
* ``precompute``: values that depend only on params and ``dt``, evaluated on
  the host in float64 (per neuron where a param is per neuron) by
  :func:`eqsnn.runtime.host.evaluate_precompute`;
* ``step``: the ordered statements of one step (before, the integration
  derived by the solver, after, readout accumulators);
* ``threshold`` / ``negative_threshold`` and their ``reset`` statements;
* ``method``: the integration method chosen, with the reason every other
  method was rejected.

Expressions are SymPy objects over plain ``Symbol`` s named as the
declarations (no assumptions), the built-ins :data:`BUILTINS`, and the
functions defined below.  The meaning of the IR is given by the ``numpy``
backend, which executes it literally.

Semantics of one step (``docs/architecture.md``, "The step"): inputs are read (zero-order hold); the
``step`` statements run in order; threshold is tested on the updated state;
where it holds ``reset`` runs and a spike stamped with time ``t`` is emitted;
where it does not and ``negative_threshold`` holds, ``negative_reset`` runs
and a negative spike is emitted.

The package is three modules: :mod:`~eqsnn.ir.nodes` (everything but the
model), :mod:`~eqsnn.ir.model` (:class:`Model` and its lookups and
transformations) and :mod:`~eqsnn.ir.validate` (the consistency checks every
transformation ends with).
"""

from .model import Model
from .nodes import (
    BUILTIN_TYPES,
    BUILTINS,
    DTYPES,
    Array,
    ArrayGet,
    Assign,
    Constraint,
    Derived,
    If,
    Input,
    Local,
    Method,
    Param,
    PrecomputeItem,
    Propagator,
    RandNormal,
    RandUniform,
    Readout,
    State,
    Statement,
    While,
    expm1,
    floor_div,
    keep_nonfinite,
    log1p,
    map_statements,
    mod,
    phi1,
    walk_statements,
)
from .weight_update import WeightUpdate

__all__ = [
    "Array", "ArrayGet", "Assign", "BUILTINS", "BUILTIN_TYPES", "Constraint", "DTYPES",
    "Derived", "If", "Input", "Local", "Method", "Model", "Param", "PrecomputeItem",
    "Propagator", "RandNormal", "RandUniform", "Readout", "State", "Statement", "While",
    "WeightUpdate", "expm1", "floor_div", "keep_nonfinite", "log1p", "map_statements", "mod",
    "phi1",
    "walk_statements",
]
