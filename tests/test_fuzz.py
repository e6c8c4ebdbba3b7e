"""Random and mutated sources raise nothing but EqsnnError, and never hang."""

from __future__ import annotations

import glob
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import eqsnn
from eqsnn.errors import EqsnnError, InternalError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = [open(p).read() for p in sorted(glob.glob(os.path.join(ROOT, "examples/*.eqs")))]
TOKENS = ["neuron", "M", "\n", "    ", "param", "state", "input", "let", "switch", "array",
          "dV/dt", "=", "+=", "V", "x", "I", "1.0", "0", "2", "(", ")", "[", "]", ":", ",",
          "+", "-", "*", "/", "//", "%", "**", ">", ">=", "==", "and", "or", "not", "if",
          "else", "elif", "after", "before", "reset", "threshold", "negative", "refractory",
          "unless", "method", "rk4", "exact", "exp", "min", "xi", "t", "dt", "true", "int",
          "rand_uniform()", '"doc"', "#", "1e308", "**1e9"]


def compile_quietly(text):
    try:
        eqsnn.compile(text)
    except InternalError:
        raise
    except EqsnnError:
        pass


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TOKENS), max_size=40))
def test_token_soup_raises_only_eqsnn_errors(tokens):
    compile_quietly("neuron M\n    " + " ".join(tokens) + "\n")


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(EXAMPLES), st.data())
def test_mutated_examples_raise_only_eqsnn_errors(source, data):
    text = source
    for _ in range(data.draw(st.integers(1, 3))):
        position = data.draw(st.integers(0, len(text)))
        action = data.draw(st.sampled_from(["delete", "insert", "replace", "duplicate"]))
        if action == "delete":
            end = position + data.draw(st.integers(1, 12))
            text = text[:position] + text[end:]
        elif action == "insert":
            text = text[:position] + data.draw(st.sampled_from(TOKENS)) + text[position:]
        elif action == "replace":
            text = text[:position] + data.draw(st.characters()) + text[position + 1:]
        else:
            lines = text.splitlines(keepends=True)
            k = data.draw(st.integers(0, len(lines) - 1))
            text = "".join(lines[:k] + [lines[k]] + lines[k:])
    compile_quietly(text)


@settings(max_examples=100)
@given(st.text(max_size=200))
def test_arbitrary_text_raises_only_eqsnn_errors(text):
    compile_quietly(text)
