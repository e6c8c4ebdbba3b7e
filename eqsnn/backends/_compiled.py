"""What the compiled backends (``c`` and ``cupy``) share.

* :class:`Layout`: the order in which a population's states, inputs, values
  and arrays cross into compiled code; both the emitted code and the runner
  derive it from the model, so they agree by construction.
* Host-side preparation of one run: input strides (held inputs stay
  unexpanded: a dimension of length 1 gets stride 0), recorded neuron
  indices, and the conversion of bit-packed spike planes to index arrays.
* The C toolchain: finding the compiler, probing OpenMP, and compiling into
  a content-addressed cache with atomic writes.

Spike planes are ``uint32`` arrays ``(steps, batch, words)`` with
``words = ceil(n / 32)``: bit ``k`` of word ``w`` is neuron ``32 w + k``.
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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import ir
from ..errors import BackendError

__all__ = [
    "Layout", "layout", "input_strides", "check_input_shape", "rounded_value", "record_plan",
    "bit_positions", "merge_spikes", "collect_spikes", "spike_words",
    "cache_dir", "find_compiler", "compile_shared_library", "default_threads",
]

#: bump when the emitted code or the flags change meaning, to invalidate cached libraries
CACHE_FORMAT = "1"


@dataclass(frozen=True)
class Layout:
    """Ordered ``(name, dtype)`` of states, inputs, values and arrays of a population.

    ``values`` are the params, the runtime params, the precompute values and
    ``dt``, each with a flag saying whether it is given per neuron.
    """

    states: tuple[tuple[str, str], ...]
    inputs: tuple[tuple[str, str], ...]
    values: tuple[tuple[str, str, bool], ...]
    arrays: tuple[tuple[str, str], ...]

    @property
    def value_types(self) -> tuple[tuple[str, str], ...]:
        return tuple((name, dtype) for name, dtype, _ in self.values)

    @property
    def uniform_values(self) -> frozenset:
        """The values that are one for all neurons."""
        return frozenset(name for name, _, per_neuron in self.values if not per_neuron)

    def uniform_call(self, value_name) -> str:
        """The arguments of the uniform function after ``t, step``: the uniform values,
        each named by ``value_name(k)`` (its position in :attr:`values`)."""
        return "".join(f", {value_name(k)}" for k, (_, _, per) in enumerate(self.values)
                       if not per)


def layout(model: ir.Model, per_neuron=frozenset(), precision: str = "float32") -> Layout:
    if precision not in ("float32", "float64"):
        raise BackendError(f"unknown precision {precision!r}", hint="choose float32 or float64")
    types = model.name_types()
    names = [p.name for p in model.params] + list(model.runtime_params)
    names += list(model.precompute_names)
    values = tuple((name, types[name], name in per_neuron) for name in dict.fromkeys(names))
    return Layout(
        states=tuple((s.name, s.dtype) for s in model.states),
        inputs=tuple((i.name, i.dtype) for i in model.inputs),
        values=values + (("dt", "float", False),),
        arrays=tuple((a.name, a.dtype) for a in model.arrays),
    )


def input_strides(array: np.ndarray, name: str) -> tuple[np.ndarray, tuple[int, int, int]]:
    """``array`` (steps or 1, batch or 1, n or 1) and its element strides, 0 where the length is 1.

    Broadcast views keep their zero strides; nothing is expanded.
    """
    if array.ndim != 3:
        raise BackendError(f"input {name} must be 3-D (steps, batch, n), got shape {array.shape}")
    if any(stride % array.itemsize for stride in array.strides):
        array = np.ascontiguousarray(array)
    strides = tuple(0 if length == 1 else stride // array.itemsize
                    for length, stride in zip(array.shape, array.strides))
    return array, strides


def check_input_shape(shape, name: str, steps: int, batch: int, n: int) -> None:
    if len(shape) != 3 or shape[0] not in (1, steps) or shape[1] not in (1, batch) \
            or shape[2] not in (1, n):
        raise BackendError(f"input {name} has shape {tuple(shape)}; expected "
                           f"(1 or {steps}, 1 or {batch}, 1 or {n})")


def rounded_value(name: str, value, dtype: np.dtype, per_neuron: bool, n: int) -> np.ndarray:
    """A param or precompute value in its run-time type: ``(n,)`` per neuron, else 0-d.

    float64 values are rounded once, here, as the ``numpy`` backend does.
    """
    value = np.asarray(value)
    if not per_neuron and value.size != 1:
        raise BackendError(
            f"{name} was emitted as one value for all neurons but got shape {value.shape}",
            hint="emit with EmitOptions(per_neuron=...) naming it",
        )
    out = np.empty((n,) if per_neuron else (), dtype)
    np.copyto(out, np.broadcast_to(value.reshape(-1)[0] if value.size == 1 else value, out.shape),
              casting="unsafe")
    return out


@dataclass(frozen=True)
class RecordPlan:
    """Neurons one state records: ``index`` sorted and unique (``None``: all ``width``
    neurons in order); ``expand`` re-orders the columns into the order asked for."""

    index: np.ndarray | None
    width: int
    expand: np.ndarray | None

    def result(self, recorded: np.ndarray) -> np.ndarray:
        return recorded if self.expand is None else recorded[..., self.expand]


def record_plan(index, n: int) -> RecordPlan:
    if index is None:
        return RecordPlan(None, n, None)
    index = np.asarray(index, np.int64).reshape(-1)
    unique, inverse = np.unique(index, return_inverse=True)
    if len(unique) == len(index) and np.array_equal(unique, index):
        return RecordPlan(unique, len(unique), None)
    return RecordPlan(unique, len(unique), inverse.reshape(-1))


def spike_words(n: int) -> int:
    return (n + 31) // 32


def bit_positions(bits: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(step, lane, neuron)`` of every set bit of a ``(steps, batch, words)`` plane, sorted."""
    steps, batch, words = bits.shape
    flat = bits.reshape(-1)
    nonzero = np.flatnonzero(flat)
    as_bytes = flat[nonzero].astype("<u4").view(np.uint8).reshape(-1, 4)
    rows, bit = np.nonzero(np.unpackbits(as_bytes, axis=1, bitorder="little"))
    word = nonzero[rows]
    row = word // words
    return ((row // batch).astype(np.intp), (row % batch).astype(np.intp),
            ((word % words) * 32 + bit).astype(np.intp))


def merge_spikes(positive, negative):
    """``(step, batch, neuron, sign)`` sorted by (step, batch, neuron) from the positions of
    positive and negative spikes (either may be ``None``); ``sign`` is int8 ±1 when
    ``negative`` is given (a signed model), else ``None``."""
    if negative is None:
        if positive is None:
            empty = np.zeros(0, np.intp)
            return empty, empty, empty, None
        return (*positive, None)
    parts = [(p, 1) for p in (positive,) if p is not None] + [(negative, -1)]
    step, lane, neuron = (np.concatenate([p[k] for p, _ in parts]) for k in range(3))
    sign = np.concatenate([np.full(len(p[0]), s, np.int8) for p, s in parts])
    order = np.lexsort((neuron, lane, step))
    return step[order], lane[order], neuron[order], sign[order]


def collect_spikes(model: ir.Model, planes: list, positions=bit_positions):
    """``(step, batch, neuron, sign)`` of a run from its spike planes (positive, then negative
    for a signed model); ``positions`` lists the set bits of one plane."""
    positive = positions(planes[0]) if planes and model.threshold is not None else None
    negative = positions(planes[1]) if planes and model.signed else None
    return merge_spikes(positive, negative)


#: model-independent C of the ``c`` backend's library: packing spike flags into words,
#: finding recorded neurons of a tile, and listing spike positions for the host
C_RUN_HELPERS = r"""
#if defined(_WIN32)
#define EQSNN_EXPORT __declspec(dllexport)
#else
#define EQSNN_EXPORT
#endif

#if defined(__GNUC__) || defined(__clang__)
#define eqsnn_lowest_bit(x) __builtin_ctz(x)
#define eqsnn_bit_count(x) __builtin_popcount(x)
#else
static int eqsnn_lowest_bit(unsigned int x) { int k = 0; for (; !(x & 1u); x >>= 1) ++k; return k; }
static int eqsnn_bit_count(unsigned int x) { int k = 0; for (; x; x &= x - 1) ++k; return k; }
#endif

/* (step, lane, neuron) of every set bit of a (steps, batch, words) spike plane, in order;
 * returns how many; with step == NULL it only counts. */
EQSNN_EXPORT long long eqsnn_spike_positions(const unsigned int *bits, long long steps,
                                             long long batch, long long words, long long *step,
                                             long long *lane, long long *neuron)
{
    long long i, b, w, count = 0;
    for (i = 0; i < steps; ++i)
        for (b = 0; b < batch; ++b) {
            const unsigned int *word = bits + (i * batch + b) * words;
            if (!step) {
                for (w = 0; w < words; ++w) count += eqsnn_bit_count(word[w]);
                continue;
            }
            for (w = 0; w < words; ++w) {
                unsigned int x = word[w];
                for (; x; x &= x - 1, ++count) {
                    step[count] = i;
                    lane[count] = b;
                    neuron[count] = w * 32 + eqsnn_lowest_bit(x);
                }
            }
        }
    return count;
}

/* bit k of the result: bit `bit` of f[k], k < 32; a shift-or reduction the compiler
 * vectorises */
static unsigned int eqsnn_pack_bits(const unsigned char *f, int bit)
{
    unsigned int word = 0;
    int k;
    for (k = 0; k < 32; ++k) word |= (unsigned int)((f[k] >> bit) & 1u) << k;
    return word;
}

/* first position in the sorted index whose neuron is >= neuron */
static long long eqsnn_lower_bound(const long long *index, long long count, long long neuron)
{
    long long low = 0, high = count;
    while (low < high) {
        long long mid = low + (high - low) / 2;
        if (index[mid] < neuron) low = mid + 1; else high = mid;
    }
    return low;
}
"""


# --- the C toolchain --------------------------------------------------------
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


@functools.cache
def _supports(command: tuple[str, ...], flags: tuple[str, ...]) -> bool:
    """Whether the compiler builds a shared library with ``flags``; remembered on disk."""
    key = hashlib.sha256(f"{compiler_identity(command)}|{flags}".encode()).hexdigest()[:16]
    memo = cache_dir() / f"probe-{key}.txt"
    if memo.exists():
        return memo.read_text().strip() == "1"
    probe = ("int eqsnn_probe(int n) { int i, s = 0;\n#pragma omp parallel for reduction(+:s)\n"
             "for (i = 0; i < n; ++i) s += i; return s; }\n")
    with tempfile.TemporaryDirectory(dir=cache_dir()) as tmp:
        src = Path(tmp) / "probe.c"
        src.write_text(probe)
        argv = [*command, *BASE_FLAGS, *flags, str(src), "-o", str(Path(tmp) / "probe.so")]
        try:
            works = subprocess.run(argv, capture_output=True, timeout=60).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            works = False
    _write_atomically(memo, b"1" if works else b"0")
    return works


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
    from ..printing.c import VECTOR_MATH_FUNCTIONS, prelude

    if platform.machine() not in ("x86_64", "AMD64") or not sys.platform.startswith("linux"):
        return False
    key = hashlib.sha256(f"vector-math|{compiler_identity(command)}|{flags}|"
                         f"{platform.libc_ver()}".encode()).hexdigest()[:16]
    memo = cache_dir() / f"probe-{key}.txt"
    if memo.exists():
        return memo.read_text().strip() == "1"
    loops = "".join(
        f"void probe_{name}{suffix}({ctype} *restrict y, const {ctype} *restrict x, int n)"
        f" {{ int i; for (i = 0; i < n; ++i) y[i] = {name}{suffix}("
        f"{', '.join(['x[i]'] * arity)}); }}\n"
        for name, arity in VECTOR_MATH_FUNCTIONS
        for ctype, suffix in (("double", ""), ("float", "f")))
    with tempfile.TemporaryDirectory(dir=cache_dir()) as tmp:
        src = Path(tmp) / "probe.c"
        src.write_text(prelude("float64") + loops)
        argv = [*command, *flags, VECTOR_MATH_FLAG, "-Wl,-z,defs", str(src), "-o",
                str(Path(tmp) / "probe.so"), *VECTOR_MATH_LIBRARIES, "-lm"]
        try:
            works = subprocess.run(argv, capture_output=True, timeout=60).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            works = False
    _write_atomically(memo, b"1" if works else b"0")
    return works


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
    import platform

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
