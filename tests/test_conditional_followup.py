"""Conditional spaces, follow-up of issue 12: interaction tables, grids, Morris, Sobol, study-wide fANOVA.

Every number is checked against an independent reference computed here from the raw trials:
statsmodels' ``ols`` + ``anova_lm(typ=2)`` on the within-branch rows, a hand computation of Morris
elementary effects over the valid steps, and closed-form Sobol indices.
"""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from statsmodels.stats.anova import anova_lm

import hpablate as hp
from hpablate.record import REPLICATE_ATTR

optuna.logging.set_verbosity(optuna.logging.WARNING)

DISTS = {
    "optimizer": optuna.distributions.CategoricalDistribution(["sgd", "adam"]),
    "lr": optuna.distributions.FloatDistribution(1e-3, 1e-1, log=True),
    "momentum": optuna.distributions.FloatDistribution(0.0, 0.99),
    "beta1": optuna.distributions.FloatDistribution(0.8, 0.99),
}


def _statsmodels(frame: pd.DataFrame, formula: str) -> pd.DataFrame:
    return anova_lm(smf.ols(formula, data=frame).fit(), typ=2)


def _assert_rows_equal(ours: pd.DataFrame, ref: pd.DataFrame, terms: dict[str, str]) -> None:
    ours = ours.set_index("term")
    for term, rterm in terms.items():
        assert ours.loc[term, "df"] == ref.loc[rterm, "df"]
        assert ours.loc[term, "sum_sq"] == pytest.approx(ref.loc[rterm, "sum_sq"], rel=1e-8)
        if term != "Residual":
            assert ours.loc[term, "F"] == pytest.approx(ref.loc[rterm, "F"], rel=1e-8)
            assert ours.loc[term, "p_value"] == pytest.approx(ref.loc[rterm, "PR(>F)"], rel=1e-6, abs=1e-300)


# ----------------------------------------------------------------------------- binned, plain Optuna
@pytest.fixture(scope="module")
def plain() -> tuple[optuna.Study, pd.DataFrame]:
    """Define-by-run: momentum only under SGD, beta1 only under Adam; lr × momentum interact under SGD."""
    rng = np.random.default_rng(11)
    study = optuna.create_study(direction="maximize")
    rows = []
    for _ in range(240):
        p = {"optimizer": str(rng.choice(["sgd", "adam"])), "lr": float(np.exp(rng.uniform(np.log(1e-3), np.log(1e-1))))}
        if p["optimizer"] == "sgd":
            p["momentum"] = float(rng.uniform(0, 0.99))
        else:
            p["beta1"] = float(rng.uniform(0.8, 0.99))
        y = -2.0 * (p["optimizer"] == "adam") + 3.0 * p.get("momentum", 0.0) * (np.log10(p["lr"]) + 2) \
            + rng.normal(scale=0.3)
        study.add_trial(optuna.trial.create_trial(params=p, distributions={k: DISTS[k] for k in p}, value=float(y)))
        rows.append({**p, "y": float(y)})
    return study, pd.DataFrame(rows)


def test_binned_pair_uses_only_the_trials_holding_both(plain):
    study, raw = plain
    r = hp.analyze(study, ped_anova=False, n_trees=8)
    it = r.interactions
    sgd = raw[raw["optimizer"] == "sgd"]
    ref = _statsmodels(pd.DataFrame({"a": pd.qcut(sgd["lr"], 4).cat.codes.to_numpy(),
                                     "b": pd.qcut(sgd["momentum"], 4).cat.codes.to_numpy(), "y": sgd["y"].to_numpy()}),
                       "y ~ C(a) * C(b)")
    ours = it[(it["param_a"] == "lr") & (it["param_b"] == "momentum")]
    assert set(ours["branch"]) == {"optimizer=sgd"} and set(ours["n"]) == {len(sgd)}
    _assert_rows_equal(ours, ref, {"lr": "C(a)", "momentum": "C(b)", "lr × momentum": "C(a):C(b)",
                                   "Residual": "Residual"})
    beta = it[(it["param_a"] == "lr") & (it["param_b"] == "beta1")]
    assert set(beta["branch"]) == {"optimizer=adam"} and set(beta["n"]) == {int((raw["optimizer"] == "adam").sum())}
    # a pair that never meets, and a child with the parent its branch fixes, have no row
    pairs = set(zip(it["param_a"], it["param_b"]))
    assert ("momentum", "beta1") not in pairs and ("beta1", "momentum") not in pairs
    assert ("optimizer", "momentum") not in pairs and ("optimizer", "beta1") not in pairs
    assert set(it.loc[(it["param_a"] == "optimizer") & (it["param_b"] == "lr"), "branch"]) == {""}
    # absence is never a level, in any table
    for t in [*r.interaction_tables.values(), *r.interaction_counts.values()]:
        assert "(absent)" not in map(str, t.index) and "(absent)" not in map(str, t.columns)
    mt = r.marginal_tables["momentum"]
    assert "(absent)" not in set(mt["bin"]) and mt["n"].sum() == len(sgd)
    means = sgd.groupby(pd.qcut(sgd["momentum"], 4), observed=True)["y"].mean().to_numpy()
    np.testing.assert_allclose(mt["mean"].to_numpy(), means, rtol=1e-12)
    counts = r.interaction_counts["lr × momentum"]
    assert counts.to_numpy().sum() == len(sgd)
    # the truth: the interaction is lr × momentum, under SGD
    assert any(s.startswith("Strongest interaction (binned, within optimizer=sgd): lr × momentum") for s in r.summary)
    assert any("a parameter's absence is never a level" in n for n in r.notes)


