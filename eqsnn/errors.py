"""The errors eqsnn raises for user mistakes.

Every user-facing error is an :class:`EqsnnError`.  Errors that come from the
text of a model carry the 1-based ``line`` and ``column`` of the offending
token, the source line with a caret under it, and a ``hint`` that says what
to do.  Subclasses also derive from the builtin that ml_genn raises in the
same situation, so ``except RuntimeError`` keeps working for ported code.
"""

from __future__ import annotations


class EqsnnError(Exception):
    """Root of every error eqsnn raises for bad input."""

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
        hint: str | None = None,
        source: str | None = None,
        filename: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.hint = hint
        self.source = source
        self.filename = filename

    def located(self, source: str | None, filename: str | None) -> EqsnnError:
        """Attach the model text (for the caret) without losing the position."""
        if self.source is None:
            self.source = source
        if self.filename is None:
            self.filename = filename
        return self

    def context(self) -> str:
        """The offending source line with a caret under the column."""
        if self.source is None or self.line is None:
            return ""
        lines = self.source.split("\n")
        if not 1 <= self.line <= len(lines):
            return ""
        text = lines[self.line - 1].expandtabs(4)
        caret = " " * (max(self.column or 1, 1) - 1) + "^"
        return f"    {text}\n    {caret}"

    def __str__(self) -> str:
        where = ""
        if self.line is not None:
            where = f"{self.filename or '<model>'}:{self.line}:{self.column or 1}: "
        parts = [where + self.message]
        context = self.context()
        if context:
            parts.append(context)
        if self.hint:
            parts.append(f"hint: {self.hint}")
        return "\n".join(parts)


class InternalError(EqsnnError):
    """The compiler failed on input it should have accepted or rejected cleanly (a bug)."""


class ParseError(EqsnnError, SyntaxError):
    """The text is not in the eqsnn language."""

    # SyntaxError's own __str__ ignores our layout; keep ours.
    __str__ = EqsnnError.__str__


class CheckError(EqsnnError, NameError):
    """The text parses but does not make a valid model (names, types, cycles)."""

    __str__ = EqsnnError.__str__


class SolverError(EqsnnError, ValueError):
    """No integration method can handle the ODEs as written."""


class ParameterError(EqsnnError, ValueError):
    """A parameter or initial value is missing, NaN, misshapen, or violates a constraint."""


class ShapeError(EqsnnError, RuntimeError):
    """An input or state array has the wrong shape (ml_genn raises RuntimeError here)."""


class BackendError(EqsnnError, RuntimeError):
    """A backend is unknown or cannot run here (no compiler, no GPU, no PyGeNN)."""


class LibraryError(EqsnnError, RuntimeError):
    """A standard-library object is misused the way ml_genn reports with RuntimeError."""


class LibraryValueError(EqsnnError, ValueError):
    """A standard-library argument is invalid the way ml_genn reports with ValueError."""


class LibraryNotImplementedError(EqsnnError, NotImplementedError):
    """A combination ml_genn does not implement."""


class NumericalError(EqsnnError, ArithmeticError):
    """A state became NaN or infinite, or left its declared bounds, during a run.

    ``state``, ``step`` (since the last reset), ``lane`` and ``neuron`` name the first
    failure, ``count`` the neurons that failed; ``result`` is the run's
    :class:`~eqsnn.runtime.Result` (the population stays advanced).
    """

    def __init__(self, message: str, *, state: str, step: int, lane: int, neuron: int,
                 count: int = 1, result=None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.state, self.step, self.lane, self.neuron = state, step, lane, neuron
        self.count, self.result = count, result
