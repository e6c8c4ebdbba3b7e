"""Lark's parse errors in the model's words: what was unexpected, where, and a hint.

:func:`describe_parse_error` turns an ``UnexpectedInput`` into a
:class:`~eqsnn.errors.ParseError` with the line, column, the tokens expected
there by name, and a hint for the usual slips (a single ``=`` in a comparison,
``^`` for a power, an unknown declaration word).
"""

from __future__ import annotations

import re
import unicodedata

import lark

from ..errors import ParseError, suggest
from .habits import foreign_syntax, lookalike_hint

#: the words that start a declaration, for "did you mean" hints
DECLARATION_WORDS = ("param", "state", "input", "let", "switch", "array", "before", "after",
                     "threshold", "reset", "refractory", "method", "negative", "on_spike",
                     "output", "post", "on_pre", "on_post", "pre_spike", "post_spike",
                     "substeps")


_TOKEN_NAMES = {
    "_NL": "end of line", "_INDENT": "an indented block", "_DEDENT": "end of block",
    "NAME": "a name", "NUMBER": "a number", "LPAR": "'('", "BOUNDS_OPEN": "'('", "RPAR": "')'",
    "LSQB": "'['", "RSQB": "']'", "COMPARE": "a comparison", "ASSIGN_OP": "'=' or '+='",
    "SIGN": "'+' or '-'",
    "PRODUCT_OP": "'*' or '/'", "DERIVATIVE": "an ODE 'dX/dt = ...'", "COLON": "':'",
    "EQUAL": "'='", "STRING": "a docstring", "DTYPE": "float, int or bool",
    "$END": "end of file",
}


def _expected(names) -> str:
    shown = sorted({_TOKEN_NAMES.get(n, n.lower().strip("_")) for n in names})
    return ", ".join(shown[:8]) + (", ..." if len(shown) > 8 else "")


def describe_parse_error(exc: lark.exceptions.UnexpectedInput, source: str,
                         filename) -> ParseError:
    """The :class:`ParseError` for one of Lark's: position, message and hint."""
    line, column = exc.line, exc.column
    if line is None or line < 1:  # unexpected end of input
        line = source.count("\n")
        column = len(source.rstrip("\n").split("\n")[-1]) + 1
    expected = getattr(exc, "expected", None) or getattr(exc, "allowed", None) or ()
    token = getattr(exc, "token", None)
    if isinstance(exc, lark.exceptions.UnexpectedCharacters):
        message, hint = _unexpected_character(source, line, column, expected)
    else:
        message, hint = _unexpected_token(token, expected, column)
    if token is not None and token.type == "_INDENT":  # at the indented line, not the end
        rows = source.split("\n")                       # of the line before it
        while line < len(rows) and (line == exc.line or not rows[line - 1].strip()):
            line += 1
        column = len(rows[line - 1]) - len(rows[line - 1].lstrip(" ")) + 1
    habit = None if _non_ascii_at(exc, source, line, column) else foreign_syntax(
        source, line, column)
    if habit is not None and habit[0] is None:  # a '//' comment: the same error, a hint
        hint = habit[1]
    elif habit is not None:
        return ParseError(habit[0], line=habit[3], column=habit[2], hint=habit[1],
                          source=source, filename=filename)
    opener = _unindented_body(source, line)
    if opener is not None and not isinstance(exc, lark.exceptions.UnexpectedCharacters):
        return ParseError(f"expected an indented block after '{opener[1]}' (line {opener[0]})",
                          line=line, column=column, source=source, filename=filename,
                          hint="indent the lines of the block below the line that opens it "
                          "(4 more spaces), or write one statement after the colon")
    generic = (not isinstance(exc, lark.exceptions.UnexpectedCharacters) and token is not None
               and token.type not in ("_NL", "$END", "_DEDENT", "_INDENT"))
    word = _leading_word(source, line) if generic else None
    if word is not None and word[1] < column:
        # a line starting "WORD NAME" or "WORD:" with an unknown WORD: a synapse model's
        # post/output:/on_spike: would parse there, so the parser stops later in the line
        text, column = word
        message = f"unexpected {text!r}"
        hint = suggest(text, DECLARATION_WORDS) or _NOT_A_KEYWORD.format(text=text)
    return ParseError(message, line=line, column=column, hint=hint, source=source,
                      filename=filename)


#: the hint for a word where a declaration should start
_NOT_A_KEYWORD = ("{text!r} is not a keyword here; declarations start with param, state, "
                  "input, let, switch, array, dX/dt, before:, after:, threshold:, reset:, "
                  "refractory:, method: or if (and in a synapse on_spike:, output:, post)")


def _non_ascii_at(exc, source: str, line: int, column) -> bool:
    """Did the parser stop at a character outside ASCII (its own error, not a habit)?"""
    if not isinstance(exc, lark.exceptions.UnexpectedCharacters):
        return False
    row = source.split("\n")[line - 1] if 1 <= line <= source.count("\n") + 1 else ""
    return bool(column) and column <= len(row) and not row[column - 1].isascii()


