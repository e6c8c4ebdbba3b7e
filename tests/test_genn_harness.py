"""The GeNN code of the ``pygenn`` backend, compiled with the system C compiler.

A small C program stands in for GeNN: it declares what GeNN's neuron
kernel declares (``Isyn`` and the additional input vars, params and derived
params as constants, READ_ONLY vars, states as locals, ``t = timestep * dt``
in double, ``id`` and ``batch`` unsigned, ``gennrand_*``), pastes the
emitted ``sim_code``, ``threshold_condition_code`` and ``reset_code``
between them as GeNN does, and reads GeNN's ``scalar`` the way GeNN's
transpiler does (``typedef float scalar``, unsuffixed literals suffixed
``f``) and its math functions the way GeNN's CPU backend calls them: unqualified
in C++, where ``<cmath>`` declares only the double ones outside ``std``, so
``sqrt(x)`` of a float is the double function, and a double (as ``<math.h>``'s
is in C).  The code strings come
from executing the emitted PyGeNN text, so the text itself is tested.

``gennrand_uniform()``/``gennrand_normal()`` return eqsnn's Philox draws
of the neuron and step in the order the sim code draws them (a shared
stream), so random models are compared exactly too.

This module is also a backend (``emit``/``load``), registered as
``genn_harness`` by the ``backend`` fixture below: the standard library's
test vectors (``test_stdlib``) run through it, and every example and
hand-built IR model is compared with ``numpy`` (float64 to 1e-12, same
spikes).
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import types
import warnings

import helpers
import numpy as np
import pytest

import eqsnn
from eqsnn import rng
from eqsnn.backends import REGISTRY, RawRun, numpy_dtype
from eqsnn.backends import pygenn as genn_backend

pytestmark = pytest.mark.c

CC = shutil.which("cc") or shutil.which("gcc")
C_TYPES = {"scalar": "scalar", "int": "int", "bool": "bool", "int8_t": "int8_t"}


# --- the emitted text, executed against a stand-in for pygenn ---------------------------
@contextlib.contextmanager
def fake_pygenn():
    """``import pygenn`` gives a module whose ``create_neuron_model`` returns its arguments."""
    module = types.ModuleType("pygenn")
    module.VarAccess = types.SimpleNamespace(READ_WRITE="READ_WRITE", READ_ONLY="READ_ONLY")
    module.create_neuron_model = lambda class_name, **kwargs: {"class_name": class_name,
                                                               **kwargs}
    saved = sys.modules.get("pygenn")
    sys.modules["pygenn"] = module
    try:
        yield module
    finally:
        if saved is None:
            del sys.modules["pygenn"]
        else:
            sys.modules["pygenn"] = saved


def emitted_namespace(source) -> dict:
    namespace: dict = {}
    with fake_pygenn():
        exec(compile(source.text, f"<pygenn {source.model.name}>", "exec"), namespace)
    return namespace


def emitted_model(source) -> dict:
    """The ``create_neuron_model`` arguments the emitted text passes."""
    stem = genn_backend.snake_case(source.model.name)
    return emitted_namespace(source)[f"{stem}_model"]


# --- the C program ----------------------------------------------------------------------
PRELUDE = r"""
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef %(scalar)s scalar;
static inline int min(int a, int b) { return a < b ? a : b; }
static inline int max(int a, int b) { return a > b ? a : b; }
static const double *eqsnn_draws;
static long eqsnn_draw;
static scalar gennrand_uniform(void) { return (scalar)eqsnn_draws[eqsnn_draw++]; }
static scalar gennrand_normal(void) { return (scalar)eqsnn_draws[eqsnn_draw++]; }
static double *eqsnn_read(long count) {
    double *data = malloc(sizeof(double) * (count > 0 ? count : 1));
    if (fread(data, sizeof(double), count, stdin) != (size_t)count) exit(2);
    return data;
}
"""


def scalar_literals(code: str, precision: str) -> str:
    """GeNN's reading of unsuffixed float literals: ``scalar`` (``f`` in float32)."""
    if precision == "float64":
        return code
    return re.sub(r"(?<![\w.])(\d+\.\d*(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)(?![\w.])", r"\1f", code)


