"""mkdocs hooks: the generated pages, figures and the local MathJax of the site.

``on_files`` adds, before the site is built, the page of every example
(``examples/NAME.md``), the gallery, one figure per example and
standard-library model (``figures/NAME.png``, rendered in memory: none is
written into ``docs/`` or committed) and MathJax, copied from the
``django-static-mathjax`` package so that the site needs no network to
show its equations.  ``on_page_markdown`` expands the figure and math
markers of hand-written pages (see :mod:`site_pages`).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from importlib import resources

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import site_pages as pages  # noqa: E402

MATHJAX = "assets/mathjax/tex-svg.js"


def _mathjax_source() -> str:
    if importlib.util.find_spec("mathjax") is None:
        raise PluginError("the docs need MathJax from the django-static-mathjax package: "
                          "pip install '.[docs]' (or '.[test]')")
    path = resources.files("mathjax") / "static" / "mathjax" / "es5" / "tex-svg.js"
    return str(path)


def on_files(files, config):
    generated = {"gallery.md": pages.gallery_page()}
    for name in pages.gallery.example_names():
        generated[f"examples/{name}.md"] = pages.example_page(name)
    for uri, text in generated.items():
        files.append(File.generated(config, uri, content=text))
    for name in pages.model_names():
        files.append(File.generated(config, pages.figure_path(name),
                                    content=pages.figure_png(name)))
    files.append(File.generated(config, MATHJAX, abs_src_path=_mathjax_source()))
    return files


def on_page_markdown(markdown, page, config, files):
    try:
        return pages.expand_markers(markdown, os.path.dirname(page.file.src_uri))
    except ValueError as error:
        raise PluginError(f"{page.file.src_uri}: {error}") from None
