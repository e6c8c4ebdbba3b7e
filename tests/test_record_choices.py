"""record= with chosen neurons: the mistakes a user makes name the fix (flat ids)."""

from __future__ import annotations

import numpy as np
import pytest

import eqsnn
from eqsnn.errors import ParameterError


def sim(n=(2, 3)):
    return eqsnn.Simulator(eqsnn.load("examples/lif_pulse.eqs"), n)


def test_an_empty_choice_says_it_records_nothing():
    with pytest.raises(ParameterError, match=r"record\['V'\] names no neuron") as info:
        sim().run(3, record={"V": []})
    assert "leave 'V' out of record" in info.value.hint


def test_a_row_column_index_of_a_2d_population_points_to_flat_ids():
    with pytest.raises(ParameterError,
                       match=r"record\['V'\] must be a list of integer neuron ids") as info:
        sim().run(3, record={"V": [(1, 1)]})
    assert "flat (C-order) ids of the (2, 3) population" in info.value.hint
    assert "np.ravel_multi_index" in info.value.hint
    # the fix the hint names records the neuron the user meant
    s = sim()
    ids = np.ravel_multi_index(([1], [1]), (2, 3))
    chosen = s.run(40, record={"V": ids}, inputs={"Isyn": np.arange(6.0).reshape(2, 3) / 50})
    s.reset()
    full = s.run(40, record=["V"], inputs={"Isyn": np.arange(6.0).reshape(2, 3) / 50})
    np.testing.assert_array_equal(chosen.vars["V"][:, :, 0], full.vars["V"][:, :, 1, 1])


def test_a_boolean_mask_points_to_flatnonzero():
    with pytest.raises(ParameterError, match=r"record\['V'\] is a boolean mask") as info:
        sim(4).run(3, record={"V": np.array([True, False, True, False])})
    assert "np.flatnonzero(mask)" in info.value.hint


def test_an_id_out_of_range_of_a_2d_population_says_ids_are_flat():
    with pytest.raises(ParameterError, match=r"record\['V'\] has neuron id 6, outside 0..5"
                       ) as info:
        sim().run(3, record={"V": [6]})
    assert "flat (C-order) ids of the (2, 3) population" in info.value.hint
