"""Verdicts: what an effect means in practice, given a margin δ that matters.

A non-significant difference is not evidence of no difference. With a practical margin δ, "removing
X does not hurt" is an *equivalence* claim, tested by TOST (two one-sided tests at level α: the
effect is above −δ and below +δ, i.e. the 1−2α interval lies inside ±δ). Each effect gets

* ``failed``: a replicate of the configuration failed or diverged (a result, not missing data);
* ``equivalent``: TOST rejects both one-sided hypotheses (|effect| < δ) — only with a margin;
* ``better`` / ``worse``: the effect differs from zero (Holm-corrected p < α), in the direction that
  improves / degrades the objective;
* ``inconclusive``: none of the above (more seeds needed: see :mod:`hpablate.analysis.power`).

Equivalence is checked first: a difference that is real but smaller than δ is, in practice, none.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hpablate.errors import UsageError

BETTER, WORSE, EQUIVALENT, INCONCLUSIVE, FAILED = "better", "worse", "equivalent", "inconclusive", "failed"
VERDICTS = (BETTER, WORSE, EQUIVALENT, INCONCLUSIVE, FAILED)
#: What a failed replicate counts as: the verdict ``failed``, or the worst objective value observed.
FAILURE_MODES = ("verdict", "worst")

_MARGIN_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(%?)\s*$")


@dataclass(frozen=True)
class Margin:
    """A practical margin δ: absolute (objective units) or relative to the reference mean.

    Examples
    --------
    >>> round(parse_margin("1%").absolute(0.9), 6)
    0.009
    >>> parse_margin(0.02).absolute(0.9)
    0.02
    """

    value: float
    relative: bool = False

    def absolute(self, reference: float) -> float:
        """δ in objective units for a comparison against ``reference`` (relative: ``value·|reference|``)."""
        return self.value * abs(reference) if self.relative else self.value

    def __str__(self) -> str:
        return f"{self.value * 100:g}%" if self.relative else f"{self.value:g}"


def parse_margin(margin: float | str | Margin | None, name: str = "margin") -> Margin | None:
    """A :class:`Margin` from a number (absolute), ``"0.01"`` or ``"1%"`` (relative); None stays None.

    Raises
    ------
    UsageError
        If the margin is not a positive finite number or percentage.
    """
    if margin is None or isinstance(margin, Margin):
        return margin
    if isinstance(margin, str):
        m = _MARGIN_RE.match(margin)
        if not m:
            raise UsageError(f"{name} {margin!r} is not a number or a percentage like '1%'")
        value, relative = float(m.group(1)), bool(m.group(2))
        value = value / 100 if relative else value
    elif isinstance(margin, (int, float, np.number)) and not isinstance(margin, bool):
        value, relative = float(margin), False
    else:
        raise UsageError(f"{name} must be a number or a percentage like '1%', got {margin!r}")
    if not (math.isfinite(value) and value > 0):
        raise UsageError(f"{name} must be positive, got {margin!r}")
    return Margin(value, relative)


def tost_p(diff: float, se: float, df: float, delta: float) -> float:
    """p-value of the TOST equivalence test of ``|effect| < delta`` (the larger one-sided p).

    Equal to statsmodels' ``ttost_paired`` / ``ttost_ind`` given the same ``se`` and ``df`` (tested).

    Examples
    --------
    >>> round(tost_p(0.0, 0.1, 20, 0.5), 6) < 0.001
    True
    """
    from scipy import stats

    if not (np.isfinite(diff) and np.isfinite(se) and se >= 0 and np.isfinite(df) and df > 0 and delta > 0):
        return math.nan
    if se == 0:  # differences without spread: the effect is known exactly
        return 0.0 if abs(diff) < delta else 1.0
    p_low = stats.t.sf((diff + delta) / se, df)  # H0: effect <= -delta
    p_high = stats.t.cdf((diff - delta) / se, df)  # H0: effect >= +delta
    return float(max(p_low, p_high))


def verdict_columns(
    table: pd.DataFrame,
    *,
    effect: str,
    improvement: str,
    reference: str,
    alpha: float,
    margin: Margin | None,
    failed: pd.Series | None = None,
) -> pd.DataFrame:
    """``margin``, ``p_tost`` and ``verdict`` for every row of an effect table.

    Parameters
    ----------
    table : DataFrame
        Rows with the effect (column ``effect``), ``se``, ``df``, ``significant`` (Holm) and the
        direction-aware ``improvement`` column (positive: better objective).
    reference : str
        Column of the reference mean a relative margin is taken of.
    failed : Series of bool, optional
        Rows whose configuration failed in some replicate (verdict ``failed``).

    Returns
    -------
    DataFrame
        Columns ``margin`` (δ in objective units, NaN without one), ``p_tost`` and ``verdict``.
    """
    delta = (table[reference].abs() * margin.value if margin.relative else pd.Series(margin.value, table.index)) \
        if margin is not None else pd.Series(np.nan, index=table.index)
    p_tost = [tost_p(d, s, f, m) if margin is not None else math.nan
              for d, s, f, m in zip(table[effect], table["se"], table["df"], delta)]
    out = pd.DataFrame({"margin": delta.astype(float), "p_tost": p_tost}, index=table.index)
    out["verdict"] = [
        _verdict(sig, imp, pt, alpha, bool(fl))
        for sig, imp, pt, fl in zip(table["significant"], table[improvement], out["p_tost"],
                                    failed if failed is not None else [False] * len(table))
    ]
    return out


def _verdict(significant: bool, improvement: float, p_tost: float, alpha: float, failed: bool) -> str:
    if failed:
        return FAILED
    if np.isfinite(p_tost) and p_tost < alpha:
        return EQUIVALENT
    if significant and np.isfinite(improvement) and improvement != 0:
        return BETTER if improvement > 0 else WORSE
    return INCONCLUSIVE
