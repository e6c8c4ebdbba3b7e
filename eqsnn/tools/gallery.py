"""A standard stimulus for every example and standard-library model, and its figure.

The docs gallery and each model's page show :func:`demo_figure`: ten
neurons of the model on the ``numpy`` backend (float64), each driven by a
different value of the model's input, so that the raster shows how the
firing depends on the drive.  The stimulus is the model's default input
scaled from 0.5x (neuron 0) to 1.5x (neuron 9), or, where the default is
zero or the input is data (the standard library), the spread in
:data:`STIMULI`.  Every figure is a :meth:`eqsnn.Result.plot`, the same
figure a user gets.

>>> demo = standard_demo("lif_pulse")
>>> print(round(demo.inputs["Isyn"].min(), 6), round(demo.inputs["Isyn"].max(), 6))
0.05 0.15
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import EqsnnError

__all__ = ["Demo", "STIMULI", "demo_figure", "example_names", "run_demo", "standard_demo"]

ROOT = Path(__file__).resolve().parents[2]  # the repository: eqsnn/tools/gallery.py
EXAMPLES = ROOT / "examples"

#: neurons in every demo
N_NEURONS = 10
#: the time step (ms) of each demo, where it is not 1 ms: finer where an upstroke is fast,
#: so that the traces draw it (AdEx's adaptive method is right at 0.1 ms as well)
DEMO_DT = {"adex": 0.01, "hh": 0.025, "izhikevich": 0.5, "coba_lif": 0.5}
#: demo length (ms) where it is not 200 ms
DEMO_MS = {"hh": 100.0, "adex": 100.0, "few_spike_relu": 40.0, "few_spike_relu_input": 40.0}
#: one value per neuron (low, high) for the inputs whose default is zero or data
STIMULI = {
    "adaptive_leaky_integrate_fire": {"Isyn": (0.04, 0.2)},
    "binary_spike_input": {"Input": "alternating"},
    "coba_lif": {"spikes_exc": (0.0002, 0.001)},
    "few_spike_relu": {"Isyn": (0.0, 2.0)},
    "few_spike_relu_input": {"Input": (0.0, 25.0)},
    "integrate_fire": {"Isyn": (0.01, 0.1)},
    "integrate_fire_input": {"Input": (0.01, 0.1)},
    "leaky_integrate": {"Isyn": (0.01, 0.1)},
    "leaky_integrate_fire": {"Isyn": (0.04, 0.15)},
    "leaky_integrate_fire_input": {"Input": (0.04, 0.15)},
    "poisson_input": {"Input": (0.005, 0.1)},
    "spike_input": {"Input": "spike_times"},
}


@dataclass(frozen=True)
class Demo:
    """What :func:`run_demo` simulates: a model, its time step and length, its inputs."""

    name: str
    model: object  # an eqsnn.Model or a standard-library neuron
    dt: float
    steps: int
    inputs: dict = field(default_factory=dict)
    record: tuple = ()
    description: str = ""


def example_names() -> list[str]:
    """The examples shipped in ``examples/`` (file stems), sorted."""
    return sorted(path.stem for path in EXAMPLES.glob("*.eqs"))


def _load(name: str):
    from .. import neurons
    from ..model import load

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. "integrating with RK4 (not exact)"
        if name in neurons.NEURONS:
            return neurons.get_neuron(name), neurons.NEURONS[name]().model()
        path = EXAMPLES / f"{name}.eqs"
        if not path.exists():
            raise EqsnnError(f"no example or standard-library model called {name!r}",
                             hint="see eqsnn.tools.gallery.example_names() and eqsnn.neurons.NAMES")
        model = load(path)
        return model, model


def _spread(low: float, high: float) -> np.ndarray:
    return np.linspace(low, high, N_NEURONS)


def _data_input(kind: str, steps: int, dt: float):
    from ..neurons import preprocess_spikes

    if kind == "alternating":  # static binary data: the even neurons are on
        return np.array([1.0 if i % 2 == 0 else 0.0 for i in range(N_NEURONS)])
    # spike_input: neuron i fires regularly with period 5 (i + 1) ms
    times, ids = [], []
    for i in range(N_NEURONS):
        fire = np.arange(2.0, steps * dt, 5.0 * (i + 1))
        times.append(fire)
        ids.append(np.full(len(fire), i))
    order = np.argsort(np.concatenate(times), kind="stable")
    return [preprocess_spikes(np.concatenate(times)[order], np.concatenate(ids)[order],
                              N_NEURONS)]


def standard_demo(name: str) -> Demo:
    """The standard stimulus of the example or standard-library model called ``name``."""
    from .comparison import float_states

    model, compiled = _load(name)
    dt = DEMO_DT.get(name, 1.0)
    steps = int(round(DEMO_MS.get(name, 200.0) / dt))
    inputs = {}
    for input_name, spec in STIMULI.get(name, {}).items():  # standard-library data included
        inputs[input_name] = (_spread(*spec) if isinstance(spec, tuple)
                              else _data_input(spec, steps, dt))
    units = dict(compiled.ir.units)  # the default is internal; a Simulator takes declared
    for declared in compiled.ir.inputs:
        if declared.name not in inputs and declared.default:
            unit = units.get(declared.name)
            default = declared.default if unit is None else unit.from_internal(declared.default)
            inputs[declared.name] = default * _spread(0.5, 1.5)
    states = [s for s in float_states(compiled) if not s.endswith("_before")]
    doc = compiled.doc.strip().split("\n\n")[0]
    return Demo(name, model, dt, steps, inputs, tuple(states[:2]), " ".join(doc.split()))


def run_demo(demo: Demo):
    """Simulate a :class:`Demo` on ``numpy`` in float64 and return its :class:`Result`."""
    from ..runtime import Simulator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sim = Simulator(demo.model, N_NEURONS, dt=demo.dt, precision="float64")
        record = list(demo.record) + (["spikes"] if sim.model.threshold is not None else [])
        return sim.run(demo.steps, inputs=demo.inputs, record=record, progress=False)


def stimulus_text(demo: Demo) -> str:
    """One line saying how the ten neurons are driven (for the caption)."""
    parts = []
    for name, value in demo.inputs.items():
        if isinstance(value, np.ndarray) and value.ndim == 1 and value.size == N_NEURONS:
            steps = np.diff(value)
            if np.allclose(steps, steps[0]):
                parts.append(f"{name} from {value[0]:g} (neuron 0) to {value[-1]:g} (neuron 9)")
            else:
                parts.append(f"{name} = " + ", ".join(f"{v:g}" for v in value))
        else:
            parts.append(f"{name}: regular spike trains, neuron i every 5(i + 1) ms")
    return "; ".join(parts) or "no input (the model's own dynamics)"


def demo_figure(name: str, path=None):
    """The figure of ``name``'s standard demo (a ``matplotlib.figure.Figure``); saved at
    ``path`` when given (checked before the demo runs)."""
    if path is not None:
        from ..runtime.paths import check_figure_path

        path = check_figure_path(path)
    demo = standard_demo(name)
    result = run_demo(demo)
    return result.plot(path)
