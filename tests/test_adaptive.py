"""The adaptive default for nonlinear models against scipy's solve_ivp with event location.

The reference integrates the same equations with DOP853 at rtol = atol = 1e-11,
stops at each upward crossing of the threshold (an event), applies the reset
there and goes on; inputs are held over each step, as eqsnn holds them.  The
goals (float64, 400 ms at dt = 0.1 and 1.0 ms): equal spike counts, every
spike in the same step as the reference's crossing (at most one miss per 100
spikes), and the state at every step's end within 1e-4 of the reference,
relative to the state's range over the run, except in a step where one of the
two spikes and the other does not.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import eqsnn
from eqsnn.pipeline import EqsnnWarning

pytestmark = pytest.mark.c  # the long runs use the c backend (numpy is compared on short ones)

# Brette & Gerstner (2005), V_cut = V_T + 5 Delta_T; V in mV, w and I in pA, t in ms
ADEX = """
neuron AdEx
    param c_mem = 281.0
    param g_leak = 30.0
    param e_leak = -70.6
    param v_t = -50.4
    param delta_t = 2.0
    param tau_w = 144.0
    param a = 4.0
    param b = 80.5
    param v_reset = -70.6
    param v_peak = -40.4
    state V = -70.6
    state w = 0.0
    input I = 0.0
    dV/dt = (g_leak * (e_leak - V) + g_leak * delta_t * exp((V - v_t) / delta_t) - w + I) / c_mem
    dw/dt = (a * (V - e_leak) - w) / tau_w
    threshold: V >= v_peak
    reset:
        V = v_reset
        w += b
"""
ADEX_P = dict(c_mem=281.0, g_leak=30.0, e_leak=-70.6, v_t=-50.4, delta_t=2.0, tau_w=144.0,
              a=4.0, b=80.5, v_reset=-70.6, v_peak=-40.4)
ADEX_I = np.array([300.0, 600.0, 900.0, 1200.0, 1500.0])  # pA: 0.3 to 1.5 nA


def adex_rhs(t, y, I):
    V, w = y
    p = ADEX_P
    return [(p["g_leak"] * (p["e_leak"] - V)
             + p["g_leak"] * p["delta_t"] * np.exp((V - p["v_t"]) / p["delta_t"]) - w + I)
            / p["c_mem"], (p["a"] * (V - p["e_leak"]) - w) / p["tau_w"]]


# Izhikevich (2003): regular spiking, intrinsically bursting, chattering, fast spiking
IZHIKEVICH = """
neuron Izhikevich
    param a = 0.02
    param b = 0.2
    param c = -65.0
    param d = 8.0
    param v_peak = 30.0
    state v = -65.0
    state u = b * -65.0
    input I = 10.0
    dv/dt = 0.04 * v**2 + 5 * v + 140 - u + I
    du/dt = a * (b * v - u)
    threshold: v >= v_peak
    reset:
        v = c
        u += d
"""
IZHIKEVICH_SETS = {  # a, b, c, d
    "RS": (0.02, 0.2, -65.0, 8.0), "IB": (0.02, 0.2, -55.0, 4.0),
    "CH": (0.02, 0.2, -50.0, 2.0), "FS": (0.1, 0.2, -65.0, 2.0),
}

# a model of our own: quadratic integrate-and-fire with adaptation, a decaying
# conductance towards a reversal potential and a drive that varies in time
QUADRATIC = """
neuron QuadraticAdapting
    param tau_m = 10.0
    param tau_w = 80.0
    param tau_g = 30.0
    param e_syn = 5.0
    param b = 1.5
    param v_peak = 10.0
    param v_reset = -3.0
    state v = -2.0
    state w = 0.0
    state g = 0.4
    input I = 1.0
    dv/dt = (v * v + I * (1 + 0.5 * sin(t / 15)) - w + g * (e_syn - v)) / tau_m
    dw/dt = -w / tau_w
    dg/dt = -g / tau_g
    threshold: v >= v_peak
    reset:
        v = v_reset
        w += b
