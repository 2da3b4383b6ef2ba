"""One-at-a-time effects against statsmodels / hand-computed references."""

from __future__ import annotations

import json

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from scipy import stats
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW, ttest_ind

import hpablate
from hpablate.analysis._util import welch

SPACE = {
    "version": 1,
    "params": [
        {"kind": "float", "name": "lr", "low": 1e-4, "high": 0.1, "log": True, "step": None, "baseline": 0.01,
         "levels": [1e-4, 1e-3, 0.01, 0.1]},
        {"kind": "int", "name": "bs", "low": 16, "high": 256, "log": False, "step": 1, "baseline": 64,
         "levels": [16, 64, 256]},
        {"kind": "categorical", "name": "opt", "choices": ["sgd", "adam"], "baseline": "adam",
         "levels": ["sgd", "adam"]},
        {"kind": "component", "name": "dropout", "choices": [True, False], "baseline": True, "off": False,
         "levels": [True, False]},
    ],
}
DIST = {
    "lr": FloatDistribution(1e-4, 0.1, log=True),
    "bs": IntDistribution(16, 256),
    "opt": CategoricalDistribution(["sgd", "adam"]),
    "dropout": CategoricalDistribution([True, False]),
}
BASE = {"lr": 0.01, "bs": 64, "opt": "adam", "dropout": True}
# true mean shift of each OAT level (objective is maximised)
SHIFT = {("lr", 1e-4): -9.0, ("lr", 1e-3): -2.0, ("lr", 0.1): -0.3, ("bs", 16): 0.1, ("bs", 256): -1.0,
         ("opt", "sgd"): -3.0, ("dropout", False): -0.5}


def _attrs(design, varied, level, slot, rep):
    return {"hpablate.design": design, "hpablate.varied": varied, "hpablate.level": level,
            "hpablate.slot": slot, "hpablate.replicate": rep, "hpablate.seed": 1000 + slot * 10 + rep}


def build_study(seed: int = 0):
    rng = np.random.default_rng(seed)
    study = optuna.create_study(direction="maximize")
    study.set_user_attr("hpablate.space", json.dumps(SPACE))
    study.set_user_attr("hpablate.design", "oat")
    groups = {"baseline": {}}
    slot = 0
    for rep in range(4):
        v = 90 + rng.normal(0, 1.0)
        groups["baseline"][rep] = v
        study.add_trial(optuna.trial.create_trial(params=BASE, distributions=DIST, value=v,
                                                  user_attrs=_attrs("baseline", [], None, slot, rep)))
    for (p, lvl), shift in SHIFT.items():
        slot += 1
        n = 3 if p != "bs" else 5
        sd = 1.0 if p != "opt" else 2.5  # unequal variances: Welch matters
        for rep in range(n):
            v = 90 + shift + rng.normal(0, sd)
            groups.setdefault((p, lvl), {})[rep] = v
            study.add_trial(optuna.trial.create_trial(params={**BASE, p: lvl}, distributions=DIST, value=v,
                                                      user_attrs=_attrs("oat", [p], lvl, slot, rep)))
    # a trial of another plan (a grid cell on the baseline axis) is never mixed in by value
    v = 90 - 2.0 + rng.normal()
    study.add_trial(optuna.trial.create_trial(params={**BASE, "lr": 1e-3}, distributions=DIST, value=v,
                                              user_attrs=_attrs("grid", ["lr", "bs"], [1e-3, 64], 99, 0)))
    # two parameters off: not an OAT point; failed trial: left out
    study.add_trial(optuna.trial.create_trial(params={**BASE, "lr": 1e-3, "bs": 16}, distributions=DIST,
                                              value=50.0, user_attrs=_attrs("grid", ["lr", "bs"], [1e-3, 16], 98, 0)))
    study.add_trial(optuna.trial.create_trial(params={**BASE, "lr": 0.1}, distributions=DIST,
                                              state=optuna.trial.TrialState.FAIL,
                                              user_attrs={**_attrs("oat", ["lr"], 0.1, 3, 9), "hpablate.fail_reason": "x"}))
    return study, groups


def _holm(p):
    p = np.asarray(p)
    m = len(p)
    order = np.argsort(p)
    adj = np.empty(m)
    run = 0.0
    for k, i in enumerate(order):
        run = max(run, (m - k) * p[i])
        adj[i] = min(run, 1.0)
    return adj


def _bh(p):
    p = np.asarray(p)
    m = len(p)
    order = np.argsort(p)[::-1]
    adj = np.empty(m)
    run = 1.0
    for k, i in enumerate(order):
        run = min(run, p[i] * m / (m - k))
        adj[i] = run
    return adj


@pytest.fixture(scope="module")
def report_and_groups():
    study, groups = build_study()
    return hpablate.analyze(study), groups


