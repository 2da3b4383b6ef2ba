"""Figures of the global designs: Sobol indices, Shapley values beside LOCO effects, the ablation path.

Each figure's data is checked against the report's tables (and, where cheap, against the trials
themselves), independent of plotting; then both drawers, the static files and the HTML page.
"""

from __future__ import annotations

import math
import zlib

import numpy as np
import optuna
import pytest

import hpablate as hp
from hpablate.render.figures import (
    BASELINE,
    BETTER,
    WORSE,
    PairMatrixFigureData,
    PathFigureData,
    ShapleyFigureData,
    SobolFigureData,
    by_table,
    matplotlib_figure,
    plotly_figure,
    save_figures,
)
from hpablate.testing import ishigami

from _workers import PATH_SPACE, PATH_TARGET, path_objective

optuna.logging.set_verbosity(optuna.logging.WARNING)

FAST = {"n_trees": 8, "ped_anova": False}

# ------------------------------------------------------------------ studies

#: Shapley players: a helps, b hurts alone but helps with a (interaction +0.8), c helps a little.
WEIGHTS = {"a": 1.0, "b": -0.5, "c": 0.2}
PAIR_AB = 0.8
SHAPLEY_SPACE = hp.SearchSpace(*[hp.Component(n) for n in WEIGHTS], hp.Float("lr", 0.1, 1.0, baseline=0.5))


def _score(cfg: dict) -> float:
    return sum(w for n, w in WEIGHTS.items() if cfg[n]) + PAIR_AB * (cfg["a"] and cfg["b"])


def _shapley_objective(sign: float):
    """The score (maximised) or its negative as a loss (minimised), with per-seed noise."""
    def objective(trial) -> float:
        cfg = SHAPLEY_SPACE.suggest(trial)
        key = zlib.crc32(repr(sorted(cfg.items())).encode())
        return sign * (_score(cfg) + 0.02 * np.random.default_rng([hp.trial_seed(trial), key]).standard_normal())
    return objective


@pytest.fixture(scope="module")
def shapley_studies():
    """The same components as a score (maximised) and as a loss (minimised): study and report each."""
    out = {}
    for direction, sign in (("maximize", 1.0), ("minimize", -1.0)):
        study = hp.create_study(SHAPLEY_SPACE, hp.ShapleyAblationSampler(SHAPLEY_SPACE, repeats=3),
                                direction=direction)
        hp.run(study, _shapley_objective(sign))
        out[direction] = (study, hp.analyze(study, **FAST))
    return out


@pytest.fixture(params=["maximize", "minimize"])
def shapley_study(request, shapley_studies):
    return shapley_studies[request.param]


@pytest.fixture(scope="module")
def sobol_report():
    f = ishigami()
    study = hp.create_study(f.space, hp.SobolSampler(f.space, n=32, second_order=True, seed=0), direction="minimize")
    hp.run(study, f.objective)
    return hp.analyze(study, **FAST)


@pytest.fixture(scope="module")
def path_study():
    sampler = hp.AblationPathSampler(PATH_SPACE, target=PATH_TARGET, repeats=3, seed=1)
    study = hp.create_study(PATH_SPACE, sampler, direction="maximize")
    hp.run(study, path_objective)
    return study, hp.analyze(study, **FAST)


# ------------------------------------------------------------------ Sobol


def test_sobol_figure_is_the_sobol_table_sorted_by_total_order(sobol_report):
    d = sobol_report.figure_data["sobol"]
    assert isinstance(d, SobolFigureData) and d.table == "sobol"
    t = sobol_report.sobol
    first = t[t["order"] == "first"].set_index("param")
    total = t[t["order"] == "total"].set_index("param")
    assert sorted(d.params) == sorted(total.index) == ["x1", "x2", "x3"]
    assert d.params == sorted(d.params, key=lambda p: -total.at[p, "index"])  # largest ST first
    assert d.total == sorted(d.total, reverse=True)
    for k, p in enumerate(d.params):
        assert (d.first[k], d.first_low[k], d.first_high[k]) == pytest.approx(
            (first.at[p, "index"], first.at[p, "ci_low"], first.at[p, "ci_high"]))
        assert (d.total[k], d.total_low[k], d.total_high[k]) == pytest.approx(
            (total.at[p, "index"], total.at[p, "ci_low"], total.at[p, "ci_high"]))
    # Ishigami: x3 acts only through x1 (S_3 = 0, ST_3 = 0.24): its total-order index exceeds its first
    k3 = d.params.index("x3")
    assert d.total[k3] > d.first[k3]


