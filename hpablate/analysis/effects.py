"""One-at-a-time (OAT) effects against the baseline, with their uncertainty.

OAT effects are **local**: each one is the change of the objective when one parameter moves away
from the baseline while every other stays at its baseline value. They say nothing about
interactions (Ishigami's x3 shows no effect from the centre although its total-order index is
0.24); grid designs (:mod:`hpablate.analysis.interactions`) and Morris screening
(:mod:`hpablate.analysis.importance`) look beyond the baseline.

Only the plan's trials count (:meth:`AnalysisInput.plan_only`). Within the plan, trials are pooled
by parameter *values*, never by design labels: the OAT level ``p = v`` is every plan trial whose
``p`` equals ``v`` and whose other parameters all equal the baseline (an OAT level equal to the
baseline, or a grid cell on the baseline axis, is the baseline slot itself).

Every configuration of one replicate shares its seed, so each level is compared with the baseline
**paired by replicate** (:func:`hpablate.analysis._pairing.compare`); Welch's unpaired test only
where no pairing exists. A level whose replicates failed or diverged is reported with its count of
failed runs and the verdict ``failed`` (:mod:`hpablate.analysis.verdicts`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from hpablate.analysis import _notes
from hpablate.analysis._branches import OatRows, oat_rows
from hpablate.analysis._input import MAXIMIZE, MINIMIZE, AnalysisInput
from hpablate.analysis._pairing import Observations, compare, observations
from hpablate.analysis._result import Result
from hpablate.analysis._util import matches, mean_ci, p_adjust
from hpablate.analysis.verdicts import FAILURE_MODES, Margin, parse_margin, verdict_columns
from hpablate.errors import UsageError
from hpablate.space import Parameter, SearchSpace, value_key

SCOPE = "local: one parameter moved from the baseline, all others at baseline"

COLUMNS = [
    "param", "level", "is_baseline", "branch", "n", "mean", "std", "baseline_n", "baseline_mean", "baseline_std",
    "delta", "ci_low", "ci_high", "p_value", "p_holm", "p_bh", "cohen_d", "improvement", "significant",
    "test", "n_pairs", "sd_diff", "se", "df", "p_perm", "n_failed", "n_pruned", "n_total", "margin", "p_tost",
    "verdict",
]


def analyze_effects(
    inp: AnalysisInput,
    *,
    alpha: float = 0.05,
    margin: float | str | Margin | None = None,
    failures: str = "verdict",
) -> Result:
    """One-at-a-time effects of a study's plan against its stored baseline (:func:`oat_effects`).

    Parameters
    ----------
    inp : AnalysisInput
    alpha : float
        Level of the tests (Holm-corrected for ``significant`` and the better/worse verdicts).
    margin : float or str, optional
        Practical margin δ of the equivalence verdicts (``0.01``, or ``"1%"`` of the baseline mean).
    failures : {"verdict", "worst"}
        A failed replicate makes its level's verdict ``failed``, or counts as the worst value.

    Returns
    -------
    Result
        Table ``effects`` (empty, with a note saying why, for a study without a stored space).
    """
    if inp.space is None:
        return Result({"effects": pd.DataFrame(columns=COLUMNS)}, [_notes.NO_SPACE])
    plan = inp.plan_only()
    effects = oat_effects(plan.params, plan.y, plan.space, direction=plan.direction, alpha=alpha,
                          replicate=plan.replicate, failed=plan.failures, margin=margin, failures=failures)
    return Result({"effects": effects}, _effect_notes(effects, alpha, margin, failures))


def _effect_notes(effects: pd.DataFrame, alpha: float, margin: Any, failures: str) -> list[str]:
    moved = effects[~effects["is_baseline"]]
    if not len(moved):
        return [_notes.NO_OAT_TRIALS]
    if effects.attrs.get("baseline_n", 0) < 2:
        notes = [_notes.ONE_BASELINE]
    else:
        notes = [_notes.oat_local(alpha, len(moved), sorted(set(moved["test"]) - {"none"}))]
    notes.append(_notes.verdict_reading(alpha, parse_margin(margin), failures))
    return notes + _branch_notes(effects)


def _branch_notes(effects: pd.DataFrame) -> list[str]:
    """How children swept in their branch are read, and which branch baselines are too thin to test."""
    refs = effects[effects["is_baseline"] & (effects["branch"] != "")]
    if not len(refs):
        return []
    notes = [_notes.branch_reading({p: b for p, b in zip(refs["param"], refs["branch"])})]
    thin = refs[refs["baseline_n"] < 2]
    notes += [_notes.thin_branch(p, b, int(n)) for p, b, n in zip(thin["param"], thin["branch"], thin["baseline_n"])]
    return notes


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
    replicate: np.ndarray | None = None,
    failed: pd.DataFrame | None = None,
    margin: float | str | Margin | None = None,
    failures: str = "verdict",
) -> pd.DataFrame:
    """One row per parameter × level: mean, delta vs baseline, CI, p (paired or Welch), Holm/BH, verdict.

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
        Confidence level of the delta's interval.
    replicate : array, optional
        Replicate of every row: levels are then compared with the baseline paired by replicate
        (``test`` names the test; Welch where fewer than two replicates pair).
    failed : DataFrame, optional
        Failed/pruned plan slots (:attr:`AnalysisInput.failures`): counted per level.
    margin : float or str, optional
        Practical margin δ for the ``equivalent`` verdict (``"1%"``: of the baseline mean).
    failures : {"verdict", "worst"}
        ``"verdict"``: a level with a failed replicate gets the verdict ``failed``; ``"worst"``:
        failed and pruned replicates take the worst observed value and are tested like the rest.

    Returns
    -------
    DataFrame
        Columns :data:`COLUMNS`; the baseline level of each parameter is included (delta 0, no
        test). ``delta = mean(level) - mean(baseline)`` (paired: mean of the per-replicate
        differences); ``n_failed``/``n_pruned``/``n_total`` count replicates.

    Examples
    --------
    >>> import hpablate as hp
    >>> space = hp.SearchSpace(hp.Float("lr", 1e-4, 0.1, log=True, baseline=0.01, levels=[0.001]))
    >>> df = pd.DataFrame({"lr": [0.01, 0.01, 0.01, 0.001, 0.001, 0.001]})
    >>> t = oat_effects(df, np.array([1.0, 1.1, 0.9, 2.0, 2.1, 1.9]), space)
    >>> t.loc[~t.is_baseline, "delta"].round(6).tolist()
    [1.0]
    """
    if failures not in FAILURE_MODES:
        raise UsageError(f"failures must be one of {FAILURE_MODES}, got {failures!r}")
    margin = parse_margin(margin)
    present = [s for s in space if s.name in params.columns]
    if not present:
        return pd.DataFrame(columns=COLUMNS)
    obs = observations(params, y, replicate, failed, failures=failures, maximize=direction == MAXIMIZE)
    base, oat = _oat_rows(obs.params, space, present)
    sign = 1.0 if direction == MAXIMIZE else -1.0
    rows: list[dict[str, Any]] = []
    for s in present:
        r = oat[s.name]
        levels = _levels(s, obs.params[s.name].to_numpy(), r.moved)
        if not levels:
            continue  # no one-at-a-time level of this parameter: no rows
        ref = r.reference
        rows.append(_row(s.name, s.baseline, True, ref, ref, obs, sign, conf, r.label))
        rows += [_row(s.name, value, False, members, ref, obs, sign, conf, r.label) for value, members in levels]
    out = _sort_levels(pd.DataFrame(rows, columns=COLUMNS), present)
    out = _corrected(out, alpha)
    moved = ~out["is_baseline"]
    if moved.any():
        failed_rows = (out["n_failed"] > 0) & (failures == "verdict")
        v = verdict_columns(out[moved], effect="delta", improvement="improvement", reference="baseline_mean",
                            alpha=alpha, margin=margin, failed=failed_rows[moved])
        out.loc[moved, ["margin", "p_tost"]] = v[["margin", "p_tost"]].to_numpy(float)
        out.loc[moved, "verdict"] = v["verdict"]
    bm, bsd, _, _ = mean_ci(obs.y[base & obs.usable])
    out.attrs.update(scope=SCOPE, baseline_n=int((base & obs.usable).sum()), baseline_mean=bm, baseline_std=bsd)
    return out


def _oat_rows(params: pd.DataFrame, space: SearchSpace, present: Sequence[Parameter]) -> tuple[np.ndarray, dict[str, OatRows]]:
    """The baseline rows and each parameter's reference and moved rows (one pass, no conditions)."""
    if space.conditional:
        return oat_rows(params, space, [s.name for s in present])
    eq = baseline_masks(params, present)
    off = np.zeros(len(params), dtype=int)
    for m in eq.values():
        off += ~m
    base = off == 0
    return base, {s.name: OatRows(base, (off == 1) & ~eq[s.name], {}) for s in present}


