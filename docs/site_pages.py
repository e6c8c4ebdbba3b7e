"""The generated parts of the docs site: example pages, the gallery, figures and typeset math.

Nothing here is committed output: `docs/hooks.py` calls these functions
while ``mkdocs build`` runs, so a page cannot drift from the ``.eqs`` file
and the IR it shows.

* :func:`example_page` is the page of one example (``examples/NAME.md``):
  its figure under the standard stimulus, the typeset equations and
  update, and the source;
* :func:`gallery_page` lists every example with its figure, a one-line
  description and a link;
* :func:`expand_markers` replaces ``<!-- eqsnn:figure NAME -->`` and
  ``<!-- eqsnn:math NAME -->`` in any page (the standard-library pages use them);
* :func:`figure_png` renders the figure of one model.
"""

from __future__ import annotations

import functools
import io
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from eqsnn import neurons  # noqa: E402
from eqsnn.latex import math_sections  # noqa: E402
from eqsnn.tools import gallery  # noqa: E402

MARKER = re.compile(r"<!-- eqsnn:(figure|math) ([a-z0-9_]+) -->")


def model_names() -> list[str]:
    """Every model with a figure: the examples, then the standard library."""
    return gallery.example_names() + sorted(neurons.NEURONS)


def figure_path(name: str) -> str:
    """Where the figure of ``name`` lives in the site (relative to the docs root)."""
    return f"figures/{name}.png"


def figure_png(name: str) -> bytes:
    """The PNG of ``name``'s standard demo (see :mod:`eqsnn.tools.gallery`)."""
    buffer = io.BytesIO()
    gallery.demo_figure(name).savefig(buffer, format="png", dpi=90)
    return buffer.getvalue()


@functools.cache
def _demo(name: str):
    return gallery.standard_demo(name)


def _compiled(name: str):
    if name in neurons.NEURONS:
        return neurons.NEURONS[name]().model()
    model = _demo(name).model
    return model


def _relative(page_dir: str, target: str) -> str:
    depth = len(Path(page_dir).parts) if page_dir else 0
    return "../" * depth + target


def figure_markdown(name: str, page_dir: str = "") -> str:
    """The figure of ``name`` with a caption saying how it was made."""
    demo = _demo(name)
    seconds = demo.steps * demo.dt
    return (f"![{name}: traces and spike raster under the standard stimulus]"
            f"({_relative(page_dir, figure_path(name))}){{ .eqsnn-figure }}\n\n"
            f"*Ten neurons, {seconds:g} ms at dt = {demo.dt:g} ms on `numpy` (float64); "
            f"{gallery.stimulus_text(demo)}. Made from the model when the docs are built "
            f"(`eqsnn.tools.gallery`).*")


def math_markdown(name: str) -> str:
    """The typeset equations, propagator, precompute, step and reset of ``name``'s IR."""
    model = _compiled(name).ir
    reason = dict(model.method.reasons).get(model.method.name, "").removeprefix("chosen: ")
    parts = [f"Integration method: **{model.method.name}**" + (f" ({reason})" if reason else "")
             + "."]
    for title, block in math_sections(model):
        parts += ["", f"**{title}**", "", '<div class="eqsnn-math" markdown>', "",
                  "$$", block, "$$", "", "</div>"]
    return "\n".join(parts)


def expand_markers(markdown: str, page_dir: str) -> str:
    """Replace the figure and math markers of a page by the generated Markdown."""

    def replace(match):
        kind, name = match.groups()
        if name not in model_names():
            raise ValueError(f"no model called {name!r} for the marker {match.group(0)}; "
                             f"the models are {', '.join(model_names())}")
        return figure_markdown(name, page_dir) if kind == "figure" else math_markdown(name)

    return MARKER.sub(replace, markdown)


def _summary(name: str) -> str:
    return _demo(name).description or name


def _run_command(name: str) -> str:
    demo = _demo(name)
    args = [f"eqsnn run examples/{name}.eqs", f"--dt {demo.dt:g}", f"--steps {demo.steps}"]
    for input_name, value in demo.inputs.items():
        args.append(f"--input {input_name}={value[0]:g}:{value[-1]:g}")
    args.append("--precision float64")
    args += [f"--record {state}" for state in demo.record]
    return " ".join(args) + f" --plot {name}.png"


def example_page(name: str) -> str:
    """``examples/NAME.md``: summary, figure, typeset math and the source of one example."""
    source = (gallery.EXAMPLES / f"{name}.eqs").read_text()
    model = _compiled(name)
    return "\n".join([
        f"# {name}",
        "",
        f"**{model.name}** (`examples/{name}.eqs`): {_summary(name)}",
        "",
        figure_markdown(name, "examples"),
        "",
        "The same run and figure from the command line:",
        "",
        "```",
        _run_command(name),
        "```",
        "",
        "## Typeset from the IR",
        "",
        math_markdown(name),
        "",
        "## Source",
        "",
        "```",
        source.rstrip(),
        "```",
        "",
        f"`eqsnn show examples/{name}.eqs` prints the same derivation as text, with the "
        "reason each other integration method was rejected.",
        "",
    ])


def gallery_page() -> str:
    """``gallery.md``: every example and standard-library model with its figure."""
    lines = [
        "# Gallery",
        "",
        "Every example and standard-library model under its standard stimulus: ten "
        "neurons, each driven by a different input (see `eqsnn.tools.gallery`). The figures "
        "are made from the models when the site is built.",
        "",
    ]
    for title, names, folder in (("Examples", gallery.example_names(), "examples"),
                                 ("Standard library", sorted(neurons.NEURONS), "stdlib")):
        lines += [f"## {title}", "", '<div class="grid cards" markdown>', ""]
        for name in names:
            lines += [f"-   [**{name}**]({folder}/{name}.md) — {_summary(name)}", "",
                      f"    [![{name}]({figure_path(name)})]({folder}/{name}.md)", ""]
        lines += ["</div>", ""]
    return "\n".join(lines)
