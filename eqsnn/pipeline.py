"""The compiler pipeline, one named step per line (DESIGN §1)."""

from __future__ import annotations

import functools
import warnings

import sympy

from . import ir
from .adaptive import AdaptiveUpdate, adaptive_update
from .analysis import analyse, choose_method
from .check import Checked, check
from .errors import EqsnnError, InternalError, SolverError
from .hoist import hoist
from .parse import parse
from .solvers import integrate, with_substeps


class EqsnnWarning(UserWarning):
    """A model compiles, but not the way its author probably hoped (e.g. RK4, not exact)."""


def compile_ir(text: str, filename: str | None = None, switches: dict | None = None) -> ir.Model:
    """Model text → validated :class:`ir.Model`."""
    key = tuple(sorted((switches or {}).items()))
    model = _compile_cached(text, filename, key)
    for message in model.method.warnings:
        warnings.warn(f"{model.name}: {message}", EqsnnWarning, stacklevel=3)
    return model


@functools.lru_cache(maxsize=256)
def _compile_cached(text, filename, switches) -> ir.Model:
    try:
        return _compile(text, filename, switches)
    except EqsnnError:
        raise
    except RecursionError:
        raise EqsnnError("the model is nested too deeply to compile", filename=filename,
                         hint="split long expressions into several 'let' lines") from None
    except Exception as exc:  # a bug: still report it as an eqsnn error, with the cause
        raise InternalError(f"eqsnn failed to compile this model: {type(exc).__name__}: {exc}",
                            filename=filename,
                            hint="this is a bug in eqsnn; please report it with the model"
                            ) from exc


def _compile(text, filename, switches) -> ir.Model:
    syntax_model = parse(text, filename)
    checked = check(syntax_model, dict(switches))
    try:
        system = analyse(checked)
        method, reasons, notes = choose_method(system, checked.method)
        adaptive = None
        if method == "adaptive":
            adaptive = adaptive_update(system, checked.threshold, checked.reset,
                                       _after_locals(checked), checked.method_options)
            precompute, update = [], list(adaptive.update)
            reasons = _with_note(reasons, "adaptive", adaptive.in_step)
        else:
            precompute, update = integrate(system, method, checked.draws)
        if checked.substeps is not None:
            precompute, update = with_substeps(precompute, update, checked.substeps,
                                               checked.draws)
            reasons = _with_note(reasons, method, f"in {checked.substeps} substeps per step")
    except SolverError as exc:
        if exc.line is None and checked.method_pos is not None:
            exc.line, exc.column = checked.method_pos  # the requested method cannot work
        raise exc.located(checked.source, checked.filename) from None
    model = assemble(checked, system, ir.Method(method, reasons, notes), precompute, update,
                     adaptive)
    return hoist(model).validate()


def _after_locals(checked: Checked) -> set[str]:
    return {s.name for s in ir.walk_statements(checked.after) if isinstance(s, ir.Local)}


def _with_note(reasons, method: str, note: str) -> tuple:
    return tuple((m, f"{r}; {note}" if m == method else r) for m, r in reasons)


def assemble(checked: Checked, system, method: ir.Method, precompute, update,
             adaptive: AdaptiveUpdate | None = None) -> ir.Model:
    """One step = refractory flag, before, integration, after (DESIGN §3); the adaptive
    method adds hidden params and states and decides the end-of-step threshold and reset."""
    step: list = []
    if checked.refractory is not None:
        step.append(ir.Local("refractory", "bool", checked.refractory))
    step += [*checked.before, *update, *checked.after]
    params, states = checked.params, checked.states
    threshold, reset = checked.threshold, checked.reset
    meta = {}
    if adaptive is not None:
        params, states = params + adaptive.params, states + adaptive.states
        threshold, reset = adaptive.threshold, adaptive.reset
        meta["adaptive"] = {"max_substeps": adaptive.max_substeps,
                            "tolerances_given": sorted({"rtol", "atol"}
                                                       & set(checked.method_options))}
    return ir.Model(
        name=checked.name,
        doc=checked.doc,
        params=params,
        states=states,
        inputs=checked.inputs,
        arrays=checked.arrays,
        precompute=tuple(precompute),
        step=tuple(step),
        threshold=threshold,
        reset=reset,
        negative_threshold=checked.negative_threshold,
        negative_reset=checked.negative_reset,
        method=method,
        odes=tuple((v, r + (g * sympy.Symbol("xi") if g != 0 else 0))
                   for v, r, g in zip(system.variables, system.rhs, system.noise)),
        meta={"switches": dict(checked.switches), "source": checked.source,
              "filename": checked.filename,
              "unless": dict(zip(system.variables, system.unless)), **meta},
    )
