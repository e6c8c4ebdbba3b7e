"""Write docs/stdlib/: one page per standard-library neuron, an index and the readouts.

Each page is generated from the class and its ``.eqs`` file: the constructor,
the docstring, the equations as written, and the update eqsnn derives from
them (for the default options and for each option switched on its own).
The figure and the typeset equations are markers that the docs build
expands (``docs/hooks.py``), so they are never stale either.
Run ``python docs/gen_stdlib.py`` after changing a ``.eqs`` file.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from eqsnn import neurons, readouts  # noqa: E402
from eqsnn.neurons import registry as library  # noqa: E402
from eqsnn.show import render_text  # noqa: E402

OUT = HERE / "stdlib"


def _summary(doc: str) -> str:
    return " ".join(doc.strip().split("\n\n")[0].split())


def _fence(text: str, lang: str = "") -> str:
    return f"```{lang}\n{text.rstrip()}\n```"


def neuron_page(name: str, cls) -> str:
    text, filename = library.neuron_source(name)
    default = cls().model()
    switches = default.ir.meta.get("switches", {})
    lines = [
        f"# {cls.__name__}",
        "",
        f"`eqsnn.neurons.{cls.__name__}{inspect.signature(cls)}`",
        "",
        f"Name: `\"{name}\"`; equations: `{filename}`.",
        "",
        inspect.cleandoc(cls.__doc__ or ""),
        "",
        f"<!-- eqsnn:figure {name} -->",
        "",
        "## The model",
        "",
        inspect.cleandoc(default.doc),
        "",
        "## Typeset from the IR",
        "",
        "For the default options:",
        "",
        f"<!-- eqsnn:math {name} -->",
        "",
        "## Equations",
        "",
        _fence(text.rstrip()),
        "",
        "## Derived update",
        "",
        "For the default options (`eqsnn show " + name + "`):",
        "",
        _fence(_without_doc(render_text(default.ir))),
    ]
    for switch, value in switches.items():
        if isinstance(value, bool):
            variant = default.with_switches(**{switch: not value})
            lines += ["", f"With `{switch} = {str(not value).lower()}`:", "",
                      _fence(_without_doc(render_text(variant.ir)))]
    return "\n".join(lines) + "\n"


def _without_doc(text: str) -> str:
    """The derived view without the docstring (shown above it already)."""
    head, _, rest = text.partition("\nparams:")
    return head.splitlines()[0] + "\n\nparams:" + rest


def index_page() -> str:
    lines = [
        "# Standard library",
        "",
        inspect.cleandoc(neurons.__doc__).split("\n>>>")[0].rstrip(),
        "",
        "```python",
        "import eqsnn",
        "from eqsnn.neurons import LeakyIntegrateFire",
        "",
        "sim = eqsnn.Simulator(LeakyIntegrateFire(tau_refrac=2.0, readout=\"spike_count\"), 100)",
        "result = sim.run(500, {\"Isyn\": 0.08})",
        "result.readout  # (batch, 100) spike counts",
        "```",
        "",
        "| class | name | summary |",
        "|---|---|---|",
    ]
    for name, cls in sorted(neurons.NEURONS.items()):
        doc = _summary(cls().model().doc)
        lines.append(f"| [{cls.__name__}]({name}.md) | `{name}` | {doc} |")
    lines += ["", "Readouts: see [readouts](readouts.md). Every neuron's figure under a "
              "standard stimulus: the [gallery](../gallery.md#standard-library).", ""]
    return "\n".join(lines)


def readouts_page() -> str:
    lines = ["# Readouts", "", inspect.cleandoc(readouts.__doc__), ""]
    for name, cls in sorted(readouts.READOUTS.items()):
        lines += [f"## {cls.__name__} (`\"{name}\"`)", "", inspect.cleandoc(cls.__doc__), ""]
    return "\n".join(lines)


def main() -> None:
    OUT.mkdir(exist_ok=True)
    pages = {"index.md": index_page(), "readouts.md": readouts_page()}
    for name, cls in neurons.NEURONS.items():
        pages[f"{name}.md"] = neuron_page(name, cls)
    for filename, text in pages.items():
        (OUT / filename).write_text(text)
    print(f"wrote {len(pages)} pages to {OUT}")


if __name__ == "__main__":
    main()
