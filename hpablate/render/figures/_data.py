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
#: Trial outcomes (failure breakdown): not objective changes, so neither green nor red.
COMPLETED = "completed"
FAILED = "failed"
PRUNED = "pruned"
COLOURS = {BETTER: "#2ca02c", WORSE: "#d62728", BASELINE: "#333333", NEUTRAL: "#1f77b4",
           COMPLETED: "#9ecae1", FAILED: "#ff7f0e", PRUNED: "#9467bd"}
#: Line colours of configurations and methods (no meaning beyond telling lines apart).
PALETTE = ["#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f",
           "#aec7e8", "#ffbb78", "#c5b0d5", "#c49c94"]


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
    #: Per level, every replicate's objective value (drawn as points beside the mean ± CI).
    points: list[list[float]] | None = None


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
    #: Per bar, every replicate's paired contribution (their mean is the bar).
    points: list[list[float]] | None = None


class LearningCurvesFigureData(NamedTuple):
    """Per configuration, mean ± CI of the intermediate values at every step; the settling step."""

    title: str
    x_label: str
    y_label: str
    configs: list[str]
    steps: list[list[int]]
    mean: list[list[float]]
    low: list[list[float]]
    high: list[list[float]]
    settle_step: int | None
    last_step: int | None
    table: str = "learning_curves"


class FailuresFigureData(NamedTuple):
    """Per parameter level: trials completed, failed and pruned (stacked), and the failure rate."""

    title: str
    labels: list[str]
    completed: list[int]
    failed: list[int]
    pruned: list[int]
    failure_rate: list[float]
    table: str = "failures"


class ParetoFigureData(NamedTuple):
    """Every configuration's mean of two objectives (± CI); the Pareto front highlighted."""

    title: str
    x_label: str
    y_label: str
    configs: list[str]
    x: list[float]
    y: list[float]
    x_err: list[float]
    y_err: list[float]
    on_front: list[bool]
    #: Indices of the front's configurations ordered along the first objective (the front's line).
    front: list[int]
    table: str = "pareto"


class ObjectiveEffectsFigureData(NamedTuple):
    """Each ablation's effect (delta ± CI vs its reference) on each objective, side by side.

    ``roles[k][i]`` colours the effect of ``labels[i]`` on objective ``k`` in that objective's direction.
    """

    title: str
    labels: list[str]
    objectives: list[str]
    delta: list[list[float]]
    err_low: list[list[float]]
    err_high: list[list[float]]
    roles: list[list[str]]
    table: str = "effects"


class LinesFigureData(NamedTuple):
    """Lines of y over x, one per named series, with optional asymmetric error bars."""

    title: str
    x_label: str
    y_label: str
    names: list[str]
    x: list[list[float]]
    y: list[list[float]]
    err_minus: list[list[float]] | None
    err_plus: list[list[float]] | None
    log_x: bool = False
    y_range: tuple[float, float] | None = None
    table: str = "summary"


FigureData = Union[EffectsFigureData, TornadoFigureData, InteractionFigureData, ImportanceFigureData,
                   MorrisFigureData, StructuralFigureData, InteractionLinesFigureData, LearningCurvesFigureData,
                   FailuresFigureData, ParetoFigureData, ObjectiveEffectsFigureData, LinesFigureData]
