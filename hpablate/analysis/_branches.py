"""Which trials a one-at-a-time effect compares, in a conditional space: the branch baseline.

In a conditional space a parameter that does not exist at the baseline (momentum when the baseline
optimizer is Adam) is swept in its *branch*: its parents switched to activating values
(:meth:`hpablate.space.SearchSpace.activation`). Its effects are measured against the **branch
baseline**, the configuration ``space.active({**baseline, **branch})`` (optimizer=sgd, momentum at
its baseline, everything else at the baseline), with the trials of the same replicate. Switching the
parent itself is the parent's own effect, measured against the global baseline.

Trials are matched by parameter *values*, never by design labels (the branch baseline slot may be
labelled as the parent's level): a trial is a level of ``p`` when its configuration is exactly
``space.active({**reference, p: value})``, parameters that do not exist there being absent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from hpablate.analysis._util import matches
from hpablate.render import fmt_value
from hpablate.space import SearchSpace, value_key


@dataclass(frozen=True)
class OatRows:
    """The rows one parameter's one-at-a-time effects use.

    Attributes
    ----------
    reference : ndarray of bool
        Trials at the parameter's reference configuration (the baseline, or its branch baseline).
    moved : ndarray of bool
        Trials that differ from the reference in this parameter only (its children following it).
    branch : dict
        Parent values switched from the baseline so that the parameter exists (``{}``: none).
    """

    reference: np.ndarray
    moved: np.ndarray
    branch: dict[str, Any]

    @property
    def label(self) -> str:
        """``"optimizer=sgd"`` for a branch, ``""`` at the baseline."""
        return branch_label(self.branch)


def branch_label(branch: Mapping[str, Any]) -> str:
    """The text of a branch: ``"optimizer=sgd"``, parents joined by ``", "``; empty for none.

    Examples
    --------
    >>> branch_label({"optimizer": "sgd", "nesterov": False}), branch_label({})
    ('optimizer=sgd, nesterov=False', '')
    """
    return ", ".join(f"{k}={fmt_value(v)}" for k, v in branch.items())


def absent(col: pd.Series) -> np.ndarray:
    """Rows where a (conditional) parameter was not suggested: NaN, while ``None`` is a value."""
    if col.dtype == object:
        return np.fromiter((isinstance(v, float) and v != v for v in col.to_numpy()), dtype=bool, count=len(col))
    return col.isna().to_numpy()


def oat_rows(params: pd.DataFrame, space: SearchSpace, names: Sequence[str]) -> tuple[np.ndarray, dict[str, OatRows]]:
    """The global baseline rows and, per parameter, its reference and one-at-a-time rows.

    Parameters
    ----------
    params : DataFrame
        Trials' parameter values (plain names; NaN where a conditional parameter is absent).
    space : SearchSpace
        The stored space (baselines and conditions).
    names : sequence of str
        Parameters to find rows for (present in ``params``).

    Returns
    -------
    baseline : ndarray of bool
        Trials at the baseline configuration.
    rows : dict
        :class:`OatRows` by parameter name.

    Examples
    --------
    >>> import hpablate as hp
    >>> space = hp.SearchSpace(
    ...     hp.Categorical("optimizer", ["sgd", "adam"], baseline="adam"),
    ...     hp.Float("momentum", 0.0, 0.9, baseline=0.5, levels=[0.0, 0.5], when={"optimizer": "sgd"}))
    >>> df = pd.DataFrame({"optimizer": ["adam", "sgd", "sgd"], "momentum": [np.nan, 0.5, 0.0]})
    >>> base, rows = oat_rows(df, space, ["optimizer", "momentum"])
    >>> base.tolist(), rows["momentum"].reference.tolist(), rows["momentum"].moved.tolist(), rows["momentum"].label
    ([True, False, False], [False, True, False], [False, False, True], 'optimizer=sgd')
    """
    match = _Matcher(params, [n for n in space.names if n in params.columns])
    base = space.baseline
    baseline_rows = match.config(space.active(base))
    out: dict[str, OatRows] = {}
    for name in names:
        branch = space.activation(name)
        full = {**base, **branch}
        reference = baseline_rows if not branch else match.config(space.active(full))
        out[name] = OatRows(reference, _moved(match, space, name, full), branch)
    return baseline_rows, out


def _moved(match: _Matcher, space: SearchSpace, name: str, full: dict[str, Any]) -> np.ndarray:
    """Rows equal to ``space.active({**full, name: v})`` for some ``v`` other than ``full[name]``."""
    col = match.params[name]
    cand = match.present[name] & ~match.equal(name, full[name])
    if not _has_children(space, name):
        others = {k: v for k, v in space.active(full).items() if k != name}
        return cand & match.config(others, skip=name)
    moved = np.zeros(len(cand), dtype=bool)
    values: dict[Any, Any] = {}
    for i in np.flatnonzero(cand):
        values.setdefault(value_key(col.iloc[i]), col.iloc[i])
    for value in values.values():
        expected = space.active({**full, name: value})
        moved |= cand & match.config(expected)
    return moved


def _has_children(space: SearchSpace, name: str) -> bool:
    return any(parent == name for p in space for parent, _ in p.condition)


class _Matcher:
    """Row masks of "parameter absent" and "parameter equals v", computed once per (parameter, value)."""

    def __init__(self, params: pd.DataFrame, names: list[str]) -> None:
        self.params = params
        self.names = names
        self.present = {n: ~absent(params[n]) for n in names}
        self._equal: dict[tuple[str, Any], np.ndarray] = {}

    def equal(self, name: str, value: Any) -> np.ndarray:
        key = (name, value_key(value))
        if key not in self._equal:
            self._equal[key] = matches(self.params[name], value) & self.present[name]
        return self._equal[key]

    def config(self, expected: Mapping[str, Any], skip: str | None = None) -> np.ndarray:
        """Rows whose parameters are exactly ``expected`` (others absent), ``skip`` not checked."""
        ok = np.ones(len(self.params), dtype=bool)
        for n in self.names:
            if n == skip:
                continue
            ok &= self.equal(n, expected[n]) if n in expected else ~self.present[n]
        return ok
