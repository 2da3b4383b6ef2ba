"""Static matplotlib figures (PDF, SVG, PNG) drawn from the same figure data as the plotly ones.

Figures are made with :class:`matplotlib.figure.Figure` directly, not through ``pyplot``: no GUI
backend, no global figure state, nothing opened in a browser or fetched from the network.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
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

FORMATS = ("pdf", "svg", "png")
_WIDTH = 7.0


def save_figures(figures: Mapping[str, FigureData], directory: str | Path, format: str = "pdf") -> list[Path]:
    """Write every figure to ``directory`` (made if missing) as ``<name>.<format>``.

    Parameters
    ----------
    figures : mapping of str to figure data
        From :func:`hpablate.render.figures.figure_data`.
    directory : str or Path
    format : {"pdf", "svg", "png"}

    Returns
    -------
    list of Path
        The files written, in the order of ``figures``.

    Raises
    ------
    ValueError
        If ``format`` is not one of :data:`FORMATS`.
    """
    if format not in FORMATS:
        raise ValueError(f"figure format {format!r} is not one of {', '.join(FORMATS)}")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, d in figures.items():
        path = out / f"{file_stem(name)}.{format}"
        matplotlib_figure(d).savefig(path, format=format, dpi=150, bbox_inches="tight")
        paths.append(path)
    return paths


def file_stem(name: str) -> str:
    """A portable file name for a figure name.

    Examples
    --------
    >>> file_stem("interaction: lr × batch_size")
    'interaction-lr-x-batch_size'
    """
    return re.sub(r"[^A-Za-z0-9_.]+", "-", name.replace("×", "x")).strip("-")


def matplotlib_figure(d: FigureData) -> Any:
    """The matplotlib :class:`~matplotlib.figure.Figure` of one figure data.

    Text from the study (names, levels, labels) is drawn as data: control characters show as
    ``\\xNN`` and ``$`` is escaped, so no name switches on matplotlib's mathtext.
    """
    return _DRAW[type(d)](_plain_text(d))


def _plain_text(value: Any) -> Any:
    """``value`` with every string made safe for matplotlib text (NamedTuples and lists walked)."""
    from hpablate.render._safe_text import strip_controls

    if isinstance(value, str):
        return strip_controls(value).replace("$", r"\$")
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(_plain_text(v) for v in value))
    if isinstance(value, list):
        return [_plain_text(v) for v in value]
    return value


def _figure(height: float, **kwargs: Any) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(_WIDTH, height), layout="constrained", **kwargs)


def _effects(d: EffectsFigureData) -> Any:
    ncol = 2 if len(d.panels) > 1 else 1
    nrow = math.ceil(len(d.panels) / ncol)
    fig = _figure(2.6 * nrow + 0.6)
    axes = fig.subplots(nrow, ncol, squeeze=False).ravel()
    for ax, p in zip(axes, d.panels):
        x = p.x if p.numeric else list(range(len(p.x)))
        ax.plot(x, p.mean, color=COLOURS["neutral"], zorder=1)
        for xi, m, e, r in zip(x, p.mean, p.err, p.roles):
            ax.errorbar([xi], [m], yerr=[e], fmt="o", color=COLOURS[r], capsize=3, zorder=2)
        if p.points:  # each replicate, just right of its level's mean
            xs = [_beside(xi, p, x) for xi, pts in zip(x, p.points) for _ in pts]
            ax.scatter(xs, [v for pts in p.points for v in pts], s=12, facecolors="none",
                       edgecolors=COLOURS["baseline"], alpha=0.6, linewidths=0.8, zorder=3)
        if p.log:
            ax.set_xscale("log")
        if not p.numeric:
            ax.set_xticks(x, p.x)
        ax.set_title(p.param, fontsize=10)
    for k, ax in enumerate(axes):
        if k >= len(d.panels):
            ax.set_visible(False)
        elif k % ncol == 0:
            ax.set_ylabel(d.y_label)
    fig.suptitle(d.title, fontsize=9)
    return fig


def _beside(xi: Any, p: Any, x: list[Any]) -> float:
    """An x just right of ``xi``: a step in log space on a log axis, else a share of the axis range."""
    if p.log:
        return float(xi) * 1.08
    span = (max(x) - min(x)) if len(x) > 1 else 1.0
    return float(xi) + 0.03 * float(span or 1.0)


def _tornado(d: TornadoFigureData) -> Any:
    fig = _figure(max(2.5, 0.35 * len(d.params) + 1.2))
    ax = fig.subplots()
    ax.barh(d.params, d.low, color=COLOURS[d.low_role], label="lowest delta")
    ax.barh(d.params, d.high, color=COLOURS[d.high_role], label="highest delta")
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(d.x_label)
    ax.legend(fontsize=8)
    ax.set_title(d.title, fontsize=9)
    return fig


def _interaction(d: InteractionFigureData) -> Any:
    import numpy as np

    fig = _figure(3.6)
    ax = fig.subplots()
    z = np.ma.masked_invalid(np.asarray(d.z, dtype=float))
    im = ax.imshow(z, cmap="RdYlGn" if d.higher_is_better else "RdYlGn_r", aspect="auto", origin="lower")
    ax.set_xticks(range(len(d.x)), d.x)
    ax.set_yticks(range(len(d.y)), d.y)
    ax.set_xlabel(d.x_name)
    ax.set_ylabel(d.y_name)
    fig.colorbar(im, ax=ax, label="mean")
    ax.set_title(d.title, fontsize=10)
    return fig


def _importance(d: ImportanceFigureData) -> Any:
    fig = _figure(max(2.5, 0.3 * len(d.params) + 1.2))
    ax = fig.subplots()
    ax.barh(d.params, d.values, xerr=d.err, color=COLOURS["neutral"], capsize=3)
    ax.set_xlabel(d.x_label)
    ax.set_title(d.title, fontsize=10)
    return fig


def _morris(d: MorrisFigureData) -> Any:
    fig = _figure(3.6)
    ax = fig.subplots()
    xerr = [[m - lo for m, lo in zip(d.mu_star, d.mu_star_low)], [h - m for h, m in zip(d.mu_star_high, d.mu_star)]]
    ax.errorbar(d.mu_star, d.sigma, xerr=xerr, fmt="o", color=COLOURS["neutral"], capsize=3)
    for name, x, y in zip(d.params, d.mu_star, d.sigma):
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(0, 5), ha="center", fontsize=8)
    ax.set_xlabel("mu*")
    ax.set_ylabel("sigma")
    ax.set_title(d.title, fontsize=10)
    return fig


def _structural(d: StructuralFigureData) -> Any:
    fig = _figure(3.6)
    ax = fig.subplots()
    ax.bar(d.labels, d.contribution, yerr=d.err, color=[COLOURS[r] for r in d.roles], capsize=3)
    if d.points:
        xs = [k + 0.25 for k, pts in enumerate(d.points) for _ in pts]
        ax.scatter(xs, [v for pts in d.points for v in pts], s=14, color=COLOURS["baseline"], alpha=0.7, zorder=3)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylabel(d.y_label)
    ax.tick_params(axis="x", labelrotation=30)
    ax.set_title(d.title, fontsize=10)
    return fig


def _interaction_lines(d: InteractionLinesFigureData) -> Any:
    fig = _figure(3.6)
    ax = fig.subplots()
    for label, row in zip(d.lines, d.means):
        ax.plot(range(len(d.x)), row, marker="o", label=f"{d.line_name}={label}")
    ax.set_xticks(range(len(d.x)), d.x)
    ax.set_xlabel(d.x_name)
    ax.set_ylabel(d.y_label)
    ax.legend(fontsize=8)
    ax.set_title(d.title, fontsize=10)
    return fig


def _curves(d: LearningCurvesFigureData) -> Any:
    fig = _figure(4.2)
    ax = fig.subplots()
    for k, (name, x, m, lo, hi) in enumerate(zip(d.configs, d.steps, d.mean, d.low, d.high)):
        colour = COLOURS["baseline"] if name == "baseline" else PALETTE[k % len(PALETTE)]
        ax.plot(x, m, marker="o", markersize=3, color=colour, label=name)
        ax.fill_between(x, lo, hi, color=colour, alpha=0.15, linewidth=0)
    if d.settle_step is not None:
        ax.axvline(d.settle_step, color="black", linestyle=":", linewidth=1,
                   label=f"ranking settles (step {d.settle_step})")
    ax.set_xlabel(d.x_label)
    ax.set_ylabel(d.y_label)
    ax.legend(fontsize=7, ncol=2)
    ax.set_title(d.title, fontsize=9)
    return fig


def _failures(d: FailuresFigureData) -> Any:
    fig = _figure(max(2.5, 0.3 * len(d.labels) + 1.2))
    ax = fig.subplots()
    left = [0] * len(d.labels)
    for name, counts, key in (("completed", d.completed, COMPLETED), ("failed", d.failed, FAILED),
                              ("pruned", d.pruned, PRUNED)):
        ax.barh(range(len(d.labels)), counts, left=left, color=COLOURS[key], label=name)
        left = [a + b for a, b in zip(left, counts)]
    for k, (total, rate) in enumerate(zip(left, d.failure_rate)):
        if rate == rate:
            ax.annotate(f"{rate:.0%} failed", (total, k), textcoords="offset points", xytext=(4, -3), fontsize=7)
    ax.set_yticks(range(len(d.labels)), d.labels)
    ax.invert_yaxis()
    ax.set_xlabel("trials")
    ax.legend(fontsize=8)
    ax.set_title(d.title, fontsize=9)
    return fig


def _pareto(d: ParetoFigureData) -> Any:
    fig = _figure(4.2)
    ax = fig.subplots()
    for on, name, colour, size in ((False, "dominated", COLOURS["neutral"], 4), (True, "Pareto front",
                                                                                COLOURS["baseline"], 6)):
        idx = [i for i, f in enumerate(d.on_front) if f == on]
        if idx:
            ax.errorbar([d.x[i] for i in idx], [d.y[i] for i in idx], xerr=[d.x_err[i] for i in idx],
                        yerr=[d.y_err[i] for i in idx], fmt="o", markersize=size, color=colour, capsize=2,
                        label=name)
    ax.plot([d.x[i] for i in d.front], [d.y[i] for i in d.front], color=COLOURS["baseline"], linestyle=":")
    for i in d.front:
        ax.annotate(d.configs[i], (d.x[i], d.y[i]), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xlabel(d.x_label)
    ax.set_ylabel(d.y_label)
    ax.legend(fontsize=8)
    ax.set_title(d.title, fontsize=9)
    return fig


def _objective_effects(d: ObjectiveEffectsFigureData) -> Any:
    return _side_by_side(d.title, d.labels, d.objectives, d.delta, d.err_low, d.err_high, d.roles, "delta")


def _side_by_side(title: str, labels: list[str], columns: list[str], values: list[list[float]],
                  err_low: list[list[float]], err_high: list[list[float]], roles: list[list[str]],
                  x_label: str) -> Any:
    """Horizontal bars of each column's values, one panel per column, sharing the labels' axis."""
    fig = _figure(max(2.5, 0.3 * len(labels) + 1.4))
    axes = fig.subplots(1, len(columns), sharey=True, squeeze=False).ravel()
    for k, ax in enumerate(axes):
        ax.barh(range(len(labels)), values[k], xerr=[err_low[k], err_high[k]],
                color=[COLOURS[r] for r in roles[k]], capsize=2)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_title(columns[k], fontsize=9)
        ax.set_xlabel(x_label, fontsize=8)
    axes[0].set_yticks(range(len(labels)), labels)
    axes[0].invert_yaxis()
    fig.suptitle(title, fontsize=8, wrap=True)
    return fig


def _sobol(d: SobolFigureData) -> Any:
    import numpy as np

    fig = _figure(max(2.5, 0.45 * len(d.params) + 1.4))
    ax = fig.subplots()
    y = np.arange(len(d.params))
    for off, name, v, lo, hi, colour in ((-0.2, "S (first order)", d.first, d.first_low, d.first_high, PALETTE[0]),
                                         (0.2, "ST (total order)", d.total, d.total_low, d.total_high, PALETTE[1])):
        ax.barh(y + off, v, height=0.38, xerr=[_below(v, lo), _above(v, hi)], color=colour, capsize=2, label=name)
    ax.set_yticks(y, d.params)
    ax.invert_yaxis()
    ax.set_xlabel(d.x_label)
    ax.set_xlim(left=0)
    ax.legend(fontsize=8)
    ax.set_title(d.title, fontsize=8, wrap=True)
    return fig


def _pair_matrix(d: PairMatrixFigureData) -> Any:
    import numpy as np
    from matplotlib.colors import TwoSlopeNorm

    fig = _figure(max(3.0, 0.45 * len(d.names) + 2.0))
    ax = fig.subplots()
    z = np.asarray(d.z, dtype=float).reshape(len(d.names), len(d.names))
    finite = z[np.isfinite(z)]
    if d.signed:
        span = float(np.abs(finite).max()) if finite.size and np.abs(finite).max() > 0 else 1.0
        im = ax.imshow(np.ma.masked_invalid(z), cmap="RdYlGn" if d.higher_is_better else "RdYlGn_r",
                       norm=TwoSlopeNorm(0.0, -span, span))
    else:
        top = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
        im = ax.imshow(np.ma.masked_invalid(z), cmap="Blues", vmin=0.0, vmax=top)
    for i in range(len(d.names)):
        for j in range(len(d.names)):
            if np.isfinite(z[i, j]):
                ax.text(j, i, cell_text(z[i, j], d.low[i][j], d.high[i][j], "\n"), ha="center", va="center",
                        fontsize=7)
    ax.set_xticks(range(len(d.names)), d.names, rotation=30, ha="right")
    ax.set_yticks(range(len(d.names)), d.names)
    fig.colorbar(im, ax=ax, label=d.colour_label)
    ax.set_title(d.title, fontsize=8, wrap=True)
    return fig


def _shapley(d: ShapleyFigureData) -> Any:
    return _side_by_side(d.title, d.components, d.estimates, d.values, d.err_low, d.err_high, d.roles, d.x_label)


def _path(d: PathFigureData) -> Any:
    fig = _figure(5.0)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[2, 1])
    x = list(range(len(d.labels)))
    shown = [k for k, s in enumerate(d.candidate_step) if s < len(d.labels)]
    if shown:
        top.scatter([d.candidate_step[k] for k in shown], [d.candidate_mean[k] for k in shown], s=16,
                    color=COLOURS["baseline"], alpha=0.25, label="round candidates", zorder=1)
    top.plot(x, d.mean, color=COLOURS["neutral"], zorder=2)
    for xi, m, lo, hi, r in zip(x, d.mean, d.mean_low, d.mean_high, d.roles):
        top.errorbar([xi], [m], yerr=[_below([m], [lo]), _above([m], [hi])], fmt="o", color=COLOURS[r], capsize=3,
                     zorder=3)
    top.set_ylabel(d.y_label, fontsize=8)
    if shown:
        top.legend(fontsize=7)
    bottom.bar(x[1:], d.gain[1:], yerr=[_below(d.gain[1:], d.gain_low[1:]), _above(d.gain[1:], d.gain_high[1:])],
               color=[COLOURS[r] for r in d.roles[1:]], capsize=3)
    bottom.axhline(0, color="black", linewidth=0.8)
    bottom.set_ylabel("gain", fontsize=8)
    bottom.set_xticks(x, d.labels, rotation=25, ha="right", fontsize=8)
    fig.suptitle(d.title, fontsize=8, wrap=True)
    return fig


def _above(v: list[float], hi: list[float]) -> list[float]:
    """Upper error-bar lengths (0 where a bound is missing)."""
    return [max(h - x, 0.0) if h == h and x == x else 0.0 for x, h in zip(v, hi)]


def _below(v: list[float], lo: list[float]) -> list[float]:
    """Lower error-bar lengths (0 where a bound is missing)."""
    return [max(x - lo_, 0.0) if lo_ == lo_ and x == x else 0.0 for x, lo_ in zip(v, lo)]


def _lines(d: LinesFigureData) -> Any:
    fig = _figure(3.6)
    ax = fig.subplots()
    for k, (name, x, y) in enumerate(zip(d.names, d.x, d.y)):
        err = None if d.err_minus is None or d.err_plus is None else [d.err_minus[k], d.err_plus[k]]
        ax.errorbar(x, y, yerr=err, marker="o", markersize=4, capsize=2, color=PALETTE[k % len(PALETTE)], label=name)
    if d.log_x:
        ax.set_xscale("log")
    if d.y_range is not None:
        ax.set_ylim(*d.y_range)
    ax.set_xlabel(d.x_label)
    ax.set_ylabel(d.y_label)
    ax.legend(fontsize=8)
    ax.set_title(d.title, fontsize=10)
    return fig


_DRAW = dict(zip(FIGURE_TYPES, (_effects, _tornado, _interaction, _importance, _morris, _structural,
                                _interaction_lines, _curves, _failures, _pareto, _objective_effects, _lines, _sobol,
                                _pair_matrix, _shapley, _path)))