def _unexpected_character(source: str, line: int, column, expected):
    """``(message, hint)`` for a character no token starts with."""
    row = source.split("\n")[line - 1]
    char = row[column - 1] if column and column <= len(row) else "?"
    message = f"unexpected character {char!r}"
    if char == "'":
        hint = "docstrings use double quotes"
    elif char == "^":
        hint = "write powers as '**'"
    elif char in "&|!":
        hint = "write 'and', 'or' and 'not' for logic"
    elif not char.isascii() and (char.isalnum() or char == "\u00b5"):
        message = f"{message}: names are ASCII letters, digits and '_'"
        hint = "spell the name in ASCII (e.g. 'tau' for 'τ', 'u' for 'µ' in a unit)"
    elif not char.isascii() and (char.isspace() or unicodedata.category(char) == "Cf"):
        message = (f"unexpected invisible character {char!r} "
                   f"({unicodedata.name(char, 'a format character')})")
        hint = "replace it with a plain space, or delete it"
    elif lookalike_hint(char):
        hint = lookalike_hint(char)
    elif not char.isascii():
        hint = "replace it with its ASCII form: '-' for a dash, '*' for '×', '\"' for a quote"
    else:
        hint = f"expected {_expected(expected)}" if expected else None
    return message, hint


def _unindented_body(source: str, line: int):
    """``(line, text)`` of the line before ``line`` where it opens a block (ends with ':')
    and ``line`` is not indented below it: the body of ``after:`` or ``if x:`` was not
    indented.  None otherwise."""
    rows = source.split("\n")
    if not 2 <= line <= len(rows) or not rows[line - 1].strip():
        return None
    before = line - 2
    while before >= 0 and not rows[before].split("#")[0].strip():
        before -= 1
    if before < 0 or '"' in rows[before]:
        return None
    opener = rows[before].split("#")[0].rstrip()
    indent = len(rows[line - 1]) - len(rows[line - 1].lstrip(" "))
    if not opener.endswith(":") or indent > len(opener) - len(opener.lstrip(" ")):
        return None
    return before + 1, opener.strip()


_NO_HEADER = ("a model file starts with 'neuron NAME' (or 'synapse NAME', 'weight_update "
              "NAME') on its first line, with its declarations indented below it")


def _unexpected_token(token, expected, column):
    """``(message, hint)`` for a token the grammar does not allow where it stands."""
    if token is not None and token.type == "_INDENT":
        return ("unexpected indentation",
                "only the body of a model, an 'if' or a block is indented")
    if token is not None and token.type in ("$END", "_DEDENT") and "DERIVATIVE" in expected:
        return ("the model has no declarations, only its docstring",
                "declare what it holds, e.g. 'state V = 0.0'")
    if token is not None and token.type in ("_NL", "$END") and "NEURON" in expected:
        return "the text holds no model (it is empty, or only comments)", _NO_HEADER
    if token is not None and token.type in ("_NL", "$END", "_DEDENT"):
        hint = f"expected {_expected(expected)}"
        if set(expected) & {"LPAR", "BOUNDS_OPEN", "NAME", "NUMBER"}:
            hint = "the expression is incomplete: " + hint
        return "unexpected end of line", hint
    text = getattr(token, "value", "")
    message = f"unexpected {text!r}" if text else "unexpected input"
    hint = f"expected {_expected(expected)}" if expected else None
    if text in ("neuron", "synapse", "weight_update") and column == 1:
        message = f"a second {text!r} in one file"
        hint = "a file holds one model: put each model in its own file"
    elif "NEURON" in expected:
        hint = _NO_HEADER
    elif token is not None and token.type == "STRING":
        message = "a string here"
        hint = ("a docstring is the first line of the model's body; equations are written "
                "without quotes, one declaration per line")
    elif token is not None and token.type == "BOUNDS_OPEN" and "BOUNDS_OPEN" not in expected:
        hint = ("constraints and bounds, such as (> 0), follow a param's default or a state's "
                "initial value (inputs, lets and arrays take none)")
    elif token is not None and token.type == "COMPARE" and "COMPARE" not in expected:
        hint = f"a comparison needs a value on each side, e.g. 'x {text} 0'"
    elif "NUMBER" in expected and not expected & {"NAME", "LPAR"}:
        hint = ("a number is expected here: constraints compare with a number, e.g. "
                "(> 0); a switch is set to a number, true or false; a method option to a "
                "number, e.g. adaptive(rtol=1e-6); substeps: to a count from 1 to 64")
    elif text == "=" and "COMPARE" in expected:
        hint = "compare with '==' (a single '=' assigns)"
    elif token is not None and token.type == "NAME" and not expected & {"NAME"}:
        hint = _NOT_A_KEYWORD.format(text=text)
    return message, hint


_STATEMENT_WORDS = {"if", "elif", "else", "let", "pass", "not", "and", "or", "true", "false",
                    "neuron", "synapse"}


def _leading_word(source: str, line: int):
    """``(word, column)`` of a line that starts with an unknown word followed by a name or
    ':' (a would-be declaration), else None."""
    rows = source.split("\n")
    if not 1 <= line <= len(rows):
        return None
    match = re.match(r"(\s*)([A-Za-z_]\w*)\b[ \t]*(:|[A-Za-z_])", rows[line - 1])
    if match is None or match.group(2) in _STATEMENT_WORDS or match.group(2) in (
            DECLARATION_WORDS):
        return None
    return match.group(2), len(match.group(1)) + 1
