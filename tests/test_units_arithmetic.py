"""Python arithmetic on quantities as a user writes it: bools are not numbers, the built-in
sum starts from 0, and the builtins and NumPy functions that take quantities either give the
hand-computed value in one unit or refuse.  Every number is checked against a hand
conversion."""

import numpy as np
import pytest

from eqsnn import units
from eqsnn.errors import EqsnnError
from eqsnn.units import Quantity, UnitError

ms, mV, second = units.ms, units.mV, units.second


@pytest.mark.parametrize("make", [
    lambda: True * ms, lambda: False * mV, lambda: ms * True, lambda: np.bool_(True) * ms,
    lambda: ms * np.bool_(False), lambda: True * (2 * ms), lambda: (2 * ms) * True,
    lambda: (2 * ms) * np.bool_(True), lambda: np.bool_(True) * (2 * ms),
    lambda: ms / True, lambda: (2 * ms) / True, lambda: True / ms, lambda: True / (2 * ms),
    lambda: np.array([True, False]) * mV, lambda: [True, False] * mV,
    lambda: [1.0, True] * mV, lambda: mV * np.array([True]),
    lambda: (2 * ms) * np.array([True, False]), lambda: (2 * ms) ** True,
], ids=["True*ms", "False*mV", "ms*True", "np.True_*ms", "ms*np.False_", "True*q", "q*True",
        "q*np.True_", "np.True_*q", "ms/True", "q/True", "True/ms", "True/q", "bool-array*mV",
        "bool-list*mV", "list-with-a-bool*mV", "mV*bool-array", "q*bool-array", "q**True"])
def test_a_bool_is_not_a_number_of_a_unit(make):
    # True * ms was 1 ms and False * mV 0 mV: a flag taken for a number
    with pytest.raises(UnitError, match="is a bool, not a number") as exc:
        make()
    assert isinstance(exc.value, EqsnnError)
    assert "use a number" in exc.value.hint


def test_numbers_and_number_arrays_still_make_quantities():
    assert (1 * ms).to(second) == 0.001
    assert (ms * 2.5).to(units.us) == 2500.0
    assert (np.int64(3) * mV).to(units.volt) == 0.003
    np.testing.assert_array_equal(([1, 2] * mV).to(units.uV), [1000.0, 2000.0])
    np.testing.assert_array_equal((np.array([True, False]).astype(float) * mV).to(mV),
                                  [1.0, 0.0])


def test_the_builtin_sum_of_quantities_is_their_total_in_the_first_unit():
    # sum() starts from the int 0: 0 + 1 ms was a TypeError
    total = sum([1 * ms, 2 * ms, 0.003 * second])
    assert total.unit == ms and total.to(ms) == pytest.approx(6.0, rel=1e-15)
    arrays = sum([np.array([1.0, 2.0]) * mV, np.array([0.001, 0.002]) * units.volt])
    np.testing.assert_allclose(arrays.to(mV), [2.0, 4.0], rtol=1e-15)
    assert (0 + 5 * mV).to(mV) == 5.0 and (5 * mV + 0).to(mV) == 5.0
    assert sum([]) == 0


def test_adding_zero_gives_a_new_array_not_the_same_one():
    values = np.array([1.0, 2.0])
    total = sum([values * mV])
    values[0] = 100.0
    np.testing.assert_array_equal(total.to(mV), [1.0, 2.0])


def test_the_sum_of_quantities_of_two_dimensions_is_refused():
    with pytest.raises(UnitError, match=r"cannot add 1 mV \(voltage\) to 1 ms \(time\)"):
        sum([1 * ms, 1 * mV])


@pytest.mark.parametrize("make", [
    lambda: 1 * ms + 1, lambda: 1 + 1 * ms, lambda: 0.0 + 1 * ms, lambda: 1 * ms + 0.0,
    lambda: np.int64(0) + 1 * ms, lambda: 1 * ms + np.float64(0.0), lambda: sum([1 * ms, 2]),
    lambda: sum([1 * ms], 0.0),
], ids=["q+1", "1+q", "0.0+q", "q+0.0", "np.int64(0)+q", "q+np.float64(0)", "sum-with-2",
        "sum-from-0.0"])
def test_a_number_other_than_the_int_zero_is_not_added_to_a_quantity(make):
    # the message is Python's (or NumPy's, for a NumPy scalar on the left), as before
    with pytest.raises(TypeError, match="unsupported operand|does not support ufuncs"):
        make()


@pytest.mark.parametrize("make", [lambda: False + 1 * ms, lambda: 1 * ms + False,
                                  lambda: sum([1 * ms], False)])
def test_false_is_not_the_zero_of_a_sum(make):
    with pytest.raises(UnitError, match="is a bool, not a number"):
        make()


def test_a_quantity_is_true_where_its_value_is_not_zero():
    # bool(0 * mV) was True (a dataclass is always true): `if v:` took 0 mV for a value
    assert not (0 * mV) and not (0.0 * ms)
    assert 1 * mV and -2 * ms
    with pytest.raises(ValueError, match="ambiguous"):
        bool(np.array([0.0, 1.0]) * mV)


def test_min_max_and_sorted_compare_in_one_unit():
    assert max([1 * ms, 0.002 * second, 1.5 * ms]).to(ms) == 2.0
    assert min(3 * ms, 0.002 * second).to(ms) == 2.0
    assert [q.to(ms) for q in sorted([0.003 * second, 1 * ms, 2 * ms])] == [1.0, 2.0, 3.0]
    with pytest.raises(UnitError, match=r"cannot compare"):
        max(1 * ms, 1 * mV)


def test_numpy_sum_and_mean_of_a_list_of_quantities_are_in_the_first_unit():
    assert np.sum([1 * ms, 0.002 * second]).to(ms) == 3.0
    assert np.mean([1 * ms, 0.003 * second]).to(ms) == 2.0
    assert np.max([1 * ms, 0.003 * second]).to(ms) == 3.0
    with pytest.raises(UnitError, match=r"cannot add"):
        np.sum([1 * ms, 1 * mV])


def test_comparisons_with_bools_and_numbers_are_not_equal_or_refused():
    assert (1 * ms == True) is False  # noqa: E712
    assert (Quantity(1, units.parse_unit("1")) == True) is False  # noqa: E712
    assert (1 * ms != True) is True  # noqa: E712
    with pytest.raises(TypeError):
        1 * ms < True  # noqa: B015
    with pytest.raises(TypeError):
        1 * ms > 0  # noqa: B015


@pytest.mark.parametrize("function", [np.mean, np.median, np.average, np.cumsum, np.dot,
                                      np.ndim, np.shape, np.sum, np.max])
def test_numpy_functions_of_one_quantity_are_refused_not_taken_as_one_object(function):
    # np.mean(np.array([1.0, 2.0]) * ms) was the quantity itself ([1, 2] ms, not 1.5 ms):
    # NumPy took the quantity for one object; np.dot(q, q) was [1, 4] ms*ms, not 5 ms**2
    q = np.array([1.0, 2.0]) * ms
    args = (q, q) if function is np.dot else (q,)
    with pytest.raises(UnitError, match=rf"numpy.{function.__name__} cannot take a quantity"
                       ) as exc:
        function(*args)
    assert f"np.{function.__name__}(q.to(" in exc.value.hint


def test_numpy_functions_of_the_values_in_a_unit_give_the_hand_values():
    q = np.array([1.0, 2.0]) * ms
    assert np.mean(q.to(ms)) * ms == 1.5 * ms
    assert np.dot(q.to(second), q.to(second)) == pytest.approx(5e-6)
