"""The ``cupy`` backend: the model's step in a CUDA kernel compiled by NVRTC through CuPy.

:func:`emit` is pure (no CuPy import): the prelude and per-neuron step
function of :mod:`eqsnn.printing.c`, shared with the ``c`` backend, in one
``__global__`` kernel, ``eqsnn_advance``, one thread per (neuron, lane).  A
launch advances steps ``first .. first + count - 1`` of a window: each
thread keeps its state in registers over the steps (inputs, step function,
records, a ``__ballot_sync`` of the spike flags: one ``uint32`` per 32
neurons) and stores it at the end (the kernel's text:
:mod:`eqsnn.backends.cupy_kernel`).  Modes (``runner.mode``,
``load(source, mode=...)`` or ``$EQSNN_CUPY_MODE``): ``fused`` (default; one
launch per window, which applies whenever the window's inputs are known in
advance, as the Runner contract has it), ``step`` (one launch per step) and
``graph`` (those launches captured once into a CUDA graph and replayed while
the arguments stay the same; buffers are kept per shape so they do).

State stays on the device between runs.  Inputs are uploaded once per
window (device arrays used in place, held ones unexpanded); records and
spike bits are copied back once per window: the whole run unless they
exceed ``window_bytes``.  NVRTC runs with ``--fmad=false`` unless fast_math.
See ``docs/backends-compiled.md``.
"""

from __future__ import annotations

import os
import time

import numpy as np

from .. import ir
from ..errors import BackendError
from ..printing.c import prelude, print_step_function
from ..runtime.spike_bits import SpikeBits
from . import EmitOptions, Instance, RawRun, Source, numpy_dtype
from . import _compiled as shared
from ._compiled import layout
from .cupy_kernel import BLOCK, KERNEL, kernel_parameters, kernel_text

__all__ = ["CupyProgram", "CupyRunner", "emit", "load", "KERNEL", "BLOCK", "kernel_parameters"]

EXACT_OPTIONS, FAST_OPTIONS = ("--fmad=false",), ("--use_fast_math",)  # NVRTC's
MODES = ("fused", "step", "graph")
_NULL = np.uint64(0)  # a null pointer argument


def emit(model: ir.Model, options: EmitOptions | None = None) -> Source:
    """CUDA source with ``extern "C" __global__ void eqsnn_advance(...)``; imports no CuPy."""
    options = options or EmitOptions()
    plan = layout(model, options.per_neuron, options.precision)
    step = print_step_function(model, options.precision, plan.value_types, plan.arrays,
                               plan.uniform_values, wide_math=not options.fast_math)
    how = (" * fast_math: float32 math functions, compiled with --use_fast_math; not "
           "bit-identical to the numpy backend. */\n" if options.fast_math else
           " * Compile with --fmad=false for results bit-identical to the numpy backend. */\n")
    header = (f"/* CUDA code of neuron model {model.name!r} ({options.precision}), generated "
              f"by eqsnn; do not edit.\n" + how)
    text = "\n".join([header, prelude(options.precision, step.helpers), step.text,
                      step.uniform_text, kernel_text(model, plan, step.uniforms)])
    nvrtc = FAST_OPTIONS if options.fast_math else EXACT_OPTIONS
    return Source("cupy", text, model, options, extra={"layout": plan, "nvrtc_options": nvrtc})


def _import_cupy():
    """CuPy, with a GPU; else BackendError saying what to install or use instead."""
    try:
        import cupy
    except ImportError as exc:
        raise BackendError(f"the cupy backend needs CuPy, which cannot be imported ({exc})",
                           hint="pip install cupy-cuda13x or cupy-cuda12x (the wheel matching your "
                           "CUDA), or "
                           "use backend='c' or 'numpy'") from None
    devices, why = 0, ""
    try:
        devices = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDARuntimeError without a driver
        why = f"; CUDA says: {exc}"
    if devices < 1:
        raise BackendError(f"the cupy backend needs an NVIDIA GPU and none was found{why}",
                           hint="use backend='c' or 'numpy' on this machine")
    return cupy


