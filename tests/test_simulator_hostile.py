"""A hostile user's calls on the Simulator: flags that are not bools, copies of a simulator."""

import copy
import pickle

import numpy as np
import pytest

import eqsnn
from eqsnn.errors import ParameterError

LIF = eqsnn.load("examples/lif_pulse.eqs")


@pytest.mark.parametrize("flag", [0, 1, np.True_, np.False_, "no", 0.0])
def test_progress_takes_only_none_true_or_false(flag):
    # 0 == False and np.True_ == True, so `progress in (None, True, False)` took them,
    # while check= and fast_math= refuse the same values
    sim = eqsnn.Simulator(LIF, 3)
    with pytest.raises(ParameterError, match=r"progress must be None, True or False, not "):
        sim.run(2, progress=flag)
    assert sim.step == 0


@pytest.mark.parametrize("backend", ["numpy", "c"])
@pytest.mark.parametrize("how", [copy.copy, copy.deepcopy,
                                 lambda sim: pickle.loads(pickle.dumps(sim))])
def test_a_simulator_is_not_copied(backend, how):
    # copy.copy shared the backend's states: running the copy moved the original's states
    # while its step counter stayed; deepcopy worked on numpy only, and failed obscurely on c
    sim = eqsnn.Simulator(LIF, 3, backend=backend)
    sim.run(4)
    before = sim.state["V"].copy()
    with pytest.raises(ParameterError, match=r"a Simulator cannot be copied or pickled") as err:
        how(sim)
    assert "init=" in err.value.hint
    np.testing.assert_array_equal(sim.state["V"], before)
    assert sim.step == 4
    # a new Simulator from the state is what the message offers: it continues the same way
    again = eqsnn.Simulator(LIF, 3, backend=backend, init={"V": before})
    np.testing.assert_array_equal(again.run(5, record=["V"]).vars["V"],
                                  sim.run(5, record=["V"]).vars["V"])
