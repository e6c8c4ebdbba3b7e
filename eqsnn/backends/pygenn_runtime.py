"""Running eqsnn models in GeNN: the runner behind the ``pygenn`` backend.

See :mod:`eqsnn.backends.pygenn` for what is built and how inputs, spikes,
params and arrays cross into GeNN.  Imported only by ``load``, so emitting
needs no PyGeNN.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import sys
import tempfile
import weakref

import numpy as np

from ..errors import BackendError
from ..printing.genn import GeNNSpec, genn_precision, genn_spec
from . import Instance, RawRun, Source, numpy_dtype

# --- running ------------------------------------------------------------------------------

#: the largest number of steps between two pulls of GeNN's spike recording buffer
RECORDING_STEPS = 1024


def spec_kwargs(spec: GeNNSpec, derived) -> dict:
    """``create_neuron_model`` keyword arguments of ``spec``; ``derived(name)`` gives each
    derived param's function of ``(pars, dt)``."""
    from pygenn import VarAccess

    kwargs = {
        "params": list(spec.params),
        "vars": [(n, t, getattr(VarAccess, a)) for n, t, a in spec.vars],
        "derived_params": [(n, derived(n)) for n in spec.derived_params],
        "sim_code": spec.sim_code,
        "threshold_condition_code": spec.threshold_condition_code,
        "reset_code": spec.reset_code,
        "extra_global_params": list(spec.extra_global_params),
        "additional_input_vars": list(spec.additional_input_vars),
    }
    return {key: value for key, value in kwargs.items() if value not in (None, [])}


