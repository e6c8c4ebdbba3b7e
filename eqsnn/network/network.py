"""The :class:`Network`: populations, connections with delays, one step order.

Each population that receives connections runs its neuron model composed with
the synapse model of every incoming connection (:mod:`eqsnn.network.compose`)
in an ordinary :class:`~eqsnn.Simulator`; the network moves spikes between
them on the host.  At step k (``docs/network.md``, "The step"):

1. each connection sums, from 0 in the model precision, the weights of the
   spikes that arrive in this step (emitted at step k - d), in (emission step,
   pre, row) order, and its ``on_spike`` runs once with that sum;
2. postsynaptic outputs, computed from the target's start-of-step state, are
   added to the target's input after the user's own input, in connection order;
3. the postsynaptic dynamics advance;
4. the neurons step;
5. this step's spikes are queued for step k + d.

Since every delay is at least ``d_min`` steps, the arrivals of a window of
``d_min`` steps are all known at its start: the network sums them for the
whole window, runs every population for the window (one backend call each),
and collects their spikes.  On ``c`` the whole run is instead one call into
C, with the same results (:mod:`eqsnn.network.fused`).  A delay of d steps is GeNN's
``axonal_delay_steps = d - 1`` and Brian2's ``delay = (d - 1) dt``.
"""

from __future__ import annotations

import itertools
import types
from collections.abc import Mapping

import numpy as np

from ..errors import BackendError, EqsnnError, ParameterError
from ..runtime.checks import check_every_step
from ..runtime.inputs import unknown_name
from ..runtime.simulator import Simulator
from . import compose
from .arguments import (
    check_connectivity,
    check_endpoints,
    check_target_input,
    new_name,
    population_size,
    refuse_plastic_weight_unit,
    refuse_rule_values_without_rule,
)
from .connectivity import Dense, check_memory
from .fused import FusedRun, unfused_reason
from .parts import (
    NETWORK_BACKENDS,
    Connection,
    Population,
    _delays,
    _direct,
    _key,
    _per_synapse,
    _synapse,
)
from .rollback import NetworkSnapshot
from .running import WindowedRun
from .second_pass import stepped_by_network
from .structure import SETTINGS, ReadOnly, fixed_setting, spike_trains
from .values import check_values, named

__all__ = ["Network"]


