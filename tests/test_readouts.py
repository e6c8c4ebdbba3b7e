"""Readouts: IR transformations checked against NumPy transcriptions of spec §6."""

from __future__ import annotations

import numpy as np
import pytest

import eqsnn
from eqsnn import ir
from eqsnn import neurons as N
from eqsnn import readouts as R

STEPS, BATCH, N_NEURONS = 210, 2, 5
FLT_MAX = float(np.finfo(np.float32).max)


def lif_run(readout, I, *, runs=1, precision="float64", dt=0.5):
    """Several runs of one population; the pre-reset V of every step; the readouts."""
    neuron = N.LeakyIntegrateFire(tau_mem=10.0, readout=readout)
    sim = eqsnn.Simulator(neuron, N_NEURONS, batch_size=BATCH, dt=dt, precision=precision)
    out = []
    for r in range(runs):
        result = sim.run(STEPS, {"Isyn": I[r]}, ("V", "spikes"))
        fired = np.zeros((STEPS, BATCH, N_NEURONS), bool)
        fired[result.spikes.step, result.spikes.batch, result.spikes.neuron] = True
        pre_reset = result.vars["V"] + np.where(fired, 1.0, 0.0)  # relative reset by 1
        out.append((result, pre_reset, fired))
    return out


def transcription(kind, y, fired, dt):
    """Spec §6's table, with y the pre-reset output variable (steps, batch, n)."""
    T = y.shape[0]
    n = np.arange(T)[:, None, None]
    if kind == "spike_count":
        return fired.sum(axis=0)
    if kind == "first_spike_time":
        first = np.where(fired.any(axis=0), fired.argmax(axis=0), -1)
        return np.where(first >= 0, -first * dt, -FLT_MAX)
    if kind == "avg_var":
        return (y / T).sum(axis=0)
    if kind == "avg_var_exp_weight":
        return (np.exp(-n * dt / (dt * T)) * y / T).sum(axis=0)
    if kind == "sum_var":
        return y.sum(axis=0)
    if kind == "max_var":
        return np.maximum(0.0, y.max(axis=0))
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["spike_count", "first_spike_time", "avg_var",
                                  "avg_var_exp_weight", "sum_var", "max_var", "var"])
def test_readouts_match_the_spec_and_restart_every_run(kind):
    rng = np.random.default_rng(12)
    I = rng.normal(0.05, 0.3, (2, STEPS, BATCH, N_NEURONS))
    I[1, :, 1] -= 0.3  # second run, lane 1: mostly negative input (max_var floor, no spikes)
    for result, y, fired in lif_run(kind, I, runs=2):
        assert result.readout.shape == (BATCH, N_NEURONS)
        if kind == "var":
            np.testing.assert_array_equal(result.readout, result.vars["V"][-1])
        else:
            np.testing.assert_allclose(result.readout, transcription(kind, y, fired, 0.5),
                                       rtol=1e-12, atol=1e-12)


def test_float32_readouts_are_close_to_float64():
    rng = np.random.default_rng(13)
    I = rng.normal(0.05, 0.3, (1, STEPS, BATCH, N_NEURONS))
    for kind in ["avg_var", "avg_var_exp_weight", "sum_var", "max_var"]:
        single = lif_run(kind, I, precision="float32")[0][0].readout
        double = lif_run(kind, I, precision="float64")[0][0].readout
        assert single.dtype == np.float32
        np.testing.assert_allclose(single, double, rtol=1e-4, atol=1e-4)


def test_readouts_are_ir_transformations():
    model = N.LeakyIntegrateFire().model().ir
    avg = R.AvgVar().apply(model, "V")
    assert [s.name for s in avg.states] == ["V", "VAvg"]
    assert avg.readout == ir.Readout("avg_var", "VAvg", ("VAvg",))
    assert avg.runtime_params == ("run_steps",) and avg.param("run_steps").dtype == "int"
    assert avg.step[:len(model.step)] == model.step  # appended after the model's step
    assert avg.reset == model.reset and avg.threshold == model.threshold
    count = R.SpikeCount().apply(model)
    assert count.state("Scount").dtype == "int"
    assert count.reset[:len(model.reset)] == model.reset and len(count.reset) == 1 + len(
        model.reset)
    assert count.step == model.step
    first = R.FirstSpikeTime().apply(model)
    assert float(first.state("TFirstSpike").init) == -FLT_MAX
    assert R.MaxVar().apply(model, "V").readout.state == "VMax"
    assert R.SumVar().apply(model, "V").readout.state == "VSum"
    assert R.AvgVarExpWeight().apply(model, "V").readout.state == "VAvg"
    assert R.Var().apply(model, "V").readout == ir.Readout("var", "V", ())
    fx = N.FewSpikeRelu(readout="var").model().ir
    assert fx.readout.state == "Fx"


def test_readout_names_and_objects():
    assert sorted(R.READOUTS) == ["avg_var", "avg_var_exp_weight", "first_spike_time",
                                  "max_var", "spike_count", "sum_var", "var"]
    for name, cls in R.READOUTS.items():
        assert isinstance(R.get_readout(name), cls)
        obj = cls()
        copy = R.get_readout(obj)
        assert copy == obj and copy is not obj
    assert R.get_readout(None) is None
    neuron = N.LeakyIntegrateFire(readout=R.SumVar())
    assert isinstance(neuron.readout, R.SumVar)
    neuron.readout = None
    assert neuron.model().ir.readout is None


def test_with_readout_on_a_users_model():
    model = R.with_readout(eqsnn.load("examples/lif_pulse.eqs"), "avg_var", var="V")
    sim = eqsnn.Simulator(model, 3, precision="float64")
    for steps in (10, 40):  # run_steps follows each run's length
        result = sim.run(steps, {"Isyn": 0.1}, ("V", "spikes"))
        fired = np.zeros((steps, 1, 3), bool)
        fired[result.spikes.step, result.spikes.batch, result.spikes.neuron] = True
        y = result.vars["V"] + np.where(fired, 1.0, 0.0)
        np.testing.assert_allclose(result.readout[0], y.mean(axis=0)[0], rtol=1e-12)
    assert R.with_readout(model, None) is model


def test_readout_shape_follows_the_population_shape():
    sim = eqsnn.Simulator(N.LeakyIntegrate(readout="max_var"), (2, 2, 3), batch_size=3)
    result = sim.run(5, {"Isyn": np.arange(12.0).reshape(2, 2, 3)})
    assert result.readout.shape == (3, 2, 2, 3)
    np.testing.assert_allclose(result.readout[2].ravel()[1:].argsort(), np.arange(11))
