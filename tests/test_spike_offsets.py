"""``Result.spikes.offset``: where each spike lies inside its step.

The adaptive method's located crossings against scipy's solve_ivp event times
(the reference of ``tests/test_adaptive.py``); grid spikes at the step's end;
the errors of asking wrongly.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_adaptive import (
    ADEX,
    ADEX_I,
    ADEX_P,
    IZHIKEVICH,
    IZHIKEVICH_SETS,
    adex_rhs,
    reference,
)

import eqsnn
from eqsnn.errors import ParameterError


def _adex_reference(current, dt, steps):
    return reference(adex_rhs, [-70.6, 0.0], (current,), ADEX_P["v_peak"],
                     lambda y: np.array([ADEX_P["v_reset"], y[1] + ADEX_P["b"]]), dt, steps)[1]


@pytest.mark.c
@pytest.mark.parametrize("dt", [0.1, 1.0])
def test_adex_and_izhikevich_spike_times_match_solve_ivp_events(dt):
    """times + offset is the crossing time of the reference to 1e-4 ms over 400 ms (measured:
    2.5e-5 at worst), and the offset lies in (0, dt]."""
    steps = int(round(400 / dt))
    sim = eqsnn.Simulator(eqsnn.compile(ADEX), len(ADEX_I), dt=dt, backend="c",
                          precision="float64")
    spikes = sim.run(steps, inputs={"I": ADEX_I}, record=["spikes", "spike_offset"]).spikes
    assert np.all((spikes.offset > 0) & (spikes.offset <= dt))
    assert np.any(spikes.offset < 0.9 * dt)  # not the step's end
    for j, current in enumerate(ADEX_I):
        expected = _adex_reference(current, dt, steps)
        ours = (spikes.times + spikes.offset)[spikes.neuron == j]
        assert len(ours) == len(expected)
        np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-4)

    sets = np.array(list(IZHIKEVICH_SETS.values()))
    sim = eqsnn.Simulator(eqsnn.compile(IZHIKEVICH), len(sets), dt=dt, backend="c",
                          precision="float64", params=dict(zip("abcd", sets.T)))
    spikes = sim.run(steps, record=["spikes", "spike_offset"]).spikes
    for j, (a, b, c, d) in enumerate(sets):
        def rhs(t, y, a=a, b=b):
            v, u = y
            return [0.04 * v * v + 5 * v + 140 - u + 10.0, a * (b * v - u)]
        expected = reference(rhs, [-65.0, b * -65.0], (), 30.0,
                             lambda y, c=c, d=d: np.array([c, y[1] + d]), dt, steps)[1]
        ours = (spikes.times + spikes.offset)[spikes.neuron == j]
        assert len(ours) >= 5 and len(ours) == len(expected)
        np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-4)


@pytest.mark.c
def test_numpy_and_c_give_the_same_offsets_and_a_continued_run_keeps_counting():
    model = eqsnn.compile(ADEX)
    offsets = {}
    for backend in ("numpy", "c"):
        sim = eqsnn.Simulator(model, len(ADEX_I), dt=1.0, backend=backend, precision="float64")
        sim.run(30, inputs={"I": ADEX_I})
        spikes = sim.run(40, inputs={"I": ADEX_I}, record=["spikes", "spike_offset"]).spikes
        offsets[backend] = spikes.offset
        for j, current in enumerate(ADEX_I):  # the first run's steps count in times
            expected = _adex_reference(current, 1.0, 70)
            expected = expected[expected >= 30.0]
            np.testing.assert_allclose((spikes.times + spikes.offset)[spikes.neuron == j],
                                       expected, atol=1e-4, rtol=0)
    assert len(offsets["numpy"]) >= 5
    np.testing.assert_allclose(offsets["numpy"], offsets["c"], rtol=0, atol=1e-9)


def test_spikes_of_a_subset_read_their_own_offsets():
    sim = eqsnn.Simulator(eqsnn.compile(ADEX), len(ADEX_I), dt=1.0, precision="float64")
    whole = sim.run(60, inputs={"I": ADEX_I}, record=["spikes", "spike_offset"]).spikes
    sim.reset()
    part = sim.run(60, inputs={"I": ADEX_I},
                   record={"spikes": [1, 3], "spike_offset": None}).spikes
    keep = np.isin(whole.neuron, [1, 3])
    assert len(part) == int(keep.sum()) > 0
    np.testing.assert_array_equal(part.offset, whole.offset[keep])


LIF = """
neuron Lif
    param tau = 10.0
    state v = 0.0
    input I = 0.0
    dv/dt = (I - v) / tau
    threshold: v >= 1.0
    reset:
        v = 0.0
