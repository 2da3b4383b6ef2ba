"""What each figure of an analysis report shows, computed from the report's tables.

Each figure is a NamedTuple of plain lists (the pattern of Optuna's
``visualization/_param_importances.py``): it is computed once here, then drawn by
:mod:`hpablate.render.figures._plotly` or :mod:`hpablate.render.figures._matplotlib`, so what a
figure shows is testable without a plotting library. Its ``table`` names the report table (section)
it belongs to (a defaulted last field).

Colours carry one meaning everywhere: :data:`BETTER` (green) improves the objective in its
direction (a lower value for a minimised objective), :data:`WORSE` (red) makes it worse.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Protocol, Union

import numpy as np
import pandas as pd

from hpablate.render._tables import fmt_value, objective_label

BETTER = "better"
WORSE = "worse"
BASELINE = "baseline"
NEUTRAL = "neutral"
COLOURS = {BETTER: "#2ca02c", WORSE: "#d62728", BASELINE: "#333333", NEUTRAL: "#1f77b4"}


def role(improvement: float) -> str:
    """:data:`BETTER`, :data:`WORSE` or :data:`NEUTRAL` for a change signed so that > 0 improves.

    Examples
    --------
    >>> role(0.3), role(-1.0), role(float("nan"))
    ('better', 'worse', 'neutral')
    """
    if improvement > 0:
        return BETTER
    if improvement < 0:
        return WORSE
    return NEUTRAL


class EffectsPanel(NamedTuple):
    """One parameter's one-at-a-time levels: mean objective and the half-width of its bar."""

    param: str
    x: list[Any]
    numeric: bool
    log: bool
    mean: list[float]
    err: list[float]
    roles: list[str]


class EffectsFigureData(NamedTuple):
    """One-at-a-time effects, a panel per parameter with at least two levels."""

    title: str
    y_label: str
    panels: list[EffectsPanel]
    table: str = "effects"


class TornadoFigureData(NamedTuple):
    """Per parameter, the lowest and highest one-at-a-time delta (0 included), narrowest first."""

    title: str
    x_label: str
    params: list[str]
    low: list[float]
    high: list[float]
    low_role: str
    high_role: str
    table: str = "effects"


class InteractionFigureData(NamedTuple):
    """Mean objective of every cell of a two-parameter table; ``higher_is_better`` orients colours."""

    title: str
    x_name: str
    y_name: str
    x: list[str]
    y: list[str]
    z: list[list[float]]
    higher_is_better: bool
    table: str = "interactions"


class InteractionLinesFigureData(NamedTuple):
    """The same cells as lines: mean objective over ``x`` levels, one line per ``lines`` level.

    Parallel lines mean no interaction; crossing or fanning lines show one.
    """

    title: str
    x_name: str
    line_name: str
    y_label: str
    x: list[str]
    lines: list[str]
    means: list[list[float]]
    table: str = "interactions"


class ImportanceFigureData(NamedTuple):
    """One method's importances of one kind (marginal or pairwise), smallest first."""

    title: str
    x_label: str
    params: list[str]
    values: list[float]
    err: list[float] | None
    table: str = "importances"


class MorrisFigureData(NamedTuple):
    """Morris mu* (with its bootstrap CI) against sigma, per parameter."""

    title: str
    params: list[str]
    mu_star: list[float]
    mu_star_low: list[float]
    mu_star_high: list[float]
    sigma: list[float]
    table: str = "morris"


class StructuralFigureData(NamedTuple):
    """Per component and mode, the contribution with the half-width of its CI."""

    title: str
    y_label: str
    labels: list[str]
    contribution: list[float]
    err: list[float]
    roles: list[str]
    table: str = "structural"


FigureData = Union[EffectsFigureData, TornadoFigureData, InteractionFigureData, ImportanceFigureData,
                   MorrisFigureData, StructuralFigureData, InteractionLinesFigureData]
#: Every kind of figure data, in the order the drawers list their functions.
FIGURE_TYPES = (EffectsFigureData, TornadoFigureData, InteractionFigureData, ImportanceFigureData, MorrisFigureData,
                StructuralFigureData, InteractionLinesFigureData)


class ReportTables(Protocol):
    """The tables and metadata of a report that its figures are computed from."""

    objective: int
    direction: str
    log_params: list[str]
    effects: pd.DataFrame
    interaction_tables: dict[str, pd.DataFrame]
    importances: pd.DataFrame
    morris: pd.DataFrame
    structural: pd.DataFrame


def figure_data(r: ReportTables) -> dict[str, FigureData]:
    """Every figure the report's tables support, by name, in reading order.

    Names: ``tornado``, ``oat``, ``interaction: a × b``, ``interaction lines: a × b``,
    ``importance: <method> <kind>``, ``morris``, ``structural``.
    """
    y_label = f"{objective_label(r.objective, getattr(r, 'objective_name', None))} ({r.direction})"
    maximize = r.direction == "maximize"
    out: dict[str, FigureData] = {}
    effects = _get_effects_info(r.effects, y_label, maximize, r.log_params)
    if effects is not None:
        out["tornado"] = _get_tornado_info(r.effects, y_label, maximize)
        out["oat"] = effects
    for pair, t in r.interaction_tables.items():
        if t.size:
            out[f"interaction: {pair}"] = _get_interaction_info(pair, t, maximize)
            out[f"interaction lines: {pair}"] = _get_interaction_lines_info(pair, t, y_label)
    out.update(_get_importance_infos(r.importances))
    if len(r.morris):
        out["morris"] = _get_morris_info(r.morris)
    if len(r.structural):
        out["structural"] = _get_structural_info(r.structural, y_label)
    return out


