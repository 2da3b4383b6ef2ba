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


class SobolFigureData(NamedTuple):
    """Per parameter, first-order ``S`` and total-order ``ST`` Sobol indices with their CIs, largest ST first."""

    title: str
    x_label: str
    params: list[str]
    first: list[float]
    first_low: list[float]
    first_high: list[float]
    total: list[float]
    total_low: list[float]
    total_high: list[float]
    table: str = "sobol"


class PairMatrixFigureData(NamedTuple):
    """A symmetric matrix of pairwise values with their CIs (diagonal NaN), drawn as a heatmap.

    ``signed``: the values are changes of the objective (Shapley interaction indices), coloured
    green where they improve it in its direction (``higher_is_better``) and centred on 0; else they
    are variance shares (second-order Sobol indices), on a one-sided scale from 0.
    """

    title: str
    colour_label: str
    names: list[str]
    z: list[list[float]]
    low: list[list[float]]
    high: list[list[float]]
    signed: bool
    higher_is_better: bool
    table: str = "sobol"


class ShapleyFigureData(NamedTuple):
    """Per component, its Shapley value beside its leave-one-out (and add-one-in) effect, with CIs.

    ``values[k][i]`` is estimate ``estimates[k]`` of ``components[i]``, in the objective's units and
    sign; ``roles[k][i]`` colours it in the objective's direction. A missing CI has half-width 0.
    """

    title: str
    x_label: str
    components: list[str]
    estimates: list[str]
    values: list[list[float]]
    err_low: list[list[float]]
    err_high: list[list[float]]
    roles: list[list[str]]
    table: str = "shapley"


class PathFigureData(NamedTuple):
    """The ablation path: the objective's mean ± CI at each step from the source to the target.

    ``labels[s]`` names the flip of step ``s`` (step 0: the source); ``gain`` (NaN at step 0) is
    each step's paired improvement over the one before, in the objective's direction, and
    ``roles`` colours it. Candidates of round ``r`` (every move tried there) sit at step ``r + 1``.
    """

    title: str
    y_label: str
    labels: list[str]
    mean: list[float]
    mean_low: list[float]
    mean_high: list[float]
    gain: list[float]
    gain_low: list[float]
    gain_high: list[float]
    roles: list[str]
    candidate_step: list[int]
    candidate_mean: list[float]
    candidate_labels: list[str]
    candidate_kept: list[bool]
    table: str = "path"


FigureData = Union[EffectsFigureData, TornadoFigureData, InteractionFigureData, ImportanceFigureData,
                   MorrisFigureData, StructuralFigureData, InteractionLinesFigureData, LearningCurvesFigureData,
                   FailuresFigureData, ParetoFigureData, ObjectiveEffectsFigureData, LinesFigureData,
                   SobolFigureData, PairMatrixFigureData, ShapleyFigureData, PathFigureData]
#: Every kind of figure data, in the order the drawers list their functions.
FIGURE_TYPES = (EffectsFigureData, TornadoFigureData, InteractionFigureData, ImportanceFigureData, MorrisFigureData,
                StructuralFigureData, InteractionLinesFigureData, LearningCurvesFigureData, FailuresFigureData,
                ParetoFigureData, ObjectiveEffectsFigureData, LinesFigureData, SobolFigureData, PairMatrixFigureData,
                ShapleyFigureData, PathFigureData)


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
    ``pareto``, and of the global designs ``sobol``, ``sobol second order``, ``shapley`` and
    ``shapley interactions`` (``shapley: <game>`` … for the other games of multi-valued
    components), ``path``. Tables a report lacks (``failures``, ``learning_curves``, ``pareto``,
    ``replicate_points``, ``sobol``, ``shapley``, ``shapley_interactions``, ``path``,
    ``path_candidates``) count as empty.
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
    out.update(_global_infos(r, y_label, maximize))
    return out


def _table_of(r: Any, name: str) -> pd.DataFrame | None:
    """The report's table ``name``, or None where the report lacks it or it is empty."""
    t = getattr(r, name, None)
    return t if t is not None and len(t) else None


