"""NVRTC, CUDA's runtime compiler, through ctypes: what CuPy's ``RawModule`` runs.

NVRTC needs no GPU, so the test suite compiles every emitted kernel with it
on any machine that has the library: the ``nvidia-cuda-nvrtc-cu12`` wheel
(a test dependency on Linux x86-64) or a CUDA toolkit.  :func:`compile_ptx`
returns the PTX or raises :class:`NvrtcError` with NVRTC's log.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os


class NvrtcError(RuntimeError):
    pass


def _candidates() -> list[str]:
    found = []
    try:
        import nvidia.cuda_nvrtc as wheel  # the pip wheel's namespace package
        for folder in wheel.__path__:
            found += sorted(glob.glob(os.path.join(folder, "lib", "libnvrtc.so*")))
    except ImportError:
        pass
    for home in (os.environ.get("CUDA_HOME"), "/usr/local/cuda"):
        if home:
            found += sorted(glob.glob(os.path.join(home, "lib64", "libnvrtc.so*")))
    name = ctypes.util.find_library("nvrtc")
    return found + ([name] if name else [])


def library() -> ctypes.CDLL | None:
    """The NVRTC library, or None where there is none."""
    for path in _candidates():
        try:
            return ctypes.CDLL(path)
        except OSError:
            continue
    return None


def version() -> tuple[int, int]:
    lib, major, minor = library(), ctypes.c_int(), ctypes.c_int()
    lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor))
    return major.value, minor.value


def compile_ptx(source: str, options=(), name: str = "kernel.cu") -> tuple[str, str]:
    """``(ptx, log)`` of ``source`` compiled with ``options``; NvrtcError on failure."""
    lib = library()
    program = ctypes.c_void_p()
    _check(lib, lib.nvrtcCreateProgram(ctypes.byref(program), source.encode(), name.encode(),
                                       0, None, None))
    try:
        encoded = [o.encode() for o in options]
        status = lib.nvrtcCompileProgram(program, len(encoded),
                                         (ctypes.c_char_p * len(encoded))(*encoded))
        size = ctypes.c_size_t()
        lib.nvrtcGetProgramLogSize(program, ctypes.byref(size))
        log = ctypes.create_string_buffer(size.value)
        lib.nvrtcGetProgramLog(program, log)
        if status:
            raise NvrtcError(f"NVRTC status {status}:\n{log.value.decode(errors='replace')}")
        lib.nvrtcGetPTXSize(program, ctypes.byref(size))
        ptx = ctypes.create_string_buffer(size.value)
        _check(lib, lib.nvrtcGetPTX(program, ptx))
        return ptx.value.decode(), log.value.decode(errors="replace")
    finally:
        lib.nvrtcDestroyProgram(ctypes.byref(program))


def _check(lib, status: int) -> None:
    if status:
        lib.nvrtcGetErrorString.restype = ctypes.c_char_p
        raise NvrtcError(lib.nvrtcGetErrorString(status).decode())