def test_sobol_second_order_matrix_is_symmetric_and_equals_the_table(sobol_report):
    d = sobol_report.figure_data["sobol second order"]
    assert isinstance(d, PairMatrixFigureData) and d.table == "sobol" and not d.signed
    assert d.names == sobol_report.figure_data["sobol"].params
    second = sobol_report.sobol[sobol_report.sobol["order"] == "second"]
    assert len(second) == 3
    pos = {n: i for i, n in enumerate(d.names)}
    for row in second.itertuples():
        i, j = pos[row.param_a], pos[row.param_b]
        for m, col in ((d.z, "index"), (d.low, "ci_low"), (d.high, "ci_high")):
            assert m[i][j] == m[j][i] == pytest.approx(getattr(row, col))
    assert all(math.isnan(d.z[i][i]) for i in range(len(d.names)))
    assert by_table(sobol_report.figure_data)["sobol"] == ["sobol", "sobol second order"]


def test_sobol_figures_draw_in_both_libraries(sobol_report):
    d = sobol_report.figure_data["sobol"]
    fig = plotly_figure(d)
    assert [t.name for t in fig.data] == ["S (first order)", "ST (total order)"]
    assert list(fig.data[1].x) == d.total and list(fig.data[1].y) == d.params
    assert list(fig.data[1].error_x.array) == pytest.approx([h - v for v, h in zip(d.total, d.total_high)])
    mfig = matplotlib_figure(d)
    assert len(mfig.axes[0].patches) == 2 * len(d.params)
    heat = plotly_figure(sobol_report.figure_data["sobol second order"])
    assert heat.data[0].zmin == 0 and heat.data[0].colorscale[0][1] != heat.data[0].colorscale[-1][1]
    matplotlib_figure(sobol_report.figure_data["sobol second order"])


# ------------------------------------------------------------------ Shapley


def _trials_by(study) -> dict[tuple[int, tuple[bool, ...]], float]:
    out = {}
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        out[(t.user_attrs["hpablate.replicate"], tuple(bool(t.params[n]) for n in WEIGHTS))] = t.value
    return out


def test_shapley_values_and_loco_effects_side_by_side_equal_the_table(shapley_study):
    study, report = shapley_study
    d = report.figure_data["shapley"]
    assert isinstance(d, ShapleyFigureData) and d.table == "shapley"
    assert d.estimates == ["Shapley value", "leave-one-out (LOCO)", "add-one-in"]
    t = report.shapley.set_index("component")
    assert sorted(d.components) == sorted(WEIGHTS)
    shap = [abs(v) for v in d.values[0]]
    assert shap == sorted(shap, reverse=True)  # largest |Shapley value| first
    for i, c in enumerate(d.components):
        assert d.values[0][i] == pytest.approx(t.at[c, "shapley"])
        assert d.values[1][i] == pytest.approx(t.at[c, "loco"])
        assert d.values[2][i] == pytest.approx(t.at[c, "add_one_in"])
        assert d.err_low[0][i] == pytest.approx(t.at[c, "shapley"] - t.at[c, "ci_low"])
        assert d.err_high[1][i] == pytest.approx(t.at[c, "loco_ci_high"] - t.at[c, "loco"])
        assert d.err_low[2][i] == d.err_high[2][i] == 0.0  # add-one-in has no CI in the table
    # LOCO from the trials themselves: mean over replicates of v(all) - v(all without c)
    by = _trials_by(study)
    full = (True, True, True)
    for i, c in enumerate(d.components):
        without = tuple(n != c for n in WEIGHTS)
        loco = np.mean([by[(r, full)] - by[(r, without)] for r in range(3)])
        assert d.values[1][i] == pytest.approx(loco)


