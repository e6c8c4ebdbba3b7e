"""Write docs/notebooks/: each tutorial page as a Jupyter notebook.

The page is the source: its ```python blocks become code cells, everything
else Markdown cells, and a first cell turns on inline plots.  The notebooks
are committed without outputs; the tests check they match their pages and
run them (tests/test_notebooks.py).  Run ``python docs/gen_notebooks.py``
after editing a tutorial.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "notebooks"
TUTORIALS = ("tutorial-own-neuron", "tutorial-stdlib", "tutorial-compare")
FENCE = re.compile(r"^```python\n(.*?)^```\n", re.S | re.M)
SETUP = ("%matplotlib inline\n"
         "# run from a clone of eqsnn: the examples are read from ./examples\n"
         "import os\n"
         "if not os.path.isdir('examples') and os.path.isdir('../../examples'):\n"
         "    os.chdir('../..')")


def _cell(kind: str, text: str) -> dict:
    cell = {"cell_type": kind, "metadata": {}, "source": text.strip("\n").splitlines(True)}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def notebook(page: str) -> dict:
    """The notebook of ``docs/PAGE.md``."""
    text = (HERE / f"{page}.md").read_text()
    # the page's link to this notebook means nothing inside it
    text = "".join(line for line in text.splitlines(True) if "(notebooks/" not in line)
    cells = [_cell("code", SETUP)]
    position = 0
    for match in FENCE.finditer(text):
        before = text[position:match.start()].strip()
        if before:
            cells.append(_cell("markdown", before))
        cells.append(_cell("code", match.group(1)))
        position = match.end()
    rest = text[position:].strip()
    if rest:
        cells.append(_cell("markdown", _site_links(rest)))
    for k, cell in enumerate(cells):
        cell["id"] = f"{page}-{k}"
        if cell["cell_type"] == "markdown":
            cell["source"] = _site_links("".join(cell["source"])).splitlines(True)
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _site_links(markdown: str) -> str:
    """Links between pages (``language.md``) point at the pages in docs/ from the notebook."""
    return re.sub(r"\]\((?!https?:|#|\.\./)([^)]+?)\.md(#[^)]*)?\)", r"](../\1.md\2)", markdown)


def render(page: str) -> str:
    return json.dumps(notebook(page), indent=1, ensure_ascii=False) + "\n"


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for page in TUTORIALS:
        (OUT / f"{page}.ipynb").write_text(render(page))
    print(f"wrote {len(TUTORIALS)} notebooks to {OUT}")


if __name__ == "__main__":
    main()
