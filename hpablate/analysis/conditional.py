"""Conditional parameters of a sampled study: the condition tree, and effects and importances per branch.

A conditional parameter (momentum only under SGD) exists in some trials only. Pooling it with the
trials where it does not exist mixes two questions, so its statistics are computed **within its
branch**: the trials where its parent takes an activating value (:mod:`hpablate.analysis._conditions`
reads the branches from the stored space, or infers them from a plain Optuna study's trials).

* ``conditions``: every parent value with its trial counts (also values no trial took);
* ``branch_effects``: per child and branch, the mean objective per level (quantile bins for
  numbers, every choice for categoricals, counts included) and a one-way ANOVA of the objective on
  those levels within the branch (Holm over every branch test of the study);
* ``branch_importances``: fANOVA on the branch's **active subspace** (the trials of the branch, the
  parameters that exist in all of them, the uniform measure over their ranges; the parent is fixed
  there, so it explains nothing) and PED-ANOVA through Optuna's evaluator on the branch's trials.

The study-wide PED-ANOVA (``importances``) already goes through Optuna 5's conditional evaluator
(Conditional PED-ANOVA, which splits each parameter's trials by regime), so it is kept as it is.
Designed studies (one-at-a-time, grid …) get the ``conditions`` table only: their effects are
computed against branch baselines by :mod:`hpablate.analysis.effects`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from hpablate.analysis import _notes
from hpablate.analysis._branches import absent
from hpablate.analysis._conditions import Condition, condition_table, study_conditions
from hpablate.analysis._input import AnalysisInput
from hpablate.analysis._result import Result
from hpablate.analysis._util import matches, mean_ci, p_adjust
from hpablate.analysis.importance.fanova import FANOVA_MARGINAL, IMPORTANCE_COLUMNS, fanova_importances
from hpablate.analysis.importance.ped_anova import MIN_TRIALS as PED_MIN_TRIALS
from hpablate.analysis.importance.ped_anova import ped_anova_importances
from hpablate.analysis.interactions import bin_column
from hpablate.record import DESIGNS
from hpablate.render import fmt_value

BRANCH_EFFECT_COLUMNS = ["param", "branch", "level", "n", "mean", "std", "ci_low", "ci_high", "n_branch", "F",
                         "p_value", "p_holm", "eta2", "test"]
BRANCH_IMPORTANCE_COLUMNS = ["branch", *IMPORTANCE_COLUMNS]
#: Fewest trials in a branch for a one-way ANOVA / fANOVA within it (PED-ANOVA needs its own 20).
MIN_BRANCH_TRIALS = 10
ONE_WAY = "one-way ANOVA within the branch"


def active_subspace_estimand(branch: str) -> str:
    """The estimand of fANOVA on a branch's active subspace, for the ``estimand`` column."""
    return f"{FANOVA_MARGINAL} within {branch} (uniform over its active subspace)"


def analyze_conditional(
    inp: AnalysisInput, *, n_trees: int = 64, seed: int | None = 0, encoding: str = "hpablate",
    ped_anova: bool = True, alpha: float = 0.05,
) -> Result:
    """The condition tree of a study and, for sampled studies, effects and importances per branch.

    Parameters
    ----------
    inp : AnalysisInput
    n_trees, seed, encoding
        fANOVA settings (:func:`hpablate.analysis.importance.fanova_importances`).
    ped_anova : bool
        Also PED-ANOVA per branch.
    alpha : float
        Level the summary uses for "matters within the branch" (Holm-corrected ANOVA p).

    Returns
    -------
    Result
        Tables ``conditions``, ``branch_effects``, ``branch_importances`` (empty for an
        unconditional study) and notes on thin or empty branches and on the estimands.
    """
    conditions = study_conditions(inp.space, inp.params, inp.distributions)
    if not conditions:
        return Result()
    table = condition_table(conditions, inp.params)
    notes = [_notes.empty_parent_values(table)] if (table["n_parent"] == 0).any() else []
    if inp.design in DESIGNS:
        return Result({"conditions": table}, notes)
    branches = _branches(conditions)
    effects = _with_holm(pd.concat([branch_effects(inp, c, kids) for c, kids in branches] or [_empty_effects()],
                                   ignore_index=True))
    imps = [branch_importances(inp, c, kids, n_trees=n_trees, seed=seed, encoding=encoding, ped_anova=ped_anova)
            for c, kids in branches]
    importances = pd.concat(imps, ignore_index=True) if imps else pd.DataFrame(columns=BRANCH_IMPORTANCE_COLUMNS)
    notes += _branch_notes(inp, branches) + [_notes.ACTIVE_SUBSPACE]
    return Result({"conditions": table, "branch_effects": effects, "branch_importances": importances}, notes)


def _branches(conditions: Sequence[Condition]) -> list[tuple[Condition, list[str]]]:
    """Conditions grouped by branch (parent and values): ``(condition, children)``."""
    out: dict[str, tuple[Condition, list[str]]] = {}
    for c in conditions:
        out.setdefault(c.label, (c, []))[1].append(c.param)
    return list(out.values())


def branch_rows(params: pd.DataFrame, condition: Condition) -> np.ndarray:
    """The trials of a branch: its parent takes one of the condition's values (or the child is present)."""
    if condition.parent is None:
        return ~absent(params[condition.param])
    col = params[condition.parent]
    rows = np.zeros(len(params), dtype=bool)
    for v in condition.values:
        rows |= matches(col, v) & ~absent(col)
    return rows


