"""The replicates behind the effects and structural rows, for figures that show every seed.

Nothing is re-estimated: each row of the ``effects`` / ``structural`` table is matched to the plan
trials it was computed from, with the same value matching the analyses use, and their values are
listed (an OAT level: each replicate's objective; a structural contribution: each replicate's
paired difference, whose mean is the paired contribution).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hpablate.analysis._input import AnalysisInput
from hpablate.analysis._util import matches
from hpablate.space import Component

COLUMNS = ["table", "row", "number", "replicate", "value"]


def replicate_points(inp: AnalysisInput, effects: pd.DataFrame, structural: pd.DataFrame) -> pd.DataFrame:
    """One row per (table row, replicate): ``table``, ``row`` (index in that table), ``number``
    (trial number; -1 for a paired difference), ``replicate`` and ``value``."""
    if inp.space is None or (effects.empty and structural.empty):
        return pd.DataFrame(columns=COLUMNS)
    plan = inp.plan_only()
    present = [s for s in plan.space if s.name in plan.params.columns]
    base = {s.name: matches(plan.params[s.name], s.baseline) for s in present}
    rep = pd.to_numeric(plan.record["replicate"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    number = plan.trials["number"].to_numpy()
    parts = [_effect_points(effects, plan.params, plan.y, base, rep, number),
             _structural_points(structural, plan.params, plan.y, present, base, rep)]
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)


def _effect_points(e: pd.DataFrame, params: pd.DataFrame, y: np.ndarray, base: dict[str, np.ndarray],
                   rep: np.ndarray, number: np.ndarray) -> pd.DataFrame:
    if e.empty:
        return pd.DataFrame(columns=COLUMNS)
    off = np.zeros(len(y), dtype=int)
    for m in base.values():
        off += ~m
    rows = []
    for i, r in e.iterrows():
        if r["param"] not in base:
            continue
        sel = off == 0 if r["is_baseline"] else (off == 1) & ~base[r["param"]] & matches(params[r["param"]], r["level"])
        rows += [("effects", i, int(number[k]), _rep(rep[k]), float(y[k])) for k in np.flatnonzero(sel)]
    return pd.DataFrame(rows, columns=COLUMNS)


def _structural_points(s: pd.DataFrame, params: pd.DataFrame, y: np.ndarray, present: list,
                       base: dict[str, np.ndarray], rep: np.ndarray) -> pd.DataFrame:
    """Per replicate ``mean(a) - mean(b)`` as the structural analysis pairs them (a − b: reference −
    ablated for leave-one-out, added − none for add-one-in)."""
    if s.empty or not np.isfinite(rep).any():
        return pd.DataFrame(columns=COLUMNS)
    comps = {c.name: c for c in present if isinstance(c, Component)}
    others = np.ones(len(y), dtype=bool)
    for p in present:
        if p.name not in comps:
            others &= base[p.name]
    off = {n: matches(params[n], c.off) for n, c in comps.items()}
    rows = []
    for i, r in s.iterrows():
        name = r["component"]
        if name not in comps:
            continue
        rest = [n for n in comps if n != name]
        if r["mode"] == "leave_one_out":
            a = others & np.logical_and.reduce([base[n] for n in comps])
            b = others & off[name] & np.logical_and.reduce([base[n] for n in rest] or [others])
        else:
            b = others & np.logical_and.reduce([off[n] for n in comps])
            a = others & base[name] & np.logical_and.reduce([off[n] for n in rest] or [others])
        for g in np.unique(rep[(a | b) & np.isfinite(rep)]):
            ya, yb = y[a & (rep == g)], y[b & (rep == g)]
            if len(ya) and len(yb):
                rows.append(("structural", i, -1, _rep(g), float(ya.mean() - yb.mean())))
    return pd.DataFrame(rows, columns=COLUMNS)


def _rep(x: float) -> int | None:
    return int(x) if np.isfinite(x) else None
