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

    Examples
    --------
    >>> params = pd.DataFrame({"lr": [0.01, 0.1, 0.01, 0.1], "bs": [64, 64, 64, 64]})
    >>> c = configurations(params)
    >>> c.code.tolist(), c.label
    ([0, 1, 0, 1], ['lr=0.01, bs=64', 'lr=0.1, bs=64'])
    """
    names = list(params.columns)
    cols = [params[n].to_numpy(dtype=object) for n in names]
    keys = [tuple(_key(c[i]) for c in cols) for i in range(len(params))]
    code_of: dict[tuple, int] = {}
    code = np.fromiter((code_of.setdefault(k, len(code_of)) for k in keys), dtype=np.int64, count=len(keys))
    first = np.zeros(len(code_of), dtype=np.int64)
    first[code[::-1]] = np.arange(len(code))[::-1]  # the first row of every configuration
    baseline = _baseline(space)
    label, varied, level = [], [], []
    for i in first:
        v, lv = _from_record(record, i) if record is not None else (None, None)
        if v is None:
            values = {n: c[i] for n, c in zip(names, cols) if not _missing(c[i])}
            moved = {n: x for n, x in values.items() if n not in baseline or value_key(baseline[n]) != value_key(x)}
            shown = moved if baseline else values
            v, lv = list(shown), [fmt_value(x) for x in shown.values()]
        varied.append(" × ".join(v) if v else "baseline")
        level.append(", ".join(lv))
        label.append("baseline" if not v else ", ".join(f"{n}={x}" for n, x in zip(v, lv)))
    return Configurations(code, label, varied, level)


def _from_record(record: pd.DataFrame, i: int) -> tuple[list[str] | None, list[str] | None]:
    varied = record["varied"].iloc[i] if "varied" in record else None
    if varied is None or (isinstance(varied, float) and varied != varied):
        return None, None
    varied = [str(v) for v in varied]
    level = record["level"].iloc[i]
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
