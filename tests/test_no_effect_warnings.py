"""Text that compiles but has no effect (or the same effect at every step) is most likely a
mistake: each gives an EqsnnWarning naming the line; the same construct made constant by a
switch (its purpose) gives none."""

from __future__ import annotations

import warnings

import pytest

import eqsnn
from eqsnn import EqsnnWarning

HEAD = "neuron A\n    param v_th = 1.0\n    state V = 0.0\n    input I = 0.0\n"


def _warnings(text: str, switches=None) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        eqsnn.compile(text, switches=switches)
    return [str(w.message) for w in caught if issubclass(w.category, EqsnnWarning)]


@pytest.mark.parametrize("body, line, column, words", [
    ("    after:\n        V = clip(V + I, 1.0, 1.0)\n", 6, 13,
     "clip(x, 1.0, 1.0) has equal bounds: it is 1.0 whatever"),
    ("    after:\n        V = clip(V, 2 * v_th, v_th + v_th)\n", 6, 13,
     "clip(x, 2*v_th, 2*v_th) has equal bounds: it is 2*v_th whatever x is"),
    ("    after:\n        V = V\n", 6, 9, "'V = ...' leaves V as it is"),
    ("    after:\n        V += 0\n", 6, 9, "'V += ...' leaves V as it is"),
    ("    after:\n        V *= 1\n", 6, 9, "'V *= ...' leaves V as it is"),
    ("    after:\n        if 1 > 2:\n            V = 0.0\n", 6, 12, "always false: its block "
     "never runs"),
    ("    after:\n        if true:\n            V = 0.0\n", 6, 12, "always true: its block "
     "always runs"),
    ("    dV/dt = -V + I unless true\n", 5, 27, "dV/dt is never integrated"),
    ("    dV/dt = -V + I unless 1 < 0\n", 5, 27, "dV/dt is always integrated"),
    ("    dV/dt = -V + I\n    threshold: true\n    reset: V = 0.0\n", 6, 16,
     "spikes at every step"),
    ("    dV/dt = -V + I\n    threshold: 2 < 1\n    reset: V = 0.0\n", 6, 16,
     "never spikes"),
    ("    dV/dt = -V + I\n    threshold: V > v_th\n    reset: V = V\n", 7, 12,
     "leaves V as it is"),
    ("    dV/dt = -V + I unless refractory\n    refractory: false\n", 6, 17,
     "never refractory"),
    ("    state R = 0.0\n    dV/dt = -V + I\n    refractory: R > 0\n", 7, 5,
     "'refractory:' is never read, so it changes nothing"),
])
def test_a_construct_without_effect_warns_with_its_line(body, line, column, words):
    messages = _warnings(HEAD + body)
    assert len(messages) == 1, messages
    assert messages[0].startswith(f"A: line {line}, column {column}: ")
    assert words in messages[0]


@pytest.mark.parametrize("body", [
    "    switch on = false\n    after:\n        if on:\n            V = 0.0\n",
    "    switch lo = 1.0\n    after:\n        V = clip(V, lo, 1.0)\n",
    "    switch step_size = 0\n    after:\n        V += step_size\n",
    "    switch spiking = false\n    dV/dt = -V + I\n    threshold: V > v_th and spiking\n"
    "    reset: V = 0.0\n",
    "    switch frozen = false\n    let hold = frozen\n    dV/dt = -V unless hold\n",
    "    switch refr = false\n    state R = 0.0\n    dV/dt = -V unless refractory\n"
    "    if refr:\n        refractory: R > 0\n",
    "    after:\n        V = clip(V, -1.0, 1.0)\n        V = V + I\n",
    "    state R = 0.0\n    dV/dt = -V + I\n    refractory: R > 0\n"
    "    threshold: V > v_th and not refractory\n    reset: V = 0.0\n",
    "    state R = 0.0\n    let frozen = refractory\n    dV/dt = -V + I unless frozen\n"
    "    refractory: R > 0\n",
])
def test_the_same_through_a_switch_or_with_an_effect_gives_no_warning(body):
    assert _warnings(HEAD + body) == []


def test_the_warning_comes_again_from_the_compile_cache():
    text = HEAD + "    after:\n        V = V\n"
    assert _warnings(text) and _warnings(text)
