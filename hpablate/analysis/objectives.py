"""Every objective of a multi-objective study at once: the Pareto front and each ablation's effect on each.

:func:`analyze_objectives` reads the study once and analyses each objective with
:func:`hpablate.analysis.report.analyze_data`; the :class:`ObjectivesReport` puts the per-objective
effects and structural contributions side by side (one long table, one figure) next to the Pareto
plot of the configurations' mean objectives.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from hpablate.analysis.load import StudyData
from hpablate.analysis.load import load as read_study
from hpablate.analysis.report import AnalysisReport, analyze_data
from hpablate.render import figure_div, html_page, html_table
from hpablate.render.figures import FigureData, objective_effects_figure_data

#: Names the layout of :meth:`ObjectivesReport.to_json`; bumped on a change.
OBJECTIVES_SCHEMA = "hpablate.objectives/1"
#: Columns of :attr:`ObjectivesReport.effects`.
EFFECT_COLUMNS = ["objective", "direction", "kind", "label", "delta", "ci_low", "ci_high", "improvement", "p_holm",
                  "verdict"]


@dataclass
class ObjectivesReport:
    """The analyses of every objective of one study, side by side.

    Attributes
    ----------
    reports : list of AnalysisReport
        One per objective, in objective order.
    effects : DataFrame
        One row per objective × ablation (:data:`EFFECT_COLUMNS`): ``kind`` ``oat`` (a parameter
        level vs the baseline) or ``structural`` (a component's contribution), ``label`` names the
        ablation, ``improvement`` > 0 is better in that objective's direction.
    pareto : DataFrame
        Per configuration the mean of every objective and ``on_front``
        (:func:`hpablate.analysis.pareto.analyze_pareto`).
    """

    reports: list[AnalysisReport]
    effects: pd.DataFrame
    pareto: pd.DataFrame
    _figure_data: dict[str, FigureData] | None = field(default=None, repr=False)

    @property
    def figure_data(self) -> dict[str, FigureData]:
        """``pareto`` (two objectives' configuration means, the front highlighted) and
        ``effects by objective`` (each ablation's delta ± CI per objective)."""
        if self._figure_data is None:
            out: dict[str, FigureData] = {}
            first = self.reports[0].figure_data
            if "pareto" in first:
                out["pareto"] = first["pareto"]
            if len(self.effects):
                out["effects by objective"] = objective_effects_figure_data(self.effects)
            self._figure_data = out
        return self._figure_data

    @property
    def figures(self) -> dict[str, Any]:
        """Plotly figures by the names of :attr:`figure_data`."""
        from hpablate.render.figures import plotly_figures

        return plotly_figures(self.figure_data)

    def save_figures(self, directory: str | Path, format: str = "pdf") -> list[Path]:
        """Write every figure as ``<name>.<format>`` (pdf, svg or png; matplotlib, no network)."""
        from hpablate.render.figures import save_figures

        return save_figures(self.figure_data, directory, format)

    def tables(self) -> dict[str, pd.DataFrame]:
        """``effects`` (every ablation per objective, side by side) and ``pareto``."""
        return {"effects": self.effects, "pareto": self.pareto}

    def to_text(self) -> str:
        """Each objective's report, then the side-by-side tables, as plain text for a terminal."""
        from hpablate.render import fmt_table
        from hpablate.render._safe_text import strip_controls

        parts = [r.to_text() for r in self.reports]
        for title, t in (("Effects per objective", self.effects), ("Pareto front", self.pareto)):
            if len(t):
                parts.append(f"== {title} ==\n" + strip_controls(fmt_table(t).to_string(index=False)))
        return "\n\n".join(parts)

    def to_markdown(self) -> str:
        """Each objective's report, then the side-by-side tables, as Markdown."""
        from hpablate.render import fmt_table, md_table

        parts = [r.to_markdown() for r in self.reports]
        for title, t in (("Effects per objective", self.effects), ("Pareto front", self.pareto)):
            if len(t):
                parts.append(f"## {title}\n\n" + md_table(fmt_table(t)))
        return "\n\n".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: ``schema``, ``study``, ``objectives`` (each report's :meth:`AnalysisReport.to_dict`),
        ``effects`` and ``pareto`` as lists of records."""
        from hpablate.render import to_builtin

        return to_builtin({
            "schema": OBJECTIVES_SCHEMA, "study": self.reports[0].study_name,
            "objectives": [r.to_dict() for r in self.reports],
            **{name: t.to_dict(orient="records") for name, t in self.tables().items()},
        })

    def to_json(self, indent: int | None = 2) -> str:
        """:meth:`to_dict` as JSON text (NaN as null)."""
        import json

        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def to_csv(self, table: str = "effects") -> str:
        """``effects`` (default) or ``pareto`` as one tidy CSV table."""
        from hpablate.errors import UsageError
        from hpablate.render._csv import csv_text

        if table not in self.tables():
            raise UsageError(f"no table {table!r} across objectives; choose from {', '.join(self.tables())}")
        return csv_text(self.tables()[table])

    def save_csv(self, directory: str | Path) -> list[Path]:
        """Every non-empty table as ``DIR/<table>.csv`` (``effects``, ``pareto``)."""
        from hpablate.render._csv import write_csvs

        return write_csvs(self.tables(), directory)

    def to_latex(self, path: str | Path | None = None, *, standalone: bool = False) -> str:
        """Every objective's tables and the side-by-side effects as booktabs LaTeX."""
        from hpablate.render._latex import booktabs_table, latex_fragment, latex_frame

        name = self.reports[0].study_name
        parts = ["\n".join(r.to_latex().splitlines()[2:]).strip() for r in self.reports]  # without the header
        for key, t in self.tables().items():
            if len(t):
                parts.append(booktabs_table(latex_frame(t), f"{key} across objectives -- {name}", f"hpablate-all-{key}"))
        text = latex_fragment(f"hpablate analysis of every objective of study {name}", parts, standalone)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def to_html(self, path: str | Path | None = None) -> str:
        """One self-contained page: the figures, the Pareto and effects tables (plotly.js inline)."""
        figs = self.figures
        parts = [f"<h1>Objectives of study “{html.escape(self.reports[0].study_name)}”</h1>"]
        parts += ["<div>" + figure_div(f, f"obj{i}") + "</div>" for i, f in enumerate(figs.values())]
        for title, t in (("Pareto front", self.pareto), ("Effects per objective", self.effects)):
            if len(t):
                from hpablate.render import fmt_table

                parts.append(f"<h2>{title}</h2>" + html_table(fmt_table(t), fmt_table(t)))
        text = html_page("hpablate objectives", "body{font-family:sans-serif;margin:2em}", parts,
                         "Generated by hpablate.analyze_objectives.")
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text


def analyze_objectives(study_or_storage_url: Any, study_name: str | None = None, **kwargs: Any) -> ObjectivesReport:
    """Analyse every objective of a study (read once) and put the objectives side by side.

    Parameters
    ----------
    study_or_storage_url : optuna.Study, str or StudyData
        As for :func:`hpablate.analyze`.
    study_name : str, optional
    **kwargs
        Passed to :func:`hpablate.analyze` for every objective (``alpha``, ``margin`` …).

    Returns
    -------
    ObjectivesReport

    Examples
    --------
    >>> import optuna, hpablate as hp
    >>> space = hp.SearchSpace(hp.Categorical("width", [16, 64], baseline=16))
    >>> study = hp.create_study(space, hp.OneAtATimeSampler(space, repeats=2),
    ...                         directions=["maximize", "minimize"])
    >>> hp.run(study, lambda t: (space.suggest(t)["width"] / 64, space.suggest(t)["width"] * 1.0))
    RunSummary(...)
    >>> r = hp.analyze_objectives(study, ped_anova=False, n_trees=8)
    >>> r.pareto[["config", "on_front"]].values.tolist()
    [['baseline', True], ['width=64', True]]
    >>> sorted(r.figure_data)
    ['effects by objective', 'pareto']
    """
    data = study_or_storage_url if isinstance(study_or_storage_url, StudyData) else read_study(
        study_or_storage_url, study_name)
    reports = [analyze_data(data, k, **kwargs) for k in range(max(data.n_objectives, 1))]
    return ObjectivesReport(reports, side_by_side(reports), reports[0].pareto)


def side_by_side(reports: list[AnalysisReport]) -> pd.DataFrame:
    """The long table of every report's OAT effects and structural contributions (:data:`EFFECT_COLUMNS`)."""
    from hpablate.render import fmt_value

    rows = []
    for r in reports:
        name = r._objective_label()
        e = r.effects
        if len(e):
            for x in e[~e["is_baseline"].astype(bool)].itertuples(index=False):
                rows.append((name, r.direction, "oat", f"{x.param}={fmt_value(x.level)}", x.delta, x.ci_low,
                             x.ci_high, x.improvement, x.p_holm, x.verdict))
        s = r.structural
        for x in s.itertuples(index=False):
            rows.append((name, r.direction, "structural", f"{x.component} ({x.mode.replace('_', '-')})",
                         x.contribution, x.ci_low, x.ci_high, x.benefit, x.p_holm, x.verdict))
    return pd.DataFrame(rows, columns=EFFECT_COLUMNS)
