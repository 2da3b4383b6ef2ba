"""Structural ablation: what each component contributes.

* **leave-one-out**: ``contribution = mean(baseline) - mean(component removed, rest at baseline)``
* **add-one-in**: ``contribution = mean(only this component on) - mean(every component off)``,
  all non-component parameters at baseline.

Both are in objective units with a Welch confidence interval and p-value; ``benefit`` turns the sign
so that positive means "the component helps" whatever the direction of the objective. When trials
recorded per-class metrics (``per_class_acc`` dict or ``<metric>_class_<k>`` attributes), the
per-class drops are reported too (baseline minus ablated, same tests).
"""

from __future__ import annotations

from collections.abc import Sequence
import numpy as np
import pandas as pd

from hpablate.analysis import _notes
from hpablate.analysis._input import MAXIMIZE, MINIMIZE, AnalysisInput
from hpablate.analysis._result import Result
from hpablate.analysis._util import matches, mean_ci, per_class_metrics, welch
from hpablate.space import Component, Parameter, SearchSpace

COLUMNS = [
    "component", "mode", "reference", "n_reference", "reference_mean", "ablated", "n", "mean",
    "contribution", "ci_low", "ci_high", "p_value", "p_holm", "cohen_d", "benefit", "significant",
]
CLASS_COLUMNS = [
    "component", "mode", "metric", "class", "n_reference", "reference_mean", "n", "mean", "drop",
    "ci_low", "ci_high", "p_value", "p_holm", "significant",
]


def analyze_structural(inp: AnalysisInput, *, alpha: float = 0.05) -> Result:
    """Component contributions of a study's stored space (:func:`structural_contributions`).

    Returns
    -------
    Result
        Tables ``structural`` and ``structural_per_class`` (empty when the space has no component).
    """
    if not components(inp.space):
        return Result({"structural": pd.DataFrame(columns=COLUMNS),
                       "structural_per_class": pd.DataFrame(columns=CLASS_COLUMNS)})
    pcm = per_class_metrics(inp.trials)
    structural, per_class = structural_contributions(inp.params, inp.y, inp.space, direction=inp.direction,
                                                     per_class=pcm if pcm.shape[1] else None, alpha=alpha)
    return Result({"structural": structural, "structural_per_class": per_class},
                  [_notes.NO_REMOVAL] if structural.empty else [])


def _masks(params: pd.DataFrame, present: Sequence[Parameter]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    base = {s.name: matches(params[s.name], s.baseline) for s in present}
    off = {s.name: matches(params[s.name], s.off) for s in present if isinstance(s, Component)}
    return base, off


def structural_contributions(
    params: pd.DataFrame,
    y: np.ndarray,
    space: SearchSpace,
    *,
    direction: str = MINIMIZE,
    per_class: pd.DataFrame | None = None,
    alpha: float = 0.05,
    conf: float = 0.95,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Component contributions (and per-class drops) from completed trials.

    Parameters
    ----------
    params : DataFrame
        Parameter values of completed trials (plain names).
    y : array
        Objective values, same rows.
    space : SearchSpace
        The stored space; components are its :class:`~hpablate.Component` parameters.
    direction : {"minimize", "maximize"}
        Direction of the objective, for ``benefit``.
    per_class : DataFrame, optional
        Per-class metrics aligned with ``params`` (columns ``(metric, class)``).

    Returns
    -------
    (DataFrame, DataFrame)
        Contributions (:data:`COLUMNS`) and per-class drops (:data:`CLASS_COLUMNS`).

    Examples
    --------
    >>> import hpablate as hp
    >>> df = pd.DataFrame({"dropout": [True] * 3 + [False] * 3})
    >>> c, _ = structural_contributions(df, np.array([.9, .91, .89, .8, .81, .79]), hp.SearchSpace(hp.Component("dropout")))
    >>> round(float(c.contribution[0]), 6)
    0.1
    """
    from statsmodels.stats.multitest import multipletests

    y = np.asarray(y, dtype=float)
    present = [s for s in space if s.name in params.columns]
    comps = [s for s in present if isinstance(s, Component)]
    if not comps:
        return pd.DataFrame(columns=COLUMNS), pd.DataFrame(columns=CLASS_COLUMNS)
    base, off = _masks(params, present)
    others = np.ones(len(params), dtype=bool)  # non-component parameters at baseline
    for s in present:
        if not isinstance(s, Component):
            others &= base[s.name]
    all_base = others.copy()
    all_off = others.copy()
    for c in comps:
        all_base &= base[c.name]
        all_off &= off[c.name]
    sign = 1.0 if direction == MAXIMIZE else -1.0
    rows, class_rows = [], []
    for c in comps:
        rest_base = others.copy()
        rest_off = others.copy()
        for d in comps:
            if d.name != c.name:
                rest_base &= base[d.name]
                rest_off &= off[d.name]
        designs = [("leave_one_out", "baseline", all_base, rest_base & off[c.name], -1.0)]
        if len(comps) > 1:
            designs.append(("add_one_in", "all components off", all_off, rest_off & base[c.name], 1.0))
        for mode, ref_name, ref, abl, direction in designs:
            if not abl.any() or not ref.any():
                continue
            # leave-one-out: baseline - ablated; add-one-in: added - none
            a, b = (y[ref], y[abl]) if direction < 0 else (y[abl], y[ref])
            w = welch(a, b, conf)
            rm, _, _, _ = mean_ci(y[ref])
            m, _, _, _ = mean_ci(y[abl])
            rows.append({
                "component": c.name, "mode": mode, "reference": ref_name, "n_reference": int(ref.sum()),
                "reference_mean": rm, "ablated": c.off if mode == "leave_one_out" else c.baseline,
                "n": int(abl.sum()), "mean": m, "contribution": w["diff"], "ci_low": w["ci_low"],
                "ci_high": w["ci_high"], "p_value": w["p_value"], "p_holm": np.nan, "cohen_d": w["cohen_d"],
                "benefit": sign * w["diff"], "significant": False,
            })
            if per_class is not None and per_class.shape[1] and mode == "leave_one_out":
                pc = per_class.to_numpy(dtype=float)
                for j, (metric, cls) in enumerate(per_class.columns):
                    ra, rb = pc[ref, j], pc[abl, j]
                    ra, rb = ra[np.isfinite(ra)], rb[np.isfinite(rb)]
                    if not len(ra) or not len(rb):
                        continue
                    w2 = welch(ra, rb, conf)
                    class_rows.append({
                        "component": c.name, "mode": mode, "metric": metric, "class": cls,
                        "n_reference": len(ra), "reference_mean": float(ra.mean()), "n": len(rb),
                        "mean": float(rb.mean()), "drop": w2["diff"], "ci_low": w2["ci_low"],
                        "ci_high": w2["ci_high"], "p_value": w2["p_value"], "p_holm": np.nan,
                        "significant": False,
                    })
    out = pd.DataFrame(rows, columns=COLUMNS)
    cls_out = pd.DataFrame(class_rows, columns=CLASS_COLUMNS)
    for t in (out, cls_out):
        ok = t["p_value"].notna()
        if ok.any():
            t.loc[ok, "p_holm"] = multipletests(t.loc[ok, "p_value"].to_numpy(float), method="holm")[1]
        t["significant"] = (t["p_holm"] < alpha).fillna(False).astype(bool)
    return out, cls_out


def components(space: SearchSpace | None) -> list[str]:
    """Names of the component parameters of a stored space."""
    return [c.name for c in space.components] if space is not None else []

