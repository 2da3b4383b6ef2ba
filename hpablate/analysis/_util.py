"""Helpers shared by the analysis modules: value matching, Welch statistics, per-class metrics."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd

from hpablate.record import PREFIX as RECORD_PREFIX
from hpablate.space import same_value


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def matches(col: pd.Series, value: Any) -> np.ndarray:
    """Boolean mask of the rows of ``col`` whose value equals ``value`` (:func:`hpablate.space.same_value`)."""
    value = _plain(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and pd.api.types.is_numeric_dtype(col) \
            and not pd.api.types.is_bool_dtype(col):
        x = col.to_numpy(dtype=float, na_value=np.nan)
        return np.isclose(x, float(value), rtol=1e-9, atol=0.0) & ~np.isnan(x)
    return np.fromiter((same_value(v, value) for v in col.to_numpy()), dtype=bool, count=len(col))


def welch(a: np.ndarray, b: np.ndarray, conf: float = 0.95) -> dict[str, float]:
    """Welch comparison of ``a`` (treatment) against ``b`` (reference).

    Returns ``diff = mean(a) - mean(b)``, its Welch-Satterthwaite ``ci_low``/``ci_high``,
    two-sided ``p_value``, ``t``, ``df`` and Cohen's ``d`` (pooled SD). NaN where undefined
    (fewer than two values on a side, or zero variance on both sides).
    """
    from scipy import stats

    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    n1, n2 = len(a), len(b)
    m1 = float(a.mean()) if n1 else math.nan
    m2 = float(b.mean()) if n2 else math.nan
    out = {"diff": m1 - m2, "ci_low": math.nan, "ci_high": math.nan, "p_value": math.nan,
           "t": math.nan, "df": math.nan, "cohen_d": math.nan}
    if n1 < 2 or n2 < 2:
        return out
    v1, v2 = float(a.var(ddof=1)), float(b.var(ddof=1))
    se2 = v1 / n1 + v2 / n2
    pooled = ((n1 - 1) * v1 + (n2 - 1) * v2) / (n1 + n2 - 2)
    if pooled > 0:
        out["cohen_d"] = (m1 - m2) / math.sqrt(pooled)
    if se2 <= 0:
        return out
    se = math.sqrt(se2)
    df = se2**2 / ((v1 / n1) ** 2 / (n1 - 1) + (v2 / n2) ** 2 / (n2 - 1))
    t = (m1 - m2) / se
    q = stats.t.ppf(0.5 + conf / 2, df)
    out.update(t=t, df=df, p_value=float(2 * stats.t.sf(abs(t), df)), ci_low=m1 - m2 - q * se,
               ci_high=m1 - m2 + q * se)
    return out


def mean_ci(x: np.ndarray, conf: float = 0.95) -> tuple[float, float, float, float]:
    """Mean, sample SD and the t confidence interval of the mean (NaN when n < 2)."""
    from scipy import stats

    x = np.asarray(x, dtype=float)
    n = len(x)
    if n == 0:
        return math.nan, math.nan, math.nan, math.nan
    m = float(x.mean())
    if n < 2:
        return m, math.nan, math.nan, math.nan
    sd = float(x.std(ddof=1))
    h = stats.t.ppf(0.5 + conf / 2, n - 1) * sd / math.sqrt(n)
    return m, sd, m - h, m + h


_CLASS_RE = re.compile(r"^(?P<metric>.+?)_?class_?(?P<cls>[^_]+)$")


def per_class_metrics(trials: pd.DataFrame, attr_prefix: str = "user_attrs_") -> pd.DataFrame:
    """Per-class metrics recorded as user attributes, one column per (metric, class).

    Recognised: a dict-valued attribute whose name contains ``class`` (e.g. ``per_class_acc``:
    ``{"0": 0.9, …}``) and scalar attributes named ``<metric>_class_<k>`` (``val_acc_class_3``).
    Columns are a MultiIndex ``(metric, class)``; rows align with ``trials``.
    """
    cols: dict[tuple[str, str], pd.Series] = {}
    for c in trials.columns:
        if not c.startswith(attr_prefix):
            continue
        key = c[len(attr_prefix):]
        if key.startswith(RECORD_PREFIX):
            continue
        s = trials[c]
        if "class" in key and s.map(lambda v: isinstance(v, dict)).any():
            expanded = pd.DataFrame([v if isinstance(v, dict) else {} for v in s], index=trials.index)
            for k in expanded.columns:
                vals = pd.to_numeric(expanded[k], errors="coerce")
                if vals.notna().any():
                    cols[(key, str(k))] = vals
            continue
        m = _CLASS_RE.match(key)
        if m and pd.api.types.is_numeric_dtype(s):
            cols[(m.group("metric"), m.group("cls"))] = s.astype(float)
    if not cols:
        return pd.DataFrame(index=trials.index)
    out = pd.DataFrame(cols, index=trials.index)
    out.columns = pd.MultiIndex.from_tuples(list(cols), names=["metric", "class"])
    return out


def p_adjust(p: np.ndarray, method: str) -> np.ndarray:
    """Holm (``"holm"``) or Benjamini-Hochberg (``"bh"``) adjusted p-values.

    Equal to statsmodels' ``multipletests(p, method="holm" | "fdr_bh")[1]`` (tested), without its
    per-call overhead (it matters in the simulations, which run it thousands of times).

    Examples
    --------
    >>> p_adjust(np.array([0.01, 0.04, 0.03]), "holm").round(3).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p, dtype=float)
    m = len(p)
    if m == 0:
        return p.copy()
    if method == "holm":
        order = np.argsort(p, kind="stable")
        adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    elif method == "bh":
        order = np.argsort(p, kind="stable")[::-1]
        adj = np.minimum(1.0, np.minimum.accumulate(p[order] * m / (m - np.arange(m))))
    else:
        raise ValueError(f"unknown method {method!r}: use 'holm' or 'bh'")
    out = np.empty(m)
    out[order] = adj
    return out
