"""One study as plain data (:class:`StudyData`), and the pieces every reader of storage shares.

Tidy layout of :attr:`StudyData.trials` (one row per trial, every state)::

    number  state     value_0 … value_{k-1}  params_<name> …  user_attrs_<key> …

``value_i`` is NaN when the trial has no values; ``params_<name>`` holds external values
(floats, ints, category objects) and is missing (NaN/None) for conditional parameters a trial did
not suggest; ``user_attrs_<key>`` holds the decoded JSON of the user attribute.

Intermediate values (``trial.report(value, step)``) are kept apart, long and compact, in
:attr:`StudyData.intermediate` (``number`` int64, ``step`` int64, ``value`` float64): most studies
have none, and a wide trial × step table of a large study would not fit in memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hpablate.errors import StorageError, StudyNotFoundError

PARAM_PREFIX = "params_"
ATTR_PREFIX = "user_attrs_"


@dataclass
class StudyData:
    """One study as plain data: everything the analysis needs, nothing tied to storage.

    Attributes
    ----------
    name : str
        Study name.
    directions : list of str
        ``"minimize"`` / ``"maximize"`` per objective.
    trials : pandas.DataFrame
        Tidy table described in the module docstring.
    distributions : dict
        Parameter name to :class:`optuna.distributions.BaseDistribution` (as the trials recorded).
    user_attrs : dict
        Study user attributes (``hpablate.space``, ``hpablate.design``, ``hpablate.grid_groups``…).
    source : str
        How the data was read (``"sql"``, ``"optuna"``, ``"study"``), for reports.
    notes : list of str
        Anything worth telling the reader about the data (conflicting distributions…).
    metric_names : list of str or None
        Optuna's ``study.metric_names`` (system attribute ``study:metric_names``), when set.
    intermediate : pandas.DataFrame
        The trials' intermediate values, one row per trial and step: ``number``, ``step``,
        ``value`` (empty when no trial reported any).
    """

    name: str
    directions: list[str]
    trials: pd.DataFrame
    distributions: dict[str, Any]
    user_attrs: dict[str, Any] = field(default_factory=dict)
    source: str = "study"
    notes: list[str] = field(default_factory=list)
    metric_names: list[str] | None = None
    intermediate: pd.DataFrame = field(default_factory=lambda: intermediate_frame([], [], []))

    @property
    def param_names(self) -> list[str]:
        """Parameter names in the order they first appear."""
        return list(self.distributions)

    @property
    def n_objectives(self) -> int:
        """Number of objectives of the study."""
        return len(self.directions)

    def params(self) -> pd.DataFrame:
        """The parameter columns renamed to plain parameter names."""
        cols = [PARAM_PREFIX + n for n in self.param_names]
        return self.trials[cols].rename(columns=lambda c: c[len(PARAM_PREFIX):])

    def attr(self, key: str) -> pd.Series | None:
        """The user attribute column ``key`` (without prefix), or None when absent."""
        col = ATTR_PREFIX + key
        return self.trials[col] if col in self.trials.columns else None


def from_frozen_trials(
    name: str,
    directions: list[str],
    trials: Iterable[Any],
    user_attrs: dict[str, Any],
    source: str = "optuna",
) -> StudyData:
    """Build :class:`StudyData` from ``optuna.trial.FrozenTrial`` objects."""
    trials = sorted(trials, key=lambda t: t.number)
    n_obj = max(len(directions), 1)
    df = pd.DataFrame({"number": np.array([t.number for t in trials], dtype=np.int64),
                       "state": [t.state.name for t in trials]})
    vals = np.full((len(trials), n_obj), np.nan)
    for i, t in enumerate(trials):
        if t.values is not None:
            vals[i, : len(t.values)] = t.values
    for k in range(n_obj):
        df[f"value_{k}"] = vals[:, k]
    distributions: dict[str, Any] = {}
    notes: list[str] = []
    for t in trials:
        for pname, dist in t.distributions.items():
            if pname in distributions and distributions[pname] != dist:
                distributions[pname] = widen(distributions[pname], dist, notes, pname)
            else:
                distributions.setdefault(pname, dist)
    for pname in distributions:
        col = pd.Series([t.params.get(pname, np.nan) for t in trials], dtype=object)
        df[PARAM_PREFIX + pname] = col
    keys: dict[str, None] = {}
    for t in trials:
        for k in t.user_attrs:
            keys.setdefault(k, None)
    for k in keys:
        df[ATTR_PREFIX + k] = pd.Series([t.user_attrs.get(k, np.nan) for t in trials], dtype=object)
    data = StudyData(name, list(directions), infer_dtypes(df), distributions, dict(user_attrs), source, notes)
    if any(t.intermediate_values for t in trials):
        rows = [(t.number, s, v) for t in trials for s, v in t.intermediate_values.items()]
        number, step, value = zip(*rows)
        data.intermediate = intermediate_frame(number, step, value)
    return data


def intermediate_frame(number: Any, step: Any, value: Any) -> pd.DataFrame:
    """The compact long table of intermediate values, sorted by trial number and step.

    Examples
    --------
    >>> intermediate_frame([1, 0, 0], [0, 1, 0], [0.5, 0.2, 0.1]).values.tolist()
    [[0.0, 0.0, 0.1], [0.0, 1.0, 0.2], [1.0, 0.0, 0.5]]
    """
    df = pd.DataFrame({"number": np.asarray(number, dtype=np.int64), "step": np.asarray(step, dtype=np.int64),
                       "value": np.asarray(value, dtype=np.float64)})
    return df.sort_values(["number", "step"], kind="stable").reset_index(drop=True)


def infer_dtypes(df: pd.DataFrame) -> pd.DataFrame:
    for c in df.columns:
        if df[c].dtype == object:
            vals = df[c].to_numpy()
            if len(vals) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
                # numbers with NaN for absent entries (no None): a numeric column
                df[c] = pd.to_numeric(df[c])
    return df


def widen(old: Any, new: Any, notes: list[str], name: str) -> Any:
    """Merge two distributions recorded for one parameter name into one that covers both."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    notes.append(f"parameter {name!r} was recorded with different distributions; using their union")
    if isinstance(old, CategoricalDistribution) and isinstance(new, CategoricalDistribution):
        choices = list(old.choices) + [c for c in new.choices if c not in old.choices]
        return CategoricalDistribution(choices)
    if isinstance(old, IntDistribution) and isinstance(new, IntDistribution) and old.log == new.log:
        return IntDistribution(min(old.low, new.low), max(old.high, new.high), log=old.log)
    low = min(getattr(old, "low", 0), getattr(new, "low", 0))
    high = max(getattr(old, "high", 1), getattr(new, "high", 1))
    log = bool(getattr(old, "log", False) and getattr(new, "log", False))
    return FloatDistribution(low, high, log=log)


def loads_json(s: Any) -> Any:
    try:
        return json.loads(s)
    except (TypeError, ValueError):
        return s


def listing_table(table: pd.DataFrame) -> pd.DataFrame:
    return table.drop(columns=["study_id"]).reset_index(drop=True)


def pick_study(table: pd.DataFrame, study_name: str | None) -> Any:
    """Choose the study row from (study_id, name, directions, n_trials, n_complete)."""
    if len(table) == 0:
        raise StorageError("the storage holds no study (empty database)")
    if study_name is None:
        if len(table) > 1:
            names = ", ".join(map(str, table["name"]))
            raise StudyNotFoundError(f"{len(table)} studies in the storage ({names}); name one with --study")
        return table.iloc[0]
    match = table[table["name"] == study_name]
    if len(match) == 0:
        names = ", ".join(map(str, table["name"]))
        raise StudyNotFoundError(f"no study named {study_name!r} (studies: {names})")
    return match.iloc[0]


def one_line(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]
