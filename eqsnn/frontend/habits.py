"""What users of Brian2, NESTML and GeNN write out of habit, and what eqsnn says instead.

A habit from another simulator is rarely a typo of an eqsnn word, so "did you mean"
misses it: ``dv/dt = -v / tau : volt`` fails at the ``:``, ``V_m mV = -70 mV`` at the
second name, ``$(V) += 1;`` at the ``$``.  :func:`foreign_syntax` recognises such a line
where the parser stopped and names the habit and eqsnn's spelling of it;
:data:`FOREIGN_FUNCTIONS` and :data:`FOREIGN_NAMES` do the same for a call or a name the
checker does not know (``rand()``, ``int(x)``, ``lastspike``, ``DT``).
"""

from __future__ import annotations

import re

#: eqsnn's words for the types other languages write (NESTML, GeNN, C)
_TYPE_WORDS = {"real": "float", "double": "float", "scalar": "float", "integer": "int",
               "boolean": "bool", "unsigned": "int", "uint32_t": "int", "int32_t": "int"}

_REFRACTORY_HOW = ("refractoriness is a condition: 'refractory: RefracTime > 0' with a state "
                   "counted down in 'after:' and set in 'reset:' (docs/language.md, "
                   "'Spikes, signed spikes and refractoriness')")

COMPARISON = "write a comparison such as 'V >= v_thresh'"

#: the hint where 'refractory:' is given a period (Brian2's refractory=5*ms), not a condition
REFRACTORY_PERIOD = ("write when the neuron is refractory, not for how long (Brian2's "
                     "refractory=5*ms): " + _REFRACTORY_HOW)

_NO_BLOCKS = "eqsnn has no declaration blocks: "
_NESTML_BLOCKS = {
    "state": _NO_BLOCKS + "declare each state on its own line at the model's level: "
             "'state V_m = -70 mV'",
    "parameters": _NO_BLOCKS + "declare each parameter on its own line at the model's level: "
                  "'param tau_m = 10 ms'",
    "internals": _NO_BLOCKS + "declare each one at the model's level: 'let NAME = EXPR' "
                 "for a value computed from parameters",
    "initial_values": _NO_BLOCKS + "declare each state with its initial value: "
                      "'state V_m = -70 mV'",
    "equations": _NO_BLOCKS + "write the ODEs at the model's level, 'dV_m/dt = ...', and a named "
                 "expression as 'let NAME = EXPR'",
    "update": "eqsnn integrates the ODEs itself: statements to run before the integration "
              "go in 'before:', after it in 'after:'",
    "output": "a neuron's spikes come from 'threshold:': delete the block (a synapse model "
              "writes 'output: EXPR' on one line)",
    "input": _NO_BLOCKS + "declare each input at the model's level: 'input I_stim [pA]'",
}

_FOREIGN_WORDS = {
    "kernel": "eqsnn has no kernels: write a kernel as ODE states that arriving spikes add "
              "to, in a synapse model's 'on_spike:' (docs/language.md, 'Synapse models')",
    "inline": "write a named expression as 'let NAME = EXPR'",
    "function": "eqsnn has no user functions: name the expression with 'let NAME = EXPR'",
    "onReceive": "spikes arrive through a synapse model, whose 'on_spike:' says what they "
                 "add (docs/language.md, 'Synapse models'); a value the neuron reads every "
                 "step is 'input NAME'",
    "onCondition": "a spike condition is 'threshold: COND', what it does is 'reset:'",
    "end": "a block ends where its indentation ends: delete 'end'",
    "recordable": "every state can be recorded (record=[...] in Simulator.run), and a let "
                  "is a named expression: delete 'recordable'",
    "integrate_odes": "eqsnn integrates the ODEs itself, between 'before:' and 'after:': "
                      "delete the call",
    "emit_spike": "a spike is emitted where 'threshold: COND' holds, and 'reset:' runs "
                  "then: delete the call and write the condition in 'threshold:'",
    "print": "a model cannot print: record the state with record=[...] in Simulator.run",
    "return": "statements in a block run to its end: there is no 'return'",
}

_GENN_CODE = {"sim_code": "write the ODEs as 'dV/dt = ...' (eqsnn derives the step) and "
                          "other statements in 'before:' or 'after:'",
              "threshold_condition_code": "write the condition as 'threshold: COND'",
              "reset_code": "write the statements in a 'reset:' block"}

