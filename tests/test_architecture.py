"""The layering rules of docs/architecture.md, checked on the source's import graph: every
import a module runs (top-level or deferred, and the package ``__init__`` modules an import runs
first), no cycle, no import from a higher layer, no file over 400 lines."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.imports import cycles, graph, module_names, path_between

SRC = Path(__file__).resolve().parents[1] / "src" / "asyncsgd"
MAX_LINES = 400

# lowest first; a module may import its own layer and the layers below it
LAYERS = (
    ("ground floor", ("vocabulary", "errors", "registry", "outputs")),
    ("parts", ("codecs", "rules", "delays", "data", "models", "stats")),
    ("state machines", ("core", "algorithms")),
    ("theory", ("theory",)),
    ("drawing", ("plots",)),
    ("assembly", ("config", "assembly", "sizing")),
    ("engines", ("engines",)),
    ("measurement", ("metrics",)),
    ("runs", ("experiment",)),
    ("sweeps", ("sweep",)),
    ("reports", ("report",)),
    ("studies", ("reproduce",)),
    ("command line", ("cli", "", "__main__", "results")),
)
LEVEL = {package: level for level, (_, packages) in enumerate(LAYERS) for package in packages}
GRAPH = graph(SRC)


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def layer_of(module: str) -> int:
    package = package_of(module)
    assert package in LEVEL, f"{module}: {package!r} is in no layer of LAYERS (and of docs/architecture.md)"
    return LEVEL[package]


def test_the_import_graph_has_no_cycle():
    found = cycles(GRAPH)
    chains = [" -> ".join([*path_between(GRAPH, c[0], c[0])]) for c in found]
    assert not found, "import cycles:\n" + "\n".join(chains)


@pytest.mark.parametrize("module", sorted(GRAPH), ids=str)
def test_no_module_imports_from_a_higher_layer(module):
    level = layer_of(module)
    upward = sorted(t for t in GRAPH[module] if layer_of(t) > level)
    names = [f"{t} ({LAYERS[layer_of(t)][0]})" for t in upward]
    assert not upward, f"{module} ({LAYERS[level][0]}) imports " + ", ".join(names)


@pytest.mark.parametrize("module", sorted(GRAPH), ids=str)
def test_no_file_is_over_the_line_limit(module):
    path = module_names(SRC)[module]
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(SRC)}: {lines} lines (at most {MAX_LINES})"


def test_the_graph_sees_deferred_imports_and_the_packages_an_import_runs(tmp_path):
    """``import a.b.c`` runs ``a/b/__init__.py`` first: the circle a -> b/__init__ -> b/c -> a is
    a cycle even though no module names ``a.b`` alone; an import inside a function counts too."""
    pkg = tmp_path / "pkg"
    (pkg / "b").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from pkg.b.c import X\n")
    (pkg / "b" / "__init__.py").write_text("from pkg.b.d import Y\n")
    (pkg / "b" / "c.py").write_text("X = 1\n")
    (pkg / "b" / "d.py").write_text("from pkg.a import f\nY = 2\n")
    found = cycles(graph(pkg))
    assert found == [["pkg.a", "pkg.b", "pkg.b.d"]]
    typing_only = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import f\n"
    (pkg / "b" / "d.py").write_text(typing_only)
    assert cycles(graph(pkg)) == []


def test_any_package_can_be_imported_first():
    """With no cycle, which package a program imports first cannot matter; each is imported first
    in an interpreter where no other part of asyncsgd has been loaded."""
    packages = sorted(m for m, p in module_names(SRC).items() if p.name == "__init__.py" and m != "asyncsgd")
    script = (
        "import importlib, sys\n"
        f"for name in {packages!r}:\n"
        "    for loaded in [m for m in sys.modules if m == 'asyncsgd' or m.startswith('asyncsgd.')]:\n"
        "        del sys.modules[loaded]\n"
        "    importlib.import_module(name)\n"
        "    import asyncsgd\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


CORE = ("vocabulary", "core", "codecs", "rules", "algorithms")
CORE_MAY_IMPORT = {
    "asyncsgd.vocabulary",
    "asyncsgd.core",
    "asyncsgd.codecs",
    "asyncsgd.rules",
    "asyncsgd.algorithms",
    "asyncsgd.registry",
    "asyncsgd.errors",
}
NO_SIDE_EFFECTS = {"threading", "multiprocessing", "socket", "time", "ray", "subprocess", "signal", "asyncio",
                   "os", "io", "pathlib", "csv", "json", "concurrent"}  # fmt: skip


def imports(path: Path) -> set[str]:
    """Every module name ``path`` imports (the purity checks below look at outside packages too)."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def files(*packages: str) -> list[Path]:
    return [f for p in packages for f in sorted((SRC / p).rglob("*.py"))]


