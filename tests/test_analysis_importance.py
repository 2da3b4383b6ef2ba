"""Importances against independent references: Optuna's evaluators and tree code, SALib, analytic."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.importance._fanova._tree import _FanovaTree
from sklearn.ensemble import RandomForestRegressor

import hpablate
from hpablate.analysis import importance as imp
from hpablate.analysis.load import load


def _random_study(n: int, seed: int = 0, fail_every: int = 0) -> optuna.Study:
    rng = np.random.default_rng(seed)
    dist = {"lr": FloatDistribution(1e-4, 1e-1, log=True), "bs": IntDistribution(16, 256),
            "opt": CategoricalDistribution(["sgd", "adam", "rms"]), "x": FloatDistribution(0, 1)}
    study = optuna.create_study()
    trials = []
    for i in range(n):
        p = {"lr": float(np.exp(rng.uniform(math.log(1e-4), math.log(1e-1)))), "bs": int(rng.integers(16, 257)),
             "opt": ["sgd", "adam", "rms"][int(rng.integers(3))], "x": float(rng.random())}
        v = (math.log10(p["lr"]) + 2.5) ** 2 + 2 * p["x"] * (p["opt"] == "adam") + 0.002 * p["bs"] + rng.normal(0, 0.1)
        if fail_every and i % fail_every == 0:
            trials.append(optuna.trial.create_trial(params=p, distributions=dist, state=optuna.trial.TrialState.FAIL))
        else:
            trials.append(optuna.trial.create_trial(params=p, distributions=dist, value=v))
    study.add_trials(trials)
    return study


def _ours(study, encoding="optuna", seed=0, n_trees=64, **kw):
    data = load(study)
    done = data.trials[data.trials.state == "COMPLETE"]
    order = list(optuna.search_space.intersection_search_space(study.get_trials(deepcopy=False)))
    params = data.params().loc[done.index, order]
    return imp.fanova_importances(params, done["value_0"].to_numpy(), {n: data.distributions[n] for n in order},
                                  encoding=encoding, seed=seed, n_trees=n_trees, **kw)


def test_marginals_equal_optunas_evaluator_on_the_same_forest():
    study = _random_study(300, fail_every=17)
    ours = _ours(study, seed=3, n_trees=16)
    ref = optuna.importance.FanovaImportanceEvaluator(n_trees=16, seed=3).evaluate(study)
    m = ours[ours.kind == "marginal"].set_index("param")["importance"]
    for k, v in ref.items():
        assert m[k] == pytest.approx(v, rel=1e-7, abs=1e-12)


def test_marginals_agree_with_optuna_up_to_forest_randomness():
    study = _random_study(300, seed=1)
    ours = _ours(study, seed=11, n_trees=32)
    ref = optuna.importance.FanovaImportanceEvaluator(n_trees=32, seed=12).evaluate(study)
    m = ours[ours.kind == "marginal"].set_index("param")["importance"]
    assert max(abs(m[k] - v) for k, v in ref.items()) < 0.02


def test_pairwise_equals_optunas_tree_code_per_tree():
    """Independent reference: Optuna's own _FanovaTree traversal evaluates the 2-d marginal
    (itertools.product over both parameters' split midpoints); V_ij = V(a_ij) - V_i - V_j."""
    rng = np.random.default_rng(5)
    X = rng.random((80, 3))
    y = np.sin(6 * X[:, 0]) * X[:, 1] + X[:, 2] + 0.05 * rng.normal(size=80)
    bounds = np.array([[0.0, 1.0]] * 3)
    groups = [np.array([0]), np.array([1]), np.array([2])]
    marg, pair, _ = imp.fanova(X, y, bounds, groups, n_trees=4, seed=2, n_jobs=1)
    forest = RandomForestRegressor(n_estimators=4, max_depth=64, min_samples_split=2, min_samples_leaf=1,
                                   random_state=2).fit(X, y)
    for t, est in enumerate(forest.estimators_):
        tree = _FanovaTree(est.tree_, bounds)
        v = [tree.get_marginal_variance(np.array([i])) for i in range(3)]
        np.testing.assert_allclose(marg[t], np.array(v) / tree.variance, rtol=1e-8, atol=1e-14)
        for i, j in itertools.combinations(range(3), 2):
            ref = max(tree.get_marginal_variance(np.array([i, j])) - v[i] - v[j], 0.0) / tree.variance
            assert pair[t, i, j] == pytest.approx(ref, rel=1e-7, abs=1e-12)
            assert pair[t, j, i] == pair[t, i, j]


def test_pairwise_with_one_hot_categorical_matches_optuna_tree_code():
    study = _random_study(60, seed=2)
    data = load(study)
    order = ["bs", "lr", "opt", "x"]
    enc = imp.encode(data.params()[order], {n: data.distributions[n] for n in order}, "optuna")
    y = data.trials["value_0"].to_numpy()
    marg, pair, _ = imp.fanova(enc.X, y, enc.bounds, enc.groups, n_trees=2, seed=0, n_jobs=1)
    forest = RandomForestRegressor(n_estimators=2, max_depth=64, random_state=0).fit(enc.X, y)
    for t, est in enumerate(forest.estimators_):
        tree = _FanovaTree(est.tree_, enc.bounds)
        v = [tree.get_marginal_variance(g) for g in enc.groups]
        i, j = 1, 2  # lr (1 column) x opt (3 one-hot columns)
        ref = max(tree.get_marginal_variance(np.concatenate([enc.groups[i], enc.groups[j]])) - v[i] - v[j], 0)
        assert pair[t, i, j] == pytest.approx(ref / tree.variance, rel=1e-7, abs=1e-12)


def test_analytic_product_function():
    """f = x1 * x2 on the unit square: V1 = V2 = 1/48, V12 = 1/144, total 7/144."""
    rng = np.random.default_rng(0)
    X = rng.random((3000, 2))
    params = pd.DataFrame(X, columns=["a", "b"])
    dist = {k: FloatDistribution(0, 1) for k in "ab"}
    t = imp.fanova_importances(params, X[:, 0] * X[:, 1], dist, n_trees=16, seed=0)
    m = t.set_index("param")["importance"]
    assert m["a"] == pytest.approx(3 / 7, abs=0.03)
    assert m["b"] == pytest.approx(3 / 7, abs=0.03)
    assert m["a × b"] == pytest.approx(1 / 7, abs=0.03)


def test_ishigami_first_order_and_the_x1_x3_interaction():
    """Ishigami (a=7, b=0.1): S = (0.3139, 0.4424, 0); the only interaction is S13 = 0.2437.

    Fully grown trees represent the additive sin² term with boxes, so main effects converge from
    below as trials grow (x2: 0.37 at 4,000 random trials, 0.405 at 10,000)."""
    rng = np.random.default_rng(1)
    X = rng.uniform(-np.pi, np.pi, (10000, 3))
    y = np.sin(X[:, 0]) + 7 * np.sin(X[:, 1]) ** 2 + 0.1 * X[:, 2] ** 4 * np.sin(X[:, 0])
    params = pd.DataFrame(X, columns=["x1", "x2", "x3"])
    dist = {k: FloatDistribution(-np.pi, np.pi) for k in params}
    t = imp.fanova_importances(params, y, dist, n_trees=8, seed=0).set_index("param")
    assert t.loc["x1", "importance"] == pytest.approx(0.3139, abs=0.05)
    assert t.loc["x2", "importance"] == pytest.approx(0.4424, abs=0.05)
    assert t.loc["x3", "importance"] < 0.03  # no main effect: fANOVA hides it
    assert t.loc["x1 × x3", "importance"] == pytest.approx(0.2437, abs=0.05)
    assert t.loc["x1 × x2", "importance"] < 0.03 and t.loc["x2 × x3", "importance"] < 0.03
    assert (t["std"] > 0).all()
    assert set(t["estimand"]) == {imp.FANOVA_MARGINAL, imp.FANOVA_PAIRWISE}


def test_pair_budget_uses_fewer_trees_of_the_same_forest():
    study = _random_study(200, seed=4)
    full = _ours(study, encoding="hpablate", n_trees=16)
    cut = _ours(study, encoding="hpablate", n_trees=16, pair_cell_budget=1.0)
    assert (cut[cut.kind == "pairwise"]["n_trees"] == 8).all()
    pd.testing.assert_frame_equal(full[full.kind == "marginal"], cut[cut.kind == "marginal"])


def test_ped_anova_equals_optunas_evaluator():
    study = _random_study(300, seed=6, fail_every=11)
    data = load(study)
    done = data.trials[data.trials.state == "COMPLETE"]
    ours = imp.ped_anova_importances(data.params().loc[done.index], done["value_0"].to_numpy(), data.distributions)
    ref = optuna.importance.PedAnovaImportanceEvaluator().evaluate(study)
    got = ours.set_index("param")["importance"]
    for k, v in ref.items():
        assert got[k] == pytest.approx(v, rel=1e-9, abs=1e-15)
    assert (ours["estimand"] == imp.PED_ANOVA_ESTIMAND).all()


def test_morris_matches_salib():
    from SALib.analyze import morris as salib_analyze
    from SALib.sample import morris as salib_sample

    names = ["lr", "x", "n", "w"]
    problem = {"num_vars": 4, "names": names, "bounds": [[0.0, 1.0]] * 4}
    U = salib_sample.sample(problem, N=12, num_levels=4, seed=3)
    Y = 3 * U[:, 0] + U[:, 1] ** 2 + U[:, 0] * U[:, 2] * 4 + 0.0 * U[:, 3]
    space = {"version": 1, "params": [
        {"kind": "float", "name": "lr", "low": 1e-4, "high": 1e-1, "log": True, "step": None, "baseline": 1e-2, "levels": [1e-2]},
        {"kind": "float", "name": "x", "low": -1.0, "high": 1.0, "log": False, "step": None, "baseline": 0.0, "levels": [0.0]},
        {"kind": "int", "name": "n", "low": 0, "high": 9, "log": False, "step": 1, "baseline": 3, "levels": [3]},
        {"kind": "float", "name": "w", "low": 0.0, "high": 1.0, "log": False, "step": None, "baseline": 0.5, "levels": [0.5]},
    ]}
    dist = {"lr": FloatDistribution(1e-4, 1e-1, log=True), "x": FloatDistribution(-1, 1), "n": IntDistribution(0, 9),
            "w": FloatDistribution(0, 1)}
    study = optuna.create_study()
    study.set_user_attr("hpablate.space", json.dumps(space))
    study.set_user_attr("hpablate.design", "morris")
    for row, (u, yv) in enumerate(zip(U, Y)):
        lr = float(np.exp(np.log(1e-4) + u[0] * (np.log(1e-1) - np.log(1e-4))))
        p = {"lr": min(max(lr, 1e-4), 1e-1), "x": float(-1 + 2 * u[1]),
             "n": int(round(9 * u[2])), "w": float(u[3])}
        study.add_trial(optuna.trial.create_trial(
            params=p, distributions=dist, value=float(yv),
            user_attrs={"hpablate.design": "morris", "hpablate.varied": [], "hpablate.level": None,
                        "hpablate.slot": row, "hpablate.replicate": 0, "hpablate.seed": row,
                        "hpablate.trajectory": row // 5, "hpablate.step": row % 5}))
    report = hpablate.analyze(study)
    ref = salib_analyze.analyze(problem, U, Y, num_resamples=2000, conf_level=0.95, seed=1)
    m = report.morris.set_index("param")
    for k, name in enumerate(names):
        assert m.loc[name, "mu"] == pytest.approx(ref["mu"][k], rel=1e-9, abs=1e-12)
        assert m.loc[name, "mu_star"] == pytest.approx(ref["mu_star"][k], rel=1e-9, abs=1e-12)
        assert m.loc[name, "sigma"] == pytest.approx(ref["sigma"][k], rel=1e-9, abs=1e-12)
        if ref["mu_star_conf"][k] > 1e-9:  # bootstrap: same estimator, different resamples
            assert m.loc[name, "mu_star_conf"] == pytest.approx(ref["mu_star_conf"][k], rel=0.25)
        assert m.loc[name, "mu_star_lo"] <= m.loc[name, "mu_star"] <= m.loc[name, "mu_star_hi"]
    mi = report.importances[report.importances.method.str.startswith("Morris")]
    assert (mi["estimand"] == imp.MORRIS_ESTIMAND).all()
    assert any("total-order" in n for n in report.notes)


def test_every_importance_row_names_its_estimand():
    study = _random_study(120, seed=8)
    r = hpablate.analyze(study)
    assert r.importances["estimand"].notna().all() and (r.importances["estimand"] != "").all()
    assert {"fANOVA", "PED-ANOVA"} <= set(r.importances["method"].str.split(" ").str[0])


def test_constant_objective_is_reported_not_crashing():
    study = optuna.create_study()
    for i in range(10):
        study.add_trial(optuna.trial.create_trial(params={"x": i / 10}, distributions={"x": FloatDistribution(0, 1)},
                                                  value=1.0))
    r = hpablate.analyze(study)
    assert r.importances[r.importances.method.str.startswith("fANOVA")].empty
    assert any("non-constant objective" in n for n in r.notes)


def test_log_scaled_parameters_are_analysed_in_log_space():
    """f = 1[lr > 0.01] + x, lr log-uniform on [1e-4, 0.1], x uniform on [0, 1].

    Uniform measure in log space (hpablate): V_lr = 1/3 * 2/3, fraction 0.2222 / (0.2222 + 1/12) = 0.727.
    Raw scale (Optuna's encoding): P(lr > 0.01) = 0.0900 / 0.0999, fraction 0.0901 / (0.0901 + 1/12) = 0.520.
    """
    rng = np.random.default_rng(0)
    lr = np.exp(rng.uniform(math.log(1e-4), math.log(1e-1), 3000))
    x = rng.random(3000)
    params = pd.DataFrame({"lr": lr, "x": x})
    dist = {"lr": FloatDistribution(1e-4, 1e-1, log=True), "x": FloatDistribution(0, 1)}
    y = (lr > 0.01) + x
    p_raw = 0.09 / 0.0999
    v_raw = p_raw * (1 - p_raw)
    ours = imp.fanova_importances(params, y, dist, n_trees=16, encoding="hpablate").set_index("param")
    raw = imp.fanova_importances(params, y, dist, n_trees=16, encoding="optuna").set_index("param")
    assert ours.loc["lr", "importance"] == pytest.approx((2 / 9) / (2 / 9 + 1 / 12), abs=0.03)
    assert raw.loc["lr", "importance"] == pytest.approx(v_raw / (v_raw + 1 / 12), abs=0.05)


def test_morris_with_two_replicates_matches_salib_on_the_same_points():
    """A Morris plan draws new trajectories in each replicate and numbers them from 0 in each:
    a trajectory is a (replicate, trajectory) pair, so mu* equals SALib's on all the points."""
    from SALib.analyze import morris as salib_analyze
    from SALib.sample import morris as salib_sample

    names = ["a", "b", "c"]
    problem = {"num_vars": 3, "names": names, "bounds": [[0.0, 1.0]] * 3}
    U = salib_sample.sample(problem, N=16, num_levels=4, seed=5)  # 16 trajectories of 4 points
    Y = 2 * U[:, 0] + 5 * U[:, 1] * U[:, 2] + U[:, 2] ** 2
    space = hpablate.SearchSpace(*[hpablate.Float(n, 0.0, 1.0) for n in names])
    dist = space.to_distributions()
    study = optuna.create_study()
    study.set_user_attr("hpablate.space", space.to_json())
    study.set_user_attr("hpablate.design", "morris")
    for row, (u, yv) in enumerate(zip(U, Y)):
        traj = row // 4
        study.add_trial(optuna.trial.create_trial(
            params={n: float(v) for n, v in zip(names, u)}, distributions=dist, value=float(yv),
            user_attrs={"hpablate.design": "morris", "hpablate.slot": row, "hpablate.replicate": traj // 8,
                        "hpablate.seed": traj // 8, "hpablate.trajectory": traj % 8, "hpablate.step": row % 4}))
    m = hpablate.analyze(study).morris.set_index("param")
    ref = salib_analyze.analyze(problem, U, Y, num_resamples=100, seed=1)
    for k, name in enumerate(names):
        assert m.loc[name, "n_effects"] == 16
        assert m.loc[name, "mu"] == pytest.approx(ref["mu"][k], rel=1e-9, abs=1e-12)
        assert m.loc[name, "mu_star"] == pytest.approx(ref["mu_star"][k], rel=1e-9, abs=1e-12)
        assert m.loc[name, "sigma"] == pytest.approx(ref["sigma"][k], rel=1e-9, abs=1e-12)
