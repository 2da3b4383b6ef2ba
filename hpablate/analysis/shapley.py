"""Shapley values and pairwise Shapley interaction indices of a Shapley ablation design.

For each replicate (seed) the worth ``v(S)`` of every subset run is the objective of its trial;
the Shapley value of component ``i`` is ``Σ_{S ∌ i} |S|! (k-|S|-1)! / k! · (v(S ∪ i) - v(S))``
(exhaustive designs) or the mean of ``v(pre_i ∪ i) - v(pre_i)`` over the replicate's sampled
orders; the pairwise Shapley interaction index (Grabisch 1997) is
``Σ_{S ⊆ N∖{i,j}} |S|! (k-|S|-2)! / (k-1)! · (v(S∪ij) - v(S∪i) - v(S∪j) + v(S))``. Every
replicate's values sum exactly to its ``v(all) - v(∅)`` (efficiency). Replicates share their seed
across subsets (common random numbers), so the per-replicate values are paired and the CI is a
t interval over replicates; with one replicate of a sampled design, over the orders.

Leave-one-component-out (``v(all) - v(all ∖ i)``) and add-one-in (``v({i}) - v(∅)``) effects come
from the same trials, side by side: with interactions they differ from the Shapley value, which
lies between them when the interactions all have one sign.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from hpablate.analysis._input import AnalysisInput
from hpablate.analysis._result import Result
from hpablate.design.shapley import exact_weights, on_value, shapley_games, shapley_orders
from hpablate.space import Component, same_value

SHAPLEY_COLUMNS = ["game", "component", "on", "shapley", "ci_low", "ci_high", "share", "loco", "loco_ci_low",
                   "loco_ci_high", "add_one_in", "full_minus_bare", "n_replicates", "estimand"]
INTERACTION_COLUMNS = ["game", "component_a", "component_b", "interaction", "ci_low", "ci_high", "n_replicates"]
SHAPLEY_ESTIMAND = "Shapley value of the metric (share of full - bare, averaged over orders)"
SHAPLEY_READING = (
    "Shapley values: each component's share of the difference between the full model (every component on) and "
    "the bare one (every component off), averaged over the orders in which components could be added; they sum "
    "to full - bare, in the metric's units and sign. `loco` is what is lost when the component alone is removed "
    "from the full model, `add_one_in` what it adds to the bare one: with interactions they differ from the "
    "Shapley value. A game `name=choice` compares that choice of a multi-valued component against its ablated "
    "value. CIs are t intervals over seeds (replicates are paired by seed)."
)


def shapley_values(v: np.ndarray, k: int) -> np.ndarray:
    """Exact Shapley values from every subset's worth.

    Parameters
    ----------
    v : ndarray, shape (..., 2**k)
        ``v[..., mask]``: the worth of the subset whose members are the set bits of ``mask``.

    Examples
    --------
    >>> v = np.array([0.0, 1.0, 2.0, 3.0 + 4.0])  # a=1, b=2, interaction 4
    >>> shapley_values(v, 2).tolist()
    [3.0, 4.0]
    """
    masks = np.arange(2**k)
    size = np.array([bin(m).count("1") for m in masks])
    w = exact_weights(k)
    out = np.zeros((*v.shape[:-1], k))
    for i in range(k):
        without = masks[(masks >> i & 1) == 0]
        out[..., i] = ((v[..., without | 1 << i] - v[..., without]) * w[size[without]]).sum(axis=-1)
    return out


def shapley_interactions(v: np.ndarray, k: int) -> np.ndarray:
    """Pairwise Shapley interaction indices, shape ``(..., k, k)`` (upper triangle; needs ``k >= 2``).

    Examples
    --------
    >>> v = np.array([0.0, 1.0, 2.0, 7.0])
    >>> float(shapley_interactions(v, 2)[0, 1])
    4.0
    """
    masks = np.arange(2**k)
    size = np.array([bin(m).count("1") for m in masks])
    w = np.array([math.factorial(s) * math.factorial(k - s - 2) / math.factorial(k - 1) for s in range(k - 1)])
    out = np.full((*v.shape[:-1], k, k), np.nan)
    for i in range(k):
        for j in range(i + 1, k):
            rest = masks[((masks >> i & 1) == 0) & ((masks >> j & 1) == 0)]
            d = v[..., rest | 1 << i | 1 << j] - v[..., rest | 1 << i] - v[..., rest | 1 << j] + v[..., rest]
            out[..., i, j] = (d * w[size[rest]]).sum(axis=-1)
    return out


def order_contributions(v: dict[int, float], orders: np.ndarray) -> np.ndarray:
    """Marginal contributions along each order, shape ``(m, k)`` (NaN rows: a subset did not run)."""
    m, k = orders.shape
    out = np.full((m, k), np.nan)
    for r, order in enumerate(orders):
        mask, prev, row = 0, v.get(0), np.full(k, np.nan)
        for i in order:
            mask |= 1 << int(i)
            cur = v.get(mask)
            row[i] = np.nan if cur is None or prev is None else cur - prev
            prev = cur
        out[r] = row
    return out


def analyze_shapley(inp: AnalysisInput, *, alpha: float = 0.05) -> Result:
    """Shapley values, interactions and LOCO effects of a Shapley design's trials.

    Returns
    -------
    Result
        Tables ``shapley`` (:data:`SHAPLEY_COLUMNS`) and ``shapley_interactions``
        (:data:`INTERACTION_COLUMNS`); nothing for a study without a Shapley design.
    """
    names = inp.study_record.settings.get("shapley_components")
    if inp.design != "shapley" or not names or inp.space is None:
        return Result()
    comps = [inp.space[n] for n in names]
    if not all(isinstance(c, Component) for c in comps):
        return Result(notes=["Shapley: the stored players are not all components of the stored space."])
    m = int(inp.study_record.settings.get("shapley_permutations") or 0)
    worth = _worth_tables(inp, comps)
    rows, pairs, notes = [], [], [SHAPLEY_READING]
    for label, game in zip(_game_labels(comps), shapley_games(comps)):
        per_rep = {rep: _game_worth(tab, comps, game) for rep, tab in worth.items()}
        r_rows, r_pairs, r_notes = _game_tables(label, game, comps, per_rep, m, alpha)
        rows += r_rows
        pairs += r_pairs
        notes += r_notes
    if m:
        notes.append(f"Shapley: sampled design, {m} orders per replicate (antithetic pairs); interaction indices "
                     "need every subset and are not computed.")
    return Result({"shapley": pd.DataFrame(rows, columns=SHAPLEY_COLUMNS),
                   "shapley_interactions": pd.DataFrame(pairs, columns=INTERACTION_COLUMNS)}, notes)


def _worth_tables(inp: AnalysisInput, comps: Sequence[Component]) -> dict[tuple[int, int], dict[tuple, float]]:
    """Per (replicate, seed): mean objective by the components' values (trials of one subset averaged)."""
    rec = inp.record
    on = (rec["design"] == "shapley").to_numpy()
    reps = rec.loc[on, "replicate"].fillna(0).astype(int).to_numpy()
    seeds = rec.loc[on, "seed"].fillna(0).astype(int).to_numpy()
    keys = list(zip(*[inp.params.loc[on, c.name].map(_key).to_numpy() for c in comps]))
    frame = pd.DataFrame({"rep": reps, "seed": seeds, "key": keys, "y": inp.y[on]})
    out: dict[tuple[int, int], dict[tuple, float]] = {}
    for (rep, seed), g in frame.groupby(["rep", "seed"], sort=True):
        out[(int(rep), int(seed))] = g.groupby("key", sort=False)["y"].mean().to_dict()
    return out


