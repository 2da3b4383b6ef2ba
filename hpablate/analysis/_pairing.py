"""Comparisons of two configurations the way the plan ran them: paired by replicate where it can.

Every configuration of one replicate of a plan shares the replicate's seed (common random numbers:
same initialisation, same data order), so the seed-to-seed noise that two configurations share
cancels in their difference. :func:`compare` therefore pairs the trials of two configurations by
replicate (a paired t-test on the per-replicate differences, and for fewer than
:data:`EXACT_BELOW` pairs also the exact sign-flip permutation p-value) and falls back to Welch's
unpaired test only where no pairing exists (fewer than two replicates in common).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from hpablate.analysis._util import welch

#: Below this many pairs the exact sign-flip permutation p-value is computed too (2^n sign patterns).
EXACT_BELOW = 10
PAIRED_T = "paired t"
PAIRED_T_EXACT = "paired t + exact sign-flip"
WELCH_T = "Welch t (unpaired)"
NO_TEST = "none"

#: Keys of the dict :func:`compare` returns (and columns the effect tables carry).
STAT_KEYS = ("diff", "ci_low", "ci_high", "p_value", "t", "df", "se", "cohen_d", "n_pairs", "sd_diff", "p_perm",
             "test")


def replicate_means(y: np.ndarray, replicate: np.ndarray, mask: np.ndarray) -> pd.Series:
    """Mean of ``y`` per replicate over the rows of ``mask`` (rows without a replicate left out)."""
    sel = mask & ~pd.isna(replicate)
    return pd.Series(y[sel]).groupby(np.asarray(replicate[sel], dtype=np.int64)).mean()


def paired_differences(y: np.ndarray, replicate: np.ndarray, treat: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Per-replicate ``mean(treat) - mean(ref)`` over the replicates both sides ran, by replicate."""
    a = replicate_means(y, replicate, treat)
    b = replicate_means(y, replicate, ref)
    common = a.index.intersection(b.index).sort_values()
    return (a.loc[common] - b.loc[common]).to_numpy(dtype=float)


def sign_flip_p(d: np.ndarray) -> float:
    """Exact two-sided sign-flip permutation p-value of ``mean(d) = 0`` (all ``2^n`` sign patterns).

    Under the null hypothesis of a distribution symmetric about zero every sign pattern of the
    differences is equally likely; the p-value is the share of patterns whose ``|mean|`` reaches
    the observed one. With ``n`` pairs it is at least ``2 / 2^n`` (0.25 for 3 pairs).

    Examples
    --------
    >>> sign_flip_p(np.array([1.0, 2.0, 3.0]))
    0.25
    """
    d = np.asarray(d, dtype=float)
    n = len(d)
    if n == 0:
        return math.nan
    signs = np.array(list(itertools.product((1.0, -1.0), repeat=n)))
    means = np.abs(signs @ d) / n
    observed = abs(d.mean())
    return float(np.mean(means >= observed * (1 - 1e-12) - 1e-300))


def paired_t(d: np.ndarray, conf: float = 0.95) -> dict[str, Any]:
    """Paired t statistics of the differences ``d``: mean, t interval, two-sided p, SD of ``d``.

    Equal to ``scipy.stats.ttest_rel`` (tested). NaN where undefined (fewer than two pairs).
    Differences without spread (an objective whose only noise is the seed, which the pair shares,
    or a discrete metric) get the exact sign-flip p-value and no interval (see ``_without_spread``).

    Examples
    --------
    >>> r = paired_t(np.array([0.1, 0.3, 0.2]))
    >>> round(r["diff"], 3), round(r["sd_diff"], 3), r["df"]
    (0.2, 0.1, 2)
    """
    from scipy import stats

    d = np.asarray(d, dtype=float)
    n = len(d)
    out: dict[str, Any] = {"diff": float(d.mean()) if n else math.nan, "ci_low": math.nan, "ci_high": math.nan,
                           "p_value": math.nan, "t": math.nan, "df": n - 1 if n >= 2 else math.nan, "se": math.nan,
                           "n_pairs": n, "sd_diff": math.nan, "p_perm": math.nan}
    if n < 2:
        return out
    sd = float(d.std(ddof=1))
    out["sd_diff"] = sd
    if n < EXACT_BELOW:
        out["p_perm"] = sign_flip_p(d)
    if not sd > 1e-9 * float(np.abs(d).max()):
        return _without_spread(out)
    se = sd / math.sqrt(n)
    t = out["diff"] / se
    q = float(stats.t.ppf(0.5 + conf / 2, n - 1))
    out.update(se=se, t=t, p_value=float(2 * stats.t.sf(abs(t), n - 1)), ci_low=out["diff"] - q * se,
               ci_high=out["diff"] + q * se)
    return out


