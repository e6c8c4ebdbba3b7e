"""Base classes of the standard-library neurons: ``Neuron``, ``Input``, ``InputBase``.

A neuron class names its ``.eqs`` file, declares its ``InitValue`` arguments
with :class:`Value` (checked when set, like ml_genn's ValueDescriptor) and
maps its options to the file's switches; :meth:`Neuron.build` does the rest.
"""

from __future__ import annotations

import functools
import inspect
import numbers
from importlib import resources

import numpy as np

from ..errors import LibraryError, LibraryValueError
from ..initializers import check_value, resolve
from ..model import Model, compile
from ..stdlib.protocol import Build, InputPlan

__all__ = ["Flag", "Input", "InputBase", "Neuron", "Option", "Value"]


class _Checked:
    """A constructor argument kept per instance and checked by :meth:`check` whenever it
    is assigned (in the constructor and later)."""

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        return obj.__dict__[self.name]

    def __set__(self, obj, value):
        obj.__dict__[self.name] = self.check(value)

    def check(self, value):
        raise NotImplementedError


class Value(_Checked):
    """An ``InitValue`` constructor argument, validated on assignment.

    ``dt_transformed``: ml_genn transforms it by ``dt`` (``tau_mem`` ->
    ``Alpha``), so only numbers and arrays are accepted.  ``allow_none``:
    ``None`` means absent (``tau_refrac``).
    """

    def __init__(self, *, dt_transformed: bool = False, allow_none: bool = False):
        self.dt_transformed = dt_transformed
        self.allow_none = allow_none

    def check(self, value):
        return check_value(self.name, value, dt_transformed=self.dt_transformed,
                           allow_none=self.allow_none)

    def __set__(self, obj, value):
        checked = self.check(value)
        obj.__dict__[self.name] = checked
        # the shape as given: the values are kept flat, but build() compares it with the
        # population's (a key per argument, as a copy shares nothing it could change)
        obj.__dict__[f"_shape_{self.name}"] = (np.shape(value)
                                               if isinstance(checked, np.ndarray) else None)


def _check_array_shape(name: str, given, shape: tuple) -> None:
    """A multi-dimensional per-neuron array must be shaped like the population (axes of
    length 1 aside): its C-order flattening is then the neuron order."""
    if given is None or len(given) < 2:
        return
    if tuple(s for s in given if s != 1) != tuple(s for s in shape if s != 1):
        raise LibraryError(
            f"{name} is shaped {tuple(given)}, the population {tuple(shape)}: which neuron "
            "gets which value is not clear",
            hint=f"give {name} shaped like the population, or flat with .ravel() if its "
                 "C order is the neurons' order")


class Option(_Checked):
    """A plain constructor option (``k``, ``input_frames``, ...) checked by ``check(name,
    value)`` whenever it is assigned, which returns the value to keep."""

    def __init__(self, check):
        self._check = check

    def check(self, value):
        return self._check(self.name, value)


class Flag(_Checked):
    """A boolean constructor option (a compile-time switch), validated on assignment.

    ml_genn tests these for truth, so ``relative_reset="False"`` would mean
    True there; eqsnn takes ``True``/``False`` (or 0/1, numpy bools) and
    refuses anything else rather than read a string's truth.
    """

    def check(self, value):
        if isinstance(value, (bool, np.bool_)) or (
                isinstance(value, numbers.Integral) and value in (0, 1)):
            return bool(value)
        raise LibraryError(f"{self.name} must be True or False, not {value!r}",
                           hint=f"write {self.name}=True or {self.name}=False")


def _values(cls) -> list[str]:
    names: list[str] = []
    for klass in reversed(cls.__mro__):
        for name, attr in vars(klass).items():
            if isinstance(attr, Value) and name not in names:
                names.append(name)
    return names


@functools.cache
def _source(name: str) -> str:
    return resources.files("eqsnn").joinpath(f"neurons/{name}.eqs").read_text()


