"""A differential fuzzer of simulation results: random models on numpy, c and the CUDA
emulation give the same answer.

``fuzz_models.fuzz_cases`` draws random but valid models (1-3 ODE states, linear,
conditionally linear and nonlinear right-hand sides, thresholds and resets, refractoriness,
counters, in-step crossings of the adaptive default) with one population's values.  Each
runs in float64 on every backend, and the promise of ``docs/numerics.md`` ("numpy and c
run the same algorithm and agree within 1e-9") and ``docs/tutorial-compare.md`` (a state
agrees where ``|x - x_ref| <= 1e-9 + 1e-9·|x_ref|``) is checked against the numpy backend:

* every recorded state within that tolerance, per neuron, up to the neuron's first spike
  difference, and on the adaptive method up to the step where the carried substep sizes
  part (a last-bit difference of ``exp`` may change a substep size, after which the two
  runs are two integrations within the tolerance, ``docs/numerics.md``);
* where the model's dynamics amplify a last-bit difference of a math function (a chaotic
  model: a neuron's largest relative state difference grows from below 1e-12 by at most
  100 per step past the tolerance, :func:`amplified_from`), compared no further from
  that step, as where the substep sizes part;
* identical spikes (step, lane, neuron, sign), except the documented one: a crossing within
  the tolerance of a step boundary, which one backend puts at the end of step ``s`` and the
  other at the start of ``s + 1`` (or not at all); where it happens, the run that did not
  spike ends step ``s`` with ``x0`` within 1e-7 of the threshold, and the neuron is compared
  no further;
* spike offsets (where the crossing lies in its step) within 1e-6 ms;
* the same ``NumericalError`` (state, step, lane, neuron, count), the same
  ``ParameterError`` at construction, the same warnings;
* a readout (``eqsnn.readouts``, ``FuzzCase.readout``: one that counts spikes or picks a
  state's value, as a sum or mean of states within 1e-9 could cancel to below it), each
  run's, within the same tolerance, for the neurons compared to the end of a run
  without a ``NumericalError``.

``test_backend_fuzz_float32.py`` runs the same models in float32, where the promise is
bit-identity.

A model eqsnn refuses with an EqsnnError is fine; an ``InternalError`` or any other
exception is a finding.  The examples are the same on every run (``derandomize``);
``EQSNN_FUZZ_EXAMPLES=2000`` runs more of them (``HYPOTHESIS_PROFILE=explore``: new ones).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import warnings

import fake_cupy
import numpy as np
import pytest
from fuzz_models import FuzzCase, fuzz_cases
from hypothesis import HealthCheck, Phase, given, settings

import eqsnn
from eqsnn import readouts
from eqsnn.errors import EqsnnError, InternalError, NumericalError

RTOL = ATOL = 1e-9  # docs/tutorial-compare.md, the float64 default
BOUNDARY = 1e-7  # how near the threshold a state that did not spike must be, relative
OFFSET_TOLERANCE = 1e-6  # ms
SUBSTEP = "_substep"  # the adaptive method's carried substep size (a hidden state)
EXAMPLES = int(os.environ.get("EQSNN_FUZZ_EXAMPLES", "10"))
#: GeNN builds each model (seconds each): a handful, in the pygenn tier
GENN_EXAMPLES = int(os.environ.get("EQSNN_FUZZ_GENN_EXAMPLES", "4"))
COMPARED = ("c", "cupy")
#: how much a neuron's largest state difference may grow in one step, from the last bits
#: (LAST_BITS) to past the tolerance, and count as the model's dynamics amplifying the
#: last-bit difference of a math function (:func:`amplified_from`); a wrong op jumps
#: from the last bits to past 1e-9 in one step, a factor of 1000 or more
GROWTH = 100.0
LAST_BITS = 1e-12




class Outcome:
    """What one backend did with a case: the recorded states, spikes and offsets of its
    runs (each ``(steps, batch, n)``, the runs one after the other), its error, its
    warnings."""

    def __init__(self, case: FuzzCase, results, error=None, warned=()):
        self.error, self.warned = error, tuple(warned)
        self.ran = bool(results)
        if not results:
            return
        self.vars = {name: np.concatenate([r.vars[name] for r in results])
                     for name in results[0].vars}
        #: each run's readout (a readout restarts at every run), where the model has one
        self.readouts = [r.readout for r in results]
        grids = [spike_grid(r, case) for r in results]
        self.signs = np.concatenate([g[0] for g in grids])
        self.offsets = np.concatenate([g[1] for g in grids])


def run(case: FuzzCase, model, backend: str) -> Outcome:
    """``case`` on ``backend``, in one run or two (``case.split``)."""
    context = fake_cupy.installed() if backend == "cupy" else contextlib.nullcontext()
    adaptive = model.ir.method.name == "adaptive"
    record = [*case.states, *([SUBSTEP] if adaptive else []), "spikes", "spike_offset"]
    cuts = [0, case.split, case.steps] if case.split else [0, case.steps]
    results = []
    with warnings.catch_warnings(record=True) as warned, context:
        warnings.simplefilter("always")
        try:
            sim = eqsnn.Simulator(with_readout(model, case.readout), case.n,
                                  batch_size=case.batch, dt=case.dt, backend=backend,
                                  precision=case.precision, params=case.params,
                                  init=case.init, seed=3)
            for start, end in zip(cuts, cuts[1:]):
                inputs = {name: value if value.ndim < 3 else value[start:end]
                          for name, value in case.inputs.items()}
                results.append(sim.run(end - start, inputs=inputs, record=record,
                                       progress=False))
        except InternalError:
            raise
        except NumericalError as error:
            return Outcome(case, results + [error.result], error, _messages(warned))
        except EqsnnError as error:
            return Outcome(case, [], error, _messages(warned))
    return Outcome(case, results, None, _messages(warned))


def with_readout(model, readout):
    """``model`` with the case's readout ``(name, var)`` on it, if it has one."""
    return model if readout is None else readouts.with_readout(model, *readout)


