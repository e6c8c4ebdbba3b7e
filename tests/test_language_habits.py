"""Models as users of Brian2, NESTML and GeNN write them on their first day: every habit
that is not eqsnn is an error at its line and column, naming the habit and what to write
instead.  Before these tests, many said "unexpected 'd'" (the word cut short), "docstrings
use double quotes" for a NESTML prime, or a "did you mean" that meant something else
('tan' → 'tanh')."""

from __future__ import annotations

import time

import pytest

import eqsnn
from eqsnn.errors import CheckError, EqsnnError, ParseError

HEAD = ("neuron A\n    param tau = 10.0\n    param v_th = 1.0\n    state v = 0.0\n"
        "    input I = 0.0\n")
LINE = 6  # the first line after HEAD


def _error(text, cls=EqsnnError, head=True):
    with pytest.raises(cls) as info:
        eqsnn.compile(HEAD + text if head else text)
    err = info.value
    assert "bug in eqsnn" not in str(err)
    return err


def _check(err, line, column, message, hint):
    assert (err.line, err.column) == (line, column), str(err)
    text = str(err)
    assert "^" in text.split("\n", 2)[-1]  # the caret under the line
    for word in message:
        assert word in err.message, err.message
    for word in hint:
        assert word in err.hint, err.hint


# (label, text after HEAD, line, column, words of the message, words of the hint)
PARSE_HABITS = [
    # Brian2
    ("ode with a unit", "    dv/dt = -v / tau : volt\n", LINE, 22,
     ["unit after an ODE", ": volt"], ["delete ': volt'", "state v = 0 mV"]),
    ("ode with : 1", "    dv/dt = -v / tau : 1\n", LINE, 22, [": 1"], ["delete ': 1'"]),
    ("ode with flag", "    dv/dt = -v / tau : 1 (unless refractory)\n", LINE, 22,
     ["unit after an ODE"], ["without parentheses"]),
    ("unless in parentheses", "    dv/dt = -v / tau (unless refractory)\n", LINE, 22,
     ["(unless refractory)"], ["without parentheses", "refractory: RefracTime > 0"]),
    ("reset with ;", "    threshold: v > v_th\n    reset: v = 0; I = 0\n", LINE + 1, 17,
     ["';'"], ["own lines", "indented block"]),
    ("reset in quotes", "    threshold: v > v_th\n    reset: 'v = 0'\n", LINE + 1, 12,
     ["quotes"], ["without quotes"]),
    ("threshold=", "    threshold='v > v_th'\n", LINE, 14, ["threshold ="],
     ["'threshold:'"]),
    ("threshold =", "    threshold = v > v_th\n", LINE, 15, ["threshold ="],
     ["'threshold:'"]),
    ("refractory=5*ms", "    refractory = 5*ms\n", LINE, 16, ["refractory ="],
     ["condition", "RefracTime"]),
    ("sub-expression", "    I_syn = 2 * (1 - v) : amp\n    dv/dt = -v / tau\n", LINE, 5,
     ["sub-expression"], ["let I_syn = EXPR"]),
    ("assignment outside a block", "    I_syn = 2 * (1 - v)\n", LINE, 11,
     ["outside a block"], ["let I_syn = EXPR", "after: I_syn"]),
    ("Brian2 declaration", "    tau_m : second (constant)\n", LINE, 5, ["NAME : UNIT"],
     ["param tau_m [second]", "(constant)"]),
    ("Brian2 declaration, bare", "    tau_m : second\n", LINE, 5, ["NAME : UNIT"],
     ["param tau_m [second]"]),
    ("shared flag", "    param g = 1.0 (shared)\n", LINE, 19, ["flag"], ["delete it"]),
    ("unit after a colon", "    state u : volt = 0 mV\n", LINE, 15, ["'volt' after a colon"],
     ["[volt]"]),
    ("equations in a string", '    """\n    dv/dt = -v/tau : 1\n    """\n', LINE, 5,
     ["a string here"], ["without quotes"]),
    # NESTML
    ("NESTML declaration", "    V_m mV = -70 mV\n", LINE, 5, ["NAME UNIT = VALUE"],
     ["state V_m = VALUE", "-70 mV"]),
    ("NESTML state block", "    state:\n        V_m mV = -70 mV\n", LINE, 5,
     ["'state:' block"], ["no declaration blocks"]),
    ("NESTML parameters block", "    parameters:\n        param tau_m = 10 ms\n", LINE, 5,
     ["'parameters:' block"], ["param tau_m = 10 ms", "delete the block's line"]),
    ("NESTML update block", "    update:\n        v += 1\n", LINE, 5, ["'update:' block"],
     ["before:", "after:"]),
    ("NESTML prime", "    v' = -v / tau\n", LINE, 6, ["NESTML", "v' = ..."],
     ["dv/dt = ..."]),
    ("kernel", "    kernel G = exp(-t/tau)\n", LINE, 5, ["'kernel'"], ["synapse model"]),
    ("inline", "    inline I_syn real = 2 * v\n", LINE, 5, ["'inline'"],
     ["let NAME = EXPR"]),
    ("onReceive", "    onReceive(spikes):\n        v += 1\n", LINE, 5, ["'onReceive'"],
     ["on_spike:"]),
    ("integrate_odes", "    after:\n        integrate_odes()\n", LINE + 1, 9,
     ["'integrate_odes'"], ["integrates the ODEs itself"]),
    ("emit_spike", "    threshold: v > v_th\n    reset:\n        v = 0\n        emit_spike()\n",
     LINE + 3, 9, ["'emit_spike'"], ["threshold: COND"]),
    ("end", "    after:\n        if v > 1:\n            v = 0\n        end\n", LINE + 3, 9,
     ["'end'"], ["delete 'end'"]),
    ("else if", "    after:\n        if v > 1: v = 0\n        else if v < 0: v = 1\n", LINE + 2,
     9, ["'else if'"], ["elif"]),
    ("unit after the name", "    param V_m mV = -70 mV\n", LINE, 15,
     ["unit after the name"], ["= 1 mV", "param V_m [mV]"]),
    ("summed flag", "    I_syn = g : amp (summed)\n", LINE, 5, ["sub-expression"],
     ["let I_syn", "output: EXPR"]),
    ("summed flag on a param", "    param g = 1.0 (summed)\n", LINE, 19, ["flag"],
     ["output: EXPR"]),
    ("method =", "    dv/dt = -v/tau\n    method = 'exact'\n", LINE + 1, 12,
     ["method ="], ["'method:'"]),
    ("method in quotes", "    dv/dt = -v/tau\n    method: 'exact'\n", LINE + 1, 13,
     ["quotes"], ["method: exact"]),
    ("type real", "    param x real = 1.0\n", LINE, 13, ["unknown type 'real'"], [": float"]),
    ("type boolean", "    param b: boolean = true\n", LINE, 14, ["unknown type 'boolean'"],
     [": bool"]),
    ("type integer", "    state c integer = 0\n", LINE, 13, ["'integer'"], [": int"]),
    ("block comment", "    /* comment */\n    dv/dt = -v/tau\n", LINE, 5, ["C comment"],
     ["'#'"]),
    ("line comment", "    // comment\n", LINE, 5, ["C comment"], ["'#'"]),
    ("print", "    after: print(v)\n", LINE, 12, ["'print'"], ["record="]),
    ("model keyword", None, 1, 1, ["'model'"], ["neuron NAME"]),
    # GeNN and C
    ("GeNN sim_code", '    sim_code = "$(V) += 1;"\n', LINE, 5, ["'sim_code'"],
     ["dV/dt", "after:"]),
    ("GeNN reset_code", '    reset_code = "$(V) = 0;"\n', LINE, 5, ["'reset_code'"],
     ["'reset:'"]),
    ("NESTML recordable", "    recordable inline r real = v\n", LINE, 5, ["'recordable'"],
     ["record="]),
    ("GeNN variable", "    after: $(v) += ($(I) - $(v)) * DT / $(tau);\n", LINE, 12,
     ["$(NAME)"], ["'V'", "'dt'"]),
    ("semicolon", "    after: v += (I - v) * dt / tau;\n", LINE, 35, ["';'"], ["own lines"]),
    ("cast", "    state c: int = 0\n    after: c = (int)v\n", LINE + 1, 16, ["C cast"],
     ["floor(x)"]),
    ("Python's conditional expression", "    after: v = 0 if v > 1 else v\n", LINE, 18,
     ["a if COND else b"], ["if / else"]),
    ("NESTML input", "    input I_stim pA <- continuous\n", LINE, 18,
     ["unit after the name"], ["input I_stim [pA]"]),
    ("NESTML output block", "    output:\n        spike\n", LINE, 5, ["'output:' block"],
     ["threshold:"]),
    ("ternary", "    after: v = v > 1 ? 0 : v\n", LINE, 22, ["? a : b"], ["if / else"]),
    ("increment", "    state c: int = 0\n    after: c++\n", LINE + 1, 13, ["'++'"],
     ["c += 1"]),
    ("braces", "    after:\n        if (v > 1) {\n            v = 0\n        }\n", LINE + 1, 20,
     ["brace"], ["indentation"]),
    ("code string", '    after: "$(V) += 1;"\n', LINE, 12, ["quotes"], ["without quotes"]),
    ("math.exp", "    after: v = math.exp(v)\n", LINE, 16, ["'math.'"], ["'exp(...)'"]),
    ("// after code", "    after: v = v * 2 // double it\n", LINE, 32, ["'it'"],
     ["comments start with '#'"]),
    # text
    ("unicode minus", "    param x = \u22121.0\n", LINE, 15, ["'\u2212'"], ["with '-'"]),
    ("greater or equal", "    threshold: v \u2265 v_th\n", LINE, 18, ["'\u2265'"],
     ["with '>='"]),
    ("times", "    after: v = 2 \u00d7 v\n", LINE, 18, ["'\u00d7'"], ["with '*'"]),
]


