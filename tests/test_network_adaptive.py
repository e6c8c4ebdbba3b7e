"""A network of adaptive (nonlinear) neurons: the substep loop survives the composition with
synapses, and a population that receives nothing steps as it would alone."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from test_adaptive import ADEX, QIF

import eqsnn
from eqsnn.network import Exponential, Network

# AdEx with its current input named as the synapses' default target
ADEX_SYN = ADEX.replace("input I", "input Isyn").replace("(I ", "(Isyn ").replace(
    " I ", " Isyn ").replace("+ I)", "+ Isyn)")
BACKENDS = ["numpy", pytest.param("c", marks=pytest.mark.c)]
PYGENN = pytest.param("pygenn", marks=[pytest.mark.pygenn, pytest.mark.skipif(
    importlib.util.find_spec("pygenn") is None, reason="needs PyGeNN")])


def _network(backend: str):
    model = eqsnn.compile(ADEX_SYN)
    assert model.ir.method.name == "adaptive"
    net = Network(dt=0.1, precision="float64", backend=backend)
    a = net.add_population("a", model, 3)
    b = net.add_population("b", model, 2)
    net.connect(a, b, Exponential(tau=5.0), weight=4000.0, delay=2)
    return net


@pytest.mark.parametrize("backend", BACKENDS)
def test_adaptive_neurons_in_a_network(backend):
    assert "Isyn" in ADEX_SYN and " I " not in ADEX_SYN
    drive = np.array([700.0, 800.0, 900.0])
    result = _network(backend).run(3000, inputs={"a": {"Isyn": drive}},
                                   record={"a": ["V", "spikes"], "b": ["V", "spikes"]})
    # a receives no connection: it steps as a Simulator of the same model does
    alone = eqsnn.Simulator(eqsnn.compile(ADEX_SYN), 3, dt=0.1, precision="float64",
                            backend=backend)
    reference = alone.run(3000, inputs={"Isyn": drive}, record=["V", "spikes"])
    np.testing.assert_array_equal(result["a"].vars["V"], reference.vars["V"])
    np.testing.assert_array_equal(result["a"].spikes.step, reference.spikes.step)
    assert len(result["a"].spikes.step) > 10
    # b is driven by a's spikes only, and fires
    assert len(result["b"].spikes.step) > 0
    assert result["b"].spikes.step.min() > reference.spikes.step.min()


def test_adaptive_networks_agree_across_backends():
    pytest.importorskip("eqsnn.backends.c")
    runs = [_network(backend).run(3000, inputs={"a": {"Isyn": 800.0}},
                                  record={"b": ["V", "spikes"]}) for backend in ("numpy", "c")]
    numpy_run, c_run = runs
    np.testing.assert_array_equal(numpy_run["b"].spikes.step, c_run["b"].spikes.step)
    scale = np.ptp(numpy_run["b"].vars["V"])
    np.testing.assert_allclose(c_run["b"].vars["V"], numpy_run["b"].vars["V"], rtol=0,
                               atol=1e-9 * scale)


@pytest.mark.pygenn
@pytest.mark.skipif(importlib.util.find_spec("pygenn") is None, reason="needs PyGeNN")
def test_adaptive_network_on_pygenn_matches_numpy():
    runs = [_network(backend).run(3000, inputs={"a": {"Isyn": 800.0}},
                                  record={"b": ["V", "spikes"]})
            for backend in ("numpy", "pygenn")]
    numpy_run, genn_run = runs
    assert len(numpy_run["b"].spikes.step) > 0
    np.testing.assert_array_equal(numpy_run["b"].spikes.step, genn_run["b"].spikes.step)
    scale = np.ptp(numpy_run["b"].vars["V"])
    np.testing.assert_allclose(genn_run["b"].vars["V"], numpy_run["b"].vars["V"], rtol=0,
                               atol=1e-9 * scale)


@pytest.mark.parametrize("fuse", [True, False])
@pytest.mark.parametrize("backend", [*BACKENDS, PYGENN])
def test_the_adaptive_warnings_of_a_network_name_the_population(backend, fuse):
    # three populations of one neuron model: b is driven to several crossings per step, c
    # (a bound of 2 substeps) reaches its bound; a, at rest, warns of nothing
    qif, two = eqsnn.compile(QIF), eqsnn.compile(QIF + "    method: adaptive(max_substeps=2)\n")
    net = Network(dt=1.0, precision="float64", backend=backend)
    net._fuse = fuse
    for name, model in (("a", qif), ("b", qif), ("c", two)):
        net.add_population(name, model, 2)
    with pytest.warns(eqsnn.EqsnnWarning) as caught:
        net.run(5, inputs={"a": {"I": 0.0}, "b": {"I": 100.0}, "c": {"I": 0.0}})
    messages = sorted(str(w.message) for w in caught)
    assert len(messages) == 2, messages
    # shown at the user's line (net.run above), not inside eqsnn
    assert {w.filename for w in caught} == {__file__}, [w.filename for w in caught]
    assert messages[0].startswith("population 'b' (FastQuadratic): ")
    assert "second threshold crossing(s) inside a step" in messages[0]
    assert messages[1].startswith("population 'c' (FastQuadratic): the adaptive integrator "
                                  "reached its bound of 2 substeps")
    assert "first at step 0 (lane 0, neuron 0)" in messages[1]
    # each record was cleared: the next run reports its own (b, undriven, has no crossings)
    with pytest.warns(eqsnn.EqsnnWarning) as caught:
        net.run(3, inputs={"a": {"I": 0.0}, "b": {"I": 0.0}, "c": {"I": 0.0}})
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1 and messages[0].startswith("population 'c' (FastQuadratic): ")
    assert "first at step 5 (lane 0, neuron 0)" in messages[0]


@pytest.mark.parametrize("backend", [*BACKENDS, PYGENN])
def test_a_failure_in_a_network_after_the_substep_bound_points_to_the_bound(backend):
    """As for a Simulator (test_adaptive_attacks.py): Izhikevich at dt = 1 ms with at most 3
    substeps a step runs away in the step taken in one substep; the network's error names
    the population and its hint the bound (on pygenn it gave the method's usual hint)."""
    from test_adaptive import IZHIKEVICH

    from eqsnn.errors import NumericalError

    bounded = eqsnn.compile(IZHIKEVICH.replace(
        "    threshold", "    method: adaptive(max_substeps=3)\n    threshold"))
    net = Network(dt=1.0, precision="float64", backend=backend)
    net.add_population("quiet", eqsnn.compile(IZHIKEVICH), 1)
    net.add_population("bounded", bounded, 1)
    with pytest.warns(eqsnn.EqsnnWarning, match="reached its bound of 3 substeps"):
        with pytest.raises(NumericalError) as caught:
            net.run(20)
    assert caught.value.population == "bounded"
    assert "raise adaptive(max_substeps=...)" in caught.value.hint
    assert "tighten" not in caught.value.hint
