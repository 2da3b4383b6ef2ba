"""Configurations of a study's trials: which trials ran the same parameter values, and their labels.

A configuration is one set of parameter values (compared with :func:`hpablate.space.value_key`),
so the replicates of an OAT level, a grid cell or a structural variant form one configuration.
Its label comes from the plan record where there is one (``baseline``, ``lr=0.1``,
``lr=0.1, batch_size=64``), else from the values that differ from the stored baseline, else from
every value (plain Optuna studies).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from hpablate.render._tables import fmt_value
from hpablate.space import SearchSpace, value_key


class Configurations(NamedTuple):
    """Per row the configuration code; per configuration its label, varied names and level text."""

    code: np.ndarray
    label: list[str]
    varied: list[str]
    level: list[str]


def configurations(params: pd.DataFrame, record: pd.DataFrame | None = None,
                   space: SearchSpace | None = None) -> Configurations:
    """Group the rows of ``params`` into configurations (first appearance order) and label them.

    ``record`` (the plan record of the same rows) is only for studies with a plan: a plain trial's
    record reads ``varied = ()``, which would label it the baseline.

    Examples
    --------
    >>> params = pd.DataFrame({"lr": [0.01, 0.1, 0.01, 0.1], "bs": [64, 64, 64, 64]})
    >>> c = configurations(params)
    >>> c.code.tolist(), c.label
    ([0, 1, 0, 1], ['lr=0.01, bs=64', 'lr=0.1, bs=64'])
    """
    names = list(params.columns)
    cols = [params[n].to_numpy(dtype=object) for n in names]
    code, first = _codes(params)
    baseline = _baseline(space)
    label, varied, level = [], [], []
    rec_varied = record["varied"].to_numpy(dtype=object) if record is not None and "varied" in record else None
    rec_level = record["level"].to_numpy(dtype=object) if rec_varied is not None else None
    for i in first:
        v, lv = _from_record(rec_varied[i], rec_level[i]) if rec_varied is not None else (None, None)
        if v is None:
            values = {n: c[i] for n, c in zip(names, cols) if not _missing(c[i])}
            moved = {n: x for n, x in values.items() if n not in baseline or value_key(baseline[n]) != value_key(x)}
            shown = moved if baseline else values
            v, lv = list(shown), [fmt_value(x) for x in shown.values()]
        varied.append(" × ".join(v) if v else "baseline")
        level.append(", ".join(lv))
        label.append("baseline" if not v else ", ".join(f"{n}={x}" for n, x in zip(v, lv)))
    return Configurations(code, _unique(label), varied, level)


def _unique(labels: list[str]) -> list[str]:
    """Labels made unique (values that print alike, e.g. to four digits, get ``#2``, ``#3`` …)."""
    seen: dict[str, int] = {}
    out = []
    for x in labels:
        seen[x] = seen.get(x, 0) + 1
        out.append(x if seen[x] == 1 else f"{x} #{seen[x]}")
    return out


def _codes(params: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per row the code of its configuration (numbered in order of first appearance) and each
    configuration's first row; vectorised per column (numbers factorised as they are, other values
    through :func:`hpablate.space.value_key`, so ``True`` is not ``1``)."""
    if len(params) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    per_column = [np.zeros(len(params), dtype=np.int64)]
    for n in params.columns:
        col = params[n]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            per_column.append(pd.factorize(col.to_numpy())[0])  # NaN: -1
        else:
            per_column.append(pd.factorize(pd.Series([_key(v) for v in col.to_numpy(dtype=object)],
                                                     dtype=object))[0])
    _, first, code = np.unique(np.column_stack(per_column), axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[code.ravel()].astype(np.int64), first[order].astype(np.int64)


def _from_record(varied: Any, level: Any) -> tuple[list[str] | None, list[str] | None]:
    if not isinstance(varied, (list, tuple)):
        return None, None
    varied = [str(v) for v in varied]
    if len(varied) > 1 and isinstance(level, (list, tuple)) and len(level) == len(varied):
        return varied, [fmt_value(x) for x in level]
    if len(varied) > 1:  # e.g. every component switched off at once
        return [" + ".join(varied)], [fmt_value(level)]
    return varied, [fmt_value(level)] * len(varied)


def _baseline(space: SearchSpace | None) -> dict[str, Any]:
    if space is None:
        return {}
    try:
        return dict(space.baseline)
    except Exception:  # noqa: BLE001 - a space without baselines
        return {}


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and v != v)


def _key(v: Any) -> Any:
    return ("missing",) if _missing(v) else value_key(v)