"""


def test_grid_spikes_lie_at_the_end_of_their_step():
    """A fixed-step method (and any model without in-step crossings) tests the threshold
    at the end of the step: every offset is dt, with or without asking to record it."""
    for text, current in ((LIF, 2.0), (ADEX + "    method: rk4\n", ADEX_I)):
        sim = eqsnn.Simulator(eqsnn.compile(text), 5, dt=0.1, precision="float64")
        for record in (["spikes"], ["spikes", "spike_offset"]):
            spikes = sim.run(500, inputs={"I": current}, record=record).spikes
            assert len(spikes) > 0
            np.testing.assert_array_equal(spikes.offset, 0.1)


def test_offsets_not_recorded_or_asked_for_wrongly_say_how():
    sim = eqsnn.Simulator(eqsnn.compile(ADEX), 2, dt=1.0, precision="float64")
    spikes = sim.run(30, inputs={"I": 1500.0}, record=["spikes"]).spikes
    with pytest.raises(ParameterError, match="locates threshold crossings inside the step") \
            as caught:
        print(spikes.offset)
    assert "record=['spikes', 'spike_offset']" in str(caught.value)
    step = sim.step
    with pytest.raises(ParameterError, match="names 'spike_offset' but not 'spikes'"):
        sim.run(5, record=["spike_offset"])
    with pytest.raises(ParameterError, match="takes no neuron ids"):
        sim.run(5, record={"spikes": None, "spike_offset": [0]})
    assert sim.step == step  # nothing ran
    result = sim.run(5, inputs={"I": 1500.0}, record=["spikes", "spike_offset", "V"])
    assert list(result.vars) == ["V"]  # the hidden state is no recorded variable


def test_negative_spikes_lie_at_the_end_of_their_step():
    """A negative threshold is tested on the grid only: its spikes' offset is dt, while the
    positive crossing of the same model is located inside the step (v = 0.8 t crosses 1 at
    t = 1.25 and 2.5 ms)."""
    text = """
neuron Signed
    state v = 0.0
    input I = 0.0
    dv/dt = I
    method: adaptive
    threshold: v >= 1.0
    reset:
        v = 0.0
    negative threshold: v <= -1.0
    negative reset:
        v = 0.0
"""
    sim = eqsnn.Simulator(eqsnn.compile(text), 2, dt=1.0, precision="float64")
    spikes = sim.run(3, inputs={"I": [0.8, -1.5]}, record=["spikes", "spike_offset"]).spikes
    assert spikes.signed and set(spikes.sign) == {-1, 1}
    positive = spikes.sign > 0
    np.testing.assert_allclose(spikes.offset[positive], [0.25, 0.5], rtol=1e-9)
    np.testing.assert_array_equal(spikes.offset[~positive], 1.0)


#: a soft reset keeps any error of the crossing's place: the state after it is as far from
#: the reference as the crossing's time is, times the jump of the slope at the reset
SOFT_RESET = """
neuron SoftReset
    param tau = 19.0 (> 0)
    state x = 0.3
    input I = 0.0
    dx/dt = -x / tau - 0.391 * sqrt(1.0 + x * x) + 0.315 * exp(clip(x, -3.0, 3.0)) + I
    threshold: x > 0.932
    reset: x -= 1.164
"""


@pytest.mark.parametrize("backend", ["numpy", pytest.param("c", marks=pytest.mark.c)])
def test_a_crossing_is_located_on_the_solution_not_only_on_the_interpolant(backend):
    """One step of 0.5 ms with a crossing inside it, against solve_ivp with the event.  On
    the cubic Hermite interpolant of its substep alone the crossing was 2e-6 ms off and
    the state at the step's end 5e-6 off (and two backends whose substep sizes differed by
    a last-bit choice 1e-4 apart); integrated to and corrected on the solution, both are
    within 1e-8."""
    from scipy.integrate import solve_ivp

    currents = np.array([1.7, 2.0, 2.2, 2.5])
    sim = eqsnn.Simulator(eqsnn.compile(SOFT_RESET), len(currents), dt=0.5, backend=backend,
                          precision="float64")
    result = sim.run(1, inputs={"I": currents}, record=["x", "spikes", "spike_offset"])
    assert result.spikes.neuron.tolist() == [0, 1, 2, 3]

    def rhs(t, y, current):
        x = y[0]
        return [-x / 19.0 - 0.391 * np.sqrt(1 + x * x) + 0.315 * np.exp(np.clip(x, -3, 3))
                + current]

    def crossing(t, y, current):
        return y[0] - 0.932
    crossing.terminal, crossing.direction = True, 1
    for k, current in enumerate(currents):
        options = dict(args=(current,), rtol=1e-12, atol=1e-14, method="DOP853")
        before = solve_ivp(rhs, (0.0, 0.5), [0.3], events=crossing, **options)
        at = before.t_events[0][0]
        after = solve_ivp(rhs, (at, 0.5), [before.y_events[0][0][0] - 1.164], **options)
        assert abs(result.spikes.offset[k] - at) < 1e-8, (current, result.spikes.offset[k], at)
        assert abs(result.vars["x"][0, 0, k] - after.y[0, -1]) < 1e-8, current
