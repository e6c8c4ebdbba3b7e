"""The figure of one run (:meth:`eqsnn.Result.plot`): traces and a raster over time in ms.

Each shown neuron keeps one colour in every panel (its trace and its row of
the raster), so a spike can be followed to the trace that caused it.  The
title names the model, the backend, the precision and ``dt``.  Only
``matplotlib.figure.Figure`` is used (no pyplot), so plotting never changes
a global backend and works headless.
"""

from __future__ import annotations

import numpy as np

from ..errors import EqsnnError, ParameterError
from .inputs import is_int

__all__ = ["result_figure", "neuron_colours", "PlotDependencyError", "needs_matplotlib"]


class PlotDependencyError(EqsnnError, ImportError):
    """matplotlib is not installed (an ImportError too, for code that catches that)."""


def needs_matplotlib(what: str) -> PlotDependencyError:
    return PlotDependencyError(f"{what} needs matplotlib", hint="pip install eqsnn[plot]")

#: above this many neurons in a lane the raster is drawn in one colour
MAX_COLOURED = 40


def neuron_colours(count: int):
    """One colour per neuron (RGBA rows), evenly spread over a perceptually uniform map."""
    from matplotlib import colormaps

    if count <= 10:
        return colormaps["tab10"](np.arange(count))
    return colormaps["viridis"](np.linspace(0.0, 0.9, count))


def _title(info, lane, batch_size) -> str:
    if info is None:
        return ""
    parts = [info.model, f"{info.backend} ({info.precision})", f"dt = {info.dt:g} ms"]
    if batch_size > 1:
        parts.append(f"lane {lane}")
    return " · ".join(parts)


def result_figure(result, path=None, *, lane: int = 0, neurons: int = 10, title=None):
    """The figure of :meth:`eqsnn.Result.plot` (see there)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise needs_matplotlib("Result.plot") from None
    spikes = result.spikes
    panels = list(result.vars) + (["spikes"] if spikes is not None else [])
    if not panels:
        raise ParameterError("nothing was recorded; run with record=('V', 'spikes') to plot")
    if result.timing.steps == 0:
        raise ParameterError("the run has no steps to plot")
    info = getattr(result, "info", None)
    batch_size = info.batch_size if info is not None else (spikes.batch_size if spikes else 1)
    if not is_int(lane) or not 0 <= lane < batch_size:
        raise ParameterError(f"lane must be an int in [0, {batch_size}), not {lane!r}")
    if not is_int(neurons) or neurons < 1:
        raise ParameterError(f"neurons must be a positive int (how many traces), not {neurons!r}")
    dt, first_step = _time_base(result, info)
    chosen = dict(info.chosen) if info is not None else {}
    size = int(np.prod(result.shape))
    figure = Figure(figsize=(7.5, 1.2 + 1.7 * len(panels)), layout="constrained")
    axes = figure.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    steps = result.timing.steps
    # a state is recorded at the end of its step: step k ends at (first_step + k + 1) dt
    times = (first_step + 1 + np.arange(steps)) * dt if dt else np.arange(steps)
    for axis, name in zip(axes, panels):
        if name == "spikes":
            _raster(axis, spikes, lane, size, dt)
        else:
            trace = np.asarray(result.vars[name][:, lane], dtype=float).reshape(steps, -1)
            ids = np.asarray(chosen.get(name, range(trace.shape[1])))[:neurons]
            colours = neuron_colours(size) if size <= MAX_COLOURED else neuron_colours(len(ids))
            for k, neuron in enumerate(ids):
                colour = colours[neuron] if size <= MAX_COLOURED else colours[k]
                axis.plot(times, trace[:, k], lw=1.0, color=colour, label=f"neuron {neuron}")
            if name in chosen:  # not the first neurons: say which
                axis.legend(loc="upper right", fontsize=7, ncols=min(len(ids), 5))
            unit = (result.units or {}).get(name)
            axis.set_ylabel(f"{name} ({unit})" if unit else name)
        axis.grid(alpha=0.25)
    axes[-1].set_xlabel("time (ms)" if dt else "step")
    if dt and steps:
        axes[-1].set_xlim(first_step * dt, (first_step + steps) * dt)
    figure.suptitle(_title(info, lane, batch_size) if title is None else title, fontsize=10)
    if path is not None:
        try:
            figure.savefig(path, dpi=110)
        except OSError as exc:
            raise ParameterError(f"cannot write the figure {path!r}: "
                                 f"{exc.strerror or exc}") from None
    return figure


def _time_base(result, info):
    if info is not None:
        return info.dt, info.first_step
    if result.spikes is not None:
        return result.spikes.dt, result.spikes.first_step
    return None, 0


def _raster(axis, spikes, lane, size, dt):
    mine = spikes.batch == lane
    ids = spikes.neuron[mine]
    times = spikes.times[mine] if dt else spikes.step[mine]
    if size <= MAX_COLOURED:
        colours = neuron_colours(size)[ids] if len(ids) else "k"
    else:
        colours = "k"
    negative = np.zeros(len(ids), bool) if spikes.sign is None else spikes.sign[mine] < 0
    marker_size = 60 if size <= 10 else 14 if size <= MAX_COLOURED else 2
    axis.scatter(times[~negative], ids[~negative], s=marker_size, marker="|",
                 c=colours if isinstance(colours, str) else colours[~negative], linewidths=1.2)
    if negative.any():
        axis.scatter(times[negative], ids[negative], s=marker_size, marker="_", c="tab:red",
                     label="negative spike")
        axis.legend(loc="upper right", fontsize=8)
    axis.set_ylabel("neuron")
    axis.set_ylim(-0.5, size - 0.5)
    if size <= 20:
        axis.set_yticks(range(size))
        axis.tick_params(axis="y", labelsize=7)
