"""ComparisonReport: tables, plotly figures and a self-contained HTML page of a comparison."""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hpablate.comparison._designs import IMPORTANCE_LABEL
from hpablate.render import figure_div, html_page, html_table, to_builtin
from hpablate.render.figures import LinesFigureData

_CSS = ("body{font-family:sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse;"
        "font-size:.85em}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}"
        "th{background:#f0f0f0}.figs{display:flex;flex-wrap:wrap;gap:8px}.fig{flex:1 1 560px}")

REFERENCE_LABEL = {
    "first": "first-order Sobol index (truth)",
    "total": "total-order Sobol index (truth)",
    "given": "given reference importances",
    "pooled": "pooled ranking of every method's largest-budget runs",
}

SUMMARY_COLUMNS = [
    "method", "budget", "n_trials", "repeats", "reference", "k", "kendall_tau", "tau_q25", "tau_q75",
    "top_k_agreement", "p_correct", "best_value", "compute_s", "spend",
]


@dataclass
class ComparisonReport:
    """What :func:`hpablate.compare` measured.

    Attributes
    ----------
    results : DataFrame
        One row per method x budget x repetition: ``n_trials`` run, ``spend`` (how the budget
        was used), ``importance`` (what the method's importance measures), ``reference`` (which
        reference it is ranked against), ``k``, ``kendall_tau`` (tau-b vs the reference),
        ``top_k_agreement`` (share of the reference's top-k in the method's top k, ties broken
        against the method), ``top_k_correct`` (agreement 1: every truly important parameter
        ranks strictly above every other), ``best_value``, ``compute_s`` (summed trial wall
        time), ``analysis_s``, ``ranking`` and ``importances`` (dict).
    summary : DataFrame
        One row per method x budget: median and quartiles of tau, mean top-k agreement,
        ``p_correct`` (share of repetitions with the top-k set right), median best value, mean
        compute time per run.
    reference : DataFrame
        The reference importances per parameter (columns ``first``/``total``, or ``given`` or
        ``pooled``), with ``k`` per column in ``reference.attrs["k"]``.
    smallest_budget : DataFrame
        Per method, the smallest budget whose ``p_correct`` reaches ``threshold`` (NaN: none).
    direction : str
    threshold : float
    notes : list of str
    """

    results: pd.DataFrame
    summary: pd.DataFrame
    reference: pd.DataFrame
    smallest_budget: pd.DataFrame
    direction: str = "minimize"
    threshold: float = 0.8
    notes: list[str] = field(default_factory=list)
    _figures: dict[str, Any] | None = field(default=None, repr=False)

    def table(self) -> pd.DataFrame:
        """The summary formatted for printing (one row per method x budget)."""
        s = self.summary
        rows = []
        for r in s.itertuples(index=False):
            rows.append({
                "method": r.method,
                "budget": r.budget,
                "trials": _int(r.n_trials),
                "reference": r.reference,
                "k": _int(r.k),
                "tau (median [q25, q75])": f"{_f(r.kendall_tau, 2)} [{_f(r.tau_q25, 2)}, {_f(r.tau_q75, 2)}]",
                "top-k agree": _f(r.top_k_agreement, 2),
                "P(top-k right)": _f(r.p_correct, 2),
                "best value": _f(r.best_value, 4),
                "time/run s": _f(r.compute_s, 2),
            })
        return pd.DataFrame(rows)

    def to_text(self) -> str:
        """Plain-text report: the table, the smallest budgets and the notes."""
        lines = [self.table().to_string(index=False), "", self._smallest_text()]
        if self.notes:
            lines += [""] + [f"- {n}" for n in self.notes]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()

    def _smallest_text(self) -> str:
        parts = []
        for r in self.smallest_budget.itertuples(index=False):
            b = "never (within the budgets run)" if _nan(r.budget) else f"{int(r.budget)} (trials run: {_int(r.n_trials)})"
            parts.append(f"  {r.method:8s} {b}")
        return f"Smallest budget with P(top-k right) >= {self.threshold:g}:\n" + "\n".join(parts)

    def to_markdown(self) -> str:
        """Markdown: the table, the smallest budgets and the notes."""
        t = self.table()
        lines = ["| " + " | ".join(t.columns) + " |", "|" + "|".join("---" for _ in t.columns) + "|"]
        lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in t.itertuples(index=False)]
        lines += ["", f"Smallest budget with P(top-k right) >= {self.threshold:g}:", ""]
        for r in self.smallest_budget.itertuples(index=False):
            lines.append(f"- {r.method}: " + ("never" if _nan(r.budget) else f"{int(r.budget)} ({_int(r.n_trials)} trials)"))
        if self.notes:
            lines += [""] + [f"- {n}" for n in self.notes]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict of every table."""
        res = self.results.copy()
        return to_builtin({
            "direction": self.direction,
            "threshold": self.threshold,
            "summary": self.summary.to_dict(orient="records"),
            "results": res.to_dict(orient="records"),
            "reference": {c: self.reference[c].to_dict() for c in self.reference.columns},
            "k": self.reference.attrs.get("k", {}),
            "smallest_budget": self.smallest_budget.to_dict(orient="records"),
            "notes": self.notes,
        })

    def to_csv(self) -> str:
        """The summary as CSV (one row per method x budget)."""
        return self.summary.to_csv(index=False)

    def to_json(self, indent: int | None = 2) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent)

    @property
    def figure_data(self) -> dict[str, LinesFigureData]:
        """What each figure shows (:class:`~hpablate.render.figures.LinesFigureData`, one line per method
        over the median trials run): ``agreement`` (median Kendall tau with its quartiles),
        ``top_k`` (share of repetitions with the top-k set right), ``best_value`` (median best)."""
        return {
            "agreement": self._line("kendall_tau", "median Kendall tau vs reference", (-1.05, 1.05),
                                    band=("tau_q25", "tau_q75")),
            "top_k": self._line("p_correct", "P(top-k set right)", (-0.05, 1.05)),
            "best_value": self._line("best_value", f"median best value ({self.direction})", None),
        }

    @property
    def figures(self) -> dict[str, Any]:
        """Plotly figures by the names of :attr:`figure_data`."""
        if self._figures is None:
            from hpablate.render.figures import plotly_figures

            self._figures = plotly_figures(self.figure_data)
        return self._figures

    def save_figures(self, directory: str | Path, format: str = "pdf") -> list[Path]:
        """Write every figure as ``<name>.<format>`` (pdf, svg or png; matplotlib, no browser, no network).

        Returns
        -------
        list of Path
            The files written.
        """
        from hpablate.render.figures import save_figures

        return save_figures(self.figure_data, directory, format)

    def _line(self, col: str, title: str, yrange: tuple[float, float] | None,
              band: tuple[str, str] | None = None) -> LinesFigureData:
        names, xs, ys, lo, hi = [], [], [], [], []
        for m, g in self.summary.groupby("method", sort=False):
            g = g[g["n_trials"] > 0].sort_values("n_trials")
            if g.empty:
                continue
            names.append(str(m))
            xs.append(g["n_trials"].astype(float).tolist())
            ys.append(g[col].astype(float).tolist())
            if band is not None:
                lo.append((g[col] - g[band[0]]).fillna(0).astype(float).tolist())
                hi.append((g[band[1]] - g[col]).fillna(0).astype(float).tolist())
        return LinesFigureData(
            title=title, x_label="trials (median over repetitions)", y_label=col, names=names, x=xs, y=ys,
            err_minus=lo if band is not None else None, err_plus=hi if band is not None else None, log_x=True,
            y_range=yrange,
        )

    def to_html(self, path: str | None = None) -> str:
        """One self-contained HTML page (plotly.js inline, no network access needed).

        Parameters
        ----------
        path : str, optional
            Where to write it; the HTML text is returned either way.
        """
        esc = html.escape
        parts = ["<h1>Ablation designs vs search + fANOVA: ranking agreement and best value</h1>"]
        parts.append("<div class='figs'>" + "".join(
            "<div class='fig'>" + figure_div(fig, f"cmp{i}") + "</div>"
            for i, fig in enumerate(self.figures.values())) + "</div>")
        table = self.table()
        parts.append("<h2>Per method and budget</h2>" + html_table(table, table))
        parts.append(f"<h2>Smallest budget with P(top-k right) &ge; {self.threshold:g}</h2>"
                     + html_table(self.smallest_budget, self.smallest_budget))
        ref = self.reference.reset_index().rename(columns={"index": "param"})
        parts.append("<h2>Reference importances</h2>" + html_table(ref.round(4), ref.round(4)))
        parts.append("<p>k per reference: " + esc(str(self.reference.attrs.get("k", {}))) + "</p>")
        if self.notes:
            parts.append("<h2>How to read this</h2><ul>" + "".join(f"<li>{esc(n)}</li>" for n in self.notes) + "</ul>")
        text = html_page("hpablate comparison", _CSS, parts, "Generated by hpablate.compare.")
        if path is not None:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        return text


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    """Aggregate per-run results into one row per method x budget."""
    rows = []
    for (m, b), g in results.groupby(["method", "budget"], sort=False):
        tau = g["kendall_tau"].to_numpy(float)
        finite = tau[np.isfinite(tau)]
        rows.append({
            "method": m,
            "budget": int(b),
            "n_trials": float(np.median(g["n_trials"])),
            "repeats": int(len(g)),
            "reference": g["reference"].iloc[0],
            "k": int(g["k"].iloc[0]) if np.isfinite(g["k"].iloc[0]) else np.nan,
            "kendall_tau": float(np.median(finite)) if finite.size else math.nan,
            "tau_q25": float(np.quantile(finite, 0.25)) if finite.size else math.nan,
            "tau_q75": float(np.quantile(finite, 0.75)) if finite.size else math.nan,
            "top_k_agreement": float(g["top_k_agreement"].mean()),
            "p_correct": float(g["top_k_correct"].astype(float).mean()) if g["n_trials"].max() > 0 else math.nan,
            "best_value": float(np.nanmedian(g["best_value"])) if g["best_value"].notna().any() else math.nan,
            "compute_s": float(g["compute_s"].mean()),
            "spend": g["spend"].iloc[0],
        })
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def smallest_budgets(summary: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Per method, the smallest budget with ``p_correct >= threshold``."""
    rows = []
    for m, g in summary.groupby("method", sort=False):
        ok = g[g["p_correct"] >= threshold].sort_values("budget")
        rows.append({"method": m, "budget": int(ok["budget"].iloc[0]) if len(ok) else math.nan,
                     "n_trials": float(ok["n_trials"].iloc[0]) if len(ok) else math.nan,
                     "importance": IMPORTANCE_LABEL.get(m, m), "reference": g["reference"].iloc[0]})
    return pd.DataFrame(rows, columns=["method", "budget", "n_trials", "importance", "reference"])


def _nan(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _f(x: Any, digits: int) -> str:
    return "—" if _nan(x) else f"{x:.{digits}f}" if abs(x) < 1e4 else f"{x:.{digits}g}"


def _int(x: Any) -> str:
    return "—" if _nan(x) else str(int(round(float(x))))
