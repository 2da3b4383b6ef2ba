"""Paper figures: replicate points, learning curves and their settling step, failure breakdown, Pareto front.

Every number is checked against an independent computation from the study's trials (numpy/scipy,
Optuna's own Pareto front), never against a stored constant.
"""

from __future__ import annotations

import io
import math

import numpy as np
import optuna
import pandas as pd
import pytest
from scipy import stats

import hpablate as hp
from hpablate.analysis.pareto import pareto_front
from hpablate.render.figures import (
    FailuresFigureData,
    LearningCurvesFigureData,
    ParetoFigureData,
    matplotlib_figure,
    plotly_figure,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)

SPACE = hp.SearchSpace(
    hp.Float("lr", 1e-3, 1.0, log=True, baseline=1e-2, levels=[1e-3, 1e-2, 1e-1, 1.0]),
    hp.Component("dropout", baseline=True),
    hp.Component("norm", baseline=True),
)
STEPS = 10
SETTLE = 6  # by construction: lr=0.1 leads until step 5, the baseline from step 6 on


def _curve(p: dict, step: int) -> float:
    """Known learning curves. The baseline climbs slowly (0.1 per step) to 1.0; lr=0.1 starts fast and
    plateaus at 0.65 (they cross between steps 5 and 6); the other configurations run parallel to the
    baseline, far below and apart."""
    if p["lr"] == 0.1:
        return 0.65 if step >= 3 else 0.65 * (step + 1) / 4
    base = 0.1 + 0.1 * step
    if p["lr"] == 1e-3:
        return base - 2.0
    return base - 1.0 * (not p["dropout"]) - 1.5 * (not p["norm"])


def _objective(trial: optuna.Trial) -> float:
    p = SPACE.suggest(trial)
    if p["lr"] == 1.0:
        raise RuntimeError("lr = 1.0 diverges")  # fails always, by construction
    rng = np.random.default_rng(hp.trial_seed(trial))
    for s in range(STEPS):
        trial.report(_curve(p, s) + rng.normal(0, 0.01), s)
    return _curve(p, STEPS - 1) + rng.normal(0, 0.01)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('paper') / 'p.db'}"
    s = hp.create_study(SPACE, hp.OneAtATimeSampler(SPACE, repeats=3), storage=url, study_name="paper",
                        direction="maximize")
    hp.run(s, _objective, max_retries=1)
    return s, url


@pytest.fixture(scope="module")
def report(study):
    return hp.analyze(study[1], "paper", n_trees=8, ped_anova=False)


def _complete(study) -> list[optuna.trial.FrozenTrial]:
    return [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]


def _config(t: optuna.trial.FrozenTrial) -> str:
    varied = t.user_attrs["hpablate.varied"]
    if not varied:
        return "baseline"
    level = t.user_attrs["hpablate.level"]
    return f"{varied[0]}={level:.4g}" if isinstance(level, float) else f"{varied[0]}={level}"


# ------------------------------------------------------------------ replicate points


def test_oat_points_are_each_replicate_of_each_level(study, report):
    trials = _complete(study[0])
    oat = {p.param: p for p in report.figure_data["oat"].panels}
    for param, panel in oat.items():
        for x, mean, pts in zip(panel.x, panel.mean, panel.points):
            if param == "lr":
                expect = [t.value for t in trials if (_config(t) == f"lr={x:.4g}" or
                                                      (x == 1e-2 and _config(t) == "baseline"))]
            else:
                expect = [t.value for t in trials if _config(t) == ("baseline" if x == "True" else f"{param}=False")]
            assert sorted(pts) == pytest.approx(sorted(expect))
            if pts:
                assert np.mean(pts) == pytest.approx(mean)
    assert oat["lr"].points[-1] == []  # lr = 1.0: every replicate failed, nothing to draw
    fig = plotly_figure(report.figure_data["oat"])
    replicate_traces = [t for t in fig.data if t.name.endswith("replicates")]
    assert len(replicate_traces) == len(oat) and sum(len(t.y) for t in replicate_traces) == sum(
        len(p) for panel in oat.values() for p in panel.points)
    mfig = matplotlib_figure(report.figure_data["oat"])
    assert sum(len(c.get_offsets()) for ax in mfig.axes for c in ax.collections) >= sum(
        len(p) for panel in oat.values() for p in panel.points)


