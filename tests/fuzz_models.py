"""Random but valid neuron models in eqsnn's language, for the differential fuzzer of
``test_backend_fuzz.py``.

:func:`fuzz_cases` draws a :class:`FuzzCase`: the model text and one population's params,
initial values and per-step inputs.  A model has 1-3 ODE states ``x0`` (the membrane, which
the threshold tests), ``x1``, ``x2``, whose right-hand sides are of one kind:

* ``linear``: a leak, couplings to the other states, constants, the input;
* ``conditionally linear``: each state's own coefficient and its forcing read the other
  states through functions (``tanh``, ``exp`` of a bounded argument, products);
* ``nonlinear``: any of those and the state itself inside ``exp``, ``x*x``, products,
  ``min``/``max``/``clip``, ``abs``, ``tanh``, ``sin``, ``sqrt``, ``log1p``.

The membrane may be AdEx-like (an exponential whose argument only the threshold bounds) or
quadratic, so that a fixed-step method can run away (a NumericalError) and the adaptive
method must locate crossings inside the step.  Around the ODEs: lets, params with one value
per neuron, an input, a threshold ``x0 >= th`` (and-ed with refractoriness or a counter
test), hard, soft and adapting resets, a refractory countdown with ``unless refractory``,
int counters, ``if`` statements in ``before:`` / ``after:``, declared state bounds, a
negative threshold, and named methods (``euler``, ``midpoint``, ``rk4``, ``adaptive`` with
tolerances, ``exponential_euler``, ``exact``) with ``substeps:``.  A model eqsnn refuses with
an EqsnnError is fine; the fuzzer only checks what runs.

``fuzz_cases("float32")`` draws the same models for a float32 run, and also what float32
makes special (:func:`_float32_extras`): a strict bound that is no float32 on a state the
model clamps right at it, numbers near the ends of float32's range (a cap near its
largest value, a subnormal nudge), an int counter that wraps past 2147483647, and now and
then a drive that overflows to inf (a NumericalError, the same on every backend).
Either precision may put a readout (``eqsnn.readouts``) on ``x0`` or ``x1``.

Two models in three also carry the operators of the expression reference at their edges
(:mod:`fuzz_expressions`): ``%`` and ``//`` of floats and ints with negative, zero and
huge operands, ``floor``/``ceil``, ``abs``, ``min``/``max``/``clip``, ``**``, ``sqrt``
and ``log`` where they give NaN, ``-0.0``, chained comparisons and ``if``s on int
conditions, in ``after:``, a let, an ODE, the threshold and the reset.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from fuzz_expressions import edge_parts
from hypothesis import strategies as st

KINDS = ("linear", "conditionally linear", "nonlinear")
#: readouts a case may carry (``eqsnn.readouts``)
READOUTS = ("spike_count", "first_spike_time", "var", "avg_var", "avg_var_exp_weight",
            "sum_var", "max_var")
METHODS = (None, None, None, None, "euler", "midpoint", "rk4", "adaptive",
           "adaptive(rtol=1e-6, atol=1e-8)", "adaptive(rtol=1e-10, atol=1e-12)",
           "exponential_euler", "exact")


@dataclass
class FuzzCase:
    """A model's text and the population it runs as."""

    text: str
    n: int
    batch: int
    steps: int
    dt: float
    params: dict = field(default_factory=dict)
    init: dict = field(default_factory=dict)
    inputs: dict = field(default_factory=dict)
    #: the threshold's value per neuron (x0 >= threshold), for the boundary exception
    threshold: np.ndarray | None = None
    #: where the run is cut into two runs (the second continues the first), or None
    split: int | None = None
    #: whether the model draws random numbers (xi, rand_*): GeNN draws its own
    random: bool = False
    #: the states recorded and compared (x0 first)
    states: tuple = ()
    precision: str = "float64"
    #: ``(readout, var)`` put on the model (``eqsnn.readouts.with_readout``), or None
    readout: tuple | None = None

    def _repr_pretty_(self, printer, cycle) -> None:  # what Hypothesis prints
        printer.text(repr(self))

    def __repr__(self) -> str:
        arrays = {k: f"{np.shape(v)} in [{np.min(v):.4g}, {np.max(v):.4g}]"
                  for k, v in {**self.params, **self.init, **self.inputs}.items()}
        return (f"FuzzCase({self.precision}, n={self.n}, batch={self.batch}, "
                f"steps={self.steps}, dt={self.dt}, split={self.split}, "
                f"readout={self.readout}, values={arrays})\n{self.text}")


def _number(draw, low: float, high: float) -> float:
    return round(draw(st.floats(low, high, allow_nan=False)), 3)


