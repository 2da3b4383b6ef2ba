"""The report: plain Optuna studies of every kind, hpablate designs end to end, JSON/Markdown, HTML
rendered in headless Chromium."""

from __future__ import annotations

import json
import math
import zlib
import os
import re
import shutil
import subprocess

import numpy as np
import optuna
import pytest

import hpablate
from hpablate.analysis import ObjectiveIndexError
from hpablate.errors import NoTrialsError


def _objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -2, 2)
    lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    kind = trial.suggest_categorical("kind", ["a", "b"])
    if kind == "b":  # conditional parameter
        trial.suggest_int("depth", 1, 8)
    if trial.number % 9 == 4:
        raise optuna.TrialPruned()
    if trial.number % 13 == 6:
        raise RuntimeError("boom")
    return x**2 + (math.log10(lr) + 2) ** 2 + (kind == "b")


@pytest.mark.parametrize("sampler", [
    optuna.samplers.RandomSampler(seed=0),
    optuna.samplers.TPESampler(seed=0, n_startup_trials=10),
])
def test_plain_optuna_studies_report_what_the_data_supports(sampler):
    study = optuna.create_study(sampler=sampler)
    study.optimize(_objective, n_trials=45, catch=(RuntimeError,))
    r = hpablate.analyze(study)
    assert r.counts["pruned"] > 0 and r.counts["fail"] > 0
    assert r.effects.empty and r.structural.empty
    assert any("need an hpablate baseline" in n for n in r.notes)
    assert any("Conditional parameters ['depth']" in n for n in r.notes)
    fan = r.importances[r.importances.method.str.startswith("fANOVA")]
    assert set(fan[fan.kind == "marginal"]["param"]) == {"x", "lr", "kind"}
    assert set(fan[fan.kind == "pairwise"]["param"]) == {"x × lr", "x × kind", "lr × kind"}
    ped = r.importances[r.importances.method.str.startswith("PED")]
    assert set(ped["param"]) == {"x", "lr", "kind", "depth"}
    assert set(r.interactions["source"]) == {"binned"} and r.marginal_tables
    assert r.summary and "fANOVA" in " ".join(r.summary)


def test_grid_sampler_study():
    grid = {"x": [-1.0, 0.0, 1.0], "y": [0, 1, 2]}
    study = optuna.create_study(sampler=optuna.samplers.GridSampler(grid, seed=0))
    study.optimize(lambda t: t.suggest_float("x", -1, 1) * t.suggest_int("y", 0, 2), n_trials=9)
    r = hpablate.analyze(study)
    assert "x × y" in r.interaction_tables
    t = r.interaction_tables["x × y"]
    assert t.loc["0", "0"] == 0.0 and t.loc["1", "2"] == 2.0


def test_multi_objective_is_analysed_per_objective():
    study = optuna.create_study(directions=["minimize", "maximize"], sampler=optuna.samplers.RandomSampler(seed=1))
    study.optimize(lambda t: (t.suggest_float("a", 0, 1), t.suggest_float("b", 0, 1) ** 2 + 0.1 * t.params["a"]),
                   n_trials=60)
    r1 = hpablate.analyze(study, objective=1)
    assert r1.direction == "maximize" and r1.objective == 1
    ped = r1.importances[r1.importances.method.str.startswith("PED")].set_index("param")["importance"]
    with pytest.warns(UserWarning):
        ref = optuna.importance.PedAnovaImportanceEvaluator().evaluate(study, target=lambda t: -t.values[1])
    for k, v in ref.items():
        assert ped[k] == pytest.approx(v, rel=1e-9, abs=1e-15)
    fan = r1.importances[r1.importances.method.str.startswith("fANOVA") & (r1.importances.kind == "marginal")]
    assert fan.iloc[0]["param"] == "b"
    assert any("Multi-objective" in n for n in r1.notes)
    with pytest.raises(ObjectiveIndexError):
        hpablate.analyze(study, objective=2)


def test_no_completed_trials():
    study = optuna.create_study()
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL))
    with pytest.raises(NoTrialsError, match="no completed trials"):
        hpablate.analyze(study)


