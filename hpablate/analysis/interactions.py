"""Interaction tables and two-way ANOVA.

* For every grid group of an hpablate grid design: the table of mean objective per cell (a pandas
  pivot, rows = first parameter, columns = second) and a two-way ANOVA with interaction term
  (statsmodels ``ols`` + ``anova_lm``, type II sums of squares) with F, p and partial eta² for each
  main effect and the interaction. Only the plan's trials with every parameter outside the group
  at its baseline are used (pooled by values). Every configuration of a replicate shares its seed,
  so the replicate enters the model as a block (``+ C(replicate)``): the seed-to-seed noise the
  cells share leaves the residual.
* Every ANOVA row carries ``min_cell_n``, the fewest trials in a cell of its pair, and the mean
  tables come with count tables (group ``interaction_counts``): a term whose cells hold fewer
  than :data:`hpablate.analysis._notes.MIN_CELL_TRIALS` trials is never headlined.
* For studies without a grid design (plain Optuna samplers): marginal tables per parameter and
  pairwise tables of means binned from the trials (numeric parameters in quantile bins), and the
  same type II ANOVA on the binned factors (computed from cell statistics, so it stays fast at
  10,000 trials; equal to statsmodels' in the tests), labelled ``source = "binned"``: it
  describes the sampled trials, not a designed experiment.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from hpablate.analysis import _notes
from hpablate.analysis._input import AnalysisInput
from hpablate.analysis._result import Result
from hpablate.analysis._util import matches, mean_ci
from hpablate.render import fmt_value
from hpablate.record import DESIGNS
from hpablate.space import SearchSpace

_Y = "__hpablate_objective__"  # column of the objective (never a parameter name)

ANOVA_COLUMNS = [
    "source", "param_a", "param_b", "term", "df", "sum_sq", "F", "p_value", "partial_eta2", "n", "min_cell_n",
    "blocked",
]
_REP = "__hpablate_replicate__"  # column of the replicate block (never a parameter name)


#: Most parameters crossed pairwise in the binned tables of a sampled study.
MAX_BINNED_PARAMS = 6


def analyze_interactions(inp: AnalysisInput, *, order: Sequence[str] = ()) -> Result:
    """Interaction tables: of the grid groups of a grid study, binned from the trials of a sampled one.

    Parameters
    ----------
    inp : AnalysisInput
    order : sequence of str
        Parameters from most to least important; a sampled study with more than
        :data:`MAX_BINNED_PARAMS` varying parameters crosses the first ones only.

    Returns
    -------
    Result
        Table ``interactions`` (:data:`ANOVA_COLUMNS`); groups ``interaction_tables`` (mean tables
        keyed ``"a × b"``), ``interaction_counts`` (trials per cell, same keys) and
        ``marginal_tables`` (binned studies, keyed by parameter).
    """
    groups = inp.study_record.grid_groups
    if groups and inp.space is not None:
        plan = inp.plan_only()
        anova, tables, counts = grid_interactions(plan.params, plan.y, plan.space, groups, replicate=plan.replicate)
        notes = [_notes.GRID_NO_RESIDUAL] if anova["p_value"].isna().all() else []
        if anova["blocked"].any():
            notes.append(_notes.GRID_BLOCKED)
        return Result({"interactions": anova}, notes + _small_cell_notes(anova),
                      {"interaction_tables": tables, "interaction_counts": counts, "marginal_tables": {}})
    empty = Result({"interactions": pd.DataFrame(columns=ANOVA_COLUMNS)}, [],
                   {"interaction_tables": {}, "interaction_counts": {}, "marginal_tables": {}})
    if inp.design in DESIGNS:
        return empty
    cand = [n for n in inp.names if inp.params[n].nunique() > 1]
    if order and len(cand) > MAX_BINNED_PARAMS:
        cand = [n for n in order if n in cand][:MAX_BINNED_PARAMS]
    if not cand:
        return empty
    pairs = list(itertools.combinations(cand, 2))
    anova, tables, marginals = binned_tables(inp.params[cand], inp.y, pairs)
    counts = {k: cell_counts(inp.params[cand].apply(bin_column), *k.split(" × ")) for k in tables}
    return Result({"interactions": anova}, ([_notes.BINNED_READING] if pairs else []) + _small_cell_notes(anova),
                  {"interaction_tables": tables, "interaction_counts": counts, "marginal_tables": marginals})


def _small_cell_notes(anova: pd.DataFrame) -> list[str]:
    inter = anova[anova["term"].str.contains(" × ", regex=False) & (anova["min_cell_n"] < _notes.MIN_CELL_TRIALS)]
    return [_notes.small_cells(len(inter))] if len(inter) else []


def cell_counts(data: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    """Trials per cell of ``a`` (rows) × ``b`` (columns), with the labels of :func:`mean_table`."""
    d = data[[a, b]].copy()
    d[a] = _labels(d[a]) if d[a].dtype == object else d[a]
    d[b] = _labels(d[b]) if d[b].dtype == object else d[b]
    return pd.crosstab(d[a], d[b])


def _min_cell(a: pd.Series, b: pd.Series) -> int:
    counts = pd.crosstab(_labels(a, "(absent)"), _labels(b, "(absent)"))
    return int(counts.to_numpy().min()) if counts.size else 0


def two_way_anova(data: pd.DataFrame, a: str, b: str, y: str = _Y, covariates: Sequence[str] = ()) -> pd.DataFrame:
    """Type II two-way ANOVA of ``y ~ C(a) * C(b) [+ C(covariate) …]``.

    Returns one row per term (``a``, ``b``, ``a × b``, covariates and ``Residual``) with ``df``,
    ``sum_sq``, ``F``, ``p_value`` and ``partial_eta2 = SS / (SS + SS_residual)``. Terms that
    cannot be estimated (one level only, no residual degrees of freedom) come out NaN.
    """
    import statsmodels.formula.api as smf
    from statsmodels.stats.anova import anova_lm

    cols = {a: "A", b: "B", y: "Y"}
    cov_names = {c: f"Z{i}" for i, c in enumerate(covariates)}
    cols.update(cov_names)
    d = data[list(cols)].rename(columns=cols).copy()
    for c in ["A", "B", *cov_names.values()]:
        d[c] = _labels(d[c], "(absent)")
    n = len(d)
    empty = pd.DataFrame(
        [{"term": t, "df": np.nan, "sum_sq": np.nan, "F": np.nan, "p_value": np.nan, "partial_eta2": np.nan}
         for t in (a, b, f"{a} × {b}", "Residual")]
    )
    if d["A"].nunique() < 2 or d["B"].nunique() < 2 or n < 3:
        return empty
    formula = "Y ~ C(A) * C(B)" + "".join(f" + C({z})" for z in cov_names.values() if d[z].nunique() > 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = smf.ols(formula, data=d).fit()
            table = anova_lm(model, typ=2)
        except Exception:  # noqa: BLE001 - singular designs
            return empty
    names = {"C(A)": a, "C(B)": b, "C(A):C(B)": f"{a} × {b}", "Residual": "Residual"}
    names.update({f"C({z})": c for c, z in cov_names.items()})
    ss_res = float(table.loc["Residual", "sum_sq"]) if "Residual" in table.index else math.nan
    df_res = float(table.loc["Residual", "df"]) if "Residual" in table.index else math.nan
    rows = []
    for idx, r in table.iterrows():
        ss = float(r["sum_sq"])
        F = float(r["F"]) if "F" in r and pd.notna(r["F"]) else math.nan
        p = float(r["PR(>F)"]) if "PR(>F)" in r and pd.notna(r["PR(>F)"]) else math.nan
        if not (df_res > 0) or not math.isfinite(ss_res) or ss_res <= 1e-12 * max(ss, 1e-300):
            F = p = math.nan if idx != "Residual" else F
        eta = ss / (ss + ss_res) if idx != "Residual" and (ss + ss_res) > 0 else math.nan
        rows.append({"term": names.get(idx, str(idx)), "df": float(r["df"]), "sum_sq": ss, "F": F,
                     "p_value": p, "partial_eta2": eta})
    return pd.DataFrame(rows)


def fast_two_way_anova(a: pd.Series, b: pd.Series, y: np.ndarray) -> pd.DataFrame:
    """Type II two-way ANOVA with interaction from cell sufficient statistics.

    Exact and equal to statsmodels' ``anova_lm(ols("y ~ C(a) * C(b)"), typ=2)`` (tested), but
    linear in the number of trials: the least-squares fits of the nested models only involve the
    cells (counts, means, within-cell sums of squares), never an ``n × p`` design matrix.
    ``RSS(M) = SS_within + sum_c n_c (mean_c - fit_c)^2``; ``SS(A) = RSS(B) - RSS(A+B)``,
    ``SS(B) = RSS(A) - RSS(A+B)``, ``SS(AB) = RSS(A+B) - RSS(A*B)``.
    """
    from scipy import stats

    y = np.asarray(y, dtype=float)
    ca, la = pd.factorize(_labels(a, "(absent)"), sort=True)
    cb, lb = pd.factorize(_labels(b, "(absent)"), sort=True)
    cell = ca * len(lb) + cb
    n_c = np.bincount(cell, minlength=len(la) * len(lb)).astype(float)
    s_c = np.bincount(cell, weights=y, minlength=len(n_c))
    keep = n_c > 0
    idx = np.flatnonzero(keep)
    n_k = n_c[keep]
    m_k = s_c[keep] / n_k
    ss_within = float(((y - (s_c / np.where(n_c > 0, n_c, 1))[cell]) ** 2).sum())
    ia, ib = idx // len(lb), idx % len(lb)
    ones = np.ones((len(idx), 1))
    A = (ia[:, None] == np.arange(1, len(la))[None, :]).astype(float)
    B = (ib[:, None] == np.arange(1, len(lb))[None, :]).astype(float)
    sw = np.sqrt(n_k)

    def rss_rank(*blocks: np.ndarray) -> tuple[float, int]:
        X = np.hstack((ones,) + blocks)
        beta, _, rank, _ = np.linalg.lstsq(X * sw[:, None], m_k * sw, rcond=None)
        return ss_within + float((n_k * (m_k - X @ beta) ** 2).sum()), int(rank)

    r_a, k_a = rss_rank(A)
    r_b, k_b = rss_rank(B)
    r_ab, k_ab = rss_rank(A, B)
    r_full, k_full = ss_within, len(idx)
    n = len(y)
    df_res = n - k_full
    rows = []
    for term, ss, df in ((a.name, r_b - r_ab, k_ab - k_b), (b.name, r_a - r_ab, k_ab - k_a),
                         (f"{a.name} × {b.name}", r_ab - r_full, k_full - k_ab)):
        ss = max(float(ss), 0.0)
        if df > 0 and df_res > 0 and r_full > 0:
            F = (ss / df) / (r_full / df_res)
            p = float(stats.f.sf(F, df, df_res))
        else:
            F = p = math.nan
        eta = ss / (ss + r_full) if ss + r_full > 0 else math.nan
        rows.append({"term": term, "df": float(df), "sum_sq": ss, "F": F, "p_value": p, "partial_eta2": eta})
    rows.append({"term": "Residual", "df": float(df_res), "sum_sq": r_full, "F": math.nan, "p_value": math.nan,
                 "partial_eta2": math.nan})
    return pd.DataFrame(rows)


def _label(v: Any) -> str:
    return fmt_value(v) if not isinstance(v, str) else v


def _labels(col: pd.Series, absent: str | None = None) -> pd.Series:
    """``_label`` of every value, computed once per distinct value (NaN: ``absent`` or NaN)."""
    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    names = np.array([_label(u) for u in uniques] + [absent if absent is not None else np.nan], dtype=object)
    return pd.Series(names[codes], index=col.index, dtype=object)


def grid_interactions(
    params: pd.DataFrame,
    y: np.ndarray,
    space: SearchSpace,
    groups: Sequence[Sequence[str]],
    replicate: np.ndarray | None = None,
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """Mean tables, cell counts and two-way ANOVAs (replicate as a block) for every grid group's pairs.

    Parameters
    ----------
    replicate : array, optional
        Replicate of every row: with two or more replicates it enters every ANOVA as a block
        (``y ~ C(a) * C(b) + C(other group parameters) + C(replicate)``, type II), ``blocked`` True.

    Returns
    -------
    (DataFrame, dict, dict)
        The ANOVA table (:data:`ANOVA_COLUMNS`, ``source = "grid"``), the mean tables keyed
        ``"a × b"`` (rows: levels of ``a``; columns: levels of ``b``; values: mean objective) and
        the trials per cell with the same keys.
    """
    y = np.asarray(y, dtype=float)
    names = [s.name for s in space if s.name in params.columns]
    eq = {s.name: matches(params[s.name], s.baseline) for s in space if s.name in params.columns}
    frames, tables, counts = [], {}, {}
    for group in groups:
        group = [g for g in group if g in params.columns]
        rest = np.ones(len(params), dtype=bool)
        for n in names:
            if n not in group:
                rest &= eq[n]
        data = params.loc[rest, group].copy()
        data[_Y] = y[rest]
        blocks = []
        if replicate is not None:
            data[_REP] = pd.Series(np.asarray(replicate, dtype=object)[rest], index=data.index).astype(str)
            blocks = [_REP] if data[_REP].nunique() > 1 else []
        for a, b in itertools.combinations(group, 2):
            others = [g for g in group if g not in (a, b)]
            tables[f"{a} × {b}"] = mean_table(data, a, b)
            counts[f"{a} × {b}"] = cell_counts(data, a, b)
            t = two_way_anova(data, a, b, covariates=others + blocks)
            t["term"] = t["term"].replace(_REP, "replicate (block)")
            t.insert(0, "param_b", b)
            t.insert(0, "param_a", a)
            t.insert(0, "source", "grid")
            t["n"] = len(data)
            t["min_cell_n"] = _min_cell(data[a], data[b]) if len(data) else 0
            t["blocked"] = bool(blocks)
            frames.append(t)
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=ANOVA_COLUMNS)
    return out[ANOVA_COLUMNS], tables, counts


def mean_table(data: pd.DataFrame, a: str, b: str, y: str = _Y) -> pd.DataFrame:
    """Pivot of the mean of ``y`` over the levels of ``a`` (rows) and ``b`` (columns)."""
    d = data[[a, b, y]].copy()
    d[a] = _labels(d[a]) if d[a].dtype == object else d[a]
    d[b] = _labels(d[b]) if d[b].dtype == object else d[b]
    return d.pivot_table(index=a, columns=b, values=y, aggfunc="mean", observed=True)


def bin_column(col: pd.Series, max_bins: int = 4) -> pd.Series:
    """Categorical version of a parameter column: quantile bins for many-valued numbers."""
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col) and col.nunique() > max_bins + 2:
        try:
            b = pd.qcut(col.astype(float), q=max_bins, duplicates="drop")
            return pd.Series([f"[{iv.left:.3g}, {iv.right:.3g}]" if isinstance(iv, pd.Interval) else "(absent)"
                              for iv in b], index=col.index, dtype=object)
        except ValueError:
            pass
    return _labels(col, "(absent)")


def binned_tables(
    params: pd.DataFrame,
    y: np.ndarray,
    pairs: Sequence[tuple[str, str]],
    *,
    max_bins: int = 4,
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """Marginal and pairwise tables binned from (randomly) sampled trials, plus binned ANOVAs.

    Returns
    -------
    (DataFrame, dict, dict)
        ANOVA rows (``source = "binned"``), pairwise mean tables keyed ``"a × b"``, marginal
        tables keyed by parameter (per bin: ``n``, ``mean``, ``std``, ``ci_low``, ``ci_high``).
    """
    y = np.asarray(y, dtype=float)
    binned = pd.DataFrame({c: bin_column(params[c], max_bins) for c in params.columns}, index=params.index)
    binned[_Y] = y
    marginals = {}
    for c in params.columns:
        rows = []
        for level, grp in binned.groupby(c, sort=False):
            m, sd, lo, hi = mean_ci(grp[_Y].to_numpy())
            rows.append({"bin": level, "n": len(grp), "mean": m, "std": sd, "ci_low": lo, "ci_high": hi})
        t = pd.DataFrame(rows)
        marginals[c] = _sort_bins(t) if len(t) else t
    frames, tables = [], {}
    for a, b in pairs:
        tables[f"{a} × {b}"] = mean_table(binned, a, b)
        t = fast_two_way_anova(binned[a], binned[b], y)
        t.insert(0, "param_b", b)
        t.insert(0, "param_a", a)
        t.insert(0, "source", "binned")
        t["n"] = len(binned)
        t["min_cell_n"] = _min_cell(binned[a], binned[b])
        t["blocked"] = False
        frames.append(t)
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=ANOVA_COLUMNS)
    return out[ANOVA_COLUMNS], tables, marginals


def _sort_bins(t: pd.DataFrame) -> pd.DataFrame:
    def key(s: Any) -> tuple:
        s = str(s)
        try:
            return (0, float(s.strip("[").split(",")[0]))
        except ValueError:
            return (1, s)

    return t.iloc[sorted(range(len(t)), key=lambda i: key(t["bin"].iloc[i]))].reset_index(drop=True)