"""
QUADRATIC_I = np.array([0.5, 1.5, 3.0])


def quadratic_rhs(t, y, I):
    v, w, g = y
    return [(v * v + I * (1 + 0.5 * np.sin(t / 15)) - w + g * (5.0 - v)) / 10.0,
            -w / 80.0, -g / 30.0]


def reference(rhs, y0, args, threshold, reset, dt, steps):
    """``(states at each step's end (steps, k), spike times)`` with events and resets."""
    grid = np.arange(1, steps + 1) * dt
    out = np.empty((steps, len(y0)))
    spikes = []
    t, y, end = 0.0, np.array(y0, float), steps * dt

    def event(t, y, *args):
        return y[0] - threshold
    event.terminal, event.direction = True, 1
    while t < end:
        sol = solve_ivp(rhs, (t, end), y, args=args, method="DOP853", rtol=1e-11, atol=1e-11,
                        events=event, dense_output=True)
        reached = sol.t[-1]
        at = (grid > t) & (grid <= reached)
        out[at] = sol.sol(grid[at]).T
        if sol.status == 1:
            t = sol.t_events[0][0]
            spikes.append(t)
            y = reset(sol.y_events[0][0].copy())
            out[np.isclose(grid, t, rtol=0, atol=1e-12)] = y
        else:
            t = reached
    return out, np.array(spikes)


def compare(result, names, j, ref_states, ref_spikes, dt, steps):
    """Assert the goals for neuron ``j``; return (spikes, misses, worst relative error)."""
    mine = result.spikes.step[result.spikes.neuron == j]
    ref_steps = np.floor(ref_spikes / dt + 1e-9).astype(int)
    assert len(mine) == len(ref_steps), (j, mine, ref_steps)
    misses = int(np.count_nonzero(mine != ref_steps))
    assert misses <= len(mine) // 100, (j, mine[mine != ref_steps], ref_steps[mine != ref_steps])
    same = np.ones(steps, bool)
    same[mine[mine != ref_steps]] = same[ref_steps[mine != ref_steps]] = False
    worst = 0.0
    for k, name in enumerate(names):
        ours = result.vars[name][:, 0, j]
        error = np.abs(ours - ref_states[:, k])[same] / np.ptp(ref_states[:, k])
        worst = max(worst, float(error.max()))
    assert worst <= 1e-4, (j, worst)
    return len(mine), misses, worst


@pytest.mark.parametrize("dt", [0.1, 1.0])
def test_adex_matches_solve_ivp_with_events(dt):
    steps = int(round(400 / dt))
    model = eqsnn.compile(ADEX)
    assert model.method == "adaptive"
    sim = eqsnn.Simulator(model, len(ADEX_I), dt=dt, backend="c", precision="float64")
    result = sim.run(steps, inputs={"I": ADEX_I}, record=["V", "w", "spikes"])
    total = 0
    for j, current in enumerate(ADEX_I):
        states, spikes = reference(
            adex_rhs, [-70.6, 0.0], (current,), ADEX_P["v_peak"],
            lambda y: np.array([ADEX_P["v_reset"], y[1] + ADEX_P["b"]]), dt, steps)
        total += compare(result, ("V", "w"), j, states, spikes, dt, steps)[0]
    assert total > 40  # the comparison is about spikes: there are plenty


@pytest.mark.parametrize("dt", [0.1, 1.0])
def test_izhikevich_rs_ib_ch_fs_match_solve_ivp_with_events(dt):
    steps = int(round(400 / dt))
    sets = np.array(list(IZHIKEVICH_SETS.values()))
    model = eqsnn.compile(IZHIKEVICH)
    sim = eqsnn.Simulator(model, len(sets), dt=dt, backend="c", precision="float64",
                          params=dict(zip("abcd", sets.T)))
    result = sim.run(steps, record=["v", "u", "spikes"])
    for j, (a, b, c, d) in enumerate(sets):
        def rhs(t, y, a=a, b=b):
            v, u = y
            return [0.04 * v * v + 5 * v + 140 - u + 10.0, a * (b * v - u)]
        states, spikes = reference(rhs, [-65.0, b * -65.0], (), 30.0,
                                   lambda y, c=c, d=d: np.array([c, y[1] + d]), dt, steps)
        count = compare(result, ("v", "u"), j, states, spikes, dt, steps)[0]
        assert count >= 5


@pytest.mark.parametrize("dt", [0.1, 1.0])
def test_own_quadratic_model_with_a_time_varying_drive_matches_solve_ivp(dt):
    steps = int(round(400 / dt))
    sim = eqsnn.Simulator(eqsnn.compile(QUADRATIC), len(QUADRATIC_I), dt=dt, backend="c",
                          precision="float64")
    result = sim.run(steps, inputs={"I": QUADRATIC_I}, record=["v", "w", "g", "spikes"])
    total = 0
    for j, current in enumerate(QUADRATIC_I):
        states, spikes = reference(quadratic_rhs, [-2.0, 0.0, 0.4], (current,), 10.0,
                                   lambda y: np.array([-3.0, y[1] + 1.5, y[2]]), dt, steps)
        total += compare(result, ("v", "w", "g"), j, states, spikes, dt, steps)[0]
    assert total >= 15


@pytest.mark.parametrize("dt", [0.1, 1.0])
def test_numpy_and_c_run_the_same_algorithm(dt):
    model = eqsnn.compile(ADEX)
    steps = int(round(60 / dt))  # a few spikes per neuron, short enough for numpy
    runs = {}
    for backend in ("numpy", "c"):
        sim = eqsnn.Simulator(model, len(ADEX_I), dt=dt, backend=backend, precision="float64")
        runs[backend] = sim.run(steps, inputs={"I": ADEX_I}, record=["V", "w", "spikes"])
    numpy_run, c_run = runs["numpy"], runs["c"]
    assert len(numpy_run.spikes) >= 8
    np.testing.assert_array_equal(numpy_run.spikes.step, c_run.spikes.step)
    np.testing.assert_array_equal(numpy_run.spikes.neuron, c_run.spikes.neuron)
    for name in ("V", "w"):
        np.testing.assert_allclose(numpy_run.vars[name], c_run.vars[name], rtol=1e-9,
                                   atol=1e-9)


def test_fixed_step_methods_at_one_millisecond_put_most_spikes_in_other_steps():
    """What the default buys: RK4 and forward Euler, resetting on the grid, drift."""
    dt, steps = 1.0, 400
    references = [np.floor(reference(adex_rhs, [-70.6, 0.0], (current,), -40.4,
                                     lambda y: np.array([-70.6, y[1] + 80.5]), dt, steps)[1]
                           / dt).astype(int) for current in ADEX_I]
    total = sum(len(r) for r in references)
    same = {}
    for method in ("adaptive", "rk4", "euler"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EqsnnWarning)
            model = eqsnn.compile(ADEX + f"    method: {method}\n")
        sim = eqsnn.Simulator(model, len(ADEX_I), dt=dt, backend="c", precision="float64",
                              check=False)
        spikes = sim.run(steps, inputs={"I": ADEX_I}, record=["spikes"]).spikes
        same[method] = sum(len(np.intersect1d(spikes.step[spikes.neuron == j], r))
                           for j, r in enumerate(references))
    assert same["adaptive"] == total > 50
    assert same["rk4"] < total / 2 and same["euler"] < total / 2


QIF = """
neuron FastQuadratic
    param v_peak = 5.0
    state v = -5.0
    input I = 100.0
    dv/dt = v * v + I
    threshold: v >= v_peak
    reset: v = -5.0
"""


def test_second_crossings_in_a_step_are_reset_counted_and_reported():
    """A period of ~0.14 ms at dt = 1 ms: several crossings per step, one spike per step."""
    sim = eqsnn.Simulator(eqsnn.compile(QIF), 2, dt=1.0, backend="numpy", precision="float64")
    with pytest.warns(EqsnnWarning, match=r"second threshold crossing\(s\) inside a step"):
        result = sim.run(5, record=["v", "spikes"])
    assert len(result.spikes) == 10  # one per neuron and step
    assert np.all(result.vars["v"] < 5.0)  # every crossing was reset
    with warnings.catch_warnings():
        warnings.simplefilter("error", EqsnnWarning)
        sim_small = eqsnn.Simulator(eqsnn.compile(QIF), 1, dt=0.05, precision="float64")
        assert len(sim_small.run(20, record=["spikes"]).spikes) >= 5  # no warning


def test_refractoriness_freezes_the_equation_and_starts_at_the_next_step():
    text = ADEX.replace("    state V = -70.6\n", "    param tau_refrac = 2.0\n    state V = -70.6\n"
                        "    state refrac_left = 0.0\n").replace(
        "    dw/dt", "    refractory: refrac_left > 0\n    dw/dt").replace(
        "exp((V - v_t) / delta_t) - w + I) / c_mem",
        "exp((V - v_t) / delta_t) - w + I) / c_mem unless refractory").replace(
        "        w += b\n", "        w += b\n        refrac_left = tau_refrac\n"
    ) + "    after:\n        if refractory: refrac_left -= dt\n"
    model = eqsnn.compile(text)
    assert model.method == "adaptive"
    sim = eqsnn.Simulator(model, 1, dt=0.1, backend="c", precision="float64")
    result = sim.run(600, inputs={"I": 1500.0}, record=["V", "spikes"])
    V, spikes = result.vars["V"][:, 0, 0], result.spikes.step
    assert len(spikes) >= 3
    for s in spikes[:-1]:
        # integrated on after the crossing inside the spike step, then frozen for 2 ms
        assert V[s] > -70.6 and np.all(V[s + 1:s + 20] == V[s])
        assert V[s + 21] != V[s]


def test_float32_runs_with_its_own_tolerances_and_spikes_like_float64():
    model = eqsnn.compile(ADEX)
    counts = {}
    for precision in ("float32", "float64"):
        sim = eqsnn.Simulator(model, len(ADEX_I), dt=1.0, backend="c", precision=precision)
        counts[precision] = sim.run(400, inputs={"I": ADEX_I}, record=["spikes"]).spikes.counts()
    assert np.abs(counts["float32"] - counts["float64"]).max() <= 1
    sim = eqsnn.Simulator(model, 1, precision="float32")
    assert sim._params["_rtol"] == 1e-4  # float32 cannot resolve 1e-8


def test_fixed_substeps_are_the_method_at_a_smaller_step():
    text = """
neuron Decay
    state x = 1.0
    input I = 0.5
    dx/dt = -x * x * x + I * sin(t)
"""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EqsnnWarning)
        four = eqsnn.compile(text + "    method: rk4\n    substeps: 4\n")
        plain = eqsnn.compile(text + "    method: rk4\n")
    assert "in 4 substeps per step" in four.reasons["rk4"]
    coarse = eqsnn.Simulator(four, 1, dt=0.4, precision="float64")
    fine = eqsnn.Simulator(plain, 1, dt=0.1, precision="float64")
    x4 = coarse.run(25, record=["x"]).vars["x"][:, 0, 0]
    x1 = fine.run(100, record=["x"]).vars["x"][3::4, 0, 0]
    np.testing.assert_allclose(x4, x1, rtol=1e-12)