# ----------------------------------------------------------------------------- grid on a conditional space
GRID_SPACE = hp.SearchSpace(
    hp.Categorical("optimizer", ["sgd", "adam"], baseline="adam"),
    hp.Float("lr", 1e-3, 1e-1, log=True, baseline=1e-2, levels=[1e-3, 1e-2, 1e-1]),
    hp.Float("momentum", 0.0, 0.9, baseline=0.5, levels=[0.0, 0.5, 0.9], when={"optimizer": "sgd"}),
    hp.Float("beta1", 0.8, 0.95, baseline=0.9, levels=[0.8, 0.9, 0.95], when={"optimizer": "adam"}),
)


def grid_objective(trial: optuna.Trial) -> float:
    c = GRID_SPACE.suggest(trial)
    seed = hp.trial_seed(trial)
    noise = np.random.default_rng(seed).normal() + np.random.default_rng([seed, trial.number]).normal(scale=0.3)
    return float(noise + 0.3 * (c["optimizer"] == "sgd") + 2.0 * c.get("momentum", 0.0) * np.log10(c["lr"]))


@pytest.fixture(scope="module")
def grid_study() -> tuple[optuna.Study, pd.DataFrame]:
    sampler = hp.GridCombinationSampler(GRID_SPACE, groups=[("optimizer", "lr", "momentum")], repeats=3)
    study = hp.create_study(GRID_SPACE, sampler, direction="maximize")
    hp.run(study, grid_objective)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    raw = pd.DataFrame([{**t.params, "y": t.value, "rep": t.user_attrs[REPLICATE_ATTR]} for t in done])
    return study, raw


def test_grid_tables_cover_only_valid_cells(grid_study):
    study, raw = grid_study
    r = hp.analyze(study, ped_anova=False, n_trees=8)
    it = r.interactions
    assert set(zip(it["param_a"], it["param_b"])) == {("optimizer", "lr"), ("lr", "momentum")}  # no optimizer × momentum
    # lr × momentum: the 9 SGD cells, replicate as a block
    sgd = raw[raw["optimizer"] == "sgd"]
    ref = _statsmodels(sgd.assign(rep=sgd["rep"].astype(str)), "y ~ C(lr) * C(momentum) + C(rep)")
    ours = it[(it["param_a"] == "lr") & (it["param_b"] == "momentum")]
    assert set(ours["branch"]) == {"optimizer=sgd"} and set(ours["n"]) == {27} and set(ours["min_cell_n"]) == {3}
    _assert_rows_equal(ours, ref, {"lr": "C(lr)", "momentum": "C(momentum)", "lr × momentum": "C(lr):C(momentum)",
                                   "replicate (block)": "C(rep)", "Residual": "Residual"})
    # optimizer × lr: Adam cells and the SGD cells with momentum held at its baseline
    held = raw[(raw["optimizer"] == "adam") | (raw["momentum"] == 0.5)]
    assert len(held) == 18
    ref = _statsmodels(held.assign(rep=held["rep"].astype(str)), "y ~ C(optimizer) * C(lr) + C(rep)")
    ours = it[(it["param_a"] == "optimizer") & (it["param_b"] == "lr")]
    assert set(ours["branch"]) == {""} and set(ours["n"]) == {18}
    _assert_rows_equal(ours, ref, {"optimizer": "C(optimizer)", "lr": "C(lr)", "optimizer × lr": "C(optimizer):C(lr)",
                                   "Residual": "Residual"})
    # the tables hold the valid cells only, means as pandas computes them
    table = r.interaction_tables["optimizer × lr"]
    expect = held.pivot_table(index="optimizer", columns="lr", values="y", aggfunc="mean")
    np.testing.assert_allclose(table.loc[["adam", "sgd"]].to_numpy(), expect.loc[["adam", "sgd"]].to_numpy(), rtol=1e-12)
    assert "optimizer × momentum" not in r.interaction_tables
    note = next(n for n in r.notes if n.startswith("Grid on a conditional space"))
    assert "optimizer × lr: 6 cells (momentum at 0.5 or absent)" in note
    assert "lr × momentum: 9 cells (within optimizer=sgd)" in note and "optimizer × momentum: no table" in note
    assert any(s.startswith("Strongest interaction (grid, within optimizer=sgd): lr × momentum") for s in r.summary)