# --------------------------------------------------------------------------- hpablate designs

@pytest.fixture(scope="module")
def oat_report():
    space = hpablate.SearchSpace(
        hpablate.Float("lr", 1e-4, 1e-1, log=True, baseline=1e-2, levels=[1e-4, 1e-3, 1e-2, 1e-1]),
        hpablate.Int("width", 8, 64, baseline=32, levels=[8, 32, 64]),
        hpablate.Categorical("opt", ["sgd", "adam"], baseline="adam"),
        hpablate.Component("dropout", baseline=True),
        hpablate.Component("norm", choices=["batch", "layer", "none"], baseline="batch"),
    )

    def objective(trial):
        p = space.suggest(trial)
        rng = np.random.default_rng(hpablate.trial_seed(trial))
        # a shared seed component plus noise of the configuration itself (as real training has):
        # with the seed's noise alone every paired difference would be equal, which the analysis
        # treats as a sign-flip question, not as certainty
        own = np.random.default_rng([hpablate.trial_seed(trial), zlib.crc32(repr(sorted(p.items())).encode())])
        acc = (0.9 - 0.05 * (math.log10(p["lr"]) + 2) ** 2 - 0.03 * (p["norm"] == "none") + rng.normal(0, 0.005)
               + own.normal(0, 0.002))
        trial.set_user_attr("per_class_acc", {"0": acc + 0.01, "1": acc - 0.01 - 0.05 * (p["norm"] == "none")})
        return acc

    study = hpablate.create_study(space, hpablate.OneAtATimeSampler(space, repeats=3), direction="maximize")
    hpablate.run(study, objective)
    return hpablate.analyze(study)


def test_hpablate_oat_study_end_to_end(oat_report):
    r = oat_report
    assert r.design == "oat"
    e = r.effects
    top = e[~e.is_baseline].sort_values("p_value").iloc[0]
    assert top["param"] == "lr" and top["level"] == 1e-4 and top["significant"]
    assert (e[~e.is_baseline]["n"] == 3).all() and (e["baseline_n"] == 3).all()
    assert r.summary[0].startswith("lr matters most")
    s = r.structural.set_index("component")
    assert s.loc["norm", "contribution"] > 0.02 and s.loc["norm", "significant"]
    assert set(r.structural_per_class["class"]) == {"0", "1"}
    assert any("local" in n and "Morris" in n for n in r.notes)
    assert {"tornado", "structural", "oat"} <= set(r.figures)


def test_json_and_markdown(oat_report):
    d = json.loads(oat_report.to_json())  # allow_nan=False inside: numpy scalars and NaN are cast
    assert d["study"] and d["effects"][0]["param"] == "lr"
    assert isinstance(d["effects"][0]["n"], int)
    md = oat_report.to_markdown()
    assert md.startswith("# Analysis of study") and "| param |" in md and "## Summary" in md


def _chromium() -> str | None:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        msg = "headless Chromium not installed (apt-get install -y chromium)"
        if os.environ.get("HPABLATE_REQUIRE_CHROMIUM") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    return path


def test_html_is_self_contained_and_renders_without_console_errors(oat_report, tmp_path):
    chromium = _chromium()
    path = tmp_path / "report.html"
    text = oat_report.to_html(str(path))
    assert path.read_text(encoding="utf-8") == text
    # no external resources: every script inline, no linked stylesheets/images
    assert not re.search(r"<(script|link|img|iframe)[^>]*\s(src|href)\s*=", text, re.I)
    assert "lr matters most" in text and text.count("class='fig'") == len(oat_report.figures)
    proc = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--enable-logging=stderr", "--v=0", "--proxy-server=127.0.0.1:9", "--virtual-time-budget=15000",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", path.as_uri()],
        capture_output=True, text=True, timeout=180,
    )
    console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line]
    assert console == [], console  # the page logs nothing: any console line is an error or warning
    assert proc.stdout.count('class="plot-container plotly"') == len(oat_report.figures)