@pytest.mark.parametrize("line, message", [
    ("method: adaptive(rtol=2)", "rtol must be in (0, 1), not 2"),
    ("method: adaptive(rtl=1e-6)", "unknown option 'rtl' of method adaptive"),
    ("method: adaptive(max_substeps=0.5)", "max_substeps must be an integer"),
    # 1e400 is inf: int() of it was an internal error
    ("method: adaptive(max_substeps=1e400)",
     "max_substeps must be an integer from 1 to 100000, not inf"),
    ("method: rk4(rtol=1e-6)", "unknown option 'rtol' of method rk4"),
    ("substeps: 0", "substeps must be an integer from 1 to 64, not 0"),
    ("method: adaptive\n    substeps: 4", "the adaptive method chooses its own substeps"),
])
def test_bad_method_options_are_reported_at_their_place(line, message):
    with pytest.raises(eqsnn.EqsnnError, match=re.escape(message)) as caught:
        eqsnn.compile(ADEX + f"    {line}\n")
    assert caught.value.line is not None and caught.value.hint


def test_adaptive_with_noise_is_refused_with_the_reason():
    with pytest.raises(eqsnn.EqsnnError, match="white noise"):
        eqsnn.compile(ADEX.replace("- w + I) / c_mem", "- w + I) / c_mem + xi")
                      + "    method: adaptive\n")


