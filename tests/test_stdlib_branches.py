"""Every option branch of every standard-library class against a NumPy transcription.

Each reference below is written from the rule in spec/ml_genn-neurons.md
§3–§5 (not from the .eqs files), runs in float64 over random inputs for at
least 200 steps, 2 lanes and several neurons (per-neuron params and sampled
initial values included), and must give the same spikes and, within
rounding, the same states as the Simulator.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import eqsnn
from eqsnn import neurons as N
from eqsnn.initializers import Normal

STEPS, BATCH, SHAPE = 240, 2, (2, 3)
NEURONS = 6


def run(neuron, inputs, record=("V",), *, dt=1.0, seed=3, steps=STEPS):
    sim = eqsnn.Simulator(neuron, SHAPE, batch_size=BATCH, dt=dt, precision="float64",
                          seed=seed)
    build = neuron.build(shape=SHAPE, batch_size=BATCH, dt=dt, seed=seed)
    spikes = ("spikes",) if sim.model.spiking else ()
    result = sim.run(steps, inputs, tuple(record) + spikes)
    flat = {k: v.reshape(steps, BATCH, NEURONS) for k, v in result.vars.items()}
    return result, flat, build.params


def spike_raster(result, steps=STEPS, sign=1):
    raster = np.zeros((steps, BATCH, NEURONS), bool)
    spikes = result.spikes
    mine = np.ones(len(spikes), bool) if spikes.sign is None else spikes.sign == sign
    raster[spikes.step[mine], spikes.batch[mine], spikes.neuron[mine]] = True
    return raster


def lanes(value):
    return np.broadcast_to(np.asarray(value, float), (BATCH, NEURONS)).copy()


# --- references, transcribed from the spec ------------------------------------------------------
def reference_lif(I, p, *, dt, relative_reset, integrate_during_refrac, scale_i, refractory,
                  adaptive=False):
    """Spec §3.1 (LIF) and §3.2 (ALIF); I is (steps, batch, n); returns (V, R, A, spikes)."""
    alpha = np.exp(-dt / p["tau_mem"])
    rho = np.exp(-dt / p["tau_adapt"]) if adaptive else 1.0
    V, R, A = lanes(p["v"]), lanes(0.0), lanes(p.get("a", 0.0))
    out = {"V": [], "RefracTime": [], "A": [], "spikes": []}
    for In in I:
        U = alpha * V + ((1 - alpha) * In if scale_i else In)
        A = rho * A
        if not refractory:
            V = U
        else:
            in_refrac = R > 0
            if integrate_during_refrac:
                V = U
            else:
                V = np.where(in_refrac, V, U)
            R = np.where(in_refrac, R - dt, R)
        threshold = p["v_thresh"] + (p["beta"] * A if adaptive else 0.0)
        fire = V >= threshold
        if refractory:
            fire &= R <= 0
        if relative_reset:
            V = np.where(fire, V - (p["v_thresh"] - p["v_reset"]), V)
        else:
            V = np.where(fire, p["v_reset"], V)
        A = np.where(fire, A + 1, A)
        if refractory:
            R = np.where(fire, p["tau_refrac"], R)
        for name, value in (("V", V), ("RefracTime", R), ("A", A), ("spikes", fire)):
            out[name].append(value)
    return {k: np.array(v) for k, v in out.items()}


def reference_leaky_integrate(I, p, *, dt, scale_i):
    """Spec §3.3."""
    alpha = np.exp(-dt / p["tau_mem"])
    V, out = lanes(p["v"]), []
    for In in I:
        V = alpha * V + ((1 - alpha) * In if scale_i else In) + p["bias"]
        out.append(V)
    return np.array(out)


def reference_integrate_fire(I, p):
    """Spec §3.4."""
    V, Vs, spikes = lanes(p["v"]), [], []
    for In in I:
        V = V + In
        fire = V >= p["v_thresh"]
        V = np.where(fire, p["v_reset"], V)
        Vs.append(V)
        spikes.append(fire)
    return np.array(Vs), np.array(spikes)


def frames_per_step(x, steps, frame_timesteps):
    """Spec §4.1 with the integer frame mapping: x is (batch, frames, n) -> (steps, batch, n)."""
    frames = x.shape[1]
    return np.stack([x[:, min(i // frame_timesteps, frames - 1)] for i in range(steps)])


# --- dynamical neurons --------------------------------------------------------------------------
LIF_OPTIONS = list(itertools.product([True, False], repeat=4))


def lif_params(rng, refractory):
    return dict(v_thresh=rng.uniform(0.8, 1.2, NEURONS), v_reset=rng.uniform(-0.2, 0.2),
                v=Normal(0.0, 0.3),
                tau_mem=rng.uniform(10.0, 30.0, NEURONS),
                tau_refrac=rng.uniform(0.0, 6.0, NEURONS) if refractory else None)


@pytest.mark.parametrize("relative_reset, integrate_during_refrac, scale_i, refractory",
                         LIF_OPTIONS)
def test_leaky_integrate_fire(relative_reset, integrate_during_refrac, scale_i, refractory):
    rng = np.random.default_rng(1)
    args = lif_params(rng, refractory)
    neuron = N.LeakyIntegrateFire(**args, relative_reset=relative_reset,
                                  integrate_during_refrac=integrate_during_refrac,
                                  scale_i=scale_i)
    mean = 1.3 if scale_i else 0.08
    I = rng.normal(mean, 2 * mean, (STEPS, BATCH, NEURONS))
    result, got, params = run(neuron, {"Isyn": I.reshape((STEPS, BATCH) + SHAPE)},
                              ("V", "RefracTime") if refractory else ("V",))
    expected = reference_lif(I, params, dt=1.0, relative_reset=relative_reset,
                             integrate_during_refrac=integrate_during_refrac, scale_i=scale_i,
                             refractory=refractory)
    np.testing.assert_array_equal(spike_raster(result), expected["spikes"])
    assert expected["spikes"].sum() > 50
    np.testing.assert_allclose(got["V"], expected["V"], rtol=1e-12, atol=1e-12)
    if refractory:
        np.testing.assert_allclose(got["RefracTime"], expected["RefracTime"], atol=1e-12)


@pytest.mark.parametrize("relative_reset, integrate_during_refrac, refractory",
                         list(itertools.product([True, False], repeat=3)))
def test_adaptive_leaky_integrate_fire(relative_reset, integrate_during_refrac, refractory):
    rng = np.random.default_rng(2)
    args = lif_params(rng, refractory)
    args.update(a="uniform", beta=rng.uniform(0.0, 0.5, NEURONS),
                tau_adapt=rng.uniform(50.0, 300.0, NEURONS))
    neuron = N.AdaptiveLeakyIntegrateFire(**args, relative_reset=relative_reset,
                                          integrate_during_refrac=integrate_during_refrac)
    I = rng.normal(0.1, 0.2, (STEPS, BATCH, NEURONS))
    result, got, params = run(neuron, {"Isyn": I.reshape((STEPS, BATCH) + SHAPE)}, ("V", "A"))
    expected = reference_lif(I, params, dt=1.0, relative_reset=relative_reset,
                             integrate_during_refrac=integrate_during_refrac, scale_i=False,
                             refractory=refractory, adaptive=True)
    np.testing.assert_array_equal(spike_raster(result), expected["spikes"])
    assert expected["spikes"].sum() > 50
    np.testing.assert_allclose(got["V"], expected["V"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got["A"], expected["A"], rtol=1e-12)


@pytest.mark.parametrize("scale_i", [False, True])
def test_leaky_integrate(scale_i):
    rng = np.random.default_rng(3)
    args = dict(v=rng.normal(0, 1, NEURONS), bias=rng.normal(0, 0.1, NEURONS),
                tau_mem=rng.uniform(5, 30, NEURONS))
    I = rng.normal(0.0, 1.0, (STEPS, BATCH, NEURONS))
    result, got, params = run(N.LeakyIntegrate(**args, scale_i=scale_i),
                              {"Isyn": I.reshape((STEPS, BATCH) + SHAPE)})
    expected = reference_leaky_integrate(I, params, dt=1.0, scale_i=scale_i)
    np.testing.assert_allclose(got["V"], expected, rtol=1e-11, atol=1e-12)


def test_integrate_fire():
    rng = np.random.default_rng(4)
    args = dict(v_thresh=rng.uniform(0.5, 2, NEURONS), v_reset=-0.1, v="uniform")
    I = rng.normal(0.1, 0.3, (STEPS, BATCH, NEURONS))
    result, got, params = run(N.IntegrateFire(**args),
                              {"Isyn": I.reshape((STEPS, BATCH) + SHAPE)})
    V, spikes = reference_integrate_fire(I, params)
    np.testing.assert_array_equal(spike_raster(result), spikes)
    np.testing.assert_allclose(got["V"], V, atol=1e-12)


# --- input neurons --------------------------------------------------------------------------
@pytest.mark.parametrize("frames, frame_timesteps", [(1, 1), (7, 30), (5, 3)])
def test_integrate_fire_input(frames, frame_timesteps):
    rng = np.random.default_rng(5)
    neuron = N.IntegrateFireInput(v_thresh=1.0, input_frames=frames,
                                  input_frame_timesteps=frame_timesteps)
    if frames == 1:
        x = rng.uniform(0, 0.5, (BATCH,) + SHAPE)
        per_step = np.broadcast_to(x.reshape(1, BATCH, NEURONS), (STEPS, BATCH, NEURONS))
    else:
        x = rng.uniform(-0.2, 0.5, (BATCH, frames) + SHAPE)
        per_step = frames_per_step(x.reshape(BATCH, frames, NEURONS), STEPS, frame_timesteps)
    result, got, params = run(neuron, {"Input": x})
    V, spikes = reference_integrate_fire(per_step, params)
    np.testing.assert_array_equal(spike_raster(result), spikes)
    np.testing.assert_allclose(got["V"], V, atol=1e-12)


@pytest.mark.parametrize("frames, scale_i, refractory", [
    (1, False, False), (1, True, True), (4, False, True), (4, True, False)])
def test_leaky_integrate_fire_input(frames, scale_i, refractory):
    rng = np.random.default_rng(6)
    args = lif_params(rng, refractory)
    neuron = N.LeakyIntegrateFireInput(**args, scale_i=scale_i, input_frames=frames,
                                       input_frame_timesteps=50)
    mean = 1.3 if scale_i else 0.08
    x = rng.normal(mean, mean, (1, frames) + SHAPE) if frames > 1 else \
        rng.normal(mean, mean, (1,) + SHAPE)  # one example: lane 1 is zero-padded
    per_step = frames_per_step(np.concatenate([x.reshape(1, frames, NEURONS),
                                               np.zeros((1, frames, NEURONS))]), STEPS, 50)
    result, got, params = run(neuron, {"Input": x})
    expected = reference_lif(per_step, params, dt=1.0, relative_reset=True,
                             integrate_during_refrac=True, scale_i=scale_i,
                             refractory=refractory)
    np.testing.assert_array_equal(spike_raster(result), expected["spikes"])
    assert expected["spikes"][:, 0].sum() > 20 and not expected["spikes"][:, 1].any()
    np.testing.assert_allclose(got["V"], expected["V"], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("signed, frames", [(False, 1), (True, 1), (False, 6)])
def test_binary_spike_input(signed, frames):
    rng = np.random.default_rng(7)
    shape = (BATCH, frames) + SHAPE if frames > 1 else (BATCH,) + SHAPE
    x = rng.choice([-1.5, 0.0, 0.2], size=shape)
    neuron = N.BinarySpikeInput(signed_spikes=signed, input_frames=frames,
                                input_frame_timesteps=40)
    result, _, _ = run(neuron, {"Input": x}, ())
    per_step = frames_per_step(x.reshape(BATCH, frames, NEURONS), STEPS, 40)
    np.testing.assert_array_equal(spike_raster(result), per_step > 0)
    if signed:
        np.testing.assert_array_equal(spike_raster(result, sign=-1), per_step < 0)
    else:
        assert result.spikes.sign is None


@pytest.mark.parametrize("signed, frames, dt", [(False, 1, 1.0), (True, 1, 0.5),
                                                (False, 3, 1.0)])
def test_poisson_input(signed, frames, dt):
    rng = np.random.default_rng(8)
    shape = (BATCH, frames) + SHAPE if frames > 1 else (BATCH,) + SHAPE
    x = rng.uniform(-0.3, 0.3, shape)
    neuron = N.PoissonInput(signed_spikes=signed, input_frames=frames,
                            input_frame_timesteps=100)
    result, _, _ = run(neuron, {"Input": x}, (), dt=dt, seed=99)
    per_step = frames_per_step(x.reshape(BATCH, frames, NEURONS), STEPS, 100)
    step, lane, neuron_id = np.meshgrid(np.arange(STEPS), np.arange(BATCH), np.arange(NEURONS),
                                        indexing="ij")
    u = eqsnn.rng.uniform(99, step, neuron_id, lane, 0)  # counter (step, neuron, lane, draw)
    spike = u >= np.exp(-np.abs(per_step) * dt)
    np.testing.assert_array_equal(spike_raster(result), (per_step > 0) & spike)
    if signed:
        np.testing.assert_array_equal(spike_raster(result, sign=-1), (per_step < 0) & spike)
    assert ((per_step > 0) & spike).sum() > 50


def test_spike_input_backlog_and_lanes():
    rng = np.random.default_rng(9)
    examples, times_by = [], {}
    for b in range(BATCH):
        count = 150
        ids = rng.integers(0, NEURONS, count)
        times = np.round(rng.uniform(0, STEPS * 0.5 + 20, count) * 4) / 4  # ties and backlogs
        examples.append(N.preprocess_spikes(times, ids, NEURONS))
        for i in range(NEURONS):
            times_by[b, i] = np.sort(times[ids == i])
    result, _, _ = run(N.SpikeInput(max_spikes=400), {"Input": examples}, (), dt=0.5)
    expected = np.zeros((STEPS, BATCH, NEURONS), bool)
    for (b, i), times in times_by.items():  # spec §4.4, one neuron at a time
        pending = 0
        for n in range(STEPS):
            if pending < len(times) and n * 0.5 >= times[pending]:
                expected[n, b, i] = True
                pending += 1
    np.testing.assert_array_equal(spike_raster(result), expected)
    assert expected.sum() > 200


# --- few-spike neurons ------------------------------------------------------------------------
def reference_few_spike_input(x_windows, k, alpha, signed):
    """Spec §5 FewSpikeReluInput; x_windows is (windows, batch, n). Returns signed bits."""
    bits = []
    for x in x_windows:
        V = x.copy()
        for p in range(k):
            if signed:
                h = alpha * 2.0 ** (-(k // 2)) * 2.0 ** (k // 2 - 1 - p // 2)
                if p % 2 == 0:
                    fire = V >= h
                    V = np.where(fire, V - h, V)
                    bits.append(fire.astype(float))
                else:
                    fire = V < -h
                    V = np.where(fire, V + h, V)
                    bits.append(fire.astype(float))  # ml_genn: an ordinary spike
            else:
                h = alpha * 2.0 ** (-k) * 2.0 ** (k - 1 - p)
                fire = V >= h
                V = np.where(fire, V - h, V)
                bits.append(fire.astype(float))
    return np.array(bits)


def reference_few_spike_relu(spikes, weights, k, alpha, source_alpha, signed_source):
    """Spec §5 FewSpikeRelu as ml_genn runs it: positive spikes, sign applied in d."""
    steps = spikes.shape[0]
    isyn = np.zeros((steps, BATCH, NEURONS))
    isyn[1:] = spikes[:-1] @ weights  # delta synapse: one step later
    Fx, V = np.zeros((BATCH, NEURONS)), np.zeros((BATCH, NEURONS))
    Fxs, fired = [], []
    for n in range(steps):
        p = n % k
        if signed_source:
            sigma = -1.0 if p % 2 == 0 else 1.0
            d = sigma * source_alpha * 2.0 ** (-(k // 2)) * 2.0 ** (((k - p) % k) // 2)
        else:
            d = source_alpha * 2.0 ** (-k) * 2.0 ** ((k - p) % k)
        Fx = Fx + isyn[n] * d
        if p == 0:
            V, Fx = Fx, np.zeros_like(Fx)
        h = alpha * 2.0 ** (-k) * 2.0 ** (k - 1 - p)
        fire = V >= h
        V = np.where(fire, V - h, V)
        Fxs.append(Fx)
        fired.append(fire)
    return np.array(Fxs), np.array(fired)


@pytest.mark.parametrize("k, signed", [(8, False), (6, True), (5, False)])
def test_few_spike_chain(k, signed):
    rng = np.random.default_rng(10)
    windows, alpha_in, alpha = 40, 2.0, 3.0
    x = rng.uniform(-2.5 if signed else -0.5, 2.5, (windows, BATCH, NEURONS))
    source = eqsnn.Simulator(N.FewSpikeReluInput(k=k, alpha=alpha_in, signed_input=signed),
                             NEURONS, batch_size=BATCH, precision="float64")
    raster = np.zeros((windows * k, BATCH, NEURONS))
    for w in range(windows):
        result = source.run(k, {"Input": x[w]}, ("spikes",))
        sign = 1 if result.spikes.sign is None else result.spikes.sign
        raster[w * k + result.spikes.step, result.spikes.batch, result.spikes.neuron] = sign
    ml_genn_bits = reference_few_spike_input(x, k, alpha_in, signed)
    np.testing.assert_array_equal(np.abs(raster), ml_genn_bits)
    if signed:  # eqsnn's negative spikes are exactly ml_genn's odd-phase bits
        odd = (np.arange(windows * k) % 2 == 1)[:, None, None]
        np.testing.assert_array_equal(raster < 0, (ml_genn_bits > 0) & odd)

    weights = rng.normal(0.0, 0.6, (NEURONS, NEURONS))
    isyn = np.zeros_like(raster)
    isyn[1:] = raster[:-1] @ weights  # eqsnn's signed synapse delivers -w for negative spikes
    hidden = eqsnn.Simulator(
        N.FewSpikeRelu(k=k, alpha=alpha, source_alpha=alpha_in, source_signed=signed),
        NEURONS, batch_size=BATCH, precision="float64")
    result = hidden.run(windows * k, {"Isyn": isyn}, ("Fx", "spikes"))
    Fx, fired = reference_few_spike_relu(ml_genn_bits, weights, k, alpha, alpha_in, signed)
    got = np.zeros_like(fired)
    got[result.spikes.step, result.spikes.batch, result.spikes.neuron] = True
    np.testing.assert_array_equal(got, fired)
    np.testing.assert_allclose(result.vars["Fx"], Fx, atol=1e-12)
    assert fired.sum() > 100


# --- LIF scale_i=True against the exact solution of the ODE --------------------------------
def test_leaky_integrate_fire_scale_i_is_the_exact_ode_solution():
    from scipy.integrate import solve_ivp

    rng = np.random.default_rng(11)
    tau, dt, steps = 15.0, 0.7, 200
    I = rng.normal(2.5, 1.0, (steps, 1, 1))
    neuron = N.LeakyIntegrateFire(tau_mem=tau, v_reset=0.1, scale_i=True)
    sim = eqsnn.Simulator(neuron, 1, dt=dt, precision="float64")
    result = sim.run(steps, {"Isyn": I}, ("V", "spikes"))
    V_post = result.vars["V"][:, 0, 0]
    fired = np.zeros(steps, bool)
    fired[result.spikes.step] = True
    previous = 0.0
    for n in range(steps):  # tau dV/dt = -V + I, I held over the step
        solution = solve_ivp(lambda t, v, i=I[n, 0, 0]: (i - v) / tau, (0.0, dt), [previous],
                             rtol=1e-12, atol=1e-14, method="DOP853")
        V_pre = solution.y[0, -1]
        assert fired[n] == (V_pre >= 1.0)
        np.testing.assert_allclose(V_post[n], V_pre - 0.9 if fired[n] else V_pre,
                                   rtol=1e-9, atol=1e-11)
        previous = V_post[n]
    assert 10 < fired.sum() < steps - 10