def c_program(genn: dict, precision: str, n: int, batch: int, draws: int, dt: float) -> str:
    """The stand-in for GeNN's neuron kernel, run for ``steps`` steps read from stdin."""
    params = genn.get("params", [])
    variables = genn.get("vars", [])
    read_only = [v for v in variables if v[2] == "READ_ONLY"]
    states = [v for v in variables if v[2] == "READ_WRITE"]
    derived = [d[0] for d in genn.get("derived_params", [])]
    egps = genn.get("extra_global_params", [])
    inputs = [("Isyn", "scalar")] + [(v[0], v[1]) for v in genn.get("additional_input_vars", [])]
    lines = [PRELUDE % {"scalar": "float" if precision == "float32" else "double"},
             "int main(void) {",
             f"    const unsigned int N = {n}u, B = {batch}u; const long K = {draws};",
             f"    const double DT = {dt!r};",
             "    double *head = eqsnn_read(2); long steps = (long)head[0];"
             " unsigned long long step0 = (unsigned long long)head[1];",
             f"    double *P = eqsnn_read({len(params)}); double *D = eqsnn_read({len(derived)});"]
    for name, ctype in egps:
        base = C_TYPES[ctype.rstrip("*")]
        lines += [f"    double *len_{name} = eqsnn_read(1); long n_{name} = (long)len_{name}[0];",
                  f"    double *raw_{name} = eqsnn_read(n_{name});",
                  f"    {base} *egp_{name} = malloc(sizeof({base}) * n_{name});",
                  f"    for (long k = 0; k < n_{name}; k++) egp_{name}[k] = ({base})raw_{name}[k];"]
    for name, _, _ in read_only:
        lines.append(f"    double *ro_{name} = eqsnn_read(N);")
    for name, _, _ in states:
        lines.append(f"    double *st_{name} = eqsnn_read(B * N);")
    for name, _ in inputs:
        lines += [f"    double *sh_{name} = eqsnn_read(3);",
                  f"    double *in_{name} = eqsnn_read((long)(sh_{name}[0] * sh_{name}[1] *"
                  f" sh_{name}[2]));"]
    lines += [
        "    double *draws_all = eqsnn_read(steps * B * N * K);",
        f"    double *out = malloc(sizeof(double) * B * N * {len(states) + 1});",
        "    for (long s = 0; s < steps; s++) {",
        "        const unsigned long long timestep = step0 + s;",
        "        const double t = timestep * DT;",
        "        for (unsigned int batch = 0; batch < B; batch++) {",
        "        for (unsigned int id = 0; id < N; id++) {",
        "            const double dt = DT;",
        "            const long cell = batch * N + id;",
    ]
    body = []
    for k, (name, ctype) in enumerate(params):
        body.append(f"const {C_TYPES[ctype]} {name} = ({C_TYPES[ctype]})P[{k}];")
    body += [f"const scalar {name} = (scalar)D[{k}];" for k, name in enumerate(derived)]
    body += [f"const {C_TYPES[t]} {name} = ({C_TYPES[t]})ro_{name}[id];"
             for name, t, _ in read_only]
    body += [f"const {C_TYPES[t.rstrip('*')]} *{name} = egp_{name};" for name, t in egps]
    for name, ctype in inputs:
        index = (f"(sh_{name}[0] > 1 ? s : 0) * (long)(sh_{name}[1] * sh_{name}[2])"
                 f" + (sh_{name}[1] > 1 ? batch : 0) * (long)sh_{name}[2]"
                 f" + (sh_{name}[2] > 1 ? id : 0)")
        body.append(f"const {C_TYPES[ctype]} {name} = ({C_TYPES[ctype]})in_{name}[{index}];")
    body += [f"{C_TYPES[t]} {name} = ({C_TYPES[t]})st_{name}[cell];" for name, t, _ in states]
    body += ["eqsnn_draws = draws_all + (s * B * N + cell) * K; eqsnn_draw = 0;",
             "int eqsnn_fired = 0;", "{"]
    body += ["    " + line for line in scalar_literals(genn["sim_code"], precision).splitlines()]
    threshold = genn.get("threshold_condition_code")
    if threshold:
        sign = next((v[0] for v in states if v[1] == "int8_t"), None)
        body.append(f"    if ({scalar_literals(threshold, precision)}) {{")
        body.append(f"        eqsnn_fired = {sign if sign else 1};")
        reset = genn.get("reset_code") or ""
        body += ["        " + line for line in scalar_literals(reset, precision).splitlines()]
        body.append("    }")
    body += [f"    st_{name}[cell] = (double){name};" for name, _, _ in states]
    body += [f"    out[{k} * B * N + cell] = (double){name};"
             for k, (name, _, _) in enumerate(states)]
    body += [f"    out[{len(states)} * B * N + cell] = eqsnn_fired;", "}"]
    lines += ["            " + line for line in body]
    lines += ["        }}",
              f"        fwrite(out, sizeof(double), B * N * {len(states) + 1}, stdout);",
              "    }", "    return 0;", "}"]
    return "\n".join(lines) + "\n"


