"""A run that raises is rolled back on every backend: state, ``step`` and ``t`` are as
before it, and the next run continues as if it had never started (same steps, same random
draws).  Recording memory is checked before the first step."""

from __future__ import annotations

import contextlib
import importlib.util
import math

import fake_cupy
import helpers
import numpy as np
import pytest
import test_backend_equivalence as equivalence

from eqsnn import Simulator, ir
from eqsnn.errors import ParameterError

BACKENDS = [
    "numpy",
    pytest.param("c", marks=pytest.mark.c),
    pytest.param("cupy-emulated", marks=pytest.mark.c),
    pytest.param("pygenn", marks=[pytest.mark.pygenn, pytest.mark.skipif(
        importlib.util.find_spec("pygenn") is None, reason="needs PyGeNN")]),
]


def _context(backend):
    if backend == "cupy-emulated" and not equivalence.gpu_available():
        return fake_cupy.installed()
    return contextlib.nullcontext()


def _simulator(backend, model=None):
    name = "cupy" if backend == "cupy-emulated" else backend
    if model is None:
        # GeNN's random draws come from a generator eqsnn cannot rewind (docs/simulator.md):
        # there a deterministic model with spikes shows the rollback
        model = _driven_lif() if backend == "pygenn" else helpers.noisy()
    return Simulator(model, (3, 4), batch_size=2, backend=name, precision="float64", seed=5)


def _driven_lif():
    lif = helpers.lif()
    return lif.replace(inputs=(ir.Input("Isyn", default=0.3),))


class Interrupt:
    """Wraps a runner's ``run``: the ``fail_at``-th call runs its steps for real (the state
    moves on) and then raises ``error``."""

    def __init__(self, runner, error, fail_at=1):
        self.real, self.error, self.fail_at, self.calls = runner.run, error, fail_at, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        out = self.real(*args, **kwargs)
        if self.calls == self.fail_at:
            raise self.error
        return out


