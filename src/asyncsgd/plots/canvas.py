"""Figures on private canvases, saved atomically.

:func:`new_figure` builds a ``matplotlib.figure.Figure`` with its own Agg canvas: no pyplot, so no
global list of open figures to leak into and nothing to close, and no ``matplotlib.use``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from asyncsgd.outputs import atomic


def new_figure(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float], **subplots: Any
               ) -> tuple[Figure, Any]:  # fmt: skip
    """A figure of ``figsize`` inches and its axes (``Figure.subplots``: one ``Axes``, or an
    array of them with ``squeeze=False`` or several panels; ``sharey`` and the like pass on)."""
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols, **subplots)


def save(fig: Figure, path: Path, dpi: int, *, tight_layout: bool = True, **savefig: Any) -> Path:
    """Write ``fig`` to ``path`` as PNG atomically (no half-written file on a failure), after
    ``tight_layout`` unless the caller laid it out; ``savefig`` options (``bbox_inches``,
    ``bbox_extra_artists``) pass on."""
    if tight_layout:
        fig.tight_layout()
    with atomic(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png", **savefig)
    return path


PNG_COLORS = 128


def compact_png(path: Path, colors: int = PNG_COLORS) -> None:
    """Rewrite a plot as a palette PNG of ``colors`` colours (a third of the size of matplotlib's
    RGBA output; plots have few distinct colours), so committed reports stay small."""
    from PIL import Image

    with Image.open(path) as image:
        if image.mode == "P":
            return
        palette = image.convert("RGB").quantize(
            colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
    palette.save(path, optimize=True)