def test_every_level_matches_scipy_paired_t(report_and_groups):
    """Levels are paired with the baseline by replicate: scipy's ttest_rel and a hand t-interval
    over the replicates both ran (bs has replicates 0-4, the baseline 0-3: replicate 4 is unpaired)."""
    report, groups = report_and_groups
    e = report.effects
    base_by_rep = groups["baseline"]
    base = np.array(list(base_by_rep.values()))
    rows = e[~e["is_baseline"]]
    assert len(rows) == len(SHIFT)
    for _, r in rows.iterrows():
        by_rep = groups[(r["param"], r["level"])]
        a = np.array(list(by_rep.values()))
        assert r["n"] == len(a) and r["baseline_n"] == len(base)
        assert r["mean"] == pytest.approx(a.mean())
        assert r["std"] == pytest.approx(a.std(ddof=1))
        common = sorted(set(by_rep) & set(base_by_rep))
        x = np.array([by_rep[k] for k in common])
        b = np.array([base_by_rep[k] for k in common])
        d = x - b
        assert r["n_pairs"] == len(common) and r["test"].startswith("paired t")
        assert r["delta"] == pytest.approx(d.mean())
        assert r["p_value"] == pytest.approx(stats.ttest_rel(x, b).pvalue, rel=1e-9)
        h = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
        assert (r["ci_low"], r["ci_high"]) == pytest.approx((d.mean() - h, d.mean() + h), rel=1e-9)
        assert r["sd_diff"] == pytest.approx(d.std(ddof=1))
        # Cohen's d: the paired difference over the SD pooled from every trial of the two sides
        pooled = np.sqrt(((len(a) - 1) * a.var(ddof=1) + (len(base) - 1) * base.var(ddof=1)) / (len(a) + len(base) - 2))
        assert r["cohen_d"] == pytest.approx(d.mean() / pooled)
        assert r["improvement"] == pytest.approx(r["delta"])  # maximised objective


def test_unmatched_replicates_fall_back_to_statsmodels_welch():
    study, groups = build_study()
    s2 = optuna.create_study(direction="maximize")
    for k, v in study.user_attrs.items():
        s2.set_user_attr(k, v)
    for t in study.trials:  # the baseline ran replicates 10-13: nothing pairs with the levels
        attrs = dict(t.user_attrs)
        if attrs.get("hpablate.design") == "baseline":
            attrs["hpablate.replicate"] += 10
        s2.add_trial(optuna.trial.create_trial(params=t.params, distributions=t.distributions, value=t.value,
                                               state=t.state, user_attrs=attrs))
    e = hpablate.analyze(s2).effects
    base = np.array(list(groups["baseline"].values()))
    for _, r in e[~e["is_baseline"]].iterrows():
        a = np.array(list(groups[(r["param"], r["level"])].values()))
        t, p, df = ttest_ind(a, base, usevar="unequal")
        assert r["test"] == "Welch t (unpaired)" and r["p_value"] == pytest.approx(p, rel=1e-9)
        lo, hi = CompareMeans(DescrStatsW(a), DescrStatsW(base)).tconfint_diff(usevar="unequal")
        assert (r["ci_low"], r["ci_high"]) == pytest.approx((lo, hi), rel=1e-9)


def test_multiple_testing_corrections_over_the_study(report_and_groups):
    report, _ = report_and_groups
    rows = report.effects[~report.effects["is_baseline"]]
    np.testing.assert_allclose(rows["p_holm"], _holm(rows["p_value"]), rtol=1e-12)
    np.testing.assert_allclose(rows["p_bh"], _bh(rows["p_value"]), rtol=1e-12)
    assert (rows["significant"] == (rows["p_holm"] < 0.05)).all()
    # the big effect is found, the tiny one is not
    lr4 = rows[(rows.param == "lr") & (rows.level == 1e-4)].iloc[0]
    assert lr4["significant"] and lr4["delta"] < -5


def test_pooled_by_values_and_baseline_rows(report_and_groups):
    report, groups = report_and_groups
    e = report.effects
    assert e[(e.param == "lr") & (e.level == 1e-3)]["n"].iloc[0] == 3  # the other plan's grid cell is left out
    b = e[e["is_baseline"]]
    assert set(b["param"]) == {"lr", "bs", "opt", "dropout"}
    assert (b["delta"] == 0).all() and b["p_value"].isna().all()
    assert report.counts["fail"] == 1
    # levels in numeric order with the baseline in place
    assert e[e.param == "lr"]["level"].tolist() == [1e-4, 1e-3, 0.01, 0.1]


def test_summary_names_the_top_effect_with_uncertainty(report_and_groups):
    report, _ = report_and_groups
    first = report.summary[0]
    assert first.startswith("lr matters most") and "±" in first and "0.0001" in first and "p" in first
    assert any("local" in n for n in report.notes)


def test_minimised_objective_flips_improvement():
    study, _ = build_study()
    s2 = optuna.create_study(direction="minimize")
    s2.set_user_attr("hpablate.space", json.dumps(SPACE))
    s2.add_trials(study.trials)
    e = hpablate.analyze(s2).effects
    rows = e[~e["is_baseline"]]
    np.testing.assert_allclose(rows["improvement"], -rows["delta"])


def test_welch_degenerate_cases():
    assert np.isnan(welch(np.array([1.0]), np.array([1.0, 2.0]))["p_value"])
    w = welch(np.array([1.0, 1.0]), np.array([2.0, 2.0]))
    assert w["diff"] == -1.0 and np.isnan(w["p_value"])


def test_no_baseline_means_no_effects_and_a_plain_note():
    study = optuna.create_study()
    rng = np.random.default_rng(1)
    for _ in range(30):
        x = float(rng.random())
        study.add_trial(optuna.trial.create_trial(params={"x": x}, distributions={"x": FloatDistribution(0, 1)}, value=x))
    r = hpablate.analyze(study)
    assert r.effects.empty and r.structural.empty
    assert any("need an hpablate baseline" in n for n in r.notes)
