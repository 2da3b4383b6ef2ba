"""Figure data (what is drawn, tested without plotly), colour meaning, and static files by matplotlib."""

from __future__ import annotations

import math

import numpy as np
import pytest

import hpablate
from hpablate.render.figures import (
    BASELINE,
    BETTER,
    FORMATS,
    WORSE,
    EffectsFigureData,
    InteractionFigureData,
    StructuralFigureData,
    TornadoFigureData,
    by_table,
    figure_data,
    plotly_figures,
    save_figures,
)

SPACE = hpablate.SearchSpace(
    hpablate.Float("lr", 1e-4, 1e-1, log=True, baseline=1e-2, levels=[1e-3, 1e-2, 1e-1]),
    hpablate.Categorical("opt", ["sgd", "adam"], baseline="adam"),
    hpablate.Component("dropout", baseline=True),
)


def _loss(trial) -> float:
    """A loss: lr away from 1e-2 is worse, sgd better, dropout off worse."""
    p = SPACE.suggest(trial)
    rng = np.random.default_rng(hpablate.trial_seed(trial))
    return (abs(math.log10(p["lr"]) + 2) - 0.5 * (p["opt"] == "sgd") + 0.3 * (not p["dropout"])
            + rng.normal(0, 0.01))


@pytest.fixture(scope="module", params=["minimize", "maximize"])
def report(request):
    sign = 1.0 if request.param == "minimize" else -1.0  # the same study, as a loss or as a score
    study = hpablate.create_study(SPACE, hpablate.OneAtATimeSampler(SPACE, repeats=2), direction=request.param)
    hpablate.run(study, lambda t: sign * _loss(t))
    return hpablate.analyze(study)


def test_figures_are_keyed_by_name_and_name_their_table(report):
    data = report.figure_data
    assert {"tornado", "oat", "structural"} <= set(data)
    groups = by_table(data)
    assert groups["effects"] == ["tornado", "oat"] and groups["structural"] == ["structural"]
    assert all(n.startswith("importance: ") for n in groups["importances"])
    assert set(report.figures) == set(data)  # one plotly figure per figure data


def test_green_means_the_objective_improves_in_either_direction(report):
    data = report.figure_data
    oat = data["oat"]
    assert isinstance(oat, EffectsFigureData)
    panels = {p.param: p for p in oat.panels}
    assert panels["lr"].numeric and panels["lr"].log and panels["lr"].x == [1e-3, 1e-2, 1e-1]
    assert panels["lr"].roles == [WORSE, BASELINE, WORSE]  # away from the best lr: worse
    assert panels["opt"].x == ["sgd", "adam"] and not panels["opt"].numeric
    assert dict(zip(panels["opt"].x, panels["opt"].roles)) == {"sgd": BETTER, "adam": BASELINE}
    tornado = data["tornado"]
    assert isinstance(tornado, TornadoFigureData)
    # the improving side of the tornado is green: lower deltas for a loss, higher for a score
    if report.direction == "minimize":
        assert (tornado.low_role, tornado.high_role) == (BETTER, WORSE)
    else:
        assert (tornado.low_role, tornado.high_role) == (WORSE, BETTER)
    s = data["structural"]
    assert isinstance(s, StructuralFigureData) and s.roles == [BETTER]  # dropout helps


def test_tornado_ranges_include_zero_narrowest_first(report):
    t = report.figure_data["tornado"]
    assert all(lo <= 0 <= hi for lo, hi in zip(t.low, t.high))
    widths = [hi - lo for lo, hi in zip(t.low, t.high)]
    assert widths == sorted(widths) and t.params[-1] == "lr"


def test_heatmap_colours_follow_the_direction():
    from test_analysis_interactions import grid_study  # a maximised grid study

    r = hpablate.analyze(grid_study()[0])
    d = r.figure_data["interaction: lr × batch_size"]
    assert isinstance(d, InteractionFigureData) and d.higher_is_better and d.table == "interactions"
    assert d.x == ["16", "64", "256"] and np.allclose(d.z, r.interaction_tables["lr × batch_size"].to_numpy())
    assert r.figures["interaction: lr × batch_size"].data[0].reversescale is False
    r.direction = "minimize"
    r._figure_data = r._figures = None
    assert not r.figure_data["interaction: lr × batch_size"].higher_is_better
    assert r.figures["interaction: lr × batch_size"].data[0].reversescale is True


