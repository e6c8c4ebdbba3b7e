"""The typeset view of a compiled model: its IR printed as LaTeX.

Everything here is read off the IR (:class:`eqsnn.ir.Model`), so the
equations on a docs page or in a notebook are the ones the backends run:
the ODEs as written, the exact propagator ``e^{A Δt}`` (with its closed
form where SymPy gives a short one), the host precompute, the statements
of one step (exponential-Euler and RK stages included), the threshold and
the reset.

Names read as in a paper: ``tau_mem`` is τ with subscript "mem", the
generated propagator entries ``_phi_V_I`` are Φ with subscript "V,I",
host constants ``_c0`` are c₀, the new value of a state ``_V_new`` is V
with superscript "new", and ``dt`` is Δt.

>>> import sympy
>>> latex_name("tau_mem", ())
'\\\\tau_{\\\\mathrm{mem}}'
>>> latex_name("_phi_V_I", ("V", "I"))
'\\\\Phi_{V,I}'
"""

from __future__ import annotations

import re

import sympy
from sympy.printing.latex import LatexPrinter

from . import ir

__all__ = ["latex_name", "latex_expr", "math_sections", "render_latex_block"]

#: generated names: prefix -> the letter shown, subscripted with the state names
_PROPAGATOR_LETTERS = {"phi": r"\Phi", "gamma": r"\Gamma", "sigma": r"\Sigma", "chol": "L"}
_BUILTIN_LATEX = {"dt": r"\Delta t", "t": "t", "step": r"\mathrm{step}", "id": r"\mathrm{id}",
                  "batch": r"\mathrm{batch}"}
#: a shown closed form of e^{A dt} is computed only for small triangular A (fast in SymPy)
CLOSED_FORM_MAX_SIZE = 3


def _user_name(name: str) -> str:
    """``tau_mem`` -> ``\\tau_{\\mathrm{mem}}``, ``Isyn`` -> ``\\mathit{Isyn}``."""
    base, _, sub = name.partition("_")
    if not base:
        return r"\mathtt{" + name.replace("_", r"\_") + "}"
    shown = sympy.latex(sympy.Symbol(base))
    if len(base) > 1 and not shown.startswith("\\"):
        shown = r"\mathit{" + base + "}"
    if sub:
        shown += r"_{\mathrm{" + sub.replace("_", r"\_") + "}}"
    return shown


def latex_name(name: str, states) -> str:
    """LaTeX of a name in a model with these ``states`` (which the generated names embed)."""
    if name in _BUILTIN_LATEX:
        return _BUILTIN_LATEX[name]
    if not name.startswith("_"):
        return _user_name(name)
    body = name[1:]
    constant = re.fullmatch(r"c(\d+)", body)
    if constant:
        return f"c_{{{constant.group(1)}}}"
    prefix, _, rest = body.partition("_")
    subscripts = _split_states(rest, states)
    if prefix in _PROPAGATOR_LETTERS and subscripts:
        shown = ",".join(_user_name(s) for s in subscripts)
        return f"{_PROPAGATOR_LETTERS[prefix]}_{{{shown}}}"
    if body.endswith("_new") and body[:-4] in states:
        return "{" + _user_name(body[:-4]) + r"}^{\mathrm{new}}"
    stage = re.fullmatch(r"(z|k\d+)", prefix)
    if stage and rest in states:
        index = prefix[1:]
        label = f"k_{{{index},{_user_name(rest)}}}" if index else f"z_{{{_user_name(rest)}}}"
        return label
    return r"\mathtt{" + body.replace("_", r"\_") + "}"


def _split_states(text: str, states) -> tuple[str, ...] | None:
    """``"V_soma_V_dend"`` -> ``("V_soma", "V_dend")`` for these states (one or two names)."""
    if text in states:
        return (text,)
    for first in states:
        if text.startswith(first + "_") and text[len(first) + 1:] in states:
            return (first, text[len(first) + 1:])
    return None


class _Printer(LatexPrinter):
    """SymPy's LaTeX printer with eqsnn's names and functions."""

    def __init__(self, states):
        super().__init__({"mul_symbol": None})
        self._states = tuple(states)

    def _print_Symbol(self, expr, style="plain"):
        return latex_name(expr.name, self._states)

    def _print_phi1(self, expr, exp=None):
        shown = rf"\varphi_1\left({self._print(expr.args[0])}\right)"
        return f"{shown}^{{{exp}}}" if exp else shown

    def _print_mod(self, expr, exp=None):
        a, b = (self.parenthesize(arg, 50) for arg in expr.args)  # tighter than a product
        shown = rf"\left({a} \bmod {b}\right)"
        return f"{shown}^{{{exp}}}" if exp else shown

    def _print_floor_div(self, expr, exp=None):
        a, b = (self._print(arg) for arg in expr.args)
        shown = rf"\left\lfloor \frac{{{a}}}{{{b}}} \right\rfloor"
        return f"{shown}^{{{exp}}}" if exp else shown

    def _print_RandNormal(self, expr, exp=None):
        return rf"\xi_{{{self._print(expr.args[0])}}}"

    def _print_RandUniform(self, expr, exp=None):
        return rf"u_{{{self._print(expr.args[0])}}}"

    def _print_ArrayGet(self, expr, exp=None):
        array, index = expr.args
        return rf"{self._print(array)}\left[{self._print(index)}\right]"


def latex_expr(expr, states=()) -> str:
    """One SymPy expression of a model as LaTeX."""
    return _Printer(states).doprint(expr)