def test_shapley_colours_follow_the_objectives_direction(shapley_study):
    _, report = shapley_study
    d = report.figure_data["shapley"]
    roles = {c: [d.roles[k][i] for k in range(3)] for i, c in enumerate(d.components)}
    # the same components improve the score or the loss alike: a and c help in every estimate;
    # b hurts alone (add-one-in) but helps in the full model with a (LOCO = -0.5 + 0.8)
    assert roles["a"] == [BETTER] * 3 and roles["c"] == [BETTER] * 3
    assert roles["b"][1:] == [BETTER, WORSE]
    sign = 1.0 if report.direction == "maximize" else -1.0
    assert sign * d.values[0][d.components.index("a")] > 0  # the value keeps the metric's sign


def test_shapley_interaction_heatmap_equals_the_table(shapley_study):
    _, report = shapley_study
    d = report.figure_data["shapley interactions"]
    assert isinstance(d, PairMatrixFigureData) and d.table == "shapley_interactions" and d.signed
    assert d.higher_is_better == (report.direction == "maximize")
    assert d.names == report.figure_data["shapley"].components
    pos = {n: i for i, n in enumerate(d.names)}
    pairs = report.shapley_interactions
    assert len(pairs) == 3
    for row in pairs.itertuples():
        i, j = pos[row.component_a], pos[row.component_b]
        assert d.z[i][j] == d.z[j][i] == pytest.approx(row.interaction)
        assert (d.low[i][j], d.high[j][i]) == pytest.approx((row.ci_low, row.ci_high))
    a, b = pos["a"], pos["b"]
    sign = 1.0 if report.direction == "maximize" else -1.0
    assert sign * d.z[a][b] == pytest.approx(PAIR_AB, abs=0.1)
    heat = plotly_figure(d).data[0]
    assert heat.zmid == 0 and heat.reversescale is (report.direction == "minimize")


def test_shapley_figures_draw_in_both_libraries(shapley_study):
    _, report = shapley_study
    d = report.figure_data["shapley"]
    fig = plotly_figure(d)
    assert [t.name for t in fig.data] == d.estimates
    for trace, values, roles in zip(fig.data, d.values, d.roles):
        assert list(trace.x) == pytest.approx(values) and list(trace.y) == d.components
        assert list(trace.marker.color) == [{"better": "#2ca02c", "worse": "#d62728"}.get(r, r) for r in roles]
    mfig = matplotlib_figure(d)
    assert len(mfig.axes) == 3 and all(len(ax.patches) == len(d.components) for ax in mfig.axes)
    assert len(matplotlib_figure(report.figure_data["shapley interactions"]).axes) == 2  # + colour bar


def test_each_game_of_a_multi_valued_component_has_its_figure():
    norm = hp.Component("norm", choices=["batch", "layer", "none"], baseline="batch")
    space = hp.SearchSpace(norm, hp.Component("residual"))
    gain = {"batch": 1.0, "layer": 0.4, "none": 0.0}

    def objective(trial):
        cfg = space.suggest(trial)
        return gain[cfg["norm"]] + 2.0 * cfg["residual"] + 0.01 * (hp.trial_seed(trial) % 3)

    study = hp.create_study(space, hp.ShapleyAblationSampler(space, repeats=2), direction="maximize")
    hp.run(study, objective)
    r = hp.analyze(study, **FAST)
    assert {"shapley", "shapley: norm=layer"} <= set(r.figure_data)
    d = r.figure_data["shapley: norm=layer"]
    g = r.shapley[r.shapley["game"] == "norm=layer"].set_index("component")
    assert dict(zip(d.components, d.values[0])) == pytest.approx(g["shapley"].to_dict())
    assert "norm=layer" in d.title


