"""What every analysis reads: one objective's completed trials, built once from :class:`StudyData`.

Besides the completed trials it says which of them belong to the study's plan (the design analyses
use only those: enqueued/foreign, surplus, continuation and other plans' trials are counted, never
mixed in by value) and which plan slots failed, diverged or were pruned instead of completing
(failures are results of the configuration; failures that blame the worker are not).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from hpablate.analysis.load import ATTR_PREFIX, PARAM_PREFIX, StudyData
from hpablate.errors import HpablateError, NoTrialsError
from hpablate.record import (
    BRANCH_ATTR,
    FAIL_REASON_ATTR,
    FOREIGN_ATTR,
    SURPLUS_ATTR,
    SURPLUS_SLOT,
    StudyRecord,
    is_worker_failure,
    read_study_record,
    trial_record_frame,
)
from hpablate.space import SearchSpace

MAXIMIZE = "maximize"
MINIMIZE = "minimize"

#: Why a trial of a plan study is left out of the design analyses, by its :func:`plan_status`.
OFF_PLAN = {
    "foreign": "enqueued or run with other values than planned",
    "surplus": "surplus (found nothing left to run)",
    "no slot": "without a plan slot (e.g. a TPE/random continuation)",
    "other plan": "of another plan or design",
}
#: Columns of :attr:`AnalysisInput.failures` besides the parameters.
FAILURE_COLUMNS = ["number", "slot", "replicate", "status", "reason"]


class ObjectiveIndexError(HpablateError, ValueError):
    """The objective index is not one of the study's objectives."""


@dataclass(frozen=True)
class AnalysisInput:
    """One objective of one study, ready for the analyses (built once by :func:`analysis_input`).

    Attributes
    ----------
    study_name : str
    objective : int
        Index of the analysed objective.
    direction : {"minimize", "maximize"}
        The one direction convention of the analyses.
    params : DataFrame
        Completed trials with a finite objective, one column per parameter (plain names).
    y : ndarray
        The objective of the same rows.
    values : ndarray, shape (n_trials, n_objectives)
        Every objective of the same rows.
    trials : DataFrame
        The same rows of the study's tidy table (``number``, user attributes …).
    record : DataFrame
        The per-trial record of the same rows: ``slot, replicate, seed, design, varied, level,
        trajectory, step`` (missing for trials hpablate did not plan).
    space : SearchSpace or None
        The stored search space (None: a plain Optuna study).
    study_record : StudyRecord
    distributions : dict
        Parameter name to the Optuna distribution the trials recorded.
    counts : dict
        Trials per state, ``total`` and ``used``.
    notes : list of str
        What the reader reported about the data.
    plan_rows : ndarray of bool or None
        Which rows belong to the study's plan (None: the study has no plan record, every row counts).
    off_plan : dict
        Trials (any state) of a plan study left out of the design analyses, by :data:`OFF_PLAN` kind.
    failures : DataFrame
        Plan slots (slot × replicate) that never completed with a finite value but failed, diverged
        or were pruned: one row each, the planned parameters (plain names) and
        :data:`FAILURE_COLUMNS` (``status`` ``failed`` or ``pruned``).
    """

    study_name: str
    objective: int
    direction: str
    params: pd.DataFrame
    y: np.ndarray
    values: np.ndarray
    trials: pd.DataFrame
    record: pd.DataFrame
    space: SearchSpace | None
    study_record: StudyRecord
    distributions: dict[str, Any]
    counts: dict[str, int]
    n_objectives: int = 1
    notes: list[str] = field(default_factory=list)
    plan_rows: np.ndarray | None = None
    off_plan: dict[str, int] = field(default_factory=dict)
    failures: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=FAILURE_COLUMNS))

    @property
    def maximize(self) -> bool:
        """True when the objective is maximised."""
        return self.direction == MAXIMIZE

    @property
    def design(self) -> str | None:
        """The stored design name (None for plain Optuna studies)."""
        return self.study_record.design

    @property
    def names(self) -> list[str]:
        """Parameter names in the order the trials first used them."""
        return list(self.distributions)

    @property
    def analysis_space(self) -> SearchSpace:
        """The stored space, or one built from the trials' distributions (no baselines then)."""
        return self.space if self.space is not None else SearchSpace.from_distributions(self.distributions)

    @property
    def replicate(self) -> np.ndarray | None:
        """The replicate of every row (object array, NA where unknown); None when no row has one."""
        rep = self.record["replicate"]
        return rep.to_numpy(dtype=object) if rep.notna().any() else None

    def plan_only(self) -> AnalysisInput:
        """The same input restricted to the plan's trials (unchanged for a study without a plan).

        Examples
        --------
        >>> import optuna
        >>> from hpablate.analysis.load import load
        >>> study = optuna.create_study()
        >>> dist = {"x": optuna.distributions.FloatDistribution(0, 1)}
        >>> study.add_trial(optuna.trial.create_trial(params={"x": 0.5}, distributions=dist, value=1.0,
        ...                                           user_attrs={"hpablate.slot": 0, "hpablate.replicate": 0}))
        >>> study.add_trial(optuna.trial.create_trial(params={"x": 0.9}, distributions=dist, value=9.0))
        >>> inp = analysis_input(load(study))
        >>> len(inp.y), len(inp.plan_only().y), inp.off_plan
        (2, 1, {'no slot': 1})
        """
        if self.plan_rows is None or self.plan_rows.all():
            return self
        keep = self.plan_rows
        rows = np.flatnonzero(keep)
        return replace(
            self, params=self.params.iloc[rows].reset_index(drop=True), y=self.y[keep], values=self.values[keep],
            trials=self.trials.iloc[rows].reset_index(drop=True), record=self.record.iloc[rows].reset_index(drop=True),
            plan_rows=np.ones(len(rows), dtype=bool),
        )


