"""Plots of a :class:`~eqsnn.tools.comparison.Comparison`: traces, differences, rasters."""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError
from ..runtime.plotting import needs_matplotlib


def _figure_class():
    """matplotlib's Figure, without pyplot: the global backend (Jupyter's inline one, say)
    is left alone and no figure stays open in pyplot."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise needs_matplotlib("Comparison.plot") from None
    return Figure


def comparison_figure(comparison, path=None, neuron=0, lane=0):
    """One column per recorded variable (traces and |difference|), plus a raster row, over
    time in ms; the raster alone where no state is compared."""
    if path is not None:  # before any drawing: a missing folder, a .docx, a folder
        from ..runtime.paths import check_figure_path

        path = check_figure_path(path)
    figure_class = _figure_class()
    results = comparison.results
    reference = results[comparison.reference]
    neuron, flat, lane = _where(reference, neuron, lane)
    names = list(reference.vars)
    columns = max(len(names), 1)
    rows = 3 if names else 1  # no state compared (none declared, or record=[]): the raster
    fig = figure_class(figsize=(4 * columns, 7 if names else 3), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False)
    info = reference.info  # a state is drawn at the end of its step, as Result.plot does
    steps = (info.first_step + 1 + np.arange(comparison.steps)) * info.dt
    for col, name in enumerate(names):
        ref = _trace(reference.vars[name], lane, flat)
        for backend, result in results.items():
            trace = _trace(result.vars[name], lane, flat)
            axes[0, col].plot(steps, trace, label=backend, lw=1)
            if backend != comparison.reference:
                diff = np.abs(trace.astype(float) - ref.astype(float))
                axes[1, col].semilogy(steps, np.maximum(diff, 1e-300), label=backend, lw=1)
        axes[0, col].set_title(f"{name} (neuron {neuron}, lane {lane})")
        axes[1, col].set_title(f"|{name} - {comparison.reference}|")
        axes[1, col].set_xlabel("time (ms)")
    if names:
        axes[0, 0].legend(fontsize="small")
    raster = axes[-1, 0]
    for k, (backend, result) in enumerate(results.items()):
        if result.spikes is None:  # a model without a threshold
            continue
        in_lane = result.spikes.batch == lane
        raster.scatter(result.spikes.times[in_lane], result.spikes.neuron[in_lane] + 0.15 * k,
                       s=4, label=backend)
    if not names and raster.collections:  # the traces' legend is not there to name them
        raster.legend(fontsize="small")
    raster.set_title("spikes")
    raster.set_xlabel("time (ms)")
    raster.set_ylabel("neuron")
    for col in range(1, columns):
        axes[-1, col].axis("off")
    if path is not None:
        try:
            fig.savefig(path, dpi=100)
        except OSError as exc:  # a folder that cannot be written
            raise ParameterError(f"cannot write the figure {path!r}: "
                                 f"{exc.strerror or exc}") from None
    return fig


def _trace(values, lane, flat):
    values = np.asarray(values)
    return values.reshape(values.shape[:2] + (-1,))[:, lane, flat]


def _where(result, neuron, lane):
    """``(neuron as given, flat id, lane)``, checked: a flat id, or an index into the shape."""
    from ..runtime.inputs import is_int

    shape = tuple(result.shape)
    size = int(np.prod(shape))
    batch = result.info.batch_size
    if not is_int(lane) or not 0 <= lane < batch:
        raise ParameterError(f"lane must be an int in 0..{batch - 1}, not {lane!r}")
    index = neuron if isinstance(neuron, tuple) else None
    if index is not None and len(index) == len(shape) and all(
            is_int(i) and 0 <= i < d for i, d in zip(index, shape)):
        return tuple(int(i) for i in index), int(np.ravel_multi_index(index, shape)), lane
    if index is None and is_int(neuron) and 0 <= neuron < size:
        return int(neuron), int(neuron), lane
    raise ParameterError(f"neuron must be a flat id in 0..{size - 1} or an index into "
                         f"{shape}, not {neuron!r}")
