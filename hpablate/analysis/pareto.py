"""Multi-objective studies: every configuration's mean per objective, and which lie on the Pareto front.

A configuration (:mod:`hpablate.analysis._configs`) is on the front when no other configuration's
means are at least as good in every objective and better in one (each objective in its own
direction). Means are over the completed replicates whose every objective is finite.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hpablate.analysis._configs import configurations
from hpablate.analysis._input import AnalysisInput
from hpablate.analysis._result import Result


def analyze_pareto(inp: AnalysisInput, directions: list[str], names: list[str] | None = None, *,
                   conf: float = 0.95) -> Result:
    """The ``pareto`` table of a study with more than one objective (empty otherwise).

    Parameters
    ----------
    inp : AnalysisInput
        Any objective of the study (every objective's values are in ``inp.values``).
    directions : list of str
        ``"minimize"``/``"maximize"`` per objective.
    names : list of str, optional
        The objectives' metric names (kept with the directions in ``attrs``, for figures).

    Returns
    -------
    Result
        Table ``pareto``: ``config``, ``varied``, ``level``, ``n``, then per objective ``k``
        ``mean_k``, ``ci_low_k``, ``ci_high_k``, and ``on_front``.
    """
    if inp.n_objectives < 2:
        return Result({"pareto": pd.DataFrame()})
    plan = inp.plan_only()
    ok = np.isfinite(plan.values).all(axis=1)
    params = plan.params[ok].reset_index(drop=True)
    record = plan.record[ok].reset_index(drop=True)
    cfg = configurations(params, record if inp.plan_rows is not None else None, plan.space)
    table = pd.DataFrame({"config": cfg.label, "varied": cfg.varied, "level": cfg.level})
    table["n"] = np.bincount(cfg.code, minlength=len(cfg.label))
    from hpablate.analysis.curves import curve_table

    means = []
    for k in range(plan.values.shape[1]):
        t = curve_table(cfg.code, np.zeros(len(cfg.code), dtype=np.int64), plan.values[ok, k], conf)
        table[f"mean_{k}"] = t["mean"].to_numpy()
        table[f"ci_low_{k}"] = t["ci_low"].to_numpy()
        table[f"ci_high_{k}"] = t["ci_high"].to_numpy()
        means.append(t["mean"].to_numpy())
    table["on_front"] = pareto_front(np.column_stack(means), directions)
    from hpablate.render._tables import objective_label

    names = list(names or [])
    table.attrs.update(objectives=[objective_label(k, names[k] if k < len(names) else None)
                                   for k in range(len(directions))], directions=list(directions))
    return Result({"pareto": table}, [_note(table)])


def pareto_front(values: np.ndarray, directions: list[str]) -> np.ndarray:
    """Which rows of ``values`` (rows × objectives) no other row dominates.

    Rows are visited in lexicographic order of their losses (each objective turned into one to
    minimise); a row can only be dominated by one before it, and if anything dominates it a
    front member does (dominance is transitive), so each row is checked against the front found
    so far: ``O(n × front)`` instead of ``O(n²)``. Equal rows do not dominate each other.

    Examples
    --------
    >>> pareto_front(np.array([[1.0, 5.0], [2.0, 2.0], [3.0, 3.0], [1.0, 5.0]]), ["minimize", "minimize"]).tolist()
    [True, True, False, True]
    """
    loss = np.asarray(values, dtype=float) * np.array([-1.0 if d == "maximize" else 1.0 for d in directions])
    order = np.lexsort(loss.T[::-1])
    on = np.zeros(len(loss), dtype=bool)
    front = np.empty((0, loss.shape[1]))
    for i in order:
        p = loss[i]
        if not (np.all(front <= p, axis=1) & np.any(front < p, axis=1)).any():
            on[i] = True
            front = np.vstack([front, p])
    return on


def _note(t: pd.DataFrame) -> str:
    front = t.loc[t["on_front"], "config"].tolist()
    shown = ", ".join(front[:8]) + (f" and {len(front) - 8} more" if len(front) > 8 else "")
    return (f"Pareto front (table 'pareto'): {len(front)} of {len(t)} configurations are not dominated in their "
            f"mean objectives: {shown}. hpablate.analyze_objectives() puts every objective's effects side by side.")