def _global_infos(r: Any, y_label: str, maximize: bool) -> dict[str, FigureData]:
    """The figures of the global designs: Sobol indices, Shapley values, the ablation path."""
    out: dict[str, FigureData] = {}
    sobol = _table_of(r, "sobol")
    if sobol is not None and (sobol["order"] != "second").any():
        out["sobol"] = _get_sobol_info(sobol)
        if (sobol["order"] == "second").any():
            out["sobol second order"] = _get_sobol_second_info(sobol, out["sobol"].params)
    shapley = _table_of(r, "shapley")
    pairs = _table_of(r, "shapley_interactions")
    if shapley is not None:
        for game, g in shapley.groupby("game", sort=False):
            suffix = "" if game == "full" else f": {game}"
            values = out[f"shapley{suffix}"] = _get_shapley_info(str(game), g, y_label, maximize)
            p = None if pairs is None else pairs[pairs["game"] == game]
            if p is not None and len(p) and p["interaction"].notna().any():  # in the Shapley figure's order
                out[f"shapley interactions{suffix}"] = _get_shapley_pairs_info(
                    str(game), p, values.components, y_label, maximize)
    path = _table_of(r, "path")
    if path is not None:
        out["path"] = _get_path_info(path, _table_of(r, "path_candidates"), y_label)
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


def cell_text(value: float, low: float, high: float, sep: str = "<br>") -> str:
    """A heatmap cell's value with its CI below, or empty where there is no value.

    Examples
    --------
    >>> cell_text(0.1234, 0.05, 0.2, " "), cell_text(float("nan"), 0, 0)
    ('0.123 [0.05, 0.2]', '')
    """
    if value != value:
        return ""
    ci = f"{sep}[{low:.2g}, {high:.2g}]" if low == low and high == high else ""
    return f"{value:.3g}{ci}"


def _get_sobol_info(t: pd.DataFrame) -> SobolFigureData:
    first = t[t["order"] == "first"].set_index("param")
    total = t[t["order"] == "total"].set_index("param")
    # largest total-order index first; a parameter without a finite ST goes last
    params = sorted(total.index, key=lambda n: -np.nan_to_num(float(total.at[n, "index"]), nan=-np.inf))
    first = first.reindex(params)
    total = total.reindex(params)

    def col(frame: pd.DataFrame, name: str) -> list[float]:
        return frame[name].astype(float).tolist()

    return SobolFigureData(
        title="Sobol indices (95% bootstrap CI): first order S (the parameter alone) and total order ST "
              "(with its interactions), largest ST first", x_label="share of the objective's variance",
        params=[str(n) for n in params], first=col(first, "index"), first_low=col(first, "ci_low"),
        first_high=col(first, "ci_high"), total=col(total, "index"), total_low=col(total, "ci_low"),
        total_high=col(total, "ci_high"),
    )


def _pair_matrix(names: list[str], a: Sequence[Any], b: Sequence[Any], *cols: Sequence[float]) -> list[list[list[float]]]:
    """Symmetric ``len(names)²`` matrices of each of ``cols`` at the pairs ``(a, b)``; NaN elsewhere."""
    pos = {n: i for i, n in enumerate(names)}
    out = [np.full((len(names), len(names)), np.nan) for _ in cols]
    for k, (x, y) in enumerate(zip(a, b)):
        i, j = pos.get(str(x)), pos.get(str(y))
        if i is None or j is None:
            continue
        for m, c in zip(out, cols):
            m[i, j] = m[j, i] = float(c[k])
    return [m.tolist() for m in out]


def _get_sobol_second_info(t: pd.DataFrame, params: list[str]) -> PairMatrixFigureData:
    s = t[t["order"] == "second"]
    z, lo, hi = _pair_matrix(params, s["param_a"].tolist(), s["param_b"].tolist(), s["index"].astype(float).tolist(),
                             s["ci_low"].astype(float).tolist(), s["ci_high"].astype(float).tolist())
    return PairMatrixFigureData(
        title="Second-order Sobol indices S_ij: the share of the i-j interaction alone (each cell: index [95% CI])",
        colour_label="S_ij", names=params, z=z, low=lo, high=hi, signed=False, higher_is_better=True,
    )


#: The Shapley table's estimates drawn side by side: (name, value column, CI columns or None).
_SHAPLEY_ESTIMATES = (
    ("Shapley value", "shapley", ("ci_low", "ci_high")),
    ("leave-one-out (LOCO)", "loco", ("loco_ci_low", "loco_ci_high")),
    ("add-one-in", "add_one_in", None),
)