@pytest.mark.parametrize("error", [KeyboardInterrupt(), MemoryError(), RuntimeError("boom")],
                         ids=["ctrl-c", "memory", "error"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_failed_run_is_rolled_back(backend, error, monkeypatch):
    with _context(backend):
        sim, oracle = _simulator(backend), _simulator(backend)
        first = sim.run(7, record=["V"])
        oracle.run(7)
        before = {name: value.copy() for name, value in sim.state.items()}
        interrupt = Interrupt(sim._runner, error)
        monkeypatch.setattr(sim._runner, "run", interrupt)
        with pytest.raises(type(error)):
            sim.run(20, record=["V", "spikes"], progress=False)
        assert interrupt.calls == 1
        monkeypatch.undo()
        assert sim.step == 7 and sim.t == 7.0
        for name, value in sim.state.items():
            np.testing.assert_array_equal(value, before[name])
        # the next run continues as if the failed one had never started
        again, expected = sim.run(20, record=["V", "spikes"]), oracle.run(20, record=["V",
                                                                                   "spikes"])
        np.testing.assert_array_equal(again.vars["V"], expected.vars["V"])
        np.testing.assert_array_equal(again.spikes.step, expected.spikes.step)
        np.testing.assert_array_equal(again.spikes.times, expected.spikes.times)
        np.testing.assert_array_equal(again.spikes.neuron, expected.spikes.neuron)
        assert sim.step == oracle.step == 27
        assert first.vars["V"].shape == (7, 2, 3, 4)


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_interruption_between_pieces_of_a_long_run(backend, monkeypatch):
    """With the progress bar's pieces (1, 2, 4, ... steps), the third piece fails."""
    with _context(backend):
        sim = _simulator(backend)
        before = {name: value.copy() for name, value in sim.state.items()}
        import eqsnn.runtime.progress as progress

        monkeypatch.setattr(progress, "PROBE_SECONDS", 1e9)  # pieces of 1, 2, 4, ...
        interrupt = Interrupt(sim._runner, KeyboardInterrupt(), fail_at=3)
        monkeypatch.setattr(sim._runner, "run", interrupt)
        with pytest.raises(KeyboardInterrupt):
            sim.run(50, record=["V"])
        assert interrupt.calls == 3 and sim.step == 0 and sim.t == 0.0
        for name, value in sim.state.items():
            np.testing.assert_array_equal(value, before[name])


def test_a_snapshot_puts_back_states_and_the_runtime_values_a_run_set():
    """Runtime params (``run_steps``) a failed run set are undone with the states."""
    from eqsnn.runtime.guard import Snapshot

    runner_values = []

    class Runner:
        def __init__(self):
            self.state, self.values = np.zeros(3), {"run_steps": 1.0}

        def get_state(self, name):
            return self.state.copy()

        def set_state(self, name, value):
            self.state[...] = value

        def set_value(self, name, value):
            runner_values.append(value)
            self.values[name] = value

        def set_array(self, name, value):
            raise AssertionError("no array was set")

    runner = Runner()
    snapshot = Snapshot(runner, ["V"], {"run_steps": 1.0})
    runner.state += 5
    runner.values["run_steps"] = 99.0
    snapshot.restore()
    assert runner.values == {"run_steps": 1.0} and runner_values == [1.0]
    np.testing.assert_array_equal(runner.state, np.zeros(3))


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_interrupted_reset_changes_nothing(backend, monkeypatch):
    with _context(backend):
        sim = _simulator(backend)
        sim.run(5)
        before = {name: value.copy() for name, value in sim.state.items()}
        real, calls = sim._runner.set_state, []

        def set_state(name, value):
            calls.append(name)
            real(name, value)
            if len(calls) == 1:
                raise KeyboardInterrupt

        monkeypatch.setattr(sim._runner, "set_state", set_state)
        with pytest.raises(KeyboardInterrupt):
            sim.reset()
        monkeypatch.undo()
        assert sim.step == 5
        for name, value in sim.state.items():
            np.testing.assert_array_equal(value, before[name])


def test_recording_memory_is_checked_before_the_first_step():
    sim = _simulator("numpy")
    before = sim.state["V"].copy()
    with pytest.raises(ParameterError) as caught:
        sim.run(10**12, record=["V", "spikes"])
    message = str(caught.value)
    assert "record={'V': [0, 1, 2]}" in message and "record_memory=math.inf" in message
    assert "nothing was run" in message
    assert sim.step == 0
    np.testing.assert_array_equal(sim.state["V"], before)


def test_record_memory_sets_the_limit():
    sim = _simulator("numpy")
    # 10 steps x 2 lanes x 12 neurons x 8 bytes = 1920 bytes of V
    with pytest.raises(ParameterError, match="allowed by record_memory"):
        sim.run(10, record=["V"], record_memory=1919)
    assert sim.step == 0
    assert sim.run(10, record=["V"], record_memory=1920).vars["V"].nbytes == 1920
    assert sim.run(10, record={"V": [0]}, record_memory=160).vars["V"].shape == (10, 2, 1)
    assert sim.run(3, record=["V"], record_memory=math.inf).vars["V"].shape == (3, 2, 3, 4)
    for bad in ("big", -1, math.nan, True):
        with pytest.raises(ParameterError, match="record_memory must be"):
            sim.run(1, record=["V"], record_memory=bad)
    assert sim.step == 23


@pytest.mark.parametrize("record", [None, (), [], {}])
def test_record_none_or_empty_records_nothing(record):
    result = _simulator("numpy").run(3, record=record)
    assert dict(result.vars) == {} and result.spikes is None


@pytest.mark.parametrize("record", [5, 1.5, object(), [["V"]], {("V",): None}, [None]])
def test_a_bad_record_is_a_parameter_error(record):
    sim = _simulator("numpy")
    with pytest.raises(ParameterError, match="record"):
        sim.run(3, record=record)
    assert sim.step == 0