# ------------------------------------------------------------------ ablation path


def test_path_figure_is_the_path_table_with_its_candidates(path_study):
    study, report = path_study
    d = report.figure_data["path"]
    assert isinstance(d, PathFigureData) and d.table == "path"
    path = report.path
    flipped = path["param"].iloc[1:].tolist()
    assert sorted(flipped) == ["a", "b", "c"]
    assert d.labels[0] == "source (baseline)" and d.labels[-1].endswith("(target)")
    assert [lab.split(": ")[1].split(" →")[0] for lab in d.labels[1:]] == flipped  # x labelled by the flip
    assert d.mean == pytest.approx(path["mean"].tolist())
    assert d.mean_low == pytest.approx(path["mean_ci_low"].tolist())
    assert d.gain[1:] == pytest.approx(path["gain"].iloc[1:].tolist()) and math.isnan(d.gain[0])
    assert d.gain_high[1:] == pytest.approx(path["gain_ci_high"].iloc[1:].tolist())
    assert d.roles == [BASELINE] + [BETTER if g > 0 else WORSE for g in path["gain"].iloc[1:]]
    cands = report.path_candidates
    assert len(d.candidate_mean) == len(cands) == 3 + 2
    assert d.candidate_mean == pytest.approx(cands["mean"].tolist())
    assert d.candidate_step == (cands["round"] + 1).tolist() and d.candidate_kept == cands["kept"].tolist()
    # step means from the trials: the configuration after each step's flips
    trials = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    for s in range(len(d.labels)):
        cfg = {n: (PATH_TARGET[n] if n in flipped[:s] else PATH_SPACE.baseline[n]) for n in "abc"}
        assert d.mean[s] == pytest.approx(np.mean([t.value for t in trials if t.params == cfg]))


def test_path_draws_means_gains_and_faint_candidates(path_study):
    _, report = path_study
    d = report.figure_data["path"]
    fig = plotly_figure(d)
    names = [t.name for t in fig.data]
    assert names == ["round candidates", "path", "gain"]
    line, bars = fig.data[1], fig.data[2]
    assert list(line.x) == d.labels and list(line.y) == pytest.approx(d.mean)
    assert list(bars.x) == d.labels[1:] and list(bars.y) == pytest.approx(d.gain[1:])
    assert fig.data[0].marker.opacity < 0.5
    mfig = matplotlib_figure(d)
    top, bottom = mfig.axes[:2]
    assert len(bottom.patches) == len(d.labels) - 1
    assert [t.get_text() for t in bottom.get_xticklabels()] == d.labels


# ------------------------------------------------------------------ files and the page


_MAGIC = {"pdf": b"%PDF", "png": b"\x89PNG\r\n\x1a\n", "svg": b"<svg"}


@pytest.mark.parametrize("fmt", ["pdf", "svg", "png"])
def test_global_figures_are_saved_in_every_format(sobol_report, shapley_studies, path_study, tmp_path, fmt):
    figures = {}
    for report in (sobol_report, shapley_studies["minimize"][1]):
        figures.update({n: d for n, d in report.figure_data.items() if d.table.startswith(("sobol", "shapley"))})
    paths = save_figures(figures, tmp_path, fmt) + path_study[1].save_figures(tmp_path / "path", fmt)
    for p in paths:
        head = p.read_bytes()[:400]
        assert (_MAGIC[fmt] in head) if fmt == "svg" else head.startswith(_MAGIC[fmt])
        assert p.stat().st_size > 1000
    assert {"sobol", "sobol-second-order", "shapley", "shapley-interactions", "path"} <= {p.stem for p in paths}


