"""The condition tree of a study: which parameter lives under which parent value, with trial counts.

For an hpablate study the conditions are the stored space's ``when=``. For a plain Optuna study
(define-by-run: a parameter is suggested in some trials only) they are **inferred from the trials**:
a parameter absent from some completed trials lives under a categorical parameter ``p`` when, among
the trials, it is present exactly when ``p`` takes one of some values (and never where ``p`` is
absent). A parameter no categorical explains is reported as "present in k of n trials".

Every value of every parent is listed, also values with no trial or under which the child never
appears, so that no branch silently disappears from a table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from hpablate.analysis._branches import absent
from hpablate.render import fmt_value
from hpablate.space import SearchSpace, value_key

#: Columns of the ``conditions`` table.
CONDITION_COLUMNS = ["param", "parent", "parent_value", "lives_here", "n_parent", "n_present", "source"]
FROM_SPACE = "space"
INFERRED = "inferred from trials"
UNEXPLAINED = "inferred: no categorical parent explains it"


@dataclass(frozen=True)
class Condition:
    """A parameter that exists only under some values of a parent.

    Attributes
    ----------
    param : str
    parent : str or None
        None: the parameter is absent from some trials but no categorical parameter explains it.
    values : tuple
        The parent values under which ``param`` exists.
    choices : tuple
        Every value the parent can take (the rows of the table), in order.
    source : str
        :data:`FROM_SPACE`, :data:`INFERRED` or :data:`UNEXPLAINED`.
    """

    param: str
    parent: str | None
    values: tuple[Any, ...]
    choices: tuple[Any, ...]
    source: str

    @property
    def label(self) -> str:
        """``"optimizer=sgd"`` (``"norm∈{batch, layer}"`` for several values; ``"x present"``)."""
        if self.parent is None:
            return f"{self.param} present"
        if len(self.values) == 1:
            return f"{self.parent}={fmt_value(self.values[0])}"
        return f"{self.parent}∈{{{', '.join(fmt_value(v) for v in self.values)}}}"


def space_conditions(space: SearchSpace) -> list[Condition]:
    """The conditions declared by ``when=`` in a space, one per (parameter, parent).

    Examples
    --------
    >>> import hpablate as hp
    >>> space = hp.SearchSpace(hp.Categorical("optimizer", ["sgd", "adam"], baseline="adam"),
    ...                        hp.Float("momentum", 0.0, 0.9, when={"optimizer": "sgd"}))
    >>> [(c.param, c.label, c.choices) for c in space_conditions(space)]
    [('momentum', 'optimizer=sgd', ('sgd', 'adam'))]
    """
    out = []
    for p in space:
        for parent, values in p.condition:
            choices = tuple(getattr(space[parent], "choices", ())) or tuple(values)
            out.append(Condition(p.name, parent, tuple(values), choices, FROM_SPACE))
    return out


def infer_conditions(params: pd.DataFrame, distributions: Mapping[str, Any]) -> list[Condition]:
    """Conditions of a plain Optuna study, read from which trials hold which parameters.

    Parameters
    ----------
    params : DataFrame
        Completed trials, one column per parameter, NaN where a trial did not suggest it.
    distributions : mapping
        Parameter name to Optuna distribution (categoricals are the candidate parents).

    Returns
    -------
    list of Condition
        One per parameter absent from some trials. Among several categoricals that explain a
        parameter the one present in most trials (nearest the root) is its parent.

    Examples
    --------
    >>> from optuna.distributions import CategoricalDistribution, FloatDistribution
    >>> df = pd.DataFrame({"opt": ["sgd", "adam", "sgd"], "momentum": [0.9, np.nan, 0.1]})
    >>> dist = {"opt": CategoricalDistribution(["sgd", "adam", "rmsprop"]), "momentum": FloatDistribution(0, 1)}
    >>> c = infer_conditions(df, dist)[0]
    >>> c.param, c.label, c.choices
    ('momentum', 'opt=sgd', ('sgd', 'adam', 'rmsprop'))
    """
    from optuna.distributions import CategoricalDistribution

    present = {n: ~absent(params[n]) for n in distributions if n in params.columns}
    parents = [n for n in present if isinstance(distributions[n], CategoricalDistribution)]
    out = []
    for child, here in present.items():
        if here.all() or not here.any():
            continue
        found = [c for p in parents if p != child and (c := _explains(params[p], present[p], here)) is not None]
        if not found:
            out.append(Condition(child, None, (), (), UNEXPLAINED))
            continue
        parent, values = max(found, key=lambda f: int(present[f[0]].sum()))
        out.append(Condition(child, parent, values, tuple(distributions[parent].choices), INFERRED))
    return out


def _explains(col: pd.Series, parent_here: np.ndarray, child_here: np.ndarray) -> tuple[str, tuple] | None:
    """``(parent, values)`` when the child is present exactly where the parent takes ``values``."""
    if (child_here & ~parent_here).any():
        return None
    codes, uniques = _codes(col[parent_here])
    with_child = np.bincount(codes, weights=child_here[parent_here], minlength=len(uniques))
    total = np.bincount(codes, minlength=len(uniques))
    if ((with_child > 0) & (with_child < total)).any():
        return None  # a value with and without the child: not this parent
    lives = with_child > 0
    if lives.all() or not lives.any():
        return None  # no split
    return str(col.name), tuple(uniques[k] for k in np.flatnonzero(lives))


def _codes(col: pd.Series) -> tuple[np.ndarray, list[Any]]:
    """Codes of the distinct values by :func:`hpablate.space.value_key` (``1`` and ``True`` differ)."""
    raw, uniques = pd.factorize(col.to_numpy(dtype=object), use_na_sentinel=True)
    keys: dict[Any, int] = {}
    first: list[Any] = []
    remap = np.empty(len(uniques), dtype=np.int64)
    for k, u in enumerate(uniques):
        remap[k] = keys.setdefault(value_key(u), len(first))
        if remap[k] == len(first):
            first.append(u.item() if isinstance(u, np.generic) else u)
    return remap[raw], first


def _value_rows(col: pd.Series, here: np.ndarray) -> dict[Any, np.ndarray]:
    """Rows per distinct value (by ``value_key``) among the rows ``here``."""
    out: dict[Any, np.ndarray] = {}
    idx = np.flatnonzero(here)
    codes, uniques = _codes(col.iloc[idx])
    for k, u in enumerate(uniques):
        rows = np.zeros(len(col), dtype=bool)
        rows[idx[codes == k]] = True
        out[value_key(u)] = rows
    return out


def condition_table(conditions: Sequence[Condition], params: pd.DataFrame) -> pd.DataFrame:
    """One row per condition × parent value, every value of the parent listed, with trial counts.

    Columns :data:`CONDITION_COLUMNS`: ``lives_here`` (the parameter exists under this value; None
    when the data cannot tell: no trial took the value), ``n_parent`` (trials where the parent takes
    the value), ``n_present`` (of those, trials holding the parameter).
    """
    rows = []
    for c in conditions:
        here = ~absent(params[c.param]) if c.param in params.columns else np.zeros(len(params), bool)
        if c.parent is None:
            rows.append({"param": c.param, "parent": None, "parent_value": None, "lives_here": None,
                         "n_parent": len(params), "n_present": int(here.sum()), "source": c.source})
            continue
        col = params[c.parent] if c.parent in params.columns else pd.Series([np.nan] * len(params))
        by_value = _value_rows(col, ~absent(col))
        none = np.zeros(len(params), dtype=bool)
        for value in c.choices:
            at = by_value.get(value_key(value), none)
            lives = any(value_key(value) == value_key(v) for v in c.values)
            known = c.source == FROM_SPACE or at.any()
            rows.append({"param": c.param, "parent": c.parent, "parent_value": value,
                         "lives_here": lives if known else None, "n_parent": int(at.sum()),
                         "n_present": int((at & here).sum()), "source": c.source})
    return pd.DataFrame(rows, columns=CONDITION_COLUMNS)


def condition_tree(table: pd.DataFrame) -> list[str]:
    """The condition tree as text lines: every parent value, its trials and the parameters living there.

    Parameters
    ----------
    table : DataFrame
        :func:`condition_table` output.

    Examples
    --------
    >>> import hpablate as hp
    >>> space = hp.SearchSpace(hp.Categorical("optimizer", ["sgd", "adam"], baseline="adam"),
    ...                        hp.Float("momentum", 0.0, 0.9, when={"optimizer": "sgd"}),
    ...                        hp.Float("beta1", 0.8, 0.99, when={"optimizer": "adam"}))
    >>> df = pd.DataFrame({"optimizer": ["sgd", "adam", "adam"], "momentum": [0.5, np.nan, np.nan],
    ...                    "beta1": [np.nan, 0.9, 0.8]})
    >>> print("\\n".join(condition_tree(condition_table(space_conditions(space), df))))
    optimizer = sgd (1 trials): momentum
    optimizer = adam (2 trials): beta1
    """
    if table is None or not len(table):
        return []
    slots: dict[str, dict[Any, tuple[Any, int, list[str]]]] = {}
    for r in table[table["parent"].notna()].itertuples(index=False):
        value, n, kids = slots.setdefault(r.parent, {}).setdefault(value_key(r.parent_value), (r.parent_value, 0, []))
        if r.lives_here is None:
            kids.append(f"{r.param}?")  # no trial took the value: the data cannot tell
        elif r.lives_here:
            kids.append(r.param)
        slots[r.parent][value_key(r.parent_value)] = (value, int(r.n_parent), kids)
    children = set(table.loc[table["parent"].notna(), "param"])
    lines: list[str] = []

    def walk(parent: str, depth: int) -> None:
        for value, n, kids in slots[parent].values():
            lines.append("  " * depth + f"{parent} = {fmt_value(value)} ({n} trials): {', '.join(kids) or '(nothing)'}")
            for kid in kids:
                if kid in slots:
                    walk(kid, depth + 1)

    for parent in slots:
        if parent not in children:
            walk(parent, 0)
    lines += [f"{r.param}: present in {r.n_present} of {r.n_parent} trials ({r.source})"
              for r in table[table["parent"].isna()].itertuples(index=False)]
    return lines


def study_conditions(space: SearchSpace | None, params: pd.DataFrame, distributions: Mapping[str, Any]) -> list[Condition]:
    """The stored space's conditions, or those inferred from the trials of a plain study."""
    if space is not None and (space.conditional or not _any_absent(params)):
        return space_conditions(space)
    return infer_conditions(params, distributions)


def _any_absent(params: pd.DataFrame) -> bool:
    # isna() also flags None (a value): only the flagged columns are checked for NaN (absence)
    flagged = params.columns[params.isna().any().to_numpy()]
    return any(absent(params[n]).any() for n in flagged)


__all__ = ["CONDITION_COLUMNS", "Condition", "condition_table", "condition_tree", "infer_conditions",
           "space_conditions", "study_conditions"]
