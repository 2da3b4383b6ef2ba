"""Grid interaction tables and two-way ANOVA against hand-computed sums of squares."""

from __future__ import annotations

import itertools
import json

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from scipy import stats

import hpablate
from hpablate.analysis.interactions import bin_column

SPACE = {"version": 1, "params": [
    {"kind": "float", "name": "lr", "low": 1e-4, "high": 0.1, "log": True, "step": None, "baseline": 0.01,
     "levels": [1e-3, 0.01, 0.1]},
    {"kind": "int", "name": "batch_size", "low": 16, "high": 256, "log": False, "step": 1, "baseline": 64,
     "levels": [16, 64, 256]},
    {"kind": "categorical", "name": "opt", "choices": ["sgd", "adam"], "baseline": "adam", "levels": ["sgd", "adam"]},
]}
DIST = {"lr": FloatDistribution(1e-4, 0.1, log=True), "batch_size": IntDistribution(16, 256),
        "opt": CategoricalDistribution(["sgd", "adam"])}
EFFECT = {(1e-3, 16): 80, (1e-3, 64): 84, (1e-3, 256): 83, (0.01, 16): 88, (0.01, 64): 90, (0.01, 256): 86,
          (0.1, 16): 85, (0.1, 64): 84, (0.1, 256): 70}


def grid_study(repeats: int = 3, seed: int = 0, seed_sd: float = 0.0):
    rng = np.random.default_rng(seed)
    shared = rng.normal(0, seed_sd, repeats)  # what every cell of one replicate shares (its seed)
    study = optuna.create_study(direction="maximize")
    study.set_user_attr("hpablate.space", json.dumps(SPACE))
    study.set_user_attr("hpablate.design", "grid")
    study.set_user_attr("hpablate.grid_groups", [["lr", "batch_size"]])
    rows = []
    for slot, ((lr, bs), mu) in enumerate(EFFECT.items()):
        for rep in range(repeats):
            v = mu + shared[rep] + rng.normal(0, 1.5)
            rows.append((lr, bs, rep, v))
            study.add_trial(optuna.trial.create_trial(
                params={"lr": lr, "batch_size": bs, "opt": "adam"}, distributions=DIST, value=v,
                user_attrs={"hpablate.design": "grid", "hpablate.varied": ["lr", "batch_size"],
                            "hpablate.level": [lr, bs], "hpablate.slot": slot, "hpablate.replicate": rep,
                            "hpablate.seed": slot * 100 + rep}))
    # a trial with opt off the baseline must not enter the lr x batch_size table
    study.add_trial(optuna.trial.create_trial(params={"lr": 1e-3, "batch_size": 16, "opt": "sgd"}, distributions=DIST,
                                              value=0.0, user_attrs={"hpablate.design": "oat"}))
    return study, pd.DataFrame(rows, columns=["lr", "batch_size", "rep", "y"])


def _balanced_anova(df: pd.DataFrame, a: str, b: str, block: str | None = None):
    """Balanced two-way ANOVA by hand; with ``block`` the replicate block's SS leaves the residual."""
    g = df["y"].mean()
    la, lb = sorted(df[a].unique()), sorted(df[b].unique())
    r = len(df) // (len(la) * len(lb))
    ma = df.groupby(a)["y"].mean()
    mb = df.groupby(b)["y"].mean()
    mab = df.groupby([a, b])["y"].mean()
    ss_a = len(lb) * r * ((ma - g) ** 2).sum()
    ss_b = len(la) * r * ((mb - g) ** 2).sum()
    ss_ab = r * sum((mab[(i, j)] - ma[i] - mb[j] + g) ** 2 for i in la for j in lb)
    ss_e = sum(((grp["y"] - grp["y"].mean()) ** 2).sum() for _, grp in df.groupby([a, b]))
    df_a, df_b, df_ab, df_e = len(la) - 1, len(lb) - 1, (len(la) - 1) * (len(lb) - 1), len(df) - len(la) * len(lb)
    if block is not None:
        mr = df.groupby(block)["y"].mean()
        ss_e -= len(la) * len(lb) * ((mr - g) ** 2).sum()
        df_e -= len(mr) - 1
    out = {}
    for name, ss, d in ((a, ss_a, df_a), (b, ss_b, df_b), (f"{a} × {b}", ss_ab, df_ab)):
        F = (ss / d) / (ss_e / df_e)
        out[name] = (d, ss, F, stats.f.sf(F, d, df_e), ss / (ss + ss_e))
    return out


