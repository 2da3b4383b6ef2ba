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
    PairMatrixFigureData,
    PathFigureData,
    ShapleyFigureData,
    SobolFigureData,
    StructuralFigureData,
    TornadoFigureData,
    cell_text,
)

_HEIGHT = 360
_MARGIN = {"l": 60, "r": 20, "t": 50, "b": 50}
#: Long titles (the global designs' figures say how to read them) wrap onto lines of this many characters.
_TITLE_WIDTH = 110


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
    return _side_by_side(d.title, d.labels, d.objectives, d.delta, d.err_low, d.err_high, d.roles)


def _side_by_side(title: str, labels: list[str], columns: list[str], values: list[list[float]],
                  err_low: list[list[float]], err_high: list[list[float]], roles: list[list[str]],
                  x_label: str | None = None) -> Any:
    """Horizontal bars of each column's values, one panel per column, sharing the labels' axis."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=len(columns), subplot_titles=columns, shared_yaxes=True,
                        horizontal_spacing=0.04)
    for k in range(len(columns)):
        fig.add_trace(go.Bar(
            x=values[k], y=labels, orientation="h", showlegend=False, name=columns[k],
            marker_color=[COLOURS[r] for r in roles[k]],
            error_x={"type": "data", "symmetric": False, "visible": True, "array": err_high[k],
                     "arrayminus": err_low[k]},
        ), row=1, col=k + 1)
        if x_label:
            fig.update_xaxes(title_text=x_label if k == len(columns) // 2 else None, row=1, col=k + 1)
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_layout(title=_wrap(title), height=max(_HEIGHT, 26 * len(labels) + 160), margin=_margin(title))
    return fig


def _sobol(d: SobolFigureData) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure()
    for name, v, lo, hi, colour in (("S (first order)", d.first, d.first_low, d.first_high, PALETTE[0]),
                                    ("ST (total order)", d.total, d.total_low, d.total_high, PALETTE[1])):
        fig.add_bar(y=d.params, x=v, orientation="h", name=name, marker_color=colour,
                    error_x={"type": "data", "symmetric": False, "visible": True, "array": _above(v, hi),
                             "arrayminus": _below(v, lo)},
                    hovertemplate="%{y}: %{x:.3f}<extra>" + name + "</extra>")
    fig.update_layout(barmode="group", title=_wrap(d.title), xaxis_title=d.x_label,
                      height=max(_HEIGHT, 44 * len(d.params) + 140), margin=_margin(d.title))
    fig.update_yaxes(autorange="reversed", type="category")
    return fig


def _pair_matrix(d: PairMatrixFigureData) -> Any:
    import plotly.graph_objects as go

    scale: dict[str, Any] = ({"colorscale": "RdYlGn", "reversescale": not d.higher_is_better, "zmid": 0.0}
                             if d.signed else {"colorscale": "Blues", "zmin": 0.0})
    fig = go.Figure(go.Heatmap(
        z=d.z, x=d.names, y=d.names, text=_cell_text(d), texttemplate="%{text}", colorbar={"title": d.colour_label},
        hovertemplate="%{y} × %{x}: %{text}<extra></extra>", **scale,
    ))
    fig.update_layout(title=_wrap(d.title), height=max(_HEIGHT, 40 * len(d.names) + 180), margin=_margin(d.title))
    fig.update_xaxes(type="category")
    fig.update_yaxes(type="category", autorange="reversed")
    return fig


def _cell_text(d: PairMatrixFigureData) -> list[list[str]]:
    """Each cell's value and 95% CI as text (numbers only), empty where there is no pair."""
    return [[cell_text(z, lo, hi) for z, lo, hi in zip(*rows)] for rows in zip(d.z, d.low, d.high)]


def _shapley(d: ShapleyFigureData) -> Any:
    return _side_by_side(d.title, d.components, d.estimates, d.values, d.err_low, d.err_high, d.roles, d.x_label)


def _path(d: PathFigureData) -> Any:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.65, 0.35], vertical_spacing=0.06)
    shown = [k for k, s in enumerate(d.candidate_step) if s < len(d.labels)]
    if shown:
        fig.add_trace(go.Scatter(
            x=[d.labels[d.candidate_step[k]] for k in shown], y=[d.candidate_mean[k] for k in shown],
            text=[d.candidate_labels[k] for k in shown], mode="markers", name="round candidates",
            marker={"color": COLOURS["baseline"], "size": 7, "opacity": 0.3},
            hovertemplate="candidate %{text}: mean %{y:.4g}<extra></extra>",
        ), row=1, col=1)
    fig.add_trace(go.Scatter(
        x=d.labels, y=d.mean, mode="lines+markers", name="path", line={"color": COLOURS["neutral"]},
        marker={"color": [COLOURS[r] for r in d.roles], "size": 10},
        error_y={"type": "data", "symmetric": False, "visible": True, "array": _above(d.mean, d.mean_high),
                 "arrayminus": _below(d.mean, d.mean_low)},
        hovertemplate="%{x}: mean %{y:.4g}<extra></extra>",
    ), row=1, col=1)
    fig.add_trace(go.Bar(
        x=d.labels[1:], y=d.gain[1:], name="gain", marker_color=[COLOURS[r] for r in d.roles[1:]], showlegend=False,
        error_y={"type": "data", "symmetric": False, "visible": True, "array": _above(d.gain[1:], d.gain_high[1:]),
                 "arrayminus": _below(d.gain[1:], d.gain_low[1:])},
        hovertemplate="%{x}: gain %{y:.4g}<extra></extra>",
    ), row=2, col=1)
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=d.labels)
    fig.update_yaxes(title_text=d.y_label, row=1, col=1)
    fig.update_yaxes(title_text="gain", row=2, col=1)
    fig.update_layout(title=_wrap(d.title), height=_HEIGHT + 220, margin=_margin(d.title))
    return fig


def _wrap(title: str) -> str:
    """``title`` broken into lines of at most :data:`_TITLE_WIDTH` characters (plotly does not wrap)."""
    import textwrap

    return "<br>".join(textwrap.wrap(title, _TITLE_WIDTH)) or title


def _margin(title: str) -> dict[str, int]:
    """The usual margins, the top one tall enough for the wrapped title's lines."""
    import textwrap

    return {**_MARGIN, "t": 50 + 18 * max(len(textwrap.wrap(title, _TITLE_WIDTH)), 1) + 10}


def _above(v: list[float], hi: list[float]) -> list[float]:
    """Upper error-bar lengths (0 where a bound is missing)."""
    return [h - x if h == h and x == x else 0.0 for x, h in zip(v, hi)]


def _below(v: list[float], lo: list[float]) -> list[float]:
    """Lower error-bar lengths (0 where a bound is missing)."""
    return [x - lo_ if lo_ == lo_ and x == x else 0.0 for x, lo_ in zip(v, lo)]


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
                                _interaction_lines, _curves, _failures, _pareto, _objective_effects, _lines, _sobol,
                                _pair_matrix, _shapley, _path)))
