"""The documentation site builds with warnings as errors, and every model shows.

One build (about 20 s: it renders a figure per model) is checked for: a
generated figure and typeset equations on every example and standard-library
page, the gallery, the notebooks, and a site that needs no network (MathJax
served locally, no web fonts or CDN scripts).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from eqsnn import ir, neurons  # noqa: E402
from eqsnn.latex import latex_name  # noqa: E402
from eqsnn.tools import gallery  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "docs"))
import site_pages  # noqa: E402

EXAMPLES = gallery.example_names()
STDLIB = sorted(neurons.NEURONS)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    pytest.importorskip("material")
    pytest.importorskip("matplotlib")
    site = tmp_path_factory.mktemp("docs") / "site"
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                             str(site)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return site


def _page(site, uri) -> str:
    return (site / uri / "index.html").read_text()


@pytest.mark.slow
def test_docs_site_builds_strictly(site):
    assert (site / "index.html").exists()
    assert (site / "api" / "index.html").exists()


PAGES = [("examples", name) for name in EXAMPLES] + [("stdlib", name) for name in STDLIB]


@pytest.mark.slow
@pytest.mark.parametrize("folder,name", PAGES, ids=[f"{f}/{n}" for f, n in PAGES])
def test_every_model_page_has_its_figure_and_typeset_equations(site, folder, name):
    html = _page(site, f"{folder}/{name}")
    assert f'src="../../figures/{name}.png"' in html
    png = (site / "figures" / f"{name}.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    blocks = re.findall(r'<div class="arithmatex">\\\[(.*?)\\\]</div>', html, re.S)
    assert any(r"\begin{aligned}" in block for block in blocks), "no typeset block"
    typeset = " ".join(blocks)
    model = gallery.standard_demo(name).model
    model = model if hasattr(model, "ir") else neurons.NEURONS[name]().model()
    for var, _ in model.ir.odes:  # the ODEs as written
        assert rf"\frac{{d{latex_name(var, ())}}}{{dt}}" in typeset
    assert (r"\textbf{if }" in typeset) == (model.ir.threshold is not None)  # spike condition
    statements = ir.walk_statements(model.ir.step + model.ir.reset)
    assigns = any(isinstance(stmt, ir.Assign) for stmt in statements)
    assert (r"\leftarrow" in typeset) == assigns  # the update of one step and the reset
    assert "eqsnn:figure" not in html and "eqsnn:math" not in html


@pytest.mark.slow
def test_typeset_pages_show_propagators_and_exponential_euler(site):
    expsyn = _page(site, "examples/lif_expsyn")
    assert r"\Phi = e^{A \Delta t}" in expsyn  # the closed form of the propagator
    assert r"\Phi_{V,I}" in expsyn
    coba = _page(site, "examples/coba_lif")
    assert "exponential_euler" in coba and r"\varphi_1\left(z_{V}\right)" in coba


@pytest.mark.slow
def test_gallery_links_every_model_with_its_figure(site):
    html = _page(site, "gallery")
    for folder, name in PAGES:
        assert f'href="../{folder}/{name}/"' in html
        assert f'src="../figures/{name}.png"' in html
    assert len(set(EXAMPLES) & set(STDLIB)) == 0  # one figure namespace


@pytest.mark.slow
def test_site_needs_no_network(site):
    assert (site / "assets" / "mathjax" / "tex-svg.js").stat().st_size > 1_000_000
    for uri in ("", "examples/lif_alpha", "tutorial-own-neuron"):
        html = _page(site, uri) if uri else (site / "index.html").read_text()
        external = re.findall(r'<(?:script|link)[^>]+(?:src|href)="(https?://[^"]+)"', html)
        assert not external, external
        assert "assets/mathjax/tex-svg.js" in html
    for page in ("tutorial-own-neuron", "tutorial-stdlib", "tutorial-compare"):
        assert (site / "notebooks" / f"{page}.ipynb").exists()


def test_every_example_is_in_the_nav():
    with open(os.path.join(ROOT, "mkdocs.yml")) as handle:
        config = handle.read()
    for name in EXAMPLES:
        assert f"      - {name}: examples/{name}.md" in config
    assert "  - Gallery: gallery.md" in config


def test_a_marker_naming_no_model_is_an_error_that_says_so():
    assert "<!-- eqsnn" not in site_pages.expand_markers("<!-- eqsnn:math lif_pulse -->", "")
    with pytest.raises(ValueError, match="no model called 'lif_pluse' for the marker"):
        site_pages.expand_markers("text <!-- eqsnn:figure lif_pluse -->", "stdlib")


@pytest.mark.parametrize("name", ["lif_alpha", "coba_lif"])
def test_an_example_pages_command_makes_its_run(name, tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib")
    import shlex

    from eqsnn.tools.cli import main

    command = site_pages._run_command(name)
    monkeypatch.chdir(tmp_path)
    os.symlink(os.path.join(ROOT, "examples"), tmp_path / "examples")
    assert main(shlex.split(command)[1:]) == 0
    demo = gallery.standard_demo(name)
    expected = gallery.run_demo(demo).spikes
    assert f"spikes: {len(expected)} " in capsys.readouterr().out
    assert (tmp_path / f"{name}.png").stat().st_size > 20_000


@pytest.mark.parametrize("name", ["adex", "hh", "lif_held"])
def test_a_demo_drives_a_model_with_units_at_its_declared_default(name):
    """A model's input default is stored in the internal unit (1000 pA is 1.0 nA), and the
    Simulator and the page's command take values in the declared unit: the demo spreads the
    default as written in the file (AdEx's 1000 pA: 500 to 1500 pA, not 0.5 to 1.5 pA, at
    which it never spikes), and its neurons spike."""
    written = {"adex": 1000.0, "hh": 10.0, "lif_held": 20.0}[name]  # examples/NAME.eqs
    demo = gallery.standard_demo(name)
    drive = demo.inputs["I"]
    assert drive[0] == pytest.approx(0.5 * written) and drive[-1] == pytest.approx(1.5 * written)
    assert f"I from {0.5 * written:g} (neuron 0)" in gallery.stimulus_text(demo)
    assert f"--input I={0.5 * written:g}:{1.5 * written:g}" in site_pages._run_command(name)
    spikes = gallery.run_demo(demo).spikes
    assert len(np.unique(spikes.neuron)) >= 5  # the stronger half at least fires
