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
    FIGURE_TYPES,
    EffectsFigureData,
    FigureData,
    ImportanceFigureData,
    InteractionFigureData,
    InteractionLinesFigureData,
    MorrisFigureData,
    StructuralFigureData,
    TornadoFigureData,
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
    """The matplotlib :class:`~matplotlib.figure.Figure` of one figure data."""
    return _DRAW[type(d)](d)


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


_DRAW = dict(zip(FIGURE_TYPES, (_effects, _tornado, _interaction, _importance, _morris, _structural,
                                _interaction_lines)))
