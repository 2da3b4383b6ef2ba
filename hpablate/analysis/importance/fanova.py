"""fANOVA (Hutter, Hoos & Leyton-Brown, ICML 2014), marginal and pairwise, on scikit-learn forests.

A vectorised re-implementation of Optuna's ``FanovaImportanceEvaluator`` algorithm: each tree is
turned into its leaf boxes once, and the marginal of a parameter set is evaluated on the grid of the
tree's split points with an N-d difference array (one ``bincount`` + cumulative sums) instead of one
tree traversal per grid cell.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from hpablate.analysis import _notes
from hpablate.analysis._input import AnalysisInput
from hpablate.analysis._result import Result
from hpablate.analysis.importance._encode import encode

FANOVA_MARGINAL = "first-order (main effect) variance fraction"
FANOVA_PAIRWISE = "second-order (interaction) variance fraction"
IMPORTANCE_COLUMNS = ["method", "kind", "param", "param_a", "param_b", "importance", "std", "q10", "q90", "n_trees",
                      "n_trials", "estimand"]
#: Suffix of the study-wide estimand when conditional parameters are left out (no imputation).
PRESENT_EVERYWHERE = (" of the parameters present in every trial (conditional ones left out, not imputed: "
                      "their effects are averaged into their parents' as the trials sampled them)")
#: Designs whose trials stay near the baseline: a forest fitted on them extrapolates.
_LOCAL_DESIGNS = ("oat", "structural", "baseline")


def analyze_fanova(
    inp: AnalysisInput,
    *,
    n_trees: int = 64,
    seed: int | None = 0,
    encoding: str = "hpablate",
    pair_cell_budget: float | None = 3e7,
) -> Result:
    """fANOVA marginal and pairwise importances of a study's parameters present in every trial.

    Returns
    -------
    Result
        Table ``importances`` (:data:`IMPORTANCE_COLUMNS`; empty when there is too little to fit).
    """
    names = inp.names
    full = [n for n in names if not _absent(inp.params[n]).any()]
    notes = [_notes.conditional([n for n in names if n not in full], len(full))] if len(full) < len(names) else []
    varying = [n for n in full if not inp.distributions[n].single() and inp.params[n].nunique() > 1]
    if not varying or len(inp.y) < 4 or np.ptp(inp.y) == 0:
        return Result({"importances": pd.DataFrame(columns=IMPORTANCE_COLUMNS)}, notes + [_notes.FANOVA_NEEDS])
    try:
        table = fanova_importances(inp.params[full], inp.y, {n: inp.distributions[n] for n in full},
                                   pairwise=True, encoding=encoding, n_trees=n_trees, seed=seed,
                                   pair_cell_budget=pair_cell_budget)
    except ValueError as exc:
        table = pd.DataFrame(columns=IMPORTANCE_COLUMNS)
        notes.append(f"fANOVA not computed: {exc}")
    if len(full) < len(names) and len(table):
        table["estimand"] = table["estimand"] + PRESENT_EVERYWHERE
    if inp.design in _LOCAL_DESIGNS:
        notes.append(_notes.fanova_near_baseline(inp.design))
    return Result({"importances": table}, notes + [_notes.FANOVA_READING])


def _absent(col: pd.Series) -> np.ndarray:
    """Rows where a (conditional) parameter was not suggested: NaN, while ``None`` is a value."""
    if col.dtype == object:
        return np.fromiter((isinstance(v, float) and v != v for v in col.to_numpy()), dtype=bool, count=len(col))
    return col.isna().to_numpy()


@dataclass
class _TreeBoxes:
    lo: np.ndarray  # (n_leaves, d)
    hi: np.ndarray
    value: np.ndarray  # (n_leaves,)
    frac: np.ndarray  # (n_leaves, d) fraction of each side of the bounding box
    edges: list[np.ndarray]  # per column: sorted split points incl. bounds
    a: np.ndarray  # (n_leaves, d) first cell index covered
    b: np.ndarray  # (n_leaves, d) one past the last cell index covered
    mean: float
    variance: float


def _tree_boxes(tree: Any, bounds: np.ndarray) -> _TreeBoxes:
    left, right = tree.children_left, tree.children_right
    feat, thr = tree.feature, tree.threshold
    n, d = tree.node_count, bounds.shape[0]
    lo = np.empty((n, d))
    hi = np.empty((n, d))
    lo[0], hi[0] = bounds[:, 0], bounds[:, 1]
    frontier = np.array([0])
    while frontier.size:
        inner = frontier[feat[frontier] >= 0]
        if not inner.size:
            break
        f, t = feat[inner], thr[inner]
        L, R = left[inner], right[inner]
        lo[L], hi[L] = lo[inner], hi[inner]
        lo[R], hi[R] = lo[inner], hi[inner]
        hi[L, f] = np.minimum(t, hi[inner, f])
        lo[R, f] = np.maximum(t, lo[inner, f])
        frontier = np.concatenate([L, R])
    leaves = feat < 0
    lo, hi = lo[leaves], hi[leaves]
    value = tree.value[leaves].reshape(leaves.sum(), -1)[:, 0].astype(float)
    width = bounds[:, 1] - bounds[:, 0]
    frac = np.clip(hi - lo, 0.0, None) / np.where(width > 0, width, 1.0)
    w = frac.prod(axis=1)
    total = w.sum()
    mean = float((w * value).sum() / total) if total > 0 else 0.0
    variance = float((w * (value - mean) ** 2).sum() / total) if total > 0 else 0.0
    edges, a, b = [], np.empty(lo.shape, dtype=np.int64), np.empty(lo.shape, dtype=np.int64)
    inner_nodes = feat >= 0
    for j in range(d):
        t = thr[inner_nodes & (feat == j)]
        t = t[(t > bounds[j, 0]) & (t < bounds[j, 1])]
        e = np.unique(np.concatenate([bounds[j], t]))
        edges.append(e)
        a[:, j] = np.searchsorted(e, lo[:, j])
        b[:, j] = np.searchsorted(e, hi[:, j])
    return _TreeBoxes(lo, hi, value, frac, edges, a, b, mean, variance)


def _marginal_variance(tb: _TreeBoxes, cols: np.ndarray, width: np.ndarray) -> float:
    """Variance (over the uniform measure on ``cols``) of the tree's marginal on ``cols``.

    The marginal at a cell of the split grid is ``sum_l alpha_l`` over the leaves whose box covers
    the cell, ``alpha_l = (v_l - mean) * prod_{d not in cols} frac_ld``; it is accumulated with an
    N-d difference array (corners of each leaf's box) and cumulative sums along every axis.
    """
    cols = np.asarray(cols)
    keep = np.ones(tb.frac.shape[1], dtype=bool)
    keep[cols] = False
    alpha = (tb.value - tb.mean) * tb.frac[:, keep].prod(axis=1)
    shape = tuple(len(tb.edges[c]) for c in cols)  # n_cells + 1 per axis (room for the "end")
    strides = np.cumprod((1,) + shape[::-1])[:-1][::-1]
    corners = list(itertools.product((0, 1), repeat=len(cols)))
    idx = np.empty((len(corners), len(alpha)), dtype=np.int64)
    wts = np.empty((len(corners), len(alpha)))
    for r, corner in enumerate(corners):
        acc = np.zeros(len(alpha), dtype=np.int64)
        for k, (c, use_b) in enumerate(zip(cols, corner)):
            acc += (tb.b[:, c] if use_b else tb.a[:, c]) * strides[k]
        idx[r] = acc
        wts[r] = -alpha if sum(corner) % 2 else alpha
    grid = np.bincount(idx.ravel(), weights=wts.ravel(), minlength=int(np.prod(shape))).reshape(shape)
    for ax in range(len(cols)):
        np.cumsum(grid, axis=ax, out=grid)
    cell = grid[tuple(slice(0, s - 1) for s in shape)]
    sizes = [np.diff(tb.edges[c]) / width[c] for c in cols]
    if len(cols) == 1:
        return float(max(sizes[0] @ (cell * cell), 0.0))
    if len(cols) == 2:
        return float(max(sizes[0] @ (cell * cell) @ sizes[1], 0.0))
    vol = sizes[0]
    for s in sizes[1:]:
        vol = np.multiply.outer(vol, s)
    return float(max((vol * cell * cell).sum(), 0.0))


def fanova(
    X: np.ndarray,
    y: np.ndarray,
    bounds: np.ndarray,
    groups: Sequence[np.ndarray],
    *,
    pairwise: bool = True,
    n_trees: int = 64,
    max_depth: int = 64,
    min_samples_split: int = 2,
    min_samples_leaf: int = 1,
    seed: int | None = 0,
    n_jobs: int | None = None,
    max_pair_cells: int = 20_000_000,
    pair_cell_budget: float | None = None,
    min_pair_trees: int = 8,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Per-tree fANOVA variance fractions of a random forest fitted to ``(X, y)``.

    Parameters
    ----------
    X, y : arrays
        Encoded parameters and objective values.
    bounds : ndarray, shape (n_columns, 2)
        The box that defines the uniform measure.
    groups : sequence of int arrays
        Columns of each parameter.
    pairwise : bool
        Also compute second-order (interaction) fractions for every pair of parameters.
    n_trees, max_depth, min_samples_split, min_samples_leaf, seed
        ``RandomForestRegressor`` settings; the defaults are Optuna's.
    n_jobs : int, optional
        Threads over trees (default: number of CPUs, at most 4).
    max_pair_cells : int
        A pair whose split grid has more cells than this in a tree is skipped for that tree
        (NaN) to bound memory; never reached at the sizes of the benchmarks.
    pair_cell_budget : float, optional
        Bound on the grid cells summed over trees for the pairwise terms: once exceeded (and at
        least ``min_pair_trees`` trees are done), the remaining trees are skipped for pairs.
        Trees are i.i.d., so this estimates the same forest average from fewer trees; the
        number of trees used is reported. ``None``: every tree.
    min_pair_trees : int
        Fewest trees for the pairwise terms under a budget.

    Returns
    -------
    marginal : ndarray, shape (n_used_trees, n_params)
        Fraction of each tree's variance explained by each parameter's main effect.
    pair : ndarray, shape (n_used_trees, n_params, n_params) or None
        Fraction explained by each pair's interaction term (upper triangle filled, symmetric).
    tree_variance : ndarray
        Total variance of every tree (trees with zero variance are left out of the fractions).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.random((300, 2)); y = X[:, 0] + 0.1 * X[:, 1]
    >>> m, p, _ = fanova(X, y, np.array([[0, 1], [0, 1]]), [np.array([0]), np.array([1])], n_trees=8)
    >>> bool(m.mean(axis=0)[0] > 0.9)
    True
    """
    from sklearn.ensemble import RandomForestRegressor

    forest = RandomForestRegressor(
        n_estimators=n_trees,
        max_depth=max_depth,
        min_samples_split=min_samples_split,
        min_samples_leaf=min_samples_leaf,
        random_state=seed,
        n_jobs=n_jobs if n_jobs is not None else _default_jobs(),
    )
    forest.fit(X, y)
    width = bounds[:, 1] - bounds[:, 0]
    width = np.where(width > 0, width, 1.0)
    n_params = len(groups)

    def phase1(est: Any) -> tuple[_TreeBoxes, np.ndarray]:
        tb = _tree_boxes(est.tree_, bounds)
        if tb.variance <= 0.0:
            return tb, np.zeros(n_params)
        return tb, np.array([_marginal_variance(tb, g, width) for g in groups])

    pairs = list(itertools.combinations(range(n_params), 2)) if pairwise else []

    def phase2(item: tuple[_TreeBoxes, np.ndarray]) -> np.ndarray:
        tb, marg = item
        out = np.full((n_params, n_params), np.nan)
        for i, j in pairs:
            cols = np.concatenate([groups[i], groups[j]])
            if int(np.prod([len(tb.edges[c]) for c in cols])) > max_pair_cells:
                continue
            v = _marginal_variance(tb, cols, width) - marg[i] - marg[j]
            out[i, j] = out[j, i] = max(v, 0.0) / tb.variance
        return out

    jobs = n_jobs if n_jobs is not None else _default_jobs()
    pool = ThreadPoolExecutor(jobs) if jobs > 1 and len(forest.estimators_) > 1 else None
    try:
        mapper = pool.map if pool is not None else map
        results = list(mapper(phase1, forest.estimators_))
        used = [r for r in results if r[0].variance > 0]
        if not used:
            raise ValueError("all trees of the forest have zero variance: the objective is constant")
        tree_var = np.array([r[0].variance for r in results])
        marginal = np.array([r[1] / r[0].variance for r in used])
        pair = None
        if pairwise:
            # Trees are i.i.d., so the first K trees are a random subset: under a cell budget,
            # the pairwise mean is estimated on fewer trees (its spread is reported per tree).
            k = len(used)
            if pair_cell_budget is not None:
                total = 0.0
                for k in range(len(used)):
                    tb = used[k][0]
                    total += sum(
                        float(np.prod([len(tb.edges[c]) for c in np.concatenate([groups[i], groups[j]])]))
                        for i, j in pairs
                    )
                    if total > pair_cell_budget and k + 1 >= min_pair_trees:
                        k += 1
                        break
                else:
                    k = len(used)
            pair = np.array(list(mapper(phase2, used[:k])))
    finally:
        if pool is not None:
            pool.shutdown()
    return marginal, pair, tree_var


def _default_jobs() -> int:
    import os

    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(4, n))


