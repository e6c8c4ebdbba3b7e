"""A network's structure and values guarded as a Brian2, NEST or ml_genn user would attack
them: its mappings of populations and connections cannot be changed behind its back,
plastic weights outside the rule's bounds are refused, what GeNN cannot build is refused
when it is added, values are checked once and kept; each error message checked."""

from __future__ import annotations

import numpy as np
import pytest
from test_network import LIF

import eqsnn
from eqsnn.errors import ParameterError
from eqsnn.network import Delta, Exponential, Network


@pytest.fixture(scope="module")
def lif():
    return eqsnn.compile(LIF)


def _pair(lif, backend="numpy"):
    net = Network(dt=1.0, precision="float64", backend=backend)
    net.add_population("a", lif, 2)
    net.add_population("b", lif, 3)
    net.connect("a", "b", Exponential(3.0), weight=0.6, delay=2, name="ab")
    return net


# --- 1. populations and connections are read-only views ----------------------------------

@pytest.mark.parametrize("built", [False, True])
def test_populations_and_connections_cannot_be_changed_behind_the_networks_back(lif, built):
    """They were plain dicts: deleting "b" left a connection into a population the network
    no longer listed (a KeyError deep in the run), and replacing one ran a stale Simulator."""
    net = _pair(lif)
    if built:
        net.run(3, inputs={"a": {"Isyn": 0.4}})
    other = Network().add_population("x", lif, 2)
    for mapping, key, what in ((net.populations, "b", "populations"),
                               (net.connections, "ab", "connections")):
        with pytest.raises(ParameterError, match=f"the network's {what} are read only") as info:
            del mapping[key]
        assert "add_population" in info.value.hint and "connect" in info.value.hint
        with pytest.raises(ParameterError, match=f"the network's {what} are read only"):
            mapping[key] = other
        with pytest.raises(ParameterError, match=f"the network's {what} are read only"):
            mapping["new"] = other
        for method in ("pop", "clear", "update", "setdefault", "popitem"):
            assert not hasattr(mapping, method)
    for attribute in ("populations", "connections"):
        with pytest.raises(AttributeError):
            setattr(net, attribute, {})
    # a population's incoming connections too (a list: clear() left b's composed model
    # without its synapse, append() a connection the network never made)
    b = net.populations["b"]
    assert b.incoming == (net.connections["ab"],)
    with pytest.raises(AttributeError):
        b.incoming.clear()
    with pytest.raises(AttributeError):
        b.incoming = []
    # every documented use still works
    assert list(net.populations) == ["a", "b"] and list(net.connections) == ["ab"]
    assert len(net.populations) == 2 and "a" in net.populations and "ab" in net.connections
    assert net.populations["b"].n == 3 and net.connections["ab"].target is net.populations["b"]
    assert [p.name for p in net.populations.values()] == ["a", "b"]
    assert dict(net.connections.items())["ab"].name == "ab"
    assert net.populations.get("zz") is None and net.connections == {"ab": net.connections["ab"]}
    assert "'a'" in repr(net.populations) and "'ab'" in repr(net.connections)
    # and the network keeps running as before
    res = net.run(10, inputs={"a": {"Isyn": 0.4}}, record={"b": ["V"]})
    assert res["b"].vars["V"].shape == (10, 1, 3)


def test_a_new_population_shows_in_a_view_taken_before(lif):
    net = Network()
    view = net.populations
    net.add_population("a", lif, 2)
    assert list(view) == ["a"]


# --- 5. one set of public state names ---------------------------------------------------

def test_a_hidden_state_is_refused_alike_by_a_simulator_and_a_network(lif):
    """The states a user may set are named by one function (runtime.values.public_states),
    for a Simulator and for a network's population: a hidden state of the check is refused
    by both, with the same list of states."""
    from eqsnn.runtime.values import public_states
    assert public_states(lif.ir) == {"V"}
    with pytest.raises(ParameterError) as by_simulator:
        eqsnn.Simulator(lif, 3, init={"_check_step": 0})
    with pytest.raises(ParameterError) as by_network:
        Network().add_population("a", lif, 3, init={"_check_step": 0})
    assert str(by_network.value) == f"population 'a': {by_simulator.value}"
    assert "unknown state '_check_step'" in str(by_simulator.value)


