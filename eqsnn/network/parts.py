"""The pieces of a :class:`~eqsnn.network.Network`: its populations, its connections, the
result of a run, and the checks that turn a user's values into them."""

from __future__ import annotations

import types
from collections.abc import Mapping

import numpy as np

from .. import ir
from ..errors import ParameterError, ShapeError
from ..initializers import Initializer
from ..runtime.inputs import check_range
from ..runtime.result import Timing
from ..runtime.simulator import Simulator
from . import compose
from .values import time_quantity

__all__ = ["Connection", "NetworkResult", "Population"]

NETWORK_BACKENDS = ("numpy", "c", "cupy", "pygenn")
#: the longest delay, and the last step of a spike source, in steps (GeNN counts them in 32
#: bits)
MAX_DELAY = 2**31 - 1


def _key(seed: int, *words: int) -> np.random.SeedSequence:
    return np.random.SeedSequence([seed & 0xFFFFFFFF, seed >> 32, *words])


class Population:
    """A population of a neuron model (or a spike source) in a :class:`Network`."""

    def __init__(self, network, name, model, n, params, init, spikes=None):
        self.network, self.name, self.n = network, name, n
        self.params = _mapping(f"population {name!r} params", params)
        self.init = _mapping(f"population {name!r} init", init)
        self._spike_source = spikes  # (step, neuron) arrays, sorted, for a spike source
        self._values: tuple[dict, dict] = ({}, {})  # params and init as checked (values.py)
        self._model = model
        self._incoming: list[Connection] = []  # Network.connect appends
        self._sim: Simulator | None = None
        if spikes is None:
            self.ir, self._build = _resolve(model, n, network)
        else:
            self.ir, self._build = None, None

    @property
    def incoming(self) -> tuple[Connection, ...]:
        """The connections into this population, in the order made (read only)."""
        return tuple(self._incoming)

    @property
    def is_source(self) -> bool:
        return self._spike_source is not None

    @property
    def spiking(self) -> bool:
        return self.is_source or self.ir.spiking

    def source_spikes(self, step0: int, steps: int, batch: int) -> tuple:
        """A spike source's spikes in steps ``[step0, step0 + steps)``, the same in every
        lane: ``(step, lane, neuron)`` arrays in (step, neuron, lane) order."""
        at, ids = self._spike_source
        lo, hi = np.searchsorted(at, [step0, step0 + steps])
        return (np.repeat(at[lo:hi], batch), np.tile(np.arange(batch, dtype=np.int64), hi - lo),
                np.repeat(ids[lo:hi], batch))

    def __repr__(self) -> str:
        kind = "spike source" if self.is_source else self.ir.name
        return f"<Population {self.name!r}: {self.n} x {kind}>"


