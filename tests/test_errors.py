"""Bad input: every mistake is an EqsnnError with line, column, message and hint."""

from __future__ import annotations

import pytest

import eqsnn
from eqsnn.errors import CheckError, EqsnnError, ParseError, SolverError

# (case, source, error class, line, column, message start, hint fragment)
CASES = [
    ('syntax_missing_expr', 'neuron M\n    param a =\n',
     ParseError, 2, 14, 'unexpected end of line', "the expression is incomplete: expected '"),
    ('bad_char', 'neuron M\n    state V = 1.0 $ 2\n',
     ParseError, 2, 19, "unexpected character '$'", "expected '(', ')', '*' or '/', '+' or '-"),
    ('single_quote_doc', "neuron M\n    'doc'\n    state V = 0.0\n",
     ParseError, 2, 5, 'unexpected character "\'"', 'docstrings use double quotes'),
    ('nul_in_docstring', 'neuron M\n    """a\x00b"""\n    state V = 0.0\n',
     ParseError, 2, 9, "the text contains the control character '\\x00'",
     'a model is plain text'),
    ('bad_escape_in_docstring', 'neuron M\n    "a \\x b"\n    state V = 0.0\n',
     ParseError, 2, 5, 'the docstring is not a valid string', 'write a backslash as'),
    ('caret_power', 'neuron M\n    state V = 2 ^ 3\n',
     ParseError, 2, 17, "unexpected character '^'", "write powers as '**'"),
    ('ampersand', 'neuron M\n    state V = 0.0\n    threshold: V > 1 && V < 2\n',
     ParseError, 3, 22, "unexpected character '&'", "write 'and', 'or' and 'not' for logic"),
    ('assign_not_compare', 'neuron M\n    state V = 0.0\n    threshold: V = 1\n',
     ParseError, 3, 18, "unexpected '='", "compare with '==' (a single '=' assigns)"),
    ('bad_indent', 'neuron M\n    state V = 0.0\n      state W = 0.0\n',
     ParseError, 3, 7, 'unexpected indentation', "only the body of a model, an 'if' or a b"),
    ('unknown_keyword', 'neuron M\n    variable V = 0.0\n',
     ParseError, 2, 5, "unexpected 'variable'", "'variable' is not a keyword here; declar"),
    ('no_body', 'neuron M\n',
     ParseError, 1, 9, 'unexpected end of line', 'expected an indented block'),
    ('unclosed_paren', 'neuron M\n    state V = 0.0\n    dV/dt = -(V / 2\n',
     ParseError, 3, 20, 'unexpected end of line', "the expression is incomplete: expected '"),
    ('unknown_name', 'neuron M\n    state V = 0.0\n    dV/dt = -V / tau\n',
     CheckError, 3, 18, "unknown name 'tau'", 'declare it with param, state, input or l'),
    ('typo_name', 'neuron M\n    param tau_mem = 10.0\n    state V = 0.0\n    dV/dt = -V / tau_me\n',
     CheckError, 4, 18, "unknown name 'tau_me'", "did you mean 'tau_mem'?"),
    ('duplicate', 'neuron M\n    param a = 1.0\n    state a = 0.0\n',
     CheckError, 3, 11, "'a' is already declared as a param at line 2", 'give each declaration its own name'),
    ('reserved_t', 'neuron M\n    state t = 0.0\n',
     CheckError, 2, 11, "'t' is a built-in name and cannot be declared", 'choose another name'),
    ('reserved_dt', 'neuron M\n    param dt = 0.1\n',
     CheckError, 2, 11, "'dt' is a built-in name and cannot be declared", 'choose another name'),
    ('reserved_fn', 'neuron M\n    param exp = 0.1\n',
     CheckError, 2, 11, "'exp' is a function and cannot be declared", 'choose another name'),
    ('underscore', 'neuron M\n    state _x = 0.1\n',
     CheckError, 2, 11, "names starting with '_' are reserved for generated", "call it 'x' instead"),
    ('assign_param', 'neuron M\n    param a = 1.0\n    state V = 0.0\n    after: a = 2.0\n',
     CheckError, 4, 12, "cannot assign to param 'a'", 'params are constant; declare a state to '),
    ('assign_input', 'neuron M\n    input I = 1.0\n    state V = 0.0\n    after: I += 2.0\n',
     CheckError, 4, 12, "cannot assign to input 'I'", 'inputs are read-only; copy it into a loc'),
    ('assign_undeclared', 'neuron M\n    state V = 0.0\n    after: W = 2.0\n',
     CheckError, 3, 12, "assignment to undeclared 'W'", "declare it with 'state W = 0.0', or 'let"),
    ('ode_undeclared', 'neuron M\n    state V = 0.0\n    dW/dt = -V\n',
     CheckError, 3, 5, "ODE for 'W', which is not a state", "declare it first: 'state W = 0.0'"),
    ('ode_param', 'neuron M\n    param a = 1.0\n    dA/dt = 1\n',
     CheckError, 3, 5, "ODE for 'A', which is not a state", "declare it first: 'state A = 0.0'"),
    ('ode_of_param', 'neuron M\n    param a = 1.0\n    da/dt = 1\n',
     CheckError, 3, 5, "ODE for 'a', which is not a state", "'a' is a param; only states have ODEs"),
    ('ode_twice', 'neuron M\n    state V = 0.0\n    dV/dt = -V\n    dV/dt = V\n',
     CheckError, 4, 5, 'dV/dt is defined twice (first at line 3)', 'combine the right-hand sides into one eq'),
    ('ode_int_state', 'neuron M\n    state n: int = 0\n    dn/dt = 1\n',
     CheckError, 3, 5, "ODE for int state 'n'", 'only float states can follow an ODE'),
    ('threshold_number', 'neuron M\n    state V = 0.0\n    threshold: V + 1\n',
     CheckError, 3, 18, 'threshold must be a condition', "write a comparison such as 'V >= v_thres"),
    ('unknown_function', 'neuron M\n    state V = 0.0\n    dV/dt = sigmoid(V)\n',
     CheckError, 3, 13, "unknown function 'sigmoid'", 'functions: abs, ceil, clip, cos, exp, ex'),
    ('arity', 'neuron M\n    state V = 0.0\n    dV/dt = exp(V, 2)\n',
     CheckError, 3, 13, 'exp() takes 1 argument, got 2', 'write exp(x)'),
    ('arity_min', 'neuron M\n    state V = 0.0\n    dV/dt = min(V)\n',
     CheckError, 3, 13, 'min() takes at least 2 arguments, got 1', 'write min(a, b, ...)'),
    ('cyclic_let', 'neuron M\n    state V = 0.0\n    let a = b + 1\n    let b = a * 2\n    dV/dt = a\n',
     CheckError, 3, 9, "let 'a' depends on itself (a -> b -> a)", 'break the cycle: a let cannot refer back'),
    ('self_let', 'neuron M\n    state V = 0.0\n    let a = a + 1\n    dV/dt = a\n',
     CheckError, 3, 9, "let 'a' depends on itself (a -> a)", 'break the cycle: a let cannot refer back'),
    ('int_gets_float', 'neuron M\n    state n: int = 0\n    after: n = n + 0.5\n',
     CheckError, 3, 18, "'n' is int but the value is float", 'int values come from int params, states,'),
    ('bool_arith', 'neuron M\n    state V = 0.0\n    dV/dt = (V > 1) + 1\n',
     CheckError, 3, 16, "cannot use a condition as a number with '+'", 'arithmetic needs numbers'),
    ('and_numbers', 'neuron M\n    state V = 0.0\n    threshold: V and 1\n',
     CheckError, 3, 16, "'and' takes conditions", "compare with a number first, e.g. 'x > 0"),
    ('undefined_switch', 'neuron M\n    state V = 0.0\n    if fancy:\n        param a = 1.0\n',
     CheckError, 3, 8, "unknown switch 'fancy'", "declare it with 'switch fancy = true'"),
    ('decl_if_state', 'neuron M\n    state V = 0.0\n    if V > 1:\n        param a = 1.0\n',
     CheckError, 3, 8, "unknown switch 'V'", "declare it with 'switch V = true'"),
    ('float_index', 'neuron M\n    array T\n    state V = 0.0\n    after: V = T[V]\n',
     CheckError, 4, 18, 'the index of T must be an int, not float', 'use int states/params or floor division '),
    ('unindexed_array', 'neuron M\n    array T\n    state V = 0.0\n    after: V = T\n',
     CheckError, 4, 16, "array 'T' must be indexed", 'write T[i]'),
    ('xi_in_statement', 'neuron M\n    state V = 0.0\n    after: V += xi\n',
     CheckError, 3, 17, "white noise 'xi' may only appear in an ODE", 'use rand_normal() for a random number in'),
    ('bad_method', 'neuron M\n    state V = 0.0\n    dV/dt = -V\n    method: rk5\n',
     CheckError, 4, 13, "unknown integration method 'rk5'", "did you mean 'rk4'?"),
    ('impossible_method', 'neuron M\n    state V = 0.0\n    dV/dt = -V**2\n    method: exact\n',
     SolverError, 4, 13, "method 'exact' cannot integrate this model: dV/dt ", "remove the 'method:' line to let eqsnn c"),
    ('constraint_default', 'neuron M\n    param tau = -1.0 (> 0)\n',
     CheckError, 2, 23, "the default -1.0 of tau violates '> 0'", 'choose a default that is > 0'),
    ('param_nonconst', 'neuron M\n    state V = 0.0\n    param a = V\n',
     CheckError, 3, 15, "'V' is not a constant here", 'only numbers and switches may be used'),
    ('init_uses_state', 'neuron M\n    state V = 0.0\n    state W = V\n',
     CheckError, 3, 15, "initial values may use params, not 'V'", 'set the initial value from the Simulator'),
    ('negative_without_positive', 'neuron M\n    state V = 0.0\n    negative threshold: V < -1\n',
     CheckError, 3, 5, 'a negative threshold needs a threshold', "add 'threshold: ...' for the positive sp"),
    ('two_thresholds', 'neuron M\n    state V = 0.0\n    threshold: V > 1\n    threshold: V > 2\n',
     CheckError, 4, 5, "a model has at most one 'threshold:'", "combine the conditions with 'and' / 'or'"),
    ('multiplicative_xi', 'neuron M\n    state V = 0.0\n    dV/dt = -V + xi * xi\n',
     SolverError, 3, 5, 'noise in dV/dt must be additive: a term times xi', "write e.g. 'sigma * xi', with xi appeari"),
    ('local_redefined', 'neuron M\n    state V = 0.0\n    after:\n        let x = 1.0\n        let x = 2.0\n',
     CheckError, 5, 13, "'x' is already defined (line 4)", 'give the local its own name'),
    ('local_out_of_scope', 'neuron M\n    state V = 0.0\n    after:\n        if V > 0:\n            let x = 1.0\n        V = x\n',
     CheckError, 6, 13, "local 'x' is not visible here", 'it is defined at line 5 inside another b'),
    ('div_zero', 'neuron M\n    state V = 0.0\n    dV/dt = V / 0\n',
     CheckError, 3, 17, 'division by zero', 'divide by a non-zero value'),
    ('bool_state_number', 'neuron M\n    state b: bool = 1.0\n',
     CheckError, 2, 21, "'b' is bool but the value is float", 'bool values come from comparisons such a'),
    ('not_number', 'neuron M\n    state V = 0.0\n    threshold: not V\n',
     CheckError, 3, 20, "'not' takes a condition", "compare first, e.g. 'not (V > 0)'"),
    ('switch_nested', 'neuron M\n    switch a = true\n    if a:\n        switch b = true\n',
     CheckError, 4, 16, 'switches are declared at the top level of the mode', "move the switch out of the 'if' block"),
    ('coupled_unless', 'neuron M\n    state V = 0.0\n    state I = 0.0\n    dV/dt = I - V unless V > 1\n    dI/dt = -I\n',
     SolverError, 4, 5, "coupled equations (V, I) must share one 'unless' c", 'freeze all of them under the same condit'),]