def _key(value: Any) -> str:
    return repr(value)


def _game_worth(table: dict[tuple, float], comps: Sequence[Component], game: dict[str, Any]) -> dict[int, float]:
    """``v(mask)`` of one game in one replicate, for the subsets that ran."""
    out = {}
    for mask in range(2 ** len(comps)):
        key = tuple(_key(game[c.name] if mask >> i & 1 else c.off) for i, c in enumerate(comps))
        if key in table:
            out[mask] = table[key]
    return out


def _game_labels(comps: Sequence[Component]) -> list[str]:
    main = {c.name: on_value(c) for c in comps}
    labels = ["full"]
    for game in shapley_games(comps)[1:]:
        changed = next(c.name for c in comps if not same_value(game[c.name], main[c.name]))
        labels.append(f"{changed}={game[changed]}")
    return labels


def _game_tables(label: str, game: dict[str, Any], comps: Sequence[Component], per_rep: dict[tuple[int, int], dict[int, float]],
                 m: int, alpha: float) -> tuple[list[dict], list[dict], list[str]]:
    k, full = len(comps), 2 ** len(comps) - 1
    phis, inters, locos, adds, gaps, notes = [], [], [], [], [], []
    for (rep, seed), v in per_rep.items():
        if m == 0:
            if len(v) < 2**k:
                notes.append(f"Shapley ({label}): replicate {rep} left out: {2**k - len(v)} subset(s) did not complete.")
                continue
            arr = np.array([v[s] for s in range(2**k)])
            phis.append(shapley_values(arr, k)[None])
            if k >= 2:
                inters.append(shapley_interactions(arr, k))
        else:
            contrib = order_contributions(v, shapley_orders(k, m, seed))
            contrib = contrib[~np.isnan(contrib).any(axis=1)]
            if not len(contrib):
                continue
            phis.append(contrib)
        locos.append([v.get(full, np.nan) - v.get(full & ~(1 << i), np.nan) for i in range(k)])
        adds.append([v.get(1 << i, np.nan) - v.get(0, np.nan) for i in range(k)])
        gaps.append(v.get(full, np.nan) - v.get(0, np.nan))
    if not phis:
        return [], [], notes + [f"Shapley ({label}): no replicate has every subset it needs."]
    # One unit per replicate; a single replicate of a sampled design: its orders are the units.
    units = np.array([p.mean(axis=0) for p in phis]) if len(phis) > 1 or m == 0 else phis[0]
    with warnings.catch_warnings():  # a sampled design may lack the LOCO subsets: NaN columns, no warning
        warnings.simplefilter("ignore", RuntimeWarning)
        phi, lo, hi = _t_interval(units, alpha)
        loco, llo, lhi = _t_interval(np.array(locos), alpha)
        add = np.nanmean(np.array(adds), axis=0)
    gap = float(np.nanmean(gaps))
    rows = [{"game": label, "component": c.name, "on": game[c.name], "shapley": phi[i], "ci_low": lo[i],
             "ci_high": hi[i], "share": phi[i] / gap if gap else np.nan, "loco": loco[i], "loco_ci_low": llo[i],
             "loco_ci_high": lhi[i], "add_one_in": float(add[i]),
             "full_minus_bare": gap, "n_replicates": len(phis), "estimand": SHAPLEY_ESTIMAND}
            for i, c in enumerate(comps)]
    pairs = []
    if inters:
        stack = np.array(inters)
        for i in range(k):
            for j in range(i + 1, k):
                est, a, b = _t_interval(stack[:, i, j][:, None], alpha)
                pairs.append({"game": label, "component_a": comps[i].name, "component_b": comps[j].name,
                              "interaction": est[0], "ci_low": a[0], "ci_high": b[0], "n_replicates": len(stack)})
    return rows, pairs, notes


def _t_interval(x: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Column means and their t intervals (NaN bounds with fewer than 2 rows)."""
    from scipy import stats

    x = np.atleast_2d(np.asarray(x, dtype=float))
    n = np.sum(~np.isnan(x), axis=0)
    mean = np.nanmean(x, axis=0)
    if x.shape[0] < 2:
        return mean, np.full_like(mean, np.nan), np.full_like(mean, np.nan)
    half = stats.t.ppf(1 - alpha / 2, np.maximum(n - 1, 1)) * np.nanstd(x, axis=0, ddof=1) / np.sqrt(n)
    half = np.where(n >= 2, half, np.nan)
    return mean, mean - half, mean + half