def analysis_input(data: StudyData, objective: int = 0) -> AnalysisInput:
    """Validate the objective and collect the completed trials of ``data`` once.

    Raises
    ------
    ObjectiveIndexError
        If ``objective`` is not an index of the study's objectives.
    NoTrialsError
        If no trial completed with a finite value of that objective.
    hpablate.errors.RecordError
        If the study's stored record cannot be read.

    Examples
    --------
    >>> import optuna
    >>> from hpablate.analysis.load import load
    >>> study = optuna.create_study(direction="maximize")
    >>> dist = {"x": optuna.distributions.FloatDistribution(0, 1)}
    >>> for i in range(3):
    ...     study.add_trial(optuna.trial.create_trial(params={"x": i / 3}, distributions=dist, value=float(i)))
    >>> inp = analysis_input(load(study))
    >>> inp.direction, inp.y.tolist(), inp.space is None
    ('maximize', [0.0, 1.0, 2.0], True)
    """
    if isinstance(objective, bool) or not isinstance(objective, (int, np.integer)) or not (
        0 <= objective < max(data.n_objectives, 1)
    ):
        raise ObjectiveIndexError(
            f"objective {objective!r} out of range: study {data.name!r} has {data.n_objectives} objective(s)"
        )
    objective = int(objective)
    study_record = read_study_record(data.user_attrs)
    trials = data.trials
    ycol = f"value_{objective}"
    finite = np.isfinite(trials[ycol].to_numpy(dtype=float)) if ycol in trials else np.zeros(len(trials), bool)
    done = (trials["state"] == "COMPLETE").to_numpy() & finite
    counts = {str(k).lower(): int(v) for k, v in trials["state"].value_counts().to_dict().items()}
    counts["total"] = int(len(trials))
    counts["used"] = int(done.sum())
    if not done.any():
        raise NoTrialsError(f"study {data.name!r} has no completed trials with a finite objective {objective} "
                            f"({counts_text(counts)})")
    comp = trials.loc[done].reset_index(drop=True)
    names = list(data.distributions)
    n_obj = max(data.n_objectives, 1)
    full_record = trial_record_frame(lambda key: _column(trials, key), trials.index)
    status = plan_status(trials, full_record, study_record)
    plan_rows = None if status is None else (status[done] == "plan").to_numpy()
    if plan_rows is not None:
        counts["plan"] = int(plan_rows.sum())
    off_plan = {} if status is None else {k: int(v) for k, v in status[status != "plan"].value_counts().items()}
    failures = (pd.DataFrame(columns=[*names, *FAILURE_COLUMNS]) if status is None
                else failed_slots(trials, full_record, status == "plan", ycol, names, study_record.space))
    return AnalysisInput(
        study_name=data.name,
        objective=objective,
        direction=data.directions[objective] if data.directions else MINIMIZE,
        params=pd.DataFrame({n: comp[PARAM_PREFIX + n] for n in names}, index=comp.index),
        y=comp[ycol].to_numpy(dtype=float),
        values=np.column_stack([comp[f"value_{k}"].to_numpy(dtype=float) for k in range(n_obj)]),
        trials=comp,
        record=trial_record_frame(lambda key: _column(comp, key), comp.index),
        space=study_record.space,
        study_record=study_record,
        distributions=dict(data.distributions),
        counts=counts,
        n_objectives=data.n_objectives,
        notes=list(data.notes),
        plan_rows=plan_rows,
        off_plan=off_plan,
        failures=failures,
    )


def plan_status(trials: pd.DataFrame, record: pd.DataFrame, study_record: StudyRecord) -> pd.Series | None:
    """``"plan"`` or the :data:`OFF_PLAN` kind of every trial; None for a study without a plan record.

    A study has a plan when it records its number of slots or any trial records a slot. A trial is
    of the plan when it holds a slot of it (``0 <= slot < n_slots``), is neither foreign nor
    surplus, and its design label is the study's (or ``baseline``).
    """
    slot = record["slot"]
    if study_record.n_slots is None and not slot.notna().any():
        return None
    foreign = _column(trials, FOREIGN_ATTR)
    surplus = _column(trials, SURPLUS_ATTR)
    is_foreign = foreign.notna().to_numpy() if foreign is not None else np.zeros(len(trials), bool)
    is_surplus = (surplus.fillna(False).astype(bool).to_numpy() if surplus is not None
                  else np.zeros(len(trials), bool)) | (slot == SURPLUS_SLOT).fillna(False).to_numpy()
    no_slot = slot.isna().to_numpy()
    other = np.zeros(len(trials), dtype=bool)
    if study_record.n_slots is not None:
        other |= (slot >= study_record.n_slots).fillna(False).to_numpy()
    if study_record.design is not None:
        labels = record["design"].to_numpy(dtype=object)
        other |= np.array([d is not None and d == d and d not in (study_record.design, "baseline") for d in labels],
                          dtype=bool)
    kinds = np.select([is_foreign, is_surplus, no_slot, other], list(OFF_PLAN), "plan")
    return pd.Series(kinds, index=trials.index)


