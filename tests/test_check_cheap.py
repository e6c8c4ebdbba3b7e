"""The numerical check's cheap test on ``c`` (``eqsnn.printing.c_check``) misses nothing.

On ``c`` a state tested in every step (one with bounds, or any state of a model
that draws) is first folded per tile into a few integers; only a tile where they
fail runs its steps again with the exact check.  These tests place values at the
edges of every kind of bound (magnitude, sign split, order key; float32 bounds
rounded as ``runtime/float32_bounds``; NaN of either sign, infinities, -0.0) in
mid-tile neurons and compare the reported first step, neuron, state, cause and
count with a plain NumPy loop, on every backend; and they check that the run
that failed gives the same numbers as one without the check.
"""

from __future__ import annotations

import operator

import numpy as np
import pytest
from test_check_network import BACKENDS
from test_check_paths import PATHS, drawn, simulator

import eqsnn
from eqsnn.errors import NumericalError
from eqsnn.network import Delta, Network
from eqsnn.runtime.float32_bounds import kernel_bounds

# V is set from the inputs in every step: I*g (g = 2 with I = +-max makes +-inf), or
# log(I) where q > 0 (NaN for I = -1), its magnitude where p > 0 too (a NaN made positive):
# no fast_math rewriting can fold these
EDGE = """
neuron Edge
    state n: int = 0
    state V = {safe} {bounds}
    input I = {safe}
    input g = 1.0
    input p = 0.0
    input q = 0.0
    after:
        n += 1
        if q > 0:
            if p > 0:
                V = abs(log(I))
            else:
                V = log(I)
        else:
            V = I * g
"""

_OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}

# (bounds as written, ((op, bound), ...), a value inside them)
BOUNDS = [
    ("(> -1000, < 1000)", ((">", -1000.0), ("<", 1000.0)), 0.5),  # magnitude
    ("(>= -1000, <= 1000)", ((">=", -1000.0), ("<=", 1000.0)), 0.5),
    ("(> -1000, <= 1000)", ((">", -1000.0), ("<=", 1000.0)), 0.5),
    ("(> -100, < 1000)", ((">", -100.0), ("<", 1000.0)), 0.5),  # sign split
    ("(>= -100, <= 1000.5)", ((">=", -100.0), ("<=", 1000.5)), 0.5),
    ("(> -0.1, < 0.3)", ((">", -0.1), ("<", 0.3)), 0.25),  # no float32 on the bounds
    ("(> 0.1, < 1000)", ((">", 0.1), ("<", 1000.0)), 0.5),  # order key
    ("(>= 0, <= 1)", ((">=", 0.0), ("<=", 1.0)), 0.5),
    ("(> 0)", ((">", 0.0),), 0.5),
    ("(< 0)", (("<", 0.0),), -0.5),
    ("(<= -0.5)", (("<=", -0.5),), -0.75),
    ("(> -1e-50, < 1)", ((">", -1e-50), ("<", 1.0)), 0.5),  # float32: >= -0.0
    ("(>= 1e-30, < 1e30)", ((">=", 1e-30), ("<", 1e30)), 0.5),
]


def passes(value: float, bounds) -> bool:
    """Whether a state of value ``value`` passes the check (the bounds as reals)."""
    return bool(np.isfinite(value)) and all(_OPS[op](float(value), b) for op, b in bounds)


def edge_values(bounds, precision: str) -> list[float]:
    """Values of ``precision`` on and next to each bound, and the special ones."""
    dtype = np.dtype(precision).type
    tiny, big = np.finfo(dtype).smallest_subnormal, np.finfo(dtype).max
    values = [0.0, -0.0, float(tiny), -float(tiny), float(big), -float(big)]
    for _, b in bounds:
        with np.errstate(over="ignore"):
            r = dtype(b)
        for x in (np.nextafter(np.nextafter(r, dtype(-np.inf)), dtype(-np.inf)),
                  np.nextafter(r, dtype(-np.inf)), r, np.nextafter(r, dtype(np.inf)),
                  np.nextafter(np.nextafter(r, dtype(np.inf)), dtype(np.inf))):
            if np.isfinite(x):
                values.append(float(x))
    return values


