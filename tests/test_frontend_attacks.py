"""Attacks on the single-population user surface (the language, the Simulator and its
Result, the command line) that once gave a wrong number, a misleading message or an
exception that was not an EqsnnError; each test here failed before its fix."""

from __future__ import annotations

import re

import numpy as np
import pytest

import eqsnn
from eqsnn.errors import CheckError, EqsnnError, ParameterError

LIF = """neuron Lif
    param v_thresh = 1.0
    param tau_mem = 20.0 (> 0)
    state V = 0.0
    input Isyn = 0.0
    dV/dt = -V / tau_mem
    after: V += Isyn
    threshold: V >= v_thresh
    reset: V -= v_thresh
"""


def _error(cls, text):
    with pytest.raises(cls) as info:
        eqsnn.compile(text)
    return info.value


# -- the language ----------------------------------------------------------------------

@pytest.mark.parametrize("literal", ["1e-400", "0.5e-330", "1E-999"])
def test_a_literal_below_the_smallest_float_is_an_error_not_a_silent_zero(literal):
    err = _error(CheckError, f"neuron A\n    param p = {literal}\n    state V = 1.0\n"
                             "    dV/dt = -p * V\n")
    assert (err.line, err.column) == (2, 15)
    assert "too small for a float64" in str(err) and "would become 0" in str(err)
    assert "write 0 if 0 is meant" in err.hint


def test_a_quantity_below_the_smallest_float_is_an_error_not_a_silent_zero():
    err = _error(CheckError, "neuron A\n    param p = 1e-320 pV\n    state V = 0 mV\n")
    assert "1e-320 pV is too small for a float64" in str(err)
    assert "smaller unit" in err.hint


@pytest.mark.parametrize("text, value", [("0.0e-400", 0.0), ("0e5", 0.0), ("1e-300", 1e-300),
                                         ("4.9e-324", 5e-324)])
def test_zero_and_the_smallest_floats_are_still_accepted(text, value):
    model = eqsnn.compile(f"neuron A\n    param p = {text}\n    state V = 0.0\n")
    assert model.ir.params[0].default == value


def test_a_default_outside_a_bound_with_a_unit_is_reported_in_one_unit():
    """``(> 1 s)`` on a param in ms was reported as "the default 20.0 of tau violates
    '> 1000'": the default and the bound in ms, with no unit to say so."""
    err = _error(CheckError, "neuron A\n    param tau = 20 ms (> 1 s)\n    state V = 0.0\n")
    assert "the default 20.0 ms of tau violates '> 1000 ms'" in str(err)
    assert err.hint == "choose a default that is > 1000 ms"
    err = _error(CheckError, "neuron A\n    state V = -70 mV (> -1 [uV])\n")
    assert "the initial value -70 mV of V violates '> -0.001 mV'" in str(err)


def test_a_float_initial_value_outside_a_bound_is_printed_as_written():
    """It read "the initial value 20.0000000000000 of V" (SymPy's print of the float)."""
    err = _error(CheckError, "neuron A\n    state V = 20.0 (< 10)\n")
    assert "the initial value 20.0 of V violates '< 10'" in str(err)


def test_the_rk4_fallback_says_why_the_adaptive_method_does_not_apply():
    """A noisy nonlinear model falls back to RK4: the warning said only why exponential
    Euler does not apply, and a user was left to wonder why not the adaptive default."""
    with pytest.warns(eqsnn.EqsnnWarning) as caught:
        eqsnn.compile("neuron A\n    state V = 0.0\n    dV/dt = -V**2 + 0.1 * xi\n")
    message = str(caught[0].message)
    assert "integrating with RK4 (not exact): dV/dt is not linear in V" in message
    assert "the adaptive method does not apply: dV/dt has white noise (xi)" in message
    assert message.endswith("check the result at a smaller dt")


def test_a_bound_without_a_unit_keeps_its_message():
    err = _error(CheckError, "neuron A\n    param tau = -1.0 (> 0)\n    state V = 0.0\n")
    assert "the default -1.0 of tau violates '> 0'" in str(err)


