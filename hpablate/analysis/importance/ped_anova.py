"""PED-ANOVA (Watanabe et al. 2023) through Optuna's evaluator: what do the best trials look like."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from hpablate.analysis import _notes
from hpablate.analysis._input import MINIMIZE, AnalysisInput
from hpablate.analysis._result import Result
from hpablate.record import DESIGNS

PED_ANOVA_ESTIMAND = "Pearson divergence of the top-quantile distribution (PED-ANOVA)"
MIN_TRIALS = 20


def analyze_ped_anova(inp: AnalysisInput, *, target_quantile: float = 0.1) -> Result:
    """PED-ANOVA importances of a study sampled over the space (not of an hpablate plan).

    Returns
    -------
    Result
        Table ``importances`` (absent when not computed, with a note saying why).
    """
    if inp.design in DESIGNS:
        return Result(notes=[_notes.ped_anova_on_plan(inp.design)])
    if len(inp.y) < MIN_TRIALS or not inp.names:
        return Result()
    try:
        table = ped_anova_importances(inp.params, inp.y, inp.distributions, direction=inp.direction,
                                      target_quantile=target_quantile)
    except Exception as exc:  # noqa: BLE001 - the evaluator refuses odd spaces
        return Result(notes=[f"PED-ANOVA not computed: {type(exc).__name__}: {exc}"])
    return Result({"importances": table})


def ped_anova_importances(
    params: pd.DataFrame,
    y: np.ndarray,
    distributions: dict[str, Any],
    *,
    direction: str = MINIMIZE,
    target_quantile: float = 0.1,
) -> pd.DataFrame:
    """PED-ANOVA importances computed by Optuna's ``PedAnovaImportanceEvaluator``.

    The trials are copied into an in-memory Optuna study (the evaluator needs one); missing
    values in ``params`` are conditional parameters the trial did not suggest.

    Returns
    -------
    DataFrame
        Columns ``method, kind, param, param_a, param_b, importance, std, q10, q90, n_trees,
        n_trials, estimand`` (spread columns NaN: the evaluator gives a point value).
    """
    import optuna
    from optuna.importance import PedAnovaImportanceEvaluator
    from optuna.trial import FrozenTrial, TrialState

    y = np.asarray(y, dtype=float)
    names = list(distributions)
    trials = []
    cols = {n: params[n].to_numpy() for n in names}
    sign = 1.0 if direction == MINIMIZE else -1.0
    for k in range(len(y)):
        p, d = {}, {}
        for n in names:
            v = cols[n][k]
            if isinstance(v, float) and math.isnan(v):  # absent (None is a value)
                continue
            p[n] = _py(v)
            d[n] = distributions[n]
        # FrozenTrial directly (not create_trial + add_trials, which validate and deep-copy every
        # trial: 5 s at 10,000 trials); distinct trial ids matter to the evaluator.
        trials.append(FrozenTrial(k, TrialState.COMPLETE, None, None, None, p, d, {}, {}, {}, k,
                                  values=[sign * float(y[k])]))
    evaluator = PedAnovaImportanceEvaluator(target_quantile=target_quantile)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            imp = evaluator.evaluate(_TrialsView(trials))  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001 - private duck-typing failed: use a real study
            study = optuna.create_study(direction="minimize")
            study.add_trials(trials)
            imp = evaluator.evaluate(study)
    rows = [
        {"method": f"PED-ANOVA (Optuna, top {target_quantile:.0%} vs all)", "kind": "marginal", "param": n,
         "param_a": n, "param_b": None, "importance": float(imp.get(n, 0.0)), "std": np.nan, "q10": np.nan,
         "q90": np.nan, "n_trees": 0, "n_trials": len(y), "estimand": PED_ANOVA_ESTIMAND}
        for n in names
    ]
    return pd.DataFrame(rows).sort_values("importance", ascending=False, kind="stable").reset_index(drop=True)


class _TrialsView:
    """The part of ``optuna.Study`` that PED-ANOVA's evaluator reads (single objective, minimise)."""

    def __init__(self, trials: list[Any]) -> None:
        import optuna

        self._trials = trials
        self.directions = [optuna.study.StudyDirection.MINIMIZE]

    def get_trials(self, deepcopy: bool = True, states: Any = None) -> list[Any]:
        return self._trials

    def _is_multi_objective(self) -> bool:
        return False


def _py(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


# --------------------------------------------------------------------------------------------