_MODEL_WORDS = {"model", "Neuron", "NeuronModel", "neuron_model", "NeuronGroup", "class"}

_BLOCK_WORDS = ("threshold", "reset", "refractory", "before", "after", "on_spike", "on_pre",
                "on_post", "pre_spike", "post_spike")

#: characters that look like an operator, with the operator eqsnn reads
_LOOKALIKES = {"\u2212": "-", "\u2013": "-", "\u2014": "-", "\u2010": "-", "\u2011": "-",
               "\u00d7": "*", "\u2217": "*", "\u22c5": "*", "\u00b7": "*", "\u00f7": "/",
               "\u2190": "=", "\u2264": "<=", "\u2265": ">=", "\u2260": "!=", "\u2261": "==",
               "\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"}


def lookalike_hint(char: str) -> str | None:
    """``replace '−' with '-'`` for a character that looks like an ASCII operator."""
    ascii_form = _LOOKALIKES.get(char)
    if ascii_form is None:
        return None
    return (f"replace {char!r} with {ascii_form!r}: model text is ASCII ('-' for a dash, "
            "'*' for '\u00d7', '\"' for a quote; docstrings use double quotes)")


def _rules():
    """``(pattern, message, hint)``: the first pattern that matches the line where the
    parser stopped names the habit; its group ``at`` is where the caret goes (a group
    ``exact`` instead: the habit counts only where the parser stopped at that group).  A message
    or hint may be a function of the match."""
    unit_after_ode = (
        lambda m: f"a unit after an ODE (Brian2's ': {m['unit'].strip()}')",
        lambda m: f"delete ': {m['unit'].strip()}': a state's unit comes from its "
                  "declaration, 'state v = 0 mV' (a dimensionless one: 'state v = 0.0')"
                  + ("; and write 'unless refractory' without parentheses, after the "
                     "equation" if "unless" in m["unit"] else ""))
    return [
        (r"(?P<at>\$\()", "GeNN's '$(NAME)'",
         "write the name alone: '$(V)' is 'V', and GeNN's 'DT' is 'dt'"),
        (r"^\s*d\w+\s*/\s*dt\b[^:#]*(?P<at>:)(?P<unit>[^#]*)", *unit_after_ode),
        (r"(?P<at>\(\s*unless\b)", "'(unless refractory)' in parentheses",
         "write 'unless refractory' without parentheses, after the equation; "
         + _REFRACTORY_HOW),
        (r"^\s*(?P<at>(?P<word>" + "|".join(_NESTML_BLOCKS) + r"))\s*:\s*(#.*)?$",
         lambda m: f"NESTML's '{m['word']}:' block",
         lambda m: _NESTML_BLOCKS[m["word"]]),
        (r"^\s*(\w+\s*:\s*)?(?P<at>(?P<word>" + "|".join(_FOREIGN_WORDS)
         + r"))\b(?!\s*[-+*/]?=)",
         lambda m: f"unexpected {m['word']!r}", lambda m: _FOREIGN_WORDS[m["word"]]),
        (r"^(?P<at>(?P<word>" + "|".join(_MODEL_WORDS) + r"))\b",
         lambda m: f"unexpected {m['word']!r}",
         "a model file starts with 'neuron NAME' (or 'synapse NAME', 'weight_update NAME') "
         "on its first line, with its declarations indented below it"),
        (r"^\s*(?P<at>(?P<word>sim_code|threshold_condition_code|reset_code))\s*=",
         lambda m: f"GeNN's {m['word']!r}",
         lambda m: _GENN_CODE[m["word"]] + ", with the code's '$(V)' written 'V'"),
        (r"^\s*(?P<word>threshold|reset|refractory|before|after|method)\s*(?P<at>=)",
         lambda m: f"'{m['word']} =' (Brian2's keyword argument)",
         lambda m: f"write '{m['word']}:' and the code after it, without quotes"
                   + ("; " + _REFRACTORY_HOW if m["word"] == "refractory" else "")),
        (r"^\s*(?P<word>method|" + "|".join(_BLOCK_WORDS) + r")\s*:\s*(?P<at>['\"])",
         "code in quotes (a Brian2 string)",
         lambda m: "write the method's name without quotes: 'method: exact'"
         if m["word"] == "method" else "write the code without quotes: 'reset: v = v_reset', "
         "or several statements on their own lines in an indented block"),
        (r"^\s*(?P<name>\w+)\s*(?P<at>'+)\s*=", lambda m: f"NESTML's \"{m['name']}' = ...\"",
         lambda m: f"write the ODE as 'd{m['name']}/dt = ...'"),
        (r"^\s*(?P<at>else\s+if|elseif|elsif|else_if)\b", lambda m: f"unexpected {m['at']!r}",
         "write 'elif COND:'"),
        (r"(?P<at>;)", "unexpected ';'",
         "statements end with the line, not ';': put several on their own lines, in an "
         "indented block below the line that opens the block ('reset:', 'after:', ...)"),
        (r"=[^=].*?\s(?P<at>if)\s.*\selse\b", "eqsnn has no 'a if COND else b'",
         "write an if / else statement; for a bound, min(), max() or clip()"),
        (r"(?P<at>\?)", "eqsnn has no 'COND ? a : b'",
         "write an if / else statement; for a bound, min(), max() or clip()"),
        (r"(?P<name>\w+)\s*(?P<at>\+\+|--)\s*(#.*)?$",
         lambda m: f"unexpected {m['at']!r}", lambda m: f"write '{m['name']} += 1'"
         if m["at"] == "++" else f"write '{m['name']} -= 1'"),
        (r"(?P<at>[{}])", "unexpected brace",
         "blocks are set off by indentation, not braces: end the line with ':' and indent "
         "the block below it by 4 spaces"),
        (r"(?P<at>\(\s*(int|float|double|scalar|bool|unsigned)\s*\))", "a C cast",
         "eqsnn has no casts: floor(x) and ceil(x) round a float (to a float), and an int "
         "takes only int expressions (int params and states, literals, + - * // %)"),
        (r"(?P<at>/\*)", "a C comment", "comments start with '#' and run to the end of the line"),
        (r"^\s*(?P<at>//)", "a C comment",
         "comments start with '#' and run to the end of the line ('//' divides and rounds "
         "down)"),
        (r"\b(?P<at>(math|np|numpy|std|brian2|b2)\s*(\.|::))\s*(?P<name>\w+)",
         lambda m: f"unexpected '{m['at'].strip()}'",
         lambda m: f"write the function's name alone: '{m['name']}(...)'"),
        (r"^\s*(param|state|input|array)\s+\w+\s*:?\s*(?P<at>(?P<type>"
         + "|".join(_TYPE_WORDS) + r"))\b",
         lambda m: f"unknown type {m['type']!r}",
         lambda m: f"write ': {_TYPE_WORDS[m['type']]}' after the name: the types are float "
                   "(the default), int and bool"),
        (r"(?P<at>\(\s*(?P<flag>shared|constant|summed)\b[^)]*\))", "a Brian2 flag",
         lambda m: "a synapse model's 'output: EXPR' is summed into the target's input"
         if m["flag"] == "summed" else "delete it: a param is constant, and one value for "
         "the population or one per neuron is chosen when the model is instantiated"),
        (r"^\s*(?P<kind>param|state|input)\s+(?P<name>\w+)\s+(?P<at>(?P<unit>[A-Za-z_]\w*))",
         lambda m: f"a unit after the name ({m['unit']!r})" if _unit_or_type(m["unit"])
         and m["unit"] not in _TYPE_WORDS else None,
         lambda m: f"write the unit in brackets, '{m['kind']} {m['name']} [{m['unit']}]', or "
                   f"with the value, '{m['kind']} {m['name']} = 1 {m['unit']}'"),
        (r"^\s*(param|state|input)\s+\w+\s*:\s*(?P<at>(?P<unit>(?!(float|int|bool)\b)"
         r"[A-Za-z_]\w*))",
         lambda m: f"{m['unit']!r} after a colon",
         lambda m: f"a type (float, int, bool) follows a colon; a unit goes in brackets "
                   f"after the name: 'param NAME [{m['unit']}] = ...'"),
        (_NOT_A_KEYWORD + r"(?P<at>(?P<name>[A-Za-z_]\w*))\s+(?P<unit>[A-Za-z_][\w\[\]/*]*)"
         r"\s*=[^=]",
         lambda m: "a NESTML declaration 'NAME UNIT = VALUE'" if _unit_or_type(m["unit"])
         else None,
         lambda m: f"write 'param {m['name']} = VALUE' or 'state {m['name']} = VALUE': the "
                   "unit comes with the value ('state V_m = -70 mV'), and the type, if not "
                   "float, after a colon ('state n: int = 0')"),
        (_NOT_A_KEYWORD + r"(?P<at>(?P<name>[A-Za-z_]\w*))\s*=[^=][^:]*:\s*(?P<unit>[^#(]*)",
         "a Brian2 sub-expression 'NAME = EXPR : UNIT'",
         lambda m: f"write 'let {m['name']} = EXPR' (its unit follows from the expression); "
                   f"to assign to {m['name']}, put the line in a block such as 'after:'"
                   + ("; a (summed) variable is a synapse model's 'output: EXPR', summed "
                      "into the target's input" if "summed" in m.string else "")),
        (_NOT_A_KEYWORD + r"(?P<name>[A-Za-z_]\w*)\s*(?P<exact>=)[^=]",
         "an assignment outside a block",
         lambda m: f"name an expression with 'let {m['name']} = EXPR', or assign in a block: "
                   f"'after: {m['name']} = ...'"),
        (_NOT_A_KEYWORD + r"(?P<at>(?P<name>[A-Za-z_]\w*))\s*:\s*(?P<unit>[\w*/ ]+?)\s*"
         r"(\((?P<flags>[^)]*)\))?\s*(#.*)?$",
         "a Brian2 declaration 'NAME : UNIT'",
         lambda m: f"declare it as 'param {m['name']} [{m['unit'].strip()}]' (a param is "
                   "constant and may be set per neuron, so '(constant)' and '(shared)' are "
                   f"not needed) or 'state {m['name']} [{m['unit'].strip()}] = INIT'"),
    ]


