"""Structural ablation: what each component contributes.

* **leave-one-out**: ``contribution = mean(baseline) - mean(component removed, rest at baseline)``
* **add-one-in**: ``contribution = mean(only this component on) - mean(every component off)``,
  all non-component parameters at baseline.

Both are in objective units, compared paired by replicate (every configuration of a replicate shares
its seed; Welch only where no replicate pairs) with a confidence interval, p-value and verdict
(:mod:`hpablate.analysis.verdicts`: with a margin, ``equivalent`` says "removing it does not
hurt"); ``benefit`` turns the sign so that positive means "the component helps" whatever the
direction of the objective. An ablated configuration whose replicates failed gets the verdict
``failed``. When trials recorded per-class metrics (``per_class_acc`` dict or
``<metric>_class_<k>`` attributes), the per-class drops are reported too (baseline minus ablated,
same tests).
"""

from __future__ import annotations

from collections.abc import Sequence
import numpy as np
import pandas as pd

from hpablate.analysis import _notes
from hpablate.analysis._input import MAXIMIZE, MINIMIZE, AnalysisInput
from hpablate.analysis._pairing import compare, observations
from hpablate.analysis._result import Result
from hpablate.analysis._branches import absent
from hpablate.analysis._util import matches, mean_ci, p_adjust, per_class_metrics
from hpablate.analysis.verdicts import Margin, parse_margin, verdict_columns
from hpablate.space import Component, Parameter, SearchSpace

COLUMNS = [
    "component", "mode", "reference", "n_reference", "reference_mean", "ablated", "n", "mean",
    "contribution", "ci_low", "ci_high", "p_value", "p_holm", "cohen_d", "benefit", "significant",
    "test", "n_pairs", "sd_diff", "se", "df", "p_perm", "n_failed", "n_total", "margin", "p_tost", "verdict",
]
CLASS_COLUMNS = [
    "component", "mode", "metric", "class", "n_reference", "reference_mean", "n", "mean", "drop",
    "ci_low", "ci_high", "p_value", "p_holm", "significant", "test", "n_pairs",
]


def analyze_structural(
    inp: AnalysisInput,
    *,
    alpha: float = 0.05,
    margin: float | str | Margin | None = None,
    failures: str = "verdict",
) -> Result:
    """Component contributions of a study's plan (:func:`structural_contributions`).

    Returns
    -------
    Result
        Tables ``structural`` and ``structural_per_class`` (empty when the space has no component).
    """
    if not components(inp.space):
        return Result({"structural": pd.DataFrame(columns=COLUMNS),
                       "structural_per_class": pd.DataFrame(columns=CLASS_COLUMNS)})
    plan = inp.plan_only()
    pcm = per_class_metrics(plan.trials)
    structural, per_class = structural_contributions(
        plan.params, plan.y, plan.space, direction=plan.direction, per_class=pcm if pcm.shape[1] else None,
        alpha=alpha, replicate=plan.replicate, failed=plan.failures, margin=margin, failures=failures)
    return Result({"structural": structural, "structural_per_class": per_class},
                  [_notes.NO_REMOVAL] if structural.empty else [])


