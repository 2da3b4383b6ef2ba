"""The ablation path of an :class:`~hpablate.AblationPathSampler` study: its steps and every round.

The path runs from the source (the baseline) to the target; step ``s`` is the configuration kept
in round ``s-1`` (the source for ``s = 0``, the target for the last step). Each step's *gain* is
its improvement over the step before, in the objective's direction (positive: better), paired by
replicate (every configuration of a replicate shares its seed), with the paired t interval; the
steps' Holm-adjusted p-values form one family. Shares are gains over the whole source-to-target
gain (they sum to 1 when every step ran). ``path_candidates`` shows every round's candidates
against the round's starting configuration, and which was kept.

Reading it: a path is *greedy* and *local*. Each step's gain is measured where the path stands,
after the earlier steps; a parameter flipped late can look small because an earlier flip already
bought what it would have bought (Fawcett & Hoos, 2016). For shares that do not depend on an
order, use a Shapley design (components) or Sobol indices.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from hpablate.analysis._input import AnalysisInput
from hpablate.analysis._pairing import compare
from hpablate.analysis._result import Result
from hpablate.analysis._util import mean_ci, p_adjust
from hpablate.design.path import CANDIDATE, SOURCE, TARGET, round_sizes

PATH_COLUMNS = ["step", "param", "from_value", "to_value", "n", "mean", "mean_ci_low", "mean_ci_high", "delta",
                "gain", "gain_ci_low", "gain_ci_high", "p_value", "p_holm", "significant", "share", "n_pairs", "test"]
CANDIDATE_COLUMNS = ["round", "param", "to_value", "n", "mean", "gain", "gain_ci_low", "gain_ci_high", "p_value",
                     "n_pairs", "kept"]

PATH_READING = (
    "Ablation path: each step's gain is measured after the earlier steps (greedy, order-dependent); a "
    "parameter flipped late can show little because an earlier flip already bought its share. For "
    "order-free shares use a Shapley design (components) or Sobol indices (--design shapley|sobol)."
)


def analyze_path(inp: AnalysisInput, *, alpha: float = 0.05) -> Result:
    """The path's steps with paired gains, and every round's candidates.

    Parameters
    ----------
    inp : AnalysisInput
        The plan's trials (``inp.plan_only()``) of an ablation-path study.
    alpha : float
        Significance level (Holm over the path's steps).

    Returns
    -------
    Result
        Tables ``path`` (:data:`PATH_COLUMNS`) and ``path_candidates`` (:data:`CANDIDATE_COLUMNS`);
        nothing for a study of another design.
    """
    settings = inp.study_record.settings
    moves = settings.get("path_moves")
    if inp.design != "path" or not moves or inp.space is None:
        return Result()
    rec = inp.record
    rounds = _rounds(rec)
    kept, notes = _kept_moves(inp, rounds, list(moves)), [PATH_READING]
    steps = _step_masks(rec, rounds, kept, len(moves))
    rows = _step_rows(inp, steps, kept, settings.get("path_target") or {}, alpha)
    candidates = _candidate_rows(inp, rounds, kept, steps)
    if len(kept) < len(moves):
        notes.append(f"Ablation path: {len(kept)} of {len(moves)} steps were decided; the study is not finished "
                     "(run it again to continue).")
    empty = [r["param"] for r in candidates if r["n"] == 0]
    if empty:
        notes.append(f"Ablation path: no replicate completed for {', '.join(sorted(set(map(str, empty))))} in some "
                     "round; such a candidate cannot be kept (a round where none completed keeps its first move).")
    return Result({"path": pd.DataFrame(rows, columns=PATH_COLUMNS),
                   "path_candidates": pd.DataFrame(candidates, columns=CANDIDATE_COLUMNS)}, notes)


def _rounds(rec: pd.DataFrame) -> np.ndarray:
    return np.asarray(rec["path_round"].astype("Float64").fillna(-1).to_numpy(dtype=float), dtype=int)


def _prefix(rec: pd.DataFrame, i: int) -> tuple[str, ...]:
    value = rec["path_prefix"].iat[i]
    return tuple(value) if isinstance(value, (list, tuple)) else ()


def _kept_moves(inp: AnalysisInput, rounds: np.ndarray, moves: list[str]) -> list[str]:
    """The move kept in each decided round: what the next round started from, else the best mean.

    The last round that ran is decided by the sampler's rule (best mean over completed replicates,
    ties to the first move in declaration order) once every one of its slots completed or failed.
    """
    rec = inp.record
    kept: list[str] = []
    sign = 1.0 if inp.maximize else -1.0
    for r in range(len(moves) - 1):
        later = np.flatnonzero(rounds == r + 1)
        if len(later):
            kept.append(_prefix(rec, int(later[0]))[r])
            continue
        if not _round_finished(inp, rounds, r, len(moves)):
            break
        remaining = [m for m in moves if m not in kept]
        means = {m: float(np.mean(inp.y[mask])) for m in remaining
                 if (mask := _candidate_mask(rec, rounds, r, m)).any()}
        kept.append(max(remaining, key=lambda m: (sign * means.get(m, -math.inf), -remaining.index(m))))
    if len(kept) == len(moves) - 1:
        kept += [m for m in moves if m not in kept]
    return kept


def _round_finished(inp: AnalysisInput, rounds: np.ndarray, r: int, n_moves: int) -> bool:
    """Whether every slot of round ``r`` completed or failed (the plan's size gives the replicates)."""
    sizes = round_sizes(n_moves)
    n_slots = inp.study_record.n_slots
    if not n_slots or n_slots % sum(sizes) or r >= len(sizes):
        return False
    expected = sizes[r] * (n_slots // sum(sizes))
    start = sum(sizes[:r]) * (n_slots // sum(sizes))
    slots = {int(v) for v in inp.record["slot"].dropna()} | {int(v) for v in inp.failures.get("slot", pd.Series()).dropna()}
    return all(i in slots for i in range(start, start + expected))


def _candidate_mask(rec: pd.DataFrame, rounds: np.ndarray, r: int, move: str) -> np.ndarray:
    roles = rec["path_role"].to_numpy(dtype=object)
    varied = rec["varied"].to_numpy(dtype=object)
    return (rounds == r) & (roles == CANDIDATE) & np.array([tuple(v) == (move,) for v in varied], dtype=bool)


def _step_masks(rec: pd.DataFrame, rounds: np.ndarray, kept: list[str], n_moves: int) -> list[np.ndarray]:
    """Rows of each step: the source, the kept candidate of each round, the target."""
    roles = rec["path_role"].to_numpy(dtype=object)
    masks = [(rounds == 0) & (roles == SOURCE)]
    for r, move in enumerate(kept[: n_moves - 1]):
        masks.append(_candidate_mask(rec, rounds, r, move))
    if len(kept) == n_moves:
        masks.append((rounds == 0) & (roles == TARGET))
    return masks


def _step_rows(inp: AnalysisInput, steps: list[np.ndarray], kept: list[str], target: dict[str, Any],
               alpha: float) -> list[dict[str, Any]]:
    y, replicate = inp.y, inp.record["replicate"].to_numpy(dtype=object)
    sign = 1.0 if inp.maximize else -1.0
    source = inp.space.baseline if inp.space is not None else {}
    total = compare(y, replicate, steps[-1], steps[0]) if len(steps) > 1 else None
    rows = []
    for s, mask in enumerate(steps):
        mean, _, low, high = mean_ci(y[mask])
        row: dict[str, Any] = {"step": s, "param": None if s == 0 else kept[s - 1], "from_value": None,
                               "to_value": None, "n": int(mask.sum()), "mean": mean, "mean_ci_low": low,
                               "mean_ci_high": high}
        if s:
            move = kept[s - 1]
            stat = compare(y, replicate, mask, steps[s - 1])
            lo, hi = sign * stat["ci_low"], sign * stat["ci_high"]
            row.update(from_value=source.get(move), to_value=target.get(move), delta=stat["diff"],
                       gain=sign * stat["diff"], gain_ci_low=min(lo, hi), gain_ci_high=max(lo, hi),
                       p_value=stat["p_value"], n_pairs=stat["n_pairs"], test=stat["test"])
            if total is not None and total["diff"] not in (0.0,) and np.isfinite(total["diff"]):
                row["share"] = stat["diff"] / total["diff"]
        rows.append(row)
    p = np.array([r.get("p_value", math.nan) for r in rows[1:]], dtype=float)
    holm = p_adjust(p, "holm") if len(p) else p
    for row, ph in zip(rows[1:], holm):
        row["p_holm"] = ph
        row["significant"] = bool(np.isfinite(ph) and ph < alpha)
    if rows:
        rows[0]["significant"] = False
    return rows


def _candidate_rows(inp: AnalysisInput, rounds: np.ndarray, kept: list[str],
                    steps: list[np.ndarray]) -> list[dict[str, Any]]:
    rec, y = inp.record, inp.y
    replicate = rec["replicate"].to_numpy(dtype=object)
    sign = 1.0 if inp.maximize else -1.0
    target = inp.study_record.settings.get("path_target") or {}
    moves = list(inp.study_record.settings.get("path_moves") or [])
    rows = []
    for r in range(max(rounds.max(initial=-1) + 1, 0)):
        start = steps[r] if r < len(steps) else None
        for move in [m for m in moves if m not in kept[:r]]:
            mask = _candidate_mask(rec, rounds, r, move)
            row: dict[str, Any] = {"round": r, "param": move, "to_value": target.get(move), "n": int(mask.sum()),
                                   "mean": float(np.mean(y[mask])) if mask.any() else math.nan,
                                   "kept": r < len(kept) and kept[r] == move}
            if start is not None and mask.any():
                stat = compare(y, replicate, mask, start)
                lo, hi = sign * stat["ci_low"], sign * stat["ci_high"]
                row.update(gain=sign * stat["diff"], gain_ci_low=min(lo, hi), gain_ci_high=max(lo, hi),
                           p_value=stat["p_value"], n_pairs=stat["n_pairs"])
            rows.append(row)
    return rows


__all__ = ["CANDIDATE_COLUMNS", "PATH_COLUMNS", "analyze_path"]