_BUILT: dict = {}
_FOLDER: list = []


def _folder() -> str:
    """A build folder of this process's own, so that concurrent test runs cannot collide."""
    if not _FOLDER:
        _FOLDER.append(tempfile.mkdtemp(prefix="eqsnn-genn-harness-"))
        atexit.register(shutil.rmtree, _FOLDER[0], True)
    return _FOLDER[0]


def compile_program(text: str) -> str:
    """Compile once per program text (cached by content); the executable's path."""
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    if digest not in _BUILT:
        folder = _folder()
        c_file, exe = os.path.join(folder, digest + ".c"), os.path.join(folder, digest)
        with open(c_file, "w") as f:
            f.write(text)
        command = [CC, "-std=c99", "-O1", "-ffp-contract=off", "-Wno-unused-variable",
                   "-o", exe, c_file, "-lm"]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            raise AssertionError(f"the GeNN code does not compile:\n{done.stderr}\n{text}")
        _BUILT[digest] = exe
    return _BUILT[digest]


# --- the backend contract ---------------------------------------------------------------
def emit(model, options=None):
    return genn_backend.emit(model, options)


def load(source):
    return HarnessProgram(source)


class HarnessProgram:
    def __init__(self, source):
        self.source = source
        self.genn = emitted_model(source)

    def start(self, instance):
        return HarnessRunner(self, instance)