TILE = 512  # neurons in a tile of the c backend's run loop (c_run_loop.tile_size)


def edge_inputs(values, precision: str, steps: int, safe: float):
    """``(inputs, placed, n)``: inputs placing each of ``values``, then +inf, -inf, NaN and
    +NaN, inside a tile of its own (where no other value can make the tile run again with
    the exact check), at a step from 1 to 6 (latest first, so the first failure is not
    simply the first neuron); the values the state takes, by (step, neuron), for the
    oracle; the number of neurons."""
    big = float(np.finfo(precision).max)
    specials = [(big, 2.0, 0.0, 0.0), (-big, 2.0, 0.0, 0.0), (-1.0, 1.0, 0.0, 1.0),
                (-1.0, 1.0, 1.0, 1.0)]
    cases = [(v, 1.0, 0.0, 0.0) for v in values] + specials
    n = TILE * (len(cases) + 1)
    inputs = {name: np.zeros((steps, n), precision) for name in "Igpq"}
    inputs["I"][:] = safe
    inputs["g"][:] = 1.0
    placed = {}
    for m, case in enumerate(cases):
        step, neuron = 6 - m % 6, TILE * (m + 1) - 100 - 37 * (m % 5)
        for name, value in zip("Igpq", case):
            inputs[name][step, neuron] = value
        placed[(step, neuron)] = (np.nan if case[3] else np.copysign(np.inf, case[0])) if (
            m >= len(values)) else case[0]
    return {k: v[:, None] for k, v in inputs.items()}, placed, n


def first_failures(placed, bounds):
    """The oracle: ``(step, neuron, count, nonfinite)`` of the first failing value (by step,
    then neuron) and the number of neurons that fail."""
    failing = sorted(key for key, value in placed.items() if not passes(value, bounds))
    step, neuron = failing[0]
    return step, neuron, len(failing), not np.isfinite(placed[(step, neuron)])


@pytest.mark.parametrize("precision", ["float32", "float64"])
@pytest.mark.parametrize("path", PATHS[:4])
@pytest.mark.parametrize("written, bounds, safe", BOUNDS, ids=[b[0] for b in BOUNDS])
def test_values_at_the_edges_of_the_bounds_are_judged_as_the_bounds_say(
        path, precision, written, bounds, safe):
    steps = 8
    text = EDGE.format(safe=safe, bounds=written)
    values = edge_values(bounds, precision)
    inputs, placed, n = edge_inputs(values, precision, steps, safe)
    if written == "(> -1e-50, < 1)":  # float32: >= -0.0 (float32_bounds)
        assert passes(-0.0, bounds) and passes(values[3], bounds) == (precision == "float64")
    step, neuron, count, nonfinite = first_failures(placed, bounds)
    with simulator(path, text, n, precision=precision) as sim:
        if path in ("c", "c-fast"):
            assert "eqsnn_run_tile" in sim.source.text and "_exact" in sim.source.text
        with pytest.raises(NumericalError) as caught:
            sim.run(steps, inputs=inputs, record=["V"])
    error = caught.value
    assert (error.state, error.step, error.lane, error.neuron, error.count, error.cause) == (
        "V", step, 0, neuron, count, "update")
    kind = "became NaN or infinite" if nonfinite else "left its bounds"
    assert str(error).startswith(f"V {kind}") and f" at step {step} (" in str(error)
    # the recorded values are the inputs' (the check changed none of them)
    recorded = error.result.vars["V"][:, 0]
    for (k, j), value in placed.items():
        assert np.array_equal(recorded[k, j], np.array(value, precision), equal_nan=True), (k, j)


# a LIF-like model whose input can push V out of its bounds, above (reset in the same
# step: only the update was bad) or below (it stays out); v_reset per neuron
LIF = """
neuron BoundedLif
    param v_thresh = 1.0
    param v_reset = 0.0
    param tau = 20.0 (> 0)
    state V = 0.0 (> -1000, < 1000)
    input Isyn = 0.0
    dV/dt = -V / tau
    after: V += Isyn
    threshold: V >= v_thresh
    reset: V = v_reset
"""


