"""Text → :class:`eqsnn.frontend.syntax.ModelDecl`, with Lark and ``grammar/eqsnn.lark``.

Every failure becomes a :class:`~eqsnn.errors.ParseError` that names the
line and column and says what was expected there: the indentation rules are
checked here, Lark's own errors are worded in :mod:`.parse_errors`, and the
tree becomes syntax dataclasses in :mod:`.to_syntax`.
"""

from __future__ import annotations

import functools
import re
from importlib import resources

import lark
from lark.indenter import Indenter

from ..errors import ParseError
from . import syntax as s
from .parse_errors import describe_parse_error
from .to_syntax import ToSyntax


class _ModelIndenter(Indenter):
    NL_type = "_NL"
    OPEN_PAREN_types = ["LPAR", "LSQB", "BOUNDS_OPEN"]
    CLOSE_PAREN_types = ["RPAR", "RSQB"]
    INDENT_type = "_INDENT"
    DEDENT_type = "_DEDENT"
    tab_len = 4

    def handle_NL(self, token):
        """Python's rule without its tab stops: indentation is spaces only (a tab's width
        is a guess, and a wrong guess silently moves a line into or out of a block), and a
        dedent must go back to a level used before; both errors name the line."""
        if self.paren_level == 0:
            indent = token.rsplit("\n", 1)[-1]
            line = token.end_line or token.line
            if "\t" in indent:
                raise ParseError("the indentation contains a tab", line=line,
                                 column=indent.index("\t") + 1,
                                 hint="indent with spaces only (4 per level): the width of a "
                                      "tab is ambiguous")
            if "\n" in token and len(indent) < self.indent_level[-1] \
                    and len(indent) not in self.indent_level:
                raise ParseError(
                    f"this line is indented by {len(indent)} spaces, which matches no "
                    "enclosing block", line=line, column=len(indent) + 1,
                    hint="dedent back to a level used before (levels here: "
                         f"{', '.join(str(level) for level in self.indent_level)} spaces)")
        yield from super().handle_NL(token)


@functools.cache
def _parser() -> lark.Lark:
    grammar = resources.files("eqsnn.frontend").joinpath("grammar/eqsnn.lark").read_text()
    return lark.Lark(
        grammar,
        parser="lalr",
        lexer="contextual",
        postlex=_ModelIndenter(),
        propagate_positions=True,
        maybe_placeholders=False,
    )


def parse(text: str, filename: str | None = None) -> s.ModelDecl:
    """Parse one model.  Raises :class:`ParseError` with position and hint."""
    if not isinstance(text, str):
        raise ParseError(f"model text must be a str, not {type(text).__name__}",
                         hint="to compile a model file, use eqsnn.load(path)")
    if "\n" not in text.strip() and text.strip().endswith(".eqs"):
        raise ParseError(f"the model text {text.strip()[:200]!r} is a file name, not a model",
                         hint="to compile a model file, use eqsnn.load(path)")
    source = text.replace("\r\n", "\n").removeprefix("\ufeff")  # a byte-order mark, as Python
    if not source.endswith("\n"):
        source += "\n"
    _reject_control_characters(source, filename)
    try:
        tree = _parser().parse(source)
        model = ToSyntax(source, filename).transform(tree)
    except lark.exceptions.VisitError as exc:
        if isinstance(exc.orig_exc, ParseError):
            raise exc.orig_exc.located(source, filename) from None
        raise
    except lark.exceptions.UnexpectedInput as exc:
        raise describe_parse_error(exc, source, filename) from None
    except ParseError as exc:  # from the indenter
        raise exc.located(source, filename) from None
    except lark.exceptions.LarkError as exc:  # indentation errors from the Indenter
        raise ParseError(
            "inconsistent indentation",
            hint="indent each block by the same amount (4 spaces) and dedent back to a "
            "level used before",
            source=source,
            filename=filename,
        ) from exc
    return model


#: control characters (C0 and DEL) other than tab and newline, which no model text holds
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _reject_control_characters(source: str, filename) -> None:
    """A NUL, a stray carriage return and the like: say where, before Lark sees them."""
    found = _CONTROL.search(source)
    if found:
        line = source.count("\n", 0, found.start()) + 1
        column = found.start() - (source.rfind("\n", 0, found.start()) + 1) + 1
        hint = ("lines end with '\\n' (or '\\r\\n'); a lone '\\r' ends lines in old Mac "
                "files: save the file with Unix or Windows line endings"
                if found.group() == "\r" else
                "remove it: a model is plain text (tabs and newlines only)")
        raise ParseError(f"the text contains the control character {found.group()!r}",
                         line=line, column=column, source=source, filename=filename,
                         hint=hint)