def _without_spread(out: dict[str, Any]) -> dict[str, Any]:
    """Equal differences in every pair: the t interval is undefined, the exact sign-flip p is not.

    Two equal differences (a discrete metric, one test sample apart) must not read as certainty:
    the p-value is the exact sign-flip one, ``2 / 2**n`` (1 when every difference is zero), which
    needs many pairs to be small, and the interval and standard error stay unknown (NaN), so no
    equivalence is claimed from them either.
    """
    diff = out["diff"]
    same = diff == 0 or not np.isfinite(diff)
    p_exact = 1.0 if same else min(1.0, 2.0 / 2.0 ** out["n_pairs"])
    return {**out, "sd_diff": 0.0, "se": math.nan, "t": math.nan, "p_value": p_exact, "p_perm": p_exact,
            "ci_low": math.nan, "ci_high": math.nan}


def compare(
    y: np.ndarray,
    replicate: np.ndarray | None,
    treat: np.ndarray,
    ref: np.ndarray,
    conf: float = 0.95,
) -> dict[str, Any]:
    """Compare the rows ``treat`` with the rows ``ref`` of ``y``: paired by replicate, or Welch.

    Parameters
    ----------
    y : array
        Objective values.
    replicate : array or None
        Replicate of every row (NaN/NA: unknown); None when nothing pairs the trials.
    treat, ref : bool arrays
        The two configurations' rows.
    conf : float
        Confidence level of the interval.

    Returns
    -------
    dict
        :data:`STAT_KEYS`: ``diff = mean(treat) - mean(ref)`` (paired: mean of the per-replicate
        differences over the common replicates), its ``ci_low``/``ci_high``, two-sided
        ``p_value``, ``t``, ``df``, ``se``, ``cohen_d`` (difference over the pooled SD of the two
        sides), ``n_pairs``, ``sd_diff`` (SD of the paired differences), ``p_perm`` (exact
        sign-flip p, fewer than :data:`EXACT_BELOW` pairs) and ``test``, the name of the test.

    Examples
    --------
    >>> y = np.array([1.0, 2.0, 3.0, 1.5, 2.4, 3.6])
    >>> rep = np.array([0, 1, 2, 0, 1, 2])
    >>> r = compare(y, rep, np.arange(6) >= 3, np.arange(6) < 3)
    >>> r["test"], r["n_pairs"], round(r["diff"], 3)
    ('paired t + exact sign-flip', 3, 0.5)
    """
    y = np.asarray(y, dtype=float)
    a, b = y[treat], y[ref]
    pooled = _pooled_sd(a, b)
    if replicate is not None:
        d = paired_differences(y, np.asarray(replicate, dtype=object), treat, ref)
        if len(d) >= 2:
            out = paired_t(d, conf)
            out["cohen_d"] = out["diff"] / pooled if pooled > 0 else math.nan
            out["test"] = PAIRED_T_EXACT if len(d) < EXACT_BELOW else PAIRED_T
            return out
    w = welch(a, b, conf)
    se = (w["diff"] / w["t"]) if w["t"] not in (0.0,) and np.isfinite(w["t"]) else math.nan
    return {**w, "se": se, "n_pairs": 0, "sd_diff": math.nan, "p_perm": math.nan,
            "test": WELCH_T if np.isfinite(w["p_value"]) else NO_TEST}