def test_structural_points_are_paired_differences_whose_mean_is_the_contribution(study, report):
    trials = _complete(study[0])
    by = {(_config(t), t.user_attrs["hpablate.replicate"]): t.value for t in trials}
    d = report.figure_data["structural"]
    for label, contribution, pts in zip(d.labels, d.contribution, d.points):
        comp = label.split(" ")[0]
        expect = [by[("baseline", r)] - by[(f"{comp}=False", r)] for r in range(3)]
        assert sorted(pts) == pytest.approx(sorted(expect))
        assert np.mean(pts) == pytest.approx(contribution)
    fig = plotly_figure(d)
    assert [t.name for t in fig.data] == ["contribution", "replicates"]


# ------------------------------------------------------------------ learning curves


def test_learning_curves_are_mean_and_t_interval_per_step(study, report):
    lc = report.learning_curves
    curves: dict[tuple[str, int], list[float]] = {}
    for t in _complete(study[0]):
        for s, v in t.intermediate_values.items():
            curves.setdefault((_config(t), s), []).append(v)
    assert len(lc) == len(curves)
    for row in lc.itertuples(index=False):
        v = np.array(curves[(row.config, row.step)])
        half = stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))
        assert row.n == len(v) and row.mean == pytest.approx(v.mean())
        assert (row.ci_low, row.ci_high) == pytest.approx((v.mean() - half, v.mean() + half))
    assert "lr=1" not in set(lc["config"])  # failed trials draw no curve


def test_ranking_settles_at_the_constructed_step(study, report):
    assert report.settle_step == SETTLE
    # independently: rank the configurations' means per step, compare with the last step
    means = {}
    for t in _complete(study[0]):
        for s, v in t.intermediate_values.items():
            means.setdefault(s, {}).setdefault(_config(t), []).append(v)
    order = {s: [c for c, _ in sorted(m.items(), key=lambda kv: -np.mean(kv[1]))] for s, m in means.items()}
    first = min(s for s in order if all(order[u] == order[STEPS - 1] for u in range(s, STEPS)))
    assert first == report.settle_step
    d = report.figure_data["learning curves"]
    assert isinstance(d, LearningCurvesFigureData) and d.settle_step == SETTLE and d.last_step == STEPS - 1
    assert any(f"settles at step {SETTLE}" in n for n in report.notes)
    assert len(plotly_figure(d).data) == len(d.configs) == lc_configs(report)
    assert len(matplotlib_figure(d).axes[0].lines) == len(d.configs) + 1  # + the settling line


def lc_configs(report) -> int:
    return report.learning_curves["config"].nunique()


def test_sql_reader_and_optuna_reader_give_the_same_intermediate_values(study):
    from hpablate.analysis.load import load

    via_sql = load(study[1], "paper")
    assert via_sql.source == "sql"
    via_optuna = load(study[0])
    assert via_sql.intermediate.equals(via_optuna.intermediate)
    n = sum(len(t.intermediate_values) for t in study[0].get_trials(deepcopy=False))
    assert len(via_sql.intermediate) == n and list(via_sql.intermediate.dtypes) == ["int64", "int64", "float64"]


def test_a_study_without_intermediate_values_has_no_curves(tmp_path):
    url = f"sqlite:///{tmp_path / 'n.db'}"
    s = optuna.create_study(storage=url)
    s.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=12)
    r = hp.analyze(url, n_trees=8, ped_anova=False)
    assert r.learning_curves.empty and r.settle_step is None and "learning curves" not in r.figure_data
    assert r.failures.empty and r.pareto.empty


# ------------------------------------------------------------------ failures


def test_failure_breakdown_counts_every_trial_of_every_level(study, report):
    f = report.failures
    counts: dict[str, dict[str, int]] = {}
    for t in study[0].get_trials(deepcopy=False):
        c = counts.setdefault(_config(t), {"COMPLETE": 0, "FAIL": 0, "PRUNED": 0})
        c[t.state.name] += 1
    assert len(f) == len(counts)
    for row in f.itertuples(index=False):
        label = "baseline" if row.param == "baseline" else f"{row.param}={row.level}"
        c = counts[label]
        assert (row.n_complete, row.n_fail, row.n_pruned) == (c["COMPLETE"], c["FAIL"], c["PRUNED"])
        assert row.failure_rate == pytest.approx(c["FAIL"] / sum(c.values()))
    lr1 = f[(f["param"] == "lr") & (f["level"] == "1")].iloc[0]
    assert lr1.failure_rate == 1.0 and lr1.n_complete == 0 and (f.drop(lr1.name)["failure_rate"] == 0).all()
    d = report.figure_data["failures"]
    assert isinstance(d, FailuresFigureData) and "lr = 1" in d.labels
    k = d.labels.index("lr = 1")
    assert (d.completed[k], d.failed[k], d.failure_rate[k]) == (0, lr1.n_fail, 1.0)