def test_grid_of_a_branch_group_uses_the_branch_cells():
    """A group whose members live under optimizer=sgd: its cells have optimizer=sgd, never the baseline's adam."""
    sampler = hp.GridCombinationSampler(GRID_SPACE, groups=[("lr", "momentum")], repeats=2)
    study = hp.create_study(GRID_SPACE, sampler, direction="maximize")
    hp.run(study, grid_objective)
    raw = pd.DataFrame([{**t.params, "y": t.value, "rep": t.user_attrs[REPLICATE_ATTR]} for t in study.trials])
    sgd = raw[raw["optimizer"] == "sgd"]
    it = hp.analyze(study, ped_anova=False, n_trees=8).interactions
    assert set(it["branch"]) == {"optimizer=sgd"} and set(it["n"]) == {len(sgd)} == {18}
    ref = _statsmodels(sgd.assign(rep=sgd["rep"].astype(str)), "y ~ C(lr) * C(momentum) + C(rep)")
    _assert_rows_equal(it, ref, {"lr": "C(lr)", "momentum": "C(momentum)", "lr × momentum": "C(lr):C(momentum)",
                                 "Residual": "Residual"})


# ----------------------------------------------------------------------------- Morris
MORRIS_SPACE = hp.SearchSpace(
    hp.Categorical("optimizer", ["sgd", "adam"], baseline="adam"),
    hp.Float("x", 0.0, 1.0, baseline=0.5),
    hp.Float("momentum", 0.0, 0.9, baseline=0.5, when={"optimizer": "sgd"}),
    hp.Categorical("nesterov", [False, True], baseline=False, when={"optimizer": "sgd"}),
)
# unit scale by hand: what one unit of each parameter's normalised range is
HAND_UNIT = {"optimizer": {"sgd": 0.0, "adam": 1.0}.__getitem__, "x": float, "momentum": lambda v: v / 0.9,
             "nesterov": {False: 0.0, True: 1.0}.__getitem__}


def morris_objective(trial: optuna.Trial) -> float:
    """Linear within the SGD branch: momentum's elementary effect is 4 * 0.9, nesterov's 0.5, x's 1."""
    c = MORRIS_SPACE.suggest(trial)
    sgd = c["optimizer"] == "sgd"
    return float(c["x"] + sgd * (1.0 + 4.0 * c.get("momentum", 0.0) + 0.5 * c.get("nesterov", False)))


def _hand_effects(study: optuna.Study) -> dict[str, list[float]]:
    """Elementary effects by hand: consecutive points of a trajectory, the one parameter present on both sides
    that changed (children appearing or disappearing with a parent's switch belong to the parent's step)."""
    pts = sorted(((t.user_attrs["hpablate.replicate"], t.user_attrs["hpablate.trajectory"], t.user_attrs["hpablate.step"],
                   t.params, t.value) for t in study.trials if "hpablate.trajectory" in t.user_attrs),
                 key=lambda p: p[:3])
    out: dict[str, list[float]] = {n: [] for n in HAND_UNIT}
    for (r0, t0, _, p0, y0), (r1, t1, _, p1, y1) in zip(pts, pts[1:]):
        if (r0, t0) != (r1, t1):
            continue
        moved = [n for n in p0 if n in p1 and p0[n] != p1[n]]
        if len(moved) == 1:
            n = moved[0]
            out[n].append((y1 - y0) / (HAND_UNIT[n](p1[n]) - HAND_UNIT[n](p0[n])))
    return out


