"""C99 / CUDA printer: one model's step as a per-neuron C function.

The ``c`` and ``cupy`` backends share everything printed here; only the loop
around the function differs (a tiled, OpenMP-parallel loop on the CPU, a
``__global__`` kernel on the GPU).  :func:`print_step_function` prints

    EQSNN_FN int eqsnn_neuron_step(FLOAT *_p_V, ..., inputs, values, arrays,
                                   FLOAT t, int step, int id, int batch,
                                   unsigned int _seed_lo, unsigned int _seed_hi)

which advances one neuron of one lane by one step, states in and out through
pointers, and returns ``1`` for a spike, ``2`` for a negative spike, else
``0``.  ``EQSNN_FN`` is ``static inline`` in C and
``static __device__ __forceinline__`` in CUDA (see :func:`prelude`).

Every expression is printed from :func:`eqsnn.printing.lower.lower`, one op
per ``const`` temporary, in list order, so the arithmetic is evaluated in the
same order as in the ``numpy`` backend and, with multiply-add contraction
off, gives the same bits.  The statement semantics follow the ``numpy``
backend: an ``if`` tests its condition once and runs its body or its
``else``; locals live to the end of the step (declared up front, zero
initialised); the threshold is tested on the updated state, the negative
threshold only where the threshold does not hold; ``reset`` runs where a
spike fired, ``negative_reset`` where a negative one did.

Identifiers, literals and function names come from :mod:`eqsnn.printing.c_printer`:
function names from SymPy's :class:`~sympy.printing.c.C99CodePrinter`
(with the ``float32`` type alias: ``sqrtf``, ``floorf``, ...); in float32 the
:data:`~eqsnn.printing.ops.WIDE_FUNCTIONS` are the double functions on the
widened value, rounded back (``(float)exp((double)x)``), as the numpy
backend computes them, unless ``wide_math`` is off (``fast_math``); ``min``
and ``max`` are selects that ignore a NaN argument, as ``fmin``/``fmax``.  Float literals are
the float64 constant rounded to the precision first and printed exactly
(``0.1f`` is the float nearest to the double ``0.1``), so no other double
arithmetic enters float32 code.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from .. import ir
from ..runtime.checks import (
    CHECK_CODE,
    CHECK_STEP,
    check_tests,
    deferred_states,
    reset_check_tests,
    split_checks,
)
from ..runtime.reset_checks import split_reset_checks
from . import c_check
from .c_check_lines import CheckLines
from .c_deferred import TRY_ERROR, deferred_step, rare_branch, try_error
from .c_exact import ExactExp
from .c_expression_lines import ExpressionLines
from .c_ops import UNIFORM_FUNCTION, uniform_function_text
from .c_prelude import VECTOR_MATH_DECLARATIONS, VECTOR_MATH_FUNCTIONS, prelude
from .c_printer import STORAGE_TYPES, VALUE_TYPES, CPrinter, c_names
from .ops import WIDE_FUNCTIONS

__all__ = [
    "StepFunction", "prelude", "print_step_function",
    "VECTOR_MATH_DECLARATIONS", "VECTOR_MATH_FUNCTIONS",
    "STEP_FUNCTION", "UNIFORM_FUNCTION", "WIDE_FUNCTIONS", "FAST_STEP_FUNCTION", "DEFERRED",
]

#: the name of the per-neuron step function
STEP_FUNCTION = "eqsnn_neuron_step"
#: the step without the adaptive method's substep loop (see :class:`StepFunction`): free of
#: loops, so the compiler vectorises the neuron loop around it
FAST_STEP_FUNCTION = "eqsnn_neuron_step_fast"
#: what :data:`FAST_STEP_FUNCTION` returns where the neuron needs the loop: a spike and a
#: negative spike at once, which no step returns (bits 2 to 7 hold the numerical check)
DEFERRED = 3
_BUILTIN_PARAMETERS = ("const FLOAT t", "const int step", "const int id", "const int batch",
                       "const unsigned int _seed_lo", "const unsigned int _seed_hi")


@dataclass(frozen=True)
class StepFunction:
    """The printed step function; its parameters are the states (pointers), inputs,
    values and arrays (each followed by its length) in the order given, then the
    built-ins ``t step id batch _seed_lo _seed_hi``, then the ``uniforms``.

    ``uniforms`` are the ops whose value is the same for every neuron of a step
    (they read only ``t``, ``step``, constants and the ``uniform`` values): they
    are computed once per step by :data:`UNIFORM_FUNCTION`, ``uniform_text``,
    whose parameters are ``t step``, the uniform values in the order given,
    then a pointer to each uniform; the loop passes them to every neuron.
    """

    text: str
    helpers: frozenset = frozenset()  # what :func:`prelude` must define
    uniforms: tuple = ()  # (C type, name) of each value computed once per step
    uniform_text: str = ""  # the function computing them ("" when there are none)
    #: whether the numerical check's code (the smallest failing code + 1, 0 if none) is
    #: returned in bits 2 to 7 of the flags instead of recorded in the hidden check states,
    #: which the function then neither reads nor writes (see :func:`print_step_function`)
    check_flags: bool = False
    #: :data:`FAST_STEP_FUNCTION` ("" when the step has no adaptive loop): the step without
    #: its loop, returning :data:`DEFERRED` (states untouched) where the loop would run
    fast_text: str = ""
    #: the full step in three parts for the neurons :data:`FAST_STEP_FUNCTION` deferred, run
    #: across them in vectorised loops (:class:`eqsnn.printing.c_deferred.DeferredStep`)
    deferred: object = None
    #: the check's cheap test of each tested state (:mod:`eqsnn.printing.c_check`), where
    #: the step takes ``_exact`` and the integers it folds its states into: with ``_exact``
    #: 0 it records no code, and the loop runs the tile again exactly where they fail
    cheap: tuple = ()

#: the largest check code + 1 that bits 2 to 7 of the returned flags hold
_FLAG_CODES = 63


def print_step_function(model: ir.Model, precision: str, values, arrays,
                        uniform=frozenset(), wide_math: bool = True,
                        check_flags: bool = False) -> StepFunction:
    """Print the step of ``model`` as :data:`STEP_FUNCTION`.

    ``values`` is the ordered ``(name, dtype)`` of every param, runtime param,
    precompute value and ``dt``; ``arrays`` the ordered ``(name, dtype)`` of
    the data arrays; ``uniform`` names the values that are one value for all
    neurons, so ops reading only those (and ``t``, ``step``, constants) are
    computed once per step (:attr:`StepFunction.uniforms`); ``wide_math`` (off under
    fast_math) prints float32 :data:`WIDE_FUNCTIONS` in double, rounded to float.

    With ``check_flags``, a model with the numerical check of :mod:`eqsnn.runtime.checks`
    (and at most 31 float states) has it printed without branches: the function returns the
    smallest failing code + 1 in bits 2 to 7 of its flags, and the hidden check states are
    no parameters; the loop around it records the step and code where that is not 0
    (:attr:`StepFunction.check_flags`).  NaN and inf are found from the exponent bits, so
    no compiler flag can fold the test away.
    """
    tests = None
    body_step, check = split_checks(model)
    resets = {}
    if check_flags and check:
        tests = check_tests(model)
        resets = {block: reset_check_tests(model, block)
                  for block in ("reset", "negative_reset")}
        if max(code for code, _, _ in tests + sum(resets.values(), [])) + 1 > _FLAG_CODES:
            tests = None  # too many states: the check's statements record it
    if tests is not None:
        reset, _, negative, _ = split_reset_checks(model)
        model = model.replace(step=body_step, reset=reset, negative_reset=negative,
                              states=tuple(s for s in model.states
                                           if s.name not in (CHECK_STEP, CHECK_CODE)))
    scalars = [(name, dtype) for name, dtype in values if name in uniform]
    body = _StepBody(model, precision, frozenset(name for name, _ in scalars), wide_math)
    body.check_tests = tests
    body.reset_tests = resets
    deferred = deferred_states(model)
    if tests is not None and not body.deferring and any(
            state not in deferred for _, state, _ in tests):  # tests in every step
        body.cheap = c_check.cheap_tests(tests, deferred, precision)
    names = body.names
    signature = [f"{STORAGE_TYPES[s.dtype]} *_p_{names[s.name]}" for s in model.states]
    signature += [f"const {VALUE_TYPES[i.dtype]} {names[i.name]}" for i in model.inputs]
    signature += [f"const {VALUE_TYPES[dtype]} {names[name]}" for name, dtype in values]
    for name, dtype in arrays:
        signature += [f"const {STORAGE_TYPES[dtype]} *{names[name]}",
                      f"const long long _len_{names[name]}"]
    signature += list(_BUILTIN_PARAMETERS)
    body.print_all()
    uniforms = tuple(body.uniforms)
    signature += [f"const {ctype} {name}" for ctype, name in uniforms]
    if body.cheap:
        signature += c_check.parameters(body.cheap, precision)

    def function(name, fast):
        items = signature + ([f"FLOAT *{TRY_ERROR}"] if fast and body.try_error else [])
        return [
            f"#define EQSNN_FAST_STEP {int(fast)}",
            f"EQSNN_FN int {name}(",
            *(f"    {item}," for item in items[:-1]),
            f"    {items[-1]})",
            "{",
            *body.lines,
            "}",
            "#undef EQSNN_FAST_STEP",
        ]
    lines = [
        *([c_check.helper_text(precision)] if body.cheap else []),
        f"/* One step of one neuron of {model.name}: states in and out through the pointers;",
        " * returns 1 for a spike, 2 for a negative spike, 0 otherwise. */",
        *function(STEP_FUNCTION, False),
    ]
    fast = ""
    if body.deferring:
        fast = "\n".join([
            f"/* {STEP_FUNCTION} without its substep loop: where the loop would run, it",
            f" * returns {DEFERRED} and leaves the states as they were (the caller then calls",
            f" * {STEP_FUNCTION}); elsewhere the same operations, the same result. */",
            *function(FAST_STEP_FUNCTION, True)]) + "\n"
    uniform_text = uniform_function_text(model, body, scalars) if uniforms else ""
    deferred = deferred_step(body, signature) if body.deferring else None
    return StepFunction("\n".join(lines) + "\n", frozenset(body.helpers), uniforms,
                        uniform_text, tests is not None, fast, deferred, body.cheap)



class _StepBody(CheckLines, ExpressionLines):
    """The statements of one step as C lines, one ``const`` temporary per lowered op."""

    def __init__(self, model: ir.Model, precision: str, uniform=frozenset(), wide_math=True):
        self.model = model
        self.types = model.name_types()
        self.names = c_names(model)
        self.printer = CPrinter(precision, wide_math)
        self.exact = ExactExp(precision, wide_math)
        self.suffix = "f32" if precision == "float32" else "f64"
        self.lines: list[str] = []
        self.depth = 1
        self.temps = 0
        self.loops = 0
        self.helpers: set[str] = set()
        # names whose value is the same for every neuron of a step, and the ops computed
        # from them alone: printed into the uniform function, passed to the step
        self.uniform_names = frozenset({"t", "step"} | set(uniform))  # dt where it is given
        self.uniform_temps: dict[str, str] = {}  # name -> C type
        self.uniform_lines: list[str] = []
        self.uniforms: list[tuple[str, str]] = []  # those the step reads: (C type, name)
        self.check_tests = None  # (code, state, bounds) where the check is returned in flags
        self.reset_tests: dict = {}  # the same of each reset's check: block -> tests
        self.cheap: tuple = ()  # the cheap test of each tested state (c_check), if any
        # the adaptive method's loop (top level) has a loop-free variant (FAST_STEP_FUNCTION)
        self.deferring = "adaptive" in model.meta and any(
            isinstance(stmt, ir.While) for stmt in model.step)
        self.declared: dict[str, int] = {}  # local -> the index of its declaration line
        self.loop_marks: dict = {}  # where the adaptive loop's lines are (c_deferred)
        self.try_error = None  # the try's error, where the deferred pass takes it (c_deferred)

    def line(self, text: str) -> None:
        self.lines.append("    " * self.depth + text)

    def print_all(self) -> None:
        model, names = self.model, self.names
        for state in model.states:
            name = names[state.name]
            self.line(f"{VALUE_TYPES[state.dtype]} {name} = *_p_{name};")
        declared = dict.fromkeys(
            stmt.name for block in (model.step, model.reset, model.negative_reset)
            for stmt in ir.walk_statements(block) if isinstance(stmt, ir.Local))
        self.state_lines = len(self.lines)
        for local in declared:
            self.declared[local] = len(self.lines)
            self.line(f"{VALUE_TYPES[self.types[local]]} {names[local]} = 0;")
        self.line("int _spike = 0, _negative = 0;")
        if self.cheap:  # set in one branch of _exact, returned after it
            self.line("int _fail = 0, _reset_fail = 0;")
        if self.deferring:
            self.line("int _defer = 0;")
        self.statements(model.step, top=True)
        reset_tests = self.check_tests is not None and any(self.reset_tests.values())
        pre = None
        if reset_tests:  # the step's check after the resets, on the states before them
            pre = {state: f"_pre_{self.names[state]}" for _, state, _ in self.check_tests}
            for state, copy in pre.items():
                self.line(f"const FLOAT {copy} = {self.names[state]};")
        elif self.check_tests is not None:
            self.exact_or_cheap(self.check_code)
        if model.threshold is not None:
            self.comment(f"threshold: {model.threshold}")
            value = self.expression(model.threshold, "bool")
            settled = self.deferring and model.meta["adaptive"].get("try_settles_threshold")
            if settled:  # eqsnn.solve.assemble.try_settles_threshold
                self.lines.append("#if EQSNN_FAST_STEP")
                self.line("_spike = 0;  /* not deferred: the try took the step, below it */")
                self.lines.append("#else")
            self.line(f"_spike = {value};")
            if settled:
                self.lines.append("#endif")
        if model.negative_threshold is not None:
            self.comment(f"negative threshold: {model.negative_threshold}")
            value = self.expression(model.negative_threshold, "bool")
            self.line(f"_negative = {value} & !_spike;")
        for flag, block in (("_spike", model.reset), ("_negative", model.negative_reset)):
            if block:
                self.line(f"if ({flag}) {{")
                self.nested(block)
                self.line("}")
        if reset_tests:  # after the branches, for every neuron: no branch, no mask
            tests = sorted(set(sum(self.reset_tests.values(), [])))

            def exact():
                self.line("_reset_fail = 0;" if self.cheap else "int _reset_fail = 0;")
                self.reset_fail_lines(tests)
                self.check_code(pre, "_reset_fail")  # the step's own failure comes first
            self.exact_or_cheap(exact, pre, [state for _, state, _ in tests])
        if self.deferring:  # and the try's error, for the deferred pass (c_deferred)
            self.try_error = name = try_error(self)
            error = [f"    *{TRY_ERROR} = {self.names[name]};"] if name else []
            self.lines += ["#if EQSNN_FAST_STEP", *error, f"    if (_defer) return {DEFERRED};",
                           "#endif"]
        for state in model.states:
            name = names[state.name]
            cast = "(unsigned char)" if state.dtype == "bool" else ""
            self.line(f"*_p_{name} = {cast}{name};")
        fail = " | (_fail << 2)" if self.check_tests is not None else ""
        self.line(f"return _spike | (_negative << 1){fail};")

    def comment(self, text: str) -> None:
        self.line("/* " + " ".join(str(text).split()).replace("*/", "* /") + " */")

    def statements(self, statements, top: bool = False) -> None:
        for stmt in statements:
            if isinstance(stmt, ir.If) and top and self.deferring and \
                    stmt.cond == sympy.Symbol(self.model.meta["adaptive"]["try"]):
                # the whole-step try: every neuron in the loop-free variant (deferred where
                # it does not apply), only where it applies in the full step
                self.comment(f"if {stmt.cond} (always in {FAST_STEP_FUNCTION}):")
                self.line(f"if (EQSNN_FAST_STEP || {self.expression(stmt.cond, 'bool')}) {{")
                self.depth += 1
                spans = self.loop_marks["try"] = []  # (statement, its first line): c_deferred
                for inner in stmt.body:
                    spans.append((inner, len(self.lines)))
                    self.statements([inner])
                self.depth -= 1
                self.loop_marks["try_close"] = len(self.lines)
                self.line("}")
                continue
            if isinstance(stmt, ir.If) and self.deferring and stmt.cond == sympy.Not(
                    sympy.Symbol(self.model.meta["adaptive"].get("try_ok", ""))):
                # the try's error was too large: the loop-free variant defers the neuron anyway
                self.lines.append("#if !EQSNN_FAST_STEP")
                self.line(f"if ({self.expression(stmt.cond, 'bool')}) {{")
                self.nested(stmt.body)
                self.line("}")
                self.lines.append("#endif")
                continue
            if isinstance(stmt, ir.While) and top and self.deferring:
                self.loop_marks.update(start=len(self.lines), limit=stmt.limit, loop=stmt)
                self.lines.append("#if EQSNN_FAST_STEP")
                self.line(f"_defer = {self.expression(stmt.cond, 'bool')};")
                self.lines.append("#else")
                self.loop_marks["for"] = len(self.lines)
                self.statements([stmt])
                self.lines.append("#endif")
                self.loop_marks["end"] = len(self.lines)
                continue
            if isinstance(stmt, ir.If):
                self.comment(f"if {stmt.cond}:")
                self.line(f"if ({self.expression(stmt.cond, 'bool')}) {{")
                begin = len(self.lines)
                self.nested(stmt.body)
                if "body" in self.loop_marks and "close" not in self.loop_marks and \
                        rare_branch(stmt):  # a crossing's location (see c_deferred)
                    self.loop_marks["rare"] = (begin, len(self.lines), self.depth + 1)
                if stmt.orelse:
                    self.line("} else {")
                    self.nested(stmt.orelse)
                self.line("}")
                continue
            if isinstance(stmt, ir.While):
                self.comment(f"while {stmt.cond} (at most {stmt.limit} times):")
                self.loops += 1
                counter = f"_loop{self.loops - 1}"
                self.line(f"for (int {counter} = 0; {counter} < {stmt.limit}; ++{counter}) {{")
                self.depth += 1
                cond = self.expression(stmt.cond, 'bool')
                self.line(f"if (!{cond}) break;")
                marks = self.loop_marks if stmt is self.loop_marks.get("loop") else {}
                marks.update(cond=cond, body=len(self.lines))
                self.statements(stmt.body)
                marks.update(close=len(self.lines))
                self.depth -= 1
                self.line("}")
                continue
            target = stmt.name if isinstance(stmt, ir.Local) else stmt.target
            self.comment(f"{'local ' if isinstance(stmt, ir.Local) else ''}{target} = {stmt.expr}")
            value = self.expression(stmt.expr, self.types[target])
            self.line(f"{self.names[target]} = {value};")

    def nested(self, statements) -> None:
        self.depth += 1
        self.statements(statements)
        self.depth -= 1
