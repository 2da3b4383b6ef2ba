"""Plotly figures of an :class:`~hpablate.analysis.report.AnalysisReport` and its HTML page."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hpablate.analysis._input import counts_text
from hpablate.render import figure_div, fmt_pivot, fmt_value, html_page, html_table

if TYPE_CHECKING:
    from hpablate.analysis.report import AnalysisReport

_HEIGHT = 360


def make_figures(r: AnalysisReport) -> dict[str, Any]:
    """Every figure the report's data supports, by name."""
    import plotly.graph_objects as go

    figs: dict[str, Any] = {}
    e = r.effects
    ylab = f"objective {r.objective} ({r.direction})"
    if len(e) and (~e["is_baseline"]).any():
        from plotly.subplots import make_subplots

        params = [p for p in e["param"].unique() if (e["param"] == p).sum() >= 2]
        ncol = 2 if len(params) > 1 else 1
        nrow = (len(params) + ncol - 1) // ncol
        fig = make_subplots(rows=nrow, cols=ncol, subplot_titles=[str(p) for p in params],
                            vertical_spacing=min(0.12, 0.5 / max(nrow, 1)), horizontal_spacing=0.08)
        for k, p in enumerate(params):
            sub = e[e["param"] == p]
            row, col = k // ncol + 1, k % ncol + 1
            numeric = all(isinstance(v, (int, float, np.number)) and not isinstance(v, (bool, np.bool_))
                          for v in sub["level"])
            x = list(sub["level"]) if numeric else [fmt_value(v) for v in sub["level"]]
            half = (sub["ci_high"] - sub["ci_low"]) / 2
            # non-baseline levels: the Welch 95% CI of the delta around the level mean;
            # baseline: the 95% CI of its mean
            err = np.where(sub["is_baseline"], _mean_half(sub), half)
            fig.add_trace(go.Scatter(
                x=x, y=sub["mean"], mode="lines+markers", showlegend=False, name=str(p),
                error_y={"type": "data", "array": np.nan_to_num(err).tolist(), "visible": True},
                marker={"color": ["#d62728" if b else "#1f77b4" for b in sub["is_baseline"]], "size": 9},
                hovertemplate="%{x}: mean %{y:.4g}<extra>" + str(p) + "</extra>",
            ), row=row, col=col)
            if p in r.log_params:
                fig.update_xaxes(type="log", row=row, col=col)
            elif not numeric:
                fig.update_xaxes(type="category", row=row, col=col)
            fig.update_yaxes(title_text=ylab if col == 1 else None, row=row, col=col)
        fig.update_layout(title="One-at-a-time effects (red = baseline; bars = 95% CI of the delta, "
                                "local at the baseline)", height=max(_HEIGHT, 300 * nrow + 80), margin=_margin())
        figs["oat"] = fig
        cand = e[~e["is_baseline"]]
        rows = []
        for p, g in cand.groupby("param", sort=False):
            lo, hi = g["delta"].min(), g["delta"].max()
            rows.append((p, min(lo, 0.0), max(hi, 0.0)))
        rows.sort(key=lambda t: t[2] - t[1])
        fig = go.Figure()
        fig.add_bar(y=[t[0] for t in rows], x=[t[1] for t in rows], orientation="h", name="lowest delta",
                    marker_color="#d62728")
        fig.add_bar(y=[t[0] for t in rows], x=[t[2] for t in rows], orientation="h", name="highest delta",
                    marker_color="#2ca02c")
        fig.update_layout(barmode="overlay", title="Tornado: range of one-at-a-time deltas vs the baseline",
                          xaxis_title=f"delta of {ylab}", height=max(_HEIGHT, 40 * len(rows) + 120),
                          margin=_margin())
        figs["tornado"] = fig
    for k, t in r.interaction_tables.items():
        if t.size == 0:
            continue
        fig = go.Figure(go.Heatmap(
            z=t.to_numpy(dtype=float), x=[fmt_value(v) for v in t.columns], y=[fmt_value(v) for v in t.index],
            colorscale="Viridis", colorbar={"title": "mean"},
            hovertemplate=f"{t.index.name}=%{{y}}<br>{t.columns.name}=%{{x}}<br>mean=%{{z:.4g}}<extra></extra>",
        ))
        fig.update_layout(title=f"Mean objective: {k}", xaxis_title=str(t.columns.name),
                          yaxis_title=str(t.index.name), height=_HEIGHT, margin=_margin())
        fig.update_xaxes(type="category")
        fig.update_yaxes(type="category")
        figs[f"interaction: {k}"] = fig
    imp = r.importances
    if len(imp):
        for method, g in imp.groupby("method", sort=False):
            for kind, h in g.groupby("kind", sort=False):
                h = h.sort_values("importance")
                if h["importance"].isna().all():
                    continue
                err = h["std"].fillna(0).to_numpy() if method.startswith("fANOVA") else None
                fig = go.Figure(go.Bar(
                    x=h["importance"], y=h["param"].astype(str), orientation="h",
                    error_x={"type": "data", "array": err.tolist(), "visible": True} if err is not None else None,
                ))
                label = "SD over trees" if err is not None else ""
                fig.update_layout(title=f"{method} — {kind}" + (f" (bars: {label})" if label else ""),
                                  xaxis_title=h["estimand"].iloc[0], height=max(_HEIGHT, 28 * len(h) + 120),
                                  margin=_margin())
                figs[f"importance: {method} {kind}"] = fig
    if len(r.morris):
        m = r.morris.dropna(subset=["mu_star"])
        fig = go.Figure(go.Scatter(
            x=m["mu_star"], y=m["sigma"].fillna(0), mode="markers+text", text=m["param"], textposition="top center",
            error_x={"type": "data", "symmetric": False, "array": (m["mu_star_hi"] - m["mu_star"]).tolist(),
                     "arrayminus": (m["mu_star"] - m["mu_star_lo"]).tolist(), "visible": True},
        ))
        fig.update_layout(title="Morris: mu* (bootstrap 95% CI) vs sigma", xaxis_title="mu*",
                          yaxis_title="sigma", height=_HEIGHT, margin=_margin())
        figs["morris"] = fig
    s = r.structural
    if len(s):
        labels = [f"{c} ({m.replace('_', '-')})" for c, m in zip(s["component"], s["mode"])]
        fig = go.Figure(go.Bar(
            x=labels, y=s["contribution"],
            error_y={"type": "data", "array": ((s["ci_high"] - s["ci_low"]) / 2).fillna(0).tolist(), "visible": True},
            marker_color=["#2ca02c" if b > 0 else "#d62728" for b in s["benefit"]],
        ))
        fig.update_layout(title="Component contributions (95% CI; green = helps)",
                          yaxis_title=f"contribution to {ylab}", height=_HEIGHT, margin=_margin())
        figs["structural"] = fig
    return figs