def _masks(params: pd.DataFrame, present: Sequence[Parameter],
           conditional: bool = False) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Rows at each parameter's baseline and at each component's off value.

    In a conditional space a parameter absent from a trial does not exist there (removing
    attention removes its heads): it agrees with every reference, its parents being compared.
    """
    inactive = {s.name: absent(params[s.name]) if conditional else False for s in present}
    base = {s.name: matches(params[s.name], s.baseline) | inactive[s.name] for s in present}
    off = {s.name: matches(params[s.name], s.off) | inactive[s.name] for s in present if isinstance(s, Component)}
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
    replicate: np.ndarray | None = None,
    failed: pd.DataFrame | None = None,
    margin: float | str | Margin | None = None,
    failures: str = "verdict",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Component contributions (and per-class drops) from the plan's trials.

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
    replicate, failed, margin, failures
        As in :func:`hpablate.analysis.effects.oat_effects`: pairing by replicate, the failed
        slots, the equivalence margin (relative: of the reference mean) and how failures count.

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
    margin = parse_margin(margin)
    present = [s for s in space if s.name in params.columns]
    comps = [s for s in present if isinstance(s, Component)]
    if not comps:
        return pd.DataFrame(columns=COLUMNS), pd.DataFrame(columns=CLASS_COLUMNS)
    obs = observations(params, y, replicate, failed, failures=failures, maximize=direction == MAXIMIZE)
    base, off = _masks(obs.params, present, space.conditional)
    sign = 1.0 if direction == MAXIMIZE else -1.0
    rows, class_rows = [], []
    for c, mode, ref_name, ref, abl in _comparisons(comps, present, base, off):
        if not abl.any() or not (ref & obs.usable).any():
            continue
        # leave-one-out: baseline - ablated; add-one-in: added - none
        a, b = (ref & obs.usable, abl & obs.usable) if mode == "leave_one_out" else (abl & obs.usable, ref & obs.usable)
        w = compare(obs.y, obs.replicate, a, b, conf)
        rows.append({
            "component": c.name, "mode": mode, "reference": ref_name, "n_reference": int((ref & obs.usable).sum()),
            "reference_mean": mean_ci(obs.y[ref & obs.usable])[0],
            "ablated": c.off if mode == "leave_one_out" else c.baseline, "n": int((abl & obs.usable).sum()),
            "mean": mean_ci(obs.y[abl & obs.usable])[0], "contribution": w["diff"], "ci_low": w["ci_low"],
            "ci_high": w["ci_high"], "p_value": w["p_value"], "p_holm": np.nan, "cohen_d": w["cohen_d"],
            "benefit": sign * w["diff"], "significant": False, "test": w["test"], "n_pairs": int(w["n_pairs"]),
            "sd_diff": w["sd_diff"], "se": w["se"], "df": w["df"], "p_perm": w["p_perm"],
            "n_failed": obs.count(abl, "failed"), "n_total": int(abl.sum()),
        })
        if per_class is not None and per_class.shape[1] and mode == "leave_one_out":
            class_rows += _class_drops(c.name, mode, per_class, obs.replicate, a[: len(per_class)],
                                       b[: len(per_class)], conf)
    out = _holm(pd.DataFrame(rows, columns=COLUMNS), alpha)
    if len(out):
        # removing a helpful component shows as a positive contribution: "benefit" is the improvement
        # the component brings, so "worse" means removing it makes the objective better.
        v = verdict_columns(out, effect="contribution", improvement="benefit", reference="reference_mean",
                            alpha=alpha, margin=margin, failed=(out["n_failed"] > 0) & (failures == "verdict"))
        out[["margin", "p_tost", "verdict"]] = v[["margin", "p_tost", "verdict"]]
    return out, _holm(pd.DataFrame(class_rows, columns=CLASS_COLUMNS), alpha)


def _comparisons(comps: list[Component], present: Sequence[Parameter], base: dict[str, np.ndarray],
                 off: dict[str, np.ndarray]) -> list[tuple[Component, str, str, np.ndarray, np.ndarray]]:
    """``(component, mode, reference name, reference rows, ablated rows)`` of every planned comparison."""
    n = len(next(iter(base.values())))
    others = np.ones(n, dtype=bool)  # non-component parameters at baseline
    for s in present:
        if not isinstance(s, Component):
            others &= base[s.name]
    all_base = others.copy()
    all_off = others.copy()
    for c in comps:
        all_base &= base[c.name]
        all_off &= off[c.name]
    out = []
    for c in comps:
        rest_base = others.copy()
        rest_off = others.copy()
        for d in comps:
            if d.name != c.name:
                rest_base &= base[d.name]
                rest_off &= off[d.name]
        out.append((c, "leave_one_out", "baseline", all_base, rest_base & off[c.name]))
        if len(comps) > 1:
            out.append((c, "add_one_in", "all components off", all_off, rest_off & base[c.name]))
    return out


def _class_drops(name: str, mode: str, per_class: pd.DataFrame, replicate: np.ndarray | None, a: np.ndarray,
                 b: np.ndarray, conf: float) -> list[dict]:
    """Per-class ``mean(a) - mean(b)`` of every (metric, class) column, paired like the objective."""
    pc = per_class.to_numpy(dtype=float)
    rep = None if replicate is None else replicate[: len(per_class)]
    rows = []
    for j, (metric, cls) in enumerate(per_class.columns):
        fa, fb = a & np.isfinite(pc[:, j]), b & np.isfinite(pc[:, j])
        if not fa.any() or not fb.any():
            continue
        w = compare(pc[:, j], rep, fa, fb, conf)
        rows.append({
            "component": name, "mode": mode, "metric": metric, "class": cls, "n_reference": int(fa.sum()),
            "reference_mean": float(pc[fa, j].mean()), "n": int(fb.sum()), "mean": float(pc[fb, j].mean()),
            "drop": w["diff"], "ci_low": w["ci_low"], "ci_high": w["ci_high"], "p_value": w["p_value"],
            "p_holm": np.nan, "significant": False, "test": w["test"], "n_pairs": int(w["n_pairs"]),
        })
    return rows


def _holm(t: pd.DataFrame, alpha: float) -> pd.DataFrame:
    ok = t["p_value"].notna()
    if ok.any():
        t.loc[ok, "p_holm"] = p_adjust(t.loc[ok, "p_value"].to_numpy(float), "holm")
    t["significant"] = (t["p_holm"] < alpha).fillna(False).astype(bool)
    return t


def components(space: SearchSpace | None) -> list[str]:
    """Names of the component parameters of a stored space."""
    return [c.name for c in space.components] if space is not None else []