# --- 6. values checked once, and kept ----------------------------------------------------

def test_a_populations_values_are_checked_once_and_kept(lif, monkeypatch):
    """A population's params and initial values were checked when it was added, then read
    again from the user's arrays and checked again at build: an array changed in between
    ran with its new values (a tau of -1 was refused only at the first run).  Now the
    values checked when it is added are the ones that run (the oracle: V of a LIF driven by
    a constant input, V <- V e^(-1/tau) + I, per neuron)."""
    import eqsnn.runtime.values as values
    seen = []
    check = values._check_constraints
    monkeypatch.setattr(values, "_check_constraints",
                        lambda param, *args: (seen.append(param.name), check(param, *args)))
    tau, start = np.array([5.0, 10.0, 20.0]), np.array([0.1, 0.2, 0.3])
    net = Network(dt=1.0, precision="float64")
    net.add_population("a", lif, 3, params={"tau": tau, "v_th": 100.0}, init={"V": start})
    net.add_population("b", lif, 3, params={"tau": 10.0})
    syn = eqsnn.compile("synapse Decay\n    param tau = 3.0 (> 0)\n    state g = 0.0\n"
                        "    dg/dt = -g / tau\n    on_spike: g += w\n    output: g\n")
    g0 = np.array([0.0, 1.0, 2.0])
    net.connect("a", "b", syn, weight=0.5, synapse_params={"tau": 3.0},
                synapse_init={"g": g0})
    assert seen.count("tau") == 3  # a's, b's and the synapse's, when added
    tau[:] = -1.0  # after add: changes nothing
    start[:] = 50.0
    g0[:] = np.nan
    V = net.run(4, inputs={"a": {"Isyn": 0.25}}, record={"a": ["V"]})["a"].vars["V"][:, 0]
    assert seen.count("tau") == 3  # not again at build (b's default v_th is, a scalar)
    expected, v = [], np.array([0.1, 0.2, 0.3])
    for _ in range(4):
        v = v * np.exp(-1.0 / np.array([5.0, 10.0, 20.0])) + 0.25
        expected.append(v)
    np.testing.assert_allclose(V, expected, rtol=1e-14)
    net.reset()
    np.testing.assert_array_equal(net.state["a"]["V"], [[0.1, 0.2, 0.3]])
    np.testing.assert_array_equal(net.connections["c0"].state["g"], [[0.0, 1.0, 2.0]])


def test_values_with_units_are_converted_once(monkeypatch):
    """Checked values are kept in the internal unit and not converted again at build (a
    param in pF, kept in nF, would otherwise come out 1000 times too small)."""
    model = eqsnn.compile("""neuron Cap
    param c = 250.0 pF (> 0 pF)
    state V = -70.0 mV
    input I = 0.0 nA
    dV/dt = I / c
""")
    net = Network(dt=0.1, precision="float64")
    net.add_population("p", model, 2, params={"c": np.array([0.25, 0.5]) * eqsnn.units.nF},
                       init={"V": "-0.06 V"})
    V = net.run(10, inputs={"p": {"I": 0.1}}, record={"p": ["V"]})["p"].vars["V"][-1, 0]
    # dV/dt = I / c, in mV per ms: 0.1 nA / 0.25 nF = 0.4 mV/ms, / 0.5 nF = 0.2 mV/ms
    np.testing.assert_allclose(V, [-60.0 + 0.4, -60.0 + 0.2], rtol=1e-12)


# --- 2. plastic weights outside the rule's bounds -----------------------------------------

def _plastic_pair(lif, rule, weight=0.5):
    net = Network(dt=1.0, precision="float64", batch_size=2)
    net.add_population("a", lif, 2)
    net.add_population("b", lif, 2)
    return net, net.connect("a", "b", Delta(), weight=weight, weight_update=rule, name="ab")


