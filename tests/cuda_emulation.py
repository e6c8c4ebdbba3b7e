"""The kernel half of the CPU emulation of CUDA used by ``fake_cupy.py``.

:class:`RawModule` compiles a CUDA source as C++ with ``cuda_emulation.h``
(g++, ``-ffp-contract=off``, cached by content in
``$EQSNN_CACHE_DIR/cuda-emulation``) and a generated call that reads every
argument at the size its parameter declares; :class:`RawKernel` checks the
arguments (a device array or a NumPy scalar of exactly the parameter's
size) and runs every thread of a launch.  While a stream captures a graph
(:data:`capture` is a list), launches are recorded instead of run.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import subprocess
import tempfile

import numpy as np

from eqsnn.backends._toolchain import cache_dir

HERE = os.path.dirname(os.path.abspath(__file__))
SHIM = os.path.join(HERE, "cuda_emulation.h")
CXX_FLAGS = ["-O1", "-std=c++14", "-fPIC", "-shared", "-ffp-contract=off", "-fno-fast-math",
             "-w"]


class CUDARuntimeError(RuntimeError):
    pass


#: launches recorded by the capturing stream, or None when no stream captures
capture: list | None = None


_PARAMETER = re.compile(r"^(?P<type>.*?)(?P<pointer>\*?)\s*(?P<name>\w+)$")


def _parameters(source: str, name: str) -> list[tuple[str, bool]]:
    """``(C type, is pointer)`` of each parameter of ``extern "C" __global__ void name(...)``."""
    match = re.search(r'extern\s+"C"\s+__global__\s+void\s+' + name + r"\s*\(([^)]*)\)", source)
    if match is None:
        raise CUDARuntimeError(f"no kernel {name!r} in the source (fake CuPy)")
    out = []
    for declaration in match.group(1).split(","):
        parsed = _PARAMETER.match(" ".join(declaration.split()))
        out.append((parsed.group("type").strip(), bool(parsed.group("pointer"))))
    return out


def _call_code(name: str, parameters) -> str:
    casts = [f"*({ctype} *{'*' if pointer else ''})arguments[{k}]"
             for k, (ctype, pointer) in enumerate(parameters)]
    sizes = [f"sizeof({ctype}{' *' if pointer else ''})" for ctype, pointer in parameters]
    return (f"\nstatic void eqsnn_call_kernel(void **arguments)\n{{\n    {name}(\n        "
            + ",\n        ".join(casts) + ");\n}\n"
            + 'extern "C" const unsigned long long eqsnn_parameter_sizes[] = {'
            + ", ".join(sizes) + "};\n")


def _cache_dir() -> str:
    path = os.path.join(cache_dir(), "cuda-emulation")  # the c backend's cache, one folder in
    os.makedirs(path, exist_ok=True)
    return path


def _compile(text: str) -> ctypes.CDLL:
    with open(SHIM) as handle:
        shim = handle.read()
    full = shim + "\n" + text
    digest = hashlib.sha256((full + " ".join(CXX_FLAGS)).encode()).hexdigest()[:24]
    library = os.path.join(_cache_dir(), f"kernel-{digest}.so")
    if not os.path.exists(library):
        with tempfile.TemporaryDirectory(dir=_cache_dir()) as work:  # os.replace: same disk
            path = os.path.join(work, "kernel.cpp")
            with open(path, "w") as handle:
                handle.write(full)
            done = subprocess.run(["g++", *CXX_FLAGS, path, "-o", path + ".so", "-lm"],
                                  capture_output=True, text=True)
            if done.returncode:
                raise CUDARuntimeError("compiling the kernel for the CPU emulation failed:\n"
                                       + done.stderr[-4000:])
            os.replace(path + ".so", library)  # atomic
    return ctypes.CDLL(library)


class RawModule:
    def __init__(self, code: str, options=(), backend="nvrtc", **kwargs):
        if not isinstance(code, str):
            raise TypeError("code must be a string")
        self.code, self.options = code, tuple(options)

    def get_function(self, name: str) -> RawKernel:
        parameters = _parameters(self.code, name)
        return RawKernel(_compile(self.code + _call_code(name, parameters)), parameters)


class RawKernel:
    def __init__(self, library: ctypes.CDLL, parameters):
        self._library, self._parameters = library, parameters
        sizes = (ctypes.c_ulonglong * len(parameters)).in_dll(library, "eqsnn_parameter_sizes")
        self._sizes = list(sizes)
        self._launch = library.eqsnn_emulated_launch
        self._launch.restype = ctypes.c_int
        self._launch.argtypes = [ctypes.c_uint, ctypes.c_uint, ctypes.c_uint,
                                 ctypes.POINTER(ctypes.c_void_p), ctypes.c_char_p, ctypes.c_int]
        self.launches = 0

    def _pack(self, args) -> list:
        """Each argument's bytes, checked against its parameter."""
        if len(args) != len(self._parameters):
            raise CUDARuntimeError(f"{len(args)} arguments for {len(self._parameters)} "
                                   "kernel parameters (fake CuPy)")
        packed = []
        for k, (value, (ctype, pointer), size) in enumerate(zip(args, self._parameters,
                                                                self._sizes)):
            if _is_device(value):
                data = np.uint64(value.data.ptr).tobytes()
            elif isinstance(value, np.generic):
                data = value.tobytes()
            elif isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"argument {k}: unsupported type {type(value).__name__}")
            else:  # CuPy passes Python int as long long, float as double
                data = (np.int64(value) if isinstance(value, int) else np.float64(value)).tobytes()
            if len(data) != size:
                raise CUDARuntimeError(f"argument {k} ({ctype}{' *' if pointer else ''}) is "
                                       f"{len(data)} bytes, the parameter {size} (fake CuPy)")
            if pointer and not _is_device(value) and int.from_bytes(data, "little"):
                raise CUDARuntimeError(f"argument {k}: a non-zero scalar for a pointer")
            if not pointer and _is_device(value):
                raise CUDARuntimeError(f"argument {k}: a device array for scalar {ctype}")
            packed.append(ctypes.create_string_buffer(data, len(data)))
        return packed

    def __call__(self, grid, block, args, shared_mem=0, stream=None):
        grid = tuple(grid) + (1,) * (3 - len(tuple(grid)))
        block = tuple(block) + (1,) * (3 - len(tuple(block)))
        if grid[2] != 1 or block[1:] != (1, 1):
            raise CUDARuntimeError("the emulation runs 2-D grids of 1-D blocks")
        packed = self._pack(args)
        if capture is not None:
            capture.append((self, grid, block, packed))
        else:
            self._run(grid, block, packed)

    def _run(self, grid, block, packed) -> None:
        self.launches += 1
        pointers = (ctypes.c_void_p * len(packed))(*[ctypes.addressof(p) for p in packed])
        error = ctypes.create_string_buffer(512)
        if self._launch(grid[0], grid[1], block[0], pointers, error, 512):
            raise CUDARuntimeError("kernel launch failed in the emulation: "
                                   + error.value.decode())


def _is_device(value) -> bool:
    return hasattr(value, "__cuda_array_interface__")