def failed_slots(
    trials: pd.DataFrame,
    record: pd.DataFrame,
    in_plan: pd.Series,
    ycol: str,
    names: list[str],
    space: SearchSpace | None,
) -> pd.DataFrame:
    """One row per plan slot × replicate that failed, diverged or was pruned and never completed.

    A COMPLETE trial with a non-finite value counts as diverged (``failed``). A FAIL trial whose
    reason blames the worker (:func:`hpablate.record.is_worker_failure`) is no result of its
    configuration and is left out. Parameters the failing trial did not record are filled from the
    plan record (varied parameters and level) over the baseline.
    """
    state = trials["state"].to_numpy()
    y = trials[ycol].to_numpy(dtype=float) if ycol in trials else np.full(len(trials), np.nan)
    reason = _column(trials, FAIL_REASON_ATTR)
    reasons = reason.to_numpy(dtype=object) if reason is not None else np.full(len(trials), None, dtype=object)
    key = list(zip(record["slot"].astype("Float64").fillna(-1).to_numpy(),
                   record["replicate"].astype("Float64").fillna(-1).to_numpy()))
    plan = in_plan.to_numpy()
    done = {k for k, p, s, v in zip(key, plan, state, y) if p and s == "COMPLETE" and np.isfinite(v)}
    rows: dict[tuple, dict[str, Any]] = {}
    for i in np.flatnonzero(plan):
        if key[i] in done:
            continue
        if state[i] == "COMPLETE":
            kind, why = "failed", f"objective returned {y[i]}"
        elif state[i] == "FAIL" and not is_worker_failure(reasons[i]):
            kind, why = "failed", str(reasons[i])
        elif state[i] == "PRUNED":
            kind, why = "pruned", "pruned"
        else:
            continue
        if key[i] in rows and rows[key[i]]["status"] == "failed" and kind == "pruned":
            continue
        rows[key[i]] = {**_planned_params(trials.iloc[i], record.iloc[i], names, space),
                        "number": int(trials["number"].iloc[i]), "slot": record["slot"].iloc[i],
                        "replicate": record["replicate"].iloc[i], "status": kind, "reason": why}
    return pd.DataFrame(list(rows.values()), columns=[*names, *FAILURE_COLUMNS])


def _planned_params(trial: pd.Series, rec: pd.Series, names: list[str], space: SearchSpace | None) -> dict[str, Any]:
    planned: dict[str, Any] = {}
    if space is not None:
        try:
            planned = dict(space.baseline)
        except Exception:  # noqa: BLE001 - a space without baselines: only the stored values
            planned = {}
        varied, level = tuple(rec["varied"] or ()), rec["level"]
        if len(varied) == 1:
            planned[varied[0]] = level
        elif isinstance(level, (list, tuple)) and len(level) == len(varied):
            planned.update(zip(varied, level))
        elif level == "bare":
            planned.update({v: space[v].off for v in varied if hasattr(space[v], "off")})
        planned = _active_planned(space, planned, trial.get(ATTR_PREFIX + BRANCH_ATTR))
    out = {}
    inactive = np.nan if space is not None and space.conditional else None  # NaN: absent, None: a value
    for n in names:
        v = trial.get(PARAM_PREFIX + n)
        out[n] = planned.get(n, inactive) if v is None or (isinstance(v, float) and v != v) else v
    return out


def _active_planned(space: SearchSpace, planned: dict[str, Any], branch: Any) -> dict[str, Any]:
    """In a conditional space: the planned values in the trial's branch, absent where inactive."""
    if not space.conditional or len(planned) < len(space):
        return planned
    if isinstance(branch, dict):
        planned = {**planned, **{k: v for k, v in branch.items() if k in planned}}
    return space.active(planned)


def _column(trials: pd.DataFrame, key: str) -> pd.Series | None:
    col = ATTR_PREFIX + key
    return trials[col] if col in trials.columns else None


def counts_text(c: dict[str, int]) -> str:
    """``"12 complete, 1 fail; 12 used"``: trial counts for prose."""
    keys = [k for k in ("complete", "fail", "pruned", "running", "waiting") if c.get(k)]
    plan = f" ({c['plan']} of them plan trials)" if "plan" in c and c["plan"] != c.get("used", 0) else ""
    return ", ".join(f"{c[k]} {k}" for k in keys) + f"; {c.get('used', 0)} used" + plan