@pytest.mark.parametrize("label, text, line, column, message, hint", PARSE_HABITS,
                         ids=[case[0] for case in PARSE_HABITS])
def test_a_habit_from_another_simulator_is_named_where_it_stands(label, text, line, column,
                                                                 message, hint):
    if text is None:  # a whole file
        err = _error("model A:\n    state:\n        v real = 0.0\n", ParseError, head=False)
    else:
        err = _error(text, ParseError)
    _check(err, line, column, message, hint)


CHECK_HABITS = [
    ("rand()", "    after: v += rand()\n", 17, ["'rand'"], ["rand_uniform()"]),
    ("randn()", "    after: v += randn()\n", 17, ["'randn'"], ["rand_normal()", "xi"]),
    ("int()", "    after: v = int(v)\n", 16, ["'int'"], ["floor(x)"]),
    ("pow()", "    after: v = pow(v, 2)\n", 16, ["'pow'"], ["x ** y"]),
    ("tan()", "    after: v = tan(v)\n", 16, ["'tan'"], ["sin(x) / cos(x)"]),
    ("steps()", "    after: v = steps(tau)\n", 16, ["'steps'"], ["RefracTime -= dt"]),
    ("resolution()", "    after: v += resolution()\n", 17, ["'resolution'"], ["'dt'"]),
    ("lastspike", "    after: v = t - lastspike\n", 20, ["'lastspike'"],
     ["last_spike = t", "reset:"]),
    ("DT", "    after: v += (I - v) * DT / tau\n", 27, ["'DT'"], ["'dt'"]),
    ("True", "    after:\n        if True: v = 0\n", 12, ["'True'"], ["'true'"]),
    ("v_post", "    after: v = v_post\n", 16, ["'v_post'"], ["post NAME"]),
    ("not_refractory", "    after:\n        if not_refractory: v = 0\n", 12,
     ["'not_refractory'"], ["not refractory"]),
    ("10*ms in a default", "    param tm = 10*ms\n", 19, ["'ms'"], ["'10 ms'"]),
    ("True in a default", "    param b: bool = True\n", 21, ["'True'"], ["'true'"]),
    ("TRUE", "    param b: bool = TRUE\n", 21, ["'TRUE'"], ["'true'"]),
    ("hexadecimal", "    after: v = 0x10\n", 17, ["'x10'"], ["decimal"]),
    ("float suffix", "    after: v = 1.0f * v\n", 19, ["unknown unit 'f'"],
     ["float suffix"]),
    ("ODE of a state in another case", "    dV/dt = -V / tau\n", 5, ["'V'"],
     ["did you mean 'v'?"]),
    ("method linear", "    dv/dt = -v/tau\n    method: linear\n", 13, ["'linear'"],
     ["'exact'"]),
    ("method rk2", "    dv/dt = -v/tau\n    method: rk2\n", 13, ["'rk2'"], ["'midpoint'"]),
    ("xi_1", "    dv/dt = -v/tau + xi_1\n", 22, ["'xi_1'"], ["its own independent noise"]),
    ("refractory period", "    dv/dt = -v/tau unless refractory\n    refractory: 5 ms\n", 17,
     ["must be a condition"], ["not for how long", "RefracTime > 0"]),
]