def test_grid_anova_matches_hand_computed_sums_of_squares():
    """Replicate as a block (every cell of a replicate shares its seed): the block's SS leaves the
    residual (reference changed from the unblocked ANOVA for issue 11)."""
    study, df = grid_study()
    r = hpablate.analyze(study)
    it = r.interactions.set_index("term")
    assert it["blocked"].all() and "replicate (block)" in it.index
    ref = _balanced_anova(df, "lr", "batch_size", block="rep")
    for term, (d, ss, F, p, eta) in ref.items():
        row = it.loc[term]
        assert row["source"] == "grid" and row["n"] == len(df)
        assert row["df"] == d
        assert row["sum_sq"] == pytest.approx(ss, rel=1e-8)
        assert row["F"] == pytest.approx(F, rel=1e-8)
        assert row["p_value"] == pytest.approx(p, rel=1e-6, abs=1e-300)
        assert row["partial_eta2"] == pytest.approx(eta, rel=1e-8)
    assert it.loc["lr × batch_size", "p_value"] < 0.001  # the designed interaction is found


def test_blocked_grid_anova_equals_statsmodels_with_a_block_term():
    import statsmodels.formula.api as smf
    from statsmodels.stats.anova import anova_lm

    study, df = grid_study(repeats=3, seed=4, seed_sd=4.0)
    r = hpablate.analyze(study)
    it = r.interactions.set_index("term")
    ref = anova_lm(smf.ols("y ~ C(lr) * C(batch_size) + C(rep)", data=df).fit(), typ=2)
    unblocked = anova_lm(smf.ols("y ~ C(lr) * C(batch_size)", data=df).fit(), typ=2)
    for term, rterm in (("lr", "C(lr)"), ("batch_size", "C(batch_size)"), ("lr × batch_size", "C(lr):C(batch_size)"),
                        ("replicate (block)", "C(rep)"), ("Residual", "Residual")):
        assert it.loc[term, "sum_sq"] == pytest.approx(ref.loc[rterm, "sum_sq"], rel=1e-8)
        assert it.loc[term, "df"] == ref.loc[rterm, "df"]
        if term != "Residual":
            assert it.loc[term, "p_value"] == pytest.approx(ref.loc[rterm, "PR(>F)"], rel=1e-6)
    # a shared seed component hides the interaction from the unblocked ANOVA, not from the blocked one
    assert it.loc["lr × batch_size", "p_value"] < unblocked.loc["C(lr):C(batch_size)", "PR(>F)"]


def test_cell_counts_and_no_headline_on_small_cells():
    study, _ = grid_study(repeats=2)
    r = hpablate.analyze(study)
    counts = r.interaction_counts["lr × batch_size"]
    assert counts.to_numpy().tolist() == [[2, 2, 2]] * 3
    assert (r.interactions["min_cell_n"] == 2).all()
    assert not any("interaction" in s.lower() and "F=" in s for s in r.summary)
    assert any("fewer than 3 trials" in n for n in r.notes)
    r3 = hpablate.analyze(grid_study(repeats=3)[0])
    assert any(s.startswith("Strongest interaction") for s in r3.summary)


def test_mean_table_is_the_cell_means():
    study, df = grid_study()
    t = hpablate.analyze(study).interaction_tables["lr × batch_size"]
    ref = df.groupby(["lr", "batch_size"])["y"].mean().unstack()
    assert t.index.name == "lr" and t.columns.name == "batch_size"
    np.testing.assert_allclose(t.to_numpy(float), ref.to_numpy(float), rtol=1e-12)


def test_one_replicate_gives_no_test_and_says_why():
    study, _ = grid_study(repeats=1)
    r = hpablate.analyze(study)
    assert r.interactions[r.interactions.term != "Residual"]["p_value"].isna().all()
    assert any("repeats >= 2" in n for n in r.notes)


