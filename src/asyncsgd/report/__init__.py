"""Reports of sweeps: tables and figures built from the results database alone."""

from asyncsgd.report.figures import FIGURES
from asyncsgd.report.markdown import build_report, render_table, sweep_report
from asyncsgd.report.measures import MEASURES, Aggregate, measure
from asyncsgd.report.recipe import default_recipe, parse_recipe, recipe_for
from asyncsgd.report.runs import RunView, SweepView, load_sweep_view
from asyncsgd.report.spec import Figure, Recipe, Table

__all__ = [
    "FIGURES",
    "MEASURES",
    "Aggregate",
    "Figure",
    "Recipe",
    "RunView",
    "SweepView",
    "Table",
    "build_report",
    "default_recipe",
    "load_sweep_view",
    "measure",
    "parse_recipe",
    "recipe_for",
    "render_table",
    "sweep_report",
]