class Connection:
    """Synapses from ``source`` to ``target`` through a synapse model into ``target_input``.

    ``pre``, ``post`` and :attr:`weights` / :attr:`delays` are per synapse in CSR order
    (see :mod:`eqsnn.network.connectivity`).  Weights can be read and set between runs.
    """

    def __init__(self, network, name, source, target, synapse_model, synapse_params,
                 synapse_init, target_input, pre, post, weights, delays):
        self.network, self.name = network, name
        self.source, self.target = source, target
        self.synapse_model, self.synapse_params = synapse_model, synapse_params
        self.synapse_init = synapse_init
        self._values: tuple[dict, dict] = ({}, {})  # as checked when connecting (values.py)
        self.target_input = target_input
        self.pre, self.post = pre, post
        self.pre.flags.writeable = False
        self.post.flags.writeable = False
        self._weights = weights
        self._delays = delays
        if self.pre.size:
            self._delay_range = (int(np.min(delays)), int(np.max(delays)))
        else:
            self._delay_range = (1, 1)
        counts = np.bincount(pre, minlength=source.n)
        self._indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self._plastic = None  # a plasticity.Plastic where the connection has a weight update

    @property
    def n_synapses(self) -> int:
        return int(self.pre.size)

    @property
    def _weight_unit(self):
        return dict(self.synapse_model.units).get("w")

    @property
    def weights(self) -> np.ndarray:
        """A copy of the weights, one per synapse, in the model precision (in the weight's
        declared unit where the synapse model has units); for a plastic connection
        ``(batch, n_synapses)``, the weights of every lane now."""
        weights = (self._plastic.state["w"] if self._plastic is not None
                   else self._weights).copy()
        unit = self._weight_unit
        if unit is None or unit.factor == 1:
            return weights
        return np.asarray(unit.from_internal(weights.astype(np.float64)), weights.dtype)

    @weights.setter
    def weights(self, value) -> None:
        if isinstance(value, Initializer):
            raise ParameterError(
                f"connection {self.name!r}: weights are set from arrays between runs",
                hint="sample the values yourself (one per synapse), or give the initializer "
                "to Network.connect")
        weights = _per_synapse(f"connection {self.name!r} weights", value, self,
                               self.network.precision, None, self._weight_unit)
        if self._plastic is not None:  # every lane gets these weights
            self._plastic.set("w", weights)
        self._weights = weights

    @property
    def plastic_state(self) -> Mapping[str, np.ndarray]:
        """A plastic connection's per-synapse states ``(batch, n_synapses)`` and traces
        ``(batch, n_source)`` / ``(batch, n_target)``, as copies; empty when static."""
        if self._plastic is None:
            return types.MappingProxyType({})
        return types.MappingProxyType({k: v.copy() for k, v in self._plastic.state.items()})

    def set_plastic_state(self, name, value) -> None:
        """Set a per-synapse state (``w`` too) or trace of a plastic connection: a scalar,
        one value per synapse (or neuron), or one row per lane ``(batch, n)``."""
        if self._plastic is None:
            raise ParameterError(f"connection {self.name!r} has no weight-update model",
                                 hint="set its weights with Connection.weights")
        if name not in self._plastic.state:
            from ..runtime.inputs import unknown_name
            raise unknown_name("plastic state", name, self._plastic.state)
        self._plastic.set(name, value)

    @property
    def delays(self) -> np.ndarray:
        """The delays in steps, one per synapse (read only)."""
        out = np.broadcast_to(self._delays, self.pre.shape).copy()
        out.flags.writeable = False
        return out

    @property
    def state(self) -> Mapping[str, np.ndarray]:
        """The synapse model's state per target neuron: name -> ``(batch, n_target)``."""
        sim = self.network._built_sim(self.target)
        pre = compose.prefix(self.name)
        return types.MappingProxyType(
            {s.name: sim.state[pre + s.name] for s in self.synapse_model.states})

    def __repr__(self) -> str:
        plastic = "" if self._plastic is None else f", plastic {self._plastic.model.name}"
        return (f"<Connection {self.name!r}: {self.source.name} -> {self.target.name}."
                f"{self.target_input}, {self.synapse_model.name}, {self.n_synapses} synapses"
                f"{plastic}>")


class NetworkResult(Mapping):
    """Population or connection name -> :class:`~eqsnn.Result` of one run.

    A connection's result holds the synapse states it recorded (no spikes).
    """

    def __init__(self, results: dict, timing: Timing):
        self._results = results
        self.timing = timing

    def __getitem__(self, name):
        return self._results[name]

    def __iter__(self):
        return iter(self._results)

    def __len__(self) -> int:
        return len(self._results)


class _Raw:
    """A user's input passed through unchanged (a standard-library data input)."""

    def __init__(self, value):
        self.value = value


def _direct(sim) -> bool:
    """Whether the network may drive the Simulator's runner itself (a plain model: no
    readout, no run-time params, no standard-library data input), skipping the
    per-call checks that it made once for the whole run."""
    model = sim.model
    return model.readout is None and not model.runtime_params and sim._build is None


def _owner(connections, pop, state):
    """``(model, name)``: the model that declares a recorded state of ``pop``'s simulator
    and the state's name there: a neuron state, or (``<conn>__<state>``) a synapse state
    (model None where the connection is not known)."""
    if "__" not in state:
        return pop.ir, state
    conn, name = state.split("__", 1)
    return (connections[conn].synapse_model if conn in connections else None), name


def _unit_of(connections, pop, state) -> str | None:
    """The declared unit of a recorded state (:func:`_owner`), as a Result lists it."""
    from ..runtime.quantities import declared_units
    model, name = _owner(connections, pop, state)
    unit = declared_units(model).get(name)
    return None if unit is None else str(unit)


def _recorded(records, pname):
    """``(record key, state, neuron ids or None)`` for every state recorded from population
    ``pname``'s simulator (its own states and those of the connections into it)."""
    for key, plan in records.items():
        if plan[0] in ("population", "target") and plan[1] == pname:
            for state, index in plan[2].items():
                yield key, state, index