@pytest.mark.parametrize("rule", ["StdpAdditive", "StdpMultiplicative"])
def test_plastic_weights_outside_the_rules_bounds_are_refused(lif, rule):
    """A weight of 1.5 with w_max = 1 was taken: an additive rule delivered 1.5 until the
    synapse's first update clipped it, and a multiplicative (soft-bound) rule turned
    potentiation into depression, a_plus (w_max - w) x < 0.  Refused everywhere a weight
    comes in, naming the connection, the bound and the offending values; nothing changes."""
    import eqsnn.network as network
    make = getattr(network, rule)
    for weight, text in [
        (1.5, rf"connection 'ab': 4 weights are above w_max = 1.0 of {rule}, the "
              r"largest 1.5 \(synapse 0\)"),
        (np.array([[0.5, -0.25], [0.5, 0.5]]),
         rf"connection 'ab': 1 weight is below w_min = 0.0 of {rule}, -0.25 \(synapse 1\)")]:
        with pytest.raises(ParameterError, match=text) as info:
            _plastic_pair(lif, make(w_max=1.0), weight)
        assert f"{rule}(w_min=..., w_max=...)" in info.value.hint
    net, conn = _plastic_pair(lif, make(w_min=-0.5, w_max=2.0), 1.5)  # within wider bounds
    np.testing.assert_array_equal(conn.weights, 1.5)
    net, conn = _plastic_pair(lif, make(w_max=1.0))
    net.run(5, inputs={"a": {"Isyn": 0.6}})
    before = conn.plastic_state
    with pytest.raises(ParameterError, match=r"connection 'ab': 1 weight is above w_max = 1.0 "
                       r"of .*, 1.25 \(synapse 3, lane 1\)"):
        conn.set_plastic_state("w", [[0.5] * 4, [0.5, 0.5, 0.5, 1.25]])
    with pytest.raises(ParameterError, match="connection 'ab': 2 weights are above w_max"):
        conn.weights = [0.5, 3.0, 0.5, 1.0000001]
    with pytest.raises(ParameterError, match="connection 'ab': 4 weights are below w_min"):
        conn.set_plastic_state("w", -1.0)
    for name, value in before.items():  # nothing changed
        np.testing.assert_array_equal(conn.plastic_state[name], value)
    conn.weights = [0.0, 1.0, 0.25, 0.75]  # the bounds themselves are weights
    np.testing.assert_array_equal(conn.weights, [[0.0, 1.0, 0.25, 0.75]] * 2)


def test_a_compiled_rule_without_named_bounds_takes_any_weight(lif):
    rule = eqsnn.compile("""weight_update Hebb
    param eta = 0.01
    state w = 0.0
    pre state x = 0.0
    dx/dt = -x / 10.0
    pre_spike: x += 1.0
    on_post: w += eta * x
""")
    net, conn = _plastic_pair(lif, rule, weight=-7.5)
    np.testing.assert_array_equal(conn.weights, -7.5)
    bounded = eqsnn.compile("""weight_update Capped
    param w_max = 2.0
    state w = 0.0
    pre state x = 0.0
    dx/dt = -x / 10.0
    pre_spike: x += 1.0
    on_post: w = min(w + x, w_max)
""")
    with pytest.raises(ParameterError, match=r"1 weight is above w_max = 2.0 of Capped, 2.5"):
        _plastic_pair(lif, bounded, weight=np.array([[0, 0], [0, 2.5]]))


# --- 3. what GeNN cannot build is refused when it is added ---------------------------------