def branch_effects(inp: AnalysisInput, condition: Condition, children: Sequence[str]) -> pd.DataFrame:
    """Per child of a branch: mean per level within the branch and a one-way ANOVA on the levels.

    Every choice of a categorical child is listed (n = 0 where no trial of the branch took it);
    numbers are cut into quantile bins. ``F``, ``p_value`` and ``eta2`` (SS_levels / SS_total)
    come from ``scipy.stats.f_oneway`` over the levels with trials (NaN with fewer than
    :data:`MIN_BRANCH_TRIALS` trials or fewer than two levels).
    """
    rows = branch_rows(inp.params, condition)
    y = inp.y[rows]
    out = []
    for child in children:
        col = inp.params.loc[rows, child]
        here = ~absent(col)
        levels = _levels(col[here], inp.distributions[child])
        stat = _one_way([y[here][m] for _, m in levels])
        for label, m in levels:
            mean, sd, lo, hi = mean_ci(y[here][m])
            out.append({"param": child, "branch": condition.label, "level": label, "n": int(m.sum()), "mean": mean,
                        "std": sd, "ci_low": lo, "ci_high": hi, "n_branch": int(rows.sum()), **stat})
    return pd.DataFrame(out, columns=BRANCH_EFFECT_COLUMNS)


def _levels(col: pd.Series, dist: Any) -> list[tuple[str, np.ndarray]]:
    """``(label, rows)`` per level: every choice of a categorical, quantile bins of a number."""
    from optuna.distributions import CategoricalDistribution

    if isinstance(dist, CategoricalDistribution):
        return [(fmt_value(c), matches(col, c)) for c in dist.choices]
    if not len(col):
        return []
    binned = bin_column(col.astype(float)).to_numpy()
    order = sorted(set(binned), key=lambda s: _left(s))
    return [(b, binned == b) for b in order]


def _left(label: str) -> float:
    try:
        return float(label.strip("[(").split(",")[0])
    except ValueError:
        return math.inf


def _one_way(groups: list[np.ndarray]) -> dict[str, Any]:
    from scipy import stats

    groups = [g for g in groups if len(g)]
    n = sum(len(g) for g in groups)
    none = {"F": np.nan, "p_value": np.nan, "p_holm": np.nan, "eta2": np.nan, "test": ""}
    if len(groups) < 2 or n < MIN_BRANCH_TRIALS or n <= len(groups):
        return none
    res = stats.f_oneway(*groups)
    allv = np.concatenate(groups)
    ss_total = float(((allv - allv.mean()) ** 2).sum())
    ss_between = float(sum(len(g) * (g.mean() - allv.mean()) ** 2 for g in groups))
    return {"F": float(res.statistic), "p_value": float(res.pvalue), "p_holm": np.nan,
            "eta2": ss_between / ss_total if ss_total > 0 else np.nan, "test": ONE_WAY}


def _with_holm(t: pd.DataFrame) -> pd.DataFrame:
    """Holm over the study's branch tests (one per child and branch, not per level row)."""
    if not len(t):
        return t
    tests = t.drop_duplicates(["param", "branch"])
    tests = tests[tests["p_value"].notna()]
    if len(tests):
        adj = dict(zip(zip(tests["param"], tests["branch"]), p_adjust(tests["p_value"].to_numpy(float), "holm")))
        t["p_holm"] = [adj.get((p, b), np.nan) for p, b in zip(t["param"], t["branch"])]
    return t


def _empty_effects() -> pd.DataFrame:
    return pd.DataFrame(columns=BRANCH_EFFECT_COLUMNS)


def branch_importances(
    inp: AnalysisInput, condition: Condition, children: Sequence[str], *, n_trees: int = 64,
    seed: int | None = 0, encoding: str = "hpablate", ped_anova: bool = True,
) -> pd.DataFrame:
    """fANOVA on a branch's active subspace and PED-ANOVA on its trials (rows with a ``branch`` column).

    The active subspace: the trials of the branch, and the parameters that exist in every one of
    them and vary there (the parent of a one-value branch is fixed: left out).
    """
    rows = branch_rows(inp.params, condition)
    sub = inp.params.loc[rows]
    names = [n for n in inp.names if not absent(sub[n]).any() and sub[n].nunique() > 1]
    y = inp.y[rows]
    parts = []
    if len(y) >= MIN_BRANCH_TRIALS and names and np.ptp(y) > 0:
        f = fanova_importances(sub[names], y, {n: inp.distributions[n] for n in names}, pairwise=False,
                               encoding=encoding, n_trees=n_trees, seed=seed)
        parts.append(f.assign(estimand=active_subspace_estimand(condition.label)))
    if ped_anova and len(y) >= PED_MIN_TRIALS and names:
        parts.append(ped_anova_importances(sub[names], y, {n: inp.distributions[n] for n in names},
                                           direction=inp.direction))
    if not parts:
        return pd.DataFrame(columns=BRANCH_IMPORTANCE_COLUMNS)
    out = pd.concat(parts, ignore_index=True)
    out.insert(0, "branch", condition.label)
    return out[BRANCH_IMPORTANCE_COLUMNS]


def _branch_notes(inp: AnalysisInput, branches: Sequence[tuple[Condition, list[str]]]) -> list[str]:
    notes = []
    for c, kids in branches:
        n = int(branch_rows(inp.params, c).sum())
        if n < PED_MIN_TRIALS:
            notes.append(_notes.thin_sampled_branch(c.label, kids, n, MIN_BRANCH_TRIALS, PED_MIN_TRIALS))
    return notes


__all__ = ["BRANCH_EFFECT_COLUMNS", "BRANCH_IMPORTANCE_COLUMNS", "analyze_conditional", "active_subspace_estimand",
           "branch_effects", "branch_importances", "branch_rows"]
