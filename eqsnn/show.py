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


def render_text(model: ir.Model) -> str:
    out = [f"neuron {model.name}"]
    if model.doc:
        out += ["    " + line for line in model.doc.splitlines()]
    out.append("")
    out.append("params:")
    for p in model.params:
        constraint = " ".join(f"({c})" for c in p.constraints)
        out.append(f"    {p.name}: {p.dtype} = {p.default} {constraint}".rstrip())
    out.append("states:")
    for s in model.states:
        out.append(f"    {s.name}: {s.dtype} = {sympy.sstr(s.init)}")
    if model.inputs:
        out.append("inputs:")
        for i in model.inputs:
            default = "required" if i.default is None else f"default {i.default}"
            out.append(f"    {i.name}: {i.dtype} ({default})")
    if model.odes:
        out.append("equations:")
        for var, rhs in model.odes:
            out.append(f"    d{var}/dt = {sympy.sstr(rhs)}")
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
    lines = [r"\begin{aligned}"]
    for var, rhs in model.odes:
        lines.append(rf"\frac{{d{var}}}{{dt}} &= {sympy.latex(rhs)} \\")
    for item in model.precompute:
        if isinstance(item, ir.Derived):
            name = item.name.replace("_", r"\_")
            lines.append(rf"\mathtt{{{name}}} &= {sympy.latex(item.expr)} \\")
    for stmt in ir.walk_statements(model.step):
        if isinstance(stmt, ir.Assign):
            lines.append(rf"{sympy.latex(sympy.Symbol(stmt.target))} &\leftarrow "
                         rf"{sympy.latex(stmt.expr)} \\")
    lines.append(r"\end{aligned}")
    return "$$" + "\n".join(lines) + "$$"


def render_markdown(model: ir.Model) -> str:
    return (f"**{model.name}** — method `{model.method.name}`\n\n"
            f"{render_latex(model)}\n\n```\n{render_text(model)}\n```")