def lif_oracle(current, v_reset, dt=1.0, tau=20.0, precision="float64"):
    """Plain loop: ``(step, neuron, cause)`` of every neuron's first failure."""
    dtype = np.dtype(precision).type
    decay = dtype(np.exp(-dt / tau))
    v = np.zeros(current.shape[1], dtype)
    first = {}
    for k, row in enumerate(current.astype(dtype)):
        v = v * decay + row
        pre = v.copy()
        spike = v >= dtype(1.0)
        v = np.where(spike, np.asarray(v_reset, dtype), v)
        for j in np.flatnonzero(~((pre > -1000) & (pre < 1000))):
            first.setdefault(int(j), (k, "update"))
        for j in np.flatnonzero(~((v > -1000) & (v < 1000))):
            first.setdefault(int(j), (k, "reset"))
    return first


def _first(first):
    (neuron, (step, cause)) = min(first.items(), key=lambda item: (item[1][0], item[0]))
    return step, neuron, cause, len(first)


def _lif_run(path, current, v_reset, threads=None, check=True):
    n = current.shape[1]
    with simulator(path, LIF, n, precision="float64", params={"v_reset": v_reset},
                   check=check) as sim:
        if threads is not None:
            sim._runner.threads = threads
        try:
            result = sim.run(len(current), inputs={"Isyn": current[:, None]},
                             record=["V", "spikes"])
        except NumericalError as error:
            return error, error.result
        return None, result


@pytest.mark.parametrize("path", PATHS)
def test_a_mid_tile_neuron_that_leaves_its_bounds_first_is_named_not_a_later_one(path):
    n, steps = 1500, 20
    current = np.full((steps, n), 0.06)
    current[7, 700] = -5000.0  # below: stays out (decays slowly)
    current[12, 100] = -3000.0  # a later step, an earlier neuron and tile
    current[4, 1400] = 5000.0  # above, reset at once: the update's doing
    v_reset = np.zeros(n)
    first = lif_oracle(current, v_reset)
    assert _first(first) == (4, 1400, "update", 3)
    error, result = _lif_run(path, current, v_reset)
    assert error is not None
    assert (error.state, error.step, error.neuron, error.count, error.cause) == (
        "V", 4, 1400, 3, "update")
    assert "V left its bounds (> -1000, < 1000) at step 4" in str(error)
    # the same numbers as a run without the check
    _, plain = _lif_run(path, current, v_reset, check=False)
    assert np.array_equal(result.vars["V"], plain.vars["V"])
    assert np.array_equal(result.spikes.bits, plain.spikes.bits)


@pytest.mark.parametrize("path", PATHS)
def test_a_reset_that_assigns_a_value_out_of_the_bounds_is_named_as_the_reset(path):
    n, steps = 1200, 30
    current = np.full((steps, n), 0.01)
    current[:, 600] = 0.2  # spikes first at step 4
    current[:, 1100] = 0.3  # spikes at step 3, reset to a fine value
    current[20, 50] = 1500.0  # the update, later
    v_reset = np.zeros(n)
    v_reset[600] = 2000.0
    step = lif_oracle(current, v_reset)[600][0]
    # the next update brings it back (2000 * exp(-1/20) - 1902 = 0.5): only the state
    # after the reset of that step is out of its bounds
    current[step + 1, 600] = -1902.0
    first = lif_oracle(current, v_reset)
    assert _first(first) == (step, 600, "reset", 2)
    error, _ = _lif_run(path, current, v_reset)
    assert (error.step, error.neuron, error.count, error.cause) == (step, 600, 2, "reset")
    assert -1000 < error.result.vars["V"][step + 1, 0, 600] < 1000
    assert "the reset made it so" in str(error)


@pytest.mark.c
@pytest.mark.parametrize("threads", [1, 2])
def test_two_threads_name_the_same_first_failure_as_one(threads):
    n, steps = 6000, 60  # 360,000 neuron-steps: past the c backend's PARALLEL_WORK
    current = np.full((steps, n), 0.03)
    for k, j in ((40, 5900), (41, 10), (40, 3000), (55, 512)):
        current[k, j] = 4000.0 if j % 2 else -4000.0
    v_reset = np.zeros(n)
    first = lif_oracle(current, v_reset)
    assert _first(first)[:2] == (40, 3000)
    error, result = _lif_run("c", current, v_reset, threads=threads)
    assert (error.step, error.neuron, error.count, error.cause) == (40, 3000, 4, "update")
    reference, _ = _lif_run("numpy", current, v_reset)
    assert np.array_equal(result.vars["V"], reference.result.vars["V"])