def test_failure_breakdown_of_a_plain_study_by_value_and_by_bin():
    study = optuna.create_study()

    def objective(t):
        opt = t.suggest_categorical("opt", ["sgd", "adam", "bad"])
        x = t.suggest_float("x", 0, 1)
        if opt == "bad":
            raise ValueError("bad optimizer")
        if x > 0.9:
            raise optuna.TrialPruned()
        return x

    study.optimize(objective, n_trials=80, catch=(ValueError,))
    f = hp.analyze(study, n_trees=8, ped_anova=False).failures
    trials = study.get_trials(deepcopy=False)
    for opt in ("sgd", "adam", "bad"):
        row = f[(f["param"] == "opt") & (f["level"] == opt)].iloc[0]
        states = [t.state.name for t in trials if t.params.get("opt") == opt]
        assert (row.n_complete, row.n_fail, row.n_pruned) == (
            states.count("COMPLETE"), states.count("FAIL"), states.count("PRUNED"))
    xs = f[f["param"] == "x"]
    assert len(xs) == 5 and xs["n_total"].sum() == sum(1 for t in trials if "x" in t.params)
    # quantile bins of x: the pruned trials (x > 0.9) all fall into the last bin
    cut = pd.qcut(pd.Series([t.params["x"] for t in trials if "x" in t.params]), 5)
    assert xs["n_total"].tolist() == cut.value_counts(sort=False).tolist()
    assert xs["n_pruned"].iloc[:-1].sum() == 0 and xs["n_pruned"].iloc[-1] == sum(
        t.state.name == "PRUNED" for t in trials)


# ------------------------------------------------------------------ Pareto


MO_SPACE = hp.SearchSpace(
    hp.Categorical("width", [16, 32, 64, 128], baseline=32),
    hp.Categorical("depth", [1, 2, 4], baseline=2),
    hp.Component("augment", baseline=True),
)


def _two_objectives(trial):
    """Accuracy grows with width and depth with diminishing returns; time grows linearly."""
    p = MO_SPACE.suggest(trial)
    rng = np.random.default_rng(hp.trial_seed(trial))
    acc = 1 - 1 / math.log2(p["width"]) - 0.05 / p["depth"] + 0.02 * p["augment"] + rng.normal(0, 0.002)
    seconds = p["width"] * p["depth"] / 16 + 1.5 * p["augment"] + rng.normal(0, 0.01)
    return acc, seconds


@pytest.fixture(scope="module")
def mo_study():
    s = hp.create_study(MO_SPACE, hp.OneAtATimeSampler(MO_SPACE, repeats=3), directions=["maximize", "minimize"])
    s.set_metric_names(["accuracy", "seconds"])
    hp.run(s, _two_objectives)
    return s


