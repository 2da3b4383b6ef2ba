"""What every analysis reads: one objective's completed trials, built once from :class:`StudyData`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hpablate.analysis.load import ATTR_PREFIX, PARAM_PREFIX, StudyData
from hpablate.errors import HpablateError, NoTrialsError
from hpablate.record import StudyRecord, read_study_record, trial_record_frame
from hpablate.space import SearchSpace

MAXIMIZE = "maximize"
MINIMIZE = "minimize"


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
    )


def _column(trials: pd.DataFrame, key: str) -> pd.Series | None:
    col = ATTR_PREFIX + key
    return trials[col] if col in trials.columns else None


def counts_text(c: dict[str, int]) -> str:
    """``"12 complete, 1 fail; 12 used"``: trial counts for prose."""
    keys = [k for k in ("complete", "fail", "pruned", "running", "waiting") if c.get(k)]
    return ", ".join(f"{c[k]} {k}" for k in keys) + f"; {c.get('used', 0)} used"