def _statements(statements, states, depth=0) -> list[str]:
    pad = r"\quad " * depth
    lines = []
    for stmt in statements:
        if isinstance(stmt, ir.If):
            lines.append(rf"&{pad}\textbf{{if }} {latex_expr(stmt.cond, states)}\!: \\")
            lines += _statements(stmt.body, states, depth + 1)
            if stmt.orelse:
                lines.append(rf"&{pad}\textbf{{else}}\!: \\")
                lines += _statements(stmt.orelse, states, depth + 1)
        elif isinstance(stmt, ir.While):
            lines.append(rf"&{pad}\textbf{{while }} {latex_expr(stmt.cond, states)}"
                         rf"\ \text{{(at most {stmt.limit} times)}}\!: \\")
            lines += _statements(stmt.body, states, depth + 1)
        elif isinstance(stmt, ir.Local):
            lines.append(rf"&{pad}{latex_name(stmt.name, states)} = "
                         rf"{latex_expr(stmt.expr, states)} \\")
        else:
            lines.append(rf"&{pad}{latex_name(stmt.target, states)} \leftarrow "
                         rf"{latex_expr(stmt.expr, states)} \\")
    return lines


def propagator_states(item: ir.Propagator, states) -> tuple[str, ...]:
    """The states of a coupled linear system, in the order of its matrix rows."""
    order = []
    for k, row in enumerate(item.phi):
        match = [s for s in states if row[k] == f"_phi_{s}_{s}"]
        order.append(match[0] if match else f"x_{k}")  # a row of no state: its position
    return tuple(order)


def closed_form(item: ir.Propagator):
    """SymPy's closed form of ``e^{A dt}`` where A is small and triangular, else None.

    Triangular systems (a synapse feeding the membrane) have their time
    constants as eigenvalues and SymPy writes them at once; a full coupled
    system has square roots of the discriminant that read worse than the
    numbers, and takes SymPy seconds, so none is shown.
    """
    matrix = sympy.Matrix(item.matrix)
    if matrix.shape[0] > CLOSED_FORM_MAX_SIZE or not (matrix.is_upper or matrix.is_lower):
        return None
    dt = sympy.Symbol("dt")
    return sympy.simplify((matrix * dt).exp())


def _aligned(lines) -> str:
    return "\\begin{aligned}\n" + "\n".join(lines) + "\n\\end{aligned}"


def math_sections(model: ir.Model) -> list[tuple[str, str]]:
    """``[(title, latex)]``: each part of the model as one ``aligned`` block (no ``$$``)."""
    states = tuple(s.name for s in model.states)
    sections = []
    if model.odes:
        sections.append(("Equations", _aligned(
            [rf"\frac{{d{latex_name(var, states)}}}{{dt}} &= {latex_expr(rhs, states)} \\"
             for var, rhs in model.odes])))
    for item in model.precompute:
        if isinstance(item, ir.Propagator):
            sections.append(("Propagator", _propagator(item, states)))
    derived = [rf"{latex_name(item.name, states)} &= {latex_expr(item.expr, states)} \\"
               for item in model.precompute if isinstance(item, ir.Derived)]
    if derived:
        sections.append(("Host precompute (once per run, float64)", _aligned(derived)))
    sections.append(("Each step", _aligned(_statements(model.step, states)
                                             or [r"&\text{(nothing)} \\"])))
    for label, cond, reset in (("Spike", model.threshold, model.reset),
                               ("Negative spike", model.negative_threshold,
                                model.negative_reset)):
        if cond is not None:
            lines = [rf"&\textbf{{if }} {latex_expr(cond, states)}\!: \\"]
            lines += _statements(reset, states, 1) or [r"&\quad\text{(no reset)} \\"]
            sections.append((f"{label} and reset", _aligned(lines)))
    return sections


def _propagator(item: ir.Propagator, states) -> str:
    order = propagator_states(item, states)
    vector = r"\begin{pmatrix}" + r" \\ ".join(_user_name(s) for s in order) + r"\end{pmatrix}"
    lines = [rf"\frac{{d}}{{dt}} {vector} &= A {vector} + b, \quad "
             rf"A = {latex_expr(item.matrix, states)} \\",
             r"\begin{pmatrix} \Phi & \Gamma \end{pmatrix} &= "
             r"\begin{pmatrix} \mathrm{Id} & 0 \end{pmatrix} "
             r"\exp\left(\begin{pmatrix} A & \mathrm{Id} \\ 0 & 0 \end{pmatrix} \Delta t\right)"
             r" \\"]
    if item.noise is not None:
        lines.append(rf"G &= {latex_expr(item.noise, states)}, \quad L L^{{T}} = "
                     r"\int_0^{\Delta t} e^{A s} G G^{T} e^{A^{T} s}\, ds"
                     r" \quad\text{(noise } L \xi\text{ each step)} \\")
    form = closed_form(item)
    if form is not None:
        lines.append(rf"\Phi = e^{{A \Delta t}} &= {latex_expr(form, states)} \\")
    return _aligned(lines)


def render_latex_block(model: ir.Model) -> str:
    """All sections in one ``$$\\begin{aligned}`` block (what a notebook shows)."""
    lines = []
    if getattr(model, "units", None):  # the equations are scaled: say in which units
        lines.append(r"&\text{in the internal units ms, mV, nA, nF, uS, MOhm, um, mM} \\")
    for title, block in math_sections(model):
        body = block.removeprefix("\\begin{aligned}\n").removesuffix("\n\\end{aligned}")
        lines.append(rf"&\textbf{{{title}}} \\")
        for line in body.splitlines():
            lines.append(r"&\quad " + line.replace("&=", "=").removeprefix("&"))
    return "$$\\begin{aligned}\n" + "\n".join(lines) + "\n\\end{aligned}$$"
