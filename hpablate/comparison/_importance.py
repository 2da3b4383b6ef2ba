"""Each method's importance of every parameter, from its own trials.

* ``oat``: the largest ``|mean(level) - mean(baseline)|`` over the parameter's one-at-a-time
  levels (:func:`hpablate.analysis.effects.oat_effects`): a *local* effect, at the baseline.
* ``morris``: ``mu*`` (:func:`hpablate.analysis.importance.morris_indices`).
* ``sobol``: total-order index ``ST`` (:func:`hpablate.analysis.importance.sobol.sobol_indices`).
* ``grid``: in the factorial of the parameter's group (trials with every other parameter at
  baseline), the mean over the other group members' cells of the variance of the cell means
  along the parameter's axis: a total-order-like variance restricted to the group.
* ``random``, ``tpe``, ``gp``, ``qmc``: fANOVA marginal importance
  (:func:`hpablate.analysis.importance.fanova_importances`, first-order variance fraction).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from hpablate.analysis.effects import oat_effects
from hpablate.analysis.importance import fanova_importances, morris_elementary_effects, morris_indices
from hpablate.record import (REPLICATE_ATTR, SOBOL_MATRIX_ATTR, SOBOL_POINT_ATTR, STEP_ATTR, TRAJECTORY_ATTR,
                             VARIED_ATTR)
from hpablate.space import SearchSpace, same_value, value_key


def trials_frame(trials: Sequence[FrozenTrial], names: Sequence[str]) -> pd.DataFrame:
    """COMPLETE trials as a table: parameter columns, ``value``, ``replicate``, ``trajectory``, ``step``."""
    rows = []
    for t in trials:
        if t.state != TrialState.COMPLETE or t.values is None or not all(n in t.params for n in names):
            continue
        row: dict[str, Any] = {n: t.params[n] for n in names}
        row["value"] = float(t.values[0])
        row["replicate"] = t.user_attrs.get(REPLICATE_ATTR)
        row["trajectory"] = t.user_attrs.get(TRAJECTORY_ATTR)
        row["step"] = t.user_attrs.get(STEP_ATTR)
        row["sobol_point"] = t.user_attrs.get(SOBOL_POINT_ATTR)
        row["sobol_matrix"] = t.user_attrs.get(SOBOL_MATRIX_ATTR)
        row["varied"] = tuple(t.user_attrs.get(VARIED_ATTR) or ())
        rows.append(row)
    return pd.DataFrame(rows, columns=[*names, "value", "replicate", "trajectory", "step", "sobol_point",
                                       "sobol_matrix", "varied"])


def compute_seconds(trials: Sequence[FrozenTrial]) -> float:
    """Summed wall time of the trials (objective and lazy sampling inside it), any state."""
    total = 0.0
    for t in trials:
        if t.datetime_start is not None and t.datetime_complete is not None:
            total += (t.datetime_complete - t.datetime_start).total_seconds()
    return total


def best_value(df: pd.DataFrame, maximize: bool) -> float:
    """Best objective value among the trials (NaN if none)."""
    if df.empty:
        return math.nan
    return float(df["value"].max() if maximize else df["value"].min())


def importances(method: str, df: pd.DataFrame, space: SearchSpace, *, groups: list[list[str]] | None = None,
                n_trees: int = 64, seed: int = 0, n_jobs: int | None = None) -> dict[str, float]:
    """Importance of every parameter of ``space`` by ``method`` from the trials in ``df``.

    Parameters without an estimate get NaN (they rank last); an objective that is constant over
    the trials gives zeros.
    """
    names = space.names
    if df.empty:
        return {n: math.nan for n in names}
    if method == "oat":
        return oat_importance(df, space)
    if method == "morris":
        return morris_importance(df, space)
    if method == "sobol":
        return sobol_importance(df, space)
    if method == "grid":
        return grid_importance(df, space, groups or [[n] for n in names])
    return fanova_importance(df, space, n_trees=n_trees, seed=seed, n_jobs=n_jobs)


def oat_importance(df: pd.DataFrame, space: SearchSpace) -> dict[str, float]:
    """Largest ``|delta|`` of each parameter's one-at-a-time levels vs the baseline."""
    eff = oat_effects(df[space.names], df["value"].to_numpy(), space)
    out = {n: math.nan for n in space.names}
    tiny = _round_off(df["value"])
    if len(eff):
        moved = eff[~eff["is_baseline"]]
        for n, d in moved.groupby("param")["delta"]:
            v = float(np.nanmax(np.abs(d.to_numpy(float))))
            out[n] = 0.0 if v <= tiny else v
    return out


