"""Plots of a :class:`~eqsnn.tools.comparison.Comparison`: traces, differences, rasters."""

from __future__ import annotations

import numpy as np

from ..errors import EqsnnError


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        raise EqsnnError("plotting needs matplotlib",
                         hint="pip install 'eqsnn[plot]'") from None
    return plt


def comparison_figure(comparison, path=None, neuron=0, lane=0):
    """One column per recorded variable (traces and |difference|), plus a raster row."""
    plt = _pyplot()
    results = comparison.results
    reference = results[comparison.reference]
    names = list(reference.vars)
    columns = max(len(names), 1)
    fig, axes = plt.subplots(3, columns, figsize=(4 * columns, 7), squeeze=False)
    steps = np.arange(comparison.steps)
    for col, name in enumerate(names):
        ref = np.asarray(reference.vars[name])[:, lane, neuron]
        for backend, result in results.items():
            trace = np.asarray(result.vars[name])[:, lane, neuron]
            axes[0, col].plot(steps, trace, label=backend, lw=1)
            if backend != comparison.reference:
                diff = np.abs(trace.astype(float) - ref.astype(float))
                axes[1, col].semilogy(steps, np.maximum(diff, 1e-300), label=backend, lw=1)
        axes[0, col].set_title(f"{name} (neuron {neuron}, lane {lane})")
        axes[1, col].set_title(f"|{name} - {comparison.reference}|")
        axes[1, col].set_xlabel("step")
    axes[0, 0].legend(fontsize="small")
    raster = axes[2, 0]
    for k, (backend, result) in enumerate(results.items()):
        in_lane = result.spikes.batch == lane
        raster.scatter(result.spikes.step[in_lane], result.spikes.neuron[in_lane] + 0.15 * k,
                       s=4, label=backend)
    raster.set_title("spikes")
    raster.set_xlabel("step")
    raster.set_ylabel("neuron")
    for col in range(1, columns):
        axes[2, col].axis("off")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=100)
        plt.close(fig)
    return fig
