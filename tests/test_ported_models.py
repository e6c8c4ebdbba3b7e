"""Classic nonlinear neuron models ported from their published equations, as a Brian2 or
NEST user would write them (names and units of the papers), against ``solve_ivp``.

Each reference is built here: DOP853 at rtol = atol = 1e-11, one step at a time with
that step's input held (inputs change every step where the model takes a spike train
or a noisy current), the model's ``before:`` / ``after:`` jumps applied at the step's
start / end, and, for a model with a reset, the threshold's upward crossing as an event
where the reset is applied before integrating on.  A model without a reset (Morris–Lecar,
Wang–Buzsáki, FitzHugh–Nagumo) spikes at an upward crossing of a level, tested on the grid
(the ``refractory:`` idiom of ``docs/language.md``), so the reference's spike is the step
whose end is the first above the level.  Goals, in float64: equal spike counts, every
spike in the reference's step, every state at every step's end within 1e-4 of the
reference relative to its range over the run.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import eqsnn
from eqsnn.errors import NumericalError
from eqsnn.network import Delta, ExpCond, Network

pytestmark = pytest.mark.c


def stepwise_reference(rhs, y0, steps, dt, args_at, crossing=None, reset=None, before=None,
                       after=None):
    """``(states at each step's end (steps, k), spike steps)``; ``crossing(t, y)`` is the
    event (upward through 0), ``reset(y)`` the state after it; ``before(y, k)`` and
    ``after(y, k)`` the jumps at the start and end of step ``k``."""
    y = np.array(y0, float)
    out, spikes = np.empty((steps, len(y))), []
    event = None
    if crossing is not None:
        def event(t, y, *args):
            return crossing(t, y)
        event.terminal, event.direction = True, 1
    for k in range(steps):
        if before is not None:
            y = before(y, k)
        t, end, spiked = k * dt, (k + 1) * dt, False
        while t < end:
            sol = solve_ivp(rhs, (t, end), y, args=args_at(k), method="DOP853", rtol=1e-11,
                            atol=1e-11, events=event)
            if sol.status == 1:
                t, y = sol.t_events[0][0], reset(sol.y_events[0][0].copy())
                if not spiked:
                    spikes.append(k)
                spiked = True
            else:
                t, y = end, sol.y[:, -1]
        if after is not None:
            y = after(y, k)
        out[k] = y
    return out, np.array(spikes, int)


def upward_steps(states, level, start):
    """The steps whose end is above ``level`` where the previous step's end (or ``start``)
    was not: a spike of the ``refractory:`` idiom."""
    above = states > level
    return np.flatnonzero(above & ~np.concatenate(([start > level], above[:-1])))


def assert_matches(result, names, j, ref_states, ref_spikes, tolerance=1e-4):
    """The goals for neuron ``j`` of a one-lane result; returns the neuron's spike count."""
    mine = result.spikes.step[result.spikes.neuron == j]
    np.testing.assert_array_equal(mine, ref_spikes, err_msg=f"neuron {j}")
    for k, name in enumerate(names):
        span = np.ptp(ref_states[:, k])
        error = np.abs(result.vars[name][:, 0, j] - ref_states[:, k]).max() / span
        assert error <= tolerance, (name, j, error)
    return len(mine)


# --- 1. AdEx with exponential conductances and a spike train into g_e ---------------------

ADEX_COBA = """
neuron AdExCoba
    \"\"\"AdEx (Brette & Gerstner 2005) with exponential excitatory and inhibitory
    conductances; n_e counts the excitatory spikes arriving in a step.\"\"\"
    param C = 281 pF (> 0 pF)
    param gL = 30 nS (> 0 nS)
    param EL = -70.6 mV
    param VT = -50.4 mV
    param DeltaT = 2 mV (> 0 mV)
    param tauw = 144 ms (> 0 ms)
    param a = 4 nS
    param b = 80.5 pA
    param Vr = -70.6 mV
    param E_e = 0 mV
    param E_i = -80 mV
    param tau_e = 5 ms (> 0 ms)
    param tau_i = 10 ms (> 0 ms)
    param w_e = 6 nS
    param g_i0 = 2 nS
    let Vcut = VT + 5 * DeltaT
    let I_syn = g_e * (E_e - V) + g_i * (E_i - V)
    state V = EL
    state w = 0 pA
    state g_e = 0 nS
    state g_i = g_i0
    input I = 0 pA
    input n_e = 0
    dV/dt = (gL * (EL - V) + gL * DeltaT * exp((V - VT) / DeltaT) + I_syn - w + I) / C
    dw/dt = (a * (V - EL) - w) / tauw
    dg_e/dt = -g_e / tau_e
    dg_i/dt = -g_i / tau_i
    PHASE: g_e += w_e * n_e
    threshold: V > Vcut
    reset:
        V = Vr
        w += b
"""
ADEX_CURRENTS = np.array([200.0, 500.0, 800.0])  # pA


def adex_coba_rhs(tau_e):
    def rhs(t, y, current):
        V, w, g_e, g_i = y
        dV = (30.0 * (-70.6 - V) + 60.0 * np.exp((V + 50.4) / 2.0) + g_e * (0.0 - V)
              + g_i * (-80.0 - V) - w + current) / 281.0
        return [dV, (4.0 * (V + 70.6) - w) / 144.0, -g_e / tau_e, -g_i / 10.0]
    return rhs


def run_adex_coba(dt, steps, phase, tau_e, backend):
    """The model run and the reference for each neuron, both with the same spike train."""
    counts = np.random.default_rng(1).poisson(0.4 * dt, size=(steps, 3)).astype(float)
    model = eqsnn.compile(ADEX_COBA.replace("PHASE", phase))
    assert model.method == "adaptive"
    sim = eqsnn.Simulator(model, 3, dt=dt, backend=backend, precision="float64",
                          params={"tau_e": tau_e})
    result = sim.run(steps, inputs={"I": ADEX_CURRENTS, "n_e": counts[:, None, :]},
                     record=["V", "w", "g_e", "g_i", "spikes"])
    assert result.units == {"V": "mV", "w": "pA", "g_e": "nS", "g_i": "nS"}
    return result, counts


@pytest.mark.parametrize("dt, phase, tau_e", [
    (0.1, "before", 5.0),
    (1.0, "before", 5.0),
    (1.0, "after", 0.3),  # a conductance faster than the step
])
def test_adex_with_conductances_and_an_input_spike_train_matches_solve_ivp(dt, phase, tau_e):
    steps = int(round(150 / dt))
    result, counts = run_adex_coba(dt, steps, phase, tau_e, "c")
    total = 0
    for j, current in enumerate(ADEX_CURRENTS):
        def jump(y, k, j=j):
            return y + np.array([0.0, 0.0, 6.0 * counts[k, j], 0.0])
        states, spikes = stepwise_reference(
            adex_coba_rhs(tau_e), [-70.6, 0.0, 0.0, 2.0], steps, dt, lambda k, c=current: (c,),
            crossing=lambda t, y: y[0] - (-40.4),
            reset=lambda y: np.array([-70.6, y[1] + 80.5, y[2], y[3]]), **{phase: jump})
        total += assert_matches(result, ["V", "w", "g_e", "g_i"], j, states, spikes)
    assert total >= (15 if tau_e == 5.0 else 4)  # a fast conductance drives less


@pytest.mark.parametrize("dt", [0.1, 1.0])
def test_adex_with_conductances_runs_the_same_on_numpy_and_c(dt):
    steps = int(round(40 / dt))
    runs = {backend: run_adex_coba(dt, steps, "before", 5.0, backend)[0]
            for backend in ("numpy", "c")}
    assert len(runs["c"].spikes) >= 3
    np.testing.assert_array_equal(runs["numpy"].spikes.step, runs["c"].spikes.step)
    np.testing.assert_array_equal(runs["numpy"].spikes.neuron, runs["c"].spikes.neuron)
    for name in ("V", "w", "g_e", "g_i"):
        np.testing.assert_allclose(runs["numpy"].vars[name], runs["c"].vars[name], rtol=1e-9,
                                   atol=1e-9)


# --- 1b. the same conductance in a network ------------------------------------------------

ADEX_NET = """
neuron AdExNet
    param C = 281.0
    param gL = 30.0
    param EL = -70.6
    param VT = -50.4
    param DeltaT = 2.0
    param tauw = 144.0
    param a = 4.0
    param b = 80.5
    param Vr = -70.6
    param tau_e = 5.0
    state V = -70.6
    state w = 0.0
    state g_e = 0.0
    input I = 500.0
    input Isyn = 0.0
    input dg_e = 0.0
    dV/dt = (gL * (EL - V) + gL * DeltaT * exp((V - VT) / DeltaT) + g_e * (0 - V) \
- w + I + Isyn) / C
    dw/dt = (a * (V - EL) - w) / tauw
    dg_e/dt = -g_e / tau_e
    before: g_e += dg_e
    threshold: V > -40.4
    reset:
        V = Vr
        w += b
"""


def test_a_conductance_kept_in_the_neuron_is_exact_in_a_network_a_held_synapse_output_is_not():
    """Brian2 integrates ``g_e * (E_e - V)`` with V. A network's synapse output is computed
    once per step from the target's start-of-step V and held (as GeNN does), which is
    first order in dt; the conductance as a neuron state, fed the step's summed weight
    through a ``Delta`` synapse, is integrated with V (``docs/tutorial-brian2.md``)."""
    dt, steps = 0.1, 1500
    src_steps = np.sort(np.random.default_rng(5).choice(steps, size=45, replace=False))
    arrivals = np.zeros(steps)
    arrivals[src_steps + 1] = 6.0  # delay 1: a spike at step s arrives at step s + 1
    states, spikes = stepwise_reference(
        adex_coba_rhs(5.0), [-70.6, 0.0, 0.0, 0.0], steps, dt, lambda k: (500.0,),
        crossing=lambda t, y: y[0] + 40.4,
        reset=lambda y: np.array([-70.6, y[1] + 80.5, y[2], y[3]]),
        before=lambda y, k: y + np.array([0.0, 0.0, arrivals[k], 0.0]))
    assert len(spikes) >= 5
    results = {}
    for way in ("in the neuron", "held output"):
        net = Network(dt=dt, precision="float64", backend="c")
        source = net.add_spike_source("source", 1, steps=src_steps,
                                      neurons=np.zeros(len(src_steps), int))
        pop = net.add_population("pop", eqsnn.compile(ADEX_NET), 1)
        if way == "in the neuron":
            net.connect(source, pop, Delta(), weight=6.0, target_input="dg_e")
        else:
            net.connect(source, pop, ExpCond(5.0, 0.0), weight=6.0)
        results[way] = net.run(steps, record={"pop": ["V", "w", "spikes"]})["pop"]
    assert_matches(results["in the neuron"], ["V", "w"], 0, states[:, :2], spikes)
    held = results["held output"].spikes.step
    assert len(held) != len(spikes) or np.count_nonzero(held != spikes) > len(spikes) // 2


UNITS_NEURON = """
neuron LeakyUnits
    param tau = 10 ms
    state V = 0 mV
    input drive = 0 {unit}
    dV/dt = (-V + SCALE * drive) / tau
"""


@pytest.mark.parametrize("unit, scale", [("uV", "1"), ("nS", "1 [mV/nS]"), ("pA", "1 MOhm")])
def test_a_synapse_without_units_into_an_input_in_another_unit_than_the_internal_is_refused(
        unit, scale):
    """A synapse model without units delivers numbers in the internal unit of the input's
    dimension (uS for a conductance): a Delta synapse of weight 6 into an input declared in
    nS gave 6 uS, a thousand times what a reader of the model expects, silently."""
    text = UNITS_NEURON.format(unit=unit).replace("SCALE", scale)
    net = Network(dt=0.1, precision="float64")
    net.add_spike_source("source", 1, steps=[0], neurons=[0])
    net.add_population("pop", eqsnn.compile(text), 1)
    for synapse in (Delta(), ExpCond(5.0, 0.0)):
        with pytest.raises(eqsnn.EqsnnError, match=rf"input 'drive' of LeakyUnits is in "
                           rf"{unit}, .* has no units") as caught:
            net.connect("source", "pop", synapse, target_input="drive")
        assert "declare the input in" in caught.value.hint
    assert not net.connections


def test_a_synapse_without_units_into_an_input_in_the_internal_unit_is_taken():
    net = Network(dt=0.1, precision="float64")
    net.add_spike_source("source", 1, steps=[0], neurons=[0])
    net.add_population("pop", eqsnn.compile(UNITS_NEURON.format(unit="mV").replace(
        "SCALE", "1")), 1)
    net.connect("source", "pop", Delta(), weight=2.0, target_input="drive")
    V = net.run(3, record={"pop": ["V"]})["pop"].vars["V"][:, 0, 0]
    np.testing.assert_allclose(V[1], 2.0 * -np.expm1(-0.01), rtol=1e-12)  # 2 mV for 0.1 ms


def test_a_network_result_names_the_units_of_its_states_as_a_simulator_s_does():
    jump = eqsnn.compile("""
synapse ConductanceJump
    state g = 0 nS
    on_spike: g += w
    output: g
    after: g = 0 nS
""")
    model = eqsnn.compile(ADEX_COBA.replace("PHASE", "before").replace("input n_e = 0",
                                                                        "input n_e = 0 nS")
                          .replace("w_e * n_e", "n_e"))
    net = Network(dt=0.1, precision="float64")
    net.add_spike_source("source", 1, steps=[2], neurons=[0])
    net.add_population("pop", model, 1)
    conn = net.connect("source", "pop", jump, weight=6.0, target_input="n_e")
    results = net.run(5, record={"pop": ["V", "g_e"], conn.name: ["g"]})
    result = results["pop"]
    assert result.units == {"V": "mV", "g_e": "nS"}
    assert results[conn.name].units == {"g": "nS"}
    assert result.vars["g_e"][3, 0, 0] == pytest.approx(6.0 * np.exp(-0.1 / 5.0), rel=1e-12)
    alone = eqsnn.Simulator(model, 1, dt=0.1, precision="float64").run(1, record=["V", "g_e"])
    assert dict(alone.units) == {"V": "mV", "g_e": "nS"}


# --- 2. quadratic integrate-and-fire ------------------------------------------------------

QIF_REFRACTORY = """
neuron QifRefractory
    \"\"\"Quadratic integrate-and-fire, dv/dt = (v^2 + I) / tau, whose v blows up in finite
    time; a refractory countdown both freezes v and enters the threshold.\"\"\"
    param tau = 10 ms (> 0 ms)
    param v_peak = 10.0
    param v_reset = -10.0
    param t_ref = 2 ms (>= 0 ms)
    state v = -5.0
    state rt = 0 ms
    input I = 0.0
    refractory: rt > 0
    dv/dt = (v**2 + I) / tau unless refractory
    after:
        if refractory: rt -= dt
    threshold: v >= v_peak and rt <= 0
    reset:
        v = v_reset
        rt = t_ref
"""


def qif_reference(drive, dt, steps):
    """The countdown's semantics: refractory at the step's start freezes v for the whole
    step; a crossing inside a step resets v there, and the countdown starts at the step's
    end."""
    v, rt, out, spikes = -5.0, 0.0, np.empty((steps, 2)), []

    def event(t, y, current):
        return y[0] - 10.0
    event.terminal, event.direction = True, 1

    def rhs(t, y, current):
        return [(y[0] ** 2 + current) / 10.0]
    for k in range(steps):
        spiked = False
        if rt > 0:
            rt -= dt
        else:
            t, end, y = k * dt, (k + 1) * dt, np.array([v])
            while t < end:
                sol = solve_ivp(rhs, (t, end), y, args=(drive[k],), method="DOP853",
                                rtol=1e-11, atol=1e-11, events=event)
                if sol.status == 1:
                    t, y, spiked = sol.t_events[0][0], np.array([-10.0]), True
                else:
                    t, y = end, sol.y[:, -1]
            v = y[0]
        if spiked:
            spikes.append(k)
            rt = 2.0
        out[k] = v, rt
    return out, np.array(spikes, int)


@pytest.mark.parametrize("dt", [0.1, 1.0])
def test_quadratic_if_with_a_refractory_countdown_and_a_new_input_every_step(dt):
    steps = int(round(150 / dt))
    drive = np.random.default_rng(2).uniform(0.0, 4.0, size=(steps, 3)) * [0.5, 1.0, 2.0]
    model = eqsnn.compile(QIF_REFRACTORY)
    assert "crossings located and reset inside the step" in model.reasons["adaptive"]
    sim = eqsnn.Simulator(model, 3, dt=dt, backend="c", precision="float64")
    result = sim.run(steps, inputs={"I": drive[:, None, :]}, record=["v", "rt", "spikes"])
    total = 0
    for j in range(3):
        states, spikes = qif_reference(drive[:, j], dt, steps)
        total += assert_matches(result, ["v", "rt"], j, states, spikes)
    assert total >= 10


IZHIKEVICH_2007 = """
neuron Izhikevich2007
    \"\"\"Izhikevich (2007) regular-spiking cell in physical units.\"\"\"
    param C = 100 pF (> 0 pF)
    param k = 0.7 [nS/mV]
    param v_r = -60 mV
    param v_t = -40 mV
    param v_peak = 35 mV
    param a = 0.03 [1/ms]
    param b = -2 nS
    param c = -50 mV
    param d = 100 pA
    state v = v_r
    state u = 0 pA
    input I = 0 pA
    dv/dt = (k * (v - v_r) * (v - v_t) - u + I) / C
    du/dt = a * (b * (v - v_r) - u)
    threshold: v >= v_peak
    reset:
        v = c
        u += d
"""


def izhikevich_2007_rhs(t, y, current):
    v, u = y
    return [(0.7 * (v + 60.0) * (v + 40.0) - u + current) / 100.0,
            0.03 * (-2.0 * (v + 60.0) - u)]


@pytest.mark.parametrize("dt", [0.1, 1.0])
def test_izhikevich_2007_in_physical_units_with_a_noisy_current(dt):
    steps = int(round(200 / dt))
    current = np.random.default_rng(3).normal(1.0, 0.3, size=(steps, 2)) * [100.0, 200.0]
    sim = eqsnn.Simulator(eqsnn.compile(IZHIKEVICH_2007), 2, dt=dt, backend="c",
                          precision="float64")
    result = sim.run(steps, inputs={"I": current[:, None, :]}, record=["v", "u", "spikes"])
    assert result.units == {"v": "mV", "u": "pA"}
    total = 0
    for j in range(2):
        states, spikes = stepwise_reference(
            izhikevich_2007_rhs, [-60.0, 0.0], steps, dt, lambda k, j=j: (current[k, j],),
            crossing=lambda t, y: y[0] - 35.0, reset=lambda y: np.array([-50.0, y[1] + 100.0]))
        total += assert_matches(result, ["v", "u"], j, states, spikes)
    assert total >= 8


# --- 3. conductance models without a reset ------------------------------------------------

MORRIS_LECAR = """
neuron MorrisLecar
    \"\"\"Morris-Lecar, Rinzel & Ermentrout's parameters; a spike is an upward crossing of
    v_th (no reset).\"\"\"
    param C = 20 [uF/cm**2]
    param g_L = 2 [mS/cm**2]
    param g_Ca = 4.4 [mS/cm**2]
    param g_K = 8 [mS/cm**2]
    param E_L = -60 mV
    param E_Ca = 120 mV
    param E_K = -84 mV
    param V1 = -1.2 mV
    param V2 = 18 mV
    param V3 = 2 mV
    param V4 = 30 mV
    param phi = 0.04 [1/ms]
    param v_th = 0 mV
    state V = -60 mV
    state w = 0.0
    input I = 90 [uA/cm**2]
    let m_inf = 0.5 * (1 + tanh((V - V1) / V2))
    let w_inf = 0.5 * (1 + tanh((V - V3) / V4))
    let x = (V - V3) / (2 * V4)
    let cosh_x = (exp(x) + exp(-x)) / 2
    dV/dt = (I - g_L * (V - E_L) - g_Ca * m_inf * (V - E_Ca) - g_K * w * (V - E_K)) / C
    dw/dt = phi * (w_inf - w) * cosh_x
    refractory: V > v_th
    threshold: V > v_th and not refractory
"""


def morris_lecar_rhs(t, y, current):
    V, w = y
    m_inf = 0.5 * (1 + np.tanh((V + 1.2) / 18.0))
    w_inf = 0.5 * (1 + np.tanh((V - 2.0) / 30.0))
    return [(current - 2.0 * (V + 60.0) - 4.4 * m_inf * (V - 120.0) - 8.0 * w * (V + 84.0))
            / 20.0, 0.04 * (w_inf - w) * np.cosh((V - 2.0) / 60.0)]


@pytest.mark.parametrize("dt", [0.1, 1.0])
def test_morris_lecar_spikes_as_upward_crossings_without_a_reset(dt):
    steps = int(round(400 / dt))
    currents = np.array([85.0, 95.0, 110.0])
    model = eqsnn.compile(MORRIS_LECAR)
    assert model.method == "adaptive"  # m_inf(V) makes dV/dt nonlinear in V
    assert "spikes on the step grid: the model has no reset" in model.reasons["adaptive"]
    sim = eqsnn.Simulator(model, 3, dt=dt, backend="c", precision="float64")
    result = sim.run(steps, inputs={"I": currents}, record=["V", "w", "spikes"])
    assert result.units["V"] == "mV"
    grid = np.arange(1, steps + 1) * dt
    total = 0
    for j, current in enumerate(currents):
        states = solve_ivp(morris_lecar_rhs, (0, grid[-1]), [-60.0, 0.0], args=(current,),
                           method="DOP853", rtol=1e-11, atol=1e-11, t_eval=grid).y.T
        total += assert_matches(result, ["V", "w"], j, states,
                                upward_steps(states[:, 0], 0.0, -60.0))
    assert total >= 10


def _rate(x):
    """x / (1 - exp(-x)), the form the rates are written in (1 at x = 0)."""
    return 1.0 if x == 0 else x / -np.expm1(-x)


WANG_BUZSAKI = """
neuron WangBuzsaki
    \"\"\"Wang & Buzsaki (1996) interneuron: its sodium activation is instantaneous.\"\"\"
    param C = 1 [uF/cm**2]
    param g_Na = 35 [mS/cm**2]
    param g_K = 9 [mS/cm**2]
    param g_L = 0.1 [mS/cm**2]
    param E_Na = 55 mV
    param E_K = -90 mV
    param E_L = -65 mV
    param phi = 5.0
    param v_th = -20 mV
    state V = -64 mV
    state h = 0.78
    state n = 0.09
    input I = 1 [uA/cm**2]
    let alpha_m = 1 [1/ms] / exprel(-(V + 35 mV) / 10 mV)
    let beta_m = 4 [1/ms] * exp(-(V + 60 mV) / 18 mV)
    let m_inf = alpha_m / (alpha_m + beta_m)
    let alpha_h = 0.07 [1/ms] * exp(-(V + 58 mV) / 20 mV)
    let beta_h = 1 [1/ms] / (exp(-(V + 28 mV) / 10 mV) + 1)
    let alpha_n = 0.1 [1/ms] / exprel(-(V + 34 mV) / 10 mV)
    let beta_n = 0.125 [1/ms] * exp(-(V + 44 mV) / 80 mV)
    let I_ion = g_Na * m_inf**3 * h * (V - E_Na) + g_K * n**4 * (V - E_K) + g_L * (V - E_L)
    dV/dt = (I - I_ion) / C
    dh/dt = phi * (alpha_h * (1 - h) - beta_h * h)
    dn/dt = phi * (alpha_n * (1 - n) - beta_n * n)
    refractory: V > v_th
    threshold: V > v_th and not refractory
"""


def wang_buzsaki_rhs(t, y, current):
    V, h, n = y
    alpha_m, beta_m = _rate((V + 35) / 10), 4 * np.exp(-(V + 60) / 18)
    m = alpha_m / (alpha_m + beta_m)
    alpha_h, beta_h = 0.07 * np.exp(-(V + 58) / 20), 1 / (np.exp(-(V + 28) / 10) + 1)
    alpha_n, beta_n = 0.1 * _rate((V + 34) / 10), 0.125 * np.exp(-(V + 44) / 80)
    return [current - 35 * m**3 * h * (V - 55) - 9 * n**4 * (V + 90) - 0.1 * (V + 65),
            5 * (alpha_h * (1 - h) - beta_h * h), 5 * (alpha_n * (1 - n) - beta_n * n)]


@pytest.mark.parametrize("dt", [0.01, 0.1])
def test_wang_buzsaki_gets_the_adaptive_method_and_matches_solve_ivp(dt):
    steps = int(round(100 / dt))
    currents = np.array([0.5, 1.5, 5.0])
    model = eqsnn.compile(WANG_BUZSAKI)
    # m_inf(V)^3 (V - E_Na) is not linear in V: not conditionally linear, so adaptive
    assert model.method == "adaptive"
    sim = eqsnn.Simulator(model, 3, dt=dt, backend="c", precision="float64")
    result = sim.run(steps, inputs={"I": currents}, record=["V", "h", "n", "spikes"])
    grid = np.arange(1, steps + 1) * dt
    total = 0
    for j, current in enumerate(currents):
        states = solve_ivp(wang_buzsaki_rhs, (0, grid[-1]), [-64.0, 0.78, 0.09],
                           args=(current,), method="DOP853", rtol=1e-11, atol=1e-11,
                           t_eval=grid).y.T
        total += assert_matches(result, ["V", "h", "n"], j, states,
                                upward_steps(states[:, 0], -20.0, -64.0))
    assert total >= 20


def test_a_spike_narrower_than_the_step_falls_between_the_grid_s_step_ends():
    """The upward-crossing idiom tests the level at the step ends: at dt = 1 ms most of a
    fast-firing Wang-Buzsaki cell's spikes (under 1 ms above -20 mV) are missed, though
    its states at the step ends are right (``docs/language.md``)."""
    dt, steps, current = 1.0, 200, 5.0
    result = eqsnn.Simulator(eqsnn.compile(WANG_BUZSAKI), 1, dt=dt, backend="c",
                             precision="float64").run(steps, inputs={"I": current},
                                                      record=["V", "h", "n", "spikes"])
    grid = np.arange(1, steps + 1) * dt
    fine = solve_ivp(wang_buzsaki_rhs, (0, grid[-1]), [-64.0, 0.78, 0.09], args=(current,),
                     method="DOP853", rtol=1e-11, atol=1e-11, dense_output=True)
    states = fine.sol(grid).T
    for k, name in enumerate(["V", "h", "n"]):
        error = np.abs(result.vars[name][:, 0, 0] - states[:, k]).max() / np.ptp(states[:, k])
        assert error <= 1e-4, (name, error)
    t = np.arange(0, grid[-1], 0.001)
    true_spikes = len(upward_steps(fine.sol(t)[0], -20.0, -64.0))
    assert true_spikes >= 30 and len(result.spikes) < 0.8 * true_spikes


TRAUB_MILES = """
neuron TraubMiles
    \"\"\"Traub-Miles pyramidal cell (Ermentrout & Kopell's reduction): gated sodium
    activation, so every equation is linear in its own state.\"\"\"
    param C = 1 [uF/cm**2]
    param g_Na = 100 [mS/cm**2]
    param g_K = 80 [mS/cm**2]
    param g_L = 0.1 [mS/cm**2]
    param E_Na = 50 mV
    param E_K = -100 mV
    param E_L = -67 mV
    param v_th = -20 mV
    state V = -67 mV
    state m = 0.01
    state h = 0.99
    state n = 0.04
    input I = 1 [uA/cm**2]
    let alpha_m = 1.28 [1/ms] / exprel(-(V + 54 mV) / 4 mV)
    let beta_m = 1.4 [1/ms] / exprel((V + 27 mV) / 5 mV)
    let alpha_h = 0.128 [1/ms] * exp(-(V + 50 mV) / 18 mV)
    let beta_h = 4 [1/ms] / (1 + exp(-(V + 27 mV) / 5 mV))
    let alpha_n = 0.16 [1/ms] / exprel(-(V + 52 mV) / 5 mV)
    let beta_n = 0.5 [1/ms] * exp(-(V + 57 mV) / 40 mV)
    let I_ion = g_Na * m**3 * h * (V - E_Na) + g_K * n**4 * (V - E_K) + g_L * (V - E_L)
    dV/dt = (I - I_ion) / C
    dm/dt = alpha_m * (1 - m) - beta_m * m
    dh/dt = alpha_h * (1 - h) - beta_h * h
    dn/dt = alpha_n * (1 - n) - beta_n * n
    refractory: V > v_th
    threshold: V > v_th and not refractory
"""


def traub_miles_rhs(t, y, current):
    V, m, h, n = y
    alpha_m, beta_m = 1.28 * _rate((V + 54) / 4), 1.4 * _rate(-(V + 27) / 5)
    alpha_h, beta_h = 0.128 * np.exp(-(V + 50) / 18), 4 / (1 + np.exp(-(V + 27) / 5))
    alpha_n, beta_n = 0.16 * _rate((V + 52) / 5), 0.5 * np.exp(-(V + 57) / 40)
    return [current - 100 * m**3 * h * (V - 50) - 80 * n**4 * (V + 100) - 0.1 * (V + 67),
            alpha_m * (1 - m) - beta_m * m, alpha_h * (1 - h) - beta_h * h,
            alpha_n * (1 - n) - beta_n * n]


def test_traub_miles_default_is_first_order_and_the_adaptive_method_matches_solve_ivp():
    """Conditionally linear: the default is exponential Euler (first order, as the docs
    say), whose spikes drift by steps at dt = 0.1 ms; ``method: adaptive`` is right."""
    dt, steps, currents = 0.1, 1000, np.array([1.5, 5.0])
    grid = np.arange(1, steps + 1) * dt
    references = [solve_ivp(traub_miles_rhs, (0, grid[-1]), [-67.0, 0.01, 0.99, 0.04],
                            args=(current,), method="DOP853", rtol=1e-11, atol=1e-11,
                            t_eval=grid).y.T for current in currents]
    default = eqsnn.compile(TRAUB_MILES)
    assert default.method == "exponential_euler"
    assert "first order" in default.reasons["exponential_euler"]
    named = eqsnn.compile(TRAUB_MILES + "    method: adaptive\n")
    runs = {model.method: eqsnn.Simulator(model, 2, dt=dt, backend="c", precision="float64")
            .run(steps, inputs={"I": currents}, record=["V", "m", "h", "n", "spikes"])
            for model in (default, named)}
    total = 0
    for j, states in enumerate(references):
        spikes = upward_steps(states[:, 0], -20.0, -67.0)
        total += assert_matches(runs["adaptive"], ["V", "m", "h", "n"], j, states, spikes)
        drifted = runs["exponential_euler"].spikes.step[runs["exponential_euler"].spikes.neuron
                                                          == j]
        assert len(drifted) != len(spikes) or np.abs(drifted - spikes).max() >= 10
    assert total >= 10


# --- 4. FitzHugh-Nagumo: a threshold without a reset --------------------------------------

FITZHUGH_NAGUMO = """
neuron FitzHughNagumo
    \"\"\"FitzHugh-Nagumo in its usual dimensionless form, time in ms.\"\"\"
    param a = 0.7
    param b = 0.8
    param tau_w = 12.5 ms (> 0 ms)
    param tau_v = 1 ms (> 0 ms)
    param v_th = 1.0
    state v = -1.2
    state w = -0.6
    input I = 0.5
    dv/dt = (v - v**3 / 3 - w + I) / tau_v
    dw/dt = (v + a - b * w) / tau_w
    refractory: v > v_th
    threshold: v > v_th and not refractory
"""


def fitzhugh_nagumo_rhs(t, y, current):
    v, w = y
    return [v - v**3 / 3 - w + current, (v + 0.7 - 0.8 * w) / 12.5]


@pytest.mark.parametrize("dt, precision", [(0.1, "float64"), (1.0, "float64"),
                                           (1.0, "float32")])
def test_fitzhugh_nagumo_with_a_noisy_drive_spikes_at_each_upward_crossing(dt, precision):
    steps = int(round(200 / dt))
    drive = np.clip(np.random.default_rng(4).normal(1.0, 0.2, size=(steps, 2)), 0, None)
    drive *= [0.5, 1.0]
    sim = eqsnn.Simulator(eqsnn.compile(FITZHUGH_NAGUMO), 2, dt=dt, backend="c",
                          precision=precision)
    result = sim.run(steps, inputs={"I": drive[:, None, :]}, record=["v", "w", "spikes"])
    total = 0
    for j in range(2):
        states, _ = stepwise_reference(fitzhugh_nagumo_rhs, [-1.2, -0.6], steps, dt,
                                       lambda k, j=j: (drive[k, j],))
        spikes = upward_steps(states[:, 0], 1.0, -1.2)
        # float32 runs with rtol 1e-4: its states are a few 1e-3 of their range off
        total += assert_matches(result, ["v", "w"], j, states, spikes,
                                tolerance=1e-4 if precision == "float64" else 0.05)
    assert total >= 8


# --- what a careless user meets -----------------------------------------------------------

QIF_BARE = """
neuron Qif
    param tau = 10.0
    state v = -5.0
    input I = 3.0
    dv/dt = (v * v + I) / tau
    THRESHOLD
    reset:
        v = V_RESET
"""


def test_a_threshold_that_reads_t_holds_its_bound_over_the_step():
    """``t`` is the step's start, in the threshold too: a crossing inside the step is
    located against the bound at the step's start, held over the step as an input is
    (Brian2 tests its thresholds with the step's start time as well); where the state is
    already above the bound at the step's start, the spike is there (offset 0)."""
    text = QIF_BARE.replace("THRESHOLD", "threshold: v >= 10 + 5 * sin(t / 3)").replace(
        "V_RESET", "-5.0")
    for dt, span in ((0.1, 40), (1.0, 150)):
        steps = int(round(span / dt))
        result = eqsnn.Simulator(eqsnn.compile(text), 1, dt=dt, backend="c",
                                 precision="float64").run(steps, record=["v", "spikes"])
        y, out, spikes = np.array([-5.0]), np.empty((steps, 1)), []
        for k in range(steps):
            bound, t, end, spiked = 10 + 5 * np.sin(k * dt / 3), k * dt, (k + 1) * dt, False
            if y[0] >= bound:
                y, spiked = np.array([-5.0]), True

            def event(t, y, bound=bound):
                return y[0] - bound
            event.terminal, event.direction = True, 1
            while t < end:
                sol = solve_ivp(lambda t, y: [(y[0] ** 2 + 3.0) / 10.0], (t, end), y,
                                method="DOP853", rtol=1e-11, atol=1e-11, events=event)
                if sol.status == 1:
                    t, y, spiked = sol.t_events[0][0], np.array([-5.0]), True
                else:
                    t, y = end, sol.y[:, -1]
            if spiked:
                spikes.append(k)
            out[k] = y
        assert len(spikes) >= span // 20
        assert_matches(result, ["v"], 0, out, np.array(spikes))


def test_a_reset_at_or_above_the_threshold_fires_every_step_and_says_why():
    text = QIF_BARE.replace("THRESHOLD", "threshold: v >= 10").replace("V_RESET", "11.0")
    sim = eqsnn.Simulator(eqsnn.compile(text), 1, dt=0.1, backend="c", precision="float64")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", eqsnn.EqsnnWarning)
        result = sim.run(170, record=["spikes"])
    assert any("a reset value at or beyond the threshold" in str(w.message) for w in caught)
    first = result.spikes.step[0]  # the first crossing, at about 15 ms
    np.testing.assert_array_equal(result.spikes.step, np.arange(first, 170))


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_a_threshold_the_blow_up_passes_is_a_numerical_error_not_a_quiet_run(backend):
    """AdEx's exponential runs away in finite time; a threshold above it (1000 mV, a slip
    of the unit) can never catch it."""
    text = ADEX_COBA.replace("PHASE", "before").replace("threshold: V > Vcut",
                                                        "threshold: V > 1000 mV")
    sim = eqsnn.Simulator(eqsnn.compile(text), 3, dt=0.1, backend=backend,
                          precision="float64")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", eqsnn.EqsnnWarning)  # the bound of substeps
        with pytest.raises(NumericalError, match="V became NaN or infinite") as caught:
            sim.run(400, inputs={"I": ADEX_CURRENTS})
    assert "runaway that the threshold does not catch" in caught.value.hint


def test_a_huge_current_crosses_many_times_a_step_and_is_reported():
    sim = eqsnn.Simulator(eqsnn.compile(ADEX_COBA.replace("PHASE", "before")), 1, dt=0.1,
                          precision="float64")
    with pytest.warns(eqsnn.EqsnnWarning) as caught:
        with pytest.raises(NumericalError):
            sim.run(5, inputs={"I": 1e9})
    messages = " ".join(str(w.message) for w in caught)
    assert "second threshold crossing(s) inside a step" in messages
    assert "reached its bound of 1000 substeps" in messages
