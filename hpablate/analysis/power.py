"""How many seeds are enough: power of the paired comparisons, from their observed variance.

For a paired difference with standard deviation σ (the SD of the per-replicate differences, as
observed), the paired t-test at level α detects a true effect Δ with ``n`` replicates with power

    P(|T| > t_{1-α/2, n-1}),  T ~ noncentral t(n - 1, Δ·√n / σ)

(the normal approximation is n ≈ ((z_{1-α/2} + z_power)·σ/Δ)²; the noncentral t is its small-n
correction). The seeds needed are the smallest ``n`` whose power reaches the target. For an
equivalence margin δ (TOST at α, true effect 0) the power is that of both one-sided tests,
``P(T₋ > t_{1-α}) + P(T₊ < -t_{1-α}) - 1`` with ``T± ~ noncentral t(n - 1, ∓δ·√n/σ)`` (a tight lower
bound). Predictions are checked against simulation in ``benchmarks/statistics_simulation.py``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from hpablate.analysis._result import Result
from hpablate.analysis.verdicts import Margin, parse_margin
from hpablate.errors import UsageError

SEEDS_COLUMNS = [
    "param", "level", "basis", "sd_diff", "seeds_now", "mde_now", "target", "goal", "power_now", "seeds_needed", "alpha",
]
#: The largest replicate count :func:`seeds_for` searches.
MAX_SEEDS = 100_000


def power_paired(n: int, effect: float, sd: float, alpha: float = 0.05) -> float:
    """Power of the two-sided paired t-test with ``n`` pairs against a true mean difference ``effect``.

    Examples
    --------
    >>> round(power_paired(10, 1.0, 1.0), 3)
    0.803
    """
    from scipy import stats

    if n < 2 or not sd >= 0:
        return math.nan
    if sd == 0:  # differences without spread: any true effect is seen exactly
        return 1.0 if effect else alpha
    df = n - 1
    ncp = abs(effect) * math.sqrt(n) / sd
    q = stats.t.ppf(1 - alpha / 2, df)
    power = float(stats.nct.sf(q, df, ncp) + stats.nct.cdf(-q, df, ncp))
    if not np.isfinite(power):  # scipy's noncentral t can fail far in the tail: the normal limit is exact there
        power = float(stats.norm.sf(q - ncp) + stats.norm.cdf(-q - ncp))
    return min(power, 1.0)


def power_tost(n: int, margin: float, sd: float, alpha: float = 0.05, effect: float = 0.0) -> float:
    """Power of the paired TOST equivalence test (margin ±``margin``) when the true difference is ``effect``.

    Examples
    --------
    >>> round(power_tost(20, 1.0, 1.0), 3)
    0.992
    """
    from scipy import stats

    if n < 2 or not sd >= 0:
        return math.nan
    if sd == 0:
        return 1.0 if abs(effect) < margin else 0.0
    df = n - 1
    q = stats.t.ppf(1 - alpha, df)
    root = math.sqrt(n) / sd
    p_low = stats.nct.sf(q, df, (effect + margin) * root)
    p_high = stats.nct.cdf(-q, df, (effect - margin) * root)
    return float(max(0.0, p_low + p_high - 1.0))


def seeds_for(power_at: Any, target: float = 0.8) -> int | None:
    """Smallest ``n >= 2`` with ``power_at(n) >= target`` (power grows with ``n``); None above :data:`MAX_SEEDS`."""
    if not np.isfinite(power_at(2)):
        return None
    if power_at(2) >= target:
        return 2
    hi = 4
    while power_at(hi) < target:
        hi *= 2
        if hi > MAX_SEEDS:
            return None
    lo = hi // 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if power_at(mid) >= target else (mid, hi)
    return hi


def mde_now(n: int, sd: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """The smallest true effect the paired t-test detects with ``n`` pairs at the given power."""
    from scipy.optimize import brentq

    if n < 2 or not sd > 0:
        return math.nan
    hi = sd
    while power_paired(n, hi, sd, alpha) < power:
        hi *= 2
    return float(brentq(lambda e: power_paired(n, e, sd, alpha) - power, 0.0, hi, xtol=1e-12 * sd))


def seeds_table(
    effects: pd.DataFrame,
    *,
    mde: Margin | None = None,
    margin: Margin | None = None,
    power: float = 0.8,
    alpha: float = 0.05,
    name: str = "param",
    level: str = "level",
    reference: str = "baseline_mean",
    family_size: int = 1,
) -> pd.DataFrame:
    """One row per tested effect: SD of the differences, seeds now, effect detectable now, seeds needed.

    Rows compared without pairing (Welch) use ``sd_diff = sqrt(s_a² + s_b²)``, the SD of the
    difference of one run of each side, and say ``basis = "unpaired"``. With ``family_size = m``
    every test is planned at level ``alpha / m`` (column ``alpha``): the first, strictest step of
    Holm's procedure over ``m`` tests, so the planned power holds whatever the other effects are.
    """
    alpha = alpha / max(int(family_size), 1)
    rows = []
    for _, r in effects.iterrows():
        sd, basis = _sd(r)
        n = int(r["n_pairs"]) if basis == "paired" else int(min(r["n"], r.get("baseline_n", r["n"])))
        if not np.isfinite(sd):
            continue
        goal, target, power_at = _goal(r, sd, mde, margin, alpha, reference)
        rows.append({
            name: r[name], level: r[level], "basis": basis, "sd_diff": sd, "seeds_now": n,
            "mde_now": mde_now(n, sd, alpha, power), "target": target, "goal": goal,
            "power_now": power_at(n) if power_at else math.nan,
            "seeds_needed": seeds_for(power_at, power) if power_at else None, "alpha": alpha,
        })
    cols = [name, level, *SEEDS_COLUMNS[2:]]
    return pd.DataFrame(rows, columns=cols)


def _sd(r: pd.Series) -> tuple[float, str]:
    if r.get("n_pairs", 0) >= 2 and np.isfinite(r.get("sd_diff", np.nan)):
        return float(r["sd_diff"]), "paired"
    s_a, s_b = r.get("std", np.nan), r.get("baseline_std", np.nan)
    return (math.hypot(s_a, s_b) if np.isfinite(s_a) and np.isfinite(s_b) else math.nan), "unpaired"


def _goal(r: pd.Series, sd: float, mde: Margin | None, margin: Margin | None, alpha: float,
          reference: str) -> tuple[str, float, Any]:
    ref = float(r.get(reference, np.nan))
    if mde is not None:
        d = mde.absolute(ref)
        return f"detect |effect| = {mde}", d, lambda n: power_paired(n, d, sd, alpha)
    if margin is not None:
        d = margin.absolute(ref)
        return f"show equivalence within ±{margin}", d, lambda n: power_tost(n, d, sd, alpha)
    return "", math.nan, None


def analyze_power(
    effects: pd.DataFrame,
    structural: pd.DataFrame | None = None,
    *,
    mde: float | str | Margin | None = None,
    margin: float | str | Margin | None = None,
    power: float = 0.8,
    alpha: float = 0.05,
    holm: bool = True,
) -> Result:
    """The ``seeds_needed`` table of an analysis's effect tables (OAT effects, then structural).

    With ``holm`` (default) each table's tests are planned at ``alpha / m``, ``m`` the tests of its
    Holm family (the verdicts are Holm-corrected over the same family); else at ``alpha`` each.

    Returns
    -------
    Result
        Table ``seeds_needed`` (:data:`SEEDS_COLUMNS`; structural rows name the component in
        ``param`` and the mode in ``level``).
    """
    if not 0 < power < 1:
        raise UsageError(f"power must be between 0 and 1, got {power!r}")
    mde, margin = parse_margin(mde, "mde"), parse_margin(margin)
    tables = []
    if effects is not None and len(effects):
        tested = effects[~effects["is_baseline"]]
        tables.append(seeds_table(tested, mde=mde, margin=margin, power=power, alpha=alpha,
                                  family_size=_family(tested, holm)))
    if structural is not None and len(structural):
        s = structural.rename(columns={"component": "param", "mode": "level", "contribution": "delta",
                                       "n_reference": "baseline_n", "reference_mean": "baseline_mean"})
        tables.append(seeds_table(s.assign(std=np.nan, baseline_std=np.nan), mde=mde, margin=margin, power=power,
                                  alpha=alpha, family_size=_family(s, holm)))
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=SEEDS_COLUMNS)
    return Result({"seeds_needed": table}, [_reading(alpha, power, mde, margin, holm)] if len(table) else [])


def _family(tested: pd.DataFrame, holm: bool) -> int:
    """Tests in the Holm family of a table's verdicts (the rows with a p-value), 1 without ``holm``."""
    if not holm:
        return 1
    p = tested["p_value"] if "p_value" in tested else pd.Series(np.ones(len(tested)))
    return max(int(np.isfinite(pd.to_numeric(p, errors="coerce")).sum()), 1)


