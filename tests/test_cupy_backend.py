"""The ``cupy`` backend.

Without a GPU: emitting is pure (no CuPy import), the kernel is the C
backend's step function in a ``__global__`` wrapper whose parameters match
the arguments the runner passes, it compiles with ``nvcc`` and with NVRTC
where they are installed (no FMA with ``--fmad=false``), and loading says
what is missing.  The runner and its kernel run for real on the CPU
emulation of ``fake_cupy.py`` (backend id ``emulated``): modes, windows,
device inputs, graph replay give the same bits as ``numpy``.  With a GPU
(``pytest -m gpu``) the same tests run on the device.  Equivalence on every
model is in ``test_backend_equivalence.py`` (also on the emulation).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import fake_cupy
import helpers
import numpy as np
import nvrtc
import pytest
from test_backend_equivalence import (
    CASES,
    EMULATED,
    Case,
    assert_identical,
    gpu_available,
    population,
    program,
)

from eqsnn.backends import EmitOptions
from eqsnn.backends import c as c_backend
from eqsnn.backends import cupy as cupy_backend
from eqsnn.errors import BackendError, ParameterError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = [helpers.lif_refractory(), helpers.spike_source(), helpers.noisy(),
          helpers.binary_signed(), helpers.counter(), helpers.branches()]
needs_gpu = pytest.mark.skipif(not gpu_available(), reason="needs CuPy and an NVIDIA GPU")


def test_emit_is_pure():
    script = ("import sys; sys.path[:0] = [sys.argv[1], sys.argv[1] + '/tests']\n"
              "import helpers\n"
              "from eqsnn.backends import EmitOptions, emit\n"
              "source = emit(helpers.noisy(), 'cupy', EmitOptions('float64'))\n"
              "assert 'eqsnn_advance' in source.text\n"
              "assert 'cupy' not in sys.modules, 'emit imported cupy'\n")
    done = subprocess.run([sys.executable, "-c", script, ROOT], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _step_function(text: str) -> str:
    start = text.index("/* One step of one neuron")
    return text[start:text.index("\n}\n", start)]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_the_kernel_wraps_the_c_backends_step_function(model):
    options = EmitOptions("float32", frozenset({"v_thresh", "gain"}))
    cuda, c = cupy_backend.emit(model, options), c_backend.emit(model, options)
    assert _step_function(cuda.text) == _step_function(c.text)
    assert 'extern "C" __global__ void eqsnn_advance(' in cuda.text
    assert "typedef float FLOAT;" in cuda.text and "EQSNN_FN" in cuda.text
    assert "__ballot_sync(0xffffffffu" in cuda.text
    assert cuda.extra["nvrtc_options"] == ("--fmad=false",)
    fast = cupy_backend.emit(model, EmitOptions("float32", fast_math=True))
    assert fast.extra["nvrtc_options"] == ("--use_fast_math",)
    assert not _includes_seen_by_nvrtc(cuda.text)


def _includes_seen_by_nvrtc(text: str) -> list[str]:
    """``#include`` lines active when ``__CUDACC_RTC__`` is defined (NVRTC has no system
    headers): a small preprocessor for ``#if``/``#ifdef``/``#ifndef``/``#elif``/``#else``."""
    defined = {"__CUDACC_RTC__", "__CUDACC__"}

    def holds(condition: str) -> bool:
        condition = re.sub(r"defined\s*\(?\s*(\w+)\s*\)?",
                           lambda m: str(m.group(1) in defined), condition)
        return bool(eval(condition.replace("&&", " and ").replace("||", " or ")
                         .replace("!", " not ")))

    stack, found = [(True, True, True)], []  # (parent active, a branch taken, active)
    for line in text.splitlines():
        words = line.split(None, 1)
        if not words or not words[0].startswith("#"):
            continue
        directive, rest = words[0], (words[1] if len(words) > 1 else "")
        active = stack[-1][2]
        if directive in ("#if", "#ifdef", "#ifndef"):
            condition = {"#if": rest, "#ifdef": f"defined({rest})",
                         "#ifndef": f"!defined({rest})"}[directive]
            now = active and holds(condition)
            stack.append((active, now, now))
        elif directive in ("#elif", "#else"):
            parent, taken, _ = stack.pop()
            now = parent and not taken and (directive == "#else" or holds(rest))
            stack.append((parent, taken or now, now))
        elif directive == "#endif":
            stack.pop()
        elif directive == "#include" and active:
            found.append(line)
        elif directive == "#define" and active:
            defined.add(rest.split("(")[0].split()[0])
    return found


