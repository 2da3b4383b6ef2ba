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


# --------------------------------------------------------------------------- plain Optuna, conditional
PLAIN_DISTS = {
    "optimizer": optuna.distributions.CategoricalDistribution(["sgd", "adam", "rmsprop"]),
    "lr": optuna.distributions.FloatDistribution(1e-3, 1e-1, log=True),
    "momentum": optuna.distributions.FloatDistribution(0.0, 0.99),
    "beta1": optuna.distributions.FloatDistribution(0.8, 0.99),
    "beta2": optuna.distributions.FloatDistribution(0.9, 0.9999),
}


@pytest.fixture(scope="module")
def plain_db(tmp_path_factory) -> str:
    """A plain Optuna SQLite study, define-by-run: momentum only under SGD (+3 per unit), beta1/beta2 only
    under Adam (no effect); rmsprop is a choice no trial took."""
    url = f"sqlite:///{tmp_path_factory.mktemp('plain')}/cond.db"
    study = optuna.create_study(storage=url, study_name="cond", direction="maximize")
    rng = np.random.default_rng(7)
    trials = []
    for _ in range(160):
        opt = str(rng.choice(["sgd", "adam"]))
        params = {"optimizer": opt, "lr": float(np.exp(rng.uniform(np.log(1e-3), np.log(1e-1))))}
        if opt == "sgd":
            params["momentum"] = float(rng.uniform(0, 0.99))
        else:
            params.update(beta1=float(rng.uniform(0.8, 0.99)), beta2=float(rng.uniform(0.9, 0.9999)))
        value = 0.5 * np.log10(params["lr"]) + 3.0 * params.get("momentum", 0.0) + rng.normal(scale=0.2)
        trials.append(optuna.trial.create_trial(params=params, distributions={k: PLAIN_DISTS[k] for k in params},
                                                value=float(value)))
    study.add_trials(trials)
    return url


def _branch_study(url: str, optimizer: str) -> optuna.Study:
    """The sub-study of one branch: only the trials whose optimizer is ``optimizer``."""
    full = optuna.load_study(study_name="cond", storage=url)
    sub = optuna.create_study(direction="maximize")
    sub.add_trials([t for t in full.trials if t.params["optimizer"] == optimizer])
    return sub


def test_plain_conditions_are_inferred_with_every_parent_value(plain_db):
    report = hp.analyze(plain_db, study_name="cond")
    c = report.conditions
    assert set(c.loc[c["lives_here"] == True, "param"] + "|" + c.loc[c["lives_here"] == True, "parent_value"]) == {  # noqa: E712
        "momentum|sgd", "beta1|adam", "beta2|adam"}
    rms = c[c["parent_value"] == "rmsprop"]
    assert len(rms) == 3 and (rms["n_parent"] == 0).all() and rms["lives_here"].isna().all()
    assert any("optimizer=rmsprop" in n for n in report.notes)
    tree = report.condition_tree
    assert tree[0].startswith("optimizer = sgd (") and tree[0].endswith(": momentum")
    assert tree[1].endswith(": beta1, beta2") and tree[2].startswith("optimizer = rmsprop (0 trials): ")
    assert set(tree[2].split(": ")[1].split(", ")) == {"momentum?", "beta1?", "beta2?"}  # the data cannot tell
    data = report.to_dict()
    assert data["condition_tree"] == tree and len(data["conditions"]) == len(c)
    assert "## Condition tree" in report.to_markdown() and "Condition tree:" in report.to_text()


def test_plain_branch_effects_say_momentum_matters_within_sgd(plain_db):
    report = hp.analyze(plain_db, study_name="cond")
    e = report.branch_effects
    assert {(p, b) for p, b in zip(e["param"], e["branch"])} == {
        ("momentum", "optimizer=sgd"), ("beta1", "optimizer=adam"), ("beta2", "optimizer=adam")}
    full = optuna.load_study(study_name="cond", storage=plain_db)
    pvals = {}
    for param, opt in (("momentum", "sgd"), ("beta1", "adam"), ("beta2", "adam")):
        done = [t for t in full.trials if t.params["optimizer"] == opt]
        x = pd.Series([t.params[param] for t in done])
        y = np.array([t.value for t in done])
        bins = pd.qcut(x, 4).cat.codes.to_numpy()
        expect = stats.f_oneway(*[y[bins == b] for b in range(4)])
        row = e[e["param"] == param].iloc[0]
        assert row["n_branch"] == len(done) and e.loc[e["param"] == param, "n"].sum() == len(done)
        assert row["F"] == pytest.approx(expect.statistic, rel=1e-9)
        assert row["p_value"] == pytest.approx(expect.pvalue, rel=1e-9, abs=1e-300)
        pvals[param] = expect.pvalue
    holm = dict(zip(pvals, multipletests(list(pvals.values()), method="holm")[1]))
    for param, p in holm.items():
        assert e.loc[e["param"] == param, "p_holm"].iloc[0] == pytest.approx(p, rel=1e-9, abs=1e-300)
    assert holm["momentum"] < 1e-6 and holm["beta1"] > 0.05 and holm["beta2"] > 0.05  # the truth
    assert any(s.startswith("Within optimizer=sgd, momentum matters") for s in report.summary)
    assert any(s.startswith("Within optimizer=adam, beta1 shows no significant effect") for s in report.summary)