class HarnessRunner:
    """The Runner contract over the compiled stand-in (state kept here between runs)."""

    def __init__(self, program, instance):
        source = program.source
        self.model, self.genn, self.spec = source.model, program.genn, source.extra["spec"]
        self.precision, self.seed = instance.precision, instance.seed
        self.n, self.batch, self.dt = instance.n, instance.batch, instance.dt
        self.names = self.spec.code.names
        self.values = {k: np.asarray(v, np.float64) for k, v in instance.values.items()}
        self.arrays = {k: np.asarray(v) for k, v in instance.arrays.items()}
        self.states = {s.name: np.array(instance.init[s.name]) for s in self.model.states}
        if self.spec.code.sign_var:
            self.states[self.spec.code.sign_var] = np.zeros((self.batch, self.n))
        for name, _ in self.spec.code.carried:  # step locals the threshold reads
            self.states[name] = np.zeros((self.batch, self.n))
        self.draws = self.spec.code.draws
        self.exe = compile_program(c_program(self.genn, self.precision, self.n, self.batch,
                                             len(self.draws), self.dt))
        self.check_derived()

    def check_derived(self):
        """The emitted derived-param functions give the host precompute, bit for bit."""
        pars = {}
        for name, _ in self.genn.get("params", []):
            kind, source = self.spec.origin[name]
            if kind == "param":
                pars[name] = float(self.values[source])
        for name, function in self.genn.get("derived_params", []):
            expected = float(self.values[self.spec.origin[name][1]])
            assert function(pars, self.dt) == expected, name

    def param_value(self, name):
        kind, source = self.spec.origin[name]
        return len(self.arrays[source]) if kind == "length" else float(self.values[source])

    def state_name(self, genn_name):
        return self.spec.origin[genn_name][1]

    def run(self, steps, step0, inputs, record, record_spikes):
        genn, parts = self.genn, [np.array([steps, step0], np.float64)]
        parts.append(np.array([self.param_value(p) for p, _ in genn.get("params", [])]))
        parts.append(np.array([float(self.values[self.spec.origin[d][1]])
                               for d, _ in genn.get("derived_params", [])]))
        for name, _ in genn.get("extra_global_params", []):
            data = self.arrays[self.spec.origin[name][1]]
            parts += [np.array([len(data)]), data]
        variables = genn.get("vars", [])
        for name, _, access in variables:
            if access == "READ_ONLY":
                parts.append(np.broadcast_to(self.values[self.spec.origin[name][1]], (self.n,)))
        states = [name for name, _, access in variables if access == "READ_WRITE"]
        for name in states:
            parts.append(self.states[self.key(name)].reshape(-1))
        input_names = ["Isyn"] + [v[0] for v in genn.get("additional_input_vars", [])]
        for genn_name in input_names:
            kind, source = self.spec.origin.get(genn_name, (None, None))
            value = np.asarray(inputs[source]) if kind == "input" else np.zeros((1, 1, 1))
            parts += [np.array(value.shape, np.float64), value.reshape(-1)]
        parts.append(self.random_draws(steps, step0).reshape(-1))
        payload = b"".join(np.ascontiguousarray(p, np.float64).tobytes() for p in parts)
        done = subprocess.run([self.exe], input=payload, capture_output=True)
        assert done.returncode == 0, done.stderr
        out = np.frombuffer(done.stdout, np.float64).reshape(
            steps, len(states) + 1, self.batch, self.n)
        for k, name in enumerate(states):
            if steps:
                self.states[self.key(name)] = out[-1, k].copy()
        recorded = {}
        for name, index in record.items():
            k = states.index(self.names[name])
            values = out[:, k] if index is None else out[:, k][:, :, np.asarray(index)]
            dtype = numpy_dtype(self.model.state(name).dtype, self.precision)
            recorded[name] = values.astype(dtype)
        fired = out[:, len(states)]
        empty = np.zeros(0, np.intp)
        if not (record_spikes and self.model.spiking):
            return RawRun(recorded, empty, empty, empty, None)
        step, lane, neuron = np.nonzero(fired)
        sign = fired[step, lane, neuron].astype(np.int8) if self.model.signed else None
        return RawRun(recorded, step, lane, neuron, sign)

    def key(self, genn_name):
        kind, source = self.spec.origin[genn_name]
        return genn_name if kind == "sign" else source

    def random_draws(self, steps, step0):
        draws = np.zeros((steps, self.batch, self.n, len(self.draws)))
        neuron = np.arange(self.n).reshape(1, self.n)
        lane = np.arange(self.batch).reshape(self.batch, 1)
        for s in range(steps):
            for j, (k, kind) in enumerate(self.draws):
                draw = rng.uniform if kind == "uniform" else rng.normal
                draws[s, :, :, j] = draw(self.seed, step0 + s, neuron, lane, k,
                                         np.dtype(self.precision))
        return draws

    def get_state(self, name):
        dtype = numpy_dtype(self.model.state(name).dtype, self.precision)
        return self.states[name].astype(dtype)

    def set_state(self, name, value):
        self.states[name] = np.array(np.broadcast_to(value, (self.batch, self.n)), np.float64)

    def set_value(self, name, value):
        self.values[name] = np.asarray(value, np.float64)

    def set_array(self, name, value):
        self.arrays[name] = np.asarray(value).reshape(-1)