def _round_off(y: pd.Series) -> float:
    """Differences of objective values at or below ``1e-12 * max(1, max |y|)`` are floating-point
    round-off, not effects (e.g. ``sin(pi) = 1.2e-16``): they count as zero so they cannot order
    parameters."""
    scale = float(np.nanmax(np.abs(y.to_numpy(float)))) if len(y) else 0.0
    return 1e-12 * max(scale, 1.0)


def morris_importance(df: pd.DataFrame, space: SearchSpace) -> dict[str, float]:
    """Morris ``mu*`` of each parameter (the baseline slot is not part of any trajectory)."""
    names = space.names
    traj = df[df["trajectory"].notna()].copy()
    if traj.empty:
        return {n: math.nan for n in names}
    traj["replicate"] = traj["replicate"].fillna(0).astype(int)
    traj["trajectory"] = traj["trajectory"].astype(int)
    traj["step"] = traj["step"].astype(int)
    unit = {n: (lambda v, n=n: space.to_unit(n, v)) for n in names}
    ee = morris_elementary_effects(traj, unit, y_col="value")
    mi = morris_indices(ee, names, n_resamples=2)
    return {r.param: float(r.mu_star) for r in mi.itertuples()}


def sobol_importance(df: pd.DataFrame, space: SearchSpace) -> dict[str, float]:
    """Total-order Sobol index of each parameter (point estimate; few resamples: no CI needed here)."""
    from hpablate.analysis.importance.sobol import saltelli_values, sobol_indices

    on = df[df["sobol_point"].notna()].assign(replicate=lambda d: d["replicate"].fillna(0).astype(int))
    values = saltelli_values(on, space.names) if len(on) else None
    if values is None or len(values) < 2:
        return {n: math.nan for n in space.names}
    t = sobol_indices(values, n_resamples=2)
    return dict(zip(t.loc[t["order"] == "total", "param"], t.loc[t["order"] == "total", "index"].astype(float)))


def grid_importance(df: pd.DataFrame, space: SearchSpace, groups: list[list[str]]) -> dict[str, float]:
    """Mean (over the other group members' cells) variance of cell means along each axis."""
    base = space.baseline
    at_base = {n: np.array([same_value(v, base[n]) for v in df[n]], dtype=bool) for n in space.names}
    y = df["value"].to_numpy(float)
    out = {n: math.nan for n in space.names}
    for group in groups:
        rest = [n for n in space.names if n not in group]
        sel = np.ones(len(df), dtype=bool)
        for n in rest:
            sel &= at_base[n]
        if not sel.any():
            continue
        sub = df.loc[sel, group]
        levels = [[value_key(v) for v in space[n].levels] for n in group]
        index = [{k: i for i, k in enumerate(lv)} for lv in levels]
        shape = tuple(len(lv) for lv in levels)
        sums = np.zeros(shape)
        counts = np.zeros(shape)
        ys = y[sel]
        for r, row in enumerate(sub.itertuples(index=False)):
            cell = tuple(index[j].get(value_key(v)) for j, v in enumerate(row))
            if None in cell:
                continue  # a value off the design's levels (not one of this plan's cells)
            sums[cell] += ys[r]
            counts[cell] += 1
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
        for j, n in enumerate(group):
            if shape[j] < 2:
                out[n] = 0.0
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices (missing cells)
                var = np.nanvar(means, axis=j)
            finite = var[np.isfinite(var)]
            v = float(finite.mean()) if finite.size else math.nan
            out[n] = 0.0 if v <= _round_off(df["value"]) ** 2 else v
    return out


def fanova_importance(df: pd.DataFrame, space: SearchSpace, *, n_trees: int = 64, seed: int = 0,
                      n_jobs: int | None = None) -> dict[str, float]:
    """fANOVA marginal (first-order) importance of every parameter."""
    names = space.names
    y = df["value"].to_numpy(float)
    if len(y) < 2 or np.ptp(y) == 0:
        return {n: 0.0 for n in names}
    t = fanova_importances(df[names], y, space.to_distributions(), pairwise=False, n_trees=n_trees,
                           seed=seed, n_jobs=n_jobs)
    t = t[t["kind"] == "marginal"]
    return {n: float(t.loc[t["param"] == n, "importance"].iloc[0]) for n in names}
