"""The package's shape: no import cycles, few top-level modules, a stable public API.

See ``docs/architecture.md``.
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import subprocess
import sys

import eqsnn
from eqsnn.backends import REGISTRY

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "eqsnn")


def _modules() -> dict[str, str]:
    """Module name -> file of every module in the package."""
    modules = {}
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                dotted = os.path.relpath(path[:-3], ROOT).replace(os.sep, ".")
                modules[dotted.removesuffix(".__init__")] = path
    return modules


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports anywhere in its text (inside functions and
    under ``if TYPE_CHECKING:`` too).  ``from pkg import name`` depends on ``pkg.name`` where
    that is a module, else on ``pkg``."""
    modules = _modules()
    graph = {}
    for module, path in modules.items():
        package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), path)
        deps = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                deps |= {alias.name for alias in node.names if alias.name in modules}
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[:len(parts) - node.level + 1])
                    source = f"{base}.{node.module}" if node.module else base
                else:
                    source = node.module or ""
                for alias in node.names:
                    if f"{source}.{alias.name}" in modules:
                        deps.add(f"{source}.{alias.name}")
                    elif source in modules:
                        deps.add(source)
        graph[module] = deps - {module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for dep in graph[node]:
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in on_stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_planted_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_import_graph_sees_imports_inside_functions():
    graph = import_graph()
    # eqsnn/__init__.py imports the Simulator only inside __getattr__
    assert "eqsnn.runtime" in graph["eqsnn"]
    assert "eqsnn.ir" in graph["eqsnn.solve.assemble"]


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_at_most_twelve_modules_at_the_top_level():
    top = [name for name in os.listdir(PACKAGE) if name.endswith(".py")]
    assert len(top) <= 12, sorted(top)


def test_the_folders_name_the_pipeline_stages():
    folders = {name for name in os.listdir(PACKAGE)
               if os.path.isfile(os.path.join(PACKAGE, name, "__init__.py"))}
    assert {"frontend", "solve", "ir", "printing", "backends", "runtime", "neurons",
            "readouts", "stdlib", "genn", "tools"} <= folders


def test_the_public_api():
    assert sorted(eqsnn.__all__) == sorted(["EqsnnError", "EqsnnWarning", "Model", "Simulator",
                                            "compile", "load", "compare", "benchmark"])
    for name in eqsnn.__all__:
        assert getattr(eqsnn, name) is not None
    assert callable(eqsnn.compile) and callable(eqsnn.load)
    assert callable(eqsnn.compare) and callable(eqsnn.benchmark)
    assert issubclass(eqsnn.EqsnnWarning, UserWarning)
    assert issubclass(eqsnn.EqsnnError, Exception)
    for module in ("neurons", "readouts", "genn", "errors", "initializers", "show"):
        assert importlib.import_module(f"eqsnn.{module}").__name__ == f"eqsnn.{module}"
    genn = importlib.import_module("eqsnn.genn")
    for name in ("add_population", "get_model", "ml_genn_neuron", "Precompute"):
        assert hasattr(genn, name)
    assert set(REGISTRY) == {"numpy", "c", "cupy", "pygenn"}
    for name, path in REGISTRY.items():
        assert path == f"eqsnn.backends.{name}"


def test_the_command_line_runs_as_a_module():
    result = subprocess.run([sys.executable, "-m", "eqsnn", "list"], capture_output=True,
                            text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "leaky_integrate_fire" in result.stdout


def test_the_code_cites_only_documents_in_the_repository():
    cited = set()
    for path in _modules().values():
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        assert "DESIGN" not in text, path
        cited |= set(re.findall(r"docs/[\w\-/]+\.md", text))
    assert "docs/architecture.md" in cited
    for document in cited:
        assert os.path.exists(os.path.join(ROOT, document)), document