# --- the standard library's test vectors through the harness ---------------------------
@pytest.fixture(autouse=True)
def _harness_registered(monkeypatch):
    if CC is None:
        pytest.skip("no C compiler on this machine")
    monkeypatch.setitem(REGISTRY, "genn_harness", __name__)


from test_stdlib import *  # noqa: E402,F401,F403  (the vectors, run with the fixture below)

pytestmark = pytest.mark.c  # this module's mark, also on the imported vectors


@pytest.fixture
def backend():
    """The backend of the test vectors imported from test_stdlib above."""
    return "genn_harness"


# --- examples and hand-built models against numpy ---------------------------------------
def reference_and_harness(model, n, batch, steps, inputs, precision="float64", params=None,
                          seed=7):
    results = []
    for backend in ("numpy", "genn_harness"):
        # the backends are compared, not the numerics: AdEx on RK4 (the examples run here
        # with method: rk4, see example()) overflows to NaN within the run, the same on both
        sim = eqsnn.Simulator(model, n, batch_size=batch, dt=0.1, backend=backend,
                              precision=precision, params=params, seed=seed, check=False)
        record = [s.name for s in sim.model.states] + (["spikes"] if sim.model.spiking else [])
        results.append(sim.run(steps, inputs, record))
    return results


def assert_same(reference, harness, rtol):
    for name, expected in reference.vars.items():
        got = harness.vars[name]
        if expected.dtype.kind == "f":
            np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol, err_msg=name)
        else:
            np.testing.assert_array_equal(got, expected, err_msg=name)
    if reference.spikes is not None:
        np.testing.assert_array_equal(harness.spikes.step, reference.spikes.step)
        np.testing.assert_array_equal(harness.spikes.batch, reference.spikes.batch)
        np.testing.assert_array_equal(harness.spikes.neuron, reference.spikes.neuron)
        if reference.spikes.sign is not None:
            np.testing.assert_array_equal(harness.spikes.sign, reference.spikes.sign)


EXAMPLES = sorted(os.path.splitext(name)[0] for name in os.listdir("examples")
                  if name.endswith(".eqs")) if os.path.isdir("examples") else []


def example(name):
    """The example; a nonlinear one with ``method: rk4`` (the adaptive method through the
    harness: ``test_pygenn_adaptive.py``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = eqsnn.load(os.path.join("examples", f"{name}.eqs"))
        if model.method == "adaptive":
            with open(os.path.join("examples", f"{name}.eqs")) as f:
                model = eqsnn.compile(f.read() + "    method: rk4\n")
        return model


def random_inputs(model, steps, batch, n, seed=0):
    """Each input varies per step, lane and neuron around its default (or 0.2)."""
    generator = np.random.default_rng(seed)
    inputs = {}
    for item in model.ir.inputs:
        scale = item.default if item.default else 0.2
        inputs[item.name] = scale * generator.uniform(0.5, 1.5, (steps, batch, n))
    return inputs


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_matches_numpy(name):
    model = example(name)
    n, batch, steps = 3, 2, 150
    reference, harness = reference_and_harness(model, n, batch, steps,
                                               random_inputs(model, steps, batch, n))
    assert_same(reference, harness, rtol=1e-12)


def test_per_neuron_params_become_read_only_vars():
    model = example("lif_expsyn")
    params = {"tau_mem": [10.0, 20.0, 20.0, 5.0], "v_thresh": [0.2, 0.3, 0.4, 0.5]}
    reference, harness = reference_and_harness(model, 4, 2, 200, {"Isyn": 0.05}, params=params)
    assert_same(reference, harness, rtol=1e-12)
    assert len(reference.spikes) > 10


@pytest.mark.parametrize("name", ["lif_pulse", "two_compartment", "alif", "lif_held"])
def test_float32_exact_arithmetic_models_match_bit_for_bit(name):
    model = example(name)
    reference, harness = reference_and_harness(model, 3, 2, 150, random_inputs(model, 150, 2, 3),
                                               precision="float32")
    assert_same(reference, harness, rtol=0)


#: sqrt, abs, min, max, floor, ceil and a float modulo in float arithmetic
EXACT_CALLS = """neuron ExactCalls
    param tau = 5.0
    state V = 0.1
    state W = 0.3
    input I = 0.0
    let a = 0.3 * sqrt(1.0 + W * W) + 0.7 * abs(W) + 0.2 * min(W, 0.5)
    let b = 0.1 * max(W, 0.0) + 0.05 * floor(3.0 * W) + 0.03 * ceil(2.0 * W)
    dV/dt = -V / tau + a + b + I
    dW/dt = -W / tau + 0.2 * I
    method: euler
    after:
        V += 0.01 * (W % 0.3) - 0.002
    threshold: V >= 1.0
    reset:
        V = 0.0
