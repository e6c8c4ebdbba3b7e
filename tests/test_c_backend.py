"""The ``c`` backend: the emitted C, compiler flags, the cache, threads and error messages.

Equivalence with ``numpy`` on every model is in ``test_backend_equivalence.py``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time

import helpers
import numpy as np
import pytest
from test_backend_equivalence import (
    EMULATED,
    Case,
    assert_identical,
    population,
    program,
    run_backend,
)

from eqsnn import EqsnnError
from eqsnn.backends import EmitOptions
from eqsnn.backends import _compiled as compiled
from eqsnn.backends import _toolchain as toolchain
from eqsnn.backends import c as c_backend
from eqsnn.errors import BackendError
from eqsnn.printing.c_printer import CPrinter

pytestmark = pytest.mark.c
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EQSNN_CACHE_DIR", str(tmp_path))
    return tmp_path


def _renamed(model, name):
    """The same model under another name: other source text, so a cold compile."""
    return model.replace(name=name)


def _few_spike_relu():  # a model with a uniform function (values computed once per step)
    from eqsnn import neurons

    return neurons.get_neuron("few_spike_relu").model().ir


@pytest.mark.parametrize("model", [helpers.branches(), helpers.spike_source(), helpers.noisy(),
                                   helpers.binary_signed(), helpers.counter(),
                                   _few_spike_relu()],
                         ids=lambda m: m.name)
@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_emitted_code_is_warning_free_c99(model, precision, tmp_path):
    source = c_backend.emit(model, EmitOptions(precision, frozenset({"gain", "period"})))
    path = tmp_path / "model.c"
    path.write_text(source.text)
    command = toolchain.find_compiler()
    omp = ["-fopenmp"] if toolchain._supports(command, ("-fopenmp",)) else ["-Wno-unknown-pragmas"]
    for defines in ([], [toolchain.VECTOR_MATH_FLAG]):  # the SIMD math declarations too
        done = subprocess.run([*command, "-std=c99", "-pedantic", "-Wall", "-Wextra",
                               "-Wno-unused-parameter", "-Werror", *omp, *defines,
                               "-fsyntax-only", str(path)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr


def test_float32_code_is_float_but_for_wide_transcendental_functions():
    """float32 code has float literals and float arithmetic; a transcendental function is
    the double one on the value widened, rounded back ((float)expm1((double)x)), as the
    numpy backend computes it; with fast_math the float function (expm1f) is called."""
    def step_of(options):
        text = c_backend.emit(helpers.branches(), options).text
        step = text[text.index("EQSNN_FN int eqsnn_neuron_step"):text.index("eqsnn_run_args;")]
        return text, re.sub(r"/\*.*?\*/", "", step, flags=re.S)  # comments show the math

    text, step = step_of(EmitOptions("float32"))
    assert not re.search(r"\b(exp|expm1|log|pow|sin|cos|tanh)\((?!\(double\))", step)
    assert re.search(r"\(\(float\)expm1\(\(double\)_t\d+\)\)", step)
    assert "fminf(" not in step and "expm1f(" not in step  # min/max are selects
    assert not re.search(r"\b(fmin|fmax|sqrt)\(", step)
    literals = re.findall(r"(?<![\w.])(\d+\.\d*(?:e[-+]?\d+)?f?)", step)
    assert literals and all(lit.endswith("f") for lit in literals)
    assert "typedef float FLOAT;" in text
    _, fast = step_of(EmitOptions("float32", fast_math=True))
    assert "expm1f(" in fast and "(double)" not in fast


def test_float_literals_are_the_float64_constant_rounded_once():
    printer = CPrinter("float32")
    for value in (0.1, 1 / 3, 2.0 / 3.0 + 1e-9, 1e-30, 3.4028234663852886e38, -2.5):
        literal = printer.float_literal(value)
        assert literal.strip("()").endswith("f")
        assert np.float32(float(literal.strip("()f"))) == np.float32(value)
    assert CPrinter("float64").float_literal(0.1) == "0.1"
    assert CPrinter("float64").float_literal(float("inf")) == "((FLOAT)INFINITY)"


def test_exact_flags_by_default_and_fast_math_on_request():
    command = toolchain.find_compiler()
    exact = toolchain.compiler_flags(command, fast_math=False)
    fast = toolchain.compiler_flags(command, fast_math=True)
    assert "-ffp-contract=off" in exact and "-fassociative-math" not in exact
    assert "-O3" in exact and "-std=c99" in exact and "-fPIC" in exact and "-shared" in exact
    assert "-ffp-contract=fast" in fast and "-ffp-contract=off" not in fast
    assert "-ffast-math" not in fast  # GCC < 13 would link crtfastmath.o: flush-to-zero


def test_the_emitted_header_says_whether_the_code_is_bit_identical():
    """With fast_math the header used to ask for -ffp-contract=off for identical results."""
    from eqsnn import load
    from eqsnn.backends import EmitOptions, emit

    model = load("examples/lif_pulse.eqs").ir
    for backend, flag in (("c", "-ffp-contract=off"), ("cupy", "--fmad=false")):
        exact = emit(model, backend, EmitOptions()).text.split("*/")[0]
        fast = emit(model, backend, EmitOptions(fast_math=True)).text.split("*/")[0]
        assert f"Compile with {flag} for results bit-identical" in exact
        assert flag not in fast and "not bit-identical to the numpy backend" in fast


def test_fast_math_runs_close_to_the_exact_code():
    case = Case("lif_alpha", helpers.current_lif())
    instance, options = population(case, "float32")
    runs = []
    for fast in (False, True):
        fast_options = EmitOptions(options.precision, options.per_neuron, fast_math=fast)
        runner = program("c", case.model, fast_options).start(instance)
        inputs = {"Isyn": np.full((1, 1, 1), 0.5)}
        runs.append(runner.run(100, 0, inputs, {"V": None}, False).vars["V"])
    np.testing.assert_allclose(runs[1], runs[0], rtol=1e-5, atol=1e-6)


def test_second_load_hits_the_cache_and_is_fast(fresh_cache):
    source = c_backend.emit(_renamed(helpers.lif(), "CacheProbe"), EmitOptions("float32"))
    first = c_backend.load(source)
    assert not first.cached and first.path.parent == fresh_cache
    began = time.perf_counter()
    second = c_backend.load(source)
    elapsed = time.perf_counter() - began
    assert second.cached and second.path == first.path
    assert elapsed < 0.25  # about 3 ms; generous for a busy CI machine
    names = sorted(p.name for p in fresh_cache.iterdir() if not p.name.startswith("probe-"))
    # no temporary files left: the source, the library and its checksum
    assert [n.split(".", 1)[1] for n in names] == ["c", "so", "so.sum"]
    assert names[0].startswith("CacheProbe_float32-")


def test_the_key_changes_with_the_source_and_the_flags(fresh_cache):
    model = _renamed(helpers.lif(), "KeyProbe")
    paths = {c_backend.load(c_backend.emit(model, options)).path for options in (
        EmitOptions("float32"), EmitOptions("float64"), EmitOptions("float32", fast_math=True))}
    assert len(paths) == 3


def test_two_processes_compile_the_same_model_at_once(fresh_cache):
    script = (
        "import os, sys; sys.path[:0] = [sys.argv[1], os.path.join(sys.argv[1], 'tests')]\n"
        "import numpy as np, helpers\n"
        "from eqsnn.backends import EmitOptions, c\n"
        "from test_backend_equivalence import Case, population\n"
        "case = Case('race', helpers.lif().replace(name='RaceProbe'), 1.0)\n"
        "instance, options = population(case, 'float64')\n"
        "runner = c.load(c.emit(case.model, options)).start(instance)\n"
        "print(runner.run(5, 0, {'Isyn': np.ones((1, 1, 1))}, {'V': None}, True).vars['V'].sum())\n"
    )
    processes = [subprocess.Popen([sys.executable, "-c", script, ROOT], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert all(p.returncode == 0 for p in processes), outputs
    assert outputs[0][0] == outputs[1][0]
    assert len(list(fresh_cache.glob("RaceProbe_*.so"))) == 1
    assert not [p for p in fresh_cache.iterdir() if p.name.startswith(".")]


def test_a_missing_compiler_says_what_to_install(monkeypatch):
    monkeypatch.setenv("CC", "/nonexistent/bin/cc")
    with pytest.raises(BackendError) as info:
        c_backend.load(c_backend.emit(helpers.lif(), EmitOptions()))
    assert isinstance(info.value, EqsnnError)
    message = str(info.value)
    assert "CC='/nonexistent/bin/cc'" in message and "not found" in message
    assert "apt-get install gcc" in message and "numpy backend" in message


def test_no_compiler_on_the_path(monkeypatch, tmp_path):
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BackendError, match="needs a C compiler"):
        c_backend.load(c_backend.emit(helpers.lif(), EmitOptions()))


def test_a_failing_compiler_is_reported(monkeypatch, fresh_cache):
    false = shutil.which("false")
    if false is None:
        pytest.skip("no `false` command")
    monkeypatch.setenv("CC", false)
    with pytest.raises(BackendError, match="cannot build a shared library") as caught:
        c_backend.load(c_backend.emit(helpers.lif(), EmitOptions()))
    assert "bug in eqsnn" not in str(caught.value)  # the compiler is broken, not eqsnn
    assert not list(fresh_cache.glob("*.so"))


def test_one_and_two_threads_give_the_same_bits(monkeypatch):
    monkeypatch.setattr(c_backend, "PARALLEL_WORK", 0)  # threads even for a small run
    case = Case("noisy", helpers.noisy())
    instance, options = population(case, "float64", n=1000, batch=3)
    results = []
    for threads in (1, 2):
        runner = program("c", case.model, options).start(instance)
        runner.threads = threads
        results.append(runner.run(50, 7, {}, {"V": None, "U": [3, 999]}, True))
    assert_identical(*results)
    assert len(results[0].spike_step) > 0


def test_threads_from_the_environment(monkeypatch):
    monkeypatch.setenv("EQSNN_THREADS", "2")
    assert toolchain.default_threads() == 2
    monkeypatch.setenv("EQSNN_THREADS", "many")
    with pytest.raises(BackendError, match="EQSNN_THREADS"):
        toolchain.default_threads()
    monkeypatch.delenv("EQSNN_THREADS")
    assert toolchain.default_threads() >= 1


def test_many_tiles_lanes_and_a_partial_word_match_numpy():
    case = Case("lif_refractory", helpers.lif_refractory())
    runs = []
    for backend in ("numpy", "c"):
        instance, options = population(case, "float32", n=600, batch=3)
        runner = program(backend, case.model, options).start(instance)
        inputs = {"Isyn": np.random.default_rng(4).uniform(0, 0.5, (40, 3, 600))}
        runs.append(runner.run(40, 0, inputs, {"V": None, "RefracTime": [599, 0, 256]}, True))
    assert_identical(*runs)
    assert len(runs[0].spike_step) > 100


def test_precision_mismatch_and_foreign_source_are_refused():
    case = Case("lif", helpers.lif())
    instance, options = population(case, "float64")
    with pytest.raises(BackendError, match="emitted for float32"):
        program("c", case.model, EmitOptions("float32", options.per_neuron)).start(instance)
    from eqsnn.backends import numpy as numpy_backend

    with pytest.raises(BackendError, match="cannot load code emitted for 'numpy'"):
        c_backend.load(numpy_backend.emit(case.model, options))


# --- SIMD math ----------------------------------------------------------------------------
def _vector_math_here() -> bool:
    command = toolchain.find_compiler()
    return toolchain.VECTOR_MATH_FLAG in toolchain.compiler_flags(command, False)


@pytest.mark.skipif(shutil.which("nm") is None, reason="needs nm")
def test_exp_models_call_libmvec_where_the_c_library_has_it():
    """Where glibc's libmvec is there (x86-64 Linux), the neuron loop of an exp-Euler model
    is vectorised around SIMD exp (the library imports _ZGV... symbols); elsewhere the
    scalar functions are used and nothing is declared."""
    import eqsnn

    model = eqsnn.load("examples/hh.eqs").ir
    library = c_backend.load(c_backend.emit(model, EmitOptions("float32"))).path
    imported = subprocess.run(["nm", "-D", "--undefined-only", str(library)],
                              capture_output=True, text=True, check=True).stdout
    vector = re.findall(r"_ZGV\w+_(expf?|expm1f?)\b", imported)
    if _vector_math_here():  # float32 exp is the double one, rounded (WIDE_FUNCTIONS)
        assert {"exp", "expm1"} <= set(vector), imported
    else:
        assert not vector


MIN_MAX = """
neuron MinMax
    input a = 0.0
    input b = 0.0
    state lo = 0.0
    state hi = 0.0
    state lo3 = 0.0
    after:
        lo = min(a, b)
        hi = max(a, b)
        lo3 = min(min(a, b), 0.25)