@pytest.mark.parametrize("path", PATHS[:4])
def test_a_model_that_draws_is_checked_by_the_cheap_test_and_its_draws_repeat(path):
    """A model that draws defers no test: V (no bounds) is tested in every step; the run
    again of a failing tile draws the same numbers (a counter-based generator)."""
    text = drawn(EDGE.format(safe=0.5, bounds=""))
    steps = 8
    inputs, placed, n = edge_inputs([0.5, -0.25], "float64", steps, 0.5)
    step, neuron, count, _ = first_failures(placed, ())
    with simulator(path, text, n, precision="float64") as sim:
        with pytest.raises(NumericalError) as caught:
            sim.run(steps, inputs=inputs, record=["u", "V"])
    error = caught.value
    assert (error.step, error.neuron, error.count) == (step, neuron, count)
    with simulator(path, text, n, precision="float64", check=False) as sim:
        plain = sim.run(steps, inputs=inputs, record=["u", "V"])
    assert np.array_equal(error.result.vars["u"], plain.vars["u"])
    assert np.array_equal(error.result.vars["V"], plain.vars["V"], equal_nan=True)


@pytest.mark.parametrize("fuse", [True, False])
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_network_population_that_leaves_its_bounds_for_one_update_is_named(backend, fuse):
    """A population with bounds in a network (run one step a call): a neuron whose V goes
    past its bound in the update of one step and is reset in the same step."""
    n = 1000
    net = Network(dt=1.0, precision="float64", backend=backend)
    net._fuse = fuse
    src = net.add_spike_source("s", 2, steps=[3, 6], neurons=[0, 1])
    net.add_population("p", eqsnn.compile(LIF), n)
    weight = np.zeros((2, n))
    weight[0, 700] = 5000.0  # arrives at step 4: V = 5000, spikes, reset to 0
    weight[1, 20] = -5000.0  # arrives at step 7: stays below
    net.connect(src, "p", Delta(), weight=weight, delay=1)
    with pytest.raises(NumericalError) as caught:
        net.run(10, record={"p": ["V"]})
    error = caught.value
    assert (error.population, error.state, error.step, error.neuron, error.count,
            error.cause) == ("p", "V", 4, 700, 2, "update")
    assert error.result["p"].vars["V"][4, 0, 700] == 0.0  # reset: the numbers stand


def test_the_cheap_test_thresholds_hold_every_passing_value_and_no_failing_one():
    """The integers the C code compares, computed in Python from each value's bits, for
    every edge value: a value that fails a bound is past the threshold (no miss); one that
    passes is not, except within one value of a bound that is not strict on one side but
    is on the other (a false alarm costs the exact run, never a result)."""
    from eqsnn.printing import c_check

    for precision in ("float32", "float64"):
        dtype = np.dtype(precision).type
        for written, bounds, safe in BOUNDS:
            model = eqsnn.compile(EDGE.format(safe=safe, bounds=written))
            state = next(s for s in model.ir.states if s.name == "V")
            kernel = dict(kernel_bounds([state], precision))["V"]
            tests = [(0, "V", ()), (1, "V", kernel)]
            (test,) = c_check.cheap_tests(tests, (), precision)
            values = edge_values(bounds, precision) + [np.inf, -np.inf, np.nan, -np.nan]
            values += [float(np.array(b, dtype)) for _, b in bounds]
            for value in values:
                x = dtype(value)
                bits = c_check._bits(float(x), precision)
                if test.kind == "magnitude":
                    fired = c_check.magnitude(float(x), precision) >= test.high
                elif test.kind == "split":
                    width = np.dtype(precision).itemsize * 8
                    signed = bits - (1 << width) if bits >> (width - 1) else bits
                    fired = bits >= test.low or signed >= test.high
                else:
                    key = c_check.order_key(float(x), precision)
                    fired = key <= test.low or key >= test.high
                ok = passes(float(x), kernel)
                assert fired or ok, (precision, written, value, test)
                if fired and ok:  # a false alarm: only at a bound of mixed strictness
                    assert written == "(> -1000, <= 1000)" and abs(float(x)) == 1000.0



