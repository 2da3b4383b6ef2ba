"""The analysis of one study and objective: DataFrames, a summary, plotly figures, HTML/Markdown.

:func:`analyze_data` is pure computation on a :class:`~hpablate.analysis.load.StudyData`;
:func:`hpablate.analyze` loads the study read-only and calls it.
"""

from __future__ import annotations

import html
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hpablate.analysis import effects as _effects
from hpablate.analysis import importance as _imp
from hpablate.analysis import interactions as _inter
from hpablate.analysis import structural as _struct
from hpablate.analysis._util import fmt_value, per_class_metrics, to_builtin
from hpablate.analysis.load import ATTR_PREFIX, PARAM_PREFIX, StudyData
from hpablate.errors import HpablateError, NoTrialsError
from hpablate.space import SearchSpace
from hpablate.record import TRAJECTORY_ATTR, read_study_record, trial_record_frame

PLAN_DESIGNS = ("baseline", "oat", "grid", "structural", "morris")


class ObjectiveIndexError(HpablateError, ValueError):
    """The objective index is not one of the study's objectives."""


@dataclass
class AnalysisReport:
    """Everything the analysis found about one objective of one study.

    Attributes
    ----------
    study_name, objective, direction : str, int, str
    design : str or None
        ``hpablate.design`` of the study (None for plain Optuna studies).
    counts : dict
        Trials per state and the number used.
    effects : DataFrame
        One-at-a-time effects (local, at the baseline), one row per parameter × level.
    interactions : DataFrame
        Two-way ANOVA rows (``source`` ``grid`` or ``binned``).
    interaction_tables : dict of DataFrame
        Mean tables keyed ``"a × b"``.
    marginal_tables : dict of DataFrame
        Binned marginal tables (plain Optuna studies).
    structural, structural_per_class : DataFrame
        Component contributions and per-class drops.
    importances : DataFrame
        fANOVA marginal + pairwise, PED-ANOVA, Morris; each row names ``method`` and ``estimand``.
    morris : DataFrame
        Morris mu, mu*, sigma and bootstrap CI of mu* (also summarised in ``importances``).
    summary : list of str
        Plain-language findings, most important first.
    notes : list of str
        What could not be computed and why, and how to read the numbers.
    """

    study_name: str
    objective: int
    direction: str
    design: str | None
    counts: dict[str, int]
    effects: pd.DataFrame
    interactions: pd.DataFrame
    interaction_tables: dict[str, pd.DataFrame]
    marginal_tables: dict[str, pd.DataFrame]
    structural: pd.DataFrame
    structural_per_class: pd.DataFrame
    importances: pd.DataFrame
    morris: pd.DataFrame
    summary: list[str]
    notes: list[str]
    params: list[str] = field(default_factory=list)
    log_params: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    _figures: dict[str, Any] | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ tables

    def tables(self) -> dict[str, pd.DataFrame]:
        """The report's tables by name (what the CLI prints)."""
        return {
            "effects": self.effects,
            "interactions": self.interactions,
            "structural": self.structural,
            "structural_per_class": self.structural_per_class,
            "importances": self.importances,
            "morris": self.morris,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: metadata, summary, notes and every table as a list of records."""
        out: dict[str, Any] = {
            "study": self.study_name, "objective": self.objective, "direction": self.direction,
            "design": self.design, "counts": self.counts, "summary": self.summary, "notes": self.notes,
        }
        for name, t in self.tables().items():
            out[name] = _records(t)
        out["interaction_tables"] = {k: _pivot_records(v) for k, v in self.interaction_tables.items()}
        out["marginal_tables"] = {k: _records(v) for k, v in self.marginal_tables.items()}
        return to_builtin(out)

    def to_json(self, indent: int | None = 2) -> str:
        """:meth:`to_dict` as JSON text (numpy scalars cast, NaN as null)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def to_markdown(self) -> str:
        """The report as Markdown (summary, notes and tables), for papers and READMEs."""
        lines = [f"# Analysis of study `{self.study_name}` (objective {self.objective}, {self.direction})", ""]
        lines += [f"Design: {self.design or 'plain Optuna study'}; trials: " + _counts_text(self.counts), ""]
        if self.summary:
            lines += ["## Summary", ""] + [f"- {s}" for s in self.summary] + [""]
        if self.notes:
            lines += ["## Notes", ""] + [f"- {s}" for s in self.notes] + [""]
        for title, t in self._display_tables():
            lines += [f"## {title}", "", _md_table(t), ""]
        for k, t in {**self.interaction_tables}.items():
            lines += [f"### Mean {k}", "", _md_table(t.reset_index()), ""]
        return "\n".join(lines)

    def _display_tables(self) -> list[tuple[str, pd.DataFrame]]:
        out = []
        if len(self.effects):
            out.append(("One-at-a-time effects (local, at the baseline)", _fmt_effects(self.effects)))
        if len(self.interactions):
            out.append(("Interactions (two-way ANOVA, type II)", _fmt_table(self.interactions)))
        if len(self.structural):
            out.append(("Structural contributions", _fmt_table(self.structural)))
        if len(self.structural_per_class):
            out.append(("Per-class drops (baseline minus ablated)", _fmt_table(self.structural_per_class)))
        if len(self.importances):
            out.append(("Importances", _fmt_table(_short_importances(self.importances))))
        if len(self.morris):
            out.append(("Morris elementary effects", _fmt_table(self.morris)))
        return out

    def to_text(self) -> str:
        """Plain-text tables for a terminal."""
        parts = [f"study {self.study_name!r}, objective {self.objective} ({self.direction}), "
                 f"design: {self.design or 'plain Optuna'}; trials: {_counts_text(self.counts)}", ""]
        if self.summary:
            parts += ["Summary:"] + [f"  * {s}" for s in self.summary] + [""]
        for title, t in self._display_tables():
            parts += [f"== {title} ==", t.to_string(index=False), ""]
        for k, t in self.interaction_tables.items():
            parts += [f"-- mean objective, {k} --", _fmt_pivot(t).to_string(), ""]
        if self.notes:
            parts += ["Notes:"] + [f"  - {s}" for s in self.notes]
        return "\n".join(parts)

    # ------------------------------------------------------------------ figures

    @property
    def figures(self) -> dict[str, Any]:
        """Plotly figures by name: ``oat``, ``tornado``, ``interaction: a × b``, ``importance``,
        ``pairwise``, ``morris``, ``structural`` (only those the data supports)."""
        if self._figures is None:
            from hpablate.analysis import _figures

            self._figures = _figures.make_figures(self)
        return self._figures

    def to_html(self, path: str | None = None) -> str:
        """One self-contained HTML file (plotly.js inline, no network access needed).

        Parameters
        ----------
        path : str, optional
            Where to write it; the HTML text is returned either way.
        """
        from hpablate.analysis import _figures

        text = _figures.render_html(self)
        if path is not None:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        return text


# ---------------------------------------------------------------------------------------------
# Orchestration


def analyze_data(
    data: StudyData,
    objective: int = 0,
    *,
    alpha: float = 0.05,
    n_trees: int = 64,
    seed: int | None = 0,
    encoding: str = "hpablate",
    pair_cell_budget: float | None = 3e7,
    ped_anova: bool = True,
) -> AnalysisReport:
    """Analyse one objective of a study held as :class:`StudyData` (pure computation).

    See :func:`hpablate.analyze` for the parameters.
    """
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    if isinstance(objective, bool) or not isinstance(objective, (int, np.integer)) or not (
        0 <= objective < max(data.n_objectives, 1)
    ):
        raise ObjectiveIndexError(
            f"objective {objective!r} out of range: study {data.name!r} has {data.n_objectives} objective(s)"
        )
    objective = int(objective)
    direction = data.directions[objective] if data.directions else "minimize"
    maximize = direction == "maximize"
    trials = data.trials
    ycol = f"value_{objective}"
    states = trials["state"].value_counts().to_dict()
    finite = np.isfinite(trials[ycol].to_numpy(dtype=float)) if ycol in trials else np.zeros(len(trials), bool)
    done = (trials["state"] == "COMPLETE").to_numpy() & finite
    counts = {str(k).lower(): int(v) for k, v in states.items()}
    counts["total"] = int(len(trials))
    counts["used"] = int(done.sum())
    if not done.any():
        raise NoTrialsError(f"study {data.name!r} has no completed trials with a finite objective {objective} "
                            f"({_counts_text(counts)})")
    notes: list[str] = list(data.notes)
    summary: list[str] = []
    comp = trials.loc[done].reset_index(drop=True)
    y = comp[ycol].to_numpy(dtype=float)
    names = [n for n in data.distributions]
    params = pd.DataFrame({n: comp[PARAM_PREFIX + n] for n in names}, index=comp.index)
    record = read_study_record(data.user_attrs)
    space = record.space
    design = record.design
    if data.n_objectives > 1:
        notes.append(f"Multi-objective study: this report analyses objective {objective} ({direction}) alone; "
                     f"run it again with objective=0..{data.n_objectives - 1} for the others.")
    n_fail = counts.get("fail", 0) + counts.get("pruned", 0)
    if n_fail:
        notes.append(f"{n_fail} failed or pruned trials are left out of every statistic "
                     "(their absence can bias means if failures depend on the parameters).")

    # ---- effects & structural (need the hpablate baseline)
    effects = pd.DataFrame(columns=_effects.COLUMNS)
    structural = pd.DataFrame(columns=_struct.COLUMNS)
    per_class = pd.DataFrame(columns=_struct.CLASS_COLUMNS)
    log_params: list[str] = []
    if space is None:
        notes.append("No hpablate search space is stored in this study (plain Optuna): one-at-a-time effects "
                     "and structural contributions need an hpablate baseline (create the study with "
                     "hpablate.create_study and a plan sampler). Reported instead: importances and "
                     "marginal/pairwise tables binned from the trials.")
    else:
        log_params = [s.name for s in space if s.name in params.columns and getattr(s, "log", False)]
        t = time.perf_counter()
        effects = _effects.oat_effects(params, y, space, maximize=maximize, alpha=alpha)
        timings["effects"] = time.perf_counter() - t
        if (~effects["is_baseline"]).sum() == 0:
            notes.append("No trial differs from the baseline in exactly one parameter: no one-at-a-time effects "
                         "(use hpablate.OneAtATimeSampler).")
        elif effects.attrs.get("baseline_n", 0) < 2:
            notes.append("Fewer than two baseline trials: effects have no confidence intervals or tests "
                         "(run the design with repeats >= 2).")
        else:
            notes.append("One-at-a-time effects are local: each is measured at the baseline with every other "
                         "parameter fixed, and cannot see interactions. Use a grid design "
                         "(GridCombinationSampler) for pairs or Morris screening (MorrisSampler) for "
                         "effects across the space. significant = Holm-corrected Welch p < "
                         f"{alpha} over the {int((~effects['is_baseline']).sum())} levels.")
        if _struct.components(space):
            t = time.perf_counter()
            pcm = per_class_metrics(comp)
            structural, per_class = _struct.structural_contributions(
                params, y, space, maximize=maximize, per_class=pcm if pcm.shape[1] else None, alpha=alpha
            )
            timings["structural"] = time.perf_counter() - t
            if structural.empty:
                notes.append("The space has components but no trial removes one from the baseline "
                             "(use hpablate.StructuralAblationSampler).")

    # ---- importances
    importances: list[pd.DataFrame] = []
    full = {n: not _absent(params[n]).any() for n in names}
    inter_names = [n for n in names if full[n]]
    dropped = [n for n in names if not full[n]]
    if dropped:
        notes.append(f"Conditional parameters {dropped} are absent from some completed trials; fANOVA uses the "
                     f"{len(inter_names)} parameters present in every trial (as Optuna does), PED-ANOVA "
                     "handles them by regime.")
    varying = [n for n in inter_names if not data.distributions[n].single() and params[n].nunique() > 1]
    fan = None
    if len(varying) >= 1 and len(y) >= 4 and np.ptp(y) > 0:
        t = time.perf_counter()
        dists = {n: data.distributions[n] for n in inter_names}
        try:
            fan = _imp.fanova_importances(params[inter_names], y, dists, pairwise=True, encoding=encoding,
                                          n_trees=n_trees, seed=seed, pair_cell_budget=pair_cell_budget)
            importances.append(fan)
        except ValueError as exc:
            notes.append(f"fANOVA not computed: {exc}")
        timings["fanova"] = time.perf_counter() - t
        if design in ("oat", "structural", "baseline"):
            notes.append(f"fANOVA was fitted on a {design} design: the forest sees only configurations near the "
                         "baseline, so its global variance fractions are extrapolations; read the effects table "
                         "first.")
        notes.append("fANOVA importance = fraction of the forest's variance explained by a parameter's main "
                     "effect (first order) or by a pair's interaction term (second order; Hutter et al. 2014). "
                     "A parameter acting only through interactions has a small marginal importance; spread = "
                     "SD over the forest's trees.")
    else:
        notes.append("fANOVA needs at least 4 completed trials, a varying parameter and a non-constant objective.")
    if ped_anova and design in PLAN_DESIGNS:
        notes.append(f"PED-ANOVA not computed: it compares the best trials with all trials of a sampler that "
                     f"covers the space (Random, TPE…), which a {design} plan is not.")
    elif ped_anova and len(y) >= 20 and names:
        t = time.perf_counter()
        try:
            importances.append(_imp.ped_anova_importances(params, y, data.distributions, minimize=not maximize))
        except Exception as exc:  # noqa: BLE001 - the evaluator refuses odd spaces
            notes.append(f"PED-ANOVA not computed: {type(exc).__name__}: {exc}")
        timings["ped_anova"] = time.perf_counter() - t

    morris = pd.DataFrame()
    traj = ATTR_PREFIX + TRAJECTORY_ATTR
    if traj in comp.columns and comp[traj].notna().any():
        t = time.perf_counter()
        mspace = space or SearchSpace.from_distributions(data.distributions)
        sub = comp[comp[traj].notna()]
        mdf = pd.DataFrame({n: sub[PARAM_PREFIX + n] for n in names})
        rec = trial_record_frame(lambda key: sub[ATTR_PREFIX + key] if ATTR_PREFIX + key in sub else None, sub.index)
        mdf["replicate"] = rec["replicate"].fillna(0).astype(int).to_numpy()
        mdf["trajectory"] = rec["trajectory"].astype(int).to_numpy()
        mdf["step"] = rec["step"].astype(int).to_numpy()
        mdf["value"] = sub[ycol].to_numpy(float)
        unit = {s.name: s.to_unit for s in mspace if s.name in names}
        ee = _imp.morris_elementary_effects(mdf, unit)
        if len(ee):
            morris = _imp.morris_indices(ee, list(unit), seed=seed)
            importances.append(pd.DataFrame({
                "method": "Morris (elementary effects)", "kind": "marginal", "param": morris["param"],
                "param_a": morris["param"], "param_b": None, "importance": morris["mu_star"],
                "std": morris["sigma"], "q10": morris["mu_star_lo"], "q90": morris["mu_star_hi"], "n_trees": 0,
                "n_trials": int(len(sub)), "estimand": _imp.MORRIS_ESTIMAND,
            }))
            notes.append("Morris mu* (mean |elementary effect|, objective units per unit of the normalised range) "
                         "screens for total-order effects, interactions included; sigma > mu* hints at "
                         "interactions or non-linearity. mu* CI: bootstrap over trajectories (q10/q90 columns "
                         "of the importances table hold its 95% percentile interval).")
        timings["morris"] = time.perf_counter() - t
    imp_table = pd.concat(importances, ignore_index=True) if importances else pd.DataFrame(columns=[
        "method", "kind", "param", "param_a", "param_b", "importance", "std", "q10", "q90", "n_trees",
        "n_trials", "estimand"])

    # ---- interactions
    t = time.perf_counter()
    groups = record.grid_groups
    interactions = pd.DataFrame(columns=_inter.ANOVA_COLUMNS)
    tables: dict[str, pd.DataFrame] = {}
    marginals: dict[str, pd.DataFrame] = {}
    if groups and space is not None:
        interactions, tables = _inter.grid_interactions(params, y, space, [list(g) for g in groups])
        if interactions["p_value"].isna().all():
            notes.append("Grid ANOVA has no residual degrees of freedom (one trial per cell): run repeats >= 2 "
                         "to test interactions.")
    elif design not in PLAN_DESIGNS:
        cand = [n for n in names if params[n].nunique() > 1]
        if fan is not None and len(cand) > 6:
            order = fan[fan["kind"] == "marginal"]["param"].tolist()
            cand = [n for n in order if n in cand][:6]
        pairs = list(itertools.combinations(cand, 2))
        interactions, tables, marginals = _inter.binned_tables(params[cand], y, pairs) if cand else (
            interactions, {}, {})
        if pairs:
            notes.append("Interaction tables and ANOVAs are binned from sampled trials (numeric parameters in "
                         "quantile bins), not from a designed grid: they describe where the sampler went, and "
                         "a sampler that concentrates on good regions confounds parameters.")
    timings["interactions"] = time.perf_counter() - t

    report = AnalysisReport(
        study_name=data.name, objective=objective, direction=direction, design=design, counts=counts,
        effects=effects, interactions=interactions, interaction_tables=tables, marginal_tables=marginals,
        structural=structural, structural_per_class=per_class, importances=imp_table, morris=morris,
        summary=summary, notes=notes, params=names, log_params=log_params, timings=timings,
    )
    summary.extend(_summarize(report, alpha))
    timings["total"] = time.perf_counter() - t0
    return report


def _absent(col: pd.Series) -> np.ndarray:
    """Rows where a (conditional) parameter was not suggested: NaN, while ``None`` is a value."""
    if col.dtype == object:
        return np.fromiter((isinstance(v, float) and v != v for v in col.to_numpy()), dtype=bool, count=len(col))
    return col.isna().to_numpy()


# ---------------------------------------------------------------------------------------------
# Summary and formatting


def fmt_p(p: float) -> str:
    """p-value for prose: ``p<0.001`` or ``p=0.023``."""
    if p is None or not np.isfinite(p):
        return "p n/a"
    return "p<0.001" if p < 0.001 else f"p={p:.3f}" if p < 0.1 else f"p={p:.2f}"


def _num(x: float) -> str:
    if x is None or not np.isfinite(x):
        return "n/a"
    a = abs(x)
    if a != 0 and (a >= 1e4 or a < 1e-3):
        return f"{x:.2e}".replace("-", "−")
    return f"{x:.3g}".replace("-", "−") if a < 100 else f"{x:.1f}".replace("-", "−")


def _signed(x: float) -> str:
    s = _num(x)
    return s if s.startswith("−") or s == "n/a" else "+" + s


def _summarize(r: AnalysisReport, alpha: float = 0.05) -> list[str]:
    out = []
    e = r.effects
    if len(e) and (~e["is_baseline"]).any():
        cand = e[~e["is_baseline"]].copy()
        cand["absd"] = cand["delta"].abs()
        sig = cand[cand["significant"]]
        pick = (sig if len(sig) else cand).sort_values("absd", ascending=False).iloc[0]
        half = (pick["ci_high"] - pick["ci_low"]) / 2 if np.isfinite(pick["ci_high"]) else float("nan")
        verdict = "matters most" if pick["significant"] else "has the largest (not significant) effect"
        out.append(
            f"{pick['param']} {verdict}: {_signed(pick['delta'])} ± {_num(half)} when set to "
            f"{fmt_value(pick['level'])} (baseline mean {_num(pick['baseline_mean'])}, n={int(pick['n'])} vs "
            f"{int(pick['baseline_n'])}, {fmt_p(pick['p_value'])}, Holm {fmt_p(pick['p_holm'])}); local effect at "
            "the baseline."
        )
        nsig = int(cand["significant"].sum())
        flat = [p for p in e["param"].unique() if not cand[(cand["param"] == p) & cand["significant"]].shape[0]]
        out.append(f"{nsig} of {len(cand)} one-at-a-time levels differ significantly from the baseline "
                   f"(Holm); no significant effect: {', '.join(map(str, flat)) or 'none'}.")
    s = r.structural
    if len(s):
        top = s.reindex(s["benefit"].abs().sort_values(ascending=False).index).iloc[0]
        half = (top["ci_high"] - top["ci_low"]) / 2
        what = "helps" if top["benefit"] > 0 else "hurts"
        out.append(f"Component {top['component']} {what} most ({top['mode'].replace('_', '-')}): contribution "
                   f"{_signed(top['contribution'])} ± {_num(half)} ({fmt_p(top['p_value'])}).")
    imp = r.importances
    if len(imp):
        fm = imp[imp["method"].str.startswith("fANOVA") & (imp["kind"] == "marginal")]
        if len(fm):
            top = fm.sort_values("importance", ascending=False).iloc[0]
            out.append(f"fANOVA (main effects): {top['param']} explains {top['importance']:.1%} ± "
                       f"{top['std']:.1%} (SD over trees) of the forest's variance.")
        fp = imp[imp["method"].str.startswith("fANOVA") & (imp["kind"] == "pairwise")]
        if len(fp) and fp["importance"].notna().any():
            top = fp.sort_values("importance", ascending=False).iloc[0]
            out.append(f"fANOVA (pairwise): the largest interaction term is {top['param']} at "
                       f"{top['importance']:.1%} ± {top['std']:.1%}.")
    if len(r.morris):
        top = r.morris.iloc[0]
        out.append(f"Morris screening: {top['param']} has the largest mu* = {_num(top['mu_star'])} "
                   f"(95% CI {_num(top['mu_star_lo'])}–{_num(top['mu_star_hi'])}), sigma = {_num(top['sigma'])}.")
    it = r.interactions
    if len(it):
        inter = it[it["term"].str.contains(" × ") & it["p_value"].notna()]
        if len(inter):
            top = inter.sort_values("p_value").iloc[0]
            lead = (f"Strongest interaction ({top['source']})" if top["p_value"] < alpha
                    else f"No interaction is significant at {alpha} ({top['source']}); the smallest p is")
            out.append(f"{lead}: {top['term']}, F={_num(top['F'])}, {fmt_p(top['p_value'])} (uncorrected), "
                       f"partial η²={_num(top['partial_eta2'])}.")
    return out


def _counts_text(c: dict[str, int]) -> str:
    keys = [k for k in ("complete", "fail", "pruned", "running", "waiting") if c.get(k)]
    return ", ".join(f"{c[k]} {k}" for k in keys) + f"; {c.get('used', 0)} used"


def _records(t: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: to_builtin(v) for k, v in row.items()} for row in t.to_dict(orient="records")]