def _levels(s: Parameter, col: np.ndarray, sel: np.ndarray) -> list[tuple[Any, np.ndarray]]:
    """``(value, rows)`` of every one-at-a-time level of ``s`` among the rows ``sel``, in level order."""
    groups: dict[Any, list[int]] = {}
    values: dict[Any, Any] = {}
    for i in np.flatnonzero(sel):
        k = value_key(col[i])
        groups.setdefault(k, []).append(i)
        values.setdefault(k, col[i])
    order = {value_key(v): j for j, v in enumerate(s.levels)}
    keys = sorted(groups, key=lambda k: (order.get(k, len(order)), str(k)))
    out = []
    for k in keys:
        mask = np.zeros(len(sel), dtype=bool)
        mask[groups[k]] = True
        out.append((values[k], mask))
    return out


def _corrected(out: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Holm and Benjamini-Hochberg p-values over every tested level; ``significant`` = Holm < alpha."""
    ok = ~out["is_baseline"] & out["p_value"].notna()
    out["p_holm"] = np.nan
    out["p_bh"] = np.nan
    if ok.any():
        out.loc[ok, "p_holm"] = p_adjust(out.loc[ok, "p_value"].to_numpy(float), "holm")
        out.loc[ok, "p_bh"] = p_adjust(out.loc[ok, "p_value"].to_numpy(float), "bh")
    out["significant"] = (out["p_holm"] < alpha).fillna(False).astype(bool)
    return out


def _row(name: str, level: Any, is_base: bool, members: np.ndarray, base: np.ndarray, obs: Observations,
         sign: float, conf: float, branch: str = "") -> dict[str, Any]:
    a = members & obs.usable
    b = base & obs.usable
    m, sd, _, _ = mean_ci(obs.y[a])
    bm, bsd, _, _ = mean_ci(obs.y[b])
    if is_base:
        w = {"diff": 0.0, "ci_low": np.nan, "ci_high": np.nan, "p_value": np.nan, "cohen_d": 0.0, "test": "",
             "n_pairs": 0, "sd_diff": np.nan, "se": np.nan, "df": np.nan, "p_perm": np.nan}
    else:
        w = compare(obs.y, obs.replicate, a, b, conf)
    n_failed, n_pruned = obs.count(members, "failed"), obs.count(members, "pruned")
    return {
        "param": name, "level": level, "is_baseline": is_base, "branch": branch, "n": int(a.sum()), "mean": m, "std": sd,
        "baseline_n": int(b.sum()), "baseline_mean": bm, "baseline_std": bsd, "delta": w["diff"],
        "ci_low": w["ci_low"], "ci_high": w["ci_high"], "p_value": w["p_value"], "p_holm": np.nan,
        "p_bh": np.nan, "cohen_d": w["cohen_d"], "improvement": sign * w["diff"], "significant": False,
        "test": w["test"], "n_pairs": int(w["n_pairs"]), "sd_diff": w["sd_diff"], "se": w["se"], "df": w["df"],
        "p_perm": w["p_perm"], "n_failed": n_failed, "n_pruned": n_pruned,
        "n_total": int(members.sum()), "margin": np.nan, "p_tost": np.nan,
        "verdict": None,
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
