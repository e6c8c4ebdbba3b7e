"""The errors eqsnn raises for user mistakes.

Every user-facing error is an :class:`EqsnnError`.  Errors that come from the
text of a model carry the 1-based ``line`` and ``column`` of the offending
token, the source line with a caret under it, and a ``hint`` that says what
to do.  Subclasses also derive from the builtin that ml_genn raises in the
same situation, so ``except RuntimeError`` keeps working for ported code.
"""

from __future__ import annotations

import difflib

#: longest line of a message shown in full; longer ones (a 10 MB name) keep their ends
LINE_LIMIT = 300


def clip(text: str, limit: int = LINE_LIMIT) -> str:
    """``text`` with every line longer than ``limit`` cut in the middle."""
    def one(line: str) -> str:
        if len(line) <= limit:
            return line
        keep = limit // 2
        return f"{line[:keep]} ... ({len(line) - 2 * keep} characters left out) ... " \
               f"{line[-keep:]}"
    return "\n".join(one(line) for line in text.split("\n"))



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
        text = lines[self.line - 1]
        column = max(self.column or 1, 1) - 1
        if len(text) > LINE_LIMIT:  # a window around the column
            start = max(0, column - LINE_LIMIT // 2)
            text, column = ("..." if start else "") + text[start:start + LINE_LIMIT] + (
                "..." if start + LINE_LIMIT < len(text) else ""), column - start + (
                3 if start else 0)
        # tabs shown as one space each, so that the caret stays under the column
        text = text.replace("\t", " ")
        caret = " " * column + "^"
        return f"    {text}\n    {caret}"

    def __str__(self) -> str:
        where = ""
        if self.line is not None:
            where = f"{self.filename or '<model>'}:{self.line}:{self.column or 1}: "
        parts = [clip(where + self.message)]
        context = self.context()
        if context:
            parts.append(context)
        if self.hint:
            parts.append(clip(f"hint: {self.hint}"))
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


class UnknownNameError(CheckError):
    """A name in an expression is not declared; ``unknown`` is the name."""

    def __init__(self, message: str, *, unknown: str, **kwargs):
        super().__init__(message, **kwargs)
        self.unknown = unknown


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


def suggest(name: str, candidates) -> str | None:
    """A "did you mean ...?" hint for a misspelt ``name``, or None."""
    if len(name) > 100:  # difflib is quadratic; no name that long is a typo of a short one
        return None
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


class NumericalError(EqsnnError, ArithmeticError):
    """A state became NaN or infinite, or left its declared bounds, during a run.

    ``state``, ``step`` (since the last reset), ``lane`` and ``neuron`` name the first
    failure, ``count`` the neurons that failed; ``result`` is the run's
    :class:`~eqsnn.runtime.Result` (the population stays advanced); ``population`` is the
    network population that failed (None for a Simulator or a plastic connection);
    ``cause`` is ``"reset"`` where a reset's assignments made the state bad in that step
    (the step's update was fine), else ``"update"``.
    """

    def __init__(self, message: str, *, state: str, step: int, lane: int, neuron: int,
                 count: int = 1, result=None, hint: str | None = None,
                 population: str | None = None, cause: str = "update"):
        super().__init__(message, hint=hint)
        self.state, self.step, self.lane, self.neuron = state, step, lane, neuron
        self.count, self.result, self.population = count, result, population
        self.cause = cause