@pytest.mark.parametrize("label, text, column, message, hint", CHECK_HABITS,
                         ids=[case[0] for case in CHECK_HABITS])
def test_a_foreign_function_or_name_gets_eqsnns_spelling(label, text, column, message, hint):
    err = _error(text, CheckError)
    line = LINE + text.count("\n") - 1
    _check(err, line, column, message, hint)


@pytest.mark.parametrize("text, message, hint", [
    ("", "holds no model", "neuron NAME"),
    ("# only\n# comments\n", "holds no model", "neuron NAME"),
    ("state v = 0.0\ndv/dt = -v\n", "unexpected 'state'", "neuron NAME"),
    ("Neuron A\n    state v = 0.0\n", "unexpected 'Neuron'", "neuron NAME"),
    ("neuron A\n    state v = 0.0\nsynapse B\n    state g = 0.0\n    output: g\n",
     "a second 'synapse'", "its own file"),
    ("neuron A\r    state v = 0.0\r", "'\\r'", "line endings"),
])
def test_a_file_that_is_not_one_model_says_what_a_model_file_is(text, message, hint):
    err = _error(text, ParseError, head=False)
    assert message in err.message and hint in err.hint


def test_the_word_where_the_parser_stopped_is_not_cut_short():
    """A line the parser stopped in was reported by its first word, found by a pattern
    that backtracked into the word: 'dv/dt = ... : volt' said "unexpected 'd'" and
    'threshold = ...' "unexpected 'threshol'"."""
    for text in ("    dv/dt = -v/tau unless v = 1\n", "    threshold = v > v_th\n",
                 "    onReceive(spikes):\n        v += 1\n"):
        err = _error(text, ParseError)
        for cut in ("'d'", "'threshol'", "'onReceiv'"):
            assert cut not in err.message