def _messages(warned) -> list[str]:
    return [str(w.message) for w in warned if issubclass(w.category, eqsnn.EqsnnWarning)]


def close(a, b) -> np.ndarray:
    """``|b - a| <= ATOL + RTOL·|a|`` element-wise; equal NaNs and infinities agree."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    with np.errstate(invalid="ignore"):
        return (a == b) | (np.isnan(a) & np.isnan(b)) | (np.abs(a - b) <= ATOL + RTOL * np.abs(a))


def substeps_part(a, b) -> int | None:
    """The first step at which the adaptive method's carried substep sizes ``a`` and ``b``
    (one neuron's) differ, or None.  They may (docs/numerics.md): a last-bit difference of
    ``exp`` can move the rounded size factor to the next of its levels ``2^(j/4)``, so the
    sizes then differ by such a factor (:func:`_parting_factor`)."""
    differ = np.flatnonzero(~np.isclose(a, b, rtol=1e-9, atol=0))
    return int(differ[0]) if len(differ) else None


def spike_grid(result, case: FuzzCase) -> tuple[np.ndarray, np.ndarray]:
    """``(signs, offsets)`` of shape (steps, batch, n): each spike's sign (0: none) and
    offset (NaN: none)."""
    steps = len(result.vars[case.states[0]])
    signs = np.zeros((steps, case.batch, case.n), np.int8)
    offsets = np.full((steps, case.batch, case.n), np.nan)
    spikes = result.spikes
    sign = spikes.sign if spikes.sign is not None else np.ones(len(spikes.step), np.int8)
    signs[spikes.step, spikes.batch, spikes.neuron] = sign
    offsets[spikes.step, spikes.batch, spikes.neuron] = spikes.offset
    return signs, offsets


def compare(case: FuzzCase, model, reference: Outcome, other: Outcome, backend: str) -> dict:
    """Assert the documented agreement; return how many neurons took the boundary
    exception (``excepted``) and, for the neurons whose substep sizes parted, by how many
    levels of the rounded factor (``parted``)."""
    if not reference.ran or not other.ran:
        assert not reference.ran and not other.ran, (reference.error, other.error)
        assert type(reference.error) is type(other.error)
        assert str(reference.error) == str(other.error)
        return {"excepted": 0, "parted": [], "amplified": 0}
    a, b = reference, other
    signs_a, offsets_a, signs_b, offsets_b = a.signs, a.offsets, b.signs, b.offsets
    assert signs_a.shape == signs_b.shape, (reference.error, other.error)
    steps = signs_a.shape[0]
    if backend == "pygenn" and (a.error or b.error):
        # GeNN tests every state in every step (docs/numerics.md), so its recorded states
        # after the failing step are not the ones the second pass of numpy leaves
        steps = min(e.step for e in (a.error, b.error) if e)  # counted from the first run
    excepted, parted, first_exception, amplifications = 0, [], steps, 0
    whole = np.ones((case.batch, case.n), bool)  # the neurons compared to the end
    for lane in range(case.batch):
        for neuron in range(case.n):
            differ = np.flatnonzero(signs_a[:steps, lane, neuron] != signs_b[:steps, lane, neuron])
            until = int(differ[0]) if len(differ) else steps
            where = f"{backend}, lane {lane}, neuron {neuron}"
            if SUBSTEP in a.vars:  # compared up to where the substep sizes part
                part = substeps_part(a.vars[SUBSTEP][:until, lane, neuron],
                                     b.vars[SUBSTEP][:until, lane, neuron])
                until = until if part is None else part
            amplified = amplified_from(case, a, b, until, lane, neuron)
            until = until if amplified is None else amplified
            for name in case.states:
                x, y = a.vars[name][:until, lane, neuron], b.vars[name][:until, lane, neuron]
                bad = np.flatnonzero(~close(x, y))
                assert not len(bad), (f"{where}: {name} at step {bad[0]}: {y[bad[0]]!r} vs "
                                      f"{x[bad[0]]!r} (numpy)")
            u, v = offsets_a[:until, lane, neuron], offsets_b[:until, lane, neuron]
            both = ~np.isnan(u)
            assert np.all(np.abs(u[both] - v[both]) <= OFFSET_TOLERANCE), (where, u, v)
            if until == steps:
                continue
            whole[lane, neuron] = False
            first_exception = min(first_exception, until)
            if amplified is not None and (not len(differ) or amplified < differ[0]):
                amplifications += 1  # the dynamics amplified a last-bit difference
                continue
            if not len(differ) or until < differ[0]:
                # the substep sizes parted first: compared no further
                parted.append(_parting_factor(a.vars[SUBSTEP], b.vars[SUBSTEP], until, lane,
                                              neuron))
                continue
            _assert_on_the_boundary(case, a, b, signs_a, signs_b, until, lane, neuron, where)
            excepted += 1
    _compare_errors(reference.error, other.error, first_exception)
    if not (a.error or b.error):  # each run's readout, where its neuron was compared whole
        for run_a, run_b in zip(a.readouts, b.readouts):
            assert (run_a is None) == (run_b is None)
            if run_a is not None:
                bad = np.argwhere(whole & ~close(run_a, run_b))
                assert not len(bad), f"{backend}: readout at {bad[0]}"
    assert reference.warned == other.warned or excepted or parted or amplifications, (
        reference.warned, other.warned)
    return {"excepted": excepted, "parted": parted, "amplified": amplifications}


def amplified_from(case: FuzzCase, a, b, until: int, lane: int, neuron: int) -> int | None:
    """The first step before ``until`` where one of the neuron's float states leaves the
    tolerance, if its largest state difference (relative to ``max(1, |x|)``) grew there
    from the last bits (``LAST_BITS``) by at most ``GROWTH`` in every step: a model whose
    dynamics amplify a last-bit difference of ``exp``, ``sin`` or a normal draw (a
    chaotic one: 1e-16 to 1e-8 in 40 steps) is then compared no further
    (docs/backends-compiled.md); else None (also where the states agree)."""
    names = [name for name in case.states if a.vars[name].dtype.kind == "f"]
    x = np.array([a.vars[name][:until, lane, neuron] for name in names], np.float64)
    y = np.array([b.vars[name][:until, lane, neuron] for name in names], np.float64)
    out = np.flatnonzero(~np.all(close(x, y), axis=0))
    if not len(out):
        return None
    step = int(out[0])
    with np.errstate(invalid="ignore"):  # relative: a state that grows carries its own
        size = np.max(np.abs(x - y) / np.maximum(1.0, np.abs(x)), axis=0)  # NaN: one side
    start = np.flatnonzero(size[:step] <= LAST_BITS)
    if not len(start):
        return None
    grown = size[start[-1] + 1:step + 1]
    previous = size[start[-1]:step]
    with np.errstate(invalid="ignore"):
        steady = np.all((grown > 0) & (grown <= GROWTH * previous))
    return step if steady else None


def _parting_factor(a, b, step, lane, neuron) -> float:
    """By how many levels ``2^(1/4)`` of the rounded size factor the carried substep sizes
    differ where they part (an integer where the factor took another level; near 0 where
    a crossing's time, and so the rest of the step, differs in the last digits)."""
    return float(np.log2(a[step, lane, neuron] / b[step, lane, neuron]) * 4)


def _assert_on_the_boundary(case, a, b, signs_a, signs_b, step, lane, neuron, where):
    """A spike in one run and not the other at ``step``: the run that did not spike must
    end the step with x0 at the threshold (within BOUNDARY), as a crossing at the step's
    boundary does."""
    sa, sb = signs_a[step, lane, neuron], signs_b[step, lane, neuron]
    assert sa == 0 or sb == 0, f"{where}: spikes of opposite signs at step {step}"
    quiet, sign = (a, sb) if sa == 0 else (b, sa)
    x0 = quiet.vars["x0"][step, lane, neuron]
    level = sign * case.threshold[neuron]
    assert abs(x0 - level) <= BOUNDARY * max(1.0, abs(level)), (
        f"{where}: spikes differ at step {step} ({'numpy' if sa else 'the other'} spikes) "
        f"but the quiet run ends the step at x0 = {x0!r}, not at the threshold {level!r}")


def _compare_errors(a, b, first_exception: int) -> None:
    if a is None and b is None:
        return
    if first_exception < min(getattr(e, "step", 10**9) for e in (a, b) if e is not None):
        return  # a neuron took the boundary exception before: it may fail differently
    assert type(a) is type(b), (a, b)
    keys = ("state", "step", "lane", "neuron", "count")
    assert [getattr(a, k) for k in keys] == [getattr(b, k) for k in keys], (str(a), str(b))


def compiled(case: FuzzCase):
    """The model of ``case``, or why eqsnn refuses it (an ``EqsnnError``, which is fine; an
    ``InternalError`` is a finding and propagates); warnings of compiling are not compared."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return eqsnn.compile(case.text)
        except InternalError:
            raise
        except EqsnnError as error:
            return type(error).__name__ + ": " + str(error).splitlines()[0]


def check_case(case: FuzzCase, backends=COMPARED) -> dict:
    """Run ``case`` on numpy and ``backends`` and compare; ``{"refused": reason}`` where
    eqsnn refuses the model, else what happened (for the long runs' statistics)."""
    model = compiled(case)
    if isinstance(model, str):
        return {"refused": model}
    reference = run(case, model, "numpy")
    stats = {"method": model.ir.method.name, "excepted": 0, "parted": [], "amplified": 0,
             "spikes": int(np.count_nonzero(reference.signs)) if reference.ran else 0,
             "error": type(reference.error).__name__ if reference.error else None}
    for backend in backends:
        found = compare(case, model.ir, reference, run(case, model, backend), backend)
        stats["excepted"] += found["excepted"]
        stats["parted"] += found["parted"]
        stats["amplified"] += found["amplified"]
    return stats


#: no shrinking: each example costs seconds, and a failing one is printed whole
PHASES = (Phase.explicit, Phase.generate)


@pytest.mark.c
@settings(max_examples=EXAMPLES, suppress_health_check=list(HealthCheck), phases=PHASES)
@given(fuzz_cases())
def test_random_models_agree_on_numpy_c_and_the_cuda_emulation(case):
    check_case(case)


@pytest.mark.pygenn
@pytest.mark.skipif(importlib.util.find_spec("pygenn") is None, reason="needs PyGeNN")
@settings(max_examples=GENN_EXAMPLES, suppress_health_check=list(HealthCheck), phases=PHASES)
@given(fuzz_cases())
def test_random_models_agree_on_numpy_and_pygenn(case):
    if not case.random:  # GeNN draws from its own generator
        check_case(case, ("pygenn",))
