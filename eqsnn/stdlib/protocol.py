"""The protocol between standard-library objects and the places that build them.

The standard library (:mod:`eqsnn.neurons`, :mod:`eqsnn.readouts`) and the
two places that turn a neuron into a population, the Simulator
(:mod:`eqsnn.runtime.simulator`) and the GeNN/ml_genn glue
(:mod:`eqsnn.genn`), meet here and nowhere else: neither side imports the
other's private names.

A standard-library neuron (``eqsnn.neurons``) is a thin Python object over
one ``.eqs`` file.  The Simulator turns it into a population through
:meth:`eqsnn.neurons.Neuron.build`, which returns a :class:`Build`:

* ``model``: the compiled :class:`eqsnn.Model` (switches set from the
  constructor, readout applied);
* ``params``: a value for every param (a float, or an ``(n,)`` float64 array
  for per-neuron values and sampled initialisers);
* ``init``: initial values that are not given by the ``.eqs`` file (usually
  empty), scalars or ``(n,)`` or ``(batch, n)`` arrays;
* ``arrays``: the initial contents of the model's arrays (1-D);
* ``input_name``: the data input (``"Input"``) whose values
  :meth:`Build.adapt_input` converts from ml_genn's shapes, or ``None``.

Before each ``run(steps, inputs)`` the Simulator passes
``inputs[build.input_name]`` (when given) to ``adapt_input``, which returns an
:class:`InputPlan`: the inputs to use instead (arrays broadcastable to
``(steps, batch, n)``), states to write and arrays to replace before the
run.  ``adapt_input`` raises before anything changes.

GeNN samples initialisers on the device itself, so the GeNN glue also asks
a neuron for :meth:`Buildable.raw_params` (the constructor's values as
given) and whether it :attr:`~Buildable.takes_data_input` (ml_genn's
``InputBase``).  :class:`Buildable` is the whole contract.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from ..errors import LibraryError

__all__ = ["Build", "Buildable", "InputPlan", "get_object"]


@dataclass(frozen=True)
class InputPlan:
    """What one run's data input becomes.

    ``inputs``: input name -> array broadcastable to ``(steps, batch, n)``;
    ``states``: state name -> ``(batch, n)`` values to write before the run;
    ``arrays``: array name -> new 1-D contents.
    """

    inputs: dict = field(default_factory=dict)
    states: dict = field(default_factory=dict)
    arrays: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Build:
    """A standard-library neuron made ready for the Simulator (see the module doc)."""

    model: object  # eqsnn.Model
    shape: tuple
    batch_size: int
    dt: float
    params: dict
    init: dict = field(default_factory=dict)
    arrays: dict = field(default_factory=dict)
    input_name: str | None = None
    adapter: Callable | None = field(default=None, repr=False)

    @property
    def n(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def adapt_input(self, value, *, steps: int, step0: int = 0) -> InputPlan:
        """Convert one run's data input given in ml_genn's shapes.

        ``steps`` is the length of the run and ``step0`` the step counter at
        its start (``t = step0 * dt``).
        """
        if self.adapter is None:
            raise LibraryError(f"{self.model.name} takes no data input")
        return self.adapter(value, shape=self.shape, batch_size=self.batch_size,
                            dt=self.dt, steps=steps, step0=step0)


def ml_genn_twin(obj, package: str) -> str | None:
    """A hint for ml_genn's own object (or class) where eqsnn needs its twin, else None.

    ``package``: where the twin lives, e.g. ``"readouts"`` for ``eqsnn.readouts``.
    """
    cls = obj if isinstance(obj, type) else type(obj)
    if getattr(cls, "__module__", "").split(".")[0] != "ml_genn":
        return None
    hint = (f"{cls.__name__} is ml_genn's own class; use eqsnn.{package}.{cls.__name__} "
            "(the same arguments)")
    return hint if package == "neurons" else hint + " or its snake_case name"


def get_object(obj, table: dict, base: type, kind: str):
    """ml_genn's ``get_object``: a name in ``table`` (default-constructed) or a copy of ``obj``."""
    if obj is None:
        return None
    if isinstance(obj, str):
        if obj not in table:
            snake = re.sub(r"(?<!^)(?=[A-Z])", "_", obj).lower()
            hint = (f"the name is the snake_case class name: '{snake}'" if snake in table
                    else f"known names: {', '.join(sorted(table))}")
            raise LibraryError(f"{kind} object '{obj}' unknown", hint=hint)
        return table[obj]()
    if isinstance(obj, base):
        return copy.copy(obj)
    hint = (f"write {obj.__name__}(), an instance, not the class"
            if isinstance(obj, type) and issubclass(obj, base)
            else ml_genn_twin(obj, f"{kind.lower()}s"))
    raise LibraryError(f"{kind} should be specified either as a string or a {kind} object",
                       hint=hint)


@runtime_checkable
class Buildable(Protocol):
    """What a standard-library neuron offers the Simulator and the GeNN glue."""

    #: the state var-type readouts read, or None
    output_var: str | None

    @property
    def takes_data_input(self) -> bool:
        """True for ml_genn's ``InputBase`` neurons: ``Input`` is data set per run."""
        ...

    def build(self, *, shape, batch_size: int = 1, dt: float = 1.0, seed: int = 0) -> Build:
        """Everything the Simulator needs for a population of this neuron."""
        ...

    def raw_params(self) -> dict:
        """Param values as given, initialisers unsampled (GeNN samples them itself)."""
        ...