#: a line that does not start with one of eqsnn's own words
_NOT_A_KEYWORD = (r"^\s*(?!(param|state|input|let|switch|array|if|elif|else|pass|pre|post|"
                  r"method|substeps|output|neuron|synapse|weight_update|not|true|false|"
                  + "|".join(_BLOCK_WORDS) + r")\b)")

#: the characters of a line the patterns read: some backtrack (quadratic in the length),
#: and a habit stands near the start of a line a person wrote
_LONGEST = 1000

_COMPILED = None


def foreign_syntax(source: str, line: int, column: int):
    """``(message, hint, column, line)`` for a habit from Brian2, NESTML, GeNN or C on the line
    where the parser stopped, or None.  A habit written after the error's column is not the
    cause, except on the words that open a line."""
    global _COMPILED
    if _COMPILED is None:
        _COMPILED = [(re.compile(p), message, hint) for p, message, hint in _rules()]
    rows = source.split("\n")
    if not 1 <= line <= len(rows):
        return None
    opener = _nestml_block_around(rows, line)
    if opener is not None:
        return opener
    row = rows[line - 1][:_LONGEST]
    code = row if "#" not in row else row[:row.index("#")]
    for pattern, message, hint in _COMPILED:
        match = pattern.search(code)
        if match is None:
            continue
        if "exact" in pattern.groupindex:  # the habit only where the parser stopped at it
            if match.start("exact") + 1 != column:
                continue
            return (message, hint(match), column, line)
        if callable(message) and message(match) is None:  # the pattern, not the habit
            continue
        at = match.start("at") + 1
        if at > column and code[:at - 1].strip():  # later in the line than the error
            continue
        return (message(match) if callable(message) else message,
                hint(match) if callable(hint) else hint, at, line)
    if "//" in code and column > code.index("//"):
        return None, "comments start with '#' ('//' divides and rounds down)", None, line
    return None


