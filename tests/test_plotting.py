"""Result.plot: time in ms, a colour per neuron in every panel, a title saying what ran."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

import eqsnn
from eqsnn import neurons
from eqsnn.tools import gallery

pytest.importorskip("matplotlib")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def lif_pulse_result(steps=100, dt=0.5, n=4, batch_size=1, resume=0):
    model = eqsnn.load(os.path.join(ROOT, "examples", "lif_pulse.eqs"))
    sim = eqsnn.Simulator(model, n, dt=dt, batch_size=batch_size, precision="float64")
    if resume:
        sim.run(resume)
    return sim.run(steps, inputs={"Isyn": np.linspace(0.05, 0.2, n)}, record=["V", "spikes"])


def test_time_is_in_ms_and_traces_sit_at_the_end_of_their_step():
    result = lif_pulse_result(steps=100, dt=0.5, resume=20)  # this run starts at t = 10 ms
    figure = result.plot()
    trace_axis, raster_axis = figure.axes
    assert raster_axis.get_xlabel() == "time (ms)"
    assert raster_axis.get_xlim() == (10.0, 60.0)
    line = trace_axis.get_lines()[0]
    np.testing.assert_allclose(line.get_xdata(), 10.0 + 0.5 * np.arange(1, 101))
    np.testing.assert_array_equal(line.get_ydata(), result.vars["V"][:, 0, 0])
    offsets = raster_axis.collections[0].get_offsets()
    np.testing.assert_allclose(np.sort(offsets[:, 0]), np.sort(result.spikes.times))


def test_each_neuron_has_one_colour_in_every_panel():
    result = lif_pulse_result(n=4)
    trace_axis, raster_axis = result.plot().axes
    colours = [tuple(line.get_color()) for line in trace_axis.get_lines()]
    assert len(set(colours)) == 4
    points = raster_axis.collections[0]
    ids = points.get_offsets()[:, 1].astype(int)
    assert set(ids) == {0, 1, 2, 3}
    for neuron, colour in zip(ids, points.get_facecolors() if len(points.get_facecolors()) > 1
                              else points.get_edgecolors()):
        assert tuple(colour) == colours[neuron]


def test_title_names_model_backend_precision_and_dt(tmp_path):
    result = lif_pulse_result(batch_size=2)
    figure = result.plot(tmp_path / "x.png", lane=1)
    assert figure.get_suptitle() == "LifPulse · numpy (float64) · dt = 0.5 ms · lane 1"
    assert (tmp_path / "x.png").stat().st_size > 10_000
    assert result.plot(title="mine").get_suptitle() == "mine"
    with pytest.raises(ValueError, match=r"lane must be an int in \[0, 2\)"):
        result.plot(lane=2)
    with pytest.raises(ValueError, match=r"lane must be an int"):
        result.plot(lane=True)
    with pytest.raises(ValueError, match=r"neurons must be a positive int"):
        result.plot(neurons=0)
    assert len(result.plot(lane=np.int64(1), neurons=2).axes[0].get_lines()) == 2


def test_negative_spikes_are_marked():
    sim = eqsnn.Simulator(neurons.BinarySpikeInput(signed_spikes=True), 3, dt=1.0)
    result = sim.run(5, inputs={"Input": np.array([[1.0, 0.0, -1.0]])}, record=["spikes"])
    (raster,) = result.plot().axes
    assert raster.get_legend() is not None
    negative = raster.collections[1].get_offsets()
    np.testing.assert_array_equal(negative[:, 1], [2] * 5)


@pytest.mark.parametrize("name", ["lif_pulse", "coba_lif", "leaky_integrate_fire",
                                  "spike_input", "poisson_input"])
def test_the_standard_stimulus_gives_a_raster_of_different_rates(name):
    demo = gallery.standard_demo(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        counts = gallery.run_demo(demo).spikes.counts(gallery.N_NEURONS)[0]
    assert len(set(counts.tolist())) >= 5, counts
    # neuron 9 has the strongest drive; spike_input's neuron 0 has the shortest period
    fastest, slowest = (0, -1) if name == "spike_input" else (-1, 0)
    assert counts[fastest] > counts[slowest]


def test_every_model_has_a_standard_demo():
    names = gallery.example_names() + sorted(neurons.NEURONS)
    assert len(names) == len(set(names)) >= 24
    for name in names:
        demo = gallery.standard_demo(name)
        assert demo.description and demo.steps * demo.dt >= 40.0
    with pytest.raises(eqsnn.EqsnnError, match="no example or standard-library model"):
        gallery.standard_demo("lif_pluse")


def test_traces_of_chosen_neurons_keep_their_neurons_colours():
    model = eqsnn.load(os.path.join(ROOT, "examples", "lif_pulse.eqs"))
    sim = eqsnn.Simulator(model, 4, precision="float64")
    result = sim.run(50, inputs={"Isyn": np.linspace(0.05, 0.2, 4)},
                     record={"V": [3, 1], "spikes": None})
    assert result.info.chosen == (("V", (3, 1)),)
    trace_axis, raster_axis = result.plot().axes
    lines = trace_axis.get_lines()
    np.testing.assert_array_equal(lines[0].get_ydata(), result.vars["V"][:, 0, 0])
    assert [line.get_label() for line in lines] == ["neuron 3", "neuron 1"]
    full = lif_pulse_result(n=4).plot().axes[0].get_lines()
    assert tuple(lines[0].get_color()) == tuple(full[3].get_color())