def _mean_half(sub: pd.DataFrame) -> np.ndarray:
    from scipy import stats

    n = sub["n"].to_numpy(float)
    sd = sub["std"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        q = np.where(n > 1, stats.t.ppf(0.975, np.maximum(n - 1, 1)), np.nan)
        return q * sd / np.sqrt(n)


def _margin() -> dict[str, int]:
    return {"l": 60, "r": 20, "t": 50, "b": 50}


_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1200px;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
.summary{background:#f4f8fb;border-left:4px solid #1f77b4;padding:8px 16px}
.summary li{margin:4px 0;font-size:1.05em}.notes li{color:#555;margin:3px 0}
table{border-collapse:collapse;font-size:.85em;margin:8px 0}th,td{border:1px solid #ddd;padding:3px 7px;text-align:right}
th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}
.figs{display:block}.fig{width:100%;margin:6px 0}
"""


def render_html(r: AnalysisReport) -> str:
    """The self-contained HTML page of a report (plotly.js inline, no external resources)."""
    esc = html.escape
    parts = [
        f"<h1>Analysis of study “{esc(r.study_name)}” — objective {r.objective} ({esc(r.direction)})</h1>",
        f"<p>Design: {esc(r.design or 'plain Optuna study')}. Trials: {esc(counts_text(r.counts))}.</p>",
    ]
    if r.summary:
        parts.append("<div class='summary'><ul>" + "".join(f"<li>{esc(s)}</li>" for s in r.summary) + "</ul></div>")
    figs = r.figures
    div_id = iter(range(10**6))

    def fig_html(names: list[str]) -> str:
        out = []
        for n in names:
            out.append("<div class='fig'>" + figure_div(figs[n], f"fig{next(div_id)}") + "</div>")
        return "<div class='figs'>" + "".join(out) + "</div>" if out else ""

    figures_of = {
        "effects": ["tornado", "oat"],
        "interactions": [n for n in figs if n.startswith("interaction: ")],
        "structural": ["structural"],
        "importances": [n for n in figs if n.startswith("importance: ")],
        "morris": ["morris"],
    }
    for key, title, t in r._display_tables():
        parts.append(f"<h2>{esc(title)}</h2>")
        parts.append(fig_html([n for n in figures_of.get(key, []) if n in figs]))
        if key == "interactions":
            for k, pv in r.interaction_tables.items():
                d = fmt_pivot(pv).reset_index()
                parts.append(f"<h3>Mean objective, {esc(k)}</h3>" + html_table(d, d.astype(str)))
        parts.append(html_table(t, t))
    if r.marginal_tables:
        parts.append("<h2>Marginal tables (binned from the trials)</h2>")
        for k, t in r.marginal_tables.items():
            parts.append(f"<h3>{esc(k)}</h3>" + html_table(t))
    if r.notes:
        parts.append("<h2>How to read this report</h2><ul class='notes'>" +
                     "".join(f"<li>{esc(s)}</li>" for s in r.notes) + "</ul>")
    return html_page(f"hpablate analysis: {r.study_name}", _CSS, parts, "Generated by hpablate.")