def load(source: Source, mode: str | None = None) -> CupyProgram:
    """Compile the kernel with NVRTC (cached on disk by CuPy); BackendError without a GPU."""
    return CupyProgram(source, mode)


class CupyProgram:
    """The compiled kernel; ``start(instance)`` gives a :class:`CupyRunner`."""

    def __init__(self, source: Source, mode: str | None = None):
        if source.backend != "cupy":
            raise BackendError(f"the cupy backend cannot load code emitted for {source.backend!r}")
        began = time.perf_counter()
        self.source, self.mode = source, mode or os.environ.get("EQSNN_CUPY_MODE") or "fused"
        if self.mode not in MODES:
            raise BackendError(f"unknown cupy mode {self.mode!r}",
                               hint=f"choose one of {', '.join(MODES)}")
        self.cupy = cupy = _import_cupy()
        self.layout = source.extra.get("layout") or layout(source.model, source.options.per_neuron)
        options = source.extra.get("nvrtc_options", EXACT_OPTIONS)
        try:
            self.module = cupy.RawModule(code=source.text, options=tuple(options))
            self.kernel = self.module.get_function(KERNEL)
        except Exception as exc:
            raise BackendError(f"NVRTC failed on the code emitted for {source.model.name}: {exc}",
                               hint="this is a bug in eqsnn; please report it with the model"
                               ) from None
        self.load_seconds = time.perf_counter() - began

    def start(self, instance: Instance) -> CupyRunner:
        return CupyRunner(self, instance)