def _mapping(what, value) -> dict:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ParameterError(f"{what} must be a mapping, not {type(value).__name__}")
    return dict(value)


def _resolve(model, n, network):
    from ..runtime.arguments import resolve_model
    inner = getattr(model, "ir", model)
    if isinstance(inner, ir.Model) and inner.meta.get("kind") in ("synapse", "weight_update"):
        raise ParameterError(f"{inner.name} is a {inner.meta['kind'].replace('_', '-')} model, "
                             "not a neuron model", hint="pass it to Network.connect as the "
                             + inner.meta["kind"])
    return resolve_model(model, (n,), network.batch_size, network.dt, network.seed)


def _synapse(name, synapse, params, init):
    if callable(getattr(synapse, "build", None)):
        if params or init:
            raise ParameterError(f"connection {name!r}: give a standard-library synapse's "
                                 "values to its constructor, not synapse_params")
        model, params = synapse.build()
        init = {}
    else:
        model = synapse
        params, init = dict(_mapping("synapse_params", params)), dict(
            _mapping("synapse_init", init))
    model_ir = getattr(model, "ir", model)
    if isinstance(model_ir, ir.Model) and model_ir.meta.get("kind") == "weight_update":
        raise ParameterError(f"connection {name!r}: {model_ir.name} is a weight-update model, "
                             "not a synapse (postsynaptic) model",
                             hint="pass it as weight_update=..., with a synapse such as "
                             "eqsnn.network.Delta() or Exponential(tau)")
    if not isinstance(model_ir, ir.Model) or model_ir.meta.get("kind") != "synapse":
        raise ParameterError(
            f"connection {name!r}: expected a synapse model, got {type(model).__name__}",
            hint="write one starting with 'synapse NAME' and compile it, or use "
            "eqsnn.network.Exponential(...) and the other standard-library synapses")
    return model_ir, params, init


def _quantity_in(what, value, unit, dimension_words="the synapse model's weight"):
    """A Quantity or a string such as ``"6 nS"`` as float64 in the internal unit, checked
    against ``unit`` (the declared unit; None: the model has none); None for a plain value."""
    from ..runtime.quantities import _quantity
    from ..units import Quantity, Unit
    if not isinstance(value, (Quantity, Unit, str)):  # a unit alone: one of it
        return None
    quantity = _quantity(what, value)
    given = quantity.unit
    if given.symbol == "" and given.dimension.dimensionless:  # "0.5": a plain number
        return np.asarray(quantity.value, np.float64)
    if unit is None:
        raise ParameterError(f"{what}: {dimension_words} has no unit; got {quantity}",
                             hint="give a plain number, or give the synapse state that "
                             "'on_spike' adds the weight to a unit (state g = 0.0 nS)")
    if given.dimension != unit.dimension:
        raise ParameterError(f"{what} is in {unit} ({unit.dimension.words()}); got {quantity} "
                             f"({given.dimension.words()})",
                             hint=f"give it in {unit}, as a plain number or e.g. '1 {unit}'")
    return np.asarray(given.to_internal(np.asarray(quantity.value, np.float64)), np.float64)


def _per_synapse(what, value, conn, precision, order, unit=None):
    """Weights: a scalar, one per synapse, Dense's (n_pre, n_post), or an Initializer; plain
    numbers in the weight's declared ``unit``, a Quantity or ``"6 nS"`` converted; stored in
    the internal unit."""
    n = conn.pre.size
    if isinstance(value, Initializer):
        data = np.asarray(value.sample(conn.rng, n), np.float64)
        if unit is not None and unit.factor != 1:
            data = np.asarray(unit.to_internal(data), np.float64)
    else:
        if isinstance(value, bool):
            raise ParameterError(f"{what} must be numbers, not {value!r}")
        data = _quantity_in(what, value, unit)
        if data is None:
            try:
                data = np.asarray(value)
                if data.dtype.kind not in "iuf":  # None, bools, complex: not weights
                    raise TypeError
                data = data.astype(np.float64)
            except (TypeError, ValueError):
                raise ParameterError(f"{what} must be numbers, not {value!r}") from None
            if unit is not None and unit.factor != 1:
                data = np.asarray(unit.to_internal(data), np.float64)
        source, target = getattr(conn, "source", None), getattr(conn, "target", None)
        if data.ndim == 2 and source is not None and data.shape == (source.n, target.n):
            data = data[conn.pre, conn.post]
        elif data.ndim == 0:
            data = np.full(n, float(data))
        elif data.shape != (n,):
            plastic = getattr(conn, "_plastic", None) is not None
            raise ShapeError(f"{what} has shape {data.shape}; the connection has {n} synapses",
                             hint="give a scalar, one value per synapse (in the order of "
                             + ("Connection.pre/.post" if isinstance(conn, Connection) else
                                "the FromList, or of Connection.pre/.post for others")
                             + "), or for any connectivity an (n_source, n_target) matrix"
                             + ("; each lane's own weights, (batch, n_synapses), with "
                                "conn.set_plastic_state('w', ...)" if plastic else ""))
        elif order is not None:
            data = data[order]
    if not np.all(np.isfinite(data)):
        raise ParameterError(f"{what} must be finite")
    check_range(what, data, str(np.dtype(precision)))  # 1e39 would become inf in float32
    return data.astype(precision)


