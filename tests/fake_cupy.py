"""A stand-in for CuPy that runs the ``cupy`` backend's kernels on the CPU.

Tests install it as ``sys.modules["cupy"]`` (fixture ``emulated_cupy`` in
``conftest.py``) on a machine without a GPU, so that the backend's host code
(windows, modes, graph capture, record slots, device inputs, bit-packed
spikes) and its kernel (indexing, the warp-wide ``__ballot_sync``) run for
real, just not on a GPU.  It implements only what eqsnn uses, as strictly as
CuPy does or more:

* :class:`ndarray` keeps its data in host memory but, like a device array,
  refuses implicit conversion (``np.asarray`` raises ``TypeError``); ``get``
  and ``set`` check type, dtype, shape and contiguity as CuPy does; NumPy
  functions and ufuncs dispatch to it (``__array_function__`` /
  ``__array_ufunc__``) and give device arrays, and mixing in a host array
  is a ``TypeError``.
* :class:`RawModule` (from ``cuda_emulation.py``) compiles the CUDA source
  as C++ with ``cuda_emulation.h`` (g++, ``-ffp-contract=off``) and a
  generated call that reads every argument at the size its parameter
  declares; a kernel argument must be a device array or a NumPy scalar of
  exactly the parameter's size (CuPy would pass it, and the GPU read garbage).
* :class:`Stream` runs everything synchronously; ``begin_capture`` records
  launches (copies during a capture are errors, as in CUDA) and the graph
  replays them with the argument values of the capture.

What it does not check: NVRTC itself (``test_cupy_backend.py`` compiles the
kernels with the real NVRTC where it is installed), libdevice's math, and
anything about speed.
"""

from __future__ import annotations

import contextlib
import sys
import types

import cuda_emulation
import numpy as np
from cuda_emulation import CUDARuntimeError, RawKernel, RawModule

__all__ = ["CUDARuntimeError", "RawKernel", "RawModule", "ndarray", "installed"]
__version__ = "0.0-emulated"


@contextlib.contextmanager
def installed():
    """``import cupy`` gives this module inside the block (the real one, if any, after it)."""
    before = sys.modules.get("cupy")
    sys.modules["cupy"] = sys.modules[__name__]
    try:
        yield sys.modules[__name__]
    finally:
        if before is None:
            del sys.modules["cupy"]
        else:
            sys.modules["cupy"] = before


# --- arrays -------------------------------------------------------------------------
class _Memory:
    def __init__(self, array: np.ndarray):
        self.ptr = array.__array_interface__["data"][0]


def _device(value):
    return value._a if isinstance(value, ndarray) else value


def _no_host_arrays(values) -> None:
    for value in values:
        if isinstance(value, np.ndarray):
            raise TypeError("Unsupported type <class 'numpy.ndarray'>: a host array mixed with "
                            "device arrays (fake CuPy)")


def _wrap(result):
    if isinstance(result, np.ndarray):
        return ndarray._of(result)
    if isinstance(result, tuple):
        return tuple(_wrap(r) for r in result)
    if isinstance(result, list):
        return [_wrap(r) for r in result]
    return result