def _get_shapley_info(game: str, g: pd.DataFrame, y_label: str, maximize: bool) -> ShapleyFigureData:
    sign = 1.0 if maximize else -1.0
    g = g.iloc[np.argsort(-np.nan_to_num(g["shapley"].abs().to_numpy(float), nan=-1.0), kind="stable")]
    names, values, lo, hi, roles = [], [], [], [], []
    for name, col, ci in _SHAPLEY_ESTIMATES:
        v = g[col].astype(float) if col in g else pd.Series(np.nan, index=g.index)
        if name != "Shapley value" and v.isna().all():
            continue  # e.g. a sampled design that did not run the leave-one-out subsets
        names.append(name)
        values.append(v.tolist())
        if ci is None or ci[0] not in g:
            lo.append([0.0] * len(v))
            hi.append([0.0] * len(v))
        else:
            lo.append((v - g[ci[0]].astype(float)).fillna(0).clip(lower=0).tolist())
            hi.append((g[ci[1]].astype(float) - v).fillna(0).clip(lower=0).tolist())
        roles.append([role(sign * float(x)) for x in v])
    gap = float(g["full_minus_bare"].iloc[0]) if "full_minus_bare" in g else float("nan")
    what = "" if game == "full" else f" (game {game})"
    return ShapleyFigureData(
        title=f"Shapley values beside leave-one-out and add-one-in effects{what}, 95% CI; green = improves the "
              f"objective. Shapley values sum to full - bare = {gap:.4g}; with interactions they differ from LOCO",
        x_label=f"effect on {y_label}", components=g["component"].astype(str).tolist(), estimates=names,
        values=values, err_low=lo, err_high=hi, roles=roles,
    )


def _get_shapley_pairs_info(game: str, p: pd.DataFrame, names: list[str], y_label: str,
                            maximize: bool) -> PairMatrixFigureData:
    z, lo, hi = _pair_matrix(names, p["component_a"].tolist(), p["component_b"].tolist(),
                             p["interaction"].astype(float).tolist(), p["ci_low"].astype(float).tolist(),
                             p["ci_high"].astype(float).tolist())
    what = "" if game == "full" else f" (game {game})"
    return PairMatrixFigureData(
        title=f"Pairwise Shapley interaction indices{what} (green = the pair together improves the objective "
              "beyond its parts; each cell: index [95% CI])", colour_label=f"interaction ({y_label})", names=names, z=z,
        low=lo, high=hi, signed=True, higher_is_better=maximize, table="shapley_interactions",
    )


def _get_path_info(t: pd.DataFrame, candidates: pd.DataFrame | None, y_label: str) -> PathFigureData:
    t = t.sort_values("step")
    # the last step is the target only on a finished path: one step per move (round 0 tries every move)
    n_moves = int((candidates["round"] == 0).sum()) if candidates is not None else -1
    last = len(t) - 1 if len(t) - 1 == n_moves else -1
    labels = []
    for k, (step, param, value) in enumerate(zip(t["step"], t["param"], t["to_value"])):
        if int(step) == 0:
            labels.append("source (baseline)")
            continue
        flip = str(param) if value is None or (isinstance(value, float) and np.isnan(value)) else \
            f"{param} → {fmt_value(value)}"
        labels.append(f"{int(step)}: {flip}" + (" (target)" if k == last else ""))
    gain = t["gain"].astype(float)
    roles = [BASELINE if int(s) == 0 else role(float(v)) for s, v in zip(t["step"], gain)]
    c = candidates if candidates is not None else pd.DataFrame(columns=["round", "param", "to_value", "mean", "kept"])
    c = c[c["mean"].astype(float).notna()]
    return PathFigureData(
        title="Ablation path from the source (baseline) to the target: mean ± 95% CI after each flip; bars: each "
              "step's paired gain (green = improves the objective); faint points: every round's candidates",
        y_label=y_label, labels=labels, mean=t["mean"].astype(float).tolist(),
        mean_low=t["mean_ci_low"].astype(float).tolist(), mean_high=t["mean_ci_high"].astype(float).tolist(),
        gain=gain.tolist(), gain_low=t["gain_ci_low"].astype(float).tolist(),
        gain_high=t["gain_ci_high"].astype(float).tolist(), roles=roles,
        candidate_step=[int(r) + 1 for r in c["round"]], candidate_mean=c["mean"].astype(float).tolist(),
        candidate_labels=[str(p) if v is None else f"{p} → {fmt_value(v)}" for p, v in zip(c["param"], c["to_value"])],
        candidate_kept=[bool(k) for k in c["kept"]],
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
