"""Every example, standard-library and hand-built model on every available backend vs numpy.

The compiled backends (``c``, ``cupy``) promise (`docs/architecture.md`, "Floating point"):

* float64, one step from the same state: within 1e-12·max(1, |x|);
* float64 trajectories bit-identical, spikes included, when the step has no
  transcendental function; otherwise within 1e-9·max(1, |x|) until the
  first step whose spikes differ (reported);
* float32 trajectories within 1e-5·max(1, |x|) until the first spike
  difference (reported); on the CPU (``c`` and the CUDA emulation) they are
  bit-identical for every model, since float32 transcendental functions are
  the float64 ones rounded on every backend;
* the same spikes for the same seed in stochastic models.

Other registered backends (e.g. ``pygenn``, with its own generator) get the
one-step test and a bit-identical float32 trajectory on deterministic models
where they are available.  The
helpers here (:func:`population`, :func:`run_backend`) are shared with
``test_c_backend.py`` and ``test_cupy_backend.py``.
"""

from __future__ import annotations

import functools
import glob
import os
import warnings
from dataclasses import dataclass, field

import fake_cupy
import helpers
import numpy as np
import pytest

import eqsnn
from eqsnn import ir
from eqsnn.backends import REGISTRY, EmitOptions, Instance, get_backend
from eqsnn.errors import BackendError
from eqsnn.printing.lower import lower
from eqsnn.runtime import host
from eqsnn.runtime.quantities import from_internal
from eqsnn.runtime.values import initial_states, prepare_arrays, prepare_params

#: the cupy backend on the CPU: its host code and kernel run, the kernel compiled by g++ with
#: the SIMT emulation of tests/cuda_emulation.h (see tests/fake_cupy.py)
EMULATED = "cupy-emulated"
EXACT_BACKENDS = ("c", "cupy", EMULATED)
TRANSCENDENTAL = {"exp", "expm1", "log", "log1p", "sin", "cos", "tanh", "pow", "rand_normal"}
N, BATCH, STEPS = 40, 2, 200  # 40 neurons: one full and one partial word of spike bits


@dataclass
class Case:
    """A model with the params, initial values and arrays of one population."""

    name: str
    model: ir.Model
    dt: float = 0.1
    params: dict = field(default_factory=dict)
    init: dict = field(default_factory=dict)
    arrays: dict = field(default_factory=dict)