def _reading(alpha: float, power: float, mde: Margin | None, margin: Margin | None, holm: bool) -> str:
    goal = (f"a true effect of {mde}" if mde is not None else
            f"equivalence within ±{margin} (TOST, true effect 0)" if margin is not None else "—")
    level = (f"level {alpha}/m (the first step of Holm over the m tests of the table's family, column alpha: the "
             "power holds whatever the other effects are)" if holm else f"level {alpha} (per comparison, not Holm-corrected)")
    return (f"Seeds needed: replicates for power {power:.0%} at {level} "
            f"to detect {goal}, from the observed SD of the paired differences (noncentral t); mde_now = the "
            f"effect detectable with the seeds run now. The SD is itself estimated from few seeds: treat the "
            "count as a guide and add a replicate or two.")


def seeds_needed(
    report_or_study: Any,
    mde: float | str | None = None,
    *,
    margin: float | str | None = None,
    power: float = 0.8,
    alpha: float = 0.05,
    study_name: str | None = None,
    objective: int = 0,
    holm: bool = True,
) -> pd.DataFrame:
    """Replicates (seeds) each effect needs, from the observed variance of its paired differences.

    Parameters
    ----------
    report_or_study : AnalysisReport, optuna.Study or str
        An analysis report, or a study / storage URL to analyse first (:func:`hpablate.analyze`).
    mde : float or str, optional
        The minimum true effect to detect (objective units, or ``"1%"`` of the reference mean).
    margin : float or str, optional
        Instead of ``mde``: the equivalence margin δ to establish (TOST at true effect 0).
    power, alpha : float
        Target power and level of the two-sided (TOST: one-sided) tests.
    holm : bool, default True
        Plan each test at ``alpha / m`` (``m`` tests in its Holm family, as the verdicts count
        them), so the planned power holds after the Holm correction; False: at ``alpha`` each.

    Returns
    -------
    DataFrame
        One row per effect: ``sd_diff`` (SD of the paired differences), ``seeds_now``, ``mde_now``
        (effect detectable now at this power), ``power_now`` and ``seeds_needed``.

    Examples
    --------
    >>> eff = pd.DataFrame({"param": ["lr"], "level": [0.1], "is_baseline": [False], "n": [5], "n_pairs": [5],
    ...                     "sd_diff": [1.0], "baseline_mean": [10.0], "std": [2.0], "baseline_std": [2.0]})
    >>> seeds_needed(eff, mde=1.0)["seeds_needed"].tolist()
    [10]
    """
    if mde is None and margin is None:
        raise UsageError("seeds_needed needs mde= (an effect to detect) or margin= (an equivalence margin)")
    if isinstance(report_or_study, pd.DataFrame):
        effects, structural = report_or_study, None
    else:
        from hpablate.analysis.report import AnalysisReport

        report = report_or_study
        if not isinstance(report, AnalysisReport):
            from hpablate.analysis import analyze

            report = analyze(report_or_study, study_name, objective, alpha=alpha, ped_anova=False)
        effects, structural = report.effects, report.structural
    return analyze_power(effects, structural, mde=mde, margin=margin, power=power, alpha=alpha,
                         holm=holm).tables["seeds_needed"]