"""


def test_float32_sqrt_abs_min_max_floor_and_mod_round_to_float_bit_for_bit():
    """``0.3 * sqrt(x)`` was a double product where GeNN's CPU backend calls the double
    ``sqrt`` (and ``fabs``, ``fmin``, ``fmax``, ``floor``, ``ceil``, ``fmod``): the
    printer casts them back to ``scalar`` (on GeNN: ``test_pygenn_backend``)."""
    model = eqsnn.compile(EXACT_CALLS)
    current = np.random.default_rng(0).uniform(-1.0, 1.5, (60, 2, 5))
    reference, harness = reference_and_harness(model, 5, 2, 60, {"I": current},
                                               precision="float32")
    assert len(reference.spikes.step) > 0
    assert_same(reference, harness, rtol=0)


def test_branches_builtins_and_functions():
    """Nested ifs, a local, Piecewise, phi1, min/max, t, step, id and batch (helpers.branches)."""
    reference, harness = reference_and_harness(
        helpers.branches(), 4, 3, 40, {"drive": np.linspace(-2.0, 6.0, 40)[:, None, None]})
    assert_same(reference, harness, rtol=1e-12)


def test_int_and_bool_states_with_floored_modulo():
    reference, harness = reference_and_harness(helpers.counter(), 3, 1, 30, None,
                                               params={"period": [3, 4, 5]})
    assert_same(reference, harness, rtol=0)
    assert len(reference.spikes) > 10


def test_signed_spikes_through_the_sign_state():
    x = np.random.default_rng(1).normal(size=(50, 2, 5))
    reference, harness = reference_and_harness(helpers.binary_signed(), 5, 2, 50, {"x": x})
    assert_same(reference, harness, rtol=0)
    assert set(reference.spikes.sign.tolist()) == {-1, 1}


def test_random_draws_follow_the_shared_stream():
    reference, harness = reference_and_harness(helpers.noisy(), 6, 2, 100, None,
                                               params={"sigma": 0.5, "rate": 2.0})
    assert_same(reference, harness, rtol=1e-12)


def test_arrays_are_extra_global_params_with_a_clamped_index():
    times = [0.25, 0.3, 0.3, 1.0, 0.05, 0.7, 2.0]
    results = []
    for backend in ("numpy", "genn_harness"):
        sim = eqsnn.Simulator(helpers.spike_source(), 2, batch_size=2, dt=0.1, backend=backend,
                              precision="float32", params={"SpikeTimes": times},
                              init={"StartSpike": [[0, 4], [5, 7]], "EndSpike": [[4, 5], [7, 7]]})
        results.append(sim.run(25, None, ["StartSpike", "spikes"]))
    assert_same(*results, rtol=0)
    assert len(results[0].spikes) == 7
