"""The tutorial notebooks match their pages and run, with their plots and typeset model inline."""

from __future__ import annotations

import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOKS = os.path.join(ROOT, "docs", "notebooks")


def _generator():
    spec = importlib.util.spec_from_file_location(
        "gen_notebooks", os.path.join(ROOT, "docs", "gen_notebooks.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _generator()


@pytest.mark.parametrize("page", GEN.TUTORIALS)
def test_notebook_is_generated_from_its_page(page):
    with open(os.path.join(NOTEBOOKS, f"{page}.ipynb")) as handle:
        committed = handle.read()
    assert committed == GEN.render(page), (
        f"docs/notebooks/{page}.ipynb is stale: run python docs/gen_notebooks.py")
    code = [c for c in GEN.notebook(page)["cells"] if c["cell_type"] == "code"]
    with open(os.path.join(ROOT, "docs", f"{page}.md")) as handle:
        assert len(code) - 1 == handle.read().count("```python\n")  # plus the setup cell


def _outputs(notebook, mime):
    return [cell for cell in notebook.cells if cell.cell_type == "code"
            and any(mime in out.get("data", {}) for out in cell.get("outputs", []))]


@pytest.mark.slow
@pytest.mark.parametrize("page", GEN.TUTORIALS)
def test_notebook_runs(page, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("matplotlib")
    os.symlink(os.path.join(ROOT, "examples"), tmp_path / "examples")
    monkeypatch.setenv("PYTHONPATH", ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    monkeypatch.setenv("PYTHONWARNINGS", "ignore")
    notebook = nbformat.read(os.path.join(NOTEBOOKS, f"{page}.ipynb"), as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, with the cell and traceback, on an error
    errors = [out for cell in notebook.cells for out in cell.get("outputs", [])
              if out.get("output_type") == "error"]
    assert not errors
    if page == "tutorial-own-neuron":
        (plot,) = _outputs(notebook, "image/png")
        assert "result.plot(" in plot.source
        (typeset,) = _outputs(notebook, "text/latex")
        latex = next(o["data"]["text/latex"] for o in typeset.outputs if "data" in o)
        assert r"\frac{dV}{dt}" in latex and r"\Phi_{V,I}" in latex
        assert (tmp_path / "my_lif.png").stat().st_size > 10_000
    if page == "tutorial-compare":
        assert any("comparison32.plot(" in cell.source for cell in _outputs(notebook, "image/png"))
