"""The layering rules of docs/architecture.md, checked on the source's import statements."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "asyncsgd"

CORE = ("core", "codecs", "rules", "algorithms")
CORE_MAY_IMPORT = {
    "asyncsgd.core",
    "asyncsgd.codecs",
    "asyncsgd.rules",
    "asyncsgd.algorithms",
    "asyncsgd.registry",
    "asyncsgd.errors",
}
NO_SIDE_EFFECTS = {"threading", "multiprocessing", "socket", "time", "ray", "subprocess", "signal", "asyncio",
                   "os", "io", "pathlib", "csv", "json", "concurrent"}  # fmt: skip
LOWER_LAYERS = ("core", "codecs", "rules", "algorithms", "delays", "data", "models", "config")


def imports(path: Path) -> set[str]:
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


@pytest.mark.parametrize("path", files(*LOWER_LAYERS), ids=lambda p: str(p.relative_to(SRC)))
def test_lower_layers_do_not_import_engines_or_front_ends(path):
    for name in imports(path):
        for upper in (
            "asyncsgd.engines",
            "asyncsgd.experiment",
            "asyncsgd.cli",
            "asyncsgd.metrics",
            "asyncsgd.job",
        ):
            assert not name.startswith(upper), f"{path.name} imports {name}"


# theory/ measures and predicts with the core, data and models; it never runs an engine,
# records metrics, reads run directories or talks to the user (the CLI does)
THEORY_MAY_IMPORT = {
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


RUNNERS = ("asyncsgd.engines", "asyncsgd.experiment", "asyncsgd.job", "asyncsgd.sweep.runner",
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
