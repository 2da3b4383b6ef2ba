"""Each method's importance of every parameter, from its own trials, on the public analysis API.

A method's trials become an :class:`~hpablate.analysis._input.AnalysisInput` (:func:`method_input`)
and every importance is read off an analysis of it:

* ``oat``: the largest ``|delta|`` of the parameter's one-at-a-time levels
  (:func:`hpablate.analysis.effects.analyze_effects`): a *local* effect, at the baseline.
* ``morris``: ``mu*`` (:func:`hpablate.analysis.importance.analyze_morris`).
* ``sobol``: total-order index ``ST`` (:func:`hpablate.analysis.importance.sobol.analyze_sobol`).
* ``shapley``: ``|Shapley value|`` of each component (:func:`hpablate.analysis.shapley.analyze_shapley`,
  its first game: every component at its baseline choice vs off); other parameters get none.
* ``path``: ``|gain|`` of the ablation-path step that flips the parameter
  (:func:`hpablate.analysis.path.analyze_path`): local and order-dependent.
* ``grid``: in the factorial of the parameter's group (trials with every other parameter at
  baseline), the mean over the other group members' cells of the variance of the cell means
  along the parameter's axis (cells from :func:`hpablate.analysis.interactions.mean_table`): a
  total-order-like variance restricted to the group.
* ``random``, ``tpe``, ``gp``, ``qmc``: fANOVA marginal importance
  (:func:`hpablate.analysis.importance.fanova_importances`, first-order variance fraction).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from optuna.trial import FrozenTrial

from hpablate.analysis import AnalysisInput, analysis_input, from_frozen_trials
from hpablate.analysis.effects import analyze_effects, baseline_masks
from hpablate.analysis.importance import analyze_morris, fanova_importances
from hpablate.analysis.interactions import mean_table
from hpablate.errors import NoTrialsError
from hpablate.space import SearchSpace

_CELL = "__hpablate_cell__"  # the other group members' levels, one label per cell
_Y = "__hpablate_objective__"


def method_input(trials: Sequence[FrozenTrial], user_attrs: dict[str, Any], direction: str,
                 names: Sequence[str] | SearchSpace) -> AnalysisInput | None:
    """The analysis input of a method's trials that set every parameter they should.

    ``names`` is the space (a trial must set every parameter active in its own configuration: in
    a conditional space a child exists only under its parent's value) or a list of names (a trial
    must set them all). None when no such trial completed with a finite value.
    """
    if isinstance(names, SearchSpace):
        space = names
        complete = [t for t in trials if all(n in t.params for n in space.names if space.is_active(n, t.params))]
    else:
        complete = [t for t in trials if all(n in t.params for n in names)]
    try:
        return analysis_input(from_frozen_trials("compare", [direction], complete, user_attrs))
    except NoTrialsError:
        return None


def compute_seconds(trials: Sequence[FrozenTrial]) -> float:
    """Summed wall time of the trials (objective and lazy sampling inside it), any state."""
    total = 0.0
    for t in trials:
        if t.datetime_start is not None and t.datetime_complete is not None:
            total += (t.datetime_complete - t.datetime_start).total_seconds()
    return total


def best_value(inp: AnalysisInput | None) -> float:
    """Best objective value among the trials (NaN if none)."""
    if inp is None:
        return math.nan
    return float(inp.y.max() if inp.maximize else inp.y.min())


def importances(method: str, inp: AnalysisInput | None, space: SearchSpace, *,
                groups: list[list[str]] | None = None, n_trees: int = 64, seed: int = 0,
                n_jobs: int | None = None) -> dict[str, float]:
    """Importance of every parameter of ``space`` by ``method`` from the trials of ``inp``.

    Parameters without an estimate get NaN (they rank last); an objective that is constant over
    the trials gives zeros.
    """
    names = space.names
    if inp is None:
        return {n: math.nan for n in names}
    if method == "oat":
        return oat_importance(inp, space)
    if method == "morris":
        return morris_importance(inp, space)
    if method == "sobol":
        return sobol_importance(inp, space)
    if method == "shapley":
        return shapley_importance(inp, space)
    if method == "path":
        return path_importance(inp, space)
    if method == "grid":
        return grid_importance(inp, space, groups or [[n] for n in names])
    return fanova_importance(inp, space, n_trees=n_trees, seed=seed, n_jobs=n_jobs)


def oat_importance(inp: AnalysisInput, space: SearchSpace) -> dict[str, float]:
    """Largest ``|delta|`` of each parameter's one-at-a-time levels vs the baseline."""
    eff = analyze_effects(inp).tables["effects"]
    out = {n: math.nan for n in space.names}
    tiny = _round_off(inp.y)
    moved = eff[~eff["is_baseline"].astype(bool)]
    for n, d in moved.groupby("param")["delta"]:
        v = float(np.nanmax(np.abs(d.to_numpy(float))))
        out[n] = 0.0 if v <= tiny else v
    return out