"""


@pytest.mark.parametrize("backend", ["c", EMULATED])
@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_min_and_max_ignore_nan_and_give_numpys_values(backend, precision):
    """min/max ignore a NaN argument (NumPy's fmin/fmax) and give NumPy's values, signs
    included, wherever the arguments differ.  Of -0 and +0 the sign is not specified: NumPy
    itself returns either, depending on the loop that handles the element (its SIMD body
    returns the second argument, its scalar remainder libm's choice, the first), so those
    pairs are compared by value.  (The inputs reach the runner unchecked, as the Runner
    contract allows.)"""
    import eqsnn

    model = eqsnn.compile(MIN_MAX).ir
    nan = np.nan
    a = np.array([-0.0, 0.0, -0.0, nan, 1.0, nan, -2.0, 0.25, 3.0, -0.0] * 4)
    b = np.array([0.0, -0.0, -0.0, 1.0, nan, nan, -2.0, -0.0, -1.0, 0.3] * 4)
    inputs = {"a": a.reshape(1, 1, 40), "b": b.reshape(1, 1, 40)}
    runs = []
    for name in ("numpy", backend):
        instance, options = population(Case("minmax", model), precision, batch=1)
        runner = program(name, model, options).start(instance)
        runs.append(runner.run(1, 0, inputs, {"lo": None, "hi": None, "lo3": None}, False))
    signed = ~((a == 0) & (b == 0) & (np.signbit(a) != np.signbit(b)))
    for state in ("lo", "hi", "lo3"):
        want, got = runs[0].vars[state][0, 0], runs[1].vars[state][0, 0]
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=state)
        np.testing.assert_array_equal(got, want, err_msg=state)  # -0 == +0 here
        np.testing.assert_array_equal(np.signbit(got)[signed], np.signbit(want)[signed],
                                      err_msg=state)
    assert np.isnan(runs[1].vars["lo"][0, 0, 5]) and runs[1].vars["lo"][0, 0, 3] == 1.0


# --- values computed once per step ------------------------------------------------------------
def test_what_is_the_same_for_all_neurons_is_computed_once_per_step():
    """FewSpikeRelu's 2**(Mod(step, k)) terms read only step and the param k: they move into
    eqsnn_uniform_step (called once per step by the loop), and the step function takes them
    as arguments; with k given per neuron they stay in the step function."""
    from eqsnn import neurons
    from eqsnn.printing.c import print_step_function

    model = neurons.get_neuron("few_spike_relu").model().ir
    plan = compiled.layout(model)
    step = print_step_function(model, "float32", plan.value_types, plan.arrays,
                               plan.uniform_values)
    body = re.sub(r"/\*.*?\*/", "", step.text, flags=re.S)
    assert "pow(" not in body and "eqsnn_imod(" not in body
    assert "pow(" in step.uniform_text and step.uniforms
    assert all(f"const {ctype} {name}" in step.text for ctype, name in step.uniforms)
    text = c_backend.emit(model, EmitOptions("float32")).text
    assert text.count("eqsnn_uniform_step(t, (int)step") == 1
    per_neuron = compiled.layout(model, frozenset({"k"}))
    kept = print_step_function(model, "float32", per_neuron.value_types, per_neuron.arrays,
                               per_neuron.uniform_values)
    assert "eqsnn_imod(" in kept.text and "eqsnn_imod(" not in kept.uniform_text


@pytest.mark.parametrize("per_neuron", [frozenset(), frozenset({"k"})])
def test_uniform_values_give_numpys_bits(per_neuron):
    """FewSpikeRelu over two of its K-step cycles, k shared or per neuron, c and numpy."""
    from eqsnn import neurons
    from eqsnn.runtime import Simulator

    k = np.array([4, 6] * 20) if per_neuron else 6
    current = np.random.default_rng(2).uniform(0, 3, (24, 1, 40))
    results = [Simulator(neurons.FewSpikeRelu(k=6), 40, backend=backend, precision="float64",
                         params={"k": k}).run(24, {"Isyn": current}, ["V", "Fx", "spikes"])
               for backend in ("numpy", "c")]
    for name in ("V", "Fx"):
        np.testing.assert_array_equal(results[0].vars[name], results[1].vars[name])
    np.testing.assert_array_equal(results[0].spikes.neuron, results[1].spikes.neuron)
    assert len(results[0].spikes) > 10


@pytest.mark.parametrize("backend", ["c", EMULATED])
def test_float32_noise_is_bit_identical_to_numpy(backend):
    """float32 normal draws take log and cos in float64 rounded to float32 on every backend,
    so an OU-noise LIF follows NumPy's trajectory bit for bit (float64 ones agree to ulps)."""
    import eqsnn

    model = eqsnn.load("examples/lif_noise.eqs").ir
    case = Case("lif_noise", model, 1.0)
    runs = [run_backend(name, case, "float32", steps=150, n=200)[0]
            for name in ("numpy", backend)]
    assert_identical(*runs)
    assert len(runs[0].spike_step) > 0


def test_the_simulator_passes_fast_math_to_the_compiled_backend():
    """Simulator(fast_math=True) emits float32 math functions and no contraction guard; the
    result stays close to the exact code's (HH over 400 steps of 0.025 ms, no spike)."""
    import eqsnn
    from eqsnn.runtime import Simulator

    model = eqsnn.load("examples/hh.eqs")
    sims = [Simulator(model, 8, backend="c", dt=0.025, fast_math=fast) for fast in (False, True)]
    steps = [sim.source.text.split("EQSNN_FN int eqsnn_neuron_step")[1].split("\n}\n")[0]
             for sim in sims]
    assert "((float)exp((double)" in steps[0] and "expf(" not in steps[0]
    assert "expf(" in steps[1] and "(double)" not in steps[1]
    runs = [sim.run(400, inputs={"I": 2.0}, record=["V"]).vars["V"] for sim in sims]
    np.testing.assert_allclose(runs[1], runs[0], rtol=1e-4)
    with pytest.raises(EqsnnError, match="fast_math must be True or False, not 'yes'"):
        Simulator(model, 8, backend="c", fast_math="yes")


def test_dt_is_computed_once_per_step_only_where_it_is_one_value():
    """print_step_function's default (no uniform values) keeps ``dt * t`` in the step, which
    has ``dt`` as a parameter; given ``dt`` as uniform, the uniform function computes it."""
    from eqsnn import compile as compile_model
    from eqsnn.printing.c import print_step_function

    model = compile_model("neuron T\n    state x = 0.0\n    after: x += dt * t\n").ir
    alone = print_step_function(model, "float64", [("dt", "float")], [])
    assert alone.uniform_text == "" and "const FLOAT _t0 = dt * t;" in alone.text
    shared = print_step_function(model, "float64", [("dt", "float")], [],
                                 uniform=frozenset({"dt"}))
    assert "const FLOAT dt, FLOAT *_p_t0)" in shared.uniform_text
    assert "_t0 = dt * t" not in shared.text
