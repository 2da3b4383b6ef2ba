"""Failure and pruning breakdown: per parameter and level, how many trials completed, failed, were pruned.

In a plan study the levels are the planned configurations (OAT levels, grid cells, structural
variants, the baseline), read from each trial's record, so a failed trial counts where it was
planned even if it failed before suggesting anything. In a plain Optuna study every parameter is
broken down by its values (at most ``max_values`` distinct values) or by quantile bins.

A ``COMPLETE`` trial whose objective is NaN or infinite counts as failed (it diverged). A plan
trial failed by its worker (killed, paused, interrupted; :func:`hpablate.record.is_worker_failure`)
is no result of its configuration: it is counted in ``n_worker_fail`` and left out of the rates.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from hpablate.analysis._configs import configurations
from hpablate.analysis._input import AnalysisInput, plan_status
from hpablate.analysis._result import Result
from hpablate.analysis.load import ATTR_PREFIX, PARAM_PREFIX, StudyData
from hpablate.record import FAIL_REASON_ATTR, is_worker_failure, trial_record_frame
from hpablate.render._tables import fmt_value
from hpablate.space import value_key

COLUMNS = ["param", "level", "n_complete", "n_fail", "n_pruned", "n_total", "failure_rate", "pruned_rate",
           "n_worker_fail"]
NOT_SET = "(not set)"


def analyze_failures(data: StudyData, inp: AnalysisInput, *, bins: int = 5, max_values: int = 10) -> Result:
    """The ``failures`` table of a study (empty when every counted trial completed with a finite value).

    Parameters
    ----------
    data : StudyData
        Every trial, whatever its state.
    inp : AnalysisInput
        The analysed objective (its index names the value that must be finite) and the study record.
    bins, max_values : int
        A plain study's parameter with more than ``max_values`` distinct values is cut into
        ``bins`` quantile bins.

    Returns
    -------
    Result
        Table ``failures`` (:data:`COLUMNS`): ``failure_rate = n_fail / n_total`` and
        ``pruned_rate = n_pruned / n_total``, ``n_total = n_complete + n_fail + n_pruned``.
    """
    trials = data.trials
    state = _states(trials, f"value_{inp.objective}")
    if not np.isin(state, ("fail", "pruned")).any():  # the common case: nothing more to read
        return Result({"failures": pd.DataFrame(columns=COLUMNS)})
    record = trial_record_frame(lambda key: _attr(trials, key), trials.index)
    status = plan_status(trials, record, inp.study_record)
    if status is not None:
        reason = _attr(trials, FAIL_REASON_ATTR)
        reasons = reason.to_numpy(dtype=object) if reason is not None else np.full(len(trials), None, object)
        worker = (state == "fail") & np.array([is_worker_failure(r) for r in reasons], dtype=bool)
        state = np.where(worker, "worker", state)
        keep = (status == "plan").to_numpy()
        table = _plan_breakdown(trials[keep], record[keep], state[keep], data, inp)
    else:
        table = _plain_breakdown(trials, state, data.param_names, bins, max_values)
    if not (table["n_fail"].sum() + table["n_pruned"].sum()):
        return Result({"failures": pd.DataFrame(columns=COLUMNS)})
    return Result({"failures": table}, [_note(table)])


def _states(trials: pd.DataFrame, ycol: str) -> np.ndarray:
    """``complete``, ``fail``, ``pruned`` or ``other`` (running, waiting) per trial; diverged = fail."""
    s = trials["state"].to_numpy(dtype=object)
    y = trials[ycol].to_numpy(dtype=float) if ycol in trials else np.full(len(trials), np.nan)
    out = np.full(len(trials), "other", dtype=object)
    out[s == "COMPLETE"] = "complete"
    out[(s == "COMPLETE") & ~np.isfinite(y)] = "fail"
    out[s == "FAIL"] = "fail"
    out[s == "PRUNED"] = "pruned"
    return out


def _plan_breakdown(trials: pd.DataFrame, record: pd.DataFrame, state: np.ndarray, data: StudyData,
                    inp: AnalysisInput) -> pd.DataFrame:
    """One row per planned configuration, keyed by the record's ``varied`` and ``level``."""
    keys = [(tuple(v) if isinstance(v, (list, tuple)) else (), _level_key(lv))
            for v, lv in zip(record["varied"], record["level"])]
    code_of: dict[Any, int] = {}
    first: list[int] = []
    code = np.empty(len(keys), dtype=np.int64)
    for i, k in enumerate(keys):
        if k not in code_of:
            code_of[k] = len(first)
            first.append(i)
        code[i] = code_of[k]
    params = pd.DataFrame({n: trials[PARAM_PREFIX + n].to_numpy() for n in data.param_names})
    cfg = configurations(params.iloc[first].reset_index(drop=True), record.iloc[first].reset_index(drop=True),
                         inp.space)
    # configurations() groups by values: record keys whose trials ran the same values are one row
    return _count(np.asarray(cfg.code)[code], state, cfg.varied, cfg.level)