@contextlib.contextmanager
def quiet_build(what: str):
    """Run GeNN's code generation and ``make`` quietly: file descriptors 1 and 2 (which
    ``make`` inherits) go to a temporary file and Python's ``sys.stdout``/``sys.stderr`` to
    a buffer; if the block fails, a BackendError carries the end of that output."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    python = io.StringIO()
    with tempfile.TemporaryFile(mode="w+b") as log:
        saved = [os.dup(1), os.dup(2)]
        try:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            try:
                with contextlib.redirect_stdout(python), contextlib.redirect_stderr(python):
                    yield
            finally:
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
        except Exception as exc:
            log.seek(0)
            output = (python.getvalue() + log.read().decode(errors="replace")).strip()
            raise BackendError(f"GeNN could not build {what}: {exc}"
                               + (f"\n--- GeNN's output (end) ---\n{output[-4000:]}"
                                  if output else ""),
                               hint="this is a bug in eqsnn or GeNN; please report it with "
                               "the model") from exc
        finally:
            for fd in saved:
                os.close(fd)


def genn_backend() -> str:
    """CUDA where this PyGeNN has it, else the single-threaded CPU backend."""
    from pygenn import genn_model

    return "cuda" if "cuda" in genn_model.backend_modules else "single_threaded_cpu"


def cache_dir() -> str:
    """Where GeNN builds go: ``pygenn`` in ``$EQSNN_CACHE_DIR``, else in
    ``$XDG_CACHE_HOME/eqsnn``, else in ``~/.cache/eqsnn``; a temporary folder if that fails."""
    root = os.environ.get("EQSNN_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "eqsnn")
    path = os.path.join(root, "pygenn")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        path = os.path.join(tempfile.gettempdir(), "eqsnn-pygenn")
        os.makedirs(path, exist_ok=True)
    return path


class Program:
    """An emitted model, ready to be built by GeNN for each population started."""

    def __init__(self, source: Source):
        self.source = source

    def start(self, instance: Instance) -> GeNNRunner:
        return GeNNRunner(self.source, instance)


#: (build digest, slot) of every GeNN model loaded in this process: GeNN's generated
#: library has global state, so two live runners must not load the same one
_LOADED: set = set()


def _claim(digest: str) -> str:
    slot = 0
    while (digest, slot) in _LOADED:
        slot += 1
    _LOADED.add((digest, slot))
    return f"eqsnn_{digest}_{slot}"


def _release(name: str) -> None:
    _, digest, slot = name.split("_")
    _LOADED.discard((digest, int(slot)))


class GeNNRunner:
    """One population in a GeNN model of its own (the Runner contract of eqsnn.backends).

    Where the GeNN backend cannot batch (CPU), lane ``b`` is population
    ``lane{b}`` and the built-in ``batch`` reads its int param ``eqsnn_lane``.
    """

    def __init__(self, source: Source, instance: Instance):
        model, options = source.model, source.options
        if instance.precision != options.precision:
            raise BackendError(
                f"the program was emitted for {options.precision}, not {instance.precision}")
        self.model, self.options, self.source = model, options, source
        self.n, self.batch, self.dt = instance.n, instance.batch, float(instance.dt)
        self.seed = int(instance.seed)
        self.backend = genn_backend()
        self.lanes = self.batch if self.backend == "single_threaded_cpu" else 1
        self.spec = genn_spec(model, options.precision, options.per_neuron,
                              batch="eqsnn_lane" if self.lanes > 1 else None,
                              wide_math=not options.fast_math)
        self.names = self.spec.code.names
        self.values = {}
        for name, value in instance.values.items():
            self.values[name] = np.array(value, np.float64)
        self.arrays = {name: np.asarray(value) for name, value in instance.arrays.items()}
        self.capacity = {name: len(value) for name, value in self.arrays.items()}
        self.states = {name: np.array(value) for name, value in instance.init.items()}
        self.genn = None
        self._build()

    # --- building ---------------------------------------------------------------------
    def _value_type(self, name: str) -> str:
        declared = {p.name: p.dtype for p in self.model.params}
        return declared.get(name, "int" if name in self.model.runtime_params else "float")

    def _scalar(self, name: str):
        value = self.values[name].reshape(-1)[0]
        return {"int": int, "bool": bool}.get(self._value_type(name), float)(value)

    def _derived_values(self) -> dict:
        return {genn: self._scalar(self.spec.origin[genn][1]) for genn in self.spec.derived_params}

    def _constant_params(self) -> dict:
        """The bool params with one value for all neurons, built into the code: GeNN cannot
        allocate a dynamic bool param (\"Value type 'bool' cannot be passed via FFI\")."""
        return {genn: self._scalar(self.spec.origin[genn][1])
                for genn, genn_type in self.spec.params if genn_type == "bool"}

    def _build(self) -> None:
        """Build (or reuse the cached build of) the GeNN model and load it with the state."""
        from pygenn import GeNNModel, VarAccess, create_current_source_model, create_neuron_model

        spec, derived = self.spec, self._derived_values()
        params = list(spec.params) + ([("eqsnn_lane", "int")] if self.lanes > 1 else [])
        kwargs = spec_kwargs(spec, lambda name: (lambda pars, dt, v=derived[name]: v))
        kwargs["params"] = params
        neuron = create_neuron_model(f"eqsnn_{self.model.name}", **kwargs)
        constants = self._constant_params()
        key = repr((self.source.text, self.n, self.batch, self.backend, derived, constants,
                    sorted(self.capacity.items())))
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        name = _claim(digest)
        self._finalizer = weakref.finalize(self, _release, name)
        genn = GeNNModel(genn_precision(self.options.precision), name,
                         backend=self.backend, time_precision="double")
        genn.dt = self.dt
        genn.seed = (self.seed % (2**32 - 1)) or 2**31 + 12345
        if self.lanes == 1:
            genn.batch_size = self.batch
        self.pops, self.sources = [], []
        for lane in range(self.lanes):
            values = {name: self._param_value(name) for name, _ in spec.params}
            if self.lanes > 1:
                values["eqsnn_lane"] = lane
            pop = genn.add_neuron_population(f"lane{lane}", self.n, neuron, values,
                                             {name: 0 for name, _, _ in spec.vars})
            for name, _ in params:
                if name not in constants:
                    pop.set_param_dynamic(name)
            for array in self.model.arrays:
                data = np.zeros(self.capacity[array.name], numpy_dtype(array.dtype,
                                                                     self.options.precision))
                pop.extra_global_params[self.names[array.name]].set_init_values(data)
            pop.spike_recording_enabled = self.model.spiking
            feeds = {}
            for item in self.model.inputs:
                genn_type = {"float": "scalar", "int": "int", "bool": "bool"}[item.dtype]
                feed = create_current_source_model(
                    f"eqsnn_feed_{item.dtype}", vars=[("value", genn_type,
                                                      VarAccess.READ_ONLY_DUPLICATE)],
                    injection_code="injectCurrent(value);")
                cs = genn.add_current_source(f"lane{lane}_{item.name}", feed, pop, {},
                                             {"value": 0})
                if self.names[item.name] != "Isyn":
                    cs.target_var = self.names[item.name]
                feeds[item.name] = cs
            self.pops.append(pop)
            self.sources.append(feeds)
        with quiet_build(f"neuron model {self.model.name!r}"):
            genn.build(cache_dir())
        words = -(-self.n // 32)
        self.recording = max(1, min(RECORDING_STEPS, 2**24 // (words * self.batch)))
        genn.load(num_recording_timesteps=self.recording if self.model.spiking else None)
        self.genn = genn
        self._push_all()

    def _param_value(self, genn_name: str):
        kind, name = self.spec.origin[genn_name]
        if kind == "length":
            return len(self.arrays[name])
        return self._scalar(name)

    def _push_all(self) -> None:
        for name, value in self.states.items():
            self._write_var(self.names[name], value)
        for genn_name, _, access in self.spec.vars:
            kind, name = self.spec.origin[genn_name]
            if access == "READ_ONLY":
                self._write_var(genn_name, np.broadcast_to(self.values[name], (self.n,)))
        for name, data in self.arrays.items():
            self._write_array(name, data)
        self.states = {}  # the device holds them now

    # --- variables --------------------------------------------------------------------
    def _views(self, genn_name: str):
        return [pop.vars[genn_name] for pop in self.pops]

    def _write_var(self, genn_name: str, value) -> None:
        value = np.asarray(value)
        for lane, var in enumerate(self._views(genn_name)):
            view = var.view
            if value.ndim == 2:  # (batch, n) state
                part = value[lane:lane + 1] if self.lanes > 1 else value
                view[...] = part.reshape(view.shape)
            else:
                view[...] = np.broadcast_to(value, view.shape)
            var.push_to_device()

    def _read_var(self, genn_name: str) -> np.ndarray:
        parts = []
        for var in self._views(genn_name):
            var.pull_from_device()
            parts.append(np.array(var.view).reshape(-1, self.n))
        return np.concatenate(parts)

    def _write_array(self, name: str, data) -> None:
        genn_name = self.names[name]
        for pop in self.pops:
            egp = pop.extra_global_params[genn_name]
            egp.view[:len(data)] = data
            egp.push_to_device()
            pop.set_dynamic_param_value(self.spec.code.array_lengths[name], len(data))

    def get_state(self, name: str) -> np.ndarray:
        dtype = numpy_dtype(self.model.state(name).dtype, self.options.precision)
        return self._read_var(self.names[name]).astype(dtype)

    def set_state(self, name: str, value) -> None:
        self._write_var(self.names[name], np.asarray(value))

    def set_value(self, name: str, value) -> None:
        """Replace a param, runtime param or precompute value (scalar, or (n,) per neuron)."""
        value = np.array(value, np.float64)
        genn_name = self.names[name]
        per_neuron = name in self.spec.per_neuron
        if not per_neuron and value.size != 1:
            raise BackendError(
                f"{name} was emitted as one value for all neurons but got shape {value.shape}",
                hint="emit with EmitOptions(per_neuron=...) naming it")
        old = self.values.get(name)
        self.values[name] = value if per_neuron else value.reshape(())
        if per_neuron:
            self._write_var(genn_name, np.broadcast_to(value, (self.n,)))
        elif genn_name in self.spec.derived_params or genn_name in self._constant_params():
            if old is None or self._rounded(old) != self._rounded(value):
                self._rebuild()
        else:
            for pop in self.pops:
                pop.set_dynamic_param_value(genn_name, self._scalar(name))

    def _rounded(self, value):
        return np.asarray(value, self.options.precision).tobytes()

    def set_array(self, name: str, value) -> None:
        """Replace the contents of an array (a longer one rebuilds the model)."""
        data = np.asarray(value).reshape(-1)
        self.arrays[name] = data
        if len(data) > self.capacity[name]:
            self.capacity[name] = len(data)
            self._rebuild()
        else:
            self._write_array(name, data)

    def _rebuild(self) -> None:
        self.states = {s.name: self.get_state(s.name) for s in self.model.states}
        self.genn.unload()
        self._finalizer()
        self._build()

    # --- running ----------------------------------------------------------------------
    def run(self, steps, step0, inputs, record, record_spikes) -> RawRun:
        steps, step0 = int(steps), int(step0)
        feeds = {}
        for item in self.model.inputs:
            value = np.asarray(inputs[item.name])
            if value.ndim != 3:
                raise BackendError(f"input {item.name} must be 3-D, got shape {value.shape}")
            feeds[item.name] = value
        outputs = {
            name: np.empty((steps, self.batch, self.n if index is None else len(index)),
                           numpy_dtype(self.model.state(name).dtype, self.options.precision))
            for name, index in record.items()}
        spiking = record_spikes and self.model.spiking
        signs = self.spec.code.sign_var if spiking and self.model.signed else None
        flags = np.zeros((steps, self.batch, self.n), np.int8) if spiking else None
        self.genn.timestep = step0
        chunk_start = 0
        for i in range(steps):
            for name, value in feeds.items():
                if i == 0 or value.shape[0] > 1:
                    self._feed(name, value[0 if value.shape[0] == 1 else i])
            self.genn.step_time()
            for name, index in record.items():
                state = self._read_var(self.names[name])
                outputs[name][i] = state if index is None else state[:, np.asarray(index)]
            if signs is not None:
                sign = self._read_var(signs)
                flags[i] = sign
            if spiking and (i + 1 - chunk_start == self.recording or i + 1 == steps):
                self._collect_spikes(flags, chunk_start, i + 1, step0, signed=signs is not None)
                chunk_start = i + 1
        if not spiking:
            empty = np.zeros(0, np.intp)
            return RawRun(outputs, empty, empty, empty, None)
        step, lane, neuron = np.nonzero(flags)
        sign = flags[step, lane, neuron] if self.model.signed else None
        return RawRun(outputs, step, lane, neuron, sign)

    def _feed(self, name: str, value) -> None:
        """Write one step's input (``(1 or batch, 1 or n)``) into its current sources."""
        value = np.broadcast_to(value, (self.batch, self.n))
        for lane, feeds in enumerate(self.sources):
            var = feeds[name].vars["value"]
            part = value[lane:lane + 1] if self.lanes > 1 else value
            var.view[...] = part.reshape(var.view.shape)
            var.push_to_device()

    def _collect_spikes(self, flags, start, stop, step0, signed) -> None:
        """Spike flags of steps ``start:stop`` from GeNN's recording buffers."""
        from pygenn import types

        self.genn.pull_recording_buffers_from_device()
        words = -(-self.n // 32)
        per_pop = self.batch // self.lanes
        for lane, pop in enumerate(self.pops):
            buffer = pop._get_array("recordSpk", types.Uint32).view
            buffer = buffer.reshape(self.recording, per_pop, words)
            for i in range(start, stop):
                slot = (step0 + i) % self.recording
                bits = np.unpackbits(buffer[slot].view(np.uint8), axis=-1, bitorder="little")
                fired = bits[:, :self.n].astype(bool)
                rows = slice(lane, lane + 1) if self.lanes > 1 else slice(None)
                if signed:
                    flags[i, rows] = np.where(fired, flags[i, rows], 0)
                else:
                    flags[i, rows] = fired
