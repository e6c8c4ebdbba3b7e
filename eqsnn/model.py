"""The public model object: ``eqsnn.compile(text)`` and ``eqsnn.load(path)``."""

from __future__ import annotations

import os
from pathlib import Path

from . import ir
from .errors import EqsnnError, ParameterError, ParseError
from .pipeline import compile_ir
from .show import render_latex, render_markdown, render_text


class Model:
    """A compiled neuron model: its IR plus how it was derived.

    ``str(model)`` (and ``eqsnn show``) gives the params, states, host
    precompute, the per-step update in mathematical form, and the
    integration method with the reason each other method was rejected.
    In Jupyter the same is shown with LaTeX.
    """

    def __init__(self, model: ir.Model, text: str | None = None, filename: str | None = None):
        self.ir = model
        self.text = text
        self.filename = filename

    @property
    def name(self) -> str:
        return self.ir.name

    @property
    def doc(self) -> str:
        return self.ir.doc

    @property
    def method(self) -> str:
        return self.ir.method.name

    @property
    def reasons(self) -> dict[str, str]:
        """For every method considered, why it was chosen or rejected."""
        return dict(self.ir.method.reasons)

    @property
    def params(self) -> dict:
        """Each param's default, in its declared unit (the one a Simulator takes)."""
        units = dict(self.ir.units)
        return {p.name: _declared(p.default, units.get(p.name)) for p in self.ir.params}

    @property
    def states(self) -> dict:
        """Each state's initial value as a SymPy expression over params, in the internal
        units of a model with units (ms, mV, nA, ...; see :mod:`eqsnn.units`)."""
        return {s.name: s.init for s in self.ir.states}

    @property
    def inputs(self) -> dict:
        """Each input's default, in its declared unit."""
        units = dict(self.ir.units)
        return {i.name: _declared(i.default, units.get(i.name)) for i in self.ir.inputs}

    def closed_form(self) -> list:
        """SymPy closed forms ``e^{A dt}`` of the coupled linear systems (for display).

        The simulation uses the numerically evaluated augmented exponential,
        which stays exact where these formulas divide by zero (equal time
        constants); this is the formula to read, not the one to run.
        """
        from .show import closed_form

        return closed_form(self.ir)

    def with_switches(self, **switches) -> Model:
        """The same text compiled with other switch values."""
        if self.text is None:
            raise EqsnnError("this model was not compiled from text; switches cannot change")
        current = dict(self.ir.meta.get("switches", {}))
        current.update(switches)
        return compile(self.text, filename=self.filename, switches=current)

    def __str__(self) -> str:
        return render_text(self.ir)

    def __repr__(self) -> str:
        return f"<eqsnn.Model {self.name}: {len(self.ir.states)} states, method {self.method}>"

    def _repr_markdown_(self) -> str:
        return render_markdown(self.ir)

    def _repr_latex_(self) -> str:
        return render_latex(self.ir)


def _declared(value, unit):
    """A default stored in the internal unit, in the declared unit."""
    return value if unit is None or value is None else float(unit.from_internal(value))


def compile(text: str, *, filename: str | None = None, switches: dict | None = None) -> Model:
    """Compile model text; raises :class:`~eqsnn.errors.EqsnnError` on bad input.

    ``filename`` names the text in error messages (``<model>`` if not given);
    ``switches`` sets the model's ``switch`` declarations by name
    (``{"relative_reset": False}``), overriding the defaults written in it.
    """
    return Model(compile_ir(text, filename, switches), text, filename)


def load(path, *, switches: dict | None = None) -> Model:
    """Compile the model in the file at ``path`` (a ``.eqs`` file; UTF-8 text); its errors
    name the file. ``switches`` as in :func:`compile`."""
    if not isinstance(path, (str, os.PathLike)):
        raise ParameterError(f"path must be a str or a pathlib.Path, not {type(path).__name__}",
                             hint="give the path of a .eqs file, e.g. 'examples/lif_pulse.eqs'")
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EqsnnError(f"cannot read model file {str(path)!r}: {exc.strerror or exc}",
                         hint="give the path of a .eqs file") from None
    return compile(decode(data, str(path)), filename=str(path), switches=switches)


def decode(data: bytes, filename: str | None = None) -> str:
    """Model text from the bytes of a file: UTF-8 (a byte-order mark allowed), else a
    ParseError at the first byte that is not UTF-8, wherever it is (a comment too)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        start = data.rfind(b"\n", 0, exc.start) + 1
        column = len(data[start:exc.start].decode("utf-8", "replace")) + 1
        raise ParseError(
            f"the file is not UTF-8 text: byte 0x{data[exc.start]:02x} cannot be decoded",
            line=line, column=column, filename=filename,
            source=data.decode("utf-8", "replace"),
            hint="save the file as UTF-8 (model text is UTF-8)") from None
