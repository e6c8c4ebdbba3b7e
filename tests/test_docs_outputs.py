"""What the pages say their Python blocks print or return is what they do.

tests/test_docs.py runs every block; this checks the values the pages state in their
comments and prose (shapes, the method chosen, an error example that must raise).
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
import warnings

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_page(page, tmp_path, monkeypatch):
    """The namespace and stdout of a page's ```python blocks, run in order."""
    pytest.importorskip("matplotlib")
    tmp_path = tmp_path / os.path.basename(page)[:-3]  # a folder per page
    tmp_path.mkdir()
    monkeypatch.chdir(tmp_path)
    os.symlink(os.path.join(ROOT, "examples"), tmp_path / "examples")
    monkeypatch.syspath_prepend(str(tmp_path))
    blocks = re.findall(r"```python\n(.*?)```", open(os.path.join(ROOT, page)).read(), re.S)
    namespace: dict = {}
    out = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(out):
        warnings.simplefilter("ignore")
        for block in blocks:
            if "import cupy" in block:  # the GPU block: tests/test_docs.py runs it emulated
                continue
            exec(compile(block, page, "exec"), namespace)
    return namespace, out.getvalue()


def test_readme_and_index(tmp_path, monkeypatch):
    ns, out = run_page("README.md", tmp_path, monkeypatch)
    assert "method: exact" in out and ns["result"].vars["V"].shape == (1000, 1, 100)
    ns, out = run_page("docs/index.md", tmp_path, monkeypatch)
    assert ns["model"].method == "exact"
    assert ns["result"].vars["V"].shape == (1000, 1, 100)
    assert f"{len(ns['result'].spikes.step)} spikes" in out


def test_own_neuron_tutorial(tmp_path, monkeypatch):
    ns, out = run_page("docs/tutorial-own-neuron.md", tmp_path, monkeypatch)
    assert ns["model"].method == "exact"
    assert ns["result"].vars["V"].shape == (2000, 1, 3)
    assert ns["result"].spikes.counts().shape == (1, 3)
    # the mistake example makes the error the page describes (its replace used to match nothing)
    assert "<model>:15:23: unknown name 'tau_me'" in out
    assert "hint: did you mean 'tau_mem'?" in out
    assert os.path.getsize(tmp_path / "tutorial-own-neuron" / "my_lif.png") > 10_000


def test_stdlib_tutorial(tmp_path, monkeypatch):
    ns, out = run_page("docs/tutorial-stdlib.md", tmp_path, monkeypatch)
    assert ns["result"].readout.shape == (2, 100)
    np.testing.assert_array_equal(ns["out"].spikes.step, [1, 2, 5])
    np.testing.assert_array_equal(ns["out"].spikes.neuron, [0, 2, 1])


def test_simulator_page(tmp_path, monkeypatch):
    ns, _ = run_page("docs/simulator.md", tmp_path, monkeypatch)
    assert ns["result"].units == {"V": "mV", "w": "pA"}
    assert ns["spikes"].offset.dtype == np.float64


def test_simulator_page_first_example(tmp_path, monkeypatch):
    """The first block's stated shape, checked on its own (later blocks rebind result)."""
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    os.symlink(os.path.join(ROOT, "examples"), tmp_path / "examples")
    page = open(os.path.join(ROOT, "docs/simulator.md")).read()
    first = re.findall(r"```python\n(.*?)```", page, re.S)[0]
    assert "(500, 2, 100)" in first
    namespace: dict = {}
    exec(compile(first, "simulator.md", "exec"), namespace)
    assert namespace["result"].vars["V"].shape == (500, 2, 100)


def test_brian2_tutorial(tmp_path, monkeypatch):
    ns, out = run_page("docs/tutorial-brian2.md", tmp_path, monkeypatch)
    assert ns["result"].units == {"vm": "mV", "w": "pA"}
    # the held synapse output spikes a step before the conductance kept in the neuron
    assert "[118] [119]" in out
    from eqsnn.network import Network

    net = Network(dt=0.1)
    net.add_spike_source("input", 1, steps=[50], neurons=[0])
    net.add_population("cells", ns["coba"], 1)
    with pytest.raises(ns["eqsnn"].EqsnnError, match=re.escape(
            "the output of synapse model ExpCondUnits is a current (nA), but input 'dg_e' of "
            "AdExCoba is a conductance (nS)")) as refused:
        net.connect("input", "cells", ns["exp_cond"], target_input="dg_e")
    assert "target_input='I'" in refused.value.hint
    bare = ns["exp_cond"].ir.meta["source"].replace("post vm [mV]", "post vm")
    with pytest.raises(ns["eqsnn"].EqsnnError, match="post vm") as refused:
        ns["eqsnn"].compile(bare)
    assert "post vm [mV]" in refused.value.hint


def test_network_page(tmp_path, monkeypatch):
    ns, out = run_page("docs/network.md", tmp_path, monkeypatch)
    weights = ns["stdp"].weights
    assert weights.shape == (2, 1)
    np.testing.assert_allclose(weights[:, 0], [0.5 + 0.01 * math.exp(-5 / 20),
                                               0.5 - 0.0105 * math.exp(-3 / 20)], rtol=1e-12)
    assert ns["res"]["exc"].spikes is not None
    assert math.isfinite(ns["cv"]) and ns["rate"] > 0  # a CV of NaN would puzzle a reader
