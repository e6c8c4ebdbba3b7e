"""The printed form of a :class:`~eqsnn.tools.comparison.Comparison`: a row per backend
(status, times, spikes, each state's largest errors), then where each backend first
differs from the reference."""

from __future__ import annotations

import numpy as np

from .comparison_where import time_label

__all__ = ["comparison_table"]


def comparison_table(comparison) -> str:
    """The printed comparison: a header, a row per backend, a line per first difference."""
    fast = " (the others with fast_math)" if comparison.fast_math else ""
    head = (f"{comparison.model}: {comparison.steps} steps, {comparison.precision}, reference "
            f"{comparison.reference}{fast}, rtol={comparison.rtol:g} atol={comparison.atol:g}")
    w = max([8] + [len(r.backend) for r in comparison.reports])  # a column for each name
    rows = [head, f"{'backend':{w}s} {'status':8s} {'compile s':>9s} {'run s':>8s} "
                  f"{'spikes same':>11s} {'1st spike diff':>14s}  variables"]
    for r in comparison.reports:
        if r.status == "skipped":
            rows.append(f"{r.backend:{w}s} skipped  {r.reason}")
            continue
        if r.status == "failed":
            rows.append(f"{r.backend:{w}s} failed   {r.reason}")
            continue
        variables = "; ".join(
            f"{v.name}: abs {v.max_abs:.2e} rel {v.max_rel:.2e}"
            + (f" from step {v.first_divergence}" if v.first_divergence is not None else "")
            + (f" (over the first {v.compared_steps} steps)"
               if v.compared_steps < comparison.steps else "")
            for v in r.variables) or "-"
        first = "-" if r.first_spike_difference is None else str(r.first_spike_difference)
        rows.append(f"{r.backend:{w}s} {r.status:8s} {r.compile_seconds:9.3f} "
                    f"{r.run_seconds:8.3f} {r.spikes_same_share:11.1%} {first:>14s}  "
                    f"{variables}")
    rows.extend(_where(comparison))
    rows.append("agree" if comparison.ok else "DIFFER: see the rows above")
    return "\n".join(rows)


def _number(comparison, value) -> str:
    """A value as the run held it: float32's shortest digits in float32 (0.1, not
    0.10000000149011612), float64's repr, an int as an int."""
    if isinstance(value, float) and comparison.precision == "float32":
        return str(np.float32(value))
    return repr(value)


def _where(comparison) -> list[str]:
    """One line per first difference: its step, time, lane, neuron and values."""
    lines = []
    for r in comparison.reports:
        if r.status not in ("ok", "differs") or r.backend == comparison.reference:
            continue
        for v in r.variables:
            if v.first_divergence is not None:
                lines.append(
                    f"  {r.backend}: {v.name} first differs at step {v.first_divergence} "
                    f"(t = {time_label(v.first_time)}), lane {v.first_lane}, neuron "
                    f"{v.first_neuron}: {_number(comparison, v.first_value)} vs "
                    f"{_number(comparison, v.first_reference)} "
                    f"({comparison.reference}), |difference| "
                    f"{abs(v.first_value - v.first_reference):.3g}")
        if r.first_spike_difference is not None:
            other = r.backend if r.first_spike_by == comparison.reference else \
                comparison.reference
            who = ("both spike, with opposite signs" if r.first_spike_by == "both" else
                   f"{r.first_spike_by} spikes, {other} does not")
            kind = "a one-step shift" if r.first_spike_shift else "not a one-step shift"
            lines.append(
                f"  {r.backend}: spikes first differ at step {r.first_spike_difference} "
                f"(t = {time_label(r.first_spike_time)}), lane {r.first_spike_lane}, "
                f"neuron {r.first_spike_neuron}: {who} ({kind})")
    return lines
