"""Interactive plotly figures drawn from the figure data of :mod:`hpablate.render.figures._data`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hpablate.render.figures._data import (
    COLOURS,
    COMPLETED,
    FAILED,
    FIGURE_TYPES,
    PALETTE,
    PRUNED,
    EffectsFigureData,
    FailuresFigureData,
    FigureData,
    LearningCurvesFigureData,
    LinesFigureData,
    ObjectiveEffectsFigureData,
    ParetoFigureData,
    ImportanceFigureData,
    InteractionFigureData,
    InteractionLinesFigureData,
    MorrisFigureData,
    StructuralFigureData,
    TornadoFigureData,
)

_HEIGHT = 360
_MARGIN = {"l": 60, "r": 20, "t": 50, "b": 50}


def plotly_figures(figures: Mapping[str, FigureData]) -> dict[str, Any]:
    """A plotly figure for each figure data, by the same names."""
    return {name: plotly_figure(d) for name, d in figures.items()}


def plotly_figure(d: FigureData) -> Any:
    """The plotly figure of one figure data."""
    return _DRAW[type(d)](d)


def _effects(d: EffectsFigureData) -> Any:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    ncol = 2 if len(d.panels) > 1 else 1
    nrow = (len(d.panels) + ncol - 1) // ncol
    fig = make_subplots(rows=nrow, cols=ncol, subplot_titles=[p.param for p in d.panels],
                        vertical_spacing=min(0.12, 0.5 / max(nrow, 1)), horizontal_spacing=0.08)
    for k, p in enumerate(d.panels):
        row, col = k // ncol + 1, k % ncol + 1
        fig.add_trace(go.Scatter(
            x=p.x, y=p.mean, mode="lines+markers", showlegend=False, name=p.param,
            error_y={"type": "data", "array": p.err, "visible": True},
            line={"color": COLOURS["neutral"]},
            marker={"color": [COLOURS[r] for r in p.roles], "size": 9},
            hovertemplate="%{x}: mean %{y:.4g}<extra>" + p.param + "</extra>",
        ), row=row, col=col)
        if p.points:
            xs = [x for x, pts in zip(p.x, p.points) for _ in pts]
            fig.add_trace(go.Scatter(
                x=xs, y=[v for pts in p.points for v in pts], mode="markers", showlegend=False,
                name=f"{p.param} replicates", marker={"color": COLOURS["baseline"], "size": 5, "opacity": 0.45,
                                                      "symbol": "circle-open"},
                hovertemplate="%{x}: replicate %{y:.4g}<extra>" + p.param + "</extra>",
            ), row=row, col=col)
        if p.log:
            fig.update_xaxes(type="log", row=row, col=col)
        elif not p.numeric:
            fig.update_xaxes(type="category", row=row, col=col)
        fig.update_yaxes(title_text=d.y_label if col == 1 else None, row=row, col=col)
    fig.update_layout(title=d.title, height=max(_HEIGHT, 300 * nrow + 80), margin=_MARGIN)
    return fig


def _tornado(d: TornadoFigureData) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_bar(y=d.params, x=d.low, orientation="h", name="lowest delta", marker_color=COLOURS[d.low_role])
    fig.add_bar(y=d.params, x=d.high, orientation="h", name="highest delta", marker_color=COLOURS[d.high_role])
    fig.update_layout(barmode="overlay", title=d.title, xaxis_title=d.x_label,
                      height=max(_HEIGHT, 40 * len(d.params) + 120), margin=_MARGIN)
    return fig


def _interaction(d: InteractionFigureData) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure(go.Heatmap(
        z=d.z, x=d.x, y=d.y, colorscale="RdYlGn", reversescale=not d.higher_is_better,
        colorbar={"title": "mean"},
        hovertemplate=f"{d.y_name}=%{{y}}<br>{d.x_name}=%{{x}}<br>mean=%{{z:.4g}}<extra></extra>",
    ))
    fig.update_layout(title=d.title, xaxis_title=d.x_name, yaxis_title=d.y_name, height=_HEIGHT, margin=_MARGIN)
    fig.update_xaxes(type="category")
    fig.update_yaxes(type="category")
    return fig


def _importance(d: ImportanceFigureData) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure(go.Bar(
        x=d.values, y=d.params, orientation="h", marker_color=COLOURS["neutral"],
        error_x={"type": "data", "array": d.err, "visible": True} if d.err is not None else None,
    ))
    fig.update_layout(title=d.title, xaxis_title=d.x_label, height=max(_HEIGHT, 28 * len(d.params) + 120),
                      margin=_MARGIN)
    return fig


def _morris(d: MorrisFigureData) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure(go.Scatter(
        x=d.mu_star, y=d.sigma, mode="markers+text", text=d.params, textposition="top center",
        marker={"color": COLOURS["neutral"]},
        error_x={"type": "data", "symmetric": False, "visible": True,
                 "array": [h - m for h, m in zip(d.mu_star_high, d.mu_star)],
                 "arrayminus": [m - lo for m, lo in zip(d.mu_star, d.mu_star_low)]},
    ))
    fig.update_layout(title=d.title, xaxis_title="mu*", yaxis_title="sigma", height=_HEIGHT, margin=_MARGIN)
    return fig


def _structural(d: StructuralFigureData) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure(go.Bar(
        x=d.labels, y=d.contribution, error_y={"type": "data", "array": d.err, "visible": True},
        marker_color=[COLOURS[r] for r in d.roles], name="contribution",
    ))
    if d.points:
        fig.add_trace(go.Scatter(
            x=[lab for lab, pts in zip(d.labels, d.points) for _ in pts], y=[v for pts in d.points for v in pts],
            mode="markers", name="replicates", marker={"color": COLOURS["baseline"], "size": 6, "opacity": 0.6},
        ))
    fig.update_layout(title=d.title, yaxis_title=d.y_label, height=_HEIGHT, margin=_MARGIN, showlegend=False)
    return fig


def _interaction_lines(d: InteractionLinesFigureData) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure([go.Scatter(x=d.x, y=row, mode="lines+markers", name=f"{d.line_name}={label}")
                     for label, row in zip(d.lines, d.means)])
    fig.update_layout(title=d.title, xaxis_title=d.x_name, yaxis_title=d.y_label, height=_HEIGHT, margin=_MARGIN,
                      legend_title_text=d.line_name)
    fig.update_xaxes(type="category")
    return fig


def _curves(d: LearningCurvesFigureData) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure()
    for k, (name, x, m, lo, hi) in enumerate(zip(d.configs, d.steps, d.mean, d.low, d.high)):
        colour = COLOURS["baseline"] if name == "baseline" else PALETTE[k % len(PALETTE)]
        fig.add_scatter(x=x, y=m, mode="lines+markers", name=name, line={"color": colour},
                        error_y={"type": "data", "symmetric": False, "visible": True,
                                 "array": [h - v for h, v in zip(hi, m)], "arrayminus": [v - lo_ for v, lo_ in zip(m, lo)]})
    if d.settle_step is not None:
        fig.add_vline(x=d.settle_step, line_dash="dot", annotation_text=f"ranking settles: step {d.settle_step}")
    fig.update_layout(title=d.title, xaxis_title=d.x_label, yaxis_title=d.y_label, height=_HEIGHT + 60,
                      margin=_MARGIN)
    return fig


def _failures(d: FailuresFigureData) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure()
    for name, counts, key in (("completed", d.completed, COMPLETED), ("failed", d.failed, FAILED),
                              ("pruned", d.pruned, PRUNED)):
        fig.add_bar(y=d.labels, x=counts, orientation="h", name=name, marker_color=COLOURS[key],
                    customdata=d.failure_rate, hovertemplate="%{y}: %{x} " + name
                    + " (failure rate %{customdata:.0%})<extra></extra>")
    fig.update_layout(barmode="stack", title=d.title, xaxis_title="trials",
                      height=max(_HEIGHT, 24 * len(d.labels) + 140), margin=_MARGIN)
    fig.update_yaxes(autorange="reversed", type="category")
    return fig


def _pareto(d: ParetoFigureData) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure()
    for on, name, colour in ((False, "dominated", COLOURS["neutral"]), (True, "Pareto front", COLOURS["baseline"])):
        idx = [i for i, f in enumerate(d.on_front) if f == on]
        fig.add_scatter(x=[d.x[i] for i in idx], y=[d.y[i] for i in idx], mode="markers", name=name,
                        text=[d.configs[i] for i in idx], marker={"color": colour, "size": 11 if on else 8},
                        error_x={"type": "data", "array": [d.x_err[i] for i in idx], "visible": True},
                        error_y={"type": "data", "array": [d.y_err[i] for i in idx], "visible": True},
                        hovertemplate="%{text}: (%{x:.4g}, %{y:.4g})<extra></extra>")
    fig.add_scatter(x=[d.x[i] for i in d.front], y=[d.y[i] for i in d.front], mode="lines", showlegend=False,
                    line={"color": COLOURS["baseline"], "dash": "dot"}, hoverinfo="skip")
    fig.update_layout(title=d.title, xaxis_title=d.x_label, yaxis_title=d.y_label, height=_HEIGHT + 60,
                      margin=_MARGIN)
    return fig


def _objective_effects(d: ObjectiveEffectsFigureData) -> Any:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=len(d.objectives), subplot_titles=d.objectives, shared_yaxes=True,
                        horizontal_spacing=0.04)
    for k in range(len(d.objectives)):
        fig.add_trace(go.Bar(
            x=d.delta[k], y=d.labels, orientation="h", showlegend=False, name=d.objectives[k],
            marker_color=[COLOURS[r] for r in d.roles[k]],
            error_x={"type": "data", "symmetric": False, "visible": True, "array": d.err_high[k],
                     "arrayminus": d.err_low[k]},
        ), row=1, col=k + 1)
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_layout(title=d.title, height=max(_HEIGHT, 26 * len(d.labels) + 140), margin=_MARGIN)
    return fig


def _lines(d: LinesFigureData) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure()
    for k, (name, x, y) in enumerate(zip(d.names, d.x, d.y)):
        err = None
        if d.err_minus is not None and d.err_plus is not None:
            err = {"type": "data", "symmetric": False, "visible": True, "array": d.err_plus[k],
                   "arrayminus": d.err_minus[k]}
        fig.add_scatter(x=x, y=y, mode="lines+markers", name=name, error_y=err,
                        line={"color": PALETTE[k % len(PALETTE)]})
    fig.update_layout(title=d.title, xaxis_title=d.x_label, yaxis_title=d.y_label, height=380, margin=_MARGIN)
    if d.log_x:
        fig.update_xaxes(type="log")
    if d.y_range is not None:
        fig.update_yaxes(range=list(d.y_range))
    return fig


_DRAW = dict(zip(FIGURE_TYPES, (_effects, _tornado, _interaction, _importance, _morris, _structural,
                                _interaction_lines, _curves, _failures, _pareto, _objective_effects, _lines)))
