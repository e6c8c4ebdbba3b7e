"""The Simulator: one population of a model on one backend.

It validates everything the user passes before any state changes, evaluates
params, precompute and initial values on the host (float64), and talks to
the backend only through the contract of :mod:`eqsnn.backends` (``emit``,
``load``, ``Program.start`` and the ``Runner`` methods), so any backend
plugs in.
"""

from __future__ import annotations

import math
import time
import types
from collections.abc import Mapping

import numpy as np

from ..backends import EmitOptions, Instance, get_backend
from ..errors import NumericalError, ParameterError, ShapeError
from ..solve.adaptive import precision_params
from . import host
from .arguments import (
    check_dt_precision,
    count,
    population_shape,
    positive_int,
    precision_name,
    resolve_model,
    seed_value,
    time_step_value,
)
from .checks import (
    CHECK_ALL,
    deferred_states,
    untouched_states,
    with_checks,
)
from .guard import Snapshot, check_record_memory, check_state_memory, record_bytes
from .inputs import (
    check_device_inputs,
    check_numeric,
    check_range,
    prepare_inputs,
    prepare_record,
    unknown_name,
)
from .progress import run_with_progress
from .quantities import from_internal, time_step, to_internal, unit_symbols
from .reports import RunReports, started_bad
from .result import Result, RunInfo, Spikes, Timing
from .spike_bits import SpikeBits
from .spike_offsets import SPIKE_OFFSET, spike_offset_source, split_offset_request
from .state_view import StateView
from .values import (
    as_flag,
    as_mapping,
    check_hidden_params,
    check_init_names,
    check_literals,
    initial_states,
    prepare_arrays,
    prepare_params,
    state_value,
)

__all__ = ["Simulator"]

#: runtime params the Simulator knows how to set (``ir.Model.runtime_params``)
RUNTIME_PARAMS = ("run_steps",)


#: the last step number a run may reach: the backends count steps in a signed 64-bit int
MAX_STEP = 2**63 - 1

#: what a Simulator is made for: fixed once it is (a new dt would need a new update)
SETTINGS = ("shape", "n", "batch_size", "dt", "precision", "seed", "check", "model",
            "backend", "source")


