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
* Conditional parameters (absent from the trials where their condition does not hold) are never
  binned with an "(absent)" level: a pair's table and ANOVA use only the trials holding **both**
  parameters (the intersection of their branches), bins are cut within those trials, and the row's
  ``branch`` column says which branch it describes (``optimizer=sgd``; empty for a pair present in
  every trial). A pair that never meets, or that is constant within its branch (a child and the
  parent its branch fixes), gets no row. Marginal tables likewise hold the trials where the
  parameter exists.
* Grid groups of a conditional space: a cell whose parameter is inactive there (momentum under
  Adam) holds no value of that parameter, so the table and ANOVA of a pair cover the cells where
  both exist, with the group's other parameters and the rest of the space at the (branch) values
  the design fixed; ``branch`` names the branch.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from hpablate.analysis import _notes
from hpablate.analysis._branches import absent, branch_label
from hpablate.analysis._conditions import Condition, space_conditions, study_conditions
from hpablate.analysis._input import AnalysisInput
from hpablate.analysis._result import Result
from hpablate.analysis._util import matches, mean_ci
from hpablate.render import fmt_value
from hpablate.design.grid import group_branch
from hpablate.record import DESIGNS
from hpablate.space import SearchSpace

_Y = "__hpablate_objective__"  # column of the objective (never a parameter name)

ANOVA_COLUMNS = [
    "source", "branch", "param_a", "param_b", "term", "df", "sum_sq", "F", "p_value", "partial_eta2", "n", "min_cell_n",
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
        anova, tables, counts, coverage = grid_interactions(plan.params, plan.y, plan.space, groups,
                                                            replicate=plan.replicate)
        notes = [_notes.GRID_NO_RESIDUAL] if len(anova) and anova["p_value"].isna().all() else []
        if coverage:
            notes.append(_notes.grid_conditional(coverage))
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
    labels = branch_labels(study_conditions(inp.space, inp.params, inp.distributions))
    b = binned_tables(inp.params[cand], inp.y, pairs, branches=labels)
    notes = ([_notes.BINNED_READING] if pairs else []) + _small_cell_notes(b.anova)
    if labels:
        notes.append(_notes.binned_within_branches(b.skipped))
    return Result({"interactions": b.anova}, notes,
                  {"interaction_tables": b.tables, "interaction_counts": b.counts, "marginal_tables": b.marginals})


def branch_labels(conditions: Sequence[Condition]) -> dict[str, str]:
    """The branch text of every conditional parameter (``{"momentum": "optimizer=sgd"}``).

    A parameter under several parents gets their labels joined by ``", "``.

    Examples
    --------
    >>> import hpablate as hp
    >>> from hpablate.analysis._conditions import space_conditions
    >>> space = hp.SearchSpace(hp.Categorical("opt", ["sgd", "adam"]), hp.Float("m", 0, 1, when={"opt": "sgd"}))
    >>> branch_labels(space_conditions(space))
    {'m': 'opt=sgd'}
    """
    out: dict[str, list[str]] = {}
    for c in conditions:
        out.setdefault(c.param, []).append(c.label)
    return {k: ", ".join(v) for k, v in out.items()}


def pair_branch(a: str, b: str, labels: Mapping[str, str]) -> str:
    """The branch of a pair: the distinct branch texts of ``a`` and ``b`` joined (empty: none).

    Examples
    --------
    >>> pair_branch("lr", "m", {"m": "opt=sgd"}), pair_branch("lr", "wd", {})
    ('opt=sgd', '')
    """
    parts = [labels[n] for n in (a, b) if labels.get(n)]
    return ", ".join(dict.fromkeys(parts))


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


class GridTables(NamedTuple):
    """What :func:`grid_interactions` returns.

    Attributes
    ----------
    anova : DataFrame
        :data:`ANOVA_COLUMNS`, ``source = "grid"``.
    tables, counts : dict of DataFrame
        Mean objective and trials per cell, keyed ``"a × b"``.
    coverage : list of str
        In a conditional space, which cells each pair covers (and which pairs have no table).
    """

    anova: pd.DataFrame
    tables: dict[str, pd.DataFrame]
    counts: dict[str, pd.DataFrame]
    coverage: list[str]


def grid_interactions(
    params: pd.DataFrame,
    y: np.ndarray,
    space: SearchSpace,
    groups: Sequence[Sequence[str]],
    replicate: np.ndarray | None = None,
) -> GridTables:
    """Mean tables, cell counts and two-way ANOVAs (replicate as a block) for every grid group's pairs.

    Parameters
    ----------
    params : DataFrame
        The plan's trials (NaN where a conditional parameter is absent).
    y : array
        The objective of every row.
    space : SearchSpace
        The stored space (baselines and conditions).
    groups : sequence of sequence of str
        The grid groups of the design.
    replicate : array, optional
        Replicate of every row: with two or more replicates it enters every ANOVA as a block
        (``y ~ a * b + C(other group parameters) + C(replicate)``, type II), ``blocked`` True.

    Returns
    -------
    GridTables
        The ANOVA table (:data:`ANOVA_COLUMNS`, ``source = "grid"``), the mean tables keyed
        ``"a × b"`` (rows: levels of ``a``; columns: levels of ``b``; values: mean objective), the
        trials per cell with the same keys and, in a conditional space, the cells each pair covers:
        a pair uses the cells where both exist (:func:`grid_pair_rows`); ``branch`` names that branch.
    """
    y = np.asarray(y, dtype=float)
    labels = branch_labels(space_conditions(space))
    frames, tables, counts, coverage = [], {}, {}, []
    for group in groups:
        group = [g for g in group if g in params.columns]
        rest = grid_group_rows(params, space, group)
        data = params.loc[rest, group].copy()
        data[_Y] = y[rest]
        if replicate is not None:
            data[_REP] = pd.Series(np.asarray(replicate, dtype=object)[rest], index=data.index).astype(str)
        fixed = {**space.baseline, **group_branch(space, group)}
        where = branch_label(group_branch(space, group))
        for a, b in itertools.combinations(group, 2):
            pair, covariates = grid_pair_rows(data, group, a, b, fixed)
            d = data.loc[pair]
            branch = ", ".join(dict.fromkeys(x for x in (where, pair_branch(a, b, labels)) if x))
            if space.conditional:
                coverage.append(_coverage(a, b, d, branch, [c for c in group if c not in (a, b, *covariates)], fixed))
            if d[a].nunique() < 2 or d[b].nunique() < 2:
                continue  # a child and the parent value its cells fix: no pair to cross
            blocks = [_REP] if replicate is not None and d[_REP].nunique() > 1 else []
            tables[f"{a} × {b}"] = mean_table(d, a, b)
            counts[f"{a} × {b}"] = cell_counts(d, a, b)
            t = two_way_anova(d, a, b, covariates=covariates + blocks)
            t["term"] = t["term"].replace(_REP, "replicate (block)")
            t.insert(0, "param_b", b)
            t.insert(0, "param_a", a)
            t.insert(0, "branch", branch)
            t.insert(0, "source", "grid")
            t["n"] = len(d)
            t["min_cell_n"] = _min_cell(d[a], d[b]) if len(d) else 0
            t["blocked"] = bool(blocks)
            frames.append(t)
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=ANOVA_COLUMNS)
    return GridTables(out[ANOVA_COLUMNS], tables, counts, coverage)


