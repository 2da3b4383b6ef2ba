"""Agreement between an estimated importance ranking and a reference: Kendall tau, top-k."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's tau-b between two score vectors (ties handled as in ``scipy.stats.kendalltau``).

    ``tau_b = (C - D) / sqrt((n0 - n1) (n0 - n2))`` with ``C``/``D`` the concordant/discordant
    pairs, ``n0 = n (n - 1) / 2`` and ``n1``/``n2`` the pairs tied in ``x``/``y``. NaN when either
    vector is constant or has fewer than two entries, or holds a NaN.

    Examples
    --------
    >>> kendall_tau([1, 2, 3], [1, 3, 2])
    0.3333333333333333
    """
    a = np.asarray(x, dtype=float)
    b = np.asarray(y, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"x and y must have the same length, got {a.shape} and {b.shape}")
    if a.size < 2 or np.isnan(a).any() or np.isnan(b).any():
        return math.nan
    i, j = np.triu_indices(a.size, k=1)
    da = np.sign(a[i] - a[j])
    db = np.sign(b[i] - b[j])
    n0 = a.size * (a.size - 1) / 2
    n1 = float(np.sum(da == 0))
    n2 = float(np.sum(db == 0))
    denom = math.sqrt((n0 - n1) * (n0 - n2))
    if denom == 0:
        return math.nan
    return float(np.sum(da * db) / denom)


def important_count(reference: Mapping[str, float] | pd.Series, min_share: float = 1e-12) -> int:
    """How many parameters are "truly important": the cut at the largest ratio between
    consecutive sorted reference values.

    Values at or below ``min_share`` of the largest count as zero (infinite ratio: every
    non-zero parameter is important). For the G-function's total-order indices
    ``(0.787, 0.242, 0.034, 0.0105, 0.0001 × 4)`` the largest ratio (100) is after ``x4``: k = 4;
    for Ishigami's first-order indices ``(0.44, 0.31, 0)``: k = 2.

    Examples
    --------
    >>> important_count({"a": 0.5, "b": 0.4, "c": 0.0})
    2
    """
    v = np.sort(np.abs(np.asarray(list(dict(reference).values()), dtype=float)))[::-1]
    v = v[np.isfinite(v)]
    if v.size == 0 or v[0] <= 0:
        return 0
    if v.size == 1:
        return 1
    zero = v <= min_share * v[0]
    if zero.any():
        return int(np.argmax(zero))
    ratios = v[:-1] / v[1:]
    return int(np.argmax(ratios)) + 1


def top_k_agreement(estimate: Mapping[str, float], reference: Mapping[str, float], k: int) -> float:
    """Fraction of the reference's top-``k`` parameters among the estimate's top ``k``.

    Ties in the estimate are broken *against* the reference (a truly important parameter tied
    with an unimportant one ranks below it), so an estimate that cannot tell them apart (e.g.
    several zero one-at-a-time effects) does not get credit by the order of the names.
    ``1.0`` means every truly important parameter ranks strictly above every other one.
    """
    names = list(reference)
    if k <= 0 or k >= len(names):
        return math.nan if k <= 0 else 1.0
    ref_top = set(reference_top(reference, k))
    est = {n: _score(estimate.get(n)) for n in names}
    order = sorted(names, key=lambda n: (-est[n], n in ref_top, n))
    return len(ref_top & set(order[:k])) / k


def reference_top(reference: Mapping[str, float], k: int) -> list[str]:
    """The ``k`` names with the largest reference values (ties by name)."""
    return sorted(reference, key=lambda n: (-_score(reference[n]), n))[:k]


def ranking(scores: Mapping[str, float]) -> list[str]:
    """Names from most to least important (ties by name; NaN last)."""
    return sorted(scores, key=lambda n: (-_score(scores[n]), n))


def ranking_text(scores: Mapping[str, float]) -> str:
    """``"a > b = c > d"``: the ranking with ties shown (NaN scores last)."""
    order = ranking(scores)
    if not order:
        return ""
    out = order[0]
    for prev, n in zip(order, order[1:]):
        out += (" = " if _score(scores[prev]) == _score(scores[n]) else " > ") + n
    return out


def _score(v: float | None) -> float:
    if v is None:
        return -math.inf
    v = float(v)
    return -math.inf if math.isnan(v) else v
