"""The plotting layer: every PNG asyncsgd draws is made here or with these helpers.

Figures are drawn on private Agg canvases (``matplotlib.figure.Figure``), never through pyplot's
global figure list, and the process's matplotlib backend is never changed: a program that embeds
asyncsgd keeps its own plotting state. Files are written atomically.

* :mod:`.canvas` — a new figure and its axes, saving it atomically, compacting a PNG
* :mod:`.style` — the colours every figure shares
* :mod:`.theory` — charts of the theory's predictions (imported on its own: it needs the theory)
"""

from asyncsgd.plots.canvas import compact_png, new_figure, save
from asyncsgd.plots.style import GRID_ALPHA, PHASE_COLORS, cycle_colors, group_colors

__all__ = ["GRID_ALPHA", "PHASE_COLORS", "compact_png", "cycle_colors", "group_colors", "new_figure", "save"]