def _coverage(a: str, b: str, d: pd.DataFrame, branch: str, held: Sequence[str], fixed: Mapping[str, Any]) -> str:
    """Which cells of a grid group a pair's table covers, in words."""
    if d[a].nunique() < 2 or d[b].nunique() < 2:
        return f"{a} × {b}: no table (where both exist one of them takes a single value)"
    parts = [f"within {branch}"] if branch else []
    parts += [f"{c} at {fmt_value(fixed[c])} or absent" for c in held]
    cells = d[[a, b]].drop_duplicates()
    return f"{a} × {b}: {len(cells)} cells" + (f" ({'; '.join(parts)})" if parts else "")


def grid_group_rows(params: pd.DataFrame, space: SearchSpace, group: Sequence[str]) -> np.ndarray:
    """Rows of a grid group's cells: every parameter outside the group where the design put it.

    Outside the group, a parameter takes its baseline (its branch value for a parent the group's
    branch switches) where it exists in the cell, and is absent where its condition does not hold
    (momentum in a cell with optimizer=adam): the configuration ``space.active({**fixed, **cell})``.
    """
    fixed = {**space.baseline, **group_branch(space, group)}
    names = [n for n in space.names if n in params.columns]
    present = {n: ~absent(params[n]) for n in names}
    ok = np.zeros(len(params), dtype=bool)
    if not len(params):
        return ok
    for combo, pos in params[list(group)].groupby(list(group), dropna=False, sort=False).indices.items():
        combo = combo if isinstance(combo, tuple) else (combo,)
        cell = {g: v for g, v in zip(group, combo) if not (isinstance(v, float) and v != v)}
        expected = space.active({**fixed, **cell})
        sub = params.iloc[pos]
        good = np.ones(len(pos), dtype=bool)
        for n in names:
            want = cell.get(n, expected.get(n)) if n in expected else None
            good &= matches(sub[n], want) & present[n][pos] if n in expected else ~present[n][pos]
        ok[pos[good]] = True
    return ok