class Simulator(RunReports):
    """``n`` neurons (an int or a shape; neuron id = C-order flat index) in ``batch_size`` lanes.

    ``model`` is an :class:`eqsnn.Model`, an :class:`eqsnn.ir.Model` or a
    standard-library neuron (an object with ``build``).  ``params`` maps
    param names to a scalar or one value per neuron (and array names to 1-D
    data); ``init`` maps state names to initial values (scalar, per neuron,
    or ``(batch, *shape)``).  ``dt`` is the time step in ms (or with a unit:
    ``"100 us"``, ``0.1 * eqsnn.units.ms``), ``backend`` ``"numpy"`` (the
    default), ``"c"``, ``"cupy"`` or ``"pygenn"``, ``precision``
    ``"float32"`` (the default) or ``"float64"``, ``seed`` the key of the
    random draws.
    ``fast_math=True`` lets the compiled backends (``c``, ``cupy``) trade
    reproducibility for speed (contracted multiply-adds, float32 math
    functions), and ``pygenn`` print GeNN's float functions; the ``numpy``
    backend ignores it.

    ``check=True`` (the default) records, inside the kernel, the first step at
    which each neuron's float states became NaN or infinite or left their
    declared bounds; a run where that happened raises
    :class:`~eqsnn.errors.NumericalError` (carrying the run's Result) once it
    is done. ``check=False`` leaves the test out, for speed measurements.
    """

    #: set by a network that runs this population in windows of a longer run: ``(the
    #: run's steps, whether this window starts it)``; a readout then spans the whole run
    _window: tuple | None = None

    def __setattr__(self, name, value):
        if name in SETTINGS and "_runner" in self.__dict__:  # compiled and started for them
            raise ParameterError(
                f"Simulator.{name} is fixed when the simulator is made (it is "
                f"{getattr(self, name)!r}): the update was derived and compiled for it, and "
                "changing it here would change nothing but the label",
                hint=f"make a new Simulator(...) for another {name}")
        object.__setattr__(self, name, value)

    def __copy__(self):
        # a copy would share the loaded backend's states with this simulator: running one
        # would move the other's states but not its step counter
        raise ParameterError(
            "a Simulator cannot be copied or pickled: it holds the backend's loaded program "
            "and its states, which a copy would share (or lose)",
            hint="make another Simulator(...) with the same arguments; sim.state gives the "
                 "values to pass as init=")

    def __deepcopy__(self, memo):
        self.__copy__()

    def __reduce_ex__(self, protocol):
        self.__copy__()

    def __init__(self, model, n, *, batch_size=1, dt=1.0, backend="numpy",
                 precision="float32", params=None, init=None, seed=0, fast_math=False,
                 check=True):
        self.shape = population_shape(n)
        self.n = math.prod(self.shape)
        self.batch_size = positive_int("batch_size", batch_size)
        self.dt = time_step_value(time_step(dt))
        self.precision = precision_name(precision)
        check_dt_precision(self.dt, self.precision)
        self.seed = seed_value(seed)
        as_flag("fast_math", fast_math)
        self.check = as_flag("check", check)
        self.model, self._build = resolve_model(model, self.shape, self.batch_size, self.dt,
                                                self.seed)
        unsupported = set(self.model.runtime_params) - set(RUNTIME_PARAMS)
        if unsupported:
            raise ParameterError(f"the Simulator cannot set runtime params {sorted(unsupported)}")
        if self._build is not None:
            params = {**self._build.params, **dict(as_mapping("params", params))}
            init = {**self._build.init, **dict(as_mapping("init", init))}
            params = {**self._build.arrays, **params}
        params = {**precision_params(self.model, self.precision),
                  **check_hidden_params(self.model, as_mapping("params", params))}
        check_literals(self.model, self.precision)
        self._params = prepare_params(self.model, params, self.shape, self.precision)
        arrays = prepare_arrays(self.model, params, self.precision)
        values = {**self._params, **self._runtime_values(1)}
        backend_module = get_backend(backend)
        #: the model the backend runs: with the numerical check unless check=False
        keep = not getattr(backend_module, "FOLDS_ZERO_PRODUCTS", False)
        self._emitted = (with_checks(self.model, self.precision, keep=keep) if check
                         else self.model)
        if deferred_states(self._emitted):
            values[CHECK_ALL] = np.int32(0)  # the first pass (see _second_pass)
        check_state_memory(self._emitted, self.n, self.batch_size, self.precision)
        precompute = self._precompute(values)
        check_init_names(self.model, as_mapping("init", init))  # as a network does
        self._initial = initial_states(self._emitted, values, precompute, init,
                                       self.batch_size, self.shape, self.dt, self.precision)
        values.update(precompute)
        for name in self.model.precompute_names:
            check_range(f"the precomputed value {host.describe_precompute(self.model, name)} "
                        "(params and dt)", np.asarray(values[name]),
                        self.precision)
        per_neuron = frozenset(name for name, value in values.items() if np.ndim(value) == 1)
        self.backend = backend
        options = EmitOptions(self.precision, per_neuron, fast_math)
        self.source = backend_module.emit(self._emitted, options)
        program = backend_module.load(self.source)
        instance = Instance(self.n, self.batch_size, self.dt, self.precision, values,
                            self._initial, arrays, self.seed)
        self._runner = program.start(instance)
        self._values = values  # what the runner holds now, to restore after a failed run
        self._arrays = arrays
        self._step = 0

    # --- running ---------------------------------------------------------
    def run(self, steps, inputs=None, record=(), *, progress=None,
            record_memory=None) -> Result:
        """Advance ``steps`` steps from the current state and return what was recorded.

        ``inputs`` maps input names to arrays broadcastable to
        ``(steps, batch, *shape)``; a scalar, ``shape`` or ``(batch, *shape)``
        value is held for every step.  ``record`` names states and/or
        ``"spikes"``, or maps a state to the neuron ids to record.
        ``record_memory`` bounds the bytes recording may take (default: the
        memory available now; ``math.inf``: no check); it is checked before
        the first step.  A run that raises (Ctrl-C included) is rolled back:
        state, ``step`` and ``t`` are as before it.
        """
        started = time.perf_counter()
        steps = count("steps", steps)
        if self._step + steps > MAX_STEP:  # a C int64: beyond it the kernels' count wraps
            raise ParameterError(
                f"steps={steps} would take the step counter from {self._step} past "
                f"{MAX_STEP} (2**63 - 1), the most the backends count; nothing was run",
                hint="run fewer steps (sim.reset() restarts the count at 0)")
        if progress is not None and not isinstance(progress, bool):  # 0 == False, np.True_
            raise ParameterError(f"progress must be None, True or False, not {progress!r}",
                                 hint="None shows a bar for runs expected to last over 2 s")
        inputs = dict(as_mapping("inputs", inputs))
        plan = self._input_plan(inputs, steps)
        if plan is not None:
            inputs = {**{k: v for k, v in inputs.items() if k != self._build.input_name},
                      **plan.inputs}
        check_device_inputs(self._runner, self.backend, inputs)
        inputs = {name: to_internal(self.model, "input", name, value)
                  for name, value in inputs.items()}
        prepared = prepare_inputs(self.model, inputs, steps, self.batch_size, self.shape,
                                  self.precision)
        record, offset_wanted = split_offset_request(self.model, record)
        chosen, record_spikes = prepare_record(self.model, record, self.n, self.shape)
        offset = spike_offset_source(self.model, chosen, record_spikes, offset_wanted, self.dt)
        runtime = {}
        if self.model.runtime_params:
            runtime = self._runtime_values(steps)
            runtime.update(self._precompute({**self._params, **runtime}))
        plan_states, plan_arrays = self._checked_plan(plan)
        check_record_memory(record_bytes(self.model, chosen, record_spikes, steps,
                                         self.batch_size, self.n, self.precision),
                            record_memory, chosen, steps)
        # --- valid: from here on the population changes, all or nothing ---
        untouched = untouched_states(self._emitted)  # copied by _second_pass if it runs
        snapshot = Snapshot(self._runner, [s.name for s in self._emitted.states
                                           if s.name not in untouched],
                            {name: self._values[name] for name in runtime if name in self._values},
                            {name: self._arrays[name] for name in plan_arrays
                             if name in self._arrays})
        try:
            result = self._run(steps, prepared, chosen, record_spikes, progress, runtime,
                               plan_states, plan_arrays, started, offset)
            recorded = self._second_pass(snapshot, (steps, prepared, {}, False, False, runtime,
                                                    plan_states, plan_arrays, started))
        except BaseException:
            snapshot.restore()
            raise
        self._values.update(runtime)
        self._arrays.update(plan_arrays)
        self._step += steps
        try:
            self._report(result, recorded)  # a NumericalError leaves the population advanced
        except NumericalError as error:
            started_bad(error, snapshot, self._step - steps, self.model)
            raise
        return result

    def _run(self, steps, prepared, chosen, record_spikes, progress, runtime, plan_states,
             plan_arrays, started, offset=None) -> Result:
        """The part of :meth:`run` that changes the population; ``step`` is advanced by the
        caller once it returned."""
        for name, value in runtime.items():
            self._runner.set_value(name, value)
        if self.model.readout is not None and (self._window is None or self._window[1]):
            for name in self.model.readout.reset:
                self._runner.set_state(name, self._initial[name])
        for name, value in plan_states.items():
            self._runner.set_state(name, value)
        for name, value in plan_arrays.items():
            self._runner.set_array(name, value)
        bits = False
        if record_spikes is not False:
            bits = SpikeBits.empty(steps, self.batch_size, self.n, self.model.signed)
        raw, simulate = run_with_progress(self._runner, steps, self._step, prepared, chosen,
                                          bits, progress)
        first_step = self._step
        if offset == SPIKE_OFFSET:  # recorded as a hidden state, handed to the spikes only
            offset = raw.vars[SPIKE_OFFSET].reshape((steps, self.batch_size, self.n))
            chosen = {name: index for name, index in chosen.items() if name != SPIKE_OFFSET}
        variables = {
            name: from_internal(self.model, name, raw.vars[name].reshape(
                (steps, self.batch_size) + self.shape) if index is None else raw.vars[name])
            for name, index in chosen.items()
        }
        spikes = None
        if bits is not False:
            if record_spikes is not True:
                bits.keep_only(record_spikes)
            spikes = Spikes(bits, self.dt, first_step, self.batch_size, self.shape, offset)
        readout = None
        if self.model.readout is not None:
            value = self._runner.get_state(self.model.readout.state)
            readout = from_internal(self.model, self.model.readout.state,
                                    value.reshape((self.batch_size,) + self.shape))
        timing = Timing(steps, time.perf_counter() - started, simulate)
        ids = tuple((name, tuple(int(i) for i in index))
                    for name, index in chosen.items() if index is not None)
        info = RunInfo(self.model.name, self.backend, self.precision, self.dt, self.batch_size,
                       first_step, ids)
        return Result(types.MappingProxyType(variables), spikes, readout, timing, self.shape,
                      types.MappingProxyType(unit_symbols(self.model, variables)), info)

    def reset(self) -> None:
        """Restore every state to its initial value and the step counter (and ``t``) to 0."""
        snapshot = Snapshot(self._runner, self._initial)
        try:
            for name, value in self._initial.items():
                self._runner.set_state(name, value)
        except BaseException:
            snapshot.restore()
            raise
        self._step = 0

    # --- state -----------------------------------------------------------
    @property
    def state(self) -> Mapping[str, np.ndarray]:
        """Read-only mapping: state name -> a copy of its value, ``(batch, *shape)``."""
        return StateView(self)

    def set_state(self, name: str, value) -> None:
        """Write state ``name``: a scalar, one value per neuron, or ``(batch, *shape)``, in the
        state's declared unit (or with a unit: ``-65 * eqsnn.units.mV``)."""
        check_init_names(self.model, (name,))  # as init= is checked: hidden states too
        value = to_internal(self.model, "state", name, value)
        full = state_value(self.model, name, value, self.batch_size, self.shape, self.precision)
        self._runner.set_state(name, full)

    @property
    def step(self) -> int:
        """Steps simulated since construction or the last reset."""
        return self._step

    @property
    def t(self) -> float:
        return self._step * self.dt

    # --- helpers ---------------------------------------------------------
    def _precompute(self, values) -> dict:
        return host.evaluate_precompute(self.model, values, self.dt)

    def _runtime_values(self, steps: int) -> dict:
        run = steps if self._window is None else self._window[0]
        known = {"run_steps": np.float64(max(run, 1))}
        return {name: known[name] for name in self.model.runtime_params}

    def _input_plan(self, inputs, steps):
        build = self._build
        if build is None or build.input_name is None or build.input_name not in inputs:
            return None
        return build.adapt_input(inputs[build.input_name], steps=steps, step0=self._step)

    def _checked_plan(self, plan) -> tuple[dict, dict]:
        if plan is None:
            return {}, {}
        states = {name: state_value(self.model, name, value, self.batch_size, self.shape,
                                    self.precision) for name, value in plan.states.items()}
        arrays = {}
        declared = {a.name: a for a in self.model.arrays}
        for name, value in plan.arrays.items():
            if name not in declared:
                raise unknown_name("array", name, declared)
            data = check_numeric(f"array {name!r}", value, declared[name].dtype)
            if data.ndim != 1 or data.size == 0:
                raise ShapeError(f"array {name!r} must be 1-D and not empty; "
                                 f"got shape {data.shape}")
            if declared[name].dtype == "float":
                check_range(f"array {name!r}", data, self.precision)
            arrays[name] = data
        return states, arrays

    def __repr__(self) -> str:
        return (f"<Simulator {self.model.name}: shape {self.shape} x {self.batch_size} lanes, "
                f"{self.backend} {self.precision}, step {self._step}>")