def test_pareto_front_matches_optunas_on_the_configuration_means(mo_study):
    from optuna.study._multi_objective import _get_pareto_front_trials_by_trials

    p = hp.analyze(mo_study, n_trees=8, ped_anova=False).pareto
    means: dict[str, list] = {}
    for t in _complete(mo_study):
        means.setdefault(_config(t), []).append(t.values)
    assert sorted(p["config"]) == sorted(means)
    dists = {"i": optuna.distributions.IntDistribution(0, len(p))}
    trials = []
    for i, row in p.iterrows():
        v = np.mean(means[row.config], axis=0)
        assert (row.mean_0, row.mean_1) == pytest.approx(tuple(v))
        trials.append(optuna.trial.create_trial(params={"i": i}, distributions=dists, values=list(v)))
    for k, t in enumerate(trials):
        t.number = k
    dirs = [optuna.study.StudyDirection.MAXIMIZE, optuna.study.StudyDirection.MINIMIZE]
    front = {t.params["i"] for t in _get_pareto_front_trials_by_trials(trials, dirs)}
    assert set(np.flatnonzero(p["on_front"])) == front and 1 < len(front) < len(p)
    d = hp.analyze(mo_study, n_trees=8, ped_anova=False).figure_data["pareto"]
    assert isinstance(d, ParetoFigureData) and d.x_label == "accuracy (maximize)" and d.y_label.startswith("seconds")
    assert sorted(d.front) == sorted(front) and [d.x[i] for i in d.front] == sorted(d.x[i] for i in d.front)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pareto_front_equals_brute_force_dominance(seed):
    rng = np.random.default_rng(seed)
    v = rng.integers(0, 6, size=(150, 3)).astype(float)  # many ties and duplicates
    dirs = ["minimize", "maximize", "minimize"]
    loss = v * np.array([1, -1, 1])
    dominated = [any((loss[j] <= loss[i]).all() and (loss[j] < loss[i]).any() for j in range(len(v)))
                 for i in range(len(v))]
    assert pareto_front(v, dirs).tolist() == [not d for d in dominated]


def test_effects_of_every_objective_side_by_side(mo_study, tmp_path):
    r = hp.analyze_objectives(mo_study, n_trees=8, ped_anova=False)
    assert len(r.reports) == 2 and r.pareto.equals(r.reports[0].pareto)
    for k, name in enumerate(["accuracy", "seconds"]):
        single = hp.analyze(mo_study, objective=k, n_trees=8, ped_anova=False)
        e = single.effects[~single.effects["is_baseline"]]
        side = r.effects[(r.effects["objective"] == name) & (r.effects["kind"] == "oat")]
        assert side["delta"].tolist() == pytest.approx(e["delta"].tolist())
        s = r.effects[(r.effects["objective"] == name) & (r.effects["kind"] == "structural")]
        assert s["delta"].tolist() == pytest.approx(single.structural["contribution"].tolist())
    d = r.figure_data["effects by objective"]
    assert d.objectives == ["accuracy", "seconds"] and len(d.labels) == len(r.effects) // 2
    k = d.labels.index("width=128")
    assert d.roles[0][k] == "better" and d.roles[1][k] == "worse"  # wider: more accurate, slower
    paths = r.save_figures(tmp_path, "svg")
    assert sorted(p.name for p in paths) == ["effects-by-objective.svg", "pareto.svg"]
    assert all(b"<svg" in p.read_bytes()[:400] for p in paths)
    page = r.to_html(tmp_path / "o.html")
    assert "<script src" not in page and page.count("plotly-graph-div") >= 2


# ------------------------------------------------------------------ outputs


_MAGIC = {"pdf": b"%PDF", "png": b"\x89PNG\r\n\x1a\n", "svg": b"<svg"}


@pytest.mark.parametrize("fmt", ["pdf", "svg", "png"])
def test_new_figures_are_saved_in_every_format(report, tmp_path, fmt):
    paths = {p.stem: p for p in report.save_figures(tmp_path, fmt)}
    assert {"failures", "learning-curves", "oat", "structural"} <= set(paths)
    for p in paths.values():
        head = p.read_bytes()[:400]
        assert (_MAGIC[fmt] in head) if fmt == "svg" else head.startswith(_MAGIC[fmt])


def test_new_tables_reach_every_output(report):
    import json

    page = report.to_html()
    assert "Failed and pruned trials per parameter level" in page and "Learning curves" in page
    assert "<script src" not in page
    data = json.loads(report.to_json())
    assert data["settle_step"] == SETTLE and len(data["learning_curves"]) == len(report.learning_curves)
    assert len(data["failures"]) == len(report.failures)
    assert pd.read_csv(__import__("io").StringIO(report.to_csv("failures")))["n_fail"].sum() == report.failures[
        "n_fail"].sum()


@pytest.mark.skipif(__import__("shutil").which("pdflatex") is None, reason="pdflatex is not installed here")
def test_latex_with_the_new_tables_compiles(report, tmp_path):
    import subprocess

    tex = report.to_latex(standalone=True)
    assert "tab:hpablate-failures" in tex and "tab:hpablate-learning-curves" in tex
    (tmp_path / "r.tex").write_text(tex)
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "r.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:]


