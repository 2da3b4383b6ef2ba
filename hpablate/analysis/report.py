"""The analysis of one study and objective: DataFrames, a summary, figures, HTML/Markdown.

:func:`analyze_data` is pure computation on a :class:`~hpablate.analysis.load.StudyData`;
:func:`hpablate.analyze` loads the study read-only and calls it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from hpablate.analysis import _notes
from hpablate.analysis._input import OFF_PLAN, AnalysisInput, ObjectiveIndexError, analysis_input, counts_text
from hpablate.analysis._result import Result
from hpablate.analysis.conditional import analyze_conditional
from hpablate.analysis._conditions import condition_tree
from hpablate.analysis.curves import analyze_curves
from hpablate.analysis.effects import analyze_effects
from hpablate.analysis.failures import analyze_failures
from hpablate.analysis.pareto import analyze_pareto
from hpablate.analysis.importance import IMPORTANCE_COLUMNS, analyze_fanova, analyze_morris, analyze_ped_anova
from hpablate.analysis.interactions import analyze_interactions
from hpablate.analysis.importance.sobol import analyze_sobol
from hpablate.analysis.load import StudyData
from hpablate.analysis.path import analyze_path
from hpablate.analysis.shapley import analyze_shapley
from hpablate.analysis.power import SEEDS_COLUMNS, analyze_power
from hpablate.analysis.structural import analyze_structural
from hpablate.errors import UsageError
from hpablate.render import fmt_pivot, fmt_table, fmt_value, md_table, objective_label, pivot_frame, to_builtin
from hpablate.render._safe_text import markdown_cell, strip_controls
from hpablate.render.figures import FigureData, figure_data

__all__ = ["AnalysisReport", "JSON_SCHEMA", "ObjectiveIndexError", "analyze_data"]

#: Names the layout of :meth:`AnalysisReport.to_json` (documented in the README); bumped on a change.
JSON_SCHEMA = "hpablate.analysis/1"


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
    interaction_counts : dict of DataFrame
        Trials per cell of every mean table, same keys.
    seeds_needed : DataFrame
        Replicates each effect needs (``analyze(..., mde=…)`` or ``margin=…``; see
        :func:`hpablate.seeds_needed`), empty otherwise.
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
    #: Sobol indices with CIs; Shapley values beside LOCO effects; Shapley interaction indices.
    sobol: pd.DataFrame = field(default_factory=pd.DataFrame)
    shapley: pd.DataFrame = field(default_factory=pd.DataFrame)
    shapley_interactions: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: Ablation path: its steps with paired gains, and every round's candidates.
    path: pd.DataFrame = field(default_factory=pd.DataFrame)
    path_candidates: pd.DataFrame = field(default_factory=pd.DataFrame)
    log_params: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    #: The objective's name from Optuna's ``study.metric_names`` (None when the study names none).
    objective_name: str | None = None
    _figure_data: dict[str, FigureData] | None = field(default=None, repr=False)
    interaction_counts: dict[str, pd.DataFrame] = field(default_factory=dict)
    seeds_needed: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SEEDS_COLUMNS))
    _figures: dict[str, Any] | None = field(default=None, repr=False)
    #: Conditional spaces (:mod:`hpablate.analysis.conditional`): every parent value with its trial
    #: counts, per-branch effects and importances of sampled studies.
    conditions: pd.DataFrame = field(default_factory=pd.DataFrame)
    branch_effects: pd.DataFrame = field(default_factory=pd.DataFrame)
    branch_importances: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def condition_tree(self) -> list[str]:
        """Which parameter lives under which parent value, as text lines (empty: no conditions)."""
        return condition_tree(self.conditions)
    #: Per planned configuration (or parameter value/bin of a plain study): completed, failed and
    #: pruned trials and the failure rate (:func:`hpablate.analysis.failures.analyze_failures`).
    failures: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: Per configuration and step, mean ± CI of the intermediate values (:mod:`hpablate.analysis.curves`);
    #: ``settle_step`` is the step from which on the configurations' ranking equals the final one.
    learning_curves: pd.DataFrame = field(default_factory=pd.DataFrame)
    settle_step: int | None = None
    #: Multi-objective studies: per configuration the mean of every objective and ``on_front``.
    pareto: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: The replicates behind each ``effects`` / ``structural`` row (:mod:`hpablate.analysis._points`).
    replicate_points: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

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
            "sobol": self.sobol,
            "shapley": self.shapley,
            "shapley_interactions": self.shapley_interactions,
            "path": self.path,
            "path_candidates": self.path_candidates,
            "seeds_needed": self.seeds_needed,
            "conditions": self.conditions,
            "branch_effects": self.branch_effects,
            "branch_importances": self.branch_importances,
            "failures": self.failures,
            "learning_curves": self.learning_curves,
            "pareto": self.pareto,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: metadata, summary, notes and every table as a list of records."""
        out: dict[str, Any] = {
            "schema": JSON_SCHEMA, "study": self.study_name, "objective": self.objective,
            "objective_name": self.objective_name, "direction": self.direction,
            "design": self.design, "counts": self.counts, "summary": self.summary, "notes": self.notes,
            "settle_step": self.settle_step,
        }
        for name, t in self.tables().items():
            out[name] = _records(t)
        out["interaction_tables"] = {k: _pivot_records(v) for k, v in self.interaction_tables.items()}
        out["interaction_counts"] = {k: _pivot_records(v) for k, v in self.interaction_counts.items()}
        out["marginal_tables"] = {k: _records(v) for k, v in self.marginal_tables.items()}
        out["condition_tree"] = self.condition_tree
        return to_builtin(out)

    def to_csv(self, table: str = "effects") -> str:
        """One table of :meth:`tables` as tidy CSV that ``pandas.read_csv`` loads (see :meth:`save_csv`).

        Text cells are made safe for spreadsheets (a leading ``=``, ``+``, ``-``, ``@`` is quoted);
        numbers stay numbers. An empty table gives its header row only.

        Raises
        ------
        UsageError
            ``table`` is not one of the report's tables.
        """
        from hpablate.render._csv import csv_text

        return csv_text(self._table(table))

    def save_csv(self, directory: str | Path) -> list[Path]:
        """Write every non-empty table as ``<name>.csv`` to ``directory``; returns the paths written."""
        from hpablate.render._csv import write_csvs

        return write_csvs(self.tables(), directory)

    def _table(self, name: str) -> pd.DataFrame:
        tables = self.tables()
        if name not in tables:
            raise UsageError(f"no table {name!r}; choose from {', '.join(tables)}")
        return tables[name]

    def to_json(self, indent: int | None = 2) -> str:
        """:meth:`to_dict` as JSON text (numpy scalars cast, NaN as null)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def to_markdown(self) -> str:
        """The report as Markdown (summary, notes and tables), for papers and READMEs."""
        esc = markdown_cell
        name = esc(self.study_name).replace("`", "'")
        lines = [f"# Analysis of study `{name}` ({esc(self._objective_label())}, {self.direction})", ""]
        lines += [f"Design: {esc(self.design or 'plain Optuna study')}; trials: " + counts_text(self.counts), ""]
        if self.summary:
            lines += ["## Summary", ""] + [f"- {esc(s)}" for s in self.summary] + [""]
        if self.notes:
            lines += ["## Notes", ""] + [f"- {esc(s)}" for s in self.notes] + [""]
        if self.condition_tree:
            lines += ["## Condition tree", "", "```"] + [strip_controls(s) for s in self.condition_tree] + ["```", ""]
        for _, title, t in self._display_tables():
            lines += [f"## {title}", "", md_table(t), ""]
        for k, t in self.interaction_tables.items():
            lines += [f"### Mean {esc(k)}", "", md_table(pivot_frame(t)), ""]
            if k in self.interaction_counts:
                lines += [f"### Trials per cell, {esc(k)}", "", md_table(pivot_frame(self.interaction_counts[k])), ""]
        return "\n".join(lines)

    def _display_tables(self) -> list[tuple[str, str, pd.DataFrame]]:
        """``(table id, heading, formatted table)`` of every non-empty table, in reading order."""
        tables = [
            ("effects", "One-at-a-time effects (local, at the baseline)", self.effects, _fmt_effects),
            ("interactions", "Interactions (two-way ANOVA, type II)", self.interactions, fmt_table),
            ("structural", "Structural contributions", self.structural, _fmt_structural),
            ("structural_per_class", "Per-class drops (baseline minus ablated)", self.structural_per_class,
             fmt_table),
            ("importances", "Importances", self.importances, lambda t: fmt_table(_short_importances(t))),
            ("morris", "Morris elementary effects", self.morris, fmt_table),
            ("sobol", "Sobol indices (Saltelli design)", self.sobol, fmt_table),
            ("shapley", "Shapley values and leave-one-out effects", self.shapley, fmt_table),
            ("shapley_interactions", "Shapley interaction indices", self.shapley_interactions, fmt_table),
            ("path", "Ablation path (gain of each step over the one before)", self.path, fmt_table),
            ("path_candidates", "Ablation path rounds (every candidate vs the round's start)", self.path_candidates,
             fmt_table),
            ("seeds_needed", "Seeds needed", self.seeds_needed, fmt_table),
            ("conditions", "Conditions (every parent value, trial counts)", self.conditions, fmt_table),
            ("branch_effects", "Effects within branches (conditional parameters)", self.branch_effects, fmt_table),
            ("branch_importances", "Importances within branches (active subspace)", self.branch_importances,
             fmt_table),
            ("failures", "Failed and pruned trials per parameter level", self.failures, fmt_table),
            ("learning_curves", "Learning curves (last step every configuration reached)", self.learning_curves,
             _fmt_curves),
            ("pareto", "Pareto front of the configurations' mean objectives", self.pareto, fmt_table),
        ]
        return [(key, title, fmt(t)) for key, title, t, fmt in tables if len(t)]

    def to_text(self) -> str:
        """Plain-text tables for a terminal."""
        parts = [f"study {self.study_name!r}, {self._objective_label()} ({self.direction}), "
                 f"design: {self.design or 'plain Optuna'}; trials: {counts_text(self.counts)}", ""]
        if self.summary:
            parts += ["Summary:"] + [f"  * {s}" for s in self.summary] + [""]
        if self.condition_tree:
            parts += ["Condition tree:"] + [f"  {s}" for s in self.condition_tree] + [""]
        for _, title, t in self._display_tables():
            parts += [f"== {title} ==", t.to_string(index=False), ""]
        for k, t in self.interaction_tables.items():
            parts += [f"-- mean objective, {k} --", fmt_pivot(t).to_string(), ""]
            if k in self.interaction_counts:
                parts += [f"-- trials per cell, {k} --", self.interaction_counts[k].to_string(), ""]
        if self.notes:
            parts += ["Notes:"] + [f"  - {s}" for s in self.notes]
        return strip_controls("\n".join(parts))

    def to_latex(self, path: str | Path | None = None, *, standalone: bool = False) -> str:
        """Every non-empty table as a booktabs LaTeX table, for a paper.

        Estimates show ``± CI`` half-widths, rounded to two significant digits of the half-width
        (the row's means likewise); the Holm p carries ``*``/``**``/``***``; importances show their
        spread over trees; text is escaped. Tables added to :meth:`tables` are included as they come.

        Parameters
        ----------
        path : str or Path, optional
            Where to write it; the text is returned either way.
        standalone : bool
            A whole ``article`` document instead of a fragment (which needs ``\\usepackage{booktabs}``).

        Examples
        --------
        >>> import optuna, hpablate
        >>> study = optuna.create_study()
        >>> dist = {"x": optuna.distributions.FloatDistribution(0, 1)}
        >>> for i in range(20):
        ...     study.add_trial(optuna.trial.create_trial(params={"x": i / 20}, distributions=dist, value=i / 20))
        >>> tex = hpablate.analyze(study).to_latex()
        >>> tex.count(r"\\begin{tabular}") == tex.count(r"\\end{tabular}") >= 1
        True
        """
        from hpablate.render._latex import booktabs_table, latex_fragment, latex_frame

        titles = {key: title for key, title, _ in self._display_tables()}
        parts = [booktabs_table(latex_frame(t), f"{titles.get(name, name)} -- {self.study_name}, "
                                f"{self._objective_label()} ({self.direction})", f"hpablate-{name}")
                 for name, t in self.tables().items() if len(t)]
        text = latex_fragment(f"hpablate analysis of study {self.study_name}", parts, standalone)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def _objective_label(self) -> str:
        return objective_label(self.objective, self.objective_name)

    @property
    def figure_data(self) -> dict[str, FigureData]:
        """What each figure shows, by name (:func:`hpablate.render.figures.figure_data`): ``tornado``,
        ``oat``, ``interaction: a × b``, ``importance: <method> <kind>``, ``morris``, ``structural``,
        ``sobol``, ``shapley``, ``shapley interactions``, ``path`` … (only those the data supports);
        each names its table in ``.table``."""
        if self._figure_data is None:
            self._figure_data = figure_data(self)
        return self._figure_data

    @property
    def figures(self) -> dict[str, Any]:
        """Plotly figures by the names of :attr:`figure_data`."""
        if self._figures is None:
            from hpablate.render.figures import plotly_figures

            self._figures = plotly_figures(self.figure_data)
        return self._figures

    def save_figures(self, directory: str | Path, format: str = "pdf") -> list[Path]:
        """Write every figure as a static file (matplotlib; no browser, no network).

        Parameters
        ----------
        directory : str or Path
            Made if missing; files are named after the figures (``tornado.pdf``, ``oat.pdf`` …).
        format : {"pdf", "svg", "png"}

        Returns
        -------
        list of Path
            The files written.

        Examples
        --------
        >>> import tempfile, optuna, hpablate
        >>> study = optuna.create_study()
        >>> dist = {"x": optuna.distributions.FloatDistribution(0, 1)}
        >>> for i in range(20):
        ...     study.add_trial(optuna.trial.create_trial(params={"x": i / 20}, distributions=dist, value=i / 20))
        >>> with tempfile.TemporaryDirectory() as d:
        ...     {p.suffix for p in hpablate.analyze(study).save_figures(d, "svg")}
        {'.svg'}
        """
        from hpablate.render.figures import save_figures

        return save_figures(self.figure_data, directory, format)

    def to_html(self, path: str | None = None) -> str:
        """One self-contained HTML file (plotly.js inline, no network access needed).

        Parameters
        ----------
        path : str, optional
            Where to write it; the HTML text is returned either way.
        """
        from hpablate.analysis import _page

        text = _page.render_html(self)
        if path is not None:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        return text


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
    margin: float | str | None = None,
    failures: str = "verdict",
    mde: float | str | None = None,
    power: float = 0.8,
) -> AnalysisReport:
    """Analyse one objective of a study held as :class:`StudyData` (pure computation).

    See :func:`hpablate.analyze` for the parameters.
    """
    start = time.perf_counter()
    inp = analysis_input(data, objective)
    steps: list[tuple[str, Callable[[], Result]]] = [
        ("effects", lambda: analyze_effects(inp, alpha=alpha, margin=margin, failures=failures)),
        ("structural", lambda: analyze_structural(inp, alpha=alpha, margin=margin, failures=failures)),
        ("fanova", lambda: analyze_fanova(inp, n_trees=n_trees, seed=seed, encoding=encoding,
                                          pair_cell_budget=pair_cell_budget)),
        ("ped_anova", lambda: analyze_ped_anova(inp) if ped_anova else Result()),
        ("morris", lambda: analyze_morris(inp.plan_only(), seed=seed)),
        ("sobol", lambda: analyze_sobol(inp.plan_only(), alpha=alpha, seed=seed)),
        ("shapley", lambda: analyze_shapley(inp.plan_only(), alpha=alpha)),
        ("path", lambda: analyze_path(inp.plan_only(), alpha=alpha)),
        ("interactions", lambda: analyze_interactions(inp, order=_marginal_order(results["fanova"]))),
        ("conditional", lambda: analyze_conditional(inp, n_trees=n_trees, seed=seed, encoding=encoding,
                                                    ped_anova=ped_anova, alpha=alpha)),
        ("failures", lambda: analyze_failures(data, inp)),
        ("curves", lambda: analyze_curves(inp, data.intermediate)),
        ("pareto", lambda: analyze_pareto(inp, data.directions, data.metric_names)),
        ("power", lambda: analyze_power(results["effects"].tables["effects"], results["structural"].tables["structural"],
                                        mde=mde, margin=margin, power=power, alpha=alpha)
         if mde is not None else Result()),
    ]
    results: dict[str, Result] = {}
    timings: dict[str, float] = {}
    for name, step in steps:
        t = time.perf_counter()
        results[name] = step()
        timings[name] = time.perf_counter() - t
    report = _package(inp, results, alpha)
    _add_paper_tables(report, results, inp)
    report.timings = {**timings, "total": time.perf_counter() - start}
    names = data.metric_names or []
    report.objective_name = str(names[objective]) if objective < len(names) else None
    return report


def _add_paper_tables(report: AnalysisReport, results: dict[str, Result], inp: AnalysisInput) -> None:
    """The failure breakdown, learning curves, Pareto table and replicate points of the report."""
    from hpablate.analysis._points import replicate_points

    report.failures = results["failures"].tables["failures"]
    curves = results["curves"].tables["learning_curves"]
    report.learning_curves = curves
    report.settle_step = curves.attrs.get("settle_step")
    report.pareto = results["pareto"].tables["pareto"]
    report.replicate_points = replicate_points(inp, report.effects, report.structural)


def _marginal_order(fanova: Result) -> list[str]:
    t = fanova.tables["importances"]
    return t.loc[t["kind"] == "marginal", "param"].tolist()


def _study_notes(inp: AnalysisInput) -> list[str]:
    notes = list(inp.notes)
    if inp.n_objectives > 1:
        notes.append(_notes.multi_objective(inp.objective, inp.direction, inp.n_objectives))
    n_fail = inp.counts.get("fail", 0) + inp.counts.get("pruned", 0)
    if n_fail and not len(inp.failures):  # else the failures note says how they count
        notes.append(_notes.left_out(n_fail))
    if inp.off_plan:
        notes.append(_notes.off_plan(inp.off_plan, OFF_PLAN, inp.design))
    if len(inp.failures):
        notes.append(_notes.failures_found(inp.failures))
    if inp.design in _notes.LOCAL_DESIGNS:
        notes.append(_notes.fanova_not_headlined(inp.design))
    return notes


def _package(inp: AnalysisInput, results: dict[str, Result], alpha: float) -> AnalysisReport:
    """The report of the steps' results (tables merged by id, notes in step order)."""
    tables: dict[str, pd.DataFrame] = {}
    for r in results.values():
        for key, t in r.tables.items():
            tables[key] = pd.concat([tables[key], t], ignore_index=True) if key in tables else t
    tables.setdefault("importances", pd.DataFrame(columns=IMPORTANCE_COLUMNS))
    tables.setdefault("morris", pd.DataFrame())
    tables.setdefault("seeds_needed", pd.DataFrame(columns=SEEDS_COLUMNS))
    groups = results["interactions"].groups
    space = inp.space
    return AnalysisReport(
        study_name=inp.study_name, objective=inp.objective, direction=inp.direction, design=inp.design,
        counts=inp.counts, effects=tables["effects"], interactions=tables["interactions"],
        interaction_tables=groups["interaction_tables"], marginal_tables=groups["marginal_tables"],
        structural=tables["structural"], structural_per_class=tables["structural_per_class"],
        importances=tables["importances"], morris=tables["morris"],
        summary=_notes.summarize(tables, alpha, design=inp.design),
        notes=_study_notes(inp) + [n for r in results.values() for n in r.notes], params=inp.names,
        log_params=[p.name for p in space or [] if p.name in inp.params.columns and getattr(p, "log", False)],
        **{k: tables[k] for k in ("sobol", "shapley", "shapley_interactions", "path", "path_candidates", "conditions",
                                  "branch_effects", "branch_importances") if k in tables},
        interaction_counts=groups.get("interaction_counts", {}), seeds_needed=tables["seeds_needed"],
    )


def _records(t: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: to_builtin(v) for k, v in row.items()} for row in t.to_dict(orient="records")]