def test_binned_tables_for_plain_random_studies():
    rng = np.random.default_rng(3)
    study = optuna.create_study()
    dist = {"a": FloatDistribution(0, 1), "b": FloatDistribution(0, 1), "c": CategoricalDistribution(["u", "v"])}
    rows = []
    for _ in range(400):
        p = {"a": float(rng.random()), "b": float(rng.random()), "c": ["u", "v"][int(rng.integers(2))]}
        y = p["a"] * (p["c"] == "u") + 0.3 * p["b"] + rng.normal(0, 0.05)
        rows.append({**p, "y": y})
        study.add_trial(optuna.trial.create_trial(params=p, distributions=dist, value=y))
    df = pd.DataFrame(rows)
    r = hpablate.analyze(study)
    assert set(r.interactions["source"]) == {"binned"}
    # marginal table of a: quartile bins, counts and means as pandas computes them independently
    bins = pd.qcut(df["a"], 4)
    ref = df.groupby(bins, observed=True)["y"].agg(["count", "mean"]).reset_index(drop=True)
    mt = r.marginal_tables["a"]
    assert mt["n"].tolist() == ref["count"].tolist()
    np.testing.assert_allclose(mt["mean"], ref["mean"], rtol=1e-12)
    # type II SS of a in y ~ a_bin * c by least squares: SS(a | c) = RSS(c) - RSS(a + c)
    X = pd.DataFrame({"a": bin_column(df["a"]).to_numpy(), "c": df["c"].to_numpy()})

    def rss(cols):
        M = pd.get_dummies(X[cols], drop_first=True, dtype=float)
        M.insert(0, "const", 1.0)
        beta, *_ = np.linalg.lstsq(M.to_numpy(), df["y"].to_numpy(), rcond=None)
        return float(((df["y"].to_numpy() - M.to_numpy() @ beta) ** 2).sum())

    ss_a = rss(["c"]) - rss(["a", "c"])
    it = r.interactions[(r.interactions.param_a == "a") & (r.interactions.param_b == "c")].set_index("term")
    assert it.loc["a", "sum_sq"] == pytest.approx(ss_a, rel=1e-8)
    assert it.loc["a × c", "p_value"] < 1e-6
    assert any("binned from sampled trials" in n for n in r.notes)


def test_groups_of_three_use_the_third_as_covariate():
    rng = np.random.default_rng(0)
    study = optuna.create_study()
    study.set_user_attr("hpablate.space", json.dumps(SPACE))
    study.set_user_attr("hpablate.design", "grid")
    study.set_user_attr("hpablate.grid_groups", [["lr", "batch_size", "opt"]])
    for lr, bs, opt in itertools.product([1e-3, 0.01], [16, 64], ["sgd", "adam"]):
        for _ in range(2):
            study.add_trial(optuna.trial.create_trial(params={"lr": lr, "batch_size": bs, "opt": opt}, distributions=DIST,
                                                      value=float(rng.normal())))
    r = hpablate.analyze(study)
    assert set(r.interaction_tables) == {"lr × batch_size", "lr × opt", "batch_size × opt"}
    assert {"lr × batch_size", "opt", "Residual"} <= set(r.interactions[r.interactions.param_a.eq("lr") & r.interactions.param_b.eq("batch_size")].term)


def test_fast_binned_anova_equals_statsmodels_on_unbalanced_data():
    import statsmodels.formula.api as smf
    from statsmodels.stats.anova import anova_lm

    from hpablate.analysis.interactions import fast_two_way_anova

    rng = np.random.default_rng(0)
    n = 700
    a = pd.Series(rng.choice(["x", "y", "z"], n, p=[0.5, 0.3, 0.2]), name="a")
    b = pd.Series(rng.choice(["u", "v", "w", "q"], n), name="b")
    y = ((a == "x") * 1.0 + (b == "u") * 0.5 + ((a == "z") & (b == "v")) * 2 + rng.normal(size=n)).to_numpy()
    ours = fast_two_way_anova(a, b, y).set_index("term")
    ref = anova_lm(smf.ols("y ~ C(a) * C(b)", data=pd.DataFrame({"a": a, "b": b, "y": y})).fit(), typ=2)
    for term, rterm in (("a", "C(a)"), ("b", "C(b)"), ("a × b", "C(a):C(b)"), ("Residual", "Residual")):
        assert ours.loc[term, "sum_sq"] == pytest.approx(ref.loc[rterm, "sum_sq"], rel=1e-9)
        assert ours.loc[term, "df"] == ref.loc[rterm, "df"]
        if term != "Residual":
            assert ours.loc[term, "F"] == pytest.approx(ref.loc[rterm, "F"], rel=1e-9)
            assert ours.loc[term, "p_value"] == pytest.approx(ref.loc[rterm, "PR(>F)"], rel=1e-6)


def test_grid_report_renders_in_every_format():
    study, _ = grid_study()
    r = hpablate.analyze(study)
    md = r.to_markdown()
    assert "### Mean lr × batch_size" in md and "| lr |" in md
    assert "mean objective, lr × batch_size" in r.to_text()
    d = json.loads(r.to_json())
    assert d["interaction_tables"]["lr × batch_size"]["columns"] == [16, 64, 256]
    assert "interaction: lr × batch_size" in r.figures and "<html" in r.to_html()