def test_figures_sit_in_their_sections_of_the_html_page(shapley_study, path_study):
    for report, sections in ((shapley_study[1], ("Shapley values and leave-one-out effects",
                                                 "Shapley interaction indices")),
                             (path_study[1], ("Ablation path (gain of each step over the one before)",))):
        page = report.to_html()
        assert "<script src" not in page
        for title in sections:
            after = page.split(f"<h2>{title}</h2>", 1)[1]
            assert after.lstrip().startswith("<div class='figs'><div class='fig'>")  # the figure heads its section
    page = shapley_study[1].to_html()
    assert "leave-one-out (LOCO)" in page and "Shapley value" in page


def test_html_with_the_global_figures_renders_in_chromium(shapley_studies, tmp_path):
    from test_paper_figures import _render

    report = shapley_studies["maximize"][1]
    path = tmp_path / "shapley.html"
    report.to_html(str(path))
    dom, console = _render(path, tmp_path)
    assert console == [], console
    assert dom.count('class="plot-container plotly"') == len(report.figures)


def test_hostile_component_names_are_neutralised(tmp_path):
    hostile = "<script>alert(1)</script>"
    space = hp.SearchSpace(hp.Component(hostile), hp.Component("b\x1b[2J $x"))

    def objective(trial):
        cfg = space.suggest(trial)
        return float(cfg[hostile]) + 0.5 * cfg["b\x1b[2J $x"] + 0.01 * (hp.trial_seed(trial) % 3)

    study = hp.create_study(space, hp.ShapleyAblationSampler(space, repeats=2), direction="maximize")
    hp.run(study, objective)
    r = hp.analyze(study, **FAST)
    assert {"shapley", "shapley interactions"} <= set(r.figure_data)
    page = r.to_html()
    assert hostile not in page and "\x1b" not in page.replace("\\u001b", "")
    for p in r.save_figures(tmp_path, "svg"):
        assert b"<script>" not in p.read_bytes() and b"\x1b" not in p.read_bytes()


def test_an_unfinished_path_draws_the_steps_it_has():
    sampler = hp.AblationPathSampler(PATH_SPACE, target=PATH_TARGET, repeats=2)
    study = hp.create_study(PATH_SPACE, sampler, direction="maximize")
    hp.run(study, path_objective, n_trials=5 * 2 + 1)  # round 0 and one slot of round 1
    r = hp.analyze(study, **FAST)
    d = r.figure_data["path"]
    assert len(d.labels) == len(r.path) == 2 and not any("(target)" in lab for lab in d.labels)
    assert d.labels[1].startswith("1: " + r.path["param"].iloc[1])
    assert max(d.candidate_step) == 2 > len(d.labels) - 1  # round 1's candidate: beyond the drawn steps
    assert len(plotly_figure(d).data[0].x) == d.candidate_step.count(1)  # only candidates at drawn steps
    matplotlib_figure(d)


def test_sampled_shapley_design_draws_what_it_estimated(tmp_path):
    space = hp.SearchSpace(*[hp.Component(n) for n in "abcdef"])

    def objective(trial):
        cfg = space.suggest(trial)
        return sum((k + 1) * cfg[n] for k, n in enumerate("abcdef")) + 0.01 * (hp.trial_seed(trial) % 3)

    study = hp.create_study(space, hp.ShapleyAblationSampler(space, max_subsets=20, repeats=2), direction="minimize")
    hp.run(study, objective)
    r = hp.analyze(study, **FAST)
    assert r.shapley_interactions.empty and "shapley interactions" not in r.figure_data
    d = r.figure_data["shapley"]
    t = r.shapley.set_index("component")
    assert d.estimates[0] == "Shapley value" and len(d.estimates) == 1 + sum(
        t[c].notna().any() for c in ("loco", "add_one_in"))
    assert dict(zip(d.components, d.values[0])) == pytest.approx(t["shapley"].to_dict())
    assert d.components[0] == "f" and all(r_ == WORSE for r_ in d.roles[0])  # every component raises the loss
    paths = save_figures({"shapley": d}, tmp_path, "svg")
    assert b"<svg" in paths[0].read_bytes()[:400]