@pytest.mark.parametrize("path", files(*CORE), ids=lambda p: str(p.relative_to(SRC)))
def test_core_is_pure(path):
    for name in imports(path):
        root = name.split(".")[0]
        assert root not in NO_SIDE_EFFECTS, f"{path.name} imports {name}"
        if root == "asyncsgd":
            assert any(name == m or name.startswith(m + ".") for m in CORE_MAY_IMPORT), (
                f"{path.name} imports {name}"
            )


# theory/ measures and predicts with the core, data and models; it never runs an engine,
# records metrics, reads run directories or talks to the user (the CLI does)
THEORY_MAY_IMPORT = {
    "asyncsgd.vocabulary",
    "asyncsgd.core",
    "asyncsgd.data",
    "asyncsgd.models",
    "asyncsgd.theory",
    "asyncsgd.registry",
    "asyncsgd.errors",
}


@pytest.mark.parametrize("path", files("theory"), ids=lambda p: str(p.relative_to(SRC)))
def test_theory_uses_only_core_data_and_models(path):
    for name in imports(path):
        root = name.split(".")[0]
        assert root not in NO_SIDE_EFFECTS, f"{path.name} imports {name}"
        if root == "asyncsgd":
            assert any(name == m or name.startswith(m + ".") for m in THEORY_MAY_IMPORT), (
                f"{path.name} imports {name}"
            )


RUNNERS = ("asyncsgd.engines", "asyncsgd.experiment", "asyncsgd.assembly", "asyncsgd.sweep.runner",
           "asyncsgd.sweep.pool", "asyncsgd.sweep.worker")  # fmt: skip


@pytest.mark.parametrize("path", files("report"), ids=lambda p: str(p.relative_to(SRC)))
def test_reports_only_read_the_results_database(path):
    for name in imports(path):
        for runner in RUNNERS:
            assert not name.startswith(runner), f"{path.name} imports {name}"


# a study's report is built from the results database alone; only reproduce/execute.py runs sweeps
@pytest.mark.parametrize(
    "path", [f for f in files("reproduce") if f.name != "execute.py"], ids=lambda p: str(p.relative_to(SRC))
)
def test_study_reports_only_read_the_results_database(path):
    for name in imports(path):
        for runner in (*RUNNERS, "asyncsgd.reproduce.execute"):
            assert not name.startswith(runner), f"{path.name} imports {name}"


def test_ray_is_imported_only_through_the_ray_engines_cluster_module():
    """Ray is optional: asyncsgd imports it at run time, in one place, after setting the
    environment it reads once (loopback, usage reporting, authentication)."""
    for path in files("."):
        names = imports(path)
        assert not [n for n in names if n == "ray" or n.startswith("ray.")], f"{path} imports ray"


@pytest.mark.parametrize("package", ["codecs", "rules", "algorithms"])
def test_a_part_is_one_new_file(package):
    """A package of parts imports every module it holds, so a new file registers its part with no
    list to extend."""
    script = (
        "import importlib, pkgutil, sys\n"
        f"package = importlib.import_module('asyncsgd.{package}')\n"
        "names = [m.name for m in pkgutil.iter_modules(package.__path__)]\n"
        "missing = [n for n in names if f'{package.__name__}.{n}' not in sys.modules]\n"
        "assert names and not missing, missing\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_documented_floors_are_the_tested_ones():
    doc = (SRC.parents[1] / "docs" / "architecture.md").read_text()
    block = doc.split("```")[1]
    floors: dict[int, str] = {}
    level = -1
    for line in block.splitlines():
        head = line.strip().split(".", 1)
        if head[0].isdigit():
            level = int(head[0])
        if level >= 0:
            floors[level] = floors.get(level, "") + " " + line
    assert sorted(floors) == list(range(len(LAYERS)))
    for level, (name, packages) in enumerate(LAYERS):
        assert f"{level}. {name}" in floors[level]
        for package in packages:
            shown = f"{package}.py" if (SRC / f"{package}.py").is_file() else f"{package}/"
            shown = shown if package else "__init__.py"
            assert shown in floors[level], f"{package or 'asyncsgd'} is not on floor {level} of the diagram"
