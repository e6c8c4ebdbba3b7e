"""The standard library's shared machinery: name lookup and the Simulator hook.

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
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

from .errors import LibraryError

__all__ = ["Build", "InputPlan", "derive_all", "get_neuron", "get_object", "neuron_names",
           "neuron_source"]


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


def get_object(obj, table: dict, base: type, kind: str):
    """ml_genn's ``get_object``: a name in ``table`` (default-constructed) or a copy of ``obj``."""
    if obj is None:
        return None
    if isinstance(obj, str):
        if obj not in table:
            raise LibraryError(f"{kind} object '{obj}' unknown",
                               hint=f"known names: {', '.join(sorted(table))}")
        return table[obj]()
    if isinstance(obj, base):
        return copy.copy(obj)
    raise LibraryError(f"{kind} should be specified either as a string or a {kind} object")


def _neuron_table() -> dict:
    from . import neurons

    return neurons.NEURONS


def neuron_names() -> list[str]:
    """Names of the standard-library neurons (ml_genn's snake_case class names)."""
    return sorted(_neuron_table())


def get_neuron(neuron):
    """A standard-library neuron from its name (``"leaky_integrate_fire"``) or a copy of it."""
    from .neurons import Neuron

    return get_object(neuron, _neuron_table(), Neuron, "Neuron")


def neuron_source(name: str) -> tuple[str, str]:
    """``(text, filename)`` of a standard-library neuron's ``.eqs`` file, by snake_case name."""
    if name not in _neuron_table():
        raise LibraryError(f"Neuron object '{name}' unknown",
                           hint=f"known names: {', '.join(neuron_names())}")
    path = resources.files("eqsnn").joinpath(f"neurons/{name}.eqs")
    return path.read_text(), f"eqsnn/neurons/{name}.eqs"


def derive_all() -> int:
    """Compile every library ``.eqs`` file with every combination of its bool switches.

    Returns the number of models derived (``bench/derive.py`` times this).
    """
    from .model import compile

    count = 0
    for name in neuron_names():
        text, filename = neuron_source(name)
        declared = compile(text, filename=filename).ir.meta["switches"]
        flags = [k for k, v in declared.items() if isinstance(v, bool)]
        for values in itertools.product((False, True), repeat=len(flags)):
            compile(text, filename=filename, switches=dict(zip(flags, values)))
            count += 1
    return count