class ndarray(np.lib.mixins.NDArrayOperatorsMixin):
    """A "device" array: host memory that refuses implicit conversion to NumPy."""

    def __init__(self, shape, dtype=float):
        self._a = np.empty(shape, dtype)
        _capturing_check("allocating memory")

    @classmethod
    def _of(cls, array: np.ndarray) -> ndarray:
        self = cls.__new__(cls)
        self._a = array
        return self

    # attributes of the data
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    nbytes = property(lambda self: self._a.nbytes)
    itemsize = property(lambda self: self._a.itemsize)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: self._a.flags)
    data = property(lambda self: _Memory(self._a))
    T = property(lambda self: ndarray._of(self._a.T))

    @property
    def __cuda_array_interface__(self):
        return {"shape": self.shape, "typestr": self.dtype.str, "version": 3,
                "data": (self.data.ptr, False),
                "strides": None if self._a.flags.c_contiguous else self.strides}

    def __array__(self, *args, **kwargs):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. Please use "
                        "`.get()` to construct a NumPy array explicitly.")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        _no_host_arrays(inputs)
        if "out" in kwargs:
            _no_host_arrays(kwargs["out"])
            kwargs["out"] = tuple(_device(o) for o in kwargs["out"])
        return _wrap(getattr(ufunc, method)(*map(_device, inputs), **kwargs))

    def __array_function__(self, func, types_, args, kwargs):
        flat = [a for a in args if not isinstance(a, (list, tuple))]
        flat += [b for a in args if isinstance(a, (list, tuple)) for b in a]
        _no_host_arrays(flat)
        args = [type(a)(map(_device, a)) if isinstance(a, (list, tuple)) else _device(a)
                for a in args]
        return _wrap(func(*args, **{k: _device(v) for k, v in kwargs.items()}))

    def __repr__(self):
        return f"fake_cupy.array({self._a!r})"

    def __len__(self):
        return len(self._a)

    def __bool__(self):
        return bool(self._a)

    def __float__(self):
        return float(self._a)

    def __int__(self):
        return int(self._a)

    def __index__(self):
        return self._a.__index__()

    def __getitem__(self, key):
        key = tuple(_device(k) for k in key) if isinstance(key, tuple) else _device(key)
        return _wrap(self._a[key])

    def __setitem__(self, key, value):
        _no_host_arrays([value])
        self._a[key] = _device(value)

    def item(self):
        return self._a.item()

    def astype(self, dtype, copy=True):
        return ndarray._of(self._a.astype(dtype, copy=copy))

    def copy(self):
        return ndarray._of(self._a.copy())

    def reshape(self, *shape):
        return ndarray._of(self._a.reshape(*shape))

    def ravel(self):
        return ndarray._of(self._a.ravel())

    def fill(self, value):
        _capturing_check("fill")
        self._a.fill(value)

    def sum(self, *args, **kwargs):
        return _wrap(np.asarray(self._a.sum(*args, **kwargs)))

    def all(self, *args, **kwargs):
        return _wrap(np.asarray(self._a.all(*args, **kwargs)))

    def any(self, *args, **kwargs):
        return _wrap(np.asarray(self._a.any(*args, **kwargs)))

    def get(self, stream=None, order="C", out=None, blocking=True):
        _capturing_check("a device-to-host copy")
        if out is None:
            return np.array(self._a, order=order)
        if not isinstance(out, np.ndarray) or isinstance(out, ndarray):
            raise TypeError("Only numpy.ndarray can be obtained from cupy.ndarray")
        if out.dtype != self.dtype:
            raise TypeError(f"{self.dtype} array cannot be obtained to {out.dtype} array")
        if out.shape != self.shape:
            raise ValueError(f"Shape mismatch. Old shape: {self.shape}, new shape: {out.shape}")
        if not out.flags.c_contiguous:
            raise RuntimeError("Cannot set to non-contiguous array (fake CuPy is strict)")
        np.copyto(out, self._a)
        return out

    def set(self, arr, stream=None):
        _capturing_check("a host-to-device copy")
        if not isinstance(arr, np.ndarray):
            raise TypeError("Only numpy.ndarray can be set to cupy.ndarray")
        if self.dtype != arr.dtype:
            raise TypeError(f"{arr.dtype} array cannot be set to {self.dtype} array")
        if self.shape != arr.shape:
            raise ValueError(f"Shape mismatch. Old shape: {self.shape}, new shape: {arr.shape}")
        if not self._a.flags.c_contiguous:
            raise RuntimeError("Cannot set to non-contiguous array")
        np.copyto(self._a, arr)


def zeros(shape, dtype=float):
    out = ndarray(shape, dtype)
    out._a.fill(0)
    return out


def empty(shape, dtype=float):
    return ndarray(shape, dtype)


def asarray(value, dtype=None):
    _capturing_check("a host-to-device copy")
    if isinstance(value, ndarray):
        return value if dtype is None else value.astype(dtype, copy=False)
    return ndarray._of(np.array(value, dtype=dtype, copy=True))


array = asarray


float32, float64, int32, uint32, bool_ = np.float32, np.float64, np.int32, np.uint32, np.bool_
random = types.SimpleNamespace(
    uniform=lambda low=0.0, high=1.0, size=None, dtype=float: ndarray._of(
        np.random.default_rng().uniform(low, high, size).astype(dtype)))


def asnumpy(value):
    return value.get() if isinstance(value, ndarray) else np.asarray(value)


def get_array_module(*values):
    return sys.modules[__name__] if any(isinstance(v, ndarray) for v in values) else np


# --- streams and graphs ----------------------------------------------------------------
def _capturing_check(what: str) -> None:
    if cuda_emulation.capture is not None:
        raise CUDARuntimeError(f"cudaErrorStreamCaptureUnsupported: {what} during stream "
                               "capture (fake CuPy)")


class Graph:
    def __init__(self, launches):
        self._launches = launches

    def launch(self, stream=None):
        for kernel, grid, block, packed in self._launches:
            kernel._run(grid, block, packed)


class Event:
    """Work is done in call order here, so an event has nothing to wait for."""


class Stream:
    def __init__(self, null=False, non_blocking=False, ptr=0):
        self.ptr = 1
        self.waited: list[Event] = []  # what wait_event was given, for the tests

    def record(self, event=None):
        return event or Event()

    def wait_event(self, event):
        if not isinstance(event, Event):
            raise TypeError("wait_event takes an Event (fake CuPy)")
        self.waited.append(event)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def synchronize(self):
        _capturing_check("synchronize")

    def begin_capture(self, mode=None):
        if cuda_emulation.capture is not None:
            raise CUDARuntimeError("a stream is capturing already (fake CuPy)")
        cuda_emulation.capture = []

    def end_capture(self):
        launches, cuda_emulation.capture = cuda_emulation.capture, None
        if launches is None:
            raise CUDARuntimeError("end_capture without begin_capture (fake CuPy)")
        return Graph(launches)


def _device_properties(device):
    return {"name": b"CPU emulation of CUDA (tests/fake_cupy.py)", "multiProcessorCount": 1}


cuda = types.SimpleNamespace(
    Stream=Stream, Graph=Graph, get_current_stream=lambda: Stream(),
    runtime=types.SimpleNamespace(getDeviceCount=lambda: 1,
                                  getDeviceProperties=_device_properties,
                                  CUDARuntimeError=CUDARuntimeError),
)
