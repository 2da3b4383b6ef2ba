"""Learning curves: per configuration, the mean ± CI of the intermediate values at every step.

Trials report intermediate values with ``trial.report(value, step)`` (an epoch's validation
accuracy, say). Per configuration (an OAT level, a grid cell, a structural variant: see
:mod:`hpablate.analysis._configs`) the completed replicates' values at each step give a mean and a
t confidence interval. The **settling step** is the first step from which on the ranking of the
configurations' means equals their ranking at the last step every configuration reached: training
shorter than that would have ranked the configurations differently.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hpablate.analysis._configs import configurations
from hpablate.analysis._input import AnalysisInput
from hpablate.analysis._result import Result

COLUMNS = ["config", "varied", "level", "step", "n", "mean", "std", "ci_low", "ci_high"]


def analyze_curves(inp: AnalysisInput, intermediate: pd.DataFrame, *, conf: float = 0.95) -> Result:
    """Learning curves of the completed (plan) trials that reported intermediate values.

    Parameters
    ----------
    inp : AnalysisInput
    intermediate : DataFrame
        :attr:`hpablate.analysis.StudyData.intermediate` (``number``, ``step``, ``value``).
    conf : float
        Confidence level of the per-step intervals.

    Returns
    -------
    Result
        Table ``learning_curves`` (:data:`COLUMNS`, empty when no trial reported values); its
        ``attrs["settle_step"]`` is the settling step (None with fewer than two configurations),
        ``attrs["last_step"]`` the step the final ranking is taken at.
    """
    if intermediate.empty:
        return Result({"learning_curves": pd.DataFrame(columns=COLUMNS)})
    plan = inp.plan_only()
    cfg = configurations(plan.params, plan.record if inp.plan_rows is not None else None, plan.space)
    code = pd.Series(cfg.code, index=plan.trials["number"].to_numpy(np.int64))
    iv = intermediate[intermediate["number"].isin(code.index)]
    if iv.empty:
        return Result({"learning_curves": pd.DataFrame(columns=COLUMNS)})
    table = curve_table(code.reindex(iv["number"]).to_numpy(), iv["step"].to_numpy(), iv["value"].to_numpy(), conf)
    table.insert(0, "config", [cfg.label[c] for c in table["code"]])
    table.insert(1, "varied", [cfg.varied[c] for c in table["code"]])
    table.insert(2, "level", [cfg.level[c] for c in table["code"]])
    table = table.drop(columns="code")
    settle, last = settle_step(table, maximize=inp.maximize)
    table.attrs.update(settle_step=settle, last_step=last)
    notes = [] if settle is None else [_settle_note(settle, last, table["config"].nunique())]
    return Result({"learning_curves": table[COLUMNS]}, notes)


def curve_table(code: np.ndarray, step: np.ndarray, value: np.ndarray, conf: float = 0.95) -> pd.DataFrame:
    """Per configuration code and step: ``n``, ``mean``, ``std`` and the t interval of the mean.

    Non-finite values (a diverged epoch) are left out of their step.

    Examples
    --------
    >>> t = curve_table(np.array([0, 0, 1]), np.array([1, 1, 1]), np.array([1.0, 3.0, 5.0]))
    >>> t[["code", "step", "n", "mean"]].values.tolist()
    [[0.0, 1.0, 2.0, 2.0], [1.0, 1.0, 1.0, 5.0]]
    """
    from scipy import stats

    df = pd.DataFrame({"code": code, "step": step, "value": value})
    df = df[np.isfinite(df["value"].to_numpy(float))]
    g = df.groupby(["code", "step"], sort=True)["value"].agg(["count", "mean", "std"]).reset_index()
    g = g.rename(columns={"count": "n"})
    n = g["n"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        q = np.where(n > 1, stats.t.ppf(0.5 + conf / 2, np.maximum(n - 1, 1)), np.nan)
        half = q * g["std"].to_numpy(float) / np.sqrt(n)
    g["ci_low"] = g["mean"] - half
    g["ci_high"] = g["mean"] + half
    return g


def settle_step(table: pd.DataFrame, *, maximize: bool) -> tuple[int | None, int | None]:
    """``(settling step, last common step)`` of a curve table (None, None below two configurations).

    Only steps every configuration reached count. The ranking (best first, ties sharing a rank)
    at the last of them is the final ranking; the settling step is the first step from which on
    every ranking equals it.

    Examples
    --------
    >>> t = pd.DataFrame({"config": ["a", "b"] * 3, "step": [0, 0, 1, 1, 2, 2],
    ...                   "mean": [1.0, 0.0, 0.0, 1.0, 0.2, 0.9]})
    >>> settle_step(t, maximize=True)
    (1, 2)
    """
    wide = table.pivot(index="step", columns="config", values="mean").dropna()
    if wide.shape[1] < 2 or wide.empty:
        return None, None
    from scipy.stats import rankdata

    ranks = rankdata(-wide.to_numpy() if maximize else wide.to_numpy(), method="min", axis=1)
    same = (ranks == ranks[-1]).all(axis=1)
    k = len(same) - 1
    while k > 0 and same[k - 1]:
        k -= 1
    steps = wide.index.to_numpy()
    return int(steps[k]), int(steps[-1])


def _settle_note(settle: int, last: int, n_configs: int) -> str:
    return (f"Learning curves: the ranking of the {n_configs} configurations' mean intermediate values settles "
            f"at step {settle} (of {last}): from step {settle} on it equals the ranking at step {last}, the last "
            "step every configuration reached (completed trials only).")
