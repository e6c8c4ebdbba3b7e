"""The suite's derandomized Hypothesis examples do not depend on what ran before.

CI runs the fuzzers (``test_backend_fuzz.py``, ``test_backend_fuzz_float32.py``) with a
fixed number of examples under the profile ``eqsnn`` (``derandomize``): a test must draw
the same examples whether its file runs alone or after any other.  Hypothesis (6.131 and
later) also draws numbers it finds in the source of the local modules in ``sys.modules``,
and which of eqsnn's modules are imported depends on the tests collected and run before
(``test_network.py`` imports ``eqsnn.network``, say); ``conftest.py`` pins that pool.

Here a new local module full of numbers the fuzzers' ranges accept is imported between two
draws of the same derandomized strategy; the examples must not change.  The models are
compared as text and values, and each model's printed code on every backend and its
numpy run must not depend on another model compiled in between.
"""

from __future__ import annotations

import hashlib
import importlib

import numpy as np
import pytest
from fuzz_models import FuzzCase, fuzz_cases
from hypothesis import HealthCheck, Phase, given, settings

import eqsnn
from eqsnn.backends import EmitOptions, emit

pytestmark = pytest.mark.skipif(not settings.default.derandomize,
                                reason="the profile draws new examples on each run")

#: a module of literals in the ranges the drawer uses (seeds, sizes, coefficients), other
#: ones per precision: numbers already in the pool would change nothing
NUMBERS = {
    "float64": """
SEEDS = (7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 3141592653, 2718281828, 4000000000)
SIZES = (2, 3, 4, 5, 6, 9, 12, 33, 44, 55, 59)
SCALES = (0.123, 0.257, 0.333, 0.777, 1.234, 1.618, 1.999, 2.5, 3.75, 4.25, 11.5, 17.25)
""",
    "float32": """
SEEDS = (53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 1414213562, 1732050807, 3000000001)
SIZES = (8, 10, 14, 15, 16, 18, 20, 21, 22, 24, 26, 27)
SCALES = (0.111, 0.222, 0.444, 0.555, 0.888, 1.111, 1.333, 1.777, 2.222, 2.875, 19.5)
""",
}


def _digest(case: FuzzCase) -> str:
    """The case whole: its text, sizes and every value it carries."""
    digest = hashlib.sha256(repr((case.text, case.n, case.batch, case.steps, case.dt,
                                  case.split, case.readout, case.precision)).encode())
    for values in (case.params, case.init, case.inputs):
        for name in sorted(values):
            digest.update(name.encode() + np.ascontiguousarray(values[name]).tobytes())
    return digest.hexdigest()


def _draw(precision: str, examples: int = 25) -> list[str]:
    """What the profile's derandomized run of ``fuzz_cases(precision)`` draws."""
    drawn: list[str] = []

    @settings(max_examples=examples, database=None, phases=(Phase.generate,),
              suppress_health_check=list(HealthCheck))
    @given(fuzz_cases(precision))
    def record(case):
        drawn.append(_digest(case))

    record()
    return drawn


@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_fuzz_cases_do_not_depend_on_the_modules_imported_before(precision, tmp_path,
                                                                 monkeypatch):
    before = _draw(precision)
    assert len(before) == 25 and len(set(before)) > 1  # a run of different cases
    name = f"eqsnn_numbers_{precision}"
    (tmp_path / f"{name}.py").write_text(NUMBERS[precision])
    monkeypatch.syspath_prepend(str(tmp_path))
    # left in sys.modules: Hypothesis notices new modules by the length of sys.modules
    importlib.import_module(name)
    assert _draw(precision) == before


def _printed(case: FuzzCase) -> dict:
    """The model's code on each backend, and its numpy run's recorded bits."""
    model = eqsnn.compile(case.text)
    options = EmitOptions(precision=case.precision, per_neuron=frozenset(case.params))
    code = {backend: emit(model.ir, backend, options).text
            for backend in ("numpy", "c", "cupy", "pygenn")}
    sim = eqsnn.Simulator(model, case.n, batch_size=case.batch, dt=case.dt,
                          precision=case.precision, params=case.params, init=case.init,
                          seed=3, check=False)
    result = sim.run(case.steps, inputs=case.inputs, record=list(case.states),
                     progress=False)
    return {**code, "run": {name: result.vars[name].tobytes() for name in case.states}}


LIF = """neuron Other
    param tau = 7.5 (> 0)
    param th = 1.25
    state v = 0.3
    input I = 0.5
    dv/dt = -v / tau + exp(-v) * I + 0.0625 * v * v
    method: rk4
    threshold: v >= th
    reset:
        v = 0.0
"""


@pytest.mark.filterwarnings("ignore")
def test_a_models_code_and_run_do_not_depend_on_a_model_compiled_before():
    cases: list[FuzzCase] = []

    @settings(max_examples=6, database=None, phases=(Phase.generate,),
              suppress_health_check=list(HealthCheck))
    @given(fuzz_cases())
    def collect(case):
        cases.append(case)

    collect()
    compared = 0
    for case in cases:
        try:
            first = _printed(case)
        except eqsnn.EqsnnError:
            continue  # refused, or a model whose run fails: the same either way
        eqsnn.Simulator(eqsnn.compile(LIF), 4, dt=0.25).run(8, progress=False)
        assert _printed(case) == first, case
        compared += 1
    assert compared >= 3
