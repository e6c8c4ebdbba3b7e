"""The C toolchain of the ``c`` backend: compiler, flags, probes and the build cache.

Finding the compiler (``$CC``, else cc, gcc or clang), probing what it
supports (``-march=native``, OpenMP, glibc's SIMD math), and compiling into a
content-addressed cache (``$EQSNN_CACHE_DIR``, default ``~/.cache/eqsnn``;
see :mod:`._cache`): every entry is validated (size and SHA-256) before it is
used, so processes compiling the same model at once, a crash half-way or a
damaged file never get a bad library loaded.  Probe results are remembered
on disk the same way.
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
from . import _cache

__all__ = [
    "cache_dir", "find_compiler", "compiler_flags", "compile_shared_library",
    "default_threads", "VECTOR_MATH_FLAG",
]

#: bump when the emitted code or the flags change meaning, to invalidate cached libraries
CACHE_FORMAT = "1"


def cache_dir() -> Path:
    """``$EQSNN_CACHE_DIR``, else ``$XDG_CACHE_HOME/eqsnn``, else ``~/.cache/eqsnn``; a
    private temporary folder (with one warning on stderr) when that one cannot be used."""
    return _cache.directory()


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


#: -fno-tree-pre: GCC's partial redundancy elimination turns the numerical check's chain of
#: ``_check_step < 0`` tests into selects between masks of different widths, which its
#: vectoriser rejects, so the neuron loop stayed scalar (it changes no result)
BASE_FLAGS = ("-O3", "-std=c99", "-fPIC", "-shared", "-fwrapv", "-fno-math-errno",
              "-fno-trapping-math", "-fno-tree-pre")
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
    answer = _cache.read(memo)
    if answer in (b"0", b"1"):
        return answer == b"1"
    _cache.discard(memo)  # missing, damaged or half-written: probe again
    works, _ = _try_build(source, argv)
    if works is None:
        return False  # not an answer about the compiler: not remembered
    try:
        _cache.store(memo, b"1" if works else b"0")
    except OSError:
        pass  # only a memo: probing again next time is correct
    return works


def _try_build(source: str, argv) -> tuple[bool | None, str]:
    """``(built, compiler output)``; ``built`` is ``None`` when the compiler did not run."""
    with tempfile.TemporaryDirectory(prefix="eqsnn-probe-") as tmp:
        src = Path(tmp) / "probe.c"
        src.write_text(source)
        try:
            done = subprocess.run(argv(str(src), str(Path(tmp) / "probe.so")),
                                  capture_output=True, text=True, errors="replace", timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return None, str(exc)
    return done.returncode == 0, (done.stdout + done.stderr).strip()


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


class CompilerError(BackendError):
    """The C compiler failed; ``output`` is what it printed."""

    def __init__(self, message: str, output: str, **kwargs):
        super().__init__(message, **kwargs)
        self.output = output


def compile_shared_library(text: str, stem: str, fast_math: bool) -> tuple[Path, bool]:
    """Compile C ``text`` to a shared library in the cache; returns ``(path, was_cached)``.

    The file name carries a hash of the source, the compiler and the flags.
    A cached library is used only when its size and SHA-256 are those
    recorded when it was written (:func:`._cache.valid`); else it is built
    again.  A cache folder that fails while writing is given up for a
    private one (:func:`._cache.give_up`).
    """
    command = find_compiler()
    flags = compiler_flags(command, fast_math)
    key = hashlib.sha256("\0".join(
        [CACHE_FORMAT, text, compiler_identity(command), " ".join(flags), _machine()]
    ).encode()).hexdigest()[:24]
    directory = cache_dir()
    library = directory / f"{stem}-{key}.so"
    if _cache.valid(library):
        return library, True
    try:
        return _build(text, directory, f"{stem}-{key}", command, flags), False
    except OSError as exc:  # the folder failed under us (full, made read-only, removed)
        directory = _cache.give_up(directory, f"writing failed: {exc.strerror or exc}")
        try:
            return _build(text, directory, f"{stem}-{key}", command, flags), False
        except OSError as again:
            raise BackendError(f"cannot write the compiled library: {again}",
                               hint="set EQSNN_CACHE_DIR to a writable folder") from None


def load_library(library: Path):
    """``ctypes.CDLL`` of a cached library, loaded from a private copy of the checked
    bytes (:func:`._cache.verified_copy`), so that nothing changed or damaged is loaded;
    ``None`` if it no longer matches its checksum (compile again)."""
    import ctypes

    copy = _cache.verified_copy(library)
    if copy is None:
        return None  # changed since it was checked (another process is writing it)
    try:
        return ctypes.CDLL(copy)
    finally:
        _cache.discard(Path(copy))


def discard(library: Path) -> None:
    """Remove a cached library, so that it is built again."""
    _cache.discard(library)


def _build(text: str, directory: Path, name: str, command, flags) -> Path:
    library = directory / f"{name}.so"
    source = directory / f"{name}.c"
    if source.is_dir():  # a file in place of either is replaced atomically below; a folder
        _cache.discard(source)  # would block that (a concurrent build may be reading a file)
    _write_atomically(source, text.encode())
    handle, partial = tempfile.mkstemp(dir=directory, prefix=f".{name}-", suffix=".so")
    os.close(handle)
    libraries = VECTOR_MATH_LIBRARIES if VECTOR_MATH_FLAG in flags else ()
    argv = [*command, *flags, str(source), "-o", partial, *libraries, "-lm"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, errors="replace",
                              timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        _cache.discard(Path(partial))
        raise CompilerError(f"running the C compiler {' '.join(command)!r} failed: {exc}",
                            str(exc), hint=_INSTALL_HINT) from None
    except BaseException:  # Ctrl-C while compiling: leave no partial file behind
        _cache.discard(Path(partial))
        raise
    output = (done.stdout + done.stderr).strip()
    if done.returncode != 0 or os.path.getsize(partial) == 0:
        _cache.discard(Path(partial))
        raise _compiler_failure(command, done.returncode, output, name, source)
    _cache.publish(partial, library)
    return library


def _compiler_failure(command, returncode: int, output: str, name: str, source: Path):
    """A CompilerError: the compiler itself is broken (it cannot build an empty library),
    or it rejected eqsnn's code (a bug in eqsnn)."""
    shown = output[-4000:] or "(it printed nothing)"
    what = f"exit {returncode}" if returncode else "it wrote no library"
    works, sanity = _try_build("int eqsnn_probe(void) { return 0; }\n",
                               lambda src, out: [*command, *BASE_FLAGS, src, "-o", out])
    if not works:
        return CompilerError(
            f"the C compiler {' '.join(command)!r} cannot build a shared library "
            f"({what}):\n{shown}", output,
            hint="check that it works (CC selects it), or " + _INSTALL_HINT)
    return CompilerError(
        f"the C compiler failed on the code emitted for {name} ({what}):\n{shown}", output,
        hint=f"this is a bug in eqsnn; please report it with the model; source: {source}")


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
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:60]}-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(partial, path)
    except BaseException:
        _cache.discard(Path(partial))
        raise