# -- the Simulator and its Result ------------------------------------------------------

def test_a_unit_given_to_a_value_without_one_says_it_has_no_unit():
    sim = eqsnn.Simulator(eqsnn.compile(LIF), 2)
    with pytest.raises(ParameterError) as info:
        sim.run(1, inputs={"Isyn": "5 mV"})
    assert str(info.value).startswith(
        "input 'Isyn' has no unit (dimensionless); got 5.0 mV (voltage)")
    assert "is in dimensionless" not in str(info.value)


@pytest.mark.parametrize("call, message, hint", [
    (lambda m: eqsnn.Simulator(m, 2, params={"V": 1.0}), "'V' is a state of Lif, not a param",
     "give it in init= (or set_state)"),
    (lambda m: eqsnn.Simulator(m, 2, init={"tau_mem": 5.0}),
     "'tau_mem' is a param of Lif, not a state", "give it in params="),
    (lambda m: eqsnn.Simulator(m, 2).set_state("Isyn", 1.0),
     "'Isyn' is an input of Lif, not a state", "give it in run(inputs=...)"),
    (lambda m: eqsnn.Simulator(m, 2).run(1, inputs={"V": 1.0}),
     "'V' is a state of Lif, not an input", "give it in init= (or set_state)"),
    (lambda m: eqsnn.Simulator(m, 2).run(1, record=["tau_mem"]),
     "'tau_mem' is a param of Lif, not a state", "only states and 'spikes' are recorded"),
    (lambda m: eqsnn.Simulator(m, 2).run(1, record=["Isyn"]),
     "'Isyn' is an input of Lif, not a state", "Isyn is the value given in run(inputs=...)"),
])
def test_a_name_given_in_the_wrong_place_is_said_to_be_what_it_is(call, message, hint):
    """``init={"tau_mem": 5}`` said "unknown state 'tau_mem'", listing the states, as if
    the model had no tau_mem."""
    with pytest.raises(ParameterError) as info:
        call(eqsnn.compile(LIF))
    assert info.value.message == message and hint in info.value.hint


def test_a_name_of_another_kind_that_differs_only_in_case_still_gets_the_suggestion():
    model = eqsnn.compile(LIF.replace("param v_thresh = 1.0", "param v = 1.0")
                          .replace("v_thresh", "v"))
    with pytest.raises(ParameterError, match="'v' is a param of Lif, not a state; did you "
                                             "mean 'V'"):
        eqsnn.Simulator(model, 2).run(1, record=["v"])


@pytest.fixture(scope="module")
def result():
    sim = eqsnn.Simulator(eqsnn.compile(LIF), (2, 3), batch_size=2)
    return sim.run(20, inputs={"Isyn": 0.3}, record=["V", "spikes"])


@pytest.mark.parametrize("n, fragment", [(3, "counts(3) leaves out spikes of neurons up to 5"),
                                         (-1, "needs a non-negative integer n, not -1"),
                                         (2.5, "needs a non-negative integer n, not 2.5")])
def test_bad_counts_are_parameter_errors(result, n, fragment):
    with pytest.raises(ParameterError, match=re.escape(fragment)) as info:
        result.spikes.counts(n)
    assert info.value.hint


@pytest.mark.parametrize("kwargs, fragment", [({"lane": 2}, r"lane must be an int in \[0, 2\)"),
                                              ({"neurons": 0}, "neurons must be a positive")])
def test_bad_plot_arguments_are_parameter_errors(result, kwargs, fragment):
    pytest.importorskip("matplotlib")
    with pytest.raises(ParameterError, match=fragment):
        result.plot(**kwargs)


def test_plotting_a_run_of_no_steps_is_a_parameter_error():
    pytest.importorskip("matplotlib")
    sim = eqsnn.Simulator(eqsnn.compile(LIF), 2)
    with pytest.raises(EqsnnError, match="no steps to plot"):
        sim.run(0, record=["V"]).plot()