def test_morris_child_effects_come_only_from_steps_where_it_exists():
    study = hp.create_study(MORRIS_SPACE, hp.MorrisSampler(MORRIS_SPACE, trajectories=16, repeats=1),
                            direction="maximize")
    hp.run(study, morris_objective)
    r = hp.analyze(study, ped_anova=False, n_trees=8)
    m = r.morris.set_index("param")
    hand = _hand_effects(study)
    assert len(hand["optimizer"]) > 0 and len(hand["momentum"]) > 0 and len(hand["nesterov"]) > 0
    for name, ee in hand.items():
        assert m.loc[name, "n_effects"] == len(ee)
        assert m.loc[name, "mu_star"] == pytest.approx(np.mean(np.abs(ee)), rel=1e-9)
        assert m.loc[name, "mu"] == pytest.approx(np.mean(ee), rel=1e-9)
    # the truth within the branch (linear): every effect of momentum is 3.6, of nesterov 0.5, of x 1
    assert m.loc["momentum", "mu_star"] == pytest.approx(3.6, rel=1e-9)
    assert m.loc["nesterov", "mu_star"] == pytest.approx(0.5, rel=1e-9)
    assert m.loc["x", "mu_star"] == pytest.approx(1.0, rel=1e-9)
    # the parent's switch carries the children's contribution: |1 + 4 m + 0.5 n| >= 1 at every switch
    assert min(np.abs(hand["optimizer"])) >= 1.0 - 1e-12
    assert any("Morris on a conditional space" in n for n in r.notes)


# ----------------------------------------------------------------------------- Sobol
SOBOL_SPACE = hp.SearchSpace(
    hp.Categorical("optimizer", ["sgd", "adam"], baseline="adam"),
    hp.Float("x", 0.0, 1.0),
    hp.Float("momentum", 0.0, 1.0, when={"optimizer": "sgd"}),
)


def sobol_objective(trial: optuna.Trial) -> float:
    c = SOBOL_SPACE.suggest(trial)
    return float(c["x"] + 4.0 * (c["optimizer"] == "sgd") * c.get("momentum", 0.0))


def _closed_form() -> dict[tuple[str, str], float]:
    """f = x + 4 B m, B = [optimizer = sgd] ~ Bernoulli(1/2), x, m ~ U(0, 1) (m ignored where B = 0)."""
    v_x, v_b = 1 / 12, 16 * 0.25 * 0.25  # Var(E[f|B]) = Var(2 B) = 1
    v_m = 16 * 0.25 / 12  # Var(E[f|m]) = Var(2 m) = 1/3
    v_bm = 16 * (0.5 / 3) - (4 * 0.25) ** 2 - v_b - v_m  # Var(4 B m) - the main effects = 1/3
    total = v_x + v_b + v_m + v_bm
    return {("first", "x"): v_x / total, ("first", "optimizer"): v_b / total, ("first", "momentum"): v_m / total,
            ("total", "x"): v_x / total, ("total", "optimizer"): (v_b + v_bm) / total,
            ("total", "momentum"): (v_m + v_bm) / total}


def test_sobol_on_a_conditional_space_estimates_the_indices_of_f_of_active_x():
    study = hp.create_study(SOBOL_SPACE, hp.SobolSampler(SOBOL_SPACE, n=512, repeats=1), direction="maximize")
    hp.run(study, sobol_objective)
    assert all(("momentum" in t.params) == (t.params["optimizer"] == "sgd") for t in study.trials)
    r = hp.analyze(study, ped_anova=False, n_trees=8)
    table = r.sobol.set_index(["order", "param"])
    for key, truth in _closed_form().items():
        row = table.loc[key]
        assert row["ci_low"] - 0.01 <= truth <= row["ci_high"] + 0.01, (key, truth, row["index"])
        assert row["index"] == pytest.approx(truth, abs=0.05)
    assert all(e.endswith("inactive parameters ignored") for e in r.sobol["estimand"])
    assert any(n.startswith("Sobol indices on a conditional space") for n in r.notes)


# ----------------------------------------------------------------------------- study-wide fANOVA
def test_study_wide_fanova_leaves_conditional_parameters_out_and_says_so(plain):
    study, raw = plain
    r = hp.analyze(study, ped_anova=False, n_trees=16, seed=3, encoding="optuna")
    fan = r.importances[r.importances["method"].str.startswith("fANOVA") & (r.importances["kind"] == "marginal")]
    assert set(fan["param"]) == {"optimizer", "lr"}  # present in every trial; nothing imputed
    assert all("conditional ones left out, not imputed" in e for e in fan["estimand"])
    ref = optuna.importance.FanovaImportanceEvaluator(n_trees=16, seed=3).evaluate(study)
    assert set(ref) == {"optimizer", "lr"}
    mine = fan.set_index("param")["importance"]
    for k, v in ref.items():
        assert mine[k] == pytest.approx(v, rel=1e-7, abs=1e-12)
    assert any("imputes nothing" in n for n in r.notes)
    # the per-branch rows stay: momentum within optimizer=sgd
    b = r.branch_importances
    assert ((b["branch"] == "optimizer=sgd") & (b["param"] == "momentum")).any()