def _unit_or_type(word: str) -> bool:
    """Is ``word`` (``mV``, ``mV/ms``, ``real``) a unit or one of NESTML's types?  A unit
    of one letter (``V``, ``S``) is more likely a name: 'variable V = 0.0' is a
    declaration word eqsnn does not know, not NESTML."""
    from ..units import is_unit

    first = re.split(r"[\[\]/*]", word)[0]
    return word in _TYPE_WORDS or (len(first) > 1 and is_unit(first))


_NESTML_OPENER = re.compile(r"^(\s*)(" + "|".join(_NESTML_BLOCKS) + r")\s*:\s*(#.*)?$")


def _nestml_block_around(rows, line: int):
    """The habit where ``line`` is in the body of NESTML's ``parameters:``, ``state:``,
    ... (the parser stops inside the body, but the block is the cause)."""
    indent = len(rows[line - 1]) - len(rows[line - 1].lstrip(" "))
    for row in reversed(rows[:line - 1]):
        if not row.split("#")[0].strip():
            continue
        if len(row) - len(row.lstrip(" ")) >= indent:
            continue
        match = _NESTML_OPENER.match(row)
        if match is None:
            return None
        word = match.group(2)
        return (f"NESTML's '{word}:' block", _NESTML_BLOCKS[word] + ", and delete the "
                "block's line", len(match.group(1)) + 1, rows.index(row) + 1)
    return None