def _coefficient(draw, scale: float) -> float:
    """A number in ±[scale / 10, scale], never 0 (a term that is there acts)."""
    return draw(st.sampled_from([-1, 1])) * _number(draw, scale / 10, scale)


def _other(draw, i: int, k: int) -> str | None:
    others = [j for j in range(k) if j != i]
    return f"x{draw(st.sampled_from(others))}" if others else None


def _linear_terms(draw, i: int, k: int) -> list[str]:
    terms = []
    for j in range(k):
        if j != i and draw(st.booleans()):
            terms.append(f"{_coefficient(draw, 0.5)} * x{j}")
    if draw(st.booleans()):
        terms.append(f"{_coefficient(draw, 0.3)}")
    return terms


def _function_of(draw, name: str) -> str:
    """A bounded-ish function of one state (or a let).  The square saturates: ``x*x`` in
    the right-hand side of ``x`` itself, with a positive coefficient, blows up in finite
    time (no threshold resets it), which amplifies the last bit of a math function
    without bound, on every backend alike (the membrane's square has its hard reset)."""
    c = _number(draw, 0.2, 2.0)
    return draw(st.sampled_from([
        f"tanh({name})", f"exp(min({name}, 2.0))",
        f"{c} * {name} * {name} / (1.0 + {name} * {name})",
        f"clip({name}, -{c}, {c})", f"max({name}, 0.0)", f"min({name}, {c})", f"abs({name})",
        f"sin({name})", f"sqrt(1.0 + {name} * {name})", f"log1p({name} * {name})",
        f"exp(clip({name}, -3.0, 3.0))"]))


def _conditionally_linear_terms(draw, i: int, k: int) -> tuple[list[str], str]:
    """Forcing terms free of ``x{i}`` and an extra own coefficient (a factor of ``x{i}``)."""
    other = _other(draw, i, k)
    if other is None:  # one state: conditionally linear through t or the input
        return [f"{_number(draw, 0.1, 1.0)} * sin(t / {_number(draw, 1.0, 5.0)})"], \
            draw(st.sampled_from(["", f" * (1.0 + {_number(draw, 0.1, 0.9)} * tanh(I))"]))
    terms = [f"{_coefficient(draw, 0.5)} * {_function_of(draw, other)}"]
    coefficient = draw(st.sampled_from([
        "", f" * (1.0 + {_number(draw, 0.1, 0.9)} * tanh({other}))",
        f" * (1.0 + {other} * {other})", f" * exp(clip({other}, -1.0, 1.0))"]))
    return terms, coefficient


def _nonlinear_terms(draw, i: int, k: int, lets: list[str]) -> list[str]:
    names = [f"x{j}" for j in range(k)] + lets
    terms = []
    for _ in range(draw(st.integers(1, 2))):
        name = draw(st.sampled_from(names))
        terms.append(f"{_coefficient(draw, 0.5)} * {_function_of(draw, name)}")
    if k > 1 and draw(st.booleans()):  # damping (a growing product would run away)
        other = _other(draw, i, k)
        terms.append(f"-{_number(draw, 0.03, 0.3)} * x{i} * {other} * {other}")
    return terms


def _membrane(draw, kind: str) -> tuple[list[str], str]:
    """Extra terms of x0 that make it spike: AdEx-like, quadratic or none; and the kind of
    membrane for the threshold's range."""
    if kind != "nonlinear":
        return [], "leaky"
    shape = draw(st.sampled_from(["leaky", "exponential", "quadratic", "capped exponential"]))
    if shape == "exponential":
        return ["delta * exp((x0 - vt) / delta)"], shape
    if shape == "capped exponential":
        return ["delta * exp(min((x0 - vt) / delta, 8.0))"], shape
    if shape == "quadratic":
        return ["0.5 * x0 * x0"], shape
    return [], shape