# -- compare() -----------------------------------------------------------------------

def test_compare_of_runs_without_spikes_reports_all_spikes_the_same(monkeypatch):
    """Two backends that both emit no spike agree on every spike: the table showed
    "spikes same 0.0%" for each compared backend of a silent run."""
    from eqsnn.backends import REGISTRY

    monkeypatch.setitem(REGISTRY, "numpy_twin", "eqsnn.backends.numpy")
    comparison = eqsnn.compare(eqsnn.compile(LIF), ["numpy", "numpy_twin"], n=3, steps=5)
    report = comparison.report("numpy_twin")
    assert report.spike_counts == (0, 0) and report.status == "ok"
    assert report.spikes_same_share == 1.0
    assert str(comparison).count("100.0%") == 2  # the reference and the twin
    spiking = eqsnn.compare(eqsnn.compile(LIF), ["numpy", "numpy_twin"], n=3, steps=20,
                            inputs={"Isyn": 0.3})
    assert spiking.report("numpy_twin").spike_counts[0] > 0
    assert spiking.report("numpy_twin").spikes_same_share == 1.0


# -- compile() and load() ----------------------------------------------------------------

@pytest.mark.parametrize("text", ["examples/lif_pulse.eqs", "  my_model.eqs\n"])
def test_compile_of_a_file_name_points_to_load(text):
    """``eqsnn.compile(path)`` parsed the path as model text: "unexpected 'examples'"."""
    err = _error(EqsnnError, text)
    assert "is a file name, not a model" in str(err)
    assert "eqsnn.load(path)" in err.hint


def test_compile_of_a_path_object_or_bytes_points_to_load():
    from pathlib import Path

    for text in (Path("examples/lif_pulse.eqs"), LIF.encode()):
        err = _error(EqsnnError, text)
        assert "model text must be a str" in str(err) and "eqsnn.load(path)" in err.hint


def test_load_of_something_that_is_not_a_path_is_a_parameter_error():
    with pytest.raises(ParameterError, match="path must be a str or a pathlib.Path, not bytes"):
        eqsnn.load(b"examples/lif_pulse.eqs")
    with pytest.raises(ParameterError, match="not NoneType"):
        eqsnn.load(None)


# -- long expressions ------------------------------------------------------------------