#: hints for the functions of other languages, by their name
FOREIGN_FUNCTIONS = {
    "rand": "write rand_uniform() (uniform in (0, 1))",
    "randn": "write rand_normal(); in an ODE, white noise is 'xi'",
    "int": "eqsnn has no int(): floor(x) and ceil(x) round a float (to a float), and an int "
           "takes only int expressions (int params and states, literals, + - * // %)",
    "float": "eqsnn has no float(): an int in a float expression is converted where it is "
             "used",
    "pow": "write x ** y",
    "fabs": "write abs(x)",
    "fmod": "write x % y (floored, as in Python: C's fmod rounds toward zero)",
    "steps": "there is no steps(): count a time down in a state, 'RefracTime -= dt' in "
             "'after:'",
    "resolution": "the time step is 'dt'",
    "convolve": "write the kernel as ODE states of a synapse model (docs/language.md, "
                "'Synapse models')",
    "integrate_odes": _FOREIGN_WORDS["integrate_odes"],
    "emit_spike": _FOREIGN_WORDS["emit_spike"],
    "log10": "write log(x) / log(10.0)",
    "tan": "write sin(x) / cos(x)", "sinh": "write (exp(x) - exp(-x)) / 2",
    "cosh": "write (exp(x) + exp(-x)) / 2",
    "round": "write floor(x + 0.5)",
}

#: hints for the names other languages give their built-ins
FOREIGN_NAMES = {
    "True": "write 'true'", "False": "write 'false'", "TRUE": "write 'true'",
    "FALSE": "write 'false'", "DT": "the time step is 'dt'",
    "lastspike": "eqsnn keeps no last spike time: declare 'state last_spike = -1e9', set "
                 "'last_spike = t' in 'reset:', and read 't - last_spike'",
    "not_refractory": "write 'not refractory'; " + _REFRACTORY_HOW,
    "e": "write exp(1.0)", "pi": "write 3.141592653589793",
    "inf": "write a large number, e.g. 1e30",
}
FOREIGN_NAMES["t_spike"] = FOREIGN_NAMES["last_spike"] = FOREIGN_NAMES["lastspike"]


#: hints for Brian2's names of integration methods
FOREIGN_METHODS = {
    "linear": "Brian2's 'linear' is 'exact' here", "independent": "write 'exact'",
    "rk2": "Brian2's 'rk2' is 'midpoint' here",
    "heun": "the second-order method here is 'midpoint' (Brian2's rk2)",
}


def foreign_name_hint(name: str) -> str | None:
    """The hint for an unknown name that another language gives a meaning."""
    if name in FOREIGN_NAMES:
        return FOREIGN_NAMES[name]
    if re.fullmatch(r"xi_\w+", name):
        return "every ODE's 'xi' is its own independent noise: write 'xi' in each ODE"
    if name.endswith(("_post", "_pre")):
        return ("eqsnn has no _post and _pre names (Brian2's, for the neurons of a synapse): "
                "a neuron model reads its own names; a synapse model's states are already "
                "per target neuron, and it reads the target's state with 'post NAME' "
                "(docs/language.md, 'Synapse models')")
    return None


def undeclared_hint(name: str, states) -> str:
    """The hint for an ODE of an undeclared ``name``: the state in another case (Brian2's
    models often write ``v``, GeNN's ``V``), a close spelling, or how to declare it."""
    from ..errors import suggest

    same = [state for state in states if state.lower() == name.lower()]
    return (f"did you mean {same[0]!r}?" if same else suggest(name, states)
            or f"declare it first: 'state {name} = 0.0'")
