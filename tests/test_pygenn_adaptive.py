"""The adaptive method on GeNN: the substep loop in the sim code, the in-step crossing's
flag in a hidden var that the threshold reads, against the numpy backend.

The code strings are checked as text and compiled by the C stand-in for GeNN of
``test_genn_harness.py`` everywhere; the tests marked ``pygenn`` run them in real PyGeNN.
Both models draw nothing, so GeNN runs eqsnn's algorithm exactly: the only difference to
numpy is the last bit of ``exp`` (the C library's against NumPy's), which in AdEx can move
a substep boundary and so a state by up to about 1e-8 of its range over 200 ms (the c
backend differs from numpy by the same); Izhikevich has no ``exp`` and agrees bit for bit.
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest
import test_genn_harness
from test_genn_harness import emitted_model

import eqsnn
from eqsnn.backends import REGISTRY, EmitOptions
from eqsnn.backends import pygenn as genn_backend

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: per model: the input and its values across the neurons (regular spiking to bursting)
DRIVES = {"adex": ("I", np.linspace(300.0, 1500.0, 6)),
          "izhikevich": ("I", np.linspace(4.0, 20.0, 6))}


def adaptive_example(name: str) -> eqsnn.Model:
    model = eqsnn.load(os.path.join(ROOT, "examples", f"{name}.eqs"))
    assert model.method == "adaptive"
    return model


def test_the_substep_loop_and_the_crossing_flag_are_genn_code():
    model = adaptive_example("adex").ir
    source = genn_backend.emit(model, EmitOptions("float64"))
    spec = source.extra["spec"]
    variables = {name: (ctype, access) for name, ctype, access in spec.vars}
    assert variables["crossed_"] == ("bool", "READ_WRITE")
    assert spec.origin["crossed_"] == ("local", "_crossed")
    assert variables["substep_"] == ("scalar", "READ_WRITE")  # carried to the next step
    assert spec.origin["substep_"] == ("state", "_substep")
    assert spec.threshold_condition_code == "crossed_ || V >= v_peak"
    # a crossing already reset the ODE states inside the step: only its offset is kept
    assert spec.reset_code.startswith("if (crossed_) {\n    spike_offset_ = crossed_at_;\n} else {")
    assert "V = v_reset;" in spec.reset_code.split("} else {", 1)[1]
    sim = spec.sim_code
    assert "for (int loop0 = 0; loop0 < 1000; loop0++) {" in sim
    assert "break;" in sim
    assert "crossed_ = false;" in sim and "bool crossed_" not in sim  # a var, not a local
    # the text is valid PyGeNN code that defines the same model
    genn = emitted_model(source)
    assert genn["threshold_condition_code"] == spec.threshold_condition_code
    assert ("crossed_", "bool", "READ_WRITE") in genn["vars"]


def run_pair(name: str, backend: str, dt: float, duration: float):
    model = adaptive_example(name)
    drive, values = DRIVES[name]
    steps = int(round(duration / dt))
    runs = []
    for which in ("numpy", backend):
        sim = eqsnn.Simulator(model, len(values), dt=dt, backend=which, precision="float64")
        record = [s.name for s in model.ir.states if not s.name.startswith("_")]
        runs.append(sim.run(steps, inputs={drive: values}, record=record + ["spikes"]))
    return runs, int(round(60 / dt))


def assert_same_algorithm(reference, other, first_steps: int, limit: float) -> None:
    """Identical spikes; states within 1e-9 over the first ``first_steps`` steps and within
    ``limit`` of their range over the whole run."""
    assert len(reference.spikes) >= 10
    for field in ("step", "batch", "neuron"):
        np.testing.assert_array_equal(getattr(other.spikes, field),
                                      getattr(reference.spikes, field), err_msg=field)
    for name, expected in reference.vars.items():
        got = other.vars[name]
        np.testing.assert_allclose(got[:first_steps], expected[:first_steps], rtol=1e-9,
                                   atol=1e-9, err_msg=name)
        span = np.ptp(expected)
        assert np.max(np.abs(got - expected)) <= limit * span, name


LIMITS = {"adex": 3e-8, "izhikevich": 1e-12}


@pytest.fixture
def harness(monkeypatch):
    """The C stand-in for GeNN, as the backend ``genn_harness``."""
    if test_genn_harness.CC is None:
        pytest.skip("no C compiler on this machine")
    monkeypatch.setitem(REGISTRY, "genn_harness", test_genn_harness.__name__)
    return "genn_harness"


@pytest.mark.c
@pytest.mark.parametrize("dt", [0.1, 1.0])
@pytest.mark.parametrize("name", ["adex", "izhikevich"])
def test_the_genn_code_compiled_as_c_runs_numpys_algorithm(harness, name, dt):
    (reference, compiled), first = run_pair(name, harness, dt, 100.0)
    assert_same_algorithm(reference, compiled, first, LIMITS[name])


@pytest.mark.pygenn
@pytest.mark.skipif(importlib.util.find_spec("pygenn") is None, reason="needs PyGeNN")
@pytest.mark.parametrize("dt", [0.1, 1.0])
@pytest.mark.parametrize("name", ["adex", "izhikevich"])
def test_pygenn_runs_numpys_adaptive_algorithm(name, dt):
    (reference, genn), first = run_pair(name, "pygenn", dt, 200.0)
    assert_same_algorithm(reference, genn, first, LIMITS[name])


@pytest.mark.pygenn
def test_spike_offsets_on_genn_match_numpy():
    """The located crossing's offset is a GeNN var like the rest of the step."""
    pytest.importorskip("pygenn")
    model = adaptive_example("adex")
    currents = np.array([300.0, 800.0, 1500.0])
    runs = {}
    for backend in ("numpy", "pygenn"):
        sim = eqsnn.Simulator(model, n=3, dt=0.1, backend=backend, precision="float64")
        runs[backend] = sim.run(1000, inputs={"I": currents},
                                record=["spikes", "spike_offset"]).spikes
    reference, genn = runs["numpy"], runs["pygenn"]
    assert len(reference.times) > 5
    np.testing.assert_array_equal(genn.times, reference.times)
    np.testing.assert_array_equal(genn.ids, reference.ids)
    assert ((reference.offset > 0) & (reference.offset <= 0.1)).all()
    np.testing.assert_allclose(genn.offset, reference.offset, rtol=0, atol=1e-9)