def test_plain_branch_importances_equal_optunas_evaluators_on_each_sub_study(plain_db):
    report = hp.analyze(plain_db, study_name="cond", encoding="optuna", n_trees=16, seed=3)
    imp = report.branch_importances
    for opt, names in (("sgd", ["lr", "momentum"]), ("adam", ["lr", "beta1", "beta2"])):
        sub = _branch_study(plain_db, opt)
        mine = imp[imp["branch"] == f"optimizer={opt}"]
        ped = mine[mine["method"].str.startswith("PED")].set_index("param")["importance"]
        ref = optuna.importance.PedAnovaImportanceEvaluator().evaluate(sub, params=names)
        assert set(ped.index) == set(names)
        for k, v in ref.items():
            assert ped[k] == pytest.approx(v, rel=1e-9, abs=1e-12)
        fan = mine[mine["method"].str.startswith("fANOVA")].set_index("param")["importance"]
        ref = optuna.importance.FanovaImportanceEvaluator(n_trees=16, seed=3).evaluate(sub, params=names)
        for k, v in ref.items():
            assert fan[k] == pytest.approx(v, rel=1e-7, abs=1e-12)  # same forest: same numbers
        assert set(mine["estimand"][mine["method"].str.startswith("fANOVA")]) == {
            f"first-order (main effect) variance fraction within optimizer={opt} (uniform over its active subspace)"}
    sgd = imp[(imp["branch"] == "optimizer=sgd") & imp["method"].str.startswith("fANOVA")].set_index("param")
    assert sgd.loc["momentum", "importance"] > 0.8  # the truth: momentum dominates within SGD


def test_plain_study_wide_ped_anova_is_optunas_conditional_evaluator(plain_db):
    report = hp.analyze(plain_db, study_name="cond")
    mine = report.importances[report.importances["method"].str.startswith("PED")].set_index("param")["importance"]
    full = optuna.load_study(study_name="cond", storage=plain_db)
    ref = optuna.importance.get_param_importances(full, evaluator=optuna.importance.PedAnovaImportanceEvaluator(),
                                                  normalize=False)
    assert set(ref) == set(PLAIN_DISTS) - {"optimizer"} | {"optimizer"}
    for k, v in ref.items():
        assert mine[k] == pytest.approx(v, rel=1e-9, abs=1e-12)


def test_the_condition_tree_is_in_the_html_page(plain_db):
    page = hp.analyze(plain_db, study_name="cond", ped_anova=False).to_html()
    assert "<h2>Condition tree</h2>" in page and "optimizer = sgd (" in page


def test_removing_a_component_with_children_keeps_its_structural_row():
    """Removing attention removes its child heads: the ablated trials lack heads and still count."""
    space = hp.SearchSpace(
        hp.Component("attention", baseline=True),
        hp.Int("heads", 1, 4, baseline=2, levels=[1, 2, 4], when={"attention": True}),
        hp.Component("dropout", baseline=True),
    )

    def obj(trial: optuna.Trial) -> float:
        c = space.suggest(trial)
        seed = hp.trial_seed(trial)
        noise = np.random.default_rng(seed).normal() + np.random.default_rng([seed, trial.number]).normal(scale=0.1)
        return float(noise + 1.0 * c["attention"] + 0.1 * c.get("heads", 0) + 0.2 * c["dropout"])

    study = hp.create_study(space, hp.StructuralAblationSampler(space, repeats=4), direction="maximize")
    hp.run(study, obj)
    row = hp.analyze(study).structural.set_index("component").loc["attention"]
    base = _by_replicate(study, {"attention": True, "heads": 2, "dropout": True})
    off = _by_replicate(study, {"attention": False, "dropout": True})
    assert row["n"] == row["n_reference"] == 4
    assert row["contribution"] == pytest.approx((base - off).mean(), rel=1e-12)
    assert row["p_value"] == pytest.approx(stats.ttest_rel(base.to_numpy(), off.to_numpy()).pvalue, rel=1e-9)