def _plain_breakdown(trials: pd.DataFrame, state: np.ndarray, names: list[str], bins: int,
                     max_values: int) -> pd.DataFrame:
    """Per parameter, one row per value (or quantile bin) and one for trials that never set it."""
    parts = []
    for name in names:
        codes, labels = _levels(trials[PARAM_PREFIX + name], bins, max_values)
        code = np.where(codes < 0, len(labels), codes)
        t = _count(code, state, [name] * (len(labels) + 1), [*labels, NOT_SET])
        parts.append(t[t["n_total"] + t["n_worker_fail"] > 0])
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)


def _levels(col: pd.Series, bins: int, max_values: int) -> tuple[np.ndarray, list[str]]:
    """Per trial the code of its value (or of its quantile bin, for a numeric column of more than
    ``max_values`` values; -1: not set) and the labels in level order (numbers and bins increasing,
    other values in order of appearance)."""
    codes = np.full(len(col), -1, dtype=np.int64)
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        x = col.to_numpy(dtype=float)
        ok = ~np.isnan(x)
        values = np.unique(x[ok])
        if len(values) > max_values:
            cut = pd.qcut(x[ok], bins, duplicates="drop")
            codes[ok] = cut.codes
            return codes, [f"[{fmt_value(i.left)}, {fmt_value(i.right)}]" for i in cut.categories]
        codes[ok] = np.searchsorted(values, x[ok])
        integral = pd.api.types.is_integer_dtype(col)
        return codes, [fmt_value(int(v) if integral else float(v)) for v in values]
    raw = col.to_numpy(dtype=object)
    ok = np.array([not (v is None or (isinstance(v, float) and v != v)) for v in raw], dtype=bool)
    keys, first = pd.factorize(pd.Series([value_key(v) for v in raw[ok]], dtype=object))
    codes[ok] = keys
    shown = {k: fmt_value(v) for k, v in zip(keys, raw[ok])}
    return codes, [shown[k] for k in range(len(first))]


def _count(code: np.ndarray, state: np.ndarray, varied: list[str], level: list[str]) -> pd.DataFrame:
    k = len(varied)
    counts = {s: np.bincount(code[state == s], minlength=k) for s in ("complete", "fail", "pruned", "worker")}
    total = counts["complete"] + counts["fail"] + counts["pruned"]
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(total > 0, counts["fail"] / np.maximum(total, 1), np.nan)
        pruned = np.where(total > 0, counts["pruned"] / np.maximum(total, 1), np.nan)
    return pd.DataFrame({
        "param": varied, "level": level, "n_complete": counts["complete"], "n_fail": counts["fail"],
        "n_pruned": counts["pruned"], "n_total": total, "failure_rate": rate, "pruned_rate": pruned,
        "n_worker_fail": counts["worker"],
    }, columns=COLUMNS)


def _level_key(level: Any) -> Any:
    if isinstance(level, (list, tuple)):
        return tuple(_level_key(x) for x in level)
    if level is None or (isinstance(level, float) and level != level):
        return None
    return value_key(level)


def _attr(trials: pd.DataFrame, key: str) -> pd.Series | None:
    col = ATTR_PREFIX + key
    return trials[col] if col in trials.columns else None


def _note(t: pd.DataFrame) -> str:
    worst = t.sort_values("failure_rate", ascending=False).iloc[0]
    return (f"Failures: {int(t['n_fail'].sum())} failed and {int(t['n_pruned'].sum())} pruned trials over "
            f"{len(t)} parameter levels (table 'failures'); the highest failure rate is "
            f"{float(worst['failure_rate']):.0%} at {worst['param']} = {worst['level']}. Diverged objectives "
            "count as failed; trials failed by their worker (killed, paused, interrupted) are not results "
            "and are only counted in n_worker_fail.")