def test_show_explains_the_adaptive_step():
    text = str(eqsnn.compile(ADEX))
    assert "method: adaptive" in text and "while _ad_tau < dt" in text
    grid = eqsnn.compile(ADEX.replace("threshold: V >= v_peak",
                                      "threshold: V >= v_peak or w > 1e6"))
    assert ("spikes on the step grid: the threshold is not one comparison"
            in grid.reasons["adaptive"])


def test_named_exponential_euler_freezes_the_nonlinear_part_as_brian2_does():
    """Against a NumPy transcription of Brian2's update, x' = -B/A + (x + B/A) e^{A dt}."""
    model = eqsnn.compile(ADEX + "    method: exponential_euler\n")
    assert model.method == "exponential_euler"
    assert "nonlinear part B of each dx/dt = A x + B is frozen" in str(model)
    dt, steps = 0.1, 300
    sim = eqsnn.Simulator(model, len(ADEX_I), dt=dt, precision="float64")
    result = sim.run(steps, inputs={"I": ADEX_I}, record=["V", "w", "spikes"])
    p = ADEX_P
    V, w = np.full(len(ADEX_I), -70.6), np.zeros(len(ADEX_I))
    for k in range(steps):
        A_V = -p["g_leak"] / p["c_mem"]
        B_V = (p["g_leak"] * p["e_leak"] + p["g_leak"] * p["delta_t"]
               * np.exp((V - p["v_t"]) / p["delta_t"]) - w + ADEX_I) / p["c_mem"]
        A_w = -1 / p["tau_w"]
        B_w = p["a"] * (V - p["e_leak"]) / p["tau_w"]
        V, w = (-B_V / A_V + (V + B_V / A_V) * np.exp(A_V * dt),
                -B_w / A_w + (w + B_w / A_w) * np.exp(A_w * dt))
        spike = V >= p["v_peak"]
        V, w = np.where(spike, p["v_reset"], V), np.where(spike, w + p["b"], w)
        np.testing.assert_allclose(result.vars["V"][k, 0], V, rtol=1e-12, atol=0)
        np.testing.assert_allclose(result.vars["w"][k, 0], w, rtol=1e-12, atol=1e-12)
    assert len(result.spikes) >= 5