def _delays(what, value, conn, order, dt=None):
    """Whole steps >= 1, or a time (``"1.5 ms"``, ``1.5 * units.ms``) rounded to steps."""
    timed = time_quantity(what, value, "is a number of steps or a time",
                          "give whole steps (delay=3) or a time (delay='0.3 ms')")
    if timed is not None:
        quantity, ms = timed
        if not np.all(np.isfinite(ms)):
            raise ParameterError(f"{what} must be finite")
        if np.max(ms / dt) > MAX_DELAY:  # said before clipping: the steps it is
            raise ParameterError(f"{what} is {quantity}, {np.max(ms) / dt:.4g} steps of {dt} "
                                 f"ms, more than the {MAX_DELAY} a network takes",
                                 hint="check the unit, or leave out a connection that never "
                                 "delivers")
        value = np.rint(np.clip(ms / dt, -2.0**62, 2.0**62)).astype(np.int64)  # MAX_DELAY
        if value.ndim == 0 and value < 1:
            raise ParameterError(f"{what} is {quantity}, {int(value)} steps of {dt} ms; it "
                                 "must be at least 1 step",
                                 hint="a spike arrives in a later step than it is emitted")
    if isinstance(value, Initializer):
        # drawn per synapse in CSR order and rounded to whole steps
        drawn = np.asarray(value.sample(conn.rng, conn.pre.size), np.float64)
        if not np.all(np.isfinite(drawn)):
            raise ParameterError(f"{what}: the initializer drew a value that is not finite")
        value, order = np.rint(np.clip(drawn, -2.0**62, 2.0**62)).astype(np.int64), None
    data = np.asarray(value)
    if data.shape == (0,) and data.dtype.kind == "f":  # [] for a connection without synapses
        data = data.astype(np.int64)
    if data.size and data.dtype.kind in "iu" and data.max() > MAX_DELAY:
        raise ParameterError(f"{what} is {int(data.max())} steps, more than the {MAX_DELAY} a "
                             "network takes", hint="a delay is a whole number of steps of dt; "
                             "check the unit, or leave out a connection that never delivers")
    if data.dtype.kind not in "iu" or (data.ndim == 0 and isinstance(value, bool)):
        raise ParameterError(f"{what} must be whole steps (integers), not {value!r}",
                             hint="a delay of d steps delivers a spike of step k at step "
                             "k + d; convert times with round(delay / dt)")
    if data.ndim == 0:
        if data < 1:
            raise ParameterError(f"{what} must be at least 1 step, not {int(data)}",
                                 hint="a spike arrives in a later step than it is emitted")
        return np.asarray(int(data), np.int64)
    n = conn.pre.size
    source, target = getattr(conn, "source", None), getattr(conn, "target", None)
    if data.ndim == 2 and source is not None and data.shape == (source.n, target.n):
        data, order = data[conn.pre, conn.post], None  # as a weight matrix is read
    if data.shape != (n,):
        raise ShapeError(f"{what} has shape {data.shape}; the connection has {n} synapses",
                         hint="give a scalar, one value per synapse (in the order of the "
                         "FromList, or of Connection.pre/.post for others), or for any "
                         "connectivity an (n_source, n_target) matrix")
    if n and data.min() < 1:
        raise ParameterError(f"{what} must be at least 1 step; synapse "
                             f"{int(np.argmin(data))} has {int(data.min())}")
    data = data.astype(np.int64)
    return data[order] if order is not None else data