#: Every kind of figure data, in the order the drawers list their functions.
FIGURE_TYPES = (EffectsFigureData, TornadoFigureData, InteractionFigureData, ImportanceFigureData, MorrisFigureData,
                StructuralFigureData, InteractionLinesFigureData, LearningCurvesFigureData, FailuresFigureData,
                ParetoFigureData, ObjectiveEffectsFigureData, LinesFigureData)


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
    ``importance: <method> <kind>``, ``morris``, ``structural``, ``failures``, ``learning curves``,
    ``pareto``. Tables a report lacks (``failures``, ``learning_curves``, ``pareto``,
    ``replicate_points``) count as empty.
    """
    y_label = f"{objective_label(r.objective, getattr(r, 'objective_name', None))} ({r.direction})"
    maximize = r.direction == "maximize"
    out: dict[str, FigureData] = {}
    points = getattr(r, "replicate_points", None)
    points = points if points is not None and len(points) else None
    effects = _get_effects_info(r.effects, y_label, maximize, r.log_params, _points_of(points, "effects"))
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
        out["structural"] = _get_structural_info(r.structural, y_label, _points_of(points, "structural"))
    failures = getattr(r, "failures", None)
    if failures is not None and len(failures):
        out["failures"] = _get_failures_info(failures)
    curves = getattr(r, "learning_curves", None)
    if curves is not None and len(curves):
        out["learning curves"] = _get_curves_info(curves, maximize, getattr(r, "settle_step", None))
    pareto = getattr(r, "pareto", None)
    if pareto is not None and len(pareto) and "mean_1" in pareto:
        out["pareto"] = _get_pareto_info(pareto)
    return out


def objective_effects_figure_data(effects: pd.DataFrame) -> ObjectiveEffectsFigureData:
    """The side-by-side figure of a long table of effects per objective.

    ``effects`` has one row per objective and ablation: ``objective`` (label), ``label`` (the
    ablation), ``delta``, ``ci_low``, ``ci_high`` and ``improvement`` (> 0: better in that
    objective's direction); see :func:`hpablate.analyze_objectives`.
    """
    objectives = list(dict.fromkeys(effects["objective"].astype(str)))
    labels = list(dict.fromkeys(effects["label"].astype(str)))
    delta, lo, hi, roles = [], [], [], []
    for o in objectives:
        g = effects[effects["objective"].astype(str) == o].set_index("label").reindex(labels)
        d = g["delta"].astype(float)
        delta.append(d.tolist())
        lo.append((d - g["ci_low"].astype(float)).fillna(0).clip(lower=0).tolist())
        hi.append((g["ci_high"].astype(float) - d).fillna(0).clip(lower=0).tolist())
        roles.append([role(float(v)) for v in g["improvement"].astype(float)])
    return ObjectiveEffectsFigureData(
        title="Effect of each ablation on each objective (delta vs its reference, 95% CI; green = better in "
              "that objective's direction)", labels=labels, objectives=objectives, delta=delta, err_low=lo,
        err_high=hi, roles=roles,
    )


def _points_of(points: pd.DataFrame | None, table: str) -> dict[Any, list[float]]:
    """Replicate values per row index of ``table`` (empty without replicate points)."""
    if points is None:
        return {}
    p = points[points["table"] == table]
    return {row: g["value"].astype(float).tolist() for row, g in p.groupby("row", sort=False)}


def _get_effects_info(e: pd.DataFrame, y_label: str, maximize: bool, log_params: Sequence[str],
                      points: Mapping[Any, list[float]] | None = None) -> EffectsFigureData | None:
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
            roles=roles, points=[list(points.get(i, [])) for i in sub.index] if points else None,
        ))
    return EffectsFigureData(
        title="One-at-a-time effects (bars: 95% CI of the delta, local at the baseline; "
              "green = improves on the baseline, red = worse, dark = baseline"
              + ("; small points: each replicate)" if points else ")"),
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


def _get_structural_info(s: pd.DataFrame, y_label: str,
                         points: Mapping[Any, list[float]] | None = None) -> StructuralFigureData:
    return StructuralFigureData(
        title="Component contributions (95% CI; green = helps" + ("; points: each replicate's paired difference)"
                                                                   if points else ")"),
        y_label=f"contribution to {y_label}",
        labels=[f"{c} ({m.replace('_', '-')})" for c, m in zip(s["component"], s["mode"])],
        contribution=s["contribution"].astype(float).tolist(),
        err=((s["ci_high"] - s["ci_low"]) / 2).fillna(0).astype(float).tolist(),
        roles=[role(float(b)) for b in s["benefit"]],
        points=[list(points.get(i, [])) for i in s.index] if points else None,
    )


#: At most this many configurations are drawn as learning curves (the best at the last step).
MAX_CURVES = 12


def _get_curves_info(t: pd.DataFrame, maximize: bool, settle: int | None) -> LearningCurvesFigureData:
    last = t.groupby("config", sort=False)["step"].max().min()
    final = t[t["step"] == last].set_index("config")["mean"]
    configs = list(dict.fromkeys(t["config"]))
    shown = configs
    if len(configs) > MAX_CURVES:
        best = set(final.sort_values(ascending=not maximize).index[:MAX_CURVES - 1])
        shown = [c for c in configs if c in best or c == "baseline"][:MAX_CURVES]
    groups = {c: g for c, g in t.groupby("config", sort=False)}
    settled = "" if settle is None else f"; the ranking settles at step {settle} (dotted line)"
    more = "" if len(shown) == len(configs) else f"; the {len(shown)} best of {len(configs)} configurations"
    return LearningCurvesFigureData(
        title=f"Learning curves (mean ± 95% CI over replicates{settled}{more})", x_label="step",
        y_label="intermediate value", configs=[str(c) for c in shown],
        steps=[groups[c]["step"].astype(int).tolist() for c in shown],
        mean=[groups[c]["mean"].astype(float).tolist() for c in shown],
        low=[groups[c]["ci_low"].astype(float).tolist() for c in shown],
        high=[groups[c]["ci_high"].astype(float).tolist() for c in shown],
        settle_step=settle, last_step=None if settle is None else int(last),
    )


def _get_failures_info(t: pd.DataFrame) -> FailuresFigureData:
    hit = t.groupby("param", sort=False)[["n_fail", "n_pruned"]].transform("sum").sum(axis=1) > 0
    t = t[hit]
    return FailuresFigureData(
        title="Trials per parameter level: completed, failed, pruned (parameters with any failure or pruning)",
        labels=[str(lv) if p == "baseline" else f"{p} = {lv}" for p, lv in zip(t["param"], t["level"])],
        completed=t["n_complete"].astype(int).tolist(), failed=t["n_fail"].astype(int).tolist(),
        pruned=t["n_pruned"].astype(int).tolist(), failure_rate=t["failure_rate"].astype(float).tolist(),
    )


def _get_pareto_info(t: pd.DataFrame) -> ParetoFigureData:
    names = t.attrs.get("objectives") or ["objective 0", "objective 1"]
    dirs = t.attrs.get("directions") or ["", ""]
    x, y = t["mean_0"].astype(float), t["mean_1"].astype(float)
    front = [i for i in np.argsort(x.to_numpy(), kind="stable") if bool(t["on_front"].iloc[i])]
    more = f" (the first two of {len(names)} objectives)" if len(names) > 2 else ""
    return ParetoFigureData(
        title=f"Configurations' mean objectives (± 95% CI); the Pareto front highlighted{more}",
        x_label=f"{names[0]} ({dirs[0]})" if dirs[0] else names[0],
        y_label=f"{names[1]} ({dirs[1]})" if dirs[1] else names[1], configs=t["config"].astype(str).tolist(),
        x=x.tolist(), y=y.tolist(), x_err=((t["ci_high_0"] - t["ci_low_0"]) / 2).fillna(0).astype(float).tolist(),
        y_err=((t["ci_high_1"] - t["ci_low_1"]) / 2).fillna(0).astype(float).tolist(),
        on_front=t["on_front"].astype(bool).tolist(), front=[int(i) for i in front],
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
