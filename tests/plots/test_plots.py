"""The plotting layer draws on private canvases: no pyplot figure, no backend change, atomic files."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from asyncsgd.errors import OutputError
from asyncsgd.plots import new_figure, save

SRC = Path(__file__).resolve().parents[2] / "src" / "asyncsgd"

DRAW_EVERYTHING = """
from pathlib import Path
from asyncsgd.metrics.plots import accuracy_plot, breakdown_plot, staleness_plot
from asyncsgd.plots.theory import ratio_plot

def draw(out):
    curves = {"a": [{"update": i, "samples": 8 * i, "test_accuracy": 0.1 * i} for i in range(5)]}
    accuracy_plot(curves, "update", out / "acc.png", "t")
    staleness_plot({"a": [1, 4, 2]}, out / "stale.png", "t")
    breakdown_plot({"p = 1": {"compute": 2.0, "wait": 1.0}}, out / "bd.png", "t")
    ratio_plot([8, 16], [1.0, 10.0, 100.0], out / "ratio.png")
    return sorted(p.name for p in out.iterdir())
"""


@pytest.mark.slow
def test_drawing_leaves_pyplot_and_the_backend_alone(tmp_path):
    """In a fresh interpreter: drawing every kind imports no pyplot and chooses no backend; and
    with pyplot in use by the embedding program, its open figures and backend stay as they were."""
    script = DRAW_EVERYTHING + textwrap.dedent(f"""
        import sys
        import matplotlib
        out = Path({str(tmp_path)!r})
        assert matplotlib.rcParams._get_backend_or_none() is None
        assert draw(out) == ["acc.png", "bd.png", "ratio.png", "stale.png"]
        assert "matplotlib.pyplot" not in sys.modules, "a plot imported pyplot"
        assert matplotlib.rcParams._get_backend_or_none() is None, "a plot chose a backend"

        import matplotlib.pyplot as plt
        mine = plt.figure()
        backend, figures = matplotlib.get_backend(), plt.get_fignums()
        draw(out)
        assert plt.get_fignums() == figures == [mine.number], plt.get_fignums()
        assert matplotlib.get_backend() == backend
        print("ok")
    """)
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=99)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_a_failed_save_keeps_the_earlier_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "figure.png"
    path.write_bytes(b"earlier")
    fig, ax = new_figure(figsize=(2, 2))
    ax.plot([0, 1], [0, 1])

    def cut_off(target, **options):  # half a file written, then the disk is full
        Path(target).write_bytes(b"half")
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(fig, "savefig", cut_off)
        with pytest.raises(OutputError, match=r"figure\.png"):
            save(fig, path, dpi=50)
    assert path.read_bytes() == b"earlier" and sorted(tmp_path.iterdir()) == [path]
    save(fig, path, dpi=50)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(OutputError, match="missing"):
        save(fig, tmp_path / "missing" / "figure.png", dpi=50)


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_figures_are_made_only_by_the_plotting_layer(path):
    """No pyplot and no ``matplotlib.use`` anywhere; figures and canvases are created in plots/."""
    names = _imports(path)
    assert "matplotlib.pyplot" not in names, f"{path.name} imports pyplot"
    assert "matplotlib.use(" not in path.read_text(), f"{path.name} sets the backend"
    if "plots" not in path.relative_to(SRC).parts[:1]:
        made = names & {"matplotlib.figure", "matplotlib.backends.backend_agg"}
        assert not made, f"{path.name} makes its own figures ({', '.join(sorted(made))})"