def _pooled_sd(a: np.ndarray, b: np.ndarray) -> float:
    n1, n2 = len(a), len(b)
    if n1 < 2 or n2 < 2:
        return math.nan
    return math.sqrt(((n1 - 1) * a.var(ddof=1) + (n2 - 1) * b.var(ddof=1)) / (n1 + n2 - 2))


@dataclass(frozen=True)
class Observations:
    """The plan's completed trials plus its failed/pruned slots, as one set of rows.

    Attributes
    ----------
    params : DataFrame
        Parameter values (plain names).
    y : ndarray
        Objective values; NaN for a failed or pruned slot unless ``failures="worst"`` imputed it.
    replicate : ndarray or None
        Replicate of every row (NA where unknown); None when nothing pairs the trials.
    status : ndarray
        ``"ok"``, ``"failed"`` or ``"pruned"``.
    """

    params: pd.DataFrame
    y: np.ndarray
    replicate: np.ndarray | None
    status: np.ndarray

    @property
    def usable(self) -> np.ndarray:
        """Rows with a finite objective value (completed, or imputed as the worst value)."""
        return np.isfinite(self.y)

    def count(self, mask: np.ndarray, status: str) -> int:
        """How many rows of ``mask`` have ``status``."""
        return int((mask & (self.status == status)).sum())


def observations(
    params: pd.DataFrame,
    y: np.ndarray,
    replicate: np.ndarray | None = None,
    failed: pd.DataFrame | None = None,
    *,
    failures: str = "verdict",
    maximize: bool = False,
) -> Observations:
    """Completed rows and the failed/pruned slots of ``failed`` in one :class:`Observations`.

    With ``failures="worst"`` a failed or pruned slot takes the worst objective value observed
    among the completed rows of its replicate (the smallest when maximising, the largest when
    minimising): a conservative reading in which a configuration that breaks training is as bad
    as the worst run under the same seed.

    Examples
    --------
    >>> obs = observations(pd.DataFrame({"x": [1, 2]}), np.array([0.5, 0.7]), np.array([0, 0]),
    ...                    pd.DataFrame({"x": [3], "replicate": [0], "status": ["failed"]}), failures="worst")
    >>> obs.y.tolist(), obs.status.tolist()
    ([0.5, 0.7, 0.7], ['ok', 'ok', 'failed'])
    """
    y = np.asarray(y, dtype=float)
    status = np.full(len(y), "ok", dtype=object)
    if failed is None or not len(failed):
        return Observations(params.reset_index(drop=True), y, replicate, status)
    extra = failed.reindex(columns=params.columns)
    rep = None
    if replicate is not None or failed["replicate"].notna().any():
        old = replicate if replicate is not None else np.full(len(y), pd.NA, dtype=object)
        rep = np.concatenate([np.asarray(old, dtype=object), failed["replicate"].to_numpy(dtype=object)])
    fill = np.full(len(failed), np.nan)
    if failures == "worst" and len(y):
        fill = _worst(y, replicate, failed["replicate"].to_numpy(dtype=object), maximize)
    return Observations(
        params=pd.concat([params, extra], ignore_index=True),
        y=np.concatenate([y, fill]),
        replicate=rep,
        status=np.concatenate([status, failed["status"].to_numpy(dtype=object)]),
    )


def _worst(y: np.ndarray, replicate: np.ndarray | None, failed_rep: np.ndarray, maximize: bool) -> np.ndarray:
    """The worst value of each failed run's replicate (the study's worst where its replicate ran nothing else).

    Taking the worst *of the same replicate* keeps the pairing: the shared seed component stays in.
    """
    overall = float(np.nanmin(y) if maximize else np.nanmax(y))
    if replicate is None:
        return np.full(len(failed_rep), overall)
    by_rep = pd.Series(y).groupby(pd.Series(replicate, dtype=object).astype(str).to_numpy())
    per = (by_rep.min() if maximize else by_rep.max()).to_dict()
    return np.array([per.get(str(r), overall) for r in failed_rep], dtype=float)