def _get_effects_info(e: pd.DataFrame, y_label: str, maximize: bool,
                      log_params: Sequence[str]) -> EffectsFigureData | None:
    if not len(e) or e["is_baseline"].all():
        return None
    sign = 1.0 if maximize else -1.0
    panels = []
    for p in [p for p in e["param"].unique() if (e["param"] == p).sum() >= 2]:
        sub = e[e["param"] == p]
        numeric = all(isinstance(v, (int, float, np.number)) and not isinstance(v, (bool, np.bool_))
                      for v in sub["level"])
        # a level's bar is the CI of its delta (placed around its mean); the baseline's is the CI of its mean
        half = (sub["ci_high"] - sub["ci_low"]).to_numpy(float) / 2
        err = np.where(sub["is_baseline"], _mean_half(sub), half)
        roles = [BASELINE if b else role(sign * d) for b, d in zip(sub["is_baseline"], sub["delta"])]
        panels.append(EffectsPanel(
            param=str(p), x=[_plain(v) if numeric else fmt_value(v) for v in sub["level"]], numeric=numeric,
            log=p in log_params, mean=sub["mean"].astype(float).tolist(), err=np.nan_to_num(err).tolist(),
            roles=roles,
        ))
    return EffectsFigureData(
        title="One-at-a-time effects (bars: 95% CI of the delta, local at the baseline; "
              "green = improves on the baseline, red = worse, dark = baseline)",
        y_label=y_label, panels=panels,
    )


def _get_tornado_info(e: pd.DataFrame, y_label: str, maximize: bool) -> TornadoFigureData:
    rows = []
    for p, g in e[~e["is_baseline"]].groupby("param", sort=False):
        rows.append((str(p), min(float(g["delta"].min()), 0.0), max(float(g["delta"].max()), 0.0)))
    rows.sort(key=lambda t: t[2] - t[1])
    return TornadoFigureData(
        title="Tornado: range of one-at-a-time deltas vs the baseline (green = improves the objective)",
        x_label=f"delta of {y_label}", params=[t[0] for t in rows], low=[t[1] for t in rows],
        high=[t[2] for t in rows], low_role=BETTER if not maximize else WORSE,
        high_role=BETTER if maximize else WORSE,
    )


def _get_interaction_info(pair: str, t: pd.DataFrame, maximize: bool) -> InteractionFigureData:
    return InteractionFigureData(
        title=f"Mean objective: {pair}", x_name=str(t.columns.name), y_name=str(t.index.name),
        x=[fmt_value(v) for v in t.columns], y=[fmt_value(v) for v in t.index],
        z=t.to_numpy(dtype=float).tolist(), higher_is_better=maximize,
    )


def _get_interaction_lines_info(pair: str, t: pd.DataFrame, y_label: str) -> InteractionLinesFigureData:
    return InteractionLinesFigureData(
        title=f"Mean objective: {pair} (parallel lines = no interaction)", x_name=str(t.columns.name),
        line_name=str(t.index.name), y_label=f"mean {y_label}", x=[fmt_value(v) for v in t.columns],
        lines=[fmt_value(v) for v in t.index], means=t.to_numpy(dtype=float).tolist(),
    )


def _get_importance_infos(imp: pd.DataFrame) -> dict[str, ImportanceFigureData]:
    out: dict[str, ImportanceFigureData] = {}
    if imp.empty:
        return out
    for method, g in imp.groupby("method", sort=False):
        for kind, h in g.groupby("kind", sort=False):
            h = h.sort_values("importance")
            if h["importance"].isna().all():
                continue
            spread = str(method).startswith("fANOVA")
            out[f"importance: {method} {kind}"] = ImportanceFigureData(
                title=f"{method} — {kind}" + (" (bars: SD over trees)" if spread else ""),
                x_label=str(h["estimand"].iloc[0]), params=h["param"].astype(str).tolist(),
                values=h["importance"].astype(float).tolist(),
                err=h["std"].fillna(0).astype(float).tolist() if spread else None,
            )
    return out


def _get_morris_info(m: pd.DataFrame) -> MorrisFigureData:
    m = m.dropna(subset=["mu_star"])
    return MorrisFigureData(
        title="Morris: mu* (bootstrap 95% CI) vs sigma", params=m["param"].astype(str).tolist(),
        mu_star=m["mu_star"].astype(float).tolist(), mu_star_low=m["mu_star_lo"].astype(float).tolist(),
        mu_star_high=m["mu_star_hi"].astype(float).tolist(), sigma=m["sigma"].fillna(0).astype(float).tolist(),
    )


def _get_structural_info(s: pd.DataFrame, y_label: str) -> StructuralFigureData:
    return StructuralFigureData(
        title="Component contributions (95% CI; green = helps)", y_label=f"contribution to {y_label}",
        labels=[f"{c} ({m.replace('_', '-')})" for c, m in zip(s["component"], s["mode"])],
        contribution=s["contribution"].astype(float).tolist(),
        err=((s["ci_high"] - s["ci_low"]) / 2).fillna(0).astype(float).tolist(),
        roles=[role(float(b)) for b in s["benefit"]],
    )


def _mean_half(sub: pd.DataFrame) -> np.ndarray:
    """Half-width of the t 95% CI of each row's mean (NaN for a single trial)."""
    from scipy import stats

    n = sub["n"].to_numpy(float)
    sd = sub["std"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        q = np.where(n > 1, stats.t.ppf(0.975, np.maximum(n - 1, 1)), np.nan)
        return q * sd / np.sqrt(n)


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def by_table(figures: Mapping[str, FigureData]) -> dict[str, list[str]]:
    """Figure names grouped by the table (report section) each belongs to, in order."""
    out: dict[str, list[str]] = {}
    for name, d in figures.items():
        out.setdefault(d.table, []).append(name)
    return out