def test_what_a_network_on_pygenn_cannot_build_is_refused_when_added(lif):
    """The backend is known from Network(backend="pygenn"): a connection without synapses,
    synapse params per target neuron, a plastic connection with delays other than 1 step, a
    population with a data input or run-time params were refused only at the first run, in
    a network whose structure could no longer be changed.  Now at add/connect, leaving the
    network as it was (no PyGeNN needed to see it)."""
    from eqsnn.errors import BackendError
    from eqsnn.network import FromList, StdpAdditive
    from eqsnn.neurons import LeakyIntegrate, PoissonInput
    syn = eqsnn.compile("synapse S\n    param k = 1.0\n    state g = 0.0\n"
                        "    on_spike: g += k * w\n    output: g\n    after: g = 0.0\n")
    net = Network(backend="pygenn")
    net.add_population("a", lif, 3)
    net.add_population("b", lif, 3)
    for kwargs, text in [
        ({"synapse": Delta(), "connectivity": FromList([], [])},
         "connection 'c0' has no synapses, and GeNN builds no synapse group without any"),
        ({"synapse": syn, "synapse_params": {"k": np.arange(3.0)}},
         "connection 'c0': synapse params per target neuron do not run on pygenn"),
        ({"synapse": Delta(), "delay": [1, 1, 1, 3, 3, 3, 2, 2, 2],
          "weight_update": StdpAdditive()},
         r"plastic connection 'c0' \(StdpAdditive\) has delays of 1 to 3 steps; on pygenn a "
         "plastic connection needs a delay of 1 step"),
        ({"synapse": Delta(), "delay": 2, "weight_update": StdpAdditive()},
         "has delays of 2 to 2 steps"),
    ]:
        with pytest.raises(BackendError, match=text) as info:
            net.connect("a", "b", **kwargs)
        assert "numpy" in info.value.hint
        assert net.connections == {} and net.populations["b"].incoming == ()
    for model, text in [(PoissonInput(), "population 'p': PoissonInput takes a data input"),
                        (LeakyIntegrate(tau_mem=10.0, readout="avg_var"),
                         r"population 'p': LeakyIntegrate reads run-time params \['run_steps'\]")]:
        with pytest.raises(BackendError, match=text):
            net.add_population("p", model, 2)
        assert list(net.populations) == ["a", "b"]
    # what GeNN builds is accepted, and the same on numpy takes all of the above
    net.connect("a", "b", syn, synapse_params={"k": 2.0}, weight_update=StdpAdditive())
    other = Network(backend="numpy")
    other.add_population("a", lif, 3)
    other.add_population("p", PoissonInput(), 3)
    other.connect("a", "a", syn, synapse_params={"k": np.arange(3.0)}, delay=2,
                  weight_update=StdpAdditive())
    other.connect("a", "a", Delta(), connectivity=FromList([], []))


# --- 4. a failure counts neurons and populations, once --------------------------------------

_BOUNDED = """neuron Bounded
    state V = 0.0 (< 100)
    input Isyn = 0.0
    after: V += Isyn
"""
_CLIPPED = """synapse Clipped
    param tau = 5.0 (> 0)
    state g = 0.0 (< 1e20)
    dg/dt = -g / tau
    on_spike: g += w
    output: clip(g, 0.0, 1.0)
"""


def _failing(backend):
    """In population a, V of neuron 0 leaves its bounds at step 3 (1000 through c0) and the
    synapse state g of neuron 1 at step 3 (1e30 through 'fast', whose output is clipped to
    1, so V of neuron 1 stays in bounds): two neurons of one population.  Population b
    fails at step 6."""
    net = Network(dt=1.0, precision="float64", backend=backend)
    src = net.add_spike_source("s", 1, steps=[2, 5], neurons=[0, 0])
    bounded = eqsnn.compile(_BOUNDED)
    net.add_population("a", bounded, 3)
    net.add_population("b", bounded, 2)
    net.connect(src, "a", Delta(), weight=[[1000.0, 0.0, 0.0]], delay=1)
    net.connect(src, "a", eqsnn.compile(_CLIPPED), weight=[[0.0, 1e30, 0.0]], delay=1,
                name="fast")
    net.connect(src, "b", Delta(), weight=[[0.0, 60.0]], delay=1)  # 120 at step 6
    return net


@pytest.mark.parametrize("backend", ["numpy", pytest.param("c", marks=pytest.mark.c),
                                     pytest.param("pygenn", marks=[pytest.mark.pygenn])])
def test_a_failure_counts_the_neurons_of_its_population_and_the_other_populations(backend):
    """On GeNN a population and each connection into it were checked apart: the message
    counted only the failing state's own neurons ("neuron 0" without "(and 1 other
    neuron)") and the hint counted the population's connection as another failure ("and 2
    other populations or connections failed", for one other population).  Every backend
    now says what numpy says: the neurons of the population that failed, and the other
    populations that failed, once."""
    if backend == "pygenn":
        pytest.importorskip("pygenn")
    from eqsnn.errors import NumericalError
    with pytest.raises(NumericalError) as caught:
        _failing(backend).run(10)
    error = caught.value
    assert (error.population, error.state, error.step, error.lane, error.neuron,
            error.count) == ("a", "V", 3, 0, 0, 2)
    assert str(error).startswith("population 'a': V left its bounds (< 100) at step 3 "
                                 "(t = 3), lane 0, neuron 0 (and 1 other neuron)\n")
    assert error.hint.endswith("(and 1 other population failed in this run)")
    assert "connection" not in error.hint.rsplit("(and", 1)[1]


