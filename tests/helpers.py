"""Hand-built IR models for the backend and runtime tests (no parser needed)."""

from __future__ import annotations

import importlib.util
import os

import pytest
import sympy

from eqsnn import ir

S = sympy.Symbol
V, Isyn, RefracTime, dt, t = S("V"), S("Isyn"), S("RefracTime"), S("dt"), S("t")
POSITIVE = (ir.Constraint(">", 0.0),)

#: every backend as a pytest parameter with its tier's mark (cupy on the CPU emulation of
#: CUDA, pygenn where PyGeNN is installed)
EVERY_BACKEND = [
    "numpy",
    pytest.param("c", marks=pytest.mark.c),
    pytest.param("cupy", marks=pytest.mark.c),
    pytest.param("pygenn", marks=[pytest.mark.pygenn, pytest.mark.skipif(
        importlib.util.find_spec("pygenn") is None, reason="needs PyGeNN")]),
]


def vogels_abbott():
    """``examples/networks/vogels_abbott.py`` as a module (the examples are no package)."""
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "examples", "networks", "vogels_abbott.py")
    spec = importlib.util.spec_from_file_location("vogels_abbott", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def lif(relative_reset: bool = True) -> ir.Model:
    """ml_genn's LIF with delta input: ``V <- Alpha V + Isyn``, Alpha = exp(-dt/tau_mem)."""
    reset = V - (S("v_thresh") - S("v_reset")) if relative_reset else S("v_reset")
    return ir.Model(
        name="LIF",
        params=(
            ir.Param("v_thresh", default=1.0),
            ir.Param("v_reset", default=0.0),
            ir.Param("tau_mem", default=20.0, constraints=POSITIVE),
        ),
        states=(ir.State("V"),),
        inputs=(ir.Input("Isyn", default=0.0),),
        precompute=(ir.Derived("Alpha", sympy.exp(-dt / S("tau_mem"))),),
        step=(ir.Assign("V", S("Alpha") * V + Isyn),),
        threshold=V >= S("v_thresh"),
        reset=(ir.Assign("V", reset),),
        method=ir.Method("exact"),
    )


def lif_refractory() -> ir.Model:
    """LIF with ml_genn's float countdown ``RefracTime -= dt`` (integrate during refractoriness)."""
    base = lif()
    return base.replace(
        name="LIFRefractory",
        params=base.params + (ir.Param("tau_refrac", default=5.0),),
        states=base.states + (ir.State("RefracTime"),),
        step=base.step + (
            ir.If(RefracTime > 0, (ir.Assign("RefracTime", RefracTime - dt),)),
        ),
        threshold=sympy.And(V >= S("v_thresh"), RefracTime <= 0),
        reset=base.reset + (ir.Assign("RefracTime", S("tau_refrac")),),
    )


def integrate_fire() -> ir.Model:
    """``V <- V + Isyn``; absolute reset to v_reset; the initial value is the param ``v``."""
    return ir.Model(
        name="IntegrateFire",
        params=(ir.Param("v_thresh", default=1.0), ir.Param("v_reset", default=0.0),
                ir.Param("v", default=0.0)),
        states=(ir.State("V", init=S("v")),),
        inputs=(ir.Input("Isyn"),),  # no default
        step=(ir.Assign("V", V + Isyn),),
        threshold=V >= S("v_thresh"),
        reset=(ir.Assign("V", S("v_reset")),),
    )


def current_lif() -> ir.Model:
    """Exponential synaptic current into a leaky membrane, exact propagators (2x2 system).

    ``dI/dt = -I/tau_syn``, ``dV/dt = -V/tau_mem + I``; ``Isyn`` jumps ``I``
    after the step.  A local keeps the old ``I`` for the simultaneous update.
    """
    tau_syn, tau_mem = S("tau_syn"), S("tau_mem")
    matrix = sympy.ImmutableMatrix([[-1 / tau_syn, 0], [1, -1 / tau_mem]])
    propagator = ir.Propagator(
        matrix=matrix, phi=(("P_II", None), ("P_VI", "P_VV")), gamma=((None, None), (None, None))
    )
    return ir.Model(
        name="CurrentLIF",
        params=(ir.Param("tau_syn", default=5.0, constraints=POSITIVE),
                ir.Param("tau_mem", default=20.0, constraints=POSITIVE)),
        states=(ir.State("I"), ir.State("V")),
        inputs=(ir.Input("Isyn", default=0.0),),
        precompute=(propagator,),
        step=(
            ir.Local("I_old", "float", S("I")),
            ir.Assign("I", S("P_II") * S("I")),
            ir.Assign("V", S("P_VV") * V + S("P_VI") * S("I_old")),
            ir.Assign("I", S("I") + Isyn),
        ),
        method=ir.Method("exact"),
    )


def counter() -> ir.Model:
    """Int and bool states: ``count += 1``; spike when ``count % period == 0``."""
    count = S("count")
    return ir.Model(
        name="Counter",
        params=(ir.Param("period", dtype="int", default=3),),
        states=(ir.State("count", dtype="int"), ir.State("flag", dtype="bool")),
        step=(
            ir.Assign("count", count + 1),
            ir.Assign("flag", sympy.Eq(sympy.Mod(count, S("period")), 0)),
        ),
        threshold=S("flag"),
    )


def spike_source() -> ir.Model:
    """ml_genn's SpikeInput: spike times in an array, one spike per step at most."""
    start, end = S("StartSpike"), S("EndSpike")
    return ir.Model(
        name="SpikeSource",
        states=(ir.State("StartSpike", "int"), ir.State("EndSpike", "int")),
        arrays=(ir.Array("SpikeTimes"),),
        threshold=sympy.And(sympy.Ne(start, end), t >= ir.ArrayGet(S("SpikeTimes"), start)),
        reset=(ir.Assign("StartSpike", start + 1),),
    )


def noisy() -> ir.Model:
    """Random draws: ``V += sigma * normal``; a Poisson spike where ``uniform >= exp(-rate dt)``."""
    return ir.Model(
        name="Noisy",
        params=(ir.Param("sigma", default=1.0), ir.Param("rate", default=0.1)),
        states=(ir.State("V"), ir.State("U")),
        step=(
            ir.Assign("V", V + S("sigma") * ir.RandNormal(1)),
            ir.Assign("U", ir.RandUniform(0)),
        ),
        threshold=S("U") >= sympy.exp(-S("rate") * dt),
    )


def binary_signed() -> ir.Model:
    """Signed spikes: positive where the input is > 0, negative where it is < 0."""
    x = S("x")
    return ir.Model(
        name="BinarySigned",
        states=(ir.State("last"),),
        inputs=(ir.Input("x"),),
        step=(ir.Assign("last", x),),
        threshold=x > 0,
        negative_threshold=x < 0,
    )


def branches() -> ir.Model:
    """Nested ifs, else branches, a float local, Piecewise, phi1, min/max and the built-ins."""
    x, k = S("x"), S("k")
    return ir.Model(
        name="Branches",
        params=(ir.Param("gain", default=2.0),),
        states=(ir.State("x"), ir.State("y"), ir.State("k", "int")),
        inputs=(ir.Input("drive", default=0.0),),
        step=(
            ir.Local("u", "float", S("drive") + S("id") + 10 * S("batch")),
            ir.If(
                S("u") > 3,
                (ir.If(S("u") > 5, (ir.Assign("x", S("u") * S("gain")),),
                       (ir.Assign("x", -S("u")),)),),
                (ir.Assign("x", sympy.Piecewise((t, S("u") < 1), (0.5, True))),),
            ),
            ir.Assign("y", ir.phi1(x - 4) + sympy.Max(sympy.Min(x, 7), 1) / 2),
            ir.Assign("k", S("step") * 2 + k),
        ),
    )


def lif_counting() -> ir.Model:
    """LIF whose readout is its number of spikes in each run."""
    base = lif()
    return base.replace(
        name="LIFCount",
        states=base.states + (ir.State("Scount"),),
        reset=base.reset + (ir.Assign("Scount", S("Scount") + 1),),
        readout=ir.Readout("spike_count", "Scount", ("Scount",)),
    )


def leaky_average() -> ir.Model:
    """Leaky integrator whose readout is the mean of V over the run (``run_steps`` per run)."""
    return ir.Model(
        name="LeakyAverage",
        params=(ir.Param("tau_mem", default=10.0, constraints=POSITIVE),
                ir.Param("run_steps", "int", 1)),
        states=(ir.State("V"), ir.State("Avg")),
        inputs=(ir.Input("Isyn", default=0.0),),
        precompute=(ir.Derived("Alpha", sympy.exp(-dt / S("tau_mem"))),),
        step=(ir.Assign("V", S("Alpha") * V + Isyn),
              ir.Assign("Avg", S("Avg") + V / S("run_steps"))),
        readout=ir.Readout("avg_var", "Avg", ("Avg",)),
        runtime_params=("run_steps",),
    )


def simulators_made(monkeypatch) -> list:
    """From now on in the test, each ``Simulator`` made appends ``(backend, fast_math)`` to
    the list returned."""
    from eqsnn import runtime

    seen: list = []
    original = runtime.Simulator.__init__

    def spy(self, *args, backend="numpy", fast_math=False, **kwargs):
        seen.append((backend, fast_math))
        original(self, *args, backend=backend, fast_math=fast_math, **kwargs)

    monkeypatch.setattr(runtime.Simulator, "__init__", spy)
    return seen


def list_command_raising(monkeypatch, error: BaseException) -> None:
    """From now on in the test, ``eqsnn list`` on the command line raises ``error`` (how
    the command line reports an error that no command meant to raise)."""
    from eqsnn.tools import cli

    def raising(args):
        raise error

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    parser._subparsers._group_actions[0].choices["list"].set_defaults(func=raising)