class Network(WindowedRun):
    """Populations connected by synapses with delays, run on numpy, c, cupy or pygenn.

    ``dt`` is the time step, ``batch_size`` the number of lanes (all lanes share the
    connectivity and start from the same weights; a plastic connection's weights then
    change per lane), ``seed`` the key from which every population's random draws and
    every connection's connectivity are derived.

    On ``c`` a run is one call into C (:mod:`eqsnn.network.fused`);
    ``unfused_reason`` says, once the network is built, why it runs in windows of the
    smallest delay instead (None where it runs fused).  On ``cupy`` the windows' arrivals
    are summed on the GPU (:mod:`eqsnn.backends.cupy_network`); ``host_arrivals_reason``
    says, once the network is built, why they are not (None where they are).

    ``check=False`` leaves the numerical check out of every population, synapse and
    plastic connection, as ``Simulator(..., check=False)`` does (for speed measurements):
    a healthy run gives the same states and spikes, and no failure is reported.
    """

    def __init__(self, *, dt=1.0, batch_size=1, backend="numpy", precision="float32", seed=0,
                 fast_math=False, check=True):
        from ..runtime import arguments  # the Simulator's argument checks
        from ..runtime.values import as_flag
        self.check = as_flag("check", check)
        from ..runtime.quantities import time_step
        self.dt = arguments.time_step_value(time_step(dt))  # "0.1 ms" too, as a Simulator
        self.batch_size = arguments.positive_int("batch_size", batch_size)
        self.precision = arguments.precision_name(precision)
        arguments.check_dt_precision(self.dt, self.precision)
        self.seed = arguments.seed_value(seed)
        if backend not in NETWORK_BACKENDS:
            from ..backends import get_backend
            get_backend(backend)  # an unknown name gets the usual error
            raise BackendError(
                f"networks do not run on the {backend} backend yet",
                hint=f"use one of: {', '.join(NETWORK_BACKENDS)}")
        self.backend = backend
        self.fast_math = as_flag("fast_math", fast_math)
        self._populations: dict[str, Population] = {}
        self._connections: dict[str, Connection] = {}
        self._views = (ReadOnly(self._populations, "populations"),
                       ReadOnly(self._connections, "connections"))
        self._built = False
        self._step = 0
        self._history: dict[str, tuple] = {}
        self._genn = None  # the GeNN model of the whole network on pygenn
        self._fused = None  # a FusedRun where the whole network runs in C (fused.py)
        self._device = None  # a DeviceArrivals where cupy sums the arrivals on the GPU
        self.host_arrivals_reason: str | None = None
        self.unfused_reason: str | None = None
        self._interrupted = False  # a pygenn run that did not finish (rollback.py)

    def __setattr__(self, name, value):
        if name in SETTINGS and "_populations" in self.__dict__:  # made for them: fixed
            raise fixed_setting(self, name)
        object.__setattr__(self, name, value)

    @property
    def populations(self) -> Mapping[str, Population]:
        """Population name -> :class:`Population`, in the order added (read only)."""
        return self._views[0]

    @property
    def connections(self) -> Mapping[str, Connection]:
        """Connection name -> :class:`Connection`, in the order made (read only)."""
        return self._views[1]

    # --- building ------------------------------------------------------------
    def _check_open(self):
        if self._built:
            raise ParameterError("the network has been built (it ran or its state was read)",
                                 hint="add every population and connection before the first "
                                 "run; build a new Network to change its structure")

    def add_population(self, name, model, n, *, params=None, init=None) -> Population:
        """``n`` neurons of ``model`` (an eqsnn.Model or a standard-library neuron)."""
        self._check_open()
        name = new_name(self, name, None)
        pop = Population(self, name, model, population_size(name, n), params, init)
        pop._values = check_values(f"population {name!r}", pop.ir, pop.params, pop.init,
                                   pop.n, self, pop._build)
        if pop.ir.arrays and pop._build is not None and pop._build.input_name is not None:
            raise ParameterError(
                f"population {name!r}: {pop.ir.name} reads its spike times from a data input, "
                "which a network does not cut into windows",
                hint="give the spike trains with Network.add_spike_source(name, n, "
                "times=..., neurons=...)")
        if self.backend == "pygenn":  # what GeNN cannot build, refused before it is added
            from ..backends.pygenn_network_parts import refuse_population
            refuse_population(pop)
        self._populations[name] = pop
        return pop

    def add_spike_source(self, name, n, *, steps=None, neurons=None, times=None) -> Population:
        """``n`` neurons that spike when told: at ``steps`` (step indices counted from the
        last reset) or at ``times`` (ms; a spike at time s comes at the first step k with
        k dt >= s), for the neurons ``neurons``.  Every lane gets the same spikes; a neuron
        spikes at most once per step."""
        self._check_open()
        name = new_name(self, name, None)
        n = population_size(name, n)
        at, ids = spike_trains(name, n, steps, neurons, times, self.dt)
        pop = Population(self, name, None, n, None, None, spikes=(at, ids))
        self._populations[name] = pop
        return pop

    def connect(self, source, target, synapse, *, connectivity=None, weight=1.0, delay=1,
                target_input="Isyn", name=None, synapse_params=None,
                synapse_init=None, weight_update=None, weight_update_params=None,
                weight_update_init=None) -> Connection:
        """Synapses from ``source`` to ``target`` (populations or their names).

        ``synapse`` is a standard-library synapse (``Exponential(5.0)``) or a compiled
        synapse model (then ``synapse_params``/``synapse_init`` give its values);
        ``connectivity`` one of :mod:`eqsnn.network.connectivity` (default Dense);
        ``weight`` a scalar, an array with one value per synapse (for Dense also
        ``(n_source, n_target)``; for FromList in the list's order) or an Initializer;
        where the synapse model gives its weight a unit (that of the state ``on_spike``
        adds it to), plain numbers are in that unit and a Quantity or a string
        (``"6 nS"``) is converted; ``delay`` whole steps >= 1 as a scalar, an array (or a matrix, as
        the weight) or an Initializer (its draws rounded to whole steps), or a time (``"1.5 ms"``,
        ``1.5 * eqsnn.units.ms``) rounded to whole steps of ``dt``.  ``weight_update``
        makes the weights plastic: a standard-library rule (``StdpAdditive(...)``) or a
        compiled ``weight_update`` model with ``weight_update_params`` /
        ``weight_update_init`` (see :mod:`eqsnn.network.plasticity`); the default keeps
        the weights static.
        """
        self._check_open()
        source, target = self._population(source), self._population(target)
        free = next(f"c{k}" for k in itertools.count(len(self.connections))
                    if f"c{k}" not in self.populations and f"c{k}" not in self.connections)
        name = new_name(self, name, free)
        check_endpoints(name, source, target)
        model, params, init = _synapse(name, synapse, synapse_params, synapse_init)
        checked = check_values(f"connection {name!r} (synapse {model.name})", model, params,
                               init, target.n, self)
        check_target_input(name, target, target_input)
        # the composed model must be valid before anything is stored
        incoming = [compose.Incoming(c.name, c.synapse_model, c.target_input)
                    for c in target.incoming]
        compose.compose(target.ir, (*incoming, compose.Incoming(name, model,
                                                                 target_input)))
        # before the connectivity is drawn, which may take long
        refuse_rule_values_without_rule(name, weight_update, weight_update_params,
                                        weight_update_init)
        connectivity = Dense() if connectivity is None else connectivity
        check_connectivity(name, connectivity)
        check_memory(f"connection {name!r}", connectivity, source.n, target.n)
        index = len(self.connections)
        rng = np.random.Generator(np.random.PCG64(_key(self.seed, 1, index)))
        pre, post, order = connectivity.build(source.n, target.n, source is target, rng)
        shell = types.SimpleNamespace(pre=pre, post=post, order=order, source=source,
                                      target=target, rng=rng)
        unit = dict(model.units).get("w")
        refuse_plastic_weight_unit(name, model, weight_update, unit)
        weights = _per_synapse(f"connection {name!r} weight", weight, shell, self.precision,
                               order, unit)
        delays = _delays(f"connection {name!r} delay", delay, shell, order, self.dt)
        conn = Connection(self, name, source, target, model, params, init, target_input,
                          pre, post, weights, delays)
        conn._values = checked
        if weight_update is not None:
            from .plasticity import attach
            attach(conn, weight_update, weight_update_params, weight_update_init)
        if self.backend == "pygenn":  # what GeNN cannot build, refused before it is stored
            from ..backends.pygenn_network_parts import refuse_connection, refuse_unprintable
            refuse_connection(conn)
            refuse_unprintable(conn)
        self._connections[name] = conn
        target._incoming.append(conn)
        return conn

    def _population(self, pop) -> Population:
        if isinstance(pop, Population) and pop.network is self:
            return pop
        if isinstance(pop, Population):
            raise ParameterError(f"population {pop.name!r} belongs to another Network",
                                 hint="connect, run and set the populations of one network, "
                                 "by object or by name")
        if isinstance(pop, str) and pop in self.populations:
            return self.populations[pop]
        raise unknown_name("population", pop, self.populations)

    def _build_all(self):
        if self._built:
            return
        for index, pop in enumerate(self.populations.values()):
            if pop.is_source or self.backend == "pygenn":
                continue
            seed = int(_key(self.seed, 0, index).generate_state(1, np.uint64)[0])
            incoming = tuple(compose.Incoming(c.name, c.synapse_model, c.target_input)
                             for c in pop.incoming)
            params, init = dict(pop._values[0]), dict(pop._values[1])
            if pop._build is not None and incoming:
                # the standard-library neuron again, with the population's own seed
                build = pop._model.build(shape=(pop.n,), batch_size=self.batch_size,
                                         dt=self.dt, seed=seed)
                params = {**build.arrays, **build.params, **params}
                init = {**build.init, **init}
            for conn in pop.incoming:
                pre = compose.prefix(conn.name)
                params.update({pre + k: v for k, v in conn._values[0].items()})
                init.update({pre + k: v for k, v in conn._values[1].items()})
            model = compose.compose(pop.ir, incoming) if incoming else (
                pop._model if pop._build is not None else pop.ir)
            pop._sim = Simulator(model, pop.n, batch_size=self.batch_size, dt=self.dt,
                                 backend=self.backend, precision=self.precision, params=params,
                                 init=init, seed=seed, fast_math=self.fast_math,
                                 check=self.check)
            pop._sim._population = pop.name  # named in its warnings
        self._d_min = min((int(np.min(c._delays)) for c in self.connections.values()
                           if c.n_synapses), default=None)
        self._d_max = max((int(np.max(c._delays)) for c in self.connections.values()
                           if c.n_synapses), default=0)
        self._clear_history()
        if self.backend == "pygenn":
            from ..backends.pygenn_network import PopulationView, build_network
            self._genn = build_network(self)
            for pop in self.populations.values():
                if not pop.is_source:
                    pop._sim = PopulationView(self._genn, pop.name)
        self.unfused_reason = unfused_reason(self)
        self._fused = FusedRun(self) if self.unfused_reason is None else None
        from ..backends.cupy_network import host_arrivals_reason, start
        self.host_arrivals_reason = host_arrivals_reason(self)
        self._device = start(self, _direct) if self.host_arrivals_reason is None else None
        for pop in self.populations.values():  # the others: network.second_pass
            if not pop.is_source and self._genn is None and not stepped_by_network(self, pop):
                check_every_step(pop._sim)
        self._built = True

    def build(self) -> None:
        """Compile and allocate every population now (the first run does it otherwise)."""
        self._build_all()

    def _built_sim(self, pop) -> Simulator:
        self._build_all()
        return pop._sim

    def reset(self, *, restore_weights=False) -> None:
        """Every population and synapse state back to its initial value, the step counter to
        0 and no spike in flight; weights and connectivity are kept.  Plastic connections
        keep their learned weights and per-synapse states and restart their traces; with
        ``restore_weights=True`` their weights and states return to the values given when
        connecting (or last set through ``Connection.weights``).  A reset that does not
        finish changes nothing (on pygenn, the next run asks for a reset again)."""
        from ..runtime.values import as_flag
        restore_weights = as_flag("restore_weights", restore_weights)  # "no" would be true
        snapshot = NetworkSnapshot(self)
        try:
            self._reset(restore_weights)
        except BaseException:
            snapshot.restore()
            raise

    def _reset(self, restore_weights) -> None:
        for conn in self.connections.values():
            if conn._plastic is not None:
                if restore_weights:
                    conn._plastic.start(conn._weights)
                else:
                    conn._plastic.reset_traces()
        if not self._built:
            return
        for pop in self.populations.values():
            if pop._sim is not None:
                pop._sim.reset()
        if self._genn is not None:
            self._interrupted = True  # until GeNN's model is loaded again
            self._genn.reset()
            self._interrupted = False
        self._clear_history()
        if self._fused is not None:
            self._fused.clear()
        if self._device is not None:
            self._device.clear()
        self._step = 0

    # --- state ------------------------------------------------------------------
    @property
    def state(self) -> Mapping[str, Mapping[str, np.ndarray]]:
        """Population name -> its neuron states (read-only copies, ``(batch, n)``)."""
        self._build_all()
        out = {}
        for name, pop in self.populations.items():
            if pop.is_source:
                continue
            states = [s.name for s in pop.ir.states]
            out[name] = types.MappingProxyType({s: pop._sim.state[s] for s in states})
        return types.MappingProxyType(out)

    def set_state(self, population, name, value) -> None:
        """Write a neuron state of ``population`` (as :meth:`Simulator.set_state`)."""
        pop = self._population(population)
        if pop.is_source or name not in {s.name for s in pop.ir.states}:
            raise unknown_name("state", name, set() if pop.is_source else
                               {s.name for s in pop.ir.states})
        self._build_all()
        try:
            pop._sim.set_state(name, value)
        except EqsnnError as error:  # which population's state: named
            raise named(error, f"population {pop.name!r}") from None

    @property
    def step(self) -> int:
        return self._step

    @property
    def t(self) -> float:
        return self._step * self.dt

    def __repr__(self) -> str:
        return (f"<Network: {len(self.populations)} populations, {len(self.connections)} "
                f"connections, {self.backend} {self.precision}, step {self._step}>")