def test_the_other_failures_are_counted_as_populations_and_plastic_connections():
    """raise_earliest words the others by what they are ("population or connection" was
    said of every other failure), and a plastic connection's own failure, raised as it is,
    says the others too (it said nothing of them)."""
    from eqsnn.errors import NumericalError
    from eqsnn.runtime.failures import raise_earliest

    def failing(step, state="V"):
        def report():
            raise NumericalError(f"{state} became NaN or infinite at step {step}", hint="h",
                                 state=state, step=step, lane=0, neuron=0, count=1)
        return report

    for reports, first, note in [
        ([("a", failing(4)), ("b", failing(2)), (None, failing(3, "w"))], "population 'b'",
         "h (and 1 other population and 1 plastic connection failed in this run)"),
        ([("a", failing(4)), (None, failing(1, "w")), (None, failing(3, "w"))], "w became",
         "h (and 1 population and 1 other plastic connection failed in this run)"),
        ([("a", failing(4)), ("b", failing(5)), ("c", failing(6))], "population 'a'",
         "h (and 2 other populations failed in this run)"),
        ([("a", failing(4))], "population 'a'", "h")]:
        with pytest.raises(NumericalError) as caught:
            raise_earliest(reports)
        assert str(caught.value).startswith(first) and caught.value.hint == note


def test_a_synapse_model_genn_cannot_print_is_refused_when_connecting(lif):
    """The GeNN models are printed without PyGeNN, so what they cannot print (a synapse
    model integrated with substeps, one that takes a name the weight-update model keeps,
    one that draws random numbers) is refused when connecting, not at the first run."""
    from eqsnn.errors import BackendError
    from eqsnn.network import StdpAdditive
    clash = eqsnn.compile("synapse S\n    state wu_w = 0.0\n    on_spike: wu_w += w\n"
                          "    output: wu_w\n    after: wu_w = 0.0\n")
    noisy = eqsnn.compile("synapse N\n    state g = 0.0\n    on_spike: g += w\n"
                          "    output: g\n    after: g = 0.5 * g + 0.01 * rand_normal()\n")
    substeps = eqsnn.compile("synapse R\n    state g = 0.0\n    dg/dt = -g * g\n"
                             "    method: adaptive\n    on_spike: g += w\n    output: g\n")
    net = Network(backend="pygenn")
    net.add_population("a", lif, 2)
    net.add_population("b", lif, 2)
    for synapse, kwargs, text in [
        (clash, {"weight_update": StdpAdditive()},
         "connection 'c0': synapse model S uses the name 'wu_w', which the pygenn backend "
         "keeps for the weight-update model"),
        (noisy, {}, "synapse model N draws random numbers"),
        (substeps, {}, "synapse model R is integrated with substeps")]:
        with pytest.raises(BackendError, match=text):
            net.connect("a", "b", synapse, **kwargs)
        assert net.connections == {} and net.populations["b"].incoming == ()
    numpy = Network(backend="numpy")  # numpy runs them
    numpy.add_population("a", lif, 2)
    for synapse in (clash, noisy, substeps):
        numpy.connect("a", "a", synapse)


def test_a_rule_whose_w_min_is_above_its_w_max_is_refused(lif):
    """StdpAdditive(w_min=1, w_max=0) took any weight as "outside" one bound or the other,
    and its clip(w, 1, 0) gives 0 for every w: refused when connecting, naming both."""
    from eqsnn.network import StdpAdditive
    with pytest.raises(ParameterError, match=r"connection 'ab': StdpAdditive's w_min = 1.0 is "
                       r"above its w_max = 0.5") as info:
        _plastic_pair(lif, StdpAdditive(w_min=1.0, w_max=0.5), weight=0.75)
    assert "w_min <= w_max" in info.value.hint