def _pivot_records(t: pd.DataFrame) -> dict[str, Any]:
    return {"index_name": str(t.index.name), "columns_name": str(t.columns.name),
            "index": [to_builtin(v) for v in t.index], "columns": [to_builtin(v) for v in t.columns],
            "values": to_builtin(t.to_numpy(dtype=float))}


_SHORT = {
    "first-order (main effect) variance fraction": "main effect (1st order)",
    "second-order (interaction) variance fraction": "interaction (2nd order)",
    "first-order Sobol index S_i (Saltelli 2010)": "Sobol first order",
    "total-order Sobol index ST_i (Jansen)": "Sobol total order",
}


def _short_estimand(estimand: str) -> str:
    """The short label of an importance's estimand (qualified ones, e.g. on conditional spaces,
    keep the label of the estimand they qualify).

    Examples
    --------
    >>> _short_estimand("first-order (main effect) variance fraction of the parameters present in every trial")
    'main effect (1st order), conditional'
    >>> _short_estimand("mu* (mean |elementary effect|)")
    'total-order proxy (mu*)'
    """
    for long, short in _SHORT.items():
        if estimand == long:
            return short
        if estimand.startswith(long):
            return f"{short}, conditional"
    return "top-quantile divergence" if "PED" in estimand else "total-order proxy (mu*)"