def _example_cases() -> list[Case]:
    dt = {"hh": 0.025, "lif_held": 0.5, "coba_lif": 0.5, "integrator": 1.0,  # spikes in 200 steps
          "two_compartment": 1.0, "lif_noise": 1.0}
    cases = []
    for path in sorted(glob.glob(os.path.join(helpers_root(), "examples", "*.eqs"))):
        stem = os.path.splitext(os.path.basename(path))[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = eqsnn.load(path).ir
        cases.append(Case(f"example-{stem}", model, dt.get(stem, 0.1)))
    return cases


def helpers_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _stdlib_cases() -> list[Case]:
    try:
        from eqsnn import neurons
    except ImportError:  # the standard library is not there yet
        return []
    variants = [(name, {}) for name in sorted(neurons.NEURONS)] + [
        ("leaky_integrate_fire", {"tau_refrac": 5.0, "relative_reset": False,
                                  "integrate_during_refrac": False}),
        ("adaptive_leaky_integrate_fire", {"tau_refrac": 3.0, "beta": 0.5}),
        ("leaky_integrate", {"readout": "avg_var_exp_weight"}),
        ("leaky_integrate_fire", {"readout": "first_spike_time"}),
        ("leaky_integrate_fire", {"readout": "spike_count", "tau_refrac": 2.0}),
    ]
    cases = []
    for name, kwargs in variants:
        build = neurons.NEURONS[name](**kwargs).build(shape=(N,), batch_size=BATCH, dt=1.0)
        arrays, init = dict(build.arrays), dict(build.init)
        if name == "spike_input":  # a few spikes per neuron, as the adapter would lay out
            arrays = {"SpikeTimes": np.sort(np.random.default_rng(1).uniform(0, 30, 3 * N))}
            init = {"StartSpike": np.arange(N) * 3, "EndSpike": np.arange(N) * 3 + 3}
        label = "-".join([name] + [f"{k}={v}" for k, v in kwargs.items()])
        cases.append(Case(f"stdlib-{label}", build.model.ir, 1.0, dict(build.params), init,
                          arrays))
    return cases


def _hand_built_cases() -> list[Case]:
    return [
        Case("ir-lif", helpers.lif(), 1.0), Case("ir-lif_refractory", helpers.lif_refractory()),
        Case("ir-integrate_fire", helpers.integrate_fire()),
        Case("ir-current_lif", helpers.current_lif()), Case("ir-counter", helpers.counter()),
        Case("ir-noisy", helpers.noisy()), Case("ir-binary_signed", helpers.binary_signed()),
        Case("ir-branches", helpers.branches()),
        Case("ir-spike_source", helpers.spike_source(), 1.0,
             arrays={"SpikeTimes": np.arange(0.0, 60.0, 0.7)},
             init={"StartSpike": np.arange(N), "EndSpike": np.arange(N) + 40}),
    ]


CASES = _example_cases() + _stdlib_cases() + _hand_built_cases()


# --- populations and runs ----------------------------------------------------
def population(case: Case, precision: str, *, n: int = N, batch: int = BATCH, seed: int = 5,
               perturb: bool = False, per_neuron: bool = True, steps: int = STEPS):
    """``(Instance, EmitOptions)`` for ``case``; ``perturb`` randomises the float states,
    ``per_neuron`` gives the first float param one value per neuron."""
    model, rng = case.model, np.random.default_rng(seed)
    given = dict(case.params)
    floats = [p for p in model.params if p.dtype == "float" and p.name not in model.runtime_params]
    if per_neuron and floats:
        first = floats[0]
        default = (from_internal(model, first.name, first.default)  # the declared unit
                   if first.default is not None else 1.0)
        base = given.get(first.name, default)
        given[first.name] = np.asarray(base, float) * rng.uniform(0.8, 1.2, n)
    values = prepare_params(model, {**given, **case.arrays}, (n,))
    arrays = prepare_arrays(model, {**given, **case.arrays})
    precompute = host.evaluate_precompute(model, values, case.dt)
    init = initial_states(model, values, precompute, case.init, batch, (n,), case.dt, precision)
    if perturb:
        for state in model.states:
            if state.dtype == "float":
                scale = max(1.0, float(np.max(np.abs(init[state.name]))))
                init[state.name] = init[state.name] + scale * rng.uniform(-0.5, 0.5, (batch, n)
                                                                        ).astype(precision)
    everything = {**values, **precompute, **{name: np.float64(steps)
                                             for name in model.runtime_params}}
    options = EmitOptions(precision, frozenset(k for k, v in everything.items()
                                               if np.ndim(v) == 1))
    return Instance(n, batch, case.dt, precision, everything, init, arrays, seed), options


def make_inputs(model: ir.Model, steps: int, batch: int, n: int, seed: int = 11) -> dict:
    """Per-step inputs around each input's default, some negative."""
    rng, inputs = np.random.default_rng(seed), {}
    for item in model.inputs:
        base = item.default if item.default not in (None, 0, 0.0) else 1.0
        shape = (steps, batch, n)
        if item.dtype == "float":
            inputs[item.name] = base * rng.uniform(-0.5, 2.0, shape)
        elif item.dtype == "int":
            inputs[item.name] = rng.integers(-2, 4, shape)
        else:
            inputs[item.name] = rng.random(shape) < 0.5
    return inputs


@functools.cache
def program(backend: str, model: ir.Model, options: EmitOptions):
    """Emitted and loaded once per test session (the c backend also caches on disk).

    The emulation loads the cupy backend itself, not through this cache, so that on a GPU
    machine the emulated and the real program are never the same object."""
    module = get_backend("cupy" if backend == EMULATED else backend)
    if backend == EMULATED:
        with fake_cupy.installed():
            return module.load(module.emit(model, options))
    return module.load(module.emit(model, options))


def run_backend(backend, case, precision, steps=STEPS, inputs=None, record=None, **kwargs):
    """``(RawRun, runner)`` of ``steps`` steps from step 0, recording every state and spikes."""
    instance, options = population(case, precision, steps=steps, **kwargs)
    runner = program(backend, case.model, options).start(instance)
    if inputs is None:
        inputs = make_inputs(case.model, steps, instance.batch, instance.n)
    if record is None:
        record = {s.name: None for s in case.model.states}
    return runner.run(steps, 0, inputs, record, case.model.spiking), runner


def has_transcendental(model: ir.Model) -> bool:
    types = model.name_types()
    return any(op.op == "call" and op.fn in TRANSCENDENTAL
               for expr in model.expressions() for op in lower(expr, types).ops)


def spikes_of(run) -> set:
    sign = run.spike_sign if run.spike_sign is not None else np.ones(len(run.spike_step))
    return set(zip(run.spike_step.tolist(), run.spike_batch.tolist(),
                   run.spike_neuron.tolist(), np.asarray(sign).tolist()))


def first_spike_difference(a, b) -> int | None:
    """The first step whose spikes differ between runs ``a`` and ``b`` (None if none)."""
    differ = spikes_of(a) ^ spikes_of(b)
    return min(step for step, *_ in differ) if differ else None


def first_step_beyond(a, b, tolerance: float) -> int | None:
    """The first step at which some recorded value is not ``close`` (None if none)."""
    bad = [np.flatnonzero(~close(a.vars[name], b.vars[name], tolerance).reshape(
        len(a.vars[name]), -1).all(axis=1)) for name in a.vars]
    steps = [int(b[0]) for b in bad if len(b)]
    return min(steps) if steps else None


def close(a, b, tolerance: float) -> np.ndarray:
    """Element-wise ``|a - b| <= tolerance * max(1, |a|)``; equal NaNs and infinities agree."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    with np.errstate(invalid="ignore"):
        return (a == b) | (np.isnan(a) & np.isnan(b)) | (
            np.abs(a - b) <= tolerance * np.maximum(1.0, np.abs(a)))


def assert_identical(a, b) -> None:
    for name in a.vars:
        np.testing.assert_array_equal(a.vars[name], b.vars[name], err_msg=name, strict=True)
    for key in ("spike_step", "spike_batch", "spike_neuron"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key), err_msg=key)
    if a.spike_sign is not None or b.spike_sign is not None:
        np.testing.assert_array_equal(a.spike_sign, b.spike_sign, err_msg="sign")


# --- backends -------------------------------------------------------------------
@functools.cache
def gpu_available() -> bool:
    """Whether CuPy sees a GPU.  With ``EQSNN_REQUIRE_GPU=1`` (bench/gpu_check.sh on a GPU
    machine) not seeing one is an error, so that a broken CuPy cannot pass as all-skipped."""
    try:
        import cupy
        if cupy.cuda.runtime.getDeviceCount() > 0:
            return True
        why = "CuPy sees no GPU"
    except Exception as exc:
        why = f"{type(exc).__name__}: {exc}"
    if os.environ.get("EQSNN_REQUIRE_GPU") == "1":
        raise RuntimeError(f"EQSNN_REQUIRE_GPU=1 but the GPU tests cannot run: {why}")
    return False


@functools.cache
def available(backend: str) -> str | None:
    """None if ``backend`` can run here, else why not."""
    if backend == "cupy" and not gpu_available():
        return "no CuPy with a GPU here"
    try:
        program(backend, helpers.lif(), EmitOptions("float64"))
    except BackendError as exc:
        return str(exc).splitlines()[0]
    return None


def _params(names):
    marks = {"c": [pytest.mark.c], "cupy": [pytest.mark.gpu], EMULATED: [pytest.mark.c],
             "pygenn": [pytest.mark.pygenn]}
    return [pytest.param(name, marks=marks.get(name, []), id=name) for name in names]


EXACT = _params([name for name in EXACT_BACKENDS if name in REGISTRY or name == EMULATED])
OTHERS = _params([name for name in REGISTRY if name not in EXACT_BACKENDS + ("numpy",)])
CASE_PARAMS = [pytest.param(case, id=case.name) for case in CASES]


@pytest.fixture
def backend(request):
    why = available(request.param)
    if why:
        pytest.skip(f"backend {request.param}: {why}")
    return request.param


# --- the promises ---------------------------------------------------------------
def _one_step(backend, case):
    a, _ = run_backend("numpy", case, "float64", steps=1, perturb=True)
    b, _ = run_backend(backend, case, "float64", steps=1, perturb=True)
    for name in a.vars:
        ok = close(a.vars[name], b.vars[name], 1e-12)
        assert ok.all(), f"{name}: {a.vars[name][~ok][:3]} vs {b.vars[name][~ok][:3]}"
    assert first_spike_difference(a, b) is None


@pytest.mark.parametrize("backend", EXACT, indirect=True)
@pytest.mark.parametrize("case", CASE_PARAMS)
def test_one_step_float64_agrees_to_1e_12(backend, case):
    _one_step(backend, case)


#: what the other backends (GeNN) run: deterministic models (GeNN draws from its own
#: generator), the adaptive method's substep loop included
OTHER_CASES = [c for c in CASE_PARAMS if not c.values[0].model.random_draws()]
#: in float32 GeNN's CPU backend gives numpy's bits on every method, the adaptive one
#: included (AdEx and Izhikevich here; random models in test_backend_fuzz_float32.py)
OTHER_FLOAT32_CASES = OTHER_CASES


@pytest.mark.parametrize("backend", OTHERS, indirect=True)
@pytest.mark.parametrize("case", OTHER_CASES)
def test_one_step_float64_on_other_backends(backend, case):
    _one_step(backend, case)


@pytest.mark.parametrize("backend", OTHERS, indirect=True)
@pytest.mark.parametrize("case", OTHER_FLOAT32_CASES)
def test_float32_trajectory_on_other_backends(backend, case):
    """GeNN's code keeps the lowered evaluation order and takes float32 math functions as the
    double ones rounded, as every eqsnn backend: its CPU backend gives numpy's float32
    trajectory bit for bit for every deterministic model (100 steps)."""
    a, _ = run_backend("numpy", case, "float32", steps=100)
    b, _ = run_backend(backend, case, "float32", steps=100)
    assert_identical(a, b)
    assert first_spike_difference(a, b) is None


@pytest.mark.parametrize("backend", EXACT, indirect=True)
@pytest.mark.parametrize("case", CASE_PARAMS)
def test_float64_trajectory(backend, case, record_property):
    a, _ = run_backend("numpy", case, "float64")
    b, _ = run_backend(backend, case, "float64")
    if not has_transcendental(case.model):
        assert_identical(a, b)
        return
    diverged = first_spike_difference(a, b)
    record_property("first_spike_difference", diverged)
    until = STEPS if diverged is None else diverged
    for name in a.vars:
        assert close(a.vars[name][:until], b.vars[name][:until], 1e-9).all(), name
    if diverged is not None:
        print(f"{case.name}: spikes first differ at step {diverged} of {STEPS}")


@pytest.mark.parametrize("backend", EXACT, indirect=True)
@pytest.mark.parametrize("case", CASE_PARAMS)
def test_float32_trajectory(backend, case, record_property):
    """float32 transcendental functions are the float64 ones rounded on every backend, so on
    the CPU (c, and the CUDA emulation) every trajectory is numpy's bit for bit; on a GPU,
    whose libdevice may round a float64 result differently in rare cases, traces agree to
    1e-5·max(1, |x|) until the first spike difference (reported)."""
    a, _ = run_backend("numpy", case, "float32")
    b, _ = run_backend(backend, case, "float32")
    if backend != "cupy" or not has_transcendental(case.model):
        assert_identical(a, b)
        assert first_spike_difference(a, b) is None
        return
    diverged = first_spike_difference(a, b)
    beyond = first_step_beyond(a, b, 1e-5)
    record_property("first_spike_difference", diverged)
    record_property("first_step_beyond_1e-5", beyond)
    assert beyond is None or (diverged is not None and beyond >= diverged), (beyond, diverged)


@pytest.mark.parametrize("backend", EXACT, indirect=True)
@pytest.mark.parametrize("case", [c for c in CASE_PARAMS if c.values[0].model.random_draws()])
def test_stochastic_models_give_the_same_spikes(backend, case):
    for precision in ("float64", "float32"):
        a, _ = run_backend("numpy", case, precision, seed=2**40 + 3)
        b, _ = run_backend(backend, case, precision, seed=2**40 + 3)
        assert len(a.spike_step) > 0
        assert first_spike_difference(a, b) is None, precision


@pytest.mark.parametrize("backend", EXACT, indirect=True)
def test_held_inputs_subsets_and_continued_runs(backend):
    """Held (1, 1, n) and (1, batch, 1) inputs, one value per step (steps, 1, 1), a strided
    per-step input, duplicate/unsorted record indices, runs continued from step0 > 0,
    set_state/set_value/set_array give numpy's bits."""
    case = Case("lif_refractory", helpers.lif_refractory())
    rng = np.random.default_rng(3)
    runs = {}
    for name in ("numpy", backend):
        instance, options = population(case, "float64", batch=3, n=70)
        runner = program(name, case.model, options).start(instance)
        held = {"Isyn": rng.uniform(0, 0.4, (1, 1, 70))}
        first = runner.run(30, 0, held, {"V": [5, 1, 5, 69]}, True)
        lanes = {"Isyn": np.array([0.1, 0.3, 0.5]).reshape(1, 3, 1)}
        second = runner.run(25, 30, lanes, {"RefracTime": None, "V": [0]}, True)
        runner.set_state("V", np.full((3, 70), 0.9))
        runner.set_value("v_thresh", 0.95)
        third = runner.run(10, 55, lanes, {"V": None}, True)
        scalars = {"Isyn": rng.uniform(0.2, 0.6, (10, 1, 1))}  # one value per step
        fourth = runner.run(10, 65, scalars, {"V": None}, True)
        strided = {"Isyn": rng.uniform(0, 0.4, (70, 3, 10)).T}  # (10, 3, 70), neuron stride 30
        fifth = runner.run(10, 75, strided, {"V": None}, True)
        runs[name] = (first, second, third, fourth, fifth, runner.get_state("RefracTime"))
        source = Case("spike_source", helpers.spike_source(), 1.0, arrays={"SpikeTimes": [0.0]})
        instance, options = population(source, "float32", n=70)
        runner = program(name, source.model, options).start(instance)
        runner.set_array("SpikeTimes", np.arange(0.0, 50.0, 0.25))
        runner.set_state("EndSpike", np.arange(70) + 90)
        runs[name] += (runner.run(40, 3, {}, {"StartSpike": None}, True),)
        rng = np.random.default_rng(3)  # the same inputs for the next backend
    for a, b in zip(runs["numpy"][:5] + runs["numpy"][6:], runs[backend][:5] + runs[backend][6:]):
        assert_identical(a, b)
    np.testing.assert_array_equal(runs["numpy"][5], runs[backend][5])
    assert len(runs[backend][6].spike_step) > 1000
    assert len(runs[backend][3].spike_step) > 0 and len(runs[backend][4].spike_step) > 0
    assert runs[backend][0].vars["V"].shape == (30, 3, 4)


def test_every_example_and_stdlib_model_is_covered():
    names = {case.name for case in CASES}
    assert len([n for n in names if n.startswith("example-")]) == len(
        glob.glob(os.path.join(helpers_root(), "examples", "*.eqs")))
    assert {"ir-counter", "ir-spike_source", "ir-binary_signed"} <= names