class CupyRunner:
    """One population's state on the GPU (the Runner contract of :mod:`eqsnn.backends`).

    ``mode`` is ``"fused"`` (default), ``"step"`` or ``"graph"``;
    ``window_bytes`` bounds the device memory one window's per-step inputs,
    records and spikes may take.  Inputs may be CuPy arrays (used in place).
    """

    device_inputs = True  # run() takes CuPy arrays as inputs (the Simulator checks this)

    def __init__(self, program: CupyProgram, instance: Instance):
        options, self.model = program.source.options, program.source.model
        if instance.precision != options.precision:
            raise BackendError(
                f"the program was emitted for {options.precision}, not {instance.precision}")
        if not 1 <= instance.batch <= 65535:
            raise BackendError(f"the cupy backend runs 1 to 65535 lanes, not {instance.batch}")
        self.program, self.cupy, self.layout = program, program.cupy, program.layout
        self.precision, self.mode = options.precision, program.mode
        self.batch, self.n = int(instance.batch), int(instance.n)
        self.dt, self.seed = float(instance.dt), int(instance.seed)
        self.window_bytes = 256 * 2**20
        #: called as ``spike_sink(step, bits)`` with each window's spike bits on the device
        #: ``(steps, batch, words)`` from step ``step``, recorded or not (a network's
        #: arrivals read them there: :mod:`eqsnn.backends.cupy_network`)
        self.spike_sink = None
        self.stream = self.cupy.cuda.Stream(non_blocking=True)
        self.grid = ((self.n + BLOCK - 1) // BLOCK, self.batch)
        self._buffers: dict = {}
        self._graph = None
        with self.stream:
            self.states = {name: self.cupy.zeros((self.batch, self.n),
                                                 numpy_dtype(dtype, self.precision))
                           for name, dtype in self.layout.states}
            self._step_base = self.cupy.zeros(1, np.int64)
        self.values, self.arrays = {}, {}
        for name, value in {**{v[0]: 0 for v in self.layout.values}, "dt": self.dt,
                            **instance.values}.items():
            self.set_value(name, value)
        for name, _ in self.layout.arrays:
            self.set_array(name, instance.arrays[name])
        for name, value in instance.init.items():
            self.set_state(name, value)

    def _buffer(self, key, shape, dtype):
        """A device array kept per key and shape, so graph mode sees the same pointers."""
        if key not in self._buffers or self._buffers[key].shape != tuple(shape):
            self._buffers[key] = self.cupy.empty(shape, dtype)
        return self._buffers[key]

    # --- one run -------------------------------------------------------
    def run(self, steps, step0, inputs, record, record_spikes) -> RawRun:
        steps, cupy, plan = int(steps), self.cupy, self.layout
        given = []  # host arrays, or device arrays used in place
        for name, dtype in plan.inputs:
            value, kind = inputs[name], numpy_dtype(dtype, self.precision)
            given.append(value.astype(kind, copy=False) if isinstance(value, cupy.ndarray)
                         else np.asarray(value, kind))
            shared.check_input_shape(given[-1].shape, name, steps, self.batch, self.n)
        plans = {name: shared.record_plan(record[name], self.n) for name, _ in plan.states
                 if name in record}
        outputs = {name: np.empty((steps, self.batch, p.width), self.states[name].dtype)
                   for name, p in plans.items()}
        bits = SpikeBits.for_run(record_spikes, steps, self.batch, self.n, self.model.signed,
                                 self.model.spiking)
        planes = list(bits.planes) if bits is not None else []
        device_only = self.spike_sink is not None and self.model.spiking and not planes
        per_step = sum(a[0].nbytes for a in [*outputs.values(), *planes] + [
            v for v in given if v.shape[0] > 1 and not isinstance(v, cupy.ndarray)])
        window = max(1, min(steps, self.window_bytes // max(1, per_step)))
        if any(isinstance(v, cupy.ndarray) for v in given):
            # device inputs were written (and converted) on the caller's stream; this
            # runner's own stream does not wait for that one unless told to
            self.stream.wait_event(cupy.cuda.get_current_stream().record())
        with self.stream:
            for first in range(0, steps, window):
                length = min(window, steps - first)
                self._window(first, length, step0, given, plans, outputs, planes,
                             device_only)
            self.stream.synchronize()  # the run is done when run() returns
        result = {name: plans[name].result(out) for name, out in outputs.items()}
        return RawRun(result, spike_bits=bits)

    def _window(self, first, length, step0, given, plans, outputs, planes,
                device_only=False) -> None:
        """Upload the window's inputs, advance ``length`` steps, copy results back."""
        cupy, plan = self.cupy, self.layout
        devices = []
        for k, value in enumerate(given):
            part = value if value.shape[0] == 1 else value[first:first + length]
            if not isinstance(part, cupy.ndarray):
                buffer = self._buffer(("input", k), part.shape, part.dtype)
                buffer.set(np.ascontiguousarray(part))
                part = buffer
            devices.append(part)
        records = {}  # state number -> (device rows, neuron -> column or NULL, width)
        for k, name in ((k, name) for k, (name, _) in enumerate(plan.states) if name in plans):
            p, slot = plans[name], _NULL
            if p.index is not None:  # each neuron's column, -1 where not recorded
                columns = np.full(self.n, -1, np.int32)
                columns[p.index] = np.arange(p.width)
                slot = self._buffer(("slot", k), (self.n,), np.dtype(np.int32))
                slot.set(columns)
            out = self._buffer(("record", k), (length, self.batch, p.width), outputs[name].dtype)
            records[k] = (out, slot, np.int64(p.width))
        words = shared.spike_words(self.n)
        spikes = [self._buffer(("spikes", k), (length, self.batch, words), np.dtype(np.uint32))
                  for k in range(len(planes) or int(device_only))]
        self._step_base.fill(step0 + first)
        arguments = self._arguments(devices, records, spikes)
        self._launch(arguments, length)
        for k, (name, _) in enumerate(plan.states):
            if k in records:
                records[k][0].get(out=outputs[name][first:first + length])
        for device, plane in zip(spikes, planes):  # host rows are padded (spike_bits)
            if plane.shape[-1] == words:
                device.get(out=plane[first:first + length])
            else:
                plane[first:first + length, :, :words] = device.get()
                plane[first:first + length, :, words:] = 0
        if self.spike_sink is not None and spikes:
            self.spike_sink(step0 + first, spikes[0])

    def _arguments(self, devices, records, spikes) -> list:
        """The kernel's arguments in the order of :func:`kernel_parameters` (``first`` and
        ``count`` at positions 2 and 3 are set per launch)."""
        args = [np.int64(self.batch), np.int64(self.n), np.int64(0), np.int64(1),
                self._step_base, np.float64(self.dt), np.uint32(self.seed & 0xFFFFFFFF),
                np.uint32((self.seed >> 32) & 0xFFFFFFFF)]
        args += [self.states[name] for name, _ in self.layout.states]
        args += [self.values[name] for name, _, _ in self.layout.values]
        for array in (self.arrays[name] for name, _ in self.layout.arrays):
            args += [array, np.int64(array.size)]
        for device in devices:
            args += [device, *map(np.int64, shared.input_strides(device, "")[1])]
        for k in range(len(self.layout.states)):
            args += list(records.get(k, (_NULL, _NULL, np.int64(0))))
        args += [spikes[0] if spikes else _NULL, spikes[1] if len(spikes) > 1 else _NULL]
        return args

    def _launch(self, args: list, count: int) -> None:  # fused, step, or else graph
        kernel, block = self.program.kernel, (BLOCK,)
        if self.mode == "fused":
            args[2:4] = [np.int64(0), np.int64(count)]
            kernel(self.grid, block, tuple(args))
        elif self.mode == "step":
            for k in range(count):
                args[2] = np.int64(k)
                kernel(self.grid, block, tuple(args))
        else:
            self._graph_launch(args, count)

    def _graph_launch(self, args: list, count: int) -> None:
        """Per-step launches captured into a CUDA graph, replayed while the arguments stay."""
        key = (count, tuple(_identity(a) for a in args))
        if self._graph is None or self._graph[0] != key:
            if not hasattr(self.stream, "begin_capture"):  # a CuPy without stream capture
                self.mode = "step"
                return self._launch(args, count)
            self.stream.begin_capture()
            try:
                for k in range(count):
                    args[2] = np.int64(k)
                    self.program.kernel(self.grid, (BLOCK,), tuple(args))
            finally:
                graph = self.stream.end_capture()
            self._graph = (key, graph)
        self._graph[1].launch(self.stream)

    # --- state and values ------------------------------------------------
    def get_state(self, name: str) -> np.ndarray:
        return self.states[name].get(stream=self.stream)

    def set_state(self, name: str, value) -> None:
        host = np.empty((self.batch, self.n), self.states[name].dtype)
        np.copyto(host, value, casting="unsafe")
        with self.stream:
            self.states[name].set(host)

    def set_array(self, name: str, value) -> None:
        """Replace the contents of a data array (any length)."""
        dtype = numpy_dtype(dict(self.layout.arrays)[name], self.precision)
        with self.stream:
            self.arrays[name] = self.cupy.asarray(np.ascontiguousarray(np.reshape(value, -1),
                                                                       dtype))

    def set_value(self, name: str, value) -> None:
        """Replace a param, runtime param or precompute value (a scalar, or (n,) per neuron)."""
        declared = {v[0]: v[1:] for v in self.layout.values}
        if name not in declared:
            return  # the step never reads it
        dtype, per_neuron = declared[name]
        value = shared.rounded_value(name, value, numpy_dtype(dtype, self.precision), per_neuron,
                                     self.n)
        if per_neuron:
            with self.stream:
                self.values[name] = self.cupy.asarray(value)
        else:  # a kernel argument; bool as the kernel's unsigned char
            self.values[name] = np.uint8(value) if dtype == "bool" else value[()]


def _identity(argument):
    """What a captured launch depends on: a device pointer, or a scalar's type and bits."""
    pointer = getattr(getattr(argument, "data", None), "ptr", None)
    scalar = np.asarray(argument) if pointer is None else None
    return pointer if scalar is None else (scalar.dtype.str, scalar.tobytes())
