"""The C toolchain of the ``c`` backend: compiler, flags, probes and the build cache.

Finding the compiler (``$CC``, else cc, gcc or clang), probing what it
supports (``-march=native``, OpenMP, glibc's SIMD math), and compiling into a
content-addressed cache (``$EQSNN_CACHE_DIR``, default ``~/.cache/eqsnn``)
with atomic writes, so processes compiling the same model at once never see
half a file.  Probe results are remembered on disk.
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ..errors import BackendError

__all__ = [
    "cache_dir", "find_compiler", "compiler_flags", "compile_shared_library",
    "default_threads", "VECTOR_MATH_FLAG",
]

#: bump when the emitted code or the flags change meaning, to invalidate cached libraries
CACHE_FORMAT = "1"


def cache_dir() -> Path:
    """``$EQSNN_CACHE_DIR``, else ``$XDG_CACHE_HOME/eqsnn``, else ``~/.cache/eqsnn``."""
    if os.environ.get("EQSNN_CACHE_DIR"):
        path = Path(os.environ["EQSNN_CACHE_DIR"])
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        path = Path(base) / "eqsnn"
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_threads() -> int:
    """``$EQSNN_THREADS`` if set, else the number of CPUs this process may use."""
    value = os.environ.get("EQSNN_THREADS")
    if value:
        if not value.strip().isdigit() or int(value) < 1:
            raise BackendError(f"EQSNN_THREADS must be a positive integer, got {value!r}")
        return int(value)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


_INSTALL_HINT = ("install a C compiler (Debian/Ubuntu: apt-get install gcc; Fedora: dnf install "
                 "gcc; macOS: xcode-select --install) or set CC to the compiler's path; "
                 "the numpy backend needs none")


def find_compiler() -> tuple[str, ...]:
    """The C compiler command: ``$CC`` if set (it may carry flags), else cc, gcc or clang."""
    if os.environ.get("CC"):
        command = tuple(shlex.split(os.environ["CC"]))
        if not command or shutil.which(command[0]) is None:
            raise BackendError(f"the C compiler CC={os.environ['CC']!r} was not found",
                               hint=_INSTALL_HINT)
        return command
    for name in ("cc", "gcc", "clang"):
        if shutil.which(name):
            return (name,)
    raise BackendError("the c backend needs a C compiler, and none was found "
                       "(looked for $CC, cc, gcc, clang)", hint=_INSTALL_HINT)


def compiler_identity(command: tuple[str, ...]) -> str:
    """Resolved path, size and modification time of the compiler: a cheap, exact-enough key."""
    path = os.path.realpath(shutil.which(command[0]) or command[0])
    stat = os.stat(path)
    return f"{path}:{stat.st_size}:{stat.st_mtime_ns}:{' '.join(command[1:])}"


BASE_FLAGS = ("-O3", "-std=c99", "-fPIC", "-shared", "-fwrapv", "-fno-math-errno",
              "-fno-trapping-math")
EXACT_FLAGS = ("-ffp-contract=off",)
# The parts of -ffast-math that speed up arithmetic, without -ffast-math itself: with
# GCC < 13 that flag links crtfastmath.o into the shared library, whose constructor sets
# flush-to-zero for the whole process when the library is loaded and so silently changes
# NumPy's results (subnormals become 0) everywhere else in the program.
FAST_FLAGS = ("-fassociative-math", "-freciprocal-math", "-fno-signed-zeros",
              "-ffp-contract=fast")


def _probe_builds(key: str, source: str, argv) -> bool:
    """Whether ``argv(src, out)`` (a compiler command line) builds ``source``; the answer
    is remembered on disk under a hash of ``key``."""
    memo = cache_dir() / f"probe-{hashlib.sha256(key.encode()).hexdigest()[:16]}.txt"
    if memo.exists():
        return memo.read_text().strip() == "1"
    with tempfile.TemporaryDirectory(dir=cache_dir()) as tmp:
        src = Path(tmp) / "probe.c"
        src.write_text(source)
        try:
            works = subprocess.run(argv(str(src), str(Path(tmp) / "probe.so")),
                                   capture_output=True, timeout=60).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False  # not an answer about the compiler: not remembered
    _write_atomically(memo, b"1" if works else b"0")
    return works


@functools.cache
def _supports(command: tuple[str, ...], flags: tuple[str, ...]) -> bool:
    """Whether the compiler builds a shared library with ``flags``; remembered on disk."""
    probe = ("int eqsnn_probe(int n) { int i, s = 0;\n#pragma omp parallel for reduction(+:s)\n"
             "for (i = 0; i < n; ++i) s += i; return s; }\n")
    return _probe_builds(f"{compiler_identity(command)}|{flags}", probe,
                         lambda src, out: [*command, *BASE_FLAGS, *flags, src, "-o", out])


def compiler_flags(command: tuple[str, ...], fast_math: bool, openmp: bool = True):
    """Flags for the compiler: exact arithmetic unless ``fast_math``, OpenMP where it works,
    and SIMD math (``-DEQSNN_VECTOR_MATH``, linking libmvec) where the C library has it."""
    flags = list(BASE_FLAGS) + list(FAST_FLAGS if fast_math else EXACT_FLAGS)
    for optional in (("-march=native",), ("-fopenmp",) if openmp else ()):
        if optional and _supports(command, optional):
            flags += optional
    if _vector_math(command, tuple(flags)):
        flags.append(VECTOR_MATH_FLAG)
    return tuple(flags)


VECTOR_MATH_FLAG = "-DEQSNN_VECTOR_MATH"
#: libraries to link, after the source: libmvec where the SIMD math is on
VECTOR_MATH_LIBRARIES = ("-lmvec",)


@functools.cache
def _vector_math(command: tuple[str, ...], flags: tuple[str, ...]) -> bool:
    """Whether GCC and glibc's libmvec give SIMD versions of every function the prelude
    declares (x86-64 Linux, glibc >= 2.35): a probe that calls each in a vectorised loop
    must link with no undefined symbol.  Remembered on disk."""
    from ..printing.c_prelude import VECTOR_MATH_FUNCTIONS, prelude

    if platform.machine() not in ("x86_64", "AMD64") or not sys.platform.startswith("linux"):
        return False
    loops = "".join(
        f"void probe_{name}{suffix}({ctype} *restrict y, const {ctype} *restrict x, int n)"
        f" {{ int i; for (i = 0; i < n; ++i) y[i] = {name}{suffix}("
        f"{', '.join(['x[i]'] * arity)}); }}\n"
        for name, arity in VECTOR_MATH_FUNCTIONS
        for ctype, suffix in (("double", ""), ("float", "f")))
    return _probe_builds(
        f"vector-math|{compiler_identity(command)}|{flags}|{platform.libc_ver()}",
        prelude("float64") + loops,
        lambda src, out: [*command, *flags, VECTOR_MATH_FLAG, "-Wl,-z,defs", src, "-o", out,
                          *VECTOR_MATH_LIBRARIES, "-lm"])


def compile_shared_library(text: str, stem: str, fast_math: bool) -> tuple[Path, bool]:
    """Compile C ``text`` to a shared library in the cache; returns ``(path, was_cached)``.

    The file name carries a hash of the source, the compiler and the flags.
    Source and library are written to temporary files and renamed into
    place, so processes compiling the same model at once never see half a
    file.
    """
    command = find_compiler()
    flags = compiler_flags(command, fast_math)
    key = hashlib.sha256("\0".join(
        [CACHE_FORMAT, text, compiler_identity(command), " ".join(flags), _machine()]
    ).encode()).hexdigest()[:24]
    directory = cache_dir()
    library = directory / f"{stem}-{key}.so"
    if library.exists():
        return library, True
    source = directory / f"{stem}-{key}.c"
    _write_atomically(source, text.encode())
    handle, partial = tempfile.mkstemp(dir=directory, prefix=f".{stem}-", suffix=".so")
    os.close(handle)
    libraries = VECTOR_MATH_LIBRARIES if VECTOR_MATH_FLAG in flags else ()
    argv = [*command, *flags, str(source), "-o", partial, *libraries, "-lm"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        os.unlink(partial)
        raise BackendError(f"running the C compiler failed: {exc}", hint=_INSTALL_HINT) from None
    if done.returncode != 0:
        os.unlink(partial)
        raise BackendError(
            f"the C compiler failed on the code emitted for {stem} "
            f"(exit {done.returncode}):\n{done.stderr.strip()[-4000:]}",
            hint=f"this is a bug in eqsnn; please report it with the model; source: {source}",
        )
    os.replace(partial, library)
    return library, False


@functools.lru_cache(maxsize=1)
def _machine() -> str:
    """The CPU, since ``-march=native`` code runs only on the CPU that built it."""
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as info:
            lines = [line for line in info if line.startswith(("model name", "flags"))]
        cpu = "".join(dict.fromkeys(lines))  # the first CPU's name and flags
    except OSError:
        pass
    return f"{platform.machine()}|{platform.system()}|{cpu}"


def _write_atomically(path: Path, data: bytes) -> None:
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    os.replace(partial, path)
