"""Sobol indices of a Saltelli design: first order (Saltelli 2010), total order (Jansen 1999),
second order (Saltelli 2002), with bootstrap CIs over base points and, with replicates, over seeds.

The estimators are SALib's (:mod:`SALib.analyze.sobol`) on the same standardised outputs, so on
the same points the estimates are equal. What differs is what is reported:

* the CI is a percentile bootstrap interval (SALib gives a normal half-width, kept here as
  ``conf``), two-stage: blocks of independently scrambled base points (every replicate holds its
  own), then base points within each. Resampling the points of one Sobol' sequence as if they were
  independent understates the error for some coordinate pairs; resampling blocks includes it, and
  seed-to-seed variation too;
* an index is a variance share, never negative: a negative estimate and CI bound are truncated
  at 0 (the raw estimate stays in ``raw``, ``truncated`` says which). Truncating a CI of a
  non-negative quantity keeps its coverage, and a negative raw estimate whose whole interval is
  below 0 comes out as ``[0, 0]``, never as a negative index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hpablate.analysis._input import AnalysisInput
from hpablate.analysis._result import Result
from hpablate.design.sobol import SCRAMBLE_BLOCK

SOBOL_FIRST = "first-order Sobol index S_i (Saltelli 2010)"
SOBOL_TOTAL = "total-order Sobol index ST_i (Jansen)"
SOBOL_SECOND = "second-order Sobol index S_ij (Saltelli 2002)"
SOBOL_METHOD = "Sobol (Saltelli design)"
SOBOL_COLUMNS = ["order", "param", "param_a", "param_b", "index", "ci_low", "ci_high", "std", "conf", "raw",
                 "truncated", "n_points", "n_blocks", "estimand"]
SOBOL_READING = (
    "Sobol indices: S_i is the share of the objective's variance (over the space and the seeds) explained by "
    "parameter i alone, ST_i the share it takes part in, interactions included (ST_i - S_i: its interactions); "
    "S_ij the share of the i-j interaction alone. CIs are percentile bootstrap intervals over base points "
    "(and replicates); negative estimates are truncated at 0 (column `raw` keeps them). With a noisy "
    "objective, noise adds about noise variance / total variance to every ST_i."
)

#: Suffix of the estimand on a conditional space (:data:`SOBOL_CONDITIONAL` says why).
CONDITIONAL_ESTIMAND = "; of f(active(x)), x uniform over every range, inactive parameters ignored"
SOBOL_CONDITIONAL = (
    "Sobol indices on a conditional space: the function analysed is f(active(x)), x uniform over the full unit "
    "cube of every factor (categorical choices equally likely); a parameter whose condition does not hold is "
    "absent from the trial, so its coordinate changes nothing there. A child's S_i is then its main effect "
    "averaged over its parent (zero where it does not exist), its ST_i - S_i includes its interaction with the "
    "parent, and the parent's indices include what its children add in its branches. For effects within one "
    "branch, use the branch tables of a sampled study, or a grid / one-at-a-time design (branch baselines)."
)


@dataclass(frozen=True)
class SaltelliValues:
    """The objective on a Saltelli design, one row per complete base point.

    Attributes
    ----------
    names : list of str
        The factors, in column order of ``AB`` and ``BA``.
    A, B : ndarray, shape (n,)
    AB : ndarray, shape (n, k)
        ``AB[:, i]``: the objective at ``A`` with factor ``i`` taken from ``B``.
    BA : ndarray, shape (n, k) or None
        Present when the design ran the second-order matrices.
    block : ndarray, shape (n,)
        The independent scrambling each base point comes from (replicate and
        :data:`~hpablate.design.sobol.SCRAMBLE_BLOCK`), the bootstrap's first stage.
    n_dropped : int
        Base points left out because a trial of theirs did not complete.
    """

    names: list[str]
    A: np.ndarray
    B: np.ndarray
    AB: np.ndarray
    BA: np.ndarray | None
    block: np.ndarray
    n_dropped: int = 0

    def __len__(self) -> int:
        return len(self.A)

    @classmethod
    def from_salib(cls, Y: np.ndarray, names: Sequence[str], second_order: bool = False) -> SaltelliValues:
        """Split SALib's ``Y`` (rows ``A, AB_1…AB_k, [BA_1…BA_k,] B`` per base point).

        Examples
        --------
        >>> v = SaltelliValues.from_salib(np.arange(8.0), ["a", "b"])
        >>> v.A.tolist(), v.AB.tolist(), v.B.tolist()
        ([0.0, 4.0], [[1.0, 2.0], [5.0, 6.0]], [3.0, 7.0])
        """
        k = len(names)
        step = 2 * k + 2 if second_order else k + 2
        rows = np.asarray(Y, dtype=float).reshape(-1, step)
        BA = rows[:, 1 + k:1 + 2 * k] if second_order else None
        return cls(list(names), rows[:, 0], rows[:, -1], rows[:, 1:1 + k], BA, np.arange(len(rows)) // SCRAMBLE_BLOCK)


def saltelli_values(frame: pd.DataFrame, names: Sequence[str]) -> SaltelliValues:
    """Collect a Saltelli design's trials into :class:`SaltelliValues`.

    Parameters
    ----------
    frame : DataFrame
        Columns ``replicate, sobol_point, sobol_matrix, varied`` (tuples) and ``value``. Trials of
        one row of the design (run twice) are averaged; base points missing a row are dropped.
    names : sequence of str
        The factors, in order.
    """
    key = [m if m in ("A", "B") else f"{m}:{v[0] if v else ''}" for m, v in zip(frame["sobol_matrix"], frame["varied"])]
    wide = (frame.assign(key=key).pivot_table(index=["replicate", "sobol_point"], columns="key", values="value",
                                              aggfunc="mean"))
    second = any(str(c).startswith("BA:") for c in wide.columns)
    cols = ["A", "B", *[f"AB:{n}" for n in names], *([f"BA:{n}" for n in names] if second else [])]
    wide = wide.reindex(columns=cols)
    complete = wide.dropna()
    k = len(names)
    values = complete.to_numpy(dtype=float)
    return SaltelliValues(
        names=list(names), A=values[:, 0], B=values[:, 1], AB=values[:, 2:2 + k],
        BA=values[:, 2 + k:2 + 2 * k] if second else None,
        block=_blocks(complete.index),
        n_dropped=int(len(wide) - len(complete)),
    )


def _blocks(index: pd.MultiIndex) -> np.ndarray:
    rep = index.get_level_values("replicate").to_numpy(dtype=np.int64)
    point = index.get_level_values("sobol_point").to_numpy(dtype=np.int64)
    return np.unique(np.column_stack([rep, point // SCRAMBLE_BLOCK]), axis=0, return_inverse=True)[1].ravel()


def saltelli_estimates(
    A: np.ndarray, B: np.ndarray, AB: np.ndarray, BA: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """First-, total- and second-order estimates (SALib's estimators), batched over leading axes.

    Parameters
    ----------
    A, B : ndarray, shape (..., n)
    AB, BA : ndarray, shape (..., n, k)

    Returns
    -------
    S1, ST : ndarray, shape (..., k)
    S2 : ndarray, shape (..., k, k) or None
        Upper triangle meaningful (``S2[j, l]`` for ``j < l``); None without ``BA``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> U = rng.random((4096, 4))  # y = x1 + 2 x2: S = ST = (0.2, 0.8)
    >>> A, B = U[:, :2] @ [1, 2], U[:, 2:] @ [1, 2]
    >>> AB = np.column_stack([U[:, 2] + 2 * U[:, 1], U[:, 0] + 2 * U[:, 3]])
    >>> S1, ST, _ = saltelli_estimates(A - A.mean(), B - A.mean(), AB - A.mean())
    >>> np.round(ST, 1).tolist()
    [0.2, 0.8]
    """
    var = np.var(np.concatenate([A, B], axis=-1), axis=-1)[..., None]
    var = np.where(var > np.finfo(float).eps, var, np.nan)
    S1 = np.mean(B[..., None] * (AB - A[..., None]), axis=-2) / var
    ST = 0.5 * np.mean((A[..., None] - AB) ** 2, axis=-2) / var
    if BA is None:
        return S1, ST, None
    n = A.shape[-1]
    vjk = np.einsum("...nj,...nk->...jk", BA, AB) / n - np.mean(A * B, axis=-1)[..., None, None]
    S2 = vjk / var[..., None] - S1[..., :, None] - S1[..., None, :]
    return S1, ST, S2


def sobol_indices(
    values: SaltelliValues,
    *,
    conf_level: float = 0.95,
    n_resamples: int = 1000,
    seed: int | None = 0,
) -> pd.DataFrame:
    """Sobol indices with bootstrap CIs (see the module docstring for what is reported).

    The outputs are standardised once (``(Y - mean) / sd`` over every value), as SALib does.

    Returns
    -------
    DataFrame
        :data:`SOBOL_COLUMNS`: one row per parameter and order (``first``, ``total``) and, with
        ``BA`` rows, one per pair (``second``).
    """
    from scipy import stats

    names, k = values.names, len(values.names)
    allv = np.concatenate([values.A, values.B, values.AB.ravel(), *([] if values.BA is None else [values.BA.ravel()])])
    mu, sd = allv.mean(), allv.std()
    sd = sd if sd > 0 else 1.0
    A, B, AB = (values.A - mu) / sd, (values.B - mu) / sd, (values.AB - mu) / sd
    BA = None if values.BA is None else (values.BA - mu) / sd
    S1, ST, S2 = saltelli_estimates(A, B, AB, BA)
    boot = _bootstrap(A, B, AB, BA, values.block, n_resamples, np.random.default_rng(seed))
    z = stats.norm.ppf(0.5 + conf_level / 2)
    tail = (1 - conf_level) / 2
    n_rep = len(np.unique(values.block))
    rows = []

    def add(order: str, param: str, a: str | None, b: str | None, raw: float, draws: np.ndarray, estimand: str) -> None:
        ok = draws[np.isfinite(draws)]
        lo, hi = (np.quantile(ok, [tail, 1 - tail]) if len(ok) else (np.nan, np.nan))
        rows.append({"order": order, "param": param, "param_a": a, "param_b": b, "index": max(raw, 0.0),
                     "ci_low": max(lo, 0.0), "ci_high": max(hi, 0.0), "std": float(ok.std(ddof=1)) if len(ok) > 1 else np.nan,
                     "conf": float(z * ok.std(ddof=1)) if len(ok) > 1 else np.nan, "raw": float(raw),
                     "truncated": bool(raw < 0 or lo < 0), "n_points": len(values), "n_blocks": n_rep,
                     "estimand": estimand})

    for i, n in enumerate(names):
        add("first", n, n, None, float(S1[i]), boot[0][:, i], SOBOL_FIRST)
    for i, n in enumerate(names):
        add("total", n, n, None, float(ST[i]), boot[1][:, i], SOBOL_TOTAL)
    if S2 is not None:
        for i in range(k):
            for j in range(i + 1, k):
                add("second", f"{names[i]} × {names[j]}", names[i], names[j], float(S2[i, j]), boot[2][:, i, j],
                    SOBOL_SECOND)
    out = pd.DataFrame(rows, columns=SOBOL_COLUMNS)
    return out.astype({"index": float, "ci_low": float, "ci_high": float})


def _bootstrap(A: np.ndarray, B: np.ndarray, AB: np.ndarray, BA: np.ndarray | None, block: np.ndarray,
               n_resamples: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bootstrap draws of (S1, ST, S2): scrambling blocks (replicates), then base points within."""
    n, k = AB.shape
    groups = [np.flatnonzero(block == b) for b in np.unique(block)]
    # Chunks keep AB[idx] (chunk x n x k floats) to a few tens of MB.
    chunk = max(1, int(4e6 // max(n * k * (2 if BA is not None else 1), 1)))
    s1, st, s2 = [], [], []
    for start in range(0, n_resamples, chunk):
        size = min(chunk, n_resamples - start)
        idx = _resample_rows(groups, size, rng)
        e1, et, e2 = saltelli_estimates(A[idx], B[idx], AB[idx], None if BA is None else BA[idx])
        s1.append(e1)
        st.append(et)
        s2.append(e2 if e2 is not None else np.zeros((size, 0, 0)))
    return np.concatenate(s1), np.concatenate(st), np.concatenate(s2)


def _resample_rows(groups: list[np.ndarray], size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` bootstrap index rows: blocks with replacement, then base points within them.

    Two-stage: ``G`` blocks drawn with replacement, then ``n // G`` base points drawn with
    replacement within each (``n``: all base points; blocks usually hold ``n / G`` each).
    """
    if len(groups) == 1:
        g = groups[0]
        return g[rng.integers(0, len(g), size=(size, len(g)))]
    order = np.concatenate(groups)
    sizes = np.array([len(g) for g in groups])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    r, m = len(groups), len(order) // len(groups)
    chosen = rng.integers(0, r, size=(size, r, 1))
    within = (rng.random((size, r, m)) * sizes[chosen]).astype(int)
    return order[offsets[chosen] + within].reshape(size, r * m)


def analyze_sobol(inp: AnalysisInput, *, alpha: float = 0.05, n_resamples: int = 1000, seed: int | None = 0) -> Result:
    """Sobol indices from the trials of a Saltelli design (the record's ``sobol_point``, ``sobol_matrix``).

    Returns
    -------
    Result
        Tables ``sobol`` (:data:`SOBOL_COLUMNS`) and ``importances`` (first- and total-order rows);
        nothing for a study without a Sobol design.
    """
    rec = inp.record
    on = rec["sobol_point"].notna().to_numpy() & rec["sobol_matrix"].notna().to_numpy()
    if not on.any():
        return Result()
    frame = pd.DataFrame({
        "replicate": rec.loc[on, "replicate"].fillna(0).astype(int).to_numpy(),
        "sobol_point": rec.loc[on, "sobol_point"].astype(int).to_numpy(),
        "sobol_matrix": rec.loc[on, "sobol_matrix"].to_numpy(), "varied": rec.loc[on, "varied"].to_numpy(),
        "value": inp.y[on],
    })
    swapped = {v[0] for v, m in zip(frame["varied"], frame["sobol_matrix"]) if m == "AB" and v}
    order = inp.space.names if inp.space is not None else inp.names
    names = [n for n in order if n in swapped]
    values = saltelli_values(frame, names)
    notes = [SOBOL_READING]
    if values.n_dropped:
        notes.append(f"Sobol: {values.n_dropped} base point(s) left out: a trial of theirs did not complete.")
    if len(values) < 2:
        return Result(notes=notes + ["Sobol indices need at least 2 complete base points."])
    table = sobol_indices(values, conf_level=1 - alpha, n_resamples=n_resamples, seed=seed)
    if inp.space is not None and inp.space.conditional:
        table["estimand"] = table["estimand"] + CONDITIONAL_ESTIMAND
        notes.append(SOBOL_CONDITIONAL)
    return Result({"sobol": table, "importances": _importance_rows(table, int(on.sum()))}, notes)


def _importance_rows(table: pd.DataFrame, n_trials: int) -> pd.DataFrame:
    t = table[table["order"] != "second"]
    return pd.DataFrame({
        "method": SOBOL_METHOD, "kind": t["order"] + " order", "param": t["param"], "param_a": t["param_a"],
        "param_b": None, "importance": t["index"], "std": t["std"], "q10": t["ci_low"], "q90": t["ci_high"],
        "n_trees": 0, "n_trials": n_trials, "estimand": t["estimand"],
    }).reset_index(drop=True)