def _render(path, tmp_path) -> tuple[str, list[str]]:
    import subprocess

    from test_analysis_report import _chromium

    proc = subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--enable-logging=stderr", "--v=0", "--proxy-server=127.0.0.1:9", "--virtual-time-budget=15000",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", path.as_uri()],
        capture_output=True, text=True, timeout=180,
    )
    return proc.stdout, [line for line in proc.stderr.splitlines() if "CONSOLE" in line]


def test_html_report_with_the_new_figures_renders_in_chromium(report, tmp_path):
    path = tmp_path / "paper.html"
    report.to_html(str(path))
    dom, console = _render(path, tmp_path)
    assert console == [], console
    assert dom.count('class="plot-container plotly"') == len(report.figures)


def test_objectives_page_renders_in_chromium(mo_study, tmp_path):
    path = tmp_path / "objectives.html"
    r = hp.analyze_objectives(mo_study, n_trees=8, ped_anova=False)
    r.to_html(path)
    dom, console = _render(path, tmp_path)
    assert console == [], console
    assert dom.count('class="plot-container plotly"') == len(r.figure_data) == 2


def test_hostile_names_are_neutralised_in_the_new_tables_and_figures(tmp_path):
    script, esc = "<script>alert(1)</script>", "opt\x1b[2J $unbalanced"
    study = optuna.create_study(direction="maximize")

    def objective(t):
        choice = t.suggest_categorical(esc, [script, "fine"])
        t.report(1.0, 0)
        if choice == script:
            raise ValueError("fails")
        return float(choice == "fine") + t.number * 1e-3

    study.optimize(objective, n_trials=12, catch=(ValueError,))
    r = hp.analyze(study, n_trees=8, ped_anova=False)
    assert len(r.failures) and len(r.learning_curves) and "baseline" not in set(r.learning_curves["config"])
    page = r.to_html()
    assert script not in page and "\x1b" not in page.replace("\\u001b", "")
    assert "\x1b" not in r.to_text() and "\x1b" not in r.to_markdown()
    tex = r.to_latex()
    assert "\x1b" not in tex and "<script>" not in tex.replace(r"\textless{}", "<") or "alert" in tex
    paths = r.save_figures(tmp_path, "svg")
    assert all(b"<script>" not in p.read_bytes() for p in paths)


def test_cli_objective_all_prints_every_objective_and_the_side_by_side_tables(tmp_path, capsys):
    import json as _json

    from hpablate.cli import main as cli_main

    space = hp.SearchSpace(hp.Categorical("width", [16, 64], baseline=16), hp.Component("extra", baseline=True))
    url = f"sqlite:///{tmp_path / 'mo.db'}"
    study = hp.create_study(space, hp.OneAtATimeSampler(space, repeats=3), storage=url, study_name="mo",
                            directions=["maximize", "minimize"])

    def objective(t):
        c = space.suggest(t)
        noise = 0.01 * (hp.trial_seed(t) % 5)
        return c["width"] / 64 + 0.1 * c["extra"] + noise, c["width"] * (1.5 if c["extra"] else 1.0) + noise

    hp.run(study, objective)
    assert cli_main(["analyze", url, "--objective", "all", "-f", "json"]) == 0
    out = _json.loads(capsys.readouterr().out)
    assert out["schema"] == "hpablate.objectives/1" and len(out["objectives"]) == 2
    reference = hp.analyze_objectives(url, "mo")
    assert len(out["effects"]) == len(reference.effects) > 0
    assert {r["objective"] for r in out["effects"]} == {"objective 0", "objective 1"}
    assert cli_main(["analyze", url, "--objective", "all", "-f", "csv", "--table", "pareto",
                     "--html", str(tmp_path / "o.html"), "--latex", str(tmp_path / "o.tex"),
                     "--figures", str(tmp_path / "figs"), "--figure-format", "svg"]) == 0
    csv_out = capsys.readouterr().out
    assert pd.read_csv(io.StringIO(csv_out))["on_front"].any()
    assert (tmp_path / "o.html").read_text().count("<h1>") == 1
    tex = (tmp_path / "o.tex").read_text()
    assert tex.count(r"\begin{table}") == tex.count(r"\end{table}") >= 3
    assert {p.name for p in (tmp_path / "figs").iterdir()} >= {"pareto.svg"}
    assert cli_main(["analyze", url, "--objective", "two"]) == 2
    assert "--objective must be" in capsys.readouterr().err