def grid_pair_rows(
    data: pd.DataFrame, group: Sequence[str], a: str, b: str, fixed: Mapping[str, Any],
) -> tuple[np.ndarray, list[str]]:
    """The cells of a group where ``a`` and ``b`` both exist, and the covariates of their ANOVA.

    A third group member present in all those cells enters as a covariate (as in an unconditional
    grid); one that exists in some of them only (its condition depends on ``a`` or ``b``) is held
    at its fixed value where it exists, like the rest of the space, and is no covariate.
    """
    rows = ~absent(data[a]) & ~absent(data[b])
    covariates = []
    for c in (g for g in group if g not in (a, b)):
        here = ~absent(data[c])
        if here[rows].all():
            covariates.append(c)
        else:
            rows &= ~here | matches(data[c], fixed[c])
    return rows, covariates


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


class BinnedTables(NamedTuple):
    """What :func:`binned_tables` returns.

    Attributes
    ----------
    anova : DataFrame
        ANOVA rows (:data:`ANOVA_COLUMNS`, ``source = "binned"``).
    tables, counts : dict of DataFrame
        Mean objective and trials per cell, keyed ``"a × b"``.
    marginals : dict of DataFrame
        Per parameter and bin: ``n``, ``mean``, ``std``, ``ci_low``, ``ci_high`` (trials holding it).
    skipped : list of str
        ``"a × b"`` of the pairs with no table: no trial holds both, or one is constant there.
    """

    anova: pd.DataFrame
    tables: dict[str, pd.DataFrame]
    counts: dict[str, pd.DataFrame]
    marginals: dict[str, pd.DataFrame]
    skipped: list[str]


def binned_tables(
    params: pd.DataFrame,
    y: np.ndarray,
    pairs: Sequence[tuple[str, str]],
    *,
    max_bins: int = 4,
    branches: Mapping[str, str] | None = None,
) -> BinnedTables:
    """Marginal and pairwise tables binned from (randomly) sampled trials, plus binned ANOVAs.

    Parameters
    ----------
    params : DataFrame
        One column per parameter; NaN where a conditional parameter is absent.
    y : array
        The objective of every row.
    pairs : sequence of (str, str)
    max_bins : int
        Quantile bins of a many-valued number (cut within the rows a table uses).
    branches : mapping, optional
        Branch text per conditional parameter (:func:`branch_labels`), for the ``branch`` column.

    Returns
    -------
    BinnedTables
        Every pair's statistics come from the trials holding both parameters only, so an absent
        parameter is never a level.
    """
    y = np.asarray(y, dtype=float)
    labels = dict(branches or {})
    marginals = {c: _marginal(params[c], y, max_bins) for c in params.columns}
    frames, tables, counts, skipped = [], {}, {}, []
    for a, b in pairs:
        key = f"{a} × {b}"
        got = _binned_pair(params[a], params[b], y, max_bins)
        if got is None:
            skipped.append(key)
            continue
        data, t = got
        tables[key] = mean_table(data, a, b)
        counts[key] = cell_counts(data, a, b)
        t.insert(0, "param_b", b)
        t.insert(0, "param_a", a)
        t.insert(0, "branch", pair_branch(a, b, labels))
        t.insert(0, "source", "binned")
        frames.append(t)
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=ANOVA_COLUMNS)
    return BinnedTables(out[ANOVA_COLUMNS], tables, counts, marginals, skipped)


def _binned_pair(a: pd.Series, b: pd.Series, y: np.ndarray, max_bins: int) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """Binned data and type II ANOVA of one pair over the rows holding both (None: nothing to test)."""
    both = ~absent(a) & ~absent(b)
    if both.sum() < 3:
        return None
    ba, bb = bin_column(a[both], max_bins), bin_column(b[both], max_bins)
    if ba.nunique() < 2 or bb.nunique() < 2:
        return None  # e.g. a child and the parent value its branch fixes
    data = pd.DataFrame({a.name: ba, b.name: bb, _Y: y[both]})
    t = fast_two_way_anova(ba.rename(a.name), bb.rename(b.name), y[both])
    t["n"] = int(both.sum())
    t["min_cell_n"] = _min_cell(ba, bb)
    t["blocked"] = False
    return data, t


def _marginal(col: pd.Series, y: np.ndarray, max_bins: int) -> pd.DataFrame:
    """Mean objective per bin of one parameter, over the trials where it exists."""
    here = ~absent(col)
    bins, yh = bin_column(col[here], max_bins).to_numpy(), y[here]
    rows = []
    for level in dict.fromkeys(bins):
        m, sd, lo, hi = mean_ci(yh[bins == level])
        rows.append({"bin": level, "n": int((bins == level).sum()), "mean": m, "std": sd, "ci_low": lo, "ci_high": hi})
    t = pd.DataFrame(rows)
    return _sort_bins(t) if len(t) else t


def _sort_bins(t: pd.DataFrame) -> pd.DataFrame:
    def key(s: Any) -> tuple:
        s = str(s)
        try:
            return (0, float(s.strip("[").split(",")[0]))
        except ValueError:
            return (1, s)

    return t.iloc[sorted(range(len(t)), key=lambda i: key(t["bin"].iloc[i]))].reset_index(drop=True)