@st.composite
def fuzz_cases(draw, precision: str = "float64") -> FuzzCase:  # noqa: C901 -- line by line
    k = draw(st.integers(1, 3))
    single = precision == "float32"
    kind = draw(st.sampled_from(KINDS))
    n = draw(st.sampled_from([3, 8, 24, 40, 600]))  # 600: past the c backend's first tile
    batch = draw(st.integers(1, 2))
    steps, dt = draw(st.integers(5, 60)), draw(st.sampled_from([0.1, 0.25, 0.5, 1.0]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    lines = ["neuron Fuzz"]
    params: dict = {}

    def param(name, value, constraint="", per_neuron=None):
        lines.append(f"    param {name} = {value}{constraint}")
        if per_neuron is not None and draw(st.booleans()):
            params[name] = value * rng.uniform(*per_neuron, n)

    for i in range(k):
        param(f"tau{i}", _number(draw, 1.0, 20.0), " (> 0)", (0.5, 1.5))
    param("th", _number(draw, 0.5, 2.0), "", (0.8, 1.2))
    param("vr", _number(draw, -1.0, 0.3))
    param("gain", _number(draw, 0.5, 3.0), "", (0.5, 1.5))
    membrane_terms, shape = _membrane(draw, kind)
    if shape in ("exponential", "capped exponential"):
        param("delta", _number(draw, 0.05, 0.5), " (> 0)")
        param("vt", _number(draw, 0.0, 0.8))
    refractory = draw(st.booleans())
    counter = draw(st.sampled_from([None, "after", "reset"]))
    bounded = draw(st.booleans())
    # float32: a strict bound that is no float32 (1000.0001 lies between two of them)
    limit = "1000.0001" if single and draw(st.booleans()) else "1000"
    clamp = _number(draw, 0.5, 2.0) if draw(st.integers(0, 3)) == 0 else None
    for i in range(k):
        bounds = f" (> -{limit}, < {limit})" if bounded and i == 0 else ""
        if i == 0 and clamp is not None and single and draw(st.booleans()):
            # x0 is clamped at -clamp in after: (below); a bound right there, non-strict
            # (rounded as the clamp's literal is) or strict just below it (no float32)
            bounds = draw(st.sampled_from([f" (>= -{clamp})", f" (> -{clamp + 1e-7!r})"]))
        lines.append(f"    state x{i} = {_coefficient(draw, 0.5)}{bounds}")
    if refractory:
        param("tref", _number(draw, 0.0, 3.0), " (>= 0)", (0.5, 1.5))
        lines.append("    state R = 0.0")
        lines.append("    refractory: R > 0")
    # float32 draws at the ends of its range (_float32_extras)
    wrapping = bool(counter) and single and draw(st.booleans())
    if counter:  # one that wraps past 2147483647 within the run, the same everywhere
        lines.append(f"    state n: int = {2147483647 - 20 if wrapping else 0}")
    lines.append(f"    input I = {_number(draw, 0.0, 1.0)}")
    # the expression reference's operators at their edges (fuzz_expressions.py)
    edges = edge_parts(draw, single, k, n, steps, batch, rng) if draw(st.integers(0, 2)) else None
    if edges:
        lines += [f"    {line}" for line in edges.declarations]
    lets: list[str] = []
    if draw(st.booleans()):
        source = f"x{draw(st.integers(0, k - 1))}"
        lines.append(f"    let l0 = {_function_of(draw, source)}")
        lets.append("l0")
    frozen = refractory and draw(st.booleans())
    noisy = draw(st.integers(0, 9)) == 7  # white noise: RK4 / Euler-Maruyama or exact OU
    for i in range(k):
        leak = f"-x{i} / tau{i}"
        terms: list[str] = []
        coefficient = ""
        if kind == "linear":
            terms = _linear_terms(draw, i, k)
        elif kind == "conditionally linear":
            terms, coefficient = _conditionally_linear_terms(draw, i, k)
            terms += _linear_terms(draw, i, k) if draw(st.booleans()) else []
        else:
            terms = _nonlinear_terms(draw, i, k, lets if i else [])
        if i == 0:
            terms = membrane_terms + terms + ["gain * I"]
        if counter and i == k - 1 and draw(st.booleans()):
            # an int state read by an ODE (a wrapping one scaled down: it reads 2^31)
            terms.append(f"{1e-9 if wrapping else 0.01} * n")
        if edges and edges.ode_term and i == k - 1:
            terms.append(edges.ode_term)
        if noisy and i == k - 1:
            terms.append(f"{_number(draw, 0.05, 0.3)} * xi")
        rhs = " + ".join([f"{leak}{coefficient}"] + terms)
        unless = " unless refractory" if frozen else ""
        lines.append(f"    dx{i}/dt = {rhs}{unless}")
    method = draw(st.sampled_from(METHODS if kind == "linear" else METHODS[:-1]))
    if method is not None:
        lines.append(f"    method: {method}")
        if method in ("euler", "midpoint", "rk4") and draw(st.booleans()):
            lines.append(f"    substeps: {draw(st.integers(2, 4))}")
    after: list[str] = []
    before: list[str] = []
    if refractory:
        after.append("if refractory: R -= dt")
    if counter == "after":
        after.append("n += 1")
    if k > 1 and draw(st.booleans()):
        c = _number(draw, 0.5, 2.0)
        after += [f"if x1 > {c}:", f"    x1 -= {_number(draw, 0.1, 1.0)}",
                  f"elif x1 < -{c}:", f"    x1 = -{c}"]
    if lets and draw(st.booleans()):
        after.append(f"x{k - 1} += 0.01 * l0")
    drawing = draw(st.integers(0, 4)) == 3  # random draws in after: (not in an ODE)
    if drawing:
        after += draw(st.sampled_from([[f"x{k - 1} += 0.05 * rand_normal()"],
                                       ["if rand_uniform() < 0.2:", "    x0 += 0.1"]]))
    if draw(st.booleans()):
        before.append(f"x0 += {_number(draw, 0.0, 0.2)} * I")
    if clamp is not None:
        after.append(f"x0 = max(x0, -{clamp})")
    if edges:
        after += edges.after
    if single:
        before += _float32_extras(draw, param)
    for name, block in (("before", before), ("after", after)):
        if block:
            lines.append(f"    {name}:")
            lines += [f"        {line}" for line in block]
    condition = draw(st.sampled_from(["x0 >= th", "x0 > th", "th <= x0"]))
    if refractory and draw(st.booleans()):
        condition += " and not refractory"
    if counter and draw(st.booleans()):
        condition += " and n < 1000"
    if edges and edges.condition and shape == "leaky":
        # a conjunct can hold a spike back: an exponential or quadratic membrane would then
        # run away (a NumericalError, after which exp's last bit is amplified without bound)
        condition += f" and {edges.condition}"
    lines.append(f"    threshold: {condition}")
    # a soft reset cannot hold an exponential or quadratic membrane that runs away past
    # the threshold: its growth amplifies the last bit of a math function without bound
    # (as any exploding state does), so those reset hard, as AdEx's and Izhikevich's do
    soft = ["x0 -= th - vr"] if shape == "leaky" else []
    reset = [draw(st.sampled_from(["x0 = vr"] + soft + (
        [f"x0 = vr + {_coefficient(draw, 0.2)} * x1"] if k > 1 else [])))]
    if k > 1 and draw(st.booleans()):
        reset.append(f"x1 += {_coefficient(draw, 0.5)}")
    if refractory:
        reset.append("R = tref")
    if counter == "reset":
        reset.append("n += 1")
    if edges:
        reset += edges.reset
    lines.append("    reset:")
    lines += [f"        {line}" for line in reset]
    if draw(st.integers(0, 4)) == 0:
        lines += ["    negative threshold: x0 <= -th", "    negative reset: x0 += th"]
    text = "\n".join(lines) + "\n"
    init = {f"x{i}": rng.uniform(-0.5, 1.0, (batch, n)) for i in range(k)
            if draw(st.booleans())}
    drive = _number(draw, 0.5, 3.0)
    if single and draw(st.integers(0, 9)) == 7:  # not 0, which Hypothesis favours
        drive = 1e37  # valid float32 inputs whose update overflows to inf
    held = draw(st.integers(0, 3)) == 0
    inputs = {"I": rng.uniform(-0.2, 1.0, (batch, n) if held else (steps, batch, n)) * drive}
    if edges:
        params.update(edges.params)
        inputs.update(edges.inputs)
    split = draw(st.integers(1, steps - 1)) if draw(st.integers(0, 2)) == 0 else None
    threshold = np.broadcast_to(params.get("th", _param_default(lines, "th")), (n,))
    # float64 states agree within 1e-9, not bit for bit: a sum or mean of them could cancel
    # to below that, so float64 draws the readouts that pick a value or count spikes
    readouts = READOUTS if single else ("spike_count", "first_spike_time", "var", "max_var")
    readout = draw(st.sampled_from([None, None, *readouts]))
    return FuzzCase(text, n, batch, steps, dt, params, init, inputs,
                    np.array(threshold, float), split,
                    states=tuple(f"x{i}" for i in range(k)) + (("R",) if refractory else ())
                    + (("n",) if counter else ()) + (edges.states if edges else ()),
                    random=noisy or drawing,
                    precision=precision,
                    readout=readout and (readout, f"x{draw(st.integers(0, min(k, 2) - 1))}"))


def _float32_extras(draw, param) -> list[str]:
    """``before:`` statements with numbers at the ends of float32's range, each valid: a
    clip at a cap near float32's largest value (per neuron, now and then a value past it,
    which the Simulator rejects on every backend alike), and a subnormal nudge."""
    before = []
    if draw(st.booleans()):
        past = draw(st.integers(0, 4)) == 0
        param("cap", float(f"{draw(st.floats(1.5e38, 3.4e38)):.6g}"), " (> 0)",
              (1.2, 2.5) if past else (0.5, 1.0))
        before.append("x0 = clip(x0, -cap, cap)")
    if draw(st.booleans()):
        tiny = draw(st.sampled_from([1e-40, 1.4e-45, 1.1754942e-38, 3e-39]))
        param("tiny", tiny, " (>= 0)")
        before.append("x0 += tiny * gain")
    return before


def _param_default(lines: list[str], name: str) -> float:
    for line in lines:
        words = line.split()
        if words[:2] == ["param", name]:
            return float(words[3])
    raise KeyError(name)