def test_per_neuron_values_are_pointers_and_others_scalars():
    text = cupy_backend.emit(helpers.lif(), EmitOptions("float64", frozenset({"Alpha"}))).text
    signature = text[text.index("eqsnn_advance("):text.index("{", text.index("eqsnn_advance("))]
    assert re.search(r"const FLOAT \*v\d", signature) and re.search(r"const FLOAT v\d", signature)
    assert "typedef double FLOAT;" in text


class _FakeRunner(cupy_backend.CupyRunner):
    """A runner without a GPU: NumPy arrays stand in for device arrays."""

    def __init__(self, model, options):  # no super().__init__(): that needs CuPy
        self.layout = cupy_backend.layout(model, options.per_neuron)
        self.batch, self.n, self.dt, self.seed, self.model = 2, 40, 0.1, 3, model
        self._step_base = np.zeros(1, np.int64)
        self.states = {name: np.zeros((2, 40)) for name, _ in self.layout.states}
        self.values = {name: np.zeros(40) if per else np.float32(0)
                       for name, _, per in self.layout.values}
        self.arrays = {name: np.zeros(5) for name, _ in self.layout.arrays}


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_the_runner_passes_one_argument_per_kernel_parameter(model):
    options = EmitOptions("float32", frozenset({"v_thresh"}))
    runner = _FakeRunner(model, options)
    devices = [np.zeros((1, 2, 40)) for _ in runner.layout.inputs]
    records = {0: (np.zeros((3, 2, 40)), cupy_backend._NULL, np.int64(40))} \
        if runner.layout.states else {}
    args = runner._arguments(devices, records, [np.zeros((3, 2, 2), np.uint32)] * 2)
    assert len(args) == len(cupy_backend.kernel_parameters(runner.layout))
    text = cupy_backend.emit(model, options).text
    signature = text[text.index("eqsnn_advance("):text.index("{", text.index("eqsnn_advance("))]
    assert signature.count(",") + 1 == len(args)


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="needs nvcc")
@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_nvcc_compiles_the_kernel_without_multiply_add(precision, tmp_path):
    for model in (helpers.lif(), helpers.noisy(), helpers.spike_source()):
        path = tmp_path / f"{model.name}.cu"
        path.write_text(cupy_backend.emit(model, EmitOptions(precision)).text)
        ptx = tmp_path / f"{model.name}.ptx"
        done = subprocess.run(["nvcc", "-ptx", "-arch=sm_80", "--fmad=false", "-Werror",
                               "all-warnings", "-diag-suppress", "177", "-o", str(ptx),
                               str(path)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        if model.name == "LIF":  # V = Alpha V + Isyn: a multiply-add unless --fmad=false
            assert "fma" not in ptx.read_text()
            assert "eqsnn_advance" in ptx.read_text()


@pytest.mark.skipif(gpu_available(), reason="checks the message given without a GPU")
def test_load_without_cupy_or_gpu_says_what_is_missing():
    with pytest.raises(BackendError) as info:
        cupy_backend.load(cupy_backend.emit(helpers.lif(), EmitOptions()))
    message = str(info.value)
    assert ("cupy" in message.lower()) and ("GPU" in message or "pip install" in message)


def test_an_unknown_mode_is_refused_before_any_gpu_work(monkeypatch):
    monkeypatch.setenv("EQSNN_CUPY_MODE", "warp-speed")
    with pytest.raises(BackendError):
        cupy_backend.load(cupy_backend.emit(helpers.lif(), EmitOptions()))


# --- on a GPU, and on the CPU emulation of one -------------------------------------
ON_DEVICE = [pytest.param("cupy", marks=[pytest.mark.gpu, needs_gpu], id="gpu"),
             pytest.param(EMULATED, marks=pytest.mark.c, id="emulated")]


def _device_module(backend):
    if backend == EMULATED:
        return fake_cupy
    import cupy
    return cupy


def _runs(backend, case, precision, mode, *, window_bytes=None, device_inputs=False,
          pieces=(100,)):
    instance, options = population(case, precision, n=1000, batch=2)
    runner = program(backend, case.model, options).start(instance)
    runner.mode = mode
    if window_bytes is not None:
        runner.window_bytes = window_bytes
    rng, out, step0 = np.random.default_rng(9), [], 0
    for steps in pieces:
        inputs = {"Isyn": rng.uniform(0, 0.4, (steps, 2, 1000))} if case.model.inputs else {}
        if device_inputs:
            inputs = {k: _device_module(backend).asarray(v) for k, v in inputs.items()}
        out.append(runner.run(steps, step0, inputs, {s.name: None for s in case.model.states},
                              case.model.spiking))
        step0 += steps
    return out


@pytest.mark.parametrize("backend", ON_DEVICE)
@pytest.mark.parametrize("mode", ["step", "graph"])
@pytest.mark.parametrize("precision", ["float32", "float64"])
@pytest.mark.parametrize("model", [helpers.lif_refractory(), helpers.noisy()],
                         ids=lambda m: m.name)
def test_modes_give_the_same_bits(backend, model, precision, mode):
    case = Case(model.name, model)
    for fused, other in zip(_runs(backend, case, precision, "fused", pieces=(60, 40)),
                            _runs(backend, case, precision, mode, pieces=(60, 40))):
        assert_identical(fused, other)


@pytest.mark.parametrize("backend", ON_DEVICE)
@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_windows_device_inputs_and_numpy(backend, precision):
    case = Case("lif_refractory", helpers.lif_refractory())
    whole = _runs(backend, case, precision, "fused")[0]
    windows = _runs(backend, case, precision, "fused", window_bytes=50_000)[0]
    device = _runs(backend, case, precision, "fused", device_inputs=True)[0]
    assert_identical(whole, windows)
    assert_identical(whole, device)
    instance, options = population(case, precision, n=1000, batch=2)
    runner = program("numpy", case.model, options).start(instance)
    inputs = {"Isyn": np.random.default_rng(9).uniform(0, 0.4, (100, 2, 1000))}
    assert_identical(runner.run(100, 0, inputs, {"V": None, "RefracTime": None}, True), whole)


@pytest.mark.c
def test_device_inputs_are_waited_for_on_the_runners_stream():
    """The runner's stream does not synchronise with the caller's: a device input written
    there must be waited for (an event), and a host input needs no wait."""
    case = Case("lif_refractory", helpers.lif_refractory())
    instance, options = population(case, "float32", n=50, batch=1)
    runner = program(EMULATED, case.model, options).start(instance)
    runner.run(5, 0, {"Isyn": np.full((5, 1, 50), 0.3)}, {}, True)
    assert runner.stream.waited == []
    runner.run(5, 5, {"Isyn": fake_cupy.asarray(np.full((5, 1, 50), 0.3))}, {}, True)
    assert len(runner.stream.waited) == 1


@pytest.mark.parametrize("backend", ON_DEVICE)
def test_launches_per_mode(backend):
    """fused: one launch per window; step: one per step; graph: captured once per shape and
    arguments, replayed, captured again when an argument changes; all give the same bits."""
    case = Case("lif_refractory", helpers.lif_refractory())
    instance, options = population(case, "float32", n=100, batch=1)
    inputs = {"Isyn": np.random.default_rng(4).uniform(0, 0.4, (20, 1, 100))}
    counts, runs = {}, {}
    for mode in ("fused", "step", "graph"):
        runner = program(backend, case.model, options).start(instance)
        runner.mode, launches, graphs = mode, [], []
        for k in range(3):
            if k == 2:
                runner.set_value("v_thresh", 0.9)  # a kernel argument changes
            before = getattr(runner.program.kernel, "launches", 0)
            runs.setdefault(mode, []).append(runner.run(20, 20 * k, inputs, {"V": None}, True))
            launches.append(getattr(runner.program.kernel, "launches", 0) - before)
            graphs.append(runner._graph)
        counts[mode] = launches
        if mode == "graph":
            assert graphs[0] is graphs[1] is not graphs[2]  # replayed, then captured again
    for mode in ("step", "graph"):
        for a, b in zip(runs["fused"], runs[mode]):
            assert_identical(a, b)
    if backend == EMULATED:  # the emulated kernel counts the launches it ran
        assert counts == {"fused": [1, 1, 1], "step": [20, 20, 20], "graph": [20, 20, 20]}


# --- the emulation itself ---------------------------------------------------------------
_CHECK_KERNEL = r"""
extern "C" __global__ void k(const long long n, unsigned int *out, const int early)
{
    const long long j = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (early && j >= n) return;  /* a thread leaving before the vote: undefined on a GPU */
    const unsigned int word = __ballot_sync(early == 2 ? 0xffffu : 0xffffffffu, j % 3 == 0);
    if ((threadIdx.x & 31) == 0) out[j >> 5] = word;
}
"""


def test_the_emulation_forms_ballots_and_reports_divergence():
    kernel = fake_cupy.RawModule(code=_CHECK_KERNEL).get_function("k")
    out = fake_cupy.zeros(4, np.uint32)
    kernel((2,), (64,), (np.int64(100), out, np.int32(0)))
    bits = np.unpackbits(out.get().view(np.uint8), bitorder="little")
    np.testing.assert_array_equal(np.flatnonzero(bits), np.arange(0, 128, 3))
    with pytest.raises(fake_cupy.CUDARuntimeError, match="diverged at a warp-wide vote"):
        kernel((2,), (64,), (np.int64(100), out, np.int32(1)))
    with pytest.raises(fake_cupy.CUDARuntimeError, match="mask 0x0000ffff"):
        kernel((1,), (32,), (np.int64(32), out, np.int32(2)))
    with pytest.raises(fake_cupy.CUDARuntimeError, match="argument 0 .* 4 bytes, the parameter 8"):
        kernel((1,), (32,), (np.int32(32), out, np.int32(0)))
    with pytest.raises(TypeError, match="ndarray"):
        kernel((1,), (32,), (np.int64(32), np.zeros(4, np.uint32), np.int32(0)))


def test_the_fake_refuses_what_cupy_refuses():
    device = fake_cupy.zeros((2, 3), np.float32)
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.asarray(device)
    with pytest.raises(TypeError):
        device.set(np.zeros((2, 3)))  # float64 into float32
    with pytest.raises(ValueError):
        device.get(out=np.zeros((3, 2), np.float32))
    with pytest.raises(TypeError):
        device + np.ones(3)
    assert isinstance(np.broadcast_to(device[:1], (4, 3)), fake_cupy.ndarray)


# --- NVRTC, the compiler CuPy runs (no GPU needed) ----------------------------------------
needs_nvrtc = pytest.mark.skipif(nvrtc.library() is None,
                                 reason="needs NVRTC (pip install nvidia-cuda-nvrtc-cu12)")
NVRTC_ARCH = "-arch=compute_90"  # H100/H200
#: warning 177, "declared but never referenced": the RNG helpers a model does not draw from
NVRTC_QUIET = "-diag-suppress=177"


@needs_nvrtc
@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_nvrtc_compiles_every_models_kernel_without_warnings(precision):
    failures = []
    for case in CASES:
        _, options = population(case, precision)
        source = cupy_backend.emit(case.model, options)
        try:
            ptx, log = nvrtc.compile_ptx(source.text, (*source.extra["nvrtc_options"],
                                                       NVRTC_ARCH, NVRTC_QUIET), f"{case.name}.cu")
        except nvrtc.NvrtcError as exc:
            failures.append(f"{case.name}: {exc}")
            continue
        if log.strip() or ".entry eqsnn_advance" not in ptx:
            failures.append(f"{case.name}: {log.strip() or 'no eqsnn_advance entry'}")
    assert not failures, "\n".join(failures[:5])


@needs_nvrtc
def test_nvrtc_contracts_multiply_adds_only_with_fast_math():
    """``V = Alpha V + Isyn`` is a fused multiply-add on a GPU unless ``--fmad=false``."""
    exact = cupy_backend.emit(helpers.lif(), EmitOptions("float32"))
    fast = cupy_backend.emit(helpers.lif(), EmitOptions("float32", fast_math=True))
    exact_ptx, _ = nvrtc.compile_ptx(exact.text, (*exact.extra["nvrtc_options"], NVRTC_ARCH))
    fast_ptx, _ = nvrtc.compile_ptx(fast.text, (*fast.extra["nvrtc_options"], NVRTC_ARCH))
    assert not re.search(r"\bfma\.", exact_ptx) and "mul.rn.f32" in exact_ptx
    assert re.search(r"\bfma\.rn(\.ftz)?\.f32", fast_ptx)


# --- the Simulator with device inputs -------------------------------------------------------
@pytest.mark.c
def test_simulator_takes_device_inputs_on_cupy_and_refuses_them_elsewhere():
    """Device arrays go through the Simulator's checks and shaping on the device (per step, in
    the population's shape, held per lane) and give numpy's bits; NaN is refused there too;
    other backends say to copy the array to the host."""
    from eqsnn.runtime import Simulator

    rng = np.random.default_rng(5)
    per_step = rng.uniform(0, 0.4, (30, 2, 4, 5))
    per_lane = np.array([0.1, 0.35]).reshape(2, 1, 1)
    with fake_cupy.installed() as cp:
        gpu = Simulator(helpers.lif_refractory(), (4, 5), batch_size=2, backend="cupy",
                        precision="float64")
        device = [gpu.run(30, inputs={"Isyn": cp.asarray(per_step)}, record=["V", "spikes"])]
        bad = per_step.copy()
        bad[3, 1, 2, 0] = np.nan
        with pytest.raises(ParameterError, match=r"finite; got nan at index \(3, 1, 2, 0\)"):
            gpu.run(30, inputs={"Isyn": cp.asarray(bad)})  # changes nothing: run 2 is as numpy's
        device.append(gpu.run(20, inputs={"Isyn": cp.asarray(per_lane)}, record=["V", "spikes"]))
        host = Simulator(helpers.lif_refractory(), (4, 5), batch_size=2, precision="float64")
        with pytest.raises(ParameterError, match="CUDA device array.*numpy backend") as info:
            host.run(30, inputs={"Isyn": cp.asarray(per_step)})
        assert ".get()" in info.value.hint
    expected = [host.run(30, inputs={"Isyn": per_step}, record=["V", "spikes"]),
                host.run(20, inputs={"Isyn": per_lane}, record=["V", "spikes"])]
    for a, b in zip(expected, device):
        np.testing.assert_array_equal(a.vars["V"], b.vars["V"], strict=True)
        np.testing.assert_array_equal(a.spikes.step, b.spikes.step)
        np.testing.assert_array_equal(a.spikes.neuron, b.spikes.neuron)
    assert len(expected[0].spikes.step) > 0


# --- the GPU benchmark's logic, on the emulation ----------------------------------------------
@pytest.mark.c
def test_gpu_bench_runs_on_the_emulation(monkeypatch, capsys):
    """bench/gpu_bench.py's timing code (hand kernels, the three modes) and its table run, so
    the script spends a GPU session measuring rather than failing; the figures mean nothing."""
    monkeypatch.syspath_prepend(os.path.join(ROOT, "bench"))
    import gpu_bench

    with fake_cupy.installed() as cp:
        row = gpu_bench.hand_timings(cp, 100, 5, 1)
        row.update(gpu_bench.eqsnn_timings(cp, 100, 5, 1))
        # the hand kernels' LIF is eqsnn's step: the same V after 60 steps, in every mode
        check = gpu_bench.agreement(cp, 100, 60)
    assert set(row) == {"hand step", "hand fused", "step", "graph", "fused"}
    assert all(value > 0 for value in row.values())
    assert check == {"step": 0.0, "graph": 0.0, "fused": 0.0}
    results = {"sizes": {"100": row, "1000": {"error": "Traceback\nCUDARuntimeError: x"}},
               "compile": {"cold compile": 0.5, "warm compile": 0.01,
                           "cold compile from text": 0.9, "warm compile from text": 0.4},
               "agreement": {"n": 100, "max_abs": check}}
    text = gpu_bench.table(results, "emulated", 5)
    assert "| 1e+02 |" in text and "error: CUDARuntimeError: x" in text
    assert "cold compile to first step: 500 ms" in text and "text: 900 / 400 ms" in text
    assert "(N = 100, T = 5, from V = 0): bit for bit" in text
    results["agreement"]["max_abs"] = {**check, "fused": 1e-3}
    assert "DIFFERENT: step 0, graph 0, fused 0.001" in gpu_bench.table(results, "emulated", 5)
    monkeypatch.setattr(sys, "argv", ["-c", ROOT, gpu_bench.LIF])
    with fake_cupy.installed():  # the script timed in a fresh process, here in this one
        exec(compile(gpu_bench.COMPILE_SCRIPT, "COMPILE_SCRIPT", "exec"), {})
    from_text, from_ir = (float(x) for x in capsys.readouterr().out.split()[-2:])
    assert from_text >= from_ir > 0