def fanova_importances(
    params: pd.DataFrame,
    y: np.ndarray,
    distributions: dict[str, Any],
    *,
    pairwise: bool = True,
    encoding: str = "hpablate",
    n_trees: int = 64,
    max_depth: int = 64,
    seed: int | None = 0,
    n_jobs: int | None = None,
    pair_cell_budget: float | None = None,
) -> pd.DataFrame:
    """fANOVA importances as a tidy table, one row per parameter and per pair.

    Parameters
    ----------
    params : DataFrame
        Complete trials' parameter values (columns = ``distributions`` keys), no missing values.
    y : array
        Objective values of the same trials.
    distributions : dict
        Parameter name to Optuna distribution.
    pairwise, encoding, n_trees, max_depth, seed, n_jobs, pair_cell_budget
        See :func:`fanova` and :func:`encode`.

    Returns
    -------
    DataFrame
        Columns ``method, kind, param, param_a, param_b, importance, std, q10, q90, n_trees,
        n_trials, estimand``; ``importance`` is the mean fraction over trees (Optuna's
        definition), ``std``/``q10``/``q90`` its spread over the trees. Single-valued
        distributions get importance 0 like in Optuna.

    Examples
    --------
    >>> import optuna
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"a": rng.random(200), "b": rng.random(200)})
    >>> dist = {k: optuna.distributions.FloatDistribution(0, 1) for k in "ab"}
    >>> t = fanova_importances(df, (df.a * df.b).to_numpy(), dist, n_trees=8)
    >>> list(t.kind)
    ['marginal', 'marginal', 'pairwise']
    """
    names = list(distributions)
    varying = {n: d for n, d in distributions.items() if not d.single()}
    rows: list[dict[str, Any]] = []
    y = np.asarray(y, dtype=float)
    method = f"fANOVA (random forest, {n_trees} trees, encoding={encoding})"
    if len(varying) == 0 or len(y) < 2:
        for n in names:
            rows.append(_frow(method, "marginal", n, None, None, 0.0, np.zeros(1), len(y), 0))
        return pd.DataFrame(rows)
    enc = encode(params, varying, encoding)
    marg, pair, _ = fanova(
        enc.X, y, enc.bounds, enc.groups, pairwise=pairwise, n_trees=n_trees, max_depth=max_depth,
        seed=seed, n_jobs=n_jobs, pair_cell_budget=pair_cell_budget,
    )
    vnames = list(varying)
    for k, n in enumerate(vnames):
        rows.append(_frow(method, "marginal", n, None, None, float(marg[:, k].mean()), marg[:, k], len(y), len(marg)))
    for n in names:
        if n not in varying:
            rows.append(_frow(method, "marginal", n, None, None, 0.0, np.zeros(1), len(y), len(marg)))
    if pairwise and pair is not None:
        for i, j in itertools.combinations(range(len(vnames)), 2):
            v = pair[:, i, j]
            v = v[np.isfinite(v)]
            rows.append(
                _frow(method, "pairwise", f"{vnames[i]} × {vnames[j]}", vnames[i], vnames[j],
                      float(v.mean()) if v.size else float("nan"), v if v.size else np.full(1, np.nan),
                      len(y), int(v.size))
            )
    out = pd.DataFrame(rows)
    return out.sort_values(["kind", "importance"], ascending=[True, False], kind="stable").reset_index(drop=True)


def _frow(method: str, kind: str, param: str, a: str | None, b: str | None, imp: float,
          per_tree: np.ndarray, n: int, n_trees: int) -> dict[str, Any]:
    return {
        "method": method,
        "kind": kind,
        "param": param,
        "param_a": a if a is not None else param if kind == "marginal" else None,
        "param_b": b,
        "importance": imp,
        "std": float(np.std(per_tree)) if per_tree.size else float("nan"),
        "q10": float(np.quantile(per_tree, 0.1)) if per_tree.size else float("nan"),
        "q90": float(np.quantile(per_tree, 0.9)) if per_tree.size else float("nan"),
        "n_trees": n_trees,
        "n_trials": n,
        "estimand": FANOVA_MARGINAL if kind == "marginal" else FANOVA_PAIRWISE,
    }


# --------------------------------------------------------------------------------------------
