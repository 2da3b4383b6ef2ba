"""One-at-a-time (OAT) effects against the baseline, with their uncertainty.

OAT effects are **local**: each one is the change of the objective when one parameter moves away
from the baseline while every other stays at its baseline value. They say nothing about
interactions (Ishigami's x3 shows no effect from the centre although its total-order index is
0.24); grid designs (:mod:`hpablate.analysis.interactions`) and Morris screening
(:mod:`hpablate.analysis.importance`) look beyond the baseline.

Trials are pooled by parameter *values*, never by design labels: the OAT level ``p = v`` is every
completed trial whose ``p`` equals ``v`` and whose other parameters all equal the baseline (an OAT
level equal to the baseline, or a grid cell on the baseline axis, is the baseline slot itself).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from hpablate.analysis import _notes
from hpablate.analysis._input import MAXIMIZE, MINIMIZE, AnalysisInput
from hpablate.analysis._result import Result
from hpablate.analysis._util import matches, mean_ci, welch
from hpablate.space import Parameter, SearchSpace, value_key

SCOPE = "local: one parameter moved from the baseline, all others at baseline"

COLUMNS = [
    "param", "level", "is_baseline", "n", "mean", "std", "baseline_n", "baseline_mean", "baseline_std",
    "delta", "ci_low", "ci_high", "p_value", "p_holm", "p_bh", "cohen_d", "improvement", "significant",
]


def analyze_effects(inp: AnalysisInput, *, alpha: float = 0.05) -> Result:
    """One-at-a-time effects of a study against its stored baseline (:func:`oat_effects`).

    Returns
    -------
    Result
        Table ``effects`` (empty, with a note saying why, for a study without a stored space).
    """
    if inp.space is None:
        return Result({"effects": pd.DataFrame(columns=COLUMNS)}, [_notes.NO_SPACE])
    effects = oat_effects(inp.params, inp.y, inp.space, direction=inp.direction, alpha=alpha)
    moved = int((~effects["is_baseline"]).sum())
    if moved == 0:
        note = _notes.NO_OAT_TRIALS
    elif effects.attrs.get("baseline_n", 0) < 2:
        note = _notes.ONE_BASELINE
    else:
        note = _notes.oat_local(alpha, moved)
    return Result({"effects": effects}, [note])


def baseline_masks(params: pd.DataFrame, present: Sequence[Parameter]) -> dict[str, np.ndarray]:
    """For every parameter, which rows hold its baseline value."""
    return {s.name: matches(params[s.name], s.baseline) for s in present if s.name in params.columns}


def oat_effects(
    params: pd.DataFrame,
    y: np.ndarray,
    space: SearchSpace,
    *,
    direction: str = MINIMIZE,
    alpha: float = 0.05,
    conf: float = 0.95,
) -> pd.DataFrame:
    """One row per parameter × level: mean, delta vs baseline, CI, Welch p, Holm/BH, Cohen's d.

    Parameters
    ----------
    params : DataFrame
        Completed trials' parameter values (plain parameter names as columns).
    y : array
        Objective values of the same rows (finite).
    space : SearchSpace
        The stored space (gives the baseline and the order of levels).
    direction : {"minimize", "maximize"}
        Direction of the objective: ``improvement = delta`` when maximising, ``-delta`` otherwise.
    alpha : float
        Level of the ``significant`` flag, applied to the Holm-corrected p-value (family-wise
        over every non-baseline level of the study).
    conf : float
        Confidence level of the delta's Welch interval.

    Returns
    -------
    DataFrame
        Columns :data:`COLUMNS`; the baseline level of each parameter is included (delta 0, no
        test). ``delta = mean(level) - mean(baseline)``.

    Examples
    --------
    >>> import hpablate as hp
    >>> space = hp.SearchSpace(hp.Float("lr", 1e-4, 0.1, log=True, baseline=0.01, levels=[0.001]))
    >>> df = pd.DataFrame({"lr": [0.01, 0.01, 0.01, 0.001, 0.001, 0.001]})
    >>> t = oat_effects(df, np.array([1.0, 1.1, 0.9, 2.0, 2.1, 1.9]), space)
    >>> t.loc[~t.is_baseline, "delta"].round(6).tolist()
    [1.0]
    """
    from statsmodels.stats.multitest import multipletests

    y = np.asarray(y, dtype=float)
    present = [s for s in space if s.name in params.columns]
    eq = baseline_masks(params, present)
    if not present:
        return pd.DataFrame(columns=COLUMNS)
    off = np.zeros(len(params), dtype=int)
    for m in eq.values():
        off += ~m
    base = y[off == 0]
    bm, bsd, _, _ = mean_ci(base)
    rows: list[dict[str, Any]] = []
    sign = 1.0 if direction == MAXIMIZE else -1.0
    for s in present:
        sel = (off == 1) & ~eq[s.name]
        col = params[s.name].to_numpy()
        groups: dict[Any, list[int]] = {}
        values: dict[Any, Any] = {}
        for i in np.flatnonzero(sel):
            k = value_key(col[i])
            groups.setdefault(k, []).append(i)
            values.setdefault(k, col[i])
        order = {value_key(v): j for j, v in enumerate(s.levels)}
        keys = sorted(groups, key=lambda k: (order.get(k, len(order)), str(k)))
        if not keys:
            continue  # no one-at-a-time level of this parameter: no rows
        rows.append(_row(s.name, s.baseline, True, base, base, sign, conf))
        for k in keys:
            rows.append(_row(s.name, values[k], False, y[groups[k]], base, sign, conf))
    out = pd.DataFrame(rows, columns=COLUMNS)
    out = _sort_levels(out, present)
    ok = ~out["is_baseline"] & out["p_value"].notna()
    out["p_holm"] = np.nan
    out["p_bh"] = np.nan
    if ok.any():
        out.loc[ok, "p_holm"] = multipletests(out.loc[ok, "p_value"].to_numpy(float), method="holm")[1]
        out.loc[ok, "p_bh"] = multipletests(out.loc[ok, "p_value"].to_numpy(float), method="fdr_bh")[1]
    out["significant"] = (out["p_holm"] < alpha).fillna(False).astype(bool)
    out.attrs["scope"] = SCOPE
    out.attrs["baseline_n"] = int(len(base))
    out.attrs["baseline_mean"] = bm
    out.attrs["baseline_std"] = bsd
    return out


def _row(name: str, level: Any, is_base: bool, a: np.ndarray, base: np.ndarray, sign: float,
         conf: float) -> dict[str, Any]:
    m, sd, _, _ = mean_ci(a)
    bm, bsd, _, _ = mean_ci(base)
    if is_base:
        w = {"diff": 0.0, "ci_low": np.nan, "ci_high": np.nan, "p_value": np.nan, "cohen_d": 0.0}
    else:
        w = welch(a, base, conf)
    return {
        "param": name, "level": level, "is_baseline": is_base, "n": int(len(a)), "mean": m, "std": sd,
        "baseline_n": int(len(base)), "baseline_mean": bm, "baseline_std": bsd, "delta": w["diff"],
        "ci_low": w["ci_low"], "ci_high": w["ci_high"], "p_value": w["p_value"], "p_holm": np.nan,
        "p_bh": np.nan, "cohen_d": w["cohen_d"], "improvement": sign * w["diff"], "significant": False,
    }


def _sort_levels(out: pd.DataFrame, present: Sequence[Parameter]) -> pd.DataFrame:
    """Order rows by parameter (space order) then numeric level (baseline in its place)."""
    pos = {s.name: i for i, s in enumerate(present)}
    kinds = {s.name: s.kind for s in present}
    levels = {s.name: {value_key(v): j for j, v in enumerate(s.levels)} for s in present}

    def key(r: pd.Series) -> tuple:
        if kinds[r["param"]] in ("float", "int"):
            try:
                return (pos[r["param"]], 0, float(r["level"]))
            except (TypeError, ValueError):
                pass
        return (pos[r["param"]], 1, levels[r["param"]].get(value_key(r["level"]), 1e9))

    if out.empty:
        return out
    order = sorted(range(len(out)), key=lambda i: key(out.iloc[i]))
    return out.iloc[order].reset_index(drop=True)
