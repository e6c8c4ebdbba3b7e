"""Human-readable views of a compiled model: plain text, Markdown and LaTeX."""

from __future__ import annotations

import sympy

from . import ir


def _statements(statements, indent="    ", printer=sympy.sstr) -> list[str]:
    lines = []
    for stmt in statements:
        if isinstance(stmt, ir.If):
            lines.append(f"{indent}if {printer(stmt.cond)}:")
            lines += _statements(stmt.body, indent + "    ", printer) or [indent + "    pass"]
            if stmt.orelse:
                lines.append(f"{indent}else:")
                lines += _statements(stmt.orelse, indent + "    ", printer)
        elif isinstance(stmt, ir.While):
            lines.append(f"{indent}while {printer(stmt.cond)} (at most {stmt.limit} times):")
            lines += _statements(stmt.body, indent + "    ", printer)
        elif isinstance(stmt, ir.Local):
            lines.append(f"{indent}{stmt.name} := {printer(stmt.expr)}")
        else:
            lines.append(f"{indent}{stmt.target} ← {printer(stmt.expr)}")
    return lines


def _precompute(model: ir.Model, printer=sympy.sstr) -> list[str]:
    lines = []
    for item in model.precompute:
        if isinstance(item, ir.Derived):
            lines.append(f"    {item.name} = {printer(item.expr)}")
        else:
            lines.append(f"    A = {printer(item.matrix.tolist())}")
            lines.append("    [phi | gamma] = top rows of expm([[A, I], [0, 0]] * dt):")
            for kind, names in (("phi", item.phi), ("gamma", item.gamma), ("chol", item.chol)):
                used = [n for row in (names or ()) for n in row if n]
                if used:
                    lines.append(f"      {kind}: {', '.join(used)}")
    return lines


def _in_unit(value, unit) -> str:
    """A default or bound, stored in the internal unit, shown in its declared unit."""
    if unit is None:
        return f"{value}"
    return f"{unit.from_internal(value):g} {unit}"


def _internal_note(unit) -> str:
    """``pA (1 pA = 1/1000 nA)``: a declared unit and its size in the internal unit."""
    from .units import internal_symbol

    inner = internal_symbol(unit.dimension)
    if unit.factor == 1:
        return f"{unit}" if inner == str(unit) else f"{unit} (= {inner})"
    return f"{unit} (1 {unit} = {unit.factor} {inner})"


def _rate_unit(unit, units) -> str:
    """``    [mV/ms]``: the internal unit an ODE's right-hand side is in (models with units)."""
    from .units import DIMENSIONLESS, TIME, internal_symbol

    if not units:
        return ""
    dimension = unit.dimension if unit is not None else DIMENSIONLESS
    return f"    [{internal_symbol(dimension / TIME)}]"


def render_text(model: ir.Model) -> str:
    out = [f"{model.meta.get('kind', 'neuron')} {model.name}"]
    if model.doc:
        out += ["    " + line for line in model.doc.splitlines()]
    out.append("")
    units = dict(model.units)
    out.append("params:")
    for p in model.params:
        unit = units.get(p.name)
        constraint = " ".join(f"({c})" if unit is None else
                              f"({c.op} {_in_unit(c.bound, unit)})" for c in p.constraints)
        default = _in_unit(p.default, unit) if p.default is not None else "None"
        out.append(f"    {p.name}: {p.dtype} = {default} {constraint}".rstrip())
    out.append("states (initial values in the internal units):" if units else "states:")
    for s in model.states:
        # a SymPy Float prints its 15 digits (-70.6000000000000): shown as the float it is
        init = repr(float(s.init)) if isinstance(s.init, sympy.Float) else sympy.sstr(s.init)
        out.append(f"    {s.name}: {s.dtype} = {init}")
    if model.inputs:
        out.append("inputs:")
        for i in model.inputs:
            unit = units.get(i.name)
            default = "required" if i.default is None else f"default {_in_unit(i.default, unit)}"
            out.append(f"    {i.name}: {i.dtype} ({default})")
    if units:
        out.append("units (values go in and come out in these; the equations below work in "
                   "the internal units ms, mV, nA, nF, uS, MOhm, um, mM):")
        for name, unit in units.items():
            out.append(f"    {name}: {_internal_note(unit)}")
    if model.odes:
        out.append("equations:")
        for var, rhs in model.odes:
            out.append(f"    d{var}/dt = {sympy.sstr(rhs)}" + _rate_unit(units.get(var), units))
    out.append(f"method: {model.method.name}")
    for method, reason in model.method.reasons:
        out.append(f"    {method}: {reason}")
    if model.precompute:
        out.append("host precompute (float64, per neuron where params are):")
        out += _precompute(model)
    out.append("each step:")
    out += _statements(model.step) or ["    (nothing)"]
    if model.threshold is not None:
        out.append(f"threshold: {sympy.sstr(model.threshold)}")
        out.append("reset:")
        out += _statements(model.reset) or ["    (nothing)"]
    if model.negative_threshold is not None:
        out.append(f"negative threshold: {sympy.sstr(model.negative_threshold)}")
        out.append("negative reset:")
        out += _statements(model.negative_reset) or ["    (nothing)"]
    return "\n".join(out)


def closed_form(model: ir.Model) -> list[tuple[str, sympy.Basic]]:
    """Closed-form propagators of coupled linear systems (for display; may be slow)."""
    out = []
    for item in model.precompute:
        if isinstance(item, ir.Propagator):
            dt = sympy.Symbol("dt", positive=True)
            out.append(("exp(A dt)", sympy.simplify((item.matrix * dt).exp())))
    return out


def render_latex(model: ir.Model) -> str:
    """The model typeset (see :mod:`eqsnn.latex`): one ``$$\\begin{aligned}`` block."""
    from .latex import render_latex_block

    return render_latex_block(model)


def render_markdown(model: ir.Model) -> str:
    return (f"**{model.name}** — method `{model.method.name}`\n\n"
            f"{render_latex(model)}\n\n```\n{render_text(model)}\n```")