@pytest.mark.parametrize("text", [
    # names that are habits elsewhere stay free as names in eqsnn
    "    state end = 0.0\n    state kernel = 0.0\n    after:\n        end = v\n"
    "        kernel += 1\n",
    "    state on_pre = 0.0\n    after:\n        on_pre = v\n",
    "    param e = 2.0\n    param pi = 3.0\n    after: v = e * pi\n",
    # the habits eqsnn shares: Python's operators and Brian2's units and functions
    "    param E = -70 mV\n    param g = 10 nS\n    param tm = 10 msecond\n    state u = E\n"
    "    du/dt = (E - u) / tm\n",
    "    after:\n        if v > 1 and not (v > 2) or v != 0: v = clip(v ** 2, 0, 1)\n",
])
def test_text_that_is_eqsnn_still_compiles(text):
    eqsnn.compile(HEAD + text)


def test_an_error_elsewhere_on_a_line_with_a_name_like_a_habit_is_not_blamed_on_it():
    """A state called 'end' (NESTML's block end) in a line whose mistake is elsewhere."""
    err = _error("    state end = 0.0\n    after:\n        end = v +* 1\n", ParseError)
    assert err.line == LINE + 2 and "'end'" not in err.hint


@pytest.mark.parametrize("line", ["    after: v = " + "v if " * 20000,
                                  "    x = " + "= 1 " * 20000,
                                  "    after: v = " + "a" * 100000 + " ++"])
def test_looking_for_a_habit_in_a_long_line_takes_no_longer_than_the_parse(line):
    """The patterns backtrack: on a line of 100,000 characters they took 10 s."""
    start = time.perf_counter()
    _error(line + "\n", ParseError)
    assert time.perf_counter() - start < 2.0


def test_a_brian2_post_name_in_a_synapse_model_points_to_post():
    """Brian2's 'g_post += w' in 'on_spike:' asked to declare 'state g_post'."""
    err = _error("synapse S\n    state g = 0.0\n    on_spike: g_post += w\n    output: g\n",
                 CheckError, head=False)
    _check(err, 3, 15, ["'g_post'"], ["post NAME"])
