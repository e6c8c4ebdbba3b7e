"""The differential fuzzer of ``test_backend_fuzz.py`` in float32: random models on numpy,
c and the CUDA emulation give the same bits.

What is promised: ``docs/backends-compiled.md`` ("Reproducible arithmetic") prints every
``+ - * /``, ``sqrt``, ``floor``, ``min``/``max`` and ``mod`` so that it rounds as in NumPy,
and evaluates the transcendental functions in float32 as the float64 function of the widened
argument rounded to float32, on every backend; README: "every example and standard-library
model in float32 gives NumPy's trajectory bit for bit on c and on a CPU emulation of the
CUDA kernels".  The adaptive method is float32 arithmetic like any other step (its
tolerances are float32's, ``rtol = 1e-4``, ``atol = 1e-6``, ``docs/numerics.md``), so its
substep sizes, crossings and offsets are the same bits too: unlike float64, no parting of
substep sizes is allowed.  The numerical check compares float32 states with bounds made
float32 exactly (``runtime/float32_bounds.py``), and values beyond float32's range are
refused before the run, the same on every backend.  So, against the numpy backend:

* every recorded state (and the adaptive method's carried ``_substep``) bit for bit, NaN
  where numpy has NaN, in every run of the case, also in the ``Result`` a
  ``NumericalError`` carries;
* the same spikes (step, lane, neuron, sign) and bit-identical offsets;
* each run's readout (``FuzzCase.readout``, any of ``eqsnn.readouts``) bit for bit;
* the same error (type and message: a ``NumericalError``'s state, step, lane, neuron,
  count and hint; a ``ParameterError`` at construction) and the same warnings.

The one documented exception is a double rounding: two libraries' float64 results of a
function, each within an ulp, that round to two float32 values (about one evaluation in
10^8).  None has shown in the examples run (see ``docs/backends-compiled.md``); one that
does shows as a failure here, to be confirmed (the function's argument evaluated in higher
precision) rather than allowed in bulk.  ``fuzz_models.fuzz_cases("float32")`` adds the
draws float32 makes special: strict bounds that are no float32, a bound right at a clamp,
a cap near float32's largest value, subnormal params, an int counter that wraps, a drive
that overflows.  The examples are the same on every run; ``EQSNN_FUZZ_EXAMPLES`` runs more
(``HYPOTHESIS_PROFILE=explore``: new ones).

The ``pygenn`` tier (``EQSNN_FUZZ_GENN_EXAMPLES``) compares GeNN's CPU backend the same way,
as ``docs/backends-pygenn.md`` promises bits there: deterministic models on every method,
the adaptive one included (GeNN draws its own random numbers).  A run that fails numerically is
compared up to the failing step and by the failure's state, step, lane, neuron and count:
GeNN tests every state in every step, so its states after the failure differ.
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest
from fuzz_models import FuzzCase, fuzz_cases
from hypothesis import HealthCheck, given, settings
from test_backend_fuzz import (
    COMPARED,
    GENN_EXAMPLES,
    PHASES,
    SUBSTEP,
    Outcome,
    compiled,
    run,
)

#: a few seconds in the suite (each example runs three backends)
EXAMPLES = int(os.environ.get("EQSNN_FUZZ_EXAMPLES", "6"))

def same_bits(a, b) -> np.ndarray:
    """Element-wise: the same value (NaN where the other is NaN; -0 and +0 are one, as
    ``fmin``/``fmax`` may return either, docs/backends-compiled.md)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind != "f":
        return a == b
    return (a == b) | (np.isnan(a) & np.isnan(b))


def compare_bits(case: FuzzCase, reference: Outcome, other: Outcome, backend: str) -> None:
    """Assert that ``other`` did exactly what the numpy backend did."""
    assert type(reference.error) is type(other.error), (reference.error, other.error)
    steps = None  # all
    if backend == "pygenn" and reference.ran and reference.error:
        # GeNN tests every state in every step (docs/numerics.md), so after the failing
        # step its states are not the ones the second pass of numpy leaves: the same
        # failure, and the steps before it
        keys = ("state", "step", "lane", "neuron", "count")
        assert [getattr(reference.error, k) for k in keys] == [
            getattr(other.error, k) for k in keys], (str(reference.error), str(other.error))
        steps = reference.error.step  # counted from the first run
    else:
        assert str(reference.error) == str(other.error), (str(reference.error),
                                                          str(other.error))
    assert reference.ran == other.ran
    assert reference.warned == other.warned, (reference.warned, other.warned)
    if not reference.ran:
        return
    assert reference.vars.keys() == other.vars.keys()
    for name, x in reference.vars.items():
        x, y = x[:steps], other.vars[name][:steps]
        assert x.dtype == y.dtype, (name, x.dtype, y.dtype)
        assert x.shape == y.shape, (name, x.shape, y.shape)
        bad = np.argwhere(~same_bits(x, y))
        assert not len(bad), (f"{backend}: {name} at (step, lane, neuron) "
                              f"{tuple(bad[0])}: {y[tuple(bad[0])]!r} vs "
                              f"{x[tuple(bad[0])]!r} (numpy), {len(bad)} values differ")
    spiked = np.argwhere(reference.signs[:steps] != other.signs[:steps])
    assert not len(spiked), f"{backend}: spikes differ at (step, lane, neuron) {spiked[0]}"
    bad = np.argwhere(~same_bits(reference.offsets[:steps], other.offsets[:steps]))
    assert not len(bad), f"{backend}: spike offsets differ at {bad[0]}"
    if steps is not None:
        return  # a readout sums over the run
    for number, (x, y) in enumerate(zip(reference.readouts, other.readouts)):
        assert (x is None) == (y is None)
        if x is not None:
            assert x.dtype == y.dtype, (x.dtype, y.dtype)
            bad = np.argwhere(~same_bits(x, y))
            assert not len(bad), (f"{backend}: readout {case.readout} of run {number} at "
                                  f"{bad[0]}: {y[tuple(bad[0])]!r} vs {x[tuple(bad[0])]!r}")


def check_case(case: FuzzCase, backends=COMPARED) -> dict:
    """Run ``case`` on numpy and ``backends`` in float32 and compare bit for bit;
    ``{"refused": reason}`` where eqsnn refuses the model, else what happened."""
    model = compiled(case)
    if isinstance(model, str):
        return {"refused": model}
    if "pygenn" in backends and case.random:  # GeNN draws its own numbers
        return {"skipped": "random"}
    reference = run(case, model, "numpy")
    for backend in backends:
        compare_bits(case, reference, run(case, model, backend), backend)
    return {"method": model.ir.method.name, "substeps": SUBSTEP in getattr(reference, "vars", {}),
            "spikes": int(np.count_nonzero(reference.signs)) if reference.ran else 0,
            "error": type(reference.error).__name__ if reference.error else None}


@pytest.mark.c
@settings(max_examples=EXAMPLES, suppress_health_check=list(HealthCheck), phases=PHASES)
@given(fuzz_cases("float32"))
def test_random_models_give_the_same_bits_on_numpy_c_and_the_cuda_emulation(case):
    check_case(case)


@pytest.mark.pygenn
@pytest.mark.skipif(importlib.util.find_spec("pygenn") is None, reason="needs PyGeNN")
@settings(max_examples=GENN_EXAMPLES, suppress_health_check=list(HealthCheck), phases=PHASES)
@given(fuzz_cases("float32"))
def test_random_deterministic_models_give_the_same_bits_on_numpy_and_pygenn(case):
    check_case(case, ("pygenn",))