def _short_importances(t: pd.DataFrame) -> pd.DataFrame:
    d = pd.DataFrame({
        "method": t["method"].str.split(" ").str[0],
        "estimand": [_short_estimand(e) for e in t["estimand"]],
        "param": t["param"], "importance": t["importance"], "spread": t["std"], "q10": t["q10"],
        "q90": t["q90"], "n_trees": t["n_trees"], "n_trials": t["n_trials"],
    })
    return d


def _fmt_effects(t: pd.DataFrame) -> pd.DataFrame:
    cols = ["param", "level", "n", "mean", "std", "delta", "ci_low", "ci_high", "p_value", "p_holm", "p_bh",
            "cohen_d", "significant", "test", "failed", "verdict"]
    if "branch" in t and (t["branch"].fillna("") != "").any():  # conditional space: say which baseline
        cols.insert(2, "branch")
    d = t.assign(failed=_failed_text(t))[cols].copy()
    d["level"] = [fmt_value(v) + (" (baseline)" if b else "") for v, b in zip(t["level"], t["is_baseline"])]
    return fmt_table(d)


def _fmt_structural(t: pd.DataFrame) -> pd.DataFrame:
    cols = ["component", "mode", "reference", "n_reference", "reference_mean", "ablated", "n", "mean", "contribution",
            "ci_low", "ci_high", "p_value", "p_holm", "benefit", "test", "failed", "verdict"]
    return fmt_table(t.assign(failed=_failed_text(t))[cols])


def _fmt_curves(t: pd.DataFrame) -> pd.DataFrame:
    """The curves at the last step every configuration reached (the whole table is in CSV/JSON)."""
    last = t.groupby("config", sort=False)["step"].max().min()
    return fmt_table(t[t["step"] == last].reset_index(drop=True))


def _failed_text(t: pd.DataFrame) -> list[str]:
    """``"2/3"`` (failed of total replicates) where a configuration failed, else empty."""
    return [f"{int(f)}/{int(n)}" if f else "" for f, n in zip(t["n_failed"], t["n_total"])]