@pytest.mark.parametrize(("source", "cls", "line", "column", "message", "hint"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_input_is_reported_at_its_place_with_a_hint(source, cls, line, column, message,
                                                        hint):
    with pytest.raises(cls) as info:
        eqsnn.compile(source)
    error = info.value
    assert isinstance(error, EqsnnError)
    assert (error.line, error.column) == (line, column)
    assert error.message.startswith(message)
    assert hint in error.hint
    text = str(error)
    # the message shows the offending line with a caret under the column
    shown = source.splitlines()[line - 1]
    assert shown.strip() in text
    caret_line = text.splitlines()[2]
    assert caret_line.index("^") == 4 + column - 1


def test_a_lone_carriage_return_is_named_at_its_place():
    with pytest.raises(ParseError) as info:
        eqsnn.compile("neuron M\r    state V = 0.0\n")
    assert (info.value.line, info.value.column) == (1, 9)
    assert info.value.message == "the text contains the control character '\\r'"


def test_at_least_thirty_distinct_cases():
    assert len({case[0] for case in CASES}) >= 30


def test_errors_derive_from_the_matching_builtin():
    assert issubclass(ParseError, SyntaxError)
    assert issubclass(CheckError, NameError)
    assert issubclass(SolverError, ValueError)


def test_unknown_switch_from_the_api_names_the_known_ones():
    with pytest.raises(CheckError, match="unknown switch 'nope'") as info:
        eqsnn.compile("neuron M\n    switch fancy = true\n    state V = 0.0\n",
                      switches={"nope": True})
    assert "fancy" in info.value.hint


def test_switch_override_of_the_wrong_type():
    with pytest.raises(CheckError, match="takes a bool"):
        eqsnn.compile("neuron M\n    switch fancy = true\n    state V = 0.0\n",
                      switches={"fancy": 3})


def test_error_names_the_file(tmp_path):
    path = tmp_path / "broken.eqs"
    path.write_text("neuron M\n    state V = 0.0\n    dV/dt = -V / tau\n")
    with pytest.raises(CheckError) as info:
        eqsnn.load(path)
    assert str(info.value).startswith(f"{path}:3:18: unknown name 'tau'")


def test_missing_file_is_an_eqsnn_error(tmp_path):
    with pytest.raises(EqsnnError, match="cannot read model file"):
        eqsnn.load(tmp_path / "nope.eqs")


def test_non_string_text_is_rejected():
    with pytest.raises(ParseError, match="must be a str"):
        eqsnn.compile(b"neuron M\n")