def test_named_exponential_euler_refuses_a_power_of_the_state():
    with pytest.raises(eqsnn.EqsnnError, match=r"holds v\*\*2, a power of v"):
        eqsnn.compile(IZHIKEVICH + "    method: exponential_euler\n")


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_the_carried_substep_size_is_forgotten_by_reset(backend):
    """The last accepted substep size is a hidden state: reset() sets it back to "none yet"
    (0), so a run after reset() repeats the first run to the bit."""
    sim = eqsnn.Simulator(eqsnn.compile(ADEX), len(ADEX_I), dt=1.0, backend=backend,
                          precision="float64")
    first = sim.run(50, inputs={"I": ADEX_I}, record=["V", "spikes"])
    carried = sim._runner.get_state("_substep")
    assert np.all(carried > 0) and np.any(carried < 1.0)  # some neuron needed small ones
    sim.reset()
    np.testing.assert_array_equal(sim._runner.get_state("_substep"), 0.0)
    again = sim.run(50, inputs={"I": ADEX_I}, record=["V", "spikes"])
    np.testing.assert_array_equal(first.vars["V"], again.vars["V"])
    np.testing.assert_array_equal(first.spikes.step, again.spikes.step)


def test_the_c_step_has_a_loop_free_variant_that_defers_to_the_loop():
    """Most neurons take the whole step in one substep: on c that is a step function with
    no loop (vectorised), which hands the others to the full step."""
    from eqsnn.backends import c as c_backend

    text = str(c_backend.emit(eqsnn.compile(ADEX).ir))
    fast = text[text.index("EQSNN_FN int eqsnn_neuron_step_fast("):]
    fast = fast[:fast.index("#undef EQSNN_FAST_STEP")]
    from eqsnn.printing.c import DEFERRED
    assert DEFERRED == 3  # a spike and a negative spike at once: no step returns it
    assert "#if EQSNN_FAST_STEP" in fast and f"if (_defer) return {DEFERRED};" in fast
    kept, skipping = [], False  # the variant as the preprocessor leaves it
    for line in fast.splitlines():
        if line.startswith("#else"):
            skipping = True
        elif line.startswith("#endif"):
            skipping = False
        elif not skipping:
            kept.append(line)
    assert not any(word in line for line in kept for word in ("for (", "while", "goto"))
    assert "EQSNN_FAST_STEP || " in fast  # the whole-step try is unconditional there
    assert "eqsnn_neuron_step_fast(" in text.split("eqsnn_run_tile", 1)[1]
    fixed = str(c_backend.emit(eqsnn.compile(ADEX + "    method: rk4\n").ir))
    assert "eqsnn_neuron_step_fast" not in fixed


def test_a_bound_of_one_substep_takes_the_step_in_one_substep_and_says_so():
    """max_substeps=1 has no whole-step try before the loop: the one substep is the bound."""
    sim = eqsnn.Simulator(eqsnn.compile(ADEX + "    method: adaptive(max_substeps=1)\n"),
                          1, dt=0.1, precision="float64")
    with pytest.warns(EqsnnWarning, match="reached its bound of 1 substeps") as caught:
        result = sim.run(20, inputs={"I": 500.0}, record=["V"])
    assert caught[0].filename == __file__  # shown at the sim.run line, not inside eqsnn
    exact = eqsnn.Simulator(eqsnn.compile(ADEX), 1, dt=0.1, precision="float64")
    reference = exact.run(20, inputs={"I": 500.0}, record=["V"])
    np.testing.assert_allclose(result.vars["V"], reference.vars["V"], rtol=1e-6)