def test_interaction_lines_show_the_grid_means_per_level(tmp_path):
    from test_analysis_interactions import grid_study

    from hpablate.render.figures import InteractionLinesFigureData, matplotlib_figure

    r = hpablate.analyze(grid_study()[0])
    t = r.interaction_tables["lr × batch_size"]
    d = r.figure_data["interaction lines: lr × batch_size"]
    assert isinstance(d, InteractionLinesFigureData) and d.table == "interactions"
    assert d.x == ["16", "64", "256"] and len(d.lines) == len(t.index) and np.allclose(d.means, t.to_numpy())
    fig = r.figures["interaction lines: lr × batch_size"]
    assert len(fig.data) == len(t.index) and list(fig.data[0].y) == d.means[0]
    assert len(matplotlib_figure(d).axes[0].lines) == len(t.index)


_MAGIC = {"pdf": b"%PDF", "png": b"\x89PNG\r\n\x1a\n"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_save_figures_writes_every_format_offline(report, tmp_path, fmt):
    paths = report.save_figures(tmp_path / fmt, format=fmt)
    assert [p.stem for p in paths] == [p.stem for p in paths if p.exists()] and len(paths) == len(report.figure_data)
    assert {p.suffix for p in paths} == {f".{fmt}"} and "tornado" in {p.stem for p in paths}
    for p in paths:
        head = p.read_bytes()[:400]
        assert p.stat().st_size > 1000
        if fmt == "svg":
            assert b"<svg" in head
        else:
            assert head.startswith(_MAGIC[fmt])


def test_save_figures_names_a_bad_format(report, tmp_path):
    with pytest.raises(ValueError, match="'jpeg' is not one of pdf, svg, png"):
        report.save_figures(tmp_path, format="jpeg")


def test_figure_data_needs_no_plotting_library():
    import subprocess
    import sys

    code = ("import sys; sys.modules['plotly'] = None; sys.modules['matplotlib'] = None\n"
            "from types import SimpleNamespace\nimport pandas as pd\n"
            "from hpablate.render.figures import figure_data\n"
            "t = SimpleNamespace(objective=0, direction='minimize', log_params=[], interaction_tables={},"
            " importances=pd.DataFrame(), morris=pd.DataFrame(), effects=pd.DataFrame(), structural=pd.DataFrame())\n"
            "assert figure_data(t) == {}\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_plotly_and_matplotlib_draw_the_same_data(report):
    from hpablate.render.figures import matplotlib_figure

    figs = plotly_figures(report.figure_data)
    oat = report.figure_data["oat"]
    means = [t for t in figs["oat"].data if not t.name.endswith("replicates")]
    assert len(means) == len(oat.panels) and len(figs["oat"].data) == 2 * len(oat.panels)  # + replicate points
    mfig = matplotlib_figure(oat)
    assert sum(ax.get_visible() for ax in mfig.axes) == len(oat.panels)


def test_save_figures_of_nothing_writes_nothing(tmp_path):
    assert save_figures({}, tmp_path / "none", "png") == [] and (tmp_path / "none").is_dir()


def test_cli_analyze_writes_figures(tmp_path, capsys):
    import optuna

    from hpablate.cli import main

    url = f"sqlite:///{tmp_path / 's.db'}"
    study = optuna.create_study(storage=url)
    dist = {"x": optuna.distributions.FloatDistribution(0, 1)}
    for i in range(20):
        study.add_trial(optuna.trial.create_trial(params={"x": i / 20}, distributions=dist, value=i / 20))
    assert main(["analyze", url, "--figures", str(tmp_path / "figs"), "--figure-format", "png"]) == 0
    assert "figures written to" in capsys.readouterr().err
    assert {p.suffix for p in (tmp_path / "figs").iterdir()} == {".png"}
    (tmp_path / "file").write_text("")
    assert main(["analyze", url, "--figures", str(tmp_path / "file")]) == 2
    assert "is a file, not a directory" in capsys.readouterr().err
