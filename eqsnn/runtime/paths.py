"""Checks of the paths eqsnn writes figures to, made before any work is done."""

from __future__ import annotations

import os

from ..errors import ParameterError

__all__ = ["check_figure_path", "FIGURE_FORMATS"]

#: the formats matplotlib writes with its standard backends
FIGURE_FORMATS = ("png", "pdf", "svg", "svgz", "eps", "ps", "jpg", "jpeg", "tif", "tiff",
                  "webp", "pgf", "raw", "rgba")


def check_figure_path(path) -> str:
    """``path`` as a str if a figure can be written there: a known extension (or none:
    PNG), in a folder that exists; else a ParameterError naming the fix."""
    try:
        text = os.fspath(path)
    except TypeError:
        raise ParameterError(f"a figure path must be a str or a path, not "
                             f"{type(path).__name__}") from None
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if not text or text.endswith(("/", os.sep)) or os.path.isdir(text):
        raise ParameterError(f"the figure path {text!r} names a folder, not a file",
                             hint="give a file name such as raster.png")
    extension = os.path.splitext(text)[1].lower().lstrip(".")
    if extension and extension not in FIGURE_FORMATS:
        raise ParameterError(f"cannot write a figure as .{extension[:20]}",
                             hint=f"use one of: {', '.join('.' + f for f in FIGURE_FORMATS)}")
    folder = os.path.dirname(os.path.abspath(text))
    if not os.path.isdir(folder):
        raise ParameterError(f"the folder {folder!r} of the figure path does not exist",
                             hint="create it first, or write the figure elsewhere")
    return text
