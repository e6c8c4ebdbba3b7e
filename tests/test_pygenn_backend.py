"""The ``pygenn`` backend: golden emitted code, the emitted text itself, and real PyGeNN.

Golden files live in ``tests/golden/pygenn``; after a deliberate change of
the printed code, rewrite them with ``EQSNN_UPDATE_GOLDEN=1 pytest
tests/test_pygenn_backend.py`` and review the diff.  The tests marked
``pygenn`` build real GeNN models (a few seconds each, cached in
``~/.cache/eqsnn/pygenn``) and run where ``import pygenn`` works; the C
harness of the same code strings is ``test_genn_harness.py``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings

import helpers
import numpy as np
import pytest
from test_genn_harness import EXACT_CALLS, emitted_model, emitted_namespace, fake_pygenn

import eqsnn
from eqsnn import neurons as N
from eqsnn.backends import EmitOptions, get_backend
from eqsnn.backends import pygenn as genn_backend
from eqsnn.errors import BackendError
from eqsnn.runtime import host

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(ROOT, "tests", "golden", "pygenn")
EXAMPLES = sorted(os.path.splitext(f)[0] for f in os.listdir(os.path.join(ROOT, "examples"))
                  if f.endswith(".eqs"))


def example(name):
    """The example; a nonlinear one with ``method: rk4``, so that the golden files and the
    1e-12 comparisons stay the fixed-step code (the adaptive method on GeNN:
    ``test_pygenn_adaptive.py``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = eqsnn.load(os.path.join(ROOT, "examples", f"{name}.eqs"))
        if model.method == "adaptive":
            with open(os.path.join(ROOT, "examples", f"{name}.eqs")) as f:
                model = eqsnn.compile(f.read() + "    method: rk4\n")
        return model.ir


def stdlib_ir(neuron):
    model = neuron.model
    return (model() if callable(model) else model).ir


STDLIB = {
    **{name: (lambda cls=cls: cls()) for name, cls in N.NEURONS.items()},
    "leaky_integrate_fire_refrac_frozen": lambda: N.LeakyIntegrateFire(
        tau_refrac=2.0, integrate_during_refrac=False, relative_reset=False),
    "leaky_integrate_fire_avg_var": lambda: N.LeakyIntegrateFire(readout="avg_var"),
    "binary_spike_input_signed": lambda: N.BinarySpikeInput(signed_spikes=True),
    "few_spike_relu_input_signed": lambda: N.FewSpikeReluInput(k=8, signed_input=True),
}
CASES = {
    **{f"example_{name}": (lambda name=name: example(name), EmitOptions()) for name in EXAMPLES},
    **{f"stdlib_{name}": (lambda make=make: stdlib_ir(make()), EmitOptions())
       for name, make in STDLIB.items()},
    "per_neuron_lif_expsyn": (lambda: example("lif_expsyn"),
                              EmitOptions(per_neuron=frozenset({"tau_mem", "v_thresh"}))),
    "float64_lif_pulse": (lambda: example("lif_pulse"), EmitOptions("float64")),
    "ir_branches": (helpers.branches, EmitOptions()),
    "ir_spike_source": (helpers.spike_source, EmitOptions()),
    "ir_counter": (helpers.counter, EmitOptions()),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_emitted_code(case):
    make, options = CASES[case]
    text = genn_backend.emit(make(), options).text
    path = os.path.join(GOLDEN, f"{case}.py")
    if os.environ.get("EQSNN_UPDATE_GOLDEN"):
        os.makedirs(GOLDEN, exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    with open(path) as f:
        assert text == f.read(), f"emitted code of {case} changed; see the module doc"


@pytest.mark.parametrize("case", sorted(CASES))
def test_emitted_text_is_the_spec(case):
    """Executing the text gives the spec's arguments; its derived params are the host's."""
    make, options = CASES[case]
    model = make()
    source = genn_backend.emit(model, options)
    spec, genn = source.extra["spec"], emitted_model(source)
    assert genn["class_name"] == model.name
    assert genn.get("params", []) == list(spec.params)
    assert genn.get("vars", []) == list(spec.vars)
    for key in ("sim_code", "threshold_condition_code", "reset_code"):
        assert (genn.get(key) or "").strip() == (getattr(spec, key) or "").strip()
    assert [d[0] for d in genn.get("derived_params", [])] == list(spec.derived_params)
    params = {p.name: p.default if p.default is not None else 1.0 for p in model.params}
    expected = host.evaluate_precompute(model, params, 0.25)
    pars = {name: params[spec.origin[name][1]] for name, _ in spec.params
            if spec.origin[name][0] == "param"}
    for name, function in genn.get("derived_params", []):
        assert function(pars, 0.25) == float(expected[spec.origin[name][1]])


def test_identifiers_are_valid_genn_names():
    """GeNN's scanner rejects a leading underscore; keywords and built-ins are renamed."""
    for case, (make, options) in CASES.items():
        spec = genn_backend.emit(make(), options).extra["spec"]
        names = [p[0] for p in spec.params] + [v[0] for v in spec.vars]
        names += list(spec.derived_params) + [v[0] for v in spec.additional_input_vars]
        for name in names:
            assert re.fullmatch(r"[A-Za-z]\w*", name), (case, name)
        code = "\n".join(filter(None, [spec.sim_code, spec.threshold_condition_code,
                                       spec.reset_code]))
        assert not re.search(r"(?<![\w.])_\w", code), case


def test_var_access_mapping():
    spec = genn_backend.emit(example("lif_expsyn"), CASES["per_neuron_lif_expsyn"][1]).extra["spec"]
    access = {name: a for name, _, a in spec.vars}
    assert access["V"] == access["I"] == "READ_WRITE"
    assert access["tau_mem"] == access["v_thresh"] == "READ_ONLY"
    # the propagator depends on tau_mem, so all its entries are per neuron
    assert access["phi_V_V_"] == access["phi_I_I_"] == "READ_ONLY"
    assert ("tau_syn", "scalar") in spec.params and spec.derived_params == ()
    signed = genn_backend.emit(helpers.binary_signed()).extra["spec"]
    assert ("SpikeSign", "int8_t", "READ_WRITE") in signed.vars
    assert signed.threshold_condition_code == "SpikeSign != 0"
    held = genn_backend.emit(example("lif_held")).extra["spec"]
    assert held.additional_input_vars == (("I", "scalar", 0.0),)


def test_random_draws_use_gennrand():
    spec = genn_backend.emit(helpers.noisy()).extra["spec"]
    assert spec.sim_code.splitlines()[:2] == ["const scalar rand0 = gennrand_uniform();",
                                              "const scalar rand1 = gennrand_normal();"]


def test_fast_math_prints_genns_float_functions():
    """Default: float32 math is the double function rounded, as on every backend; with
    fast_math GeNN's own float functions (GPUs with little double throughput)."""
    exact = genn_backend.emit(example("hh")).extra["spec"].sim_code
    fast = genn_backend.emit(example("hh"), EmitOptions(fast_math=True)).extra["spec"].sim_code
    assert "(scalar)exp((double)" in exact and "(scalar)expm1((double)z_V_)" in exact
    assert "(double)" not in fast and "exp(z_V_)" in fast and "expm1(z_V_)" in fast
    double = genn_backend.emit(example("hh"), EmitOptions("float64")).extra["spec"].sim_code
    assert "(double)" not in double and "exp(z_V_)" in double


def test_add_population_checks_fast_math_first():
    from eqsnn.errors import ParameterError
    from eqsnn.genn import add_population

    with pytest.raises(ParameterError, match="fast_math must be True or False, not 'no'"):
        add_population(None, "pop", example("hh"), 10, fast_math="no")


def test_emit_needs_no_pygenn():
    code = ("import sys, eqsnn\n"
            "from eqsnn.backends import emit\n"
            "sys.modules['pygenn'] = None\n"
            "m = eqsnn.load('examples/lif_alpha.eqs')\n"
            "assert 'create_neuron_model' in emit(m.ir, 'pygenn').text\n")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True,
                   env={**os.environ, "PYTHONPATH": ROOT})


def test_load_without_pygenn_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pygenn", None)
    source = genn_backend.emit(example("lif_pulse"))
    with pytest.raises(BackendError, match="PyGeNN"):
        get_backend("pygenn").load(source)


def test_cli_prints_ready_to_paste_code(capsys):
    from eqsnn.tools.cli import main

    assert main(["emit", "examples/lif_pulse.eqs", "--backend", "pygenn"]) == 0
    text = capsys.readouterr().out
    assert "lif_pulse_model = create_neuron_model(" in text
    with fake_pygenn():
        namespace: dict = {}
        exec(text, namespace)
    assert namespace["lif_pulse_params"] == {"v_thresh": 1.0, "v_reset": 0.0, "tau_mem": 20.0}


def test_default_values_for_add_neuron_population():
    namespace = emitted_namespace(genn_backend.emit(example("lif_held")))
    assert namespace["lif_held_vars"] == {"V": -65.0, "RefracTime": 0.0}


# --- real PyGeNN --------------------------------------------------------------------------
pygenn_only = pytest.mark.pygenn


@pytest.fixture(scope="module")
def pygenn():
    return pytest.importorskip("pygenn")


def simulators(model, n, *, batch=1, dt=0.1, precision="float64", params=None, init=None,
               seed=3):
    return [eqsnn.Simulator(model, n, batch_size=batch, dt=dt, backend=backend,
                            precision=precision, params=params, init=init, seed=seed)
            for backend in ("numpy", "pygenn")]


def compare(reference, genn, rtol):
    for name, expected in reference.vars.items():
        if expected.dtype.kind == "f":
            np.testing.assert_allclose(genn.vars[name], expected, rtol=rtol, atol=rtol,
                                       err_msg=name)
        else:
            np.testing.assert_array_equal(genn.vars[name], expected, err_msg=name)
    if reference.spikes is not None:
        for field in ("step", "batch", "neuron", "sign"):
            np.testing.assert_array_equal(getattr(genn.spikes, field),
                                          getattr(reference.spikes, field), err_msg=field)


@pygenn_only
def test_pygenn_lif_per_neuron_batches_and_runs(pygenn):
    """Per-neuron params, 3 lanes, held and per-step input, two runs and a reset."""
    sims = simulators(example("lif_held"), 4, batch=3, dt=0.5,
                      params={"tau_mem": [10.0, 15.0, 20.0, 30.0]})
    current = np.random.default_rng(0).uniform(10.0, 30.0, (120, 3, 4))
    for inputs in ({"I": current}, {"I": 25.0}):
        results = [sim.run(120, inputs, ["V", "RefracTime", "spikes"]) for sim in sims]
        compare(*results, rtol=1e-12)
        assert len(results[0].spikes) > 10
    for sim in sims:
        sim.reset()
        sim.set_state("V", -55.0)
    compare(*[sim.run(30, {"I": 18.0}, ["V", "spikes"]) for sim in sims], rtol=1e-12)


@pygenn_only
def test_pygenn_builtins_ints_and_signed_spikes(pygenn):
    drive = np.linspace(-2.0, 6.0, 30)[:, None, None]
    compare(*[s.run(30, {"drive": drive}, ["x", "y", "k"])
              for s in simulators(helpers.branches(), 4, batch=2)], rtol=1e-12)
    compare(*[s.run(20, None, ["count", "flag", "spikes"])
              for s in simulators(helpers.counter(), 3, params={"period": 3})], rtol=0)
    x = np.random.default_rng(1).normal(size=(40, 1, 5))
    results = [s.run(40, {"x": x}, ["last", "spikes"])
               for s in simulators(helpers.binary_signed(), 5, precision="float32")]
    compare(*results, rtol=0)
    assert set(results[1].spikes.sign.tolist()) == {-1, 1}


@pygenn_only
def test_pygenn_arrays_and_readouts(pygenn):
    init = {"StartSpike": [[0, 4]], "EndSpike": [[4, 7]]}
    sims = simulators(helpers.spike_source(), 2, precision="float32",
                      params={"SpikeTimes": [0.25, 0.3, 0.3, 1.0, 0.05, 0.7, 2.0]}, init=init)
    compare(*[s.run(25, None, ["StartSpike", "spikes"]) for s in sims], rtol=0)
    for sim in sims:  # a longer array rebuilds the GeNN model, keeping the state
        sim._runner.set_array("SpikeTimes", np.arange(12) * 0.1)
        sim.set_state("StartSpike", [[0, 6]])
        sim.set_state("EndSpike", [[6, 12]])
    compare(*[s.run(15, None, ["StartSpike", "spikes"]) for s in sims], rtol=0)
    neuron = N.LeakyIntegrateFire(readout="avg_var", tau_mem=[10.0, 20.0])
    sims = simulators(neuron, 2, dt=1.0, precision="float32")
    for steps in (14, 9):  # run_steps, a runtime param, changes per run
        results = [sim.run(steps, {"Isyn": 0.1}) for sim in sims]
        np.testing.assert_allclose(results[1].readout, results[0].readout, rtol=1e-6)


@pygenn_only
def test_pygenn_random_models_agree_statistically(pygenn):
    """GeNN's generator is not eqsnn's Philox stream: compare rates and moments."""
    rate, steps, n = 0.05, 2000, 200
    counts = [len(s.run(steps, {"rate": rate}, ["spikes"]).spikes)
              for s in simulators(example("poisson_source"), n, dt=1.0, precision="float32")]
    expected = n * steps * (1 - np.exp(-rate))
    for count in counts:
        assert abs(count - expected) < 5 * np.sqrt(expected)
    sims = simulators(example("lif_noise"), 500, dt=0.1, params={"v_thresh": 100.0})
    finals = [sim.run(2000, None, ["V"]).vars["V"][-1, 0] for sim in sims]
    mu, sigma, tau = 0.8, 0.3, 20.0
    sd = sigma * np.sqrt(1 - np.exp(-2 * 200.0 / tau))  # OU from V = 0 after 200 ms
    for final in finals:
        assert abs(final.mean() - mu * (1 - np.exp(-10))) < 5 * sd / np.sqrt(500)
        assert abs(final.std() - sd) < 0.1 * sd


# --- eqsnn.genn: your own PyGeNN / ml_genn network ----------------------------------------
def test_get_model_without_ml_genn_names_it(monkeypatch):
    from eqsnn.genn import get_model

    monkeypatch.setitem(sys.modules, "ml_genn", None)
    monkeypatch.setitem(sys.modules, "ml_genn.utils.model", None)
    population = type("Population", (), {"shape": (3,)})()
    with pytest.raises(BackendError, match="ml_genn"):
        get_model(N.LeakyIntegrateFire(), population, 1.0, 1)


@pygenn_only
def test_add_population_converts_values(pygenn, tmp_path, monkeypatch):
    from eqsnn.genn import add_population
    from eqsnn.initializers import Normal

    monkeypatch.chdir(tmp_path)
    genn = pygenn.GeNNModel("double", "add_population", backend="single_threaded_cpu")
    genn.dt = 1.0
    tau = np.array([10.0, 20.0, 40.0])
    lif = add_population(genn, "lif", N.LeakyIntegrateFire(tau_mem=tau, v=Normal(0.0, 0.1)), 3,
                         seed=5)
    held = add_population(genn, "held", example("lif_held"), 3,
                          params={"v_reset": pygenn.init_var("Uniform", {"min": -70.0,
                                                                         "max": -60.0})},
                          init={"V": [-60.0, -58.0, -56.0]})
    genn.build()
    genn.load()
    for pop, name, expected in [(lif, "tau_mem", tau), (held, "V", [-60.0, -58.0, -56.0])]:
        pop.vars[name].pull_from_device()
        np.testing.assert_array_equal(pop.vars[name].values, expected)
    held.vars["v_reset"].pull_from_device()
    assert np.all((held.vars["v_reset"].values >= -70) & (held.vars["v_reset"].values <= -60))
    lif.vars["V"].pull_from_device()
    sampled = eqsnn.initializers.resolve("v", Normal(0.0, 0.1), n=3, seed=5)
    np.testing.assert_array_equal(lif.vars["V"].values, sampled)  # sampled on the host


@pygenn_only
def test_use_with_genn_page(pygenn, tmp_path, monkeypatch):
    """The code blocks of docs/use-with-genn.md run in order, as one script."""
    pytest.importorskip("ml_genn")
    page = os.path.join(ROOT, "docs", "use-with-genn.md")
    blocks = re.findall(r"```py\n(.*?)```", open(page).read(), re.S)
    assert len(blocks) >= 6
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    os.symlink(os.path.join(ROOT, "examples"), tmp_path / "examples")
    namespace: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for block in blocks:
            exec(compile(block, page, "exec"), namespace)
    np.testing.assert_allclose(namespace["target"].vars["V"].values, [-0.4], rtol=1e-6)
    assert np.abs(namespace["network"](True) - namespace["network"](False)).max() == 0
    recorded = namespace["recorded"]  # ml_genn's VarRecorder by ml_genn's names
    for key in ("v", "a"):
        for ours, theirs in zip(recorded[True][key], recorded[False][key]):
            assert ours.shape == (50, 10)
            np.testing.assert_array_equal(ours, theirs)
    for ours, theirs in zip(recorded[True]["spikes"], recorded[False]["spikes"]):
        for a, b in zip(ours, theirs):
            np.testing.assert_array_equal(a, b)


def test_genn_build_output_is_kept_off_the_terminal_unless_it_fails(capfd):
    """``make`` writes to the process's stdout; a build shows nothing unless it fails, and then
    the error carries the output."""
    from eqsnn.backends.pygenn_runtime import quiet_build

    with quiet_build("a model"):
        os.write(1, b"make: Entering directory '/tmp/x'\n")
        print("generating code")
    assert capfd.readouterr() == ("", "")
    with pytest.raises(BackendError, match="could not build a model: boom") as info:
        with quiet_build("a model"):
            os.write(2, b"model.cc:3: error: 'x' was not declared\n")
            raise RuntimeError("boom")
    assert "'x' was not declared" in str(info.value)
    assert capfd.readouterr() == ("", "")
    print("after")  # the descriptors are restored
    assert capfd.readouterr().out == "after\n"


@pygenn_only
def test_pygenn_build_prints_nothing(pygenn, capfd, tmp_path, monkeypatch):
    monkeypatch.setenv("EQSNN_CACHE_DIR", str(tmp_path))  # a real build, not a cached one
    from eqsnn.runtime import Simulator

    Simulator(helpers.lif(), 5, backend="pygenn").run(3, inputs={"Isyn": 0.5})
    out, err = capfd.readouterr()
    assert "Entering directory" not in out + err and out == ""


@pygenn_only
@pytest.mark.parametrize("name, dt", [("hh", 0.025), ("coba_lif", 0.5)])
def test_pygenn_float32_math_follows_numpy_bit_for_bit(pygenn, name, dt):
    """float32 exp/expm1 are the double functions rounded in GeNN's code as in every eqsnn
    backend, so GeNN's CPU backend gives the numpy backend's float32 trajectory exactly."""
    comparison = eqsnn.compare(example(name), ["numpy", "pygenn"], n=20, steps=300, dt=dt,
                               precision="float32", rtol=0.0, atol=0.0)
    assert comparison.ok, str(comparison)
    report = comparison.report("pygenn")
    assert report.status == "ok" and {v.name for v in report.variables} >= {"V"}
    assert all(v.max_abs == 0.0 for v in report.variables), str(comparison)


@pygenn_only
def test_pygenn_fast_math_uses_float_functions_close_to_numpy(pygenn):
    """With fast_math GeNN's float exp/expm1 differ from the rounded double ones by an ulp
    now and then; over 300 steps of COBA-LIF that stays within float32 tolerance."""
    comparison = eqsnn.compare(example("coba_lif"), ["numpy", "pygenn"], n=20, steps=300,
                               dt=0.5, precision="float32", rtol=1e-4, atol=1e-4,
                               fast_math=True)
    assert comparison.ok, str(comparison)


@pygenn_only
def test_pygenn_float32_sqrt_abs_min_max_floor_and_mod_round_as_numpy(pygenn):
    """GeNN prints these functions unqualified, and C++'s <cmath> declares only the double
    ones outside ``std``: without the cast back to float, ``0.3 * sqrt(x) + ...`` was
    computed in double on GeNN's CPU backend, an ulp off numpy's float32 step (found by the
    float32 fuzzer, ``test_backend_fuzz_float32.py``)."""
    model = eqsnn.compile(EXACT_CALLS)
    current = np.random.default_rng(0).uniform(-1.0, 1.5, (40, 1, 30))
    runs = [s.run(40, inputs={"I": current}, record=("V", "W", "spikes"), progress=False)
            for s in simulators(model, 30, dt=0.1, precision="float32")]
    assert len(runs[0].spikes.step) > 0
    for name in ("V", "W"):
        np.testing.assert_array_equal(runs[1].vars[name], runs[0].vars[name], err_msg=name)
    np.testing.assert_array_equal(runs[1].spikes.step, runs[0].spikes.step)
