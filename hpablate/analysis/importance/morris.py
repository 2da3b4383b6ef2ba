"""Morris elementary effects: mu, mu*, sigma per parameter, with a bootstrap CI of mu*."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from hpablate.analysis import _notes
from hpablate.analysis._branches import absent
from hpablate.analysis._input import AnalysisInput
from hpablate.analysis._result import Result

MORRIS_ESTIMAND = "mean |elementary effect| (screening proxy for total order)"


def analyze_morris(inp: AnalysisInput, *, seed: int | None = 0) -> Result:
    """Morris indices from the trajectories the trial record names (replicate, trajectory, step).

    Returns
    -------
    Result
        Tables ``morris`` (mu, mu*, sigma, CI of mu*) and ``importances`` (mu* rows); nothing for
        a study without Morris trajectories.
    """
    rec = inp.record
    on = rec["trajectory"].notna().to_numpy()
    if not on.any():
        return Result()
    frame = inp.params.loc[on].copy()
    frame["replicate"] = rec.loc[on, "replicate"].fillna(0).astype(int).to_numpy()
    frame["trajectory"] = rec.loc[on, "trajectory"].astype(int).to_numpy()
    frame["step"] = rec.loc[on, "step"].astype(int).to_numpy()
    frame["value"] = inp.y[on]
    space = inp.analysis_space
    unit = {p.name: p.to_unit for p in space if p.name in inp.params.columns}
    ee = morris_elementary_effects(frame, unit)
    if not len(ee):
        return Result()
    morris = morris_indices(ee, list(unit), seed=seed)
    importances = pd.DataFrame({
        "method": "Morris (elementary effects)", "kind": "marginal", "param": morris["param"],
        "param_a": morris["param"], "param_b": None, "importance": morris["mu_star"], "std": morris["sigma"],
        "q10": morris["mu_star_lo"], "q90": morris["mu_star_hi"], "n_trees": 0, "n_trials": int(on.sum()),
        "estimand": MORRIS_ESTIMAND,
    })
    notes = [_notes.MORRIS_READING]
    if any(absent(frame[n]).any() for n in unit):
        notes.append(_notes.MORRIS_CONDITIONAL)
    return Result({"morris": morris, "importances": importances}, notes)


def morris_elementary_effects(
    trials: pd.DataFrame,
    unit: dict[str, Any],
    y_col: str = "value",
    traj_cols: Sequence[str] = ("replicate", "trajectory"),
    step_col: str = "step",
) -> pd.DataFrame:
    """Elementary effects of Morris trajectories.

    Parameters
    ----------
    trials : DataFrame
        Complete trials with the ``traj_cols``, ``step_col`` and ``y_col`` columns and one column
        per parameter (plain names, external values).
    unit : dict
        Parameter name to a function mapping external values to [0, 1] (the space's unit scale).
    y_col, step_col : str
        Objective and step columns.
    traj_cols : sequence of str
        The columns that identify one trajectory. A Morris plan draws new trajectories in every
        replicate and numbers them from 0 in each, so a trajectory is a (replicate, trajectory)
        pair; trials at one (trajectory, step) are averaged (a point run twice).

    Returns
    -------
    DataFrame
        One row per elementary effect: ``trajectory`` (its position among the trajectories),
        ``step, param, delta, ee`` (``ee = (y(step) - y(step-1)) / delta`` in unit scale).

    Notes
    -----
    Conditional spaces: a parameter absent from a point (NaN) has no unit coordinate there. A step
    belongs to the one parameter that exists on both sides and moved; the children that appear or
    disappear with a parent's move do not make it a step of theirs (it is the parent's), and a step
    on which no existing parameter moved (the design moved an inactive child's coordinate) is no
    step at all. So a child's elementary effects are its effects within its branch.

    Examples
    --------
    >>> t = pd.DataFrame({"replicate": [0, 0, 1, 1], "trajectory": [0, 0, 0, 0], "step": [0, 1, 0, 1],
    ...                   "x": [0.0, 0.5, 1.0, 0.5], "value": [1.0, 2.0, 0.0, 1.0]})
    >>> morris_elementary_effects(t, {"x": float})[["trajectory", "param", "ee"]].values.tolist()
    [[0, 'x', 2.0], [1, 'x', -2.0]]
    """
    names = list(unit)
    keys = [*traj_cols, step_col]
    ymean = trials.groupby(keys, sort=True)[y_col].mean()
    # the first trial of each point, NaN kept: groupby().first() would skip an absent value (and None)
    first = trials.drop_duplicates(keys).set_index(keys).sort_index()
    u = pd.DataFrame({n: _unit_column(first[n], unit[n]) for n in names}, index=first.index)
    rows = []
    levels = list(range(len(traj_cols)))
    for t, (_, sub) in enumerate(u.groupby(level=levels, sort=True)):
        steps = sub.index.get_level_values(-1).to_numpy()
        U = sub.to_numpy()
        Y = ymean.loc[sub.index].to_numpy()
        for k in range(1, len(steps)):
            j = _moved_factor(U[k - 1], U[k])
            if j is None:
                continue
            diff = U[k, j] - U[k - 1, j]
            rows.append({"trajectory": t, "step": int(steps[k]), "param": names[j],
                         "delta": float(diff), "ee": float((Y[k] - Y[k - 1]) / diff)})
    return pd.DataFrame(rows, columns=["trajectory", "step", "param", "delta", "ee"])


def _unit_column(values: pd.Series, to_unit: Any) -> list[float]:
    """Unit coordinates of a parameter's values; NaN where the parameter is absent (``None`` is a value)."""
    gone = absent(values)
    return [math.nan if g else float(to_unit(v)) for v, g in zip(values.to_numpy(), gone)]


def _moved_factor(before: np.ndarray, after: np.ndarray) -> int | None:
    """The index of the one parameter present at both points that moved, or None (no one-factor step)."""
    both = ~np.isnan(before) & ~np.isnan(after)
    moved = np.flatnonzero(both & (np.abs(np.where(both, after - before, 0.0)) > 1e-12))
    return int(moved[0]) if len(moved) == 1 else None


def morris_indices(
    ee: pd.DataFrame,
    names: Sequence[str],
    *,
    n_resamples: int = 1000,
    conf_level: float = 0.95,
    seed: int | None = 0,
) -> pd.DataFrame:
    """Morris mu, mu*, sigma per parameter with a bootstrap CI of mu*.

    ``mu_star_conf`` is SALib's half-width (normal quantile × bootstrap standard deviation of
    mu*); ``mu_star_lo``/``mu_star_hi`` the percentile bootstrap interval. ``sigma`` uses
    ``ddof=1`` like SALib.
    """
    from scipy import stats

    rng = np.random.default_rng(seed)
    rows = []
    for n in names:
        e = ee.loc[ee["param"] == n, "ee"].to_numpy()
        r = len(e)
        if r == 0:
            rows.append({"param": n, "n_effects": 0, "mu": np.nan, "mu_star": np.nan, "sigma": np.nan,
                         "mu_star_conf": np.nan, "mu_star_lo": np.nan, "mu_star_hi": np.nan})
            continue
        idx = rng.integers(0, r, size=(n_resamples, r))
        boot = np.abs(e[idx]).mean(axis=1)
        z = stats.norm.ppf(0.5 + conf_level / 2)
        rows.append({
            "param": n, "n_effects": r, "mu": float(e.mean()), "mu_star": float(np.abs(e).mean()),
            "sigma": float(e.std(ddof=1)) if r > 1 else np.nan,
            "mu_star_conf": float(z * boot.std(ddof=1)) if r > 1 else np.nan,
            "mu_star_lo": float(np.quantile(boot, (1 - conf_level) / 2)),
            "mu_star_hi": float(np.quantile(boot, 1 - (1 - conf_level) / 2)),
        })
    out = pd.DataFrame(rows)
    out["estimand"] = MORRIS_ESTIMAND
    return out.sort_values("mu_star", ascending=False, kind="stable").reset_index(drop=True)