# five states with bounds: more than the 16 KiB a tile keeps on the stack (the copy of the
# tile's states is allocated); the smallest failing state of a neuron is named
MANY = """
neuron Many
    state x1 = 0.0 (> -10, < 10)
    state x2 = 0.0 (> -10, < 10)
    state x3 = 0.0 (> -10, < 10)
    state x4 = 0.0 (> -10, < 10)
    state x5 = 0.0 (> -10, < 10)
    input I = 0.0
    after:
        x1 = I
        x2 = 2 * I
        x3 = 3 * I
        x4 = 4 * I
        x5 = 5 * I
"""


@pytest.mark.parametrize("path", PATHS[:4])
def test_many_states_with_bounds_name_the_first_failing_state_of_the_first_neuron(path):
    n, steps = 1600, 9
    current = np.full((steps, n), 0.5)
    current[4, 700] = 3.0  # x4 = 12, x5 = 15: x4 is named (the smaller code)
    current[6, 1500] = 2.5  # x5 = 12.5 only
    current[4, 900] = -2.4  # x5 = -12 only, a later neuron of the same step
    with simulator(path, MANY, n, precision="float32") as sim:
        if path in ("c", "c-fast"):
            assert "malloc(" in sim.source.text
        with pytest.raises(NumericalError) as caught:
            sim.run(steps, inputs={"I": current[:, None]}, record=["x5"])
    error = caught.value
    assert (error.state, error.step, error.neuron, error.count) == ("x4", 4, 700, 3)
    assert error.result.vars["x5"][6, 0, 1500] == np.float32(12.5)


# V with bounds (tested in every step) and a conductance g that stays infinite once it is
# (its test waits for the second pass): on c the second pass folds g too
MIXED = """
neuron Mixed
    param tau = 20.0 (> 0)
    state V = 0.0 (> -1000, < 1000)
    state g = 0.0
    input Isyn = 0.0
    input k = 1.0
    dV/dt = -V / tau
    after:
        g = g * k + 1.0
        V += Isyn
    threshold: V >= 1
    reset: V = 0.0
"""


@pytest.mark.parametrize("path", PATHS)
def test_a_state_tested_in_the_second_pass_beside_one_with_bounds_is_found(path):
    n, steps = 1300, 10
    gain = np.ones((steps, n))
    gain[2:4, 600] = 1e200  # g: 1e200 at step 2, inf at step 3, and stays so
    current = np.full((steps, n), 0.01)
    current[6, 100] = -3000.0  # V below its bounds at step 6, an earlier tile
    with simulator(path, MIXED, n, precision="float64") as sim:
        assert "check_all" in sim.source.text or path == "pygenn"
        with pytest.raises(NumericalError) as caught:
            sim.run(steps, inputs={"Isyn": current[:, None], "k": gain[:, None]})
    error = caught.value
    assert (error.state, error.step, error.neuron, error.count) == ("g", 3, 600, 2)
    assert "g became NaN or infinite at step 3" in str(error)


@pytest.mark.parametrize("path", PATHS[:4])
def test_states_named_as_the_cheap_tests_integers_compile_and_are_checked(path):
    """The step's parameters of the cheap test are named apart from the states' pointers
    (a state ``cm0`` has the pointer ``_p_cm0``)."""
    text = """
neuron Names
    state cm0 = 0.0 (> -1, < 1)
    state cl1 = 0.5 (> 0, < 1)
    state cu2 = 0.0 (> -1, < 2)
    input I = 0.0
    after:
        cm0 = I
        cl1 = I + 0.5
        cu2 = I
"""
    current = np.zeros((5, 600))
    current[3, 550] = 0.75  # cl1 = 1.25 only
    with simulator(path, text, 600, precision="float64") as sim:
        with pytest.raises(NumericalError) as caught:
            sim.run(5, inputs={"I": current[:, None]})
    assert (caught.value.state, caught.value.step, caught.value.neuron) == ("cl1", 3, 550)