def _pivot_records(t: pd.DataFrame) -> dict[str, Any]:
    return {"index_name": str(t.index.name), "columns_name": str(t.columns.name),
            "index": [to_builtin(v) for v in t.index], "columns": [to_builtin(v) for v in t.columns],
            "values": to_builtin(t.to_numpy(dtype=float))}


def _fmt_cell(v: Any, col: str = "") -> str:
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else ""
    if v is None:
        return ""
    if isinstance(v, (float, np.floating)):
        if not np.isfinite(v):
            return ""
        if col.startswith("p_") or col == "p_value":
            return "<0.001" if v < 0.001 else f"{v:.3f}"
        a = abs(v)
        if a != 0 and (a < 1e-3 or a >= 1e5):
            return f"{v:.3e}"
        return f"{v:.4g}"
    return str(v)


def _fmt_table(t: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({str(c): [_fmt_cell(v, str(c)) for v in t[c]] for c in t.columns})


_SHORT = {
    "first-order (main effect) variance fraction": "main effect (1st order)",
    "second-order (interaction) variance fraction": "interaction (2nd order)",
}


def _short_importances(t: pd.DataFrame) -> pd.DataFrame:
    d = pd.DataFrame({
        "method": t["method"].str.split(" ").str[0],
        "estimand": [_SHORT.get(e, "top-quantile divergence" if "PED" in e else "total-order proxy (mu*)")
                     for e in t["estimand"]],
        "param": t["param"], "importance": t["importance"], "spread": t["std"], "q10": t["q10"],
        "q90": t["q90"], "n_trees": t["n_trees"], "n_trials": t["n_trials"],
    })
    return d


def _fmt_effects(t: pd.DataFrame) -> pd.DataFrame:
    cols = ["param", "level", "n", "mean", "std", "delta", "ci_low", "ci_high", "p_value", "p_holm", "p_bh",
            "cohen_d", "significant"]
    d = t[cols].copy()
    d["level"] = [fmt_value(v) + (" (baseline)" if b else "") for v, b in zip(t["level"], t["is_baseline"])]
    return _fmt_table(d)


def _fmt_pivot(t: pd.DataFrame) -> pd.DataFrame:
    out = t.copy().astype(object)
    for c in out.columns:
        out[c] = [_fmt_cell(v) for v in t[c]]
    out.index = [fmt_value(v) for v in t.index]
    out.index.name = t.index.name
    out.columns = [fmt_value(v) for v in t.columns]
    return out


def _md_table(t: pd.DataFrame) -> str:
    d = t if all(isinstance(c, str) for c in t.columns) and t.dtypes.eq(object).all() else _fmt_table(t)
    cols = [str(c) for c in d.columns]
    esc = lambda s: str(s).replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(map(esc, cols)) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in d.itertuples(index=False):
        lines.append("| " + " | ".join(esc(_fmt_cell(v)) if not isinstance(v, str) else esc(v) for v in row) + " |")
    return "\n".join(lines)


def html_table(t: pd.DataFrame, formatted: pd.DataFrame | None = None) -> str:
    """An HTML table of a (formatted) DataFrame, escaped."""
    d = formatted if formatted is not None else _fmt_table(t)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in d.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                   for row in d.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