def _round_off(y: np.ndarray) -> float:
    """Differences of objective values at or below ``1e-12 * max(1, max |y|)`` are floating-point
    round-off, not effects (e.g. ``sin(pi) = 1.2e-16``): they count as zero so they cannot order
    parameters."""
    scale = float(np.nanmax(np.abs(y))) if len(y) else 0.0
    return 1e-12 * max(scale, 1.0)


def morris_importance(inp: AnalysisInput, space: SearchSpace) -> dict[str, float]:
    """Morris ``mu*`` of each parameter (the baseline slot is not part of any trajectory)."""
    morris = analyze_morris(inp).tables.get("morris")
    if morris is None:
        return {n: math.nan for n in space.names}
    mu_star = dict(zip(morris["param"], morris["mu_star"].astype(float)))
    return {n: mu_star.get(n, math.nan) for n in space.names}


def sobol_importance(inp: AnalysisInput, space: SearchSpace) -> dict[str, float]:
    """Total-order Sobol index of each parameter (point estimates: two resamples, no CI needed here)."""
    from hpablate.analysis.importance.sobol import analyze_sobol

    sobol = analyze_sobol(inp, n_resamples=2).tables.get("sobol")
    if sobol is None:
        return {n: math.nan for n in space.names}
    total = sobol[sobol["order"] == "total"]
    st = dict(zip(total["param"], total["index"].astype(float)))
    return {n: st.get(n, math.nan) for n in space.names}


def shapley_importance(inp: AnalysisInput, space: SearchSpace) -> dict[str, float]:
    """``|Shapley value|`` of each component in the game of its baseline choice (NaN: not a player)."""
    from hpablate.analysis.shapley import analyze_shapley

    table = analyze_shapley(inp).tables.get("shapley")
    out = {n: math.nan for n in space.names}
    if table is None or not len(table):
        return out
    first_game = table[table["game"] == table["game"].iloc[0]] if "game" in table else table
    for name, value in zip(first_game["component"], first_game["shapley"].astype(float)):
        out[name] = abs(value)
    return out


def path_importance(inp: AnalysisInput, space: SearchSpace) -> dict[str, float]:
    """``|gain|`` of the path step that flips each parameter (NaN: not a move, or not reached)."""
    from hpablate.analysis.path import analyze_path

    table = analyze_path(inp).tables.get("path")
    out = {n: math.nan for n in space.names}
    if table is None:
        return out
    tiny = _round_off(inp.y)
    for name, gain in zip(table["param"].iloc[1:], table["gain"].iloc[1:].astype(float)):
        out[name] = 0.0 if abs(gain) <= tiny else abs(gain)
    return out


def grid_importance(inp: AnalysisInput, space: SearchSpace, groups: list[list[str]]) -> dict[str, float]:
    """Mean (over the other group members' cells) variance of cell means along each axis."""
    at_base = baseline_masks(inp.params, list(space))
    tiny = _round_off(inp.y) ** 2
    out = {n: math.nan for n in space.names}
    for group in groups:
        sel = np.ones(len(inp.y), dtype=bool)
        for n in space.names:
            if n not in group:  # at its baseline, or absent (its condition fails: it does not exist)
                sel &= at_base[n] | inp.params[n].isna().to_numpy()
        if not sel.any():
            continue
        data = inp.params.loc[sel, group].copy()
        data[_Y] = inp.y[sel]
        for n in group:
            if len(space[n].levels) < 2:
                out[n] = 0.0
                continue
            others = [g for g in group if g != n]
            # a conditional member absent from a cell (its condition does not hold) is a level of its own
            cells = data[others].astype(object).where(data[others].notna(), "(absent)").astype(str)
            data[_CELL] = cells.agg("|".join, axis=1) if others else ""
            var = mean_table(data, n, _CELL, _Y).var(axis=0, ddof=0).to_numpy(float)
            finite = var[np.isfinite(var)]
            v = float(finite.mean()) if finite.size else math.nan
            out[n] = 0.0 if v <= tiny else v
    return out


def _inactive_at_baseline(params: pd.DataFrame, space: SearchSpace) -> pd.DataFrame:
    """Parameters absent from a trial (their condition does not hold) at their baseline value.

    The default-value imputation of inactive hyperparameters that fANOVA uses for conditional
    spaces (Hutter et al., 2014): the forest sees a constant where the parameter does not exist,
    so its variance share is what it adds within its branch. Spaces without baselines keep NaN.
    """
    if not space.conditional or not space.has_baseline:
        return params
    return params.fillna({n: space[n].baseline for n in params.columns if params[n].isna().any()})


def fanova_importance(inp: AnalysisInput, space: SearchSpace, *, n_trees: int = 64, seed: int = 0,
                      n_jobs: int | None = None) -> dict[str, float]:
    """fANOVA marginal (first-order) importance of every parameter."""
    names = space.names
    if len(inp.y) < 2 or np.ptp(inp.y) == 0:
        return {n: 0.0 for n in names}
    t = fanova_importances(_inactive_at_baseline(inp.params[names], space), inp.y, space.to_distributions(), pairwise=False, n_trees=n_trees,
                           seed=seed, n_jobs=n_jobs)
    marginal = t[t["kind"] == "marginal"].set_index("param")["importance"]
    return {n: float(marginal[n]) for n in names}

