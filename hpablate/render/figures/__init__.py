"""Figures of a report: their data computed from the tables, then drawn by plotly or matplotlib.

>>> import pandas as pd
>>> from types import SimpleNamespace
>>> tables = SimpleNamespace(
...     objective=0, direction="minimize", log_params=[], interaction_tables={}, importances=pd.DataFrame(),
...     morris=pd.DataFrame(), effects=pd.DataFrame(), structural=pd.DataFrame({
...         "component": ["dropout"], "mode": ["leave_one_out"], "contribution": [-0.1],
...         "ci_low": [-0.2], "ci_high": [0.0], "benefit": [0.1]}))
>>> data = figure_data(tables)
>>> list(data), data["structural"].roles, data["structural"].table
(['structural'], ['better'], 'structural')
"""

from hpablate.render.figures._data import (
    BASELINE,
    BETTER,
    COLOURS,
    COMPLETED,
    FAILED,
    NEUTRAL,
    PALETTE,
    PRUNED,
    WORSE,
    EffectsFigureData,
    EffectsPanel,
    FailuresFigureData,
    FigureData,
    LearningCurvesFigureData,
    LinesFigureData,
    ObjectiveEffectsFigureData,
    ParetoFigureData,
    ImportanceFigureData,
    InteractionFigureData,
    InteractionLinesFigureData,
    MorrisFigureData,
    PairMatrixFigureData,
    PathFigureData,
    ReportTables,
    ShapleyFigureData,
    SobolFigureData,
    StructuralFigureData,
    TornadoFigureData,
    by_table,
    figure_data,
    objective_effects_figure_data,
    role,
)
from hpablate.render.figures._matplotlib import FORMATS, file_stem, matplotlib_figure, save_figures
from hpablate.render.figures._plotly import plotly_figure, plotly_figures

__all__ = [
    "BASELINE", "BETTER", "COLOURS", "COMPLETED", "FAILED", "FORMATS", "NEUTRAL", "PALETTE", "PRUNED", "WORSE",
    "EffectsFigureData", "EffectsPanel", "FailuresFigureData", "FigureData", "LearningCurvesFigureData",
    "LinesFigureData", "ObjectiveEffectsFigureData", "ParetoFigureData", "objective_effects_figure_data", "ImportanceFigureData", "InteractionFigureData", "InteractionLinesFigureData", "MorrisFigureData",
    "PairMatrixFigureData", "PathFigureData", "ReportTables", "ShapleyFigureData", "SobolFigureData",
    "StructuralFigureData", "TornadoFigureData", "by_table", "figure_data", "file_stem", "matplotlib_figure",
    "plotly_figure", "plotly_figures", "role", "save_figures",
]