def _signed_terms(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.choice(["+", "-"], size=n), rng.integers(1, 1000, size=n)


@pytest.mark.parametrize("n", [65, 600, 2000])
def test_a_long_flat_sum_compiles_and_adds_up(n):
    """A sum of 600 terms on one line (a generated model) was "nested too deeply to
    compile": folded left, it nested 600 deep."""
    ops, coefs = _signed_terms(n)
    rhs = "".join(f" {op} {c}e-3 * I" for op, c in zip(ops, coefs))
    model = eqsnn.compile(f"neuron A\n    state V = 0.0\n    input I = 1.0\n"
                          f"    dV/dt = -V{rhs}\n")
    total = sum(c * 1e-3 if op == "+" else -c * 1e-3 for op, c in zip(ops, coefs))
    sim = eqsnn.Simulator(model, 1, dt=0.5, precision="float64")
    got = sim.run(4, record=["V"]).vars["V"].ravel()
    expected = [total * (1 - np.exp(-0.5 * k)) for k in range(1, 5)]  # V' = total - V
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_a_long_int_sum_and_a_long_product_keep_their_values():
    ops, coefs = _signed_terms(300, seed=1)
    ints = "".join(f" {op} {c}" for op, c in zip(ops, coefs))
    model = eqsnn.compile(f"neuron A\n    param a = 1.001\n    state i: int = 0\n"
                          f"    state p = 1.0\n    after:\n        i = 7{ints}\n"
                          f"        p = 1.5{' * a' * 300}\n")
    state = eqsnn.Simulator(model, 1, precision="float64").run(1, record=["i", "p"]).vars
    assert state["i"].dtype == np.int32
    assert state["i"].item() == 7 + sum(c if op == "+" else -c for op, c in zip(ops, coefs))
    assert state["p"].item() == pytest.approx(1.5 * 1.001 ** 300, rel=1e-13)


def test_a_unit_mistake_in_a_long_sum_is_placed_at_the_first_odd_term():
    terms = " + ".join(["a"] * 100 + ["b"] + ["a"] * 30)
    text = (f"neuron A\n    param a = 1 mV\n    param b = 1 nA\n    state V = 0 mV\n"
            f"    after: V = {terms} - b\n")
    err = _error(CheckError, text)
    assert err.message == "cannot add a voltage (mV) and a current (nA)"
    assert (err.line, err.column) == (5, text.splitlines()[4].index("b") + 1)
    err = _error(CheckError, text.replace("+ b +", "+ a +"))
    assert err.message == "cannot subtract a current (nA) from a voltage (mV)"
    assert (err.line, err.column) == (5, text.splitlines()[4].rindex("b") + 1)


# -- text copied from papers ---------------------------------------------------------------

@pytest.mark.parametrize("line, char", [("    state τ_m = 0.0", "τ"), ("    state Vé = 0.0", "é"),
                                        ("    param tau = 20 µs", "µ")])
def test_a_name_that_is_not_ascii_says_names_are_ascii(line, char):
    err = _error(EqsnnError, f"neuron A\n{line}\n")
    assert (err.line, err.column) == (2, line.index(char) + 1)
    assert "names are ASCII letters, digits and '_'" in str(err)
    assert "spell the name in ASCII" in err.hint


@pytest.mark.parametrize("rhs", ["\u2212V / 10", "2 \u00d7 V"])
def test_a_typographic_operator_asks_for_its_ascii_form(rhs):
    """A minus sign or a times sign pasted from a paper: the hint listed the tokens
    expected there, not what to type."""
    err = _error(EqsnnError, f"neuron A\n    state V = 0.0\n    dV/dt = {rhs}\n")
    assert err.line == 3 and "unexpected character" in str(err)
    assert "'-' for a dash, '*' for" in err.hint


# -- the standard library ------------------------------------------------------------------

@pytest.mark.parametrize("times, ids, n, fragment", [
    ([1.0], [0.5], 3, "neuron ids must be integers; got values of dtype float64"),
    ([1.0], [True], 3, "neuron ids must be integers; got values of dtype bool"),
    ([1.0], ["x"], 3, "neuron ids must be integers"),
    ([1.0, float("nan")], [0, 1], 3, "spike time 1 is NaN"),
    (["soon"], [0], 3, "spike times must be numbers"),
    ([1.0], [0], 2.5, "num_neurons must be a positive integer, not 2.5"),
    ([1.0], [0], 0, "num_neurons must be a positive integer, not 0"),
])
def test_preprocess_spikes_rejects_what_it_would_misplace(times, ids, n, fragment):
    """A fractional id went to the neuron below it (0.5 to neuron 0), a NaN time was
    sorted last and blocked nothing visibly, strings gave a NumPy ufunc error."""
    from eqsnn.errors import LibraryError
    from eqsnn.neurons import preprocess_spikes

    with pytest.raises(LibraryError, match=re.escape(fragment)):
        preprocess_spikes(times, ids, n)


def test_preprocess_spikes_still_takes_integral_ids_of_any_integer_or_float_dtype():
    from eqsnn.neurons import preprocess_spikes

    for ids in ([2, 0, 2], np.array([2, 0, 2], np.uint8), [2.0, 0.0, 2.0]):
        spikes = preprocess_spikes([5.0, 1.0, 2.0], ids, 3)
        assert spikes.end_spikes.tolist() == [1, 1, 3]
        assert spikes.spike_times.tolist() == [1.0, 2.0, 5.0]
    assert preprocess_spikes([], [], 2).end_spikes.tolist() == [0, 0]


# -- random numbers in an ODE --------------------------------------------------------------

def test_an_ode_that_draws_random_numbers_warns_that_the_draw_is_held_over_the_step():
    """``dV/dt = sigma * rand_normal()`` (noise as Brian2 users write it with xi) compiled
    silently, and its spread shrinks with dt: the variance after T ms is T * dt, not T."""
    text = "neuron A\n    state V = 0.0\n    dV/dt = rand_normal()\n"
    with pytest.warns(eqsnn.EqsnnWarning, match=r"dV/dt draws random numbers: each draw is "
                                                r"held over the step.*write sigma \* xi"):
        model = eqsnn.compile(text)
    spreads = []
    for dt in (1.0, 0.25):  # what the warning says, checked: Var V(T) = (T / dt) * dt**2
        sim = eqsnn.Simulator(model, 4000, dt=dt, precision="float64", seed=1)
        spreads.append(sim.run(int(8 / dt), record=["V"]).vars["V"][-1].var())
    np.testing.assert_allclose(spreads, [8 * 1.0, 8 * 0.25], rtol=0.1)


def test_white_noise_and_draws_outside_odes_do_not_warn():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        eqsnn.compile("neuron A\n    state V = 0.0\n    dV/dt = -V + 0.5 * xi\n"
                      "    after: V += 0.1 * rand_normal()\n")


# -- eqsnn.units ---------------------------------------------------------------------------

def test_units_algebra_as_brian2_users_write_it():
    """``ms * 20``, ``-mV``, ``ms / 2``, ``pA * array``, ``[1, 2] * mV``, ``20 * ms + 1 * s``
    and ``1 / (10 * kHz)`` were TypeErrors (only ``number * unit`` worked)."""
    from eqsnn import units as u

    assert (u.ms * 20).to(u.ms) == 20.0 and (-u.mV).to(u.mV) == -1.0
    assert (u.ms / 2).to(u.us) == 500.0
    np.testing.assert_array_equal((u.pA * np.arange(3)).to(u.pA), [0, 1, 2])
    np.testing.assert_array_equal(([1, 2] * u.mV).to(u.uV), [1000, 2000])
    assert (20 * u.ms + 1 * u.s).to(u.ms) == 1020.0
    assert (1 * u.s - 20 * u.ms).to(u.ms) == 980.0
    assert (1 / (10 * u.kHz)).to(u.ms) == pytest.approx(0.1, rel=1e-15)
    with pytest.raises(eqsnn.units.UnitError, match=r"cannot add 1 mV \(voltage\) to 20 ms"):
        20 * u.ms + 1 * u.mV
    with pytest.raises(TypeError):
        ["a"] * u.mV


def test_sums_of_quantities_reach_the_simulator_converted():
    from eqsnn import units as u

    model = eqsnn.compile("neuron A\n    param tau = 10 ms\n    param k = 2 [1/s]\n"
                          "    state V = 0.0\n    after: V = k * tau\n")
    sim = eqsnn.Simulator(model, 2, dt=1 / (10 * u.kHz), precision="float64",
                          params={"tau": 20 * u.ms + 1 * u.s, "k": u.Hz * np.array([1, 3])})
    assert sim.run(1, record=["V"]).vars["V"].ravel().tolist() == [1.02, 3.06]
    assert sim.dt == pytest.approx(0.1, rel=1e-15)


def test_a_list_of_quantities_says_how_to_give_values_with_units():
    from eqsnn import units as u

    model = eqsnn.compile("neuron A\n    param tau = 10 ms\n    state V = 0.0\n")
    for value in ([1 * u.s, 2 * u.ms], ["1 s", "2 ms"]):
        with pytest.raises(ParameterError, match="must be numeric") as info:
            eqsnn.Simulator(model, 2, params={"tau": value})
        assert "np.array([10, 20]) * eqsnn.units.ms" in info.value.hint


def test_compare_takes_backends_and_record_as_strings(monkeypatch):
    """``compare(model, "numpy,c")`` said "unknown backend 'n'" (the string was split
    into letters); ``record="Vm"`` recorded 'V' and 'm'."""
    from eqsnn.backends import REGISTRY

    monkeypatch.setitem(REGISTRY, "numpy_twin", "eqsnn.backends.numpy")
    model = eqsnn.compile(LIF.replace("V", "Vm").replace("v_thresh", "vt"))
    comparison = eqsnn.compare(model, "numpy, numpy_twin", n=2, steps=5, record="Vm")
    assert [r.backend for r in comparison.reports] == ["numpy", "numpy_twin"]
    assert [v.name for v in comparison.report("numpy_twin").variables] == ["Vm"]


def test_benchmark_takes_backends_as_a_string():
    bench = eqsnn.benchmark(eqsnn.compile(LIF), "numpy", sizes=(10,), steps=3, repeats=1)
    assert "numpy" in str(bench) and "unknown backend" not in str(bench)


@pytest.mark.parametrize("value", ["-1", "tau", "four"])
def test_a_bad_substeps_value_is_placed_at_the_value_not_called_an_unknown_keyword(value):
    """``substeps: -1`` said "unexpected 'substeps'; 'substeps' is not a keyword here"."""
    text = (f"neuron A\n    param tau = 10.0\n    state V = 1.0\n    dV/dt = -V / tau\n"
            f"    substeps: {value}\n")
    err = _error(EqsnnError, text)
    assert (err.line, err.column) == (5, 15)
    assert "not a keyword" not in err.hint and "substeps: to a count from 1 to 64" in err.hint


@pytest.mark.parametrize("head", ["neuron A", "synapse S"])
def test_a_model_with_only_a_docstring_says_so(head):
    """It said "unexpected end of line; the expression is incomplete" after the docstring."""
    err = _error(EqsnnError, f'{head}\n    "A docstring."\n')
    assert err.message == "the model has no declarations, only its docstring"
    assert err.line == 2 and "state V = 0.0" in err.hint


@pytest.mark.parametrize("body, line, opener, at", [
    ("    switch s = true\n    if s:\n    state V = 0.0\n", 4, "if s:", 3),
    ("    state V = 0.0\n    after:\n    state W = 0.0\n", 4, "after:", 3),
    ("    state V = 0.0\n    after:\n        if V > 0:  # note\n\n        V = 1.0\n", 6,
     "if V > 0:", 4),
])
def test_a_block_whose_body_is_not_indented_says_so(body, line, opener, at):
    """The body of ``if V > 0:`` written at the same indentation said "'V' is not a
    keyword here; declarations start with param, state, ..."."""
    err = _error(EqsnnError, "neuron A\n" + body)
    assert err.message == f"expected an indented block after '{opener}' (line {at})"
    assert err.line == line and "indent the lines of the block" in err.hint


def test_a_neuron_class_instead_of_an_instance_is_a_parameter_error():
    """``Simulator(LeakyIntegrateFire, n)`` raised "TypeError: Neuron.build() missing 1
    required positional argument: 'self'"."""
    from eqsnn.neurons import LeakyIntegrateFire

    with pytest.raises(ParameterError, match="LeakyIntegrateFire is a neuron class") as info:
        eqsnn.Simulator(LeakyIntegrateFire, 2)
    assert "LeakyIntegrateFire()" in info.value.hint


def test_a_readout_class_instead_of_an_instance_says_to_call_it():
    from eqsnn.errors import LibraryError
    from eqsnn.neurons import LeakyIntegrateFire
    from eqsnn.readouts import SpikeCount

    with pytest.raises(LibraryError, match="string or a Readout object") as info:
        LeakyIntegrateFire(readout=SpikeCount)
    assert info.value.hint == "write SpikeCount(), an instance, not the class"


def test_a_model_name_given_to_the_simulator_points_to_load_and_the_library():
    with pytest.raises(ParameterError, match="got str 'leaky_integrate_fire'") as info:
        eqsnn.Simulator("leaky_integrate_fire", 2)
    assert "eqsnn.load(path)" in info.value.hint and "get_neuron(name)" in info.value.hint


@pytest.mark.parametrize("rhs, line", [("(" * 600 + "-V" + ")" * 600, 4),
                                       ("- " * 3000 + "V", 4)])
def test_a_model_too_deep_to_compile_names_the_line(rhs, line):
    """The error had no line: in a long file the user could not tell which expression.

    How deep a model can be depends on Python's recursion limit (1000 by default; IPython,
    which the notebook tests import, raises it to 3000, and there this model compiles), so
    the test runs under the default."""
    import sys

    text = f"neuron A\n    param p = 1.0\n    state V = 0.0\n    dV/dt = {rhs}\n"
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    try:
        err = _error(EqsnnError, text)
    finally:
        sys.setrecursionlimit(limit)
    assert err.message == "the model is nested too deeply to compile"
    assert err.line == line and err.column > 500 and "let" in err.hint


@pytest.mark.parametrize("text, line, column", [
    ("neuron A\n  state V = 0.0\n    dV/dt = -V\n", 3, 5),
    ("neuron A\n    state V = 0.0\n\n        dV/dt = -V\n", 4, 9),
])
def test_unexpected_indentation_is_placed_on_the_indented_line(text, line, column):
    """It was placed at the end of the line before (after a blank line: two lines off)."""
    err = _error(EqsnnError, text)
    assert err.message == "unexpected indentation" and (err.line, err.column) == (line, column)


@pytest.mark.parametrize("char, name", [("\u00a0", "NO-BREAK SPACE"),
                                        ("\u200b", "ZERO WIDTH SPACE")])
def test_an_invisible_character_is_named(char, name):
    """A no-break space pasted into a line got the hint for a dash or a times sign."""
    err = _error(EqsnnError, f"neuron A\n    state V{char}= 0.0\n")
    assert f"unexpected invisible character {char!r} ({name})" in str(err)
    assert err.hint == "replace it with a plain space, or delete it"


@pytest.mark.parametrize("decl, hint", [("state V [mV] = -65", "write it with its unit: '-65 mV'"),
                                        ("param g [mV/ms] = -2.5", "write '-2.5 [mV/ms]'")])
def test_a_negative_bare_number_under_a_unit_annotation_is_told_to_take_the_unit(decl, hint):
    """``state V [mV] = -65`` said "is a dimensionless value ... e.g. '1 mV'", where
    ``= 65`` said "has no unit; write it with its unit: '65 mV'"."""
    err = _error(CheckError, f"neuron A\n    {decl}\n")
    assert "has no unit" in err.message and err.hint == hint


@pytest.mark.parametrize("name", ["y", "g"])  # g: also a unit, whose hint misled
def test_a_condition_reading_a_blocks_let_is_told_it_is_not_visible(name):
    """A block's let read in the threshold got 'unknown name ... declare it with param,
    state, input or let' (or, for g, 'g is a unit'): the conditions are checked before the
    blocks, so the let was not known yet."""
    text = (f"neuron N\n    state V = 0.0\n    dV/dt = -V / 10.0\n    after:\n"
            f"        if V > 0:\n            let {name} = 1.0\n            V += {name}\n"
            f"    threshold: V > {name}\n")
    with pytest.raises(CheckError, match=f"local '{name}' is not visible here") as caught:
        eqsnn.compile(text)
    assert (caught.value.line, caught.value.column) == (8, 20)
    assert "defined at line 6 inside a block" in caught.value.hint
    assert "declare it outside the block" in caught.value.hint


def test_a_let_used_above_its_line_says_so():
    text = ("neuron N\n    state V = 0.0\n    dV/dt = -V / 10.0\n    after:\n"
            "        V += y\n        let y = 1.0\n")
    with pytest.raises(CheckError, match="local 'y' is used before its definition") as caught:
        eqsnn.compile(text)
    assert (caught.value.line, caught.value.column) == (5, 14)
    assert "defined at line 6" in caught.value.hint
