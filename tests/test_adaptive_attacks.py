"""The adaptive method attacked as a user would: resets whose order matters, thresholds the
method cannot locate inside the step, and what the reports say.

Oracles: scipy's ``solve_ivp`` with event location (:func:`test_adaptive.reference`),
with the model's reset applied at each event in the order written.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_adaptive import ADEX, adex_rhs, compare, reference

import eqsnn

pytestmark = pytest.mark.c


# the reset reads a state it assigned before: each spike resets V 5 mV lower than the last
COUNTING_RESET = ADEX.replace(
    "    state w = 0.0\n", "    state w = 0.0\n    state n: int = 0\n").replace(
    "    reset:\n        V = v_reset\n        w += b\n",
    "    reset:\n        n += 1\n        V = v_reset - 5 * n\n        w += b\n")


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_a_reset_that_reads_a_state_it_assigned_before_acts_in_its_written_order(backend):
    """``n += 1`` then ``V = v_reset - 5 * n``: at the crossing inside the step, V is reset
    with the n of this spike (as written), though n itself is counted at the step's end."""
    dt, steps, current = 0.1, 2000, 900.0
    resets = []

    def reset(y):
        resets.append(None)
        return np.array([-70.6 - 5 * len(resets), y[1] + 80.5])
    ref_states, ref_spikes = reference(adex_rhs, [-70.6, 0.0], (current,), -40.4, reset, dt,
                                       steps)
    model = eqsnn.compile(COUNTING_RESET)
    assert "crossings located and reset inside the step" in model.reasons["adaptive"]
    sim = eqsnn.Simulator(model, 1, dt=dt, backend=backend, precision="float64")
    result = sim.run(steps, inputs={"I": current}, record=["V", "w", "n", "spikes"])
    count, _, _ = compare(result, ["V", "w"], 0, ref_states, ref_spikes, dt, steps)
    assert count >= 5
    assert result.vars["n"][-1, 0, 0] == count  # counted once per spike
