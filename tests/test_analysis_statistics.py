"""Issue 11: effects with their design — pairing, TOST verdicts, failures as results, plan-only
trials, grown studies, seeds_needed — against independent references and simulation."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.weightstats import ttost_ind, ttost_paired

import hpablate
from hpablate.analysis._pairing import compare, sign_flip_p
from hpablate.analysis._util import p_adjust
from hpablate.analysis.power import power_paired, seeds_for
from hpablate.analysis.verdicts import parse_margin, tost_p
from hpablate.errors import UsageError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import statistics_simulation as sim  # noqa: E402

SPACE = hpablate.SearchSpace(
    hpablate.Float("lr", 1e-4, 1e-1, log=True, baseline=1e-2, levels=[1e-3, 1e-2, 1e-1]),
    hpablate.Categorical("wd", [0.0, 1e-4], baseline=0.0),
)


def _objective(trial):
    p = SPACE.suggest(trial)
    rng = np.random.default_rng(hpablate.trial_seed(trial))
    shared = rng.normal(0, 0.2)  # what the seed does to every configuration of the replicate
    if p["lr"] == 0.1:
        return float("inf")  # diverges
    own = np.random.default_rng([hpablate.trial_seed(trial), trial.number])  # noise the seed does not fix
    return 0.9 + shared - 0.05 * (p["lr"] == 1e-3) + 0.001 * (p["wd"] > 0) + own.normal(0, 0.001)


@pytest.fixture(scope="module")
def oat_study():
    study = hpablate.create_study(SPACE, hpablate.OneAtATimeSampler(SPACE, repeats=4), direction="maximize")
    hpablate.run(study, _objective, max_retries=0)
    return study


def test_paired_statistics_equal_scipy_and_statsmodels():
    rng = np.random.default_rng(0)
    a, b = rng.normal(1, 1, 7), rng.normal(0, 1, 7)
    y = np.concatenate([a, b])
    rep = np.concatenate([np.arange(7), np.arange(7)]).astype(object)
    r = compare(y, rep, np.arange(14) < 7, np.arange(14) >= 7)
    assert r["p_value"] == pytest.approx(stats.ttest_rel(a, b).pvalue, rel=1e-12)
    d = a - b
    h = stats.t.ppf(0.975, 6) * d.std(ddof=1) / math.sqrt(7)
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((d.mean() - h, d.mean() + h), rel=1e-12)
    # exact sign-flip p by brute force over the 128 sign patterns
    import itertools
    flips = [abs(np.mean(np.array(s) * d)) >= abs(d.mean()) - 1e-12 for s in itertools.product((1, -1), repeat=7)]
    assert r["p_perm"] == pytest.approx(np.mean(flips)) and sign_flip_p(d) == r["p_perm"]
    assert r["test"] == "paired t + exact sign-flip"
    # TOST: statsmodels' ttost_paired and ttost_ind (Welch) for the same margin
    for delta in (0.5, 1.5, 3.0):
        assert tost_p(r["diff"], r["se"], r["df"], delta) == pytest.approx(ttost_paired(a, b, -delta, delta)[0], rel=1e-9)
        w = compare(y, None, np.arange(14) < 7, np.arange(14) >= 7)
        ref = ttost_ind(a, b, -delta, delta, usevar="unequal")[0]
        assert tost_p(w["diff"], w["se"], w["df"], delta) == pytest.approx(ref, rel=1e-9)


def test_holm_and_bh_equal_statsmodels():
    from statsmodels.stats.multitest import multipletests

    p = np.random.default_rng(1).random(9) ** 3
    np.testing.assert_allclose(p_adjust(p, "holm"), multipletests(p, method="holm")[1], rtol=1e-12)
    np.testing.assert_allclose(p_adjust(p, "bh"), multipletests(p, method="fdr_bh")[1], rtol=1e-12)


def test_margins_parse_and_refuse_bad_values():
    assert parse_margin("1%").relative and parse_margin("1%").value == pytest.approx(0.01)
    assert parse_margin("0.02") == parse_margin(0.02)
    for bad in ("-1", "abc", 0, float("nan"), True):
        with pytest.raises(UsageError):
            parse_margin(bad)


def test_divergence_is_a_result_not_no_effect(oat_study):
    r = hpablate.analyze(oat_study)
    e = r.effects.set_index(["param", "level"])
    row = e.loc[("lr", 0.1)]
    assert row["n"] == 0 and row["n_failed"] == 4 and row["n_total"] == 4 and row["verdict"] == "failed"
    assert any(s.startswith("lr=0.1 breaks training: 4 of 4") for s in r.summary)
    assert not any("no significant effect" in s and "lr" in s.split("no significant effect")[1] for s in r.summary)
    assert any("objective returned inf" in n for n in r.notes)
    # paired by replicate: the shared seed component (sd 0.2) cancels, the 0.001 effect of wd shows
    wd = e.loc[("wd", 1e-4)]
    assert wd["test"].startswith("paired t") and wd["n_pairs"] == 4
    assert wd["ci_high"] - wd["ci_low"] < 0.02 and e.loc[("lr", 1e-3), "verdict"] == "worse"
    # failures="worst": the diverged level takes the worst observed value and is tested
    worst = hpablate.analyze(oat_study, failures="worst").effects.set_index(["param", "level"])
    assert worst.loc[("lr", 0.1), "verdict"] == "worse" and worst.loc[("lr", 0.1), "n"] == 4


def test_margin_gives_equivalence(oat_study):
    e = hpablate.analyze(oat_study, margin=0.01).effects.set_index(["param", "level"])
    assert e.loc[("wd", 1e-4), "verdict"] == "equivalent" and e.loc[("wd", 1e-4), "margin"] == 0.01
    rel = hpablate.analyze(oat_study, margin="1%").effects.set_index(["param", "level"])
    assert rel.loc[("wd", 1e-4), "margin"] == pytest.approx(0.01 * abs(rel.loc[("wd", 1e-4), "baseline_mean"]))


def test_worker_failures_are_not_results_and_foreign_trials_stay_out(oat_study):
    study = optuna.create_study(direction="maximize")
    for k, v in oat_study.user_attrs.items():
        study.set_user_attr(k, v)
    study.add_trials(oat_study.trials)
    base = next(t for t in oat_study.trials if t.user_attrs.get("hpablate.design") == "baseline")
    # a stale (killed) retry of a completed slot, a foreign trial at the baseline, a TPE continuation trial
    study.add_trial(optuna.trial.create_trial(params=base.params, distributions=base.distributions,
                                              state=optuna.trial.TrialState.FAIL,
                                              user_attrs={**base.user_attrs, "hpablate.fail_reason": "stale: no heartbeat"}))
    study.add_trial(optuna.trial.create_trial(params=base.params, distributions=base.distributions, value=-50.0,
                                              user_attrs={"hpablate.slot": -1, "hpablate.foreign": "enqueued"}))
    study.add_trial(optuna.trial.create_trial(params=base.params, distributions=base.distributions, value=-60.0))
    before = hpablate.analyze(oat_study).effects
    r = hpablate.analyze(study)
    pd.testing.assert_series_equal(r.effects["baseline_mean"], before["baseline_mean"])
    assert (r.effects["n_failed"] == before["n_failed"]).all()
    note = next(n for n in r.notes if "not part of this oat plan" in n)
    assert "1 enqueued or run with other values" in note and "1 without a plan slot" in note
    assert "of them plan trials" in r.to_text().splitlines()[0]


def test_grown_study_pools_every_replicate(tmp_path):
    url = f"sqlite:///{tmp_path / 'grow.db'}"
    space = hpablate.SearchSpace(hpablate.Float("lr", 1e-4, 1e-1, log=True, baseline=1e-2, levels=[1e-3, 1e-2]))

    for repeats in (2, 3):
        study = hpablate.create_study(space, hpablate.OneAtATimeSampler(space, repeats=repeats), storage=url,
                                      study_name="grow", load_if_exists=True)
        hpablate.run(study, _grow_objective)
    e = hpablate.analyze(url, "grow").effects
    assert (e["n"] == 3).all() and e.loc[~e["is_baseline"], "n_pairs"].tolist() == [3]


def _grow_objective(trial):
    p = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    return float(np.random.default_rng(hpablate.trial_seed(trial)).normal()) + (p == 1e-3)


def test_fanova_is_not_headlined_on_an_oat_design(oat_study):
    r = hpablate.analyze(oat_study)
    assert not any(s.startswith("fANOVA") for s in r.summary)
    assert any("not headlined" in n for n in r.notes)


def test_seeds_needed_api_and_cli(oat_study, tmp_path, capsys):
    report = hpablate.analyze(oat_study)
    t = hpablate.seeds_needed(report, mde=0.002, holm=False)
    row = t.set_index(["param", "level"]).loc[("wd", 1e-4)]
    assert row["seeds_now"] == 4 and row["basis"] == "paired" and row["alpha"] == 0.05
    assert row["seeds_needed"] == seeds_for(lambda n: power_paired(n, 0.002, row["sd_diff"]))
    assert power_paired(int(row["seeds_needed"]), 0.002, row["sd_diff"]) >= 0.8
    assert power_paired(int(row["seeds_needed"]) - 1, 0.002, row["sd_diff"]) < 0.8 or row["seeds_needed"] == 2
    # Holm-aware (default): planned at alpha / m, m = the tests of the effects' Holm family
    m = int(np.isfinite(report.effects.loc[~report.effects["is_baseline"], "p_value"]).sum())
    holm = hpablate.seeds_needed(report, mde=0.002).set_index(["param", "level"]).loc[("wd", 1e-4)]
    assert m > 1 and holm["alpha"] == pytest.approx(0.05 / m)
    assert holm["seeds_needed"] == seeds_for(lambda n: power_paired(n, 0.002, row["sd_diff"], 0.05 / m))
    assert holm["seeds_needed"] >= row["seeds_needed"]
    with pytest.raises(UsageError):
        hpablate.seeds_needed(oat_study)
    url = f"sqlite:///{tmp_path / 's.db'}"
    study = hpablate.create_study(SPACE, hpablate.OneAtATimeSampler(SPACE, repeats=3), storage=url,
                                  study_name="s", direction="maximize")
    hpablate.run(study, _objective, max_retries=0)
    from hpablate.cli import main

    assert main(["analyze", url, "--margin", "1%", "--mde", "0.002", "-f", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["seeds_needed"] and {e["verdict"] for e in out["effects"] if e["verdict"]} <= {
        "better", "worse", "equivalent", "inconclusive", "failed"}


def test_simulation_small():
    """A small version of benchmarks/statistics_simulation.py (the slow test runs the larger one)."""
    s = sim.Setting(seeds=6)
    v = sim.verdict_rates(150, s, seed=3)
    assert 0.90 <= v["coverage"] <= 0.98
    assert v["type1_better_worse_at_0"] <= 0.05 + 0.04 and v["type1_equivalent_at_delta"] <= 0.05 + 0.04
    w = sim.width_ratio(60, sim.Setting(seeds=8))
    assert w["ratio"] <= 1.0  # paired with half the seeds is no wider than Welch
    p = sim.power_check(150, s, 0.05)
    assert abs(p["simulated_power"] - 0.8) <= 0.1


@pytest.mark.slow
def test_simulation_large():
    s = sim.Setting(seeds=8)
    v = sim.verdict_rates(1000, s, seed=11)
    assert 0.93 <= v["coverage"] <= 0.97
    assert v["type1_better_worse_at_0"] <= 0.05 + 0.015 and v["type1_equivalent_at_delta"] <= 0.05 + 0.015
    for mde in (0.05, 0.03):
        assert abs(sim.power_check(800, s, mde, seed=13)["simulated_power"] - 0.8) <= 0.07


def test_equal_paired_differences_are_a_sign_flip_question_not_certainty():
    """Two seeds one test sample apart (a discrete metric) must not read as p < 0.001."""
    from hpablate.analysis._pairing import paired_t

    two = paired_t(np.array([0.00702, 0.00702]))
    assert two["p_value"] == 0.5 and np.isnan(two["ci_low"]) and np.isnan(two["se"])
    twelve = paired_t(np.full(12, -0.3))
    assert twelve["p_value"] == pytest.approx(2 / 2**12)  # exact: only the all-same-sign patterns tie
    assert paired_t(np.zeros(4))["p_value"] == 1.0


def test_holm_aware_seed_plan_reaches_its_power_after_holm_by_simulation():
    """One true effect among m = 6 Holm-corrected tests: seeds planned at alpha/m give >= 80% power
    after Holm (simulated), while the per-comparison plan falls short."""
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(7)
    m, d, sd, sims = 6, 1.0, 1.5, 2000
    n_holm = seeds_for(lambda n: power_paired(n, d, sd, 0.05 / m))
    n_plain = seeds_for(lambda n: power_paired(n, d, sd, 0.05))
    assert n_holm > n_plain

    def holm_rejected(p: np.ndarray) -> np.ndarray:
        """Holm's step-down rejections of every row of p-values (vectorised)."""
        order = np.argsort(p, axis=1)
        ok = np.cumprod(np.take_along_axis(p, order, axis=1) <= 0.05 / (m - np.arange(m)), axis=1).astype(bool)
        rejected = np.zeros_like(ok)
        np.put_along_axis(rejected, order, ok, axis=1)
        return rejected

    def holm_power(n: int) -> float:
        diffs = rng.normal(0.0, sd, size=(sims, m, n))
        diffs[:, 0, :] += d  # the one true effect
        p = stats.ttest_1samp(diffs, 0.0, axis=2).pvalue
        reference = np.array([multipletests(row, 0.05, "holm")[0] for row in p[:10]])
        assert (holm_rejected(p[:10]) == reference).all()  # the vectorised Holm is statsmodels' Holm
        return float(holm_rejected(p)[:, 0].mean())

    assert holm_power(n_holm) >= 0.8 - 0.03
    assert holm_power(n_plain) < 0.8 - 0.03