def _number(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise LibraryError(f"{name} must be a number, not {value!r}")
    return value


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise LibraryValueError(f"{name} must be a positive integer, not {value!r}")
    return int(value)


def _shape(shape) -> tuple[int, ...]:
    shape = (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)
    if not shape or any(not isinstance(s, numbers.Integral) or s < 1 for s in shape):
        raise LibraryError(f"population shape must be positive integers, not {shape!r}")
    return tuple(int(s) for s in shape)


class Neuron:
    """A standard-library neuron model: a thin object over one ``.eqs`` file.

    ``readout`` (a :mod:`eqsnn.readouts` object or name) is an attribute and
    may be assigned after construction.  ``model()`` is the compiled
    :class:`eqsnn.Model`; ``build(...)`` is what the Simulator calls.
    """

    #: the ``.eqs`` file (its snake_case name) of a concrete class
    eqs_name: str | None = None
    #: what var-type readouts read
    output_var: str | None = None

    def __init__(self, readout=None):
        self.readout = readout

    @property
    def readout(self):
        return self.__dict__.get("_readout")

    @readout.setter
    def readout(self, readout):
        from ..readouts import get_readout

        self.__dict__["_readout"] = get_readout(readout)

    def get_model(self, population, dt, batch_size):
        """ml_genn's ``NeuronModel`` for this neuron (needs ml_genn and PyGeNN).

        To place the neuron in an ml_genn network, wrap it with
        :func:`eqsnn.genn.ml_genn_neuron`, since ml_genn's ``Population`` only
        accepts its own ``Neuron`` class.
        """
        from ..genn import get_model

        return get_model(self, population, dt, batch_size)

    def get_readout(self):
        """The readout object; raises if the neuron has none (as ml_genn)."""
        if self.readout is None:
            raise LibraryError(f"{type(self).__name__} has no readout",
                               hint="set neuron.readout, e.g. readout='spike_count'")
        return self.readout

    # --- what a subclass provides ----------------------------------------
    def switches(self) -> dict:
        """The ``.eqs`` switches set by the constructor's options."""
        return {}

    def extra_params(self) -> dict:
        """Params that are not ``InitValue`` arguments (e.g. FewSpike's ``k``)."""
        return {}

    def adapter(self):
        """The data-input converter, ``None`` when the neuron takes no data input."""
        return None

    def check_options(self) -> None:
        """Refuse a combination of options (each is checked alone when assigned); run at
        the end of the constructor and again by :meth:`build`, as options may be assigned
        one by one after construction."""

    # --- derived --------------------------------------------------------
    def model(self) -> Model:
        """The compiled model, switches set and readout applied."""
        if self.eqs_name is None:
            raise LibraryError(f"{type(self).__name__} is abstract: use a concrete neuron "
                               "class such as LeakyIntegrateFire")
        filename = f"eqsnn/neurons/{self.eqs_name}.eqs"
        model = compile(_source(self.eqs_name), filename=filename, switches=self.switches())
        if self.readout is not None:
            model = Model(self.readout.apply(model.ir, self.output_var), model.text,
                          model.filename)
        return model

    def build(self, *, shape, batch_size: int = 1, dt: float = 1.0, seed: int = 0) -> Build:
        """Everything the Simulator needs for a population of this neuron.

        ``shape`` is an int or a tuple; initialisers are sampled here from
        ``seed`` (the same values for the same seed).
        """
        shape = _shape(shape)
        self.check_options()
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) \
                or batch_size < 1:
            raise LibraryError(f"batch_size must be a positive integer, not {batch_size!r}")
        model = self.model()
        n = int(np.prod(shape, dtype=np.int64))
        declared = {p.name for p in model.ir.params}
        params = {}
        for name in _values(type(self)):
            _check_array_shape(name, self.__dict__.get(f"_shape_{name}"), shape)
        for name in _values(type(self)):
            if name in declared:
                value = resolve(name, getattr(self, name), n=n, seed=seed)
                if value is not None:
                    params[name] = value
        params.update(self.extra_params())
        adapter = self.adapter()
        return Build(model=model, shape=shape, batch_size=int(batch_size), dt=float(dt),
                     params=params, init=self.initial_states(batch_size, n),
                     arrays=self.initial_arrays(), adapter=adapter,
                     input_name="Input" if adapter is not None else None)

    def raw_params(self) -> dict:
        """Param values as given, initialisers unsampled, for GeNN (see Buildable)."""
        declared = {p.name for p in self.model().ir.params}
        raw = {name: getattr(self, name) for name in _values(type(self))
               if name in declared and getattr(self, name) is not None}
        raw.update(self.extra_params())
        return raw

    @property
    def takes_data_input(self) -> bool:
        """True for ml_genn's ``InputBase`` neurons (see Buildable)."""
        return False

    def initial_states(self, batch_size: int, n: int) -> dict:
        return {}

    def initial_arrays(self) -> dict:
        return {}

    def __repr__(self) -> str:
        """Every constructor argument the object keeps, so that neurons differing in an
        option or the readout print differently."""
        names = [name for name in inspect.signature(type(self)).parameters
                 if name in self.__dict__ or name == "readout"]
        if "readout" not in names and self.readout is not None:  # assigned to an input
            names.append("readout")
        args = ", ".join(f"{k}={getattr(self, k)!r}" for k in names)
        return f"{type(self).__name__}({args})"


class Input:
    """A neuron that takes a data input (ml_genn's ``Input``): see ``adapter``."""


class InputBase(Input):
    """Input neurons whose ``Input`` is a static value or ``input_frames`` frames.

    ``input_frames == 1``: the input is held for the whole run, shaped
    ``(batch,) + shape``.  ``input_frames = F > 1``: ``(batch, F) + shape``,
    frame ``min(step // input_frame_timesteps, F - 1)`` from the start of
    each run.  ``var_name``/``egp_name`` are accepted for compatibility;
    eqsnn's data input is always ``Input``.
    """

    input_frames = Option(_positive_int)
    input_frame_timesteps = Option(_positive_int)

    def __init__(self, var_name="Input", egp_name=None, input_frames=1,
                 input_frame_timesteps=1, **kwargs):
        super().__init__(**kwargs)
        self.var_name = var_name
        self.egp_name = egp_name
        self.input_frames = input_frames
        self.input_frame_timesteps = input_frame_timesteps

    @property
    def takes_data_input(self) -> bool:
        return True

    def adapter(self):
        from .data import framed_input, static_input

        frames, frame_timesteps = self.input_frames, self.input_frame_timesteps

        def adapt(value, *, shape, batch_size, dt, steps, step0):
            if frames == 1:
                x = static_input(value, shape=shape, batch_size=batch_size)[np.newaxis]
            else:
                x = framed_input(value, shape=shape, batch_size=batch_size, frames=frames,
                                 frame_timesteps=frame_timesteps, steps=steps)
            return InputPlan(inputs={"Input": x})

        return adapt
