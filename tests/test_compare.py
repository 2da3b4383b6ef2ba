"""hpablate.compare: metrics vs scipy, importances vs SALib/analytic values, runs, resume, CLI."""

from __future__ import annotations

import math
import warnings

import numpy as np
import optuna
import pandas as pd
import pytest
from scipy import stats

import hpablate as hp
from hpablate.cli import main
from hpablate.comparison import ComparisonReport, important_count, kendall_tau, top_k_agreement
from hpablate.comparison._designs import far_target, method_seed, plan_for_budget, sequential_sampler
from hpablate.comparison._importance import grid_importance, method_input, morris_importance, oat_importance
from hpablate.errors import SpaceError, UnknownParameterError
from hpablate.testing import ishigami, sobol_g

optuna.logging.set_verbosity(optuna.logging.WARNING)
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


# ---- metrics ------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(8))
def test_kendall_tau_matches_scipy_tau_b_with_ties(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 12))
    x = rng.integers(0, 4, n).astype(float)
    y = rng.integers(0, 5, n).astype(float)
    ref = stats.kendalltau(x, y).statistic
    ours = kendall_tau(x, y)
    assert (math.isnan(ref) and math.isnan(ours)) or ours == pytest.approx(ref, abs=1e-12)


def test_kendall_tau_undefined_cases():
    assert math.isnan(kendall_tau([1, 1, 1], [1, 2, 3]))
    assert math.isnan(kendall_tau([1.0], [2.0]))
    assert math.isnan(kendall_tau([1, np.nan, 2], [1, 2, 3]))
    assert kendall_tau([3, 2, 1], [1, 2, 3]) == -1.0


def test_important_count_cuts_at_largest_ratio():
    g = sobol_g()
    assert important_count(g.total_order) == 4 and important_count(g.first_order) == 4
    f = ishigami(n_dummy=2)
    assert important_count(f.first_order) == 2 and important_count(f.total_order) == 3
    assert important_count({"a": 0.0, "b": 0.0}) == 0


def test_top_k_ties_are_broken_against_the_estimate():
    ref = {"a": 0.9, "b": 0.5, "c": 0.0, "d": 0.0}
    assert top_k_agreement({"a": 1, "b": 0, "c": 0, "d": 0}, ref, 2) == 0.5  # b tied with c, d: no credit
    assert top_k_agreement({"a": 1, "b": 0.1, "c": 0, "d": 0}, ref, 2) == 1.0
    assert top_k_agreement({"a": 0, "b": 1, "c": 2, "d": 0}, ref, 2) == 0.5


# ---- budgets ------------------------------------------------------------------------------------
@pytest.mark.parametrize("budget", [12, 20, 33, 50, 97, 400])
@pytest.mark.parametrize("method", ["oat", "grid", "morris"])
def test_plans_fit_the_budget(method, budget):
    f = sobol_g()
    choice = plan_for_budget(method, f.space, budget, seed=0)
    if choice.sampler is None:
        assert choice.n_trials == 0 and "too small" in choice.spend
        return
    assert choice.sampler.n_slots == choice.n_trials <= budget
    if method == "morris":
        assert choice.n_trials == 1 + (budget - 1) // 9 * 9
    if method == "oat" and budget >= 33:  # space levels: baseline + 8 x 4 other levels
        assert choice.n_trials == (budget // 33) * 33


# ---- importances against independent references -------------------------------------------------
def _run(space, sampler, fn):
    study = hp.create_study(space, sampler)
    hp.run(study, lambda t: fn(space.suggest(t)))
    return study, method_input(study.trials, study.user_attrs, "minimize", space.names)


def _table(inp):
    """Parameters, ``value`` and the trial record (``trajectory``, ``step`` …) of the trials."""
    return inp.params.assign(value=inp.y).join(inp.record)


def test_oat_importance_is_largest_abs_effect_from_baseline():
    space = hp.SearchSpace(*[hp.Float(n, 0.0, 1.0, baseline=0.5) for n in ("a", "b", "c")])
    _, inp = _run(space, hp.OneAtATimeSampler(space, repeats=1), lambda c: 3 * c["a"] - 2 * c["b"] ** 2)
    imp = oat_importance(inp, space)
    assert imp["a"] == pytest.approx(1.5) and imp["b"] == pytest.approx(2 * (1 - 0.25)) and imp["c"] == 0


def test_morris_mu_star_matches_salib():
    from SALib.analyze import morris as salib_morris

    f = ishigami()
    space = f.space
    study, inp = _run(space, hp.MorrisSampler(space, trajectories=12, levels=4, seed=3), f)
    imp = morris_importance(inp, space)
    df = _table(inp)
    traj = df[df["trajectory"].notna()].sort_values(["trajectory", "step"])
    X = np.column_stack([[space.to_unit(n, v) for v in traj[n]] for n in space.names])
    problem = {"num_vars": 3, "names": space.names, "bounds": [[0.0, 1.0]] * 3}
    ref = salib_morris.analyze(problem, X, traj["value"].to_numpy(), num_levels=4, num_resamples=10, seed=0)
    np.testing.assert_allclose([imp[n] for n in space.names], ref["mu_star"], rtol=1e-9)


def test_grid_importance_is_mean_variance_along_axis():
    levels = [0.0, 0.5, 1.0]
    space = hp.SearchSpace(*[hp.Float(n, 0.0, 1.0, baseline=0.5, levels=levels) for n in ("x1", "x2", "x3")])
    groups = [["x1", "x2"], ["x3"]]
    _, inp = _run(space, hp.GridCombinationSampler(space, groups=groups, repeats=2),
                 lambda c: c["x1"] * c["x2"] + 2 * c["x3"])
    imp = grid_importance(inp, space, groups)
    l = np.array(levels)
    assert imp["x1"] == pytest.approx(l.var() * np.mean(l**2))  # Var_x1(x1 x2) averaged over x2
    assert imp["x2"] == pytest.approx(imp["x1"])
    assert imp["x3"] == pytest.approx(4 * l.var())


# ---- compare end to end -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def g_report():
    f = sobol_g()
    return f, hp.compare(f.objective, f.space, budgets=[20, 40], methods=["oat", "morris", "grid", "random", "tpe", "qmc"],
                         repeats=2, truth=f, n_trees=16)


def test_compare_results_against_scipy_and_truth(g_report):
    f, report = g_report
    assert isinstance(report, ComparisonReport)
    res = report.results
    assert len(res) == 6 * 2 * 2 and (res["n_trials"] <= res["budget"]).all() and (res["n_trials"] > 0).all()
    for r in res.itertuples():
        ref = f.total_order if r.method in ("oat", "morris", "grid") else f.first_order
        assert r.reference == ("total" if r.method in ("oat", "morris", "grid") else "first")
        est = [r.importances[n] for n in f.names]
        assert r.kendall_tau == pytest.approx(stats.kendalltau(est, [ref[n] for n in f.names]).statistic)
    oat = res[res.method == "oat"]
    assert oat["ranking"].str.startswith("x1 > x2 = x3").all() and not oat["top_k_correct"].any()
    assert res[res.method == "morris"]["top_k_correct"].all()  # mu* separates x4 from the a=99 inputs
    s = report.summary
    assert list(s.columns[:3]) == ["method", "budget", "n_trials"] and len(s) == 12
    sb = report.smallest_budget.set_index("method")
    assert sb.loc["morris", "budget"] == 20 and math.isnan(sb.loc["oat", "budget"])


def test_sequential_budgets_are_prefixes_of_a_run_with_the_same_seed(g_report):
    f, report = g_report
    res = report.results
    for method in ("random", "tpe"):
        study = optuna.create_study(sampler=sequential_sampler(method, method_seed(0, method, 1)))
        study.optimize(f.objective, n_trials=20)
        row = res[(res.method == method) & (res.budget == 20) & (res.rep == 1)].iloc[0]
        assert row.best_value == pytest.approx(min(t.value for t in study.trials))


def test_report_outputs(g_report):
    _, report = g_report
    assert set(report.figures) == {"agreement", "top_k", "best_value"}
    page = report.to_html()
    assert page.count("<script") >= 2 and "<script src" not in page
    assert "Smallest budget" in report.to_text() and report.to_markdown().startswith("| method |")
    import json

    data = json.loads(report.to_json())
    assert data["k"] == {"first": 4, "total": 4} and len(data["results"]) == len(report.results)


def test_report_figures_are_figure_data_drawn_by_the_shared_drawers(g_report, tmp_path):
    from hpablate.render.figures import LinesFigureData

    _, report = g_report
    data = report.figure_data
    assert all(isinstance(d, LinesFigureData) for d in data.values())
    s = report.summary[report.summary["n_trials"] > 0]
    tau = data["agreement"]
    for name, x, y, lo, hi in zip(tau.names, tau.x, tau.y, tau.err_minus, tau.err_plus):
        g = s[s["method"] == name].sort_values("n_trials")
        assert x == g["n_trials"].tolist() and y == g["kendall_tau"].tolist()
        assert np.allclose(lo, g["kendall_tau"] - g["tau_q25"]) and np.allclose(hi, g["tau_q75"] - g["kendall_tau"])
    assert tau.names == list(dict.fromkeys(s["method"])) and tau.log_x
    assert [list(f.data[0].y) for f in [report.figures["agreement"]]] == [tau.y[0]]
    paths = report.save_figures(tmp_path, "pdf")
    assert [p.name for p in paths] == ["agreement.pdf", "top_k.pdf", "best_value.pdf"]
    assert all(p.read_bytes().startswith(b"%PDF") for p in paths)


def test_compare_resumes_from_storage(tmp_path):
    f = ishigami(n_dummy=1)
    url = f"sqlite:///{tmp_path / 'c.db'}"
    kw = dict(budgets=[15, 30], methods=["oat", "random"], repeats=1, storage=url, truth=f, study_prefix="t")
    first = hp.compare(f.objective, f.space, **kw)
    names = {s.study_name: s.n_trials for s in optuna.get_all_study_summaries(url)}
    assert set(names) == {"t-oat-15-r0", "t-oat-30-r0", "t-random-r0"} and names["t-random-r0"] == 30
    calls = []
    again = hp.compare(lambda t: calls.append(1) or f.objective(t), f.space, **kw)
    assert calls == []
    pd.testing.assert_frame_equal(first.summary.drop(columns="compute_s"), again.summary.drop(columns="compute_s"))


def test_pooled_reference_and_maximize():
    f = ishigami(n_dummy=1)
    report = hp.compare(lambda t: -f.objective(t), f.space, budgets=[25], methods=["morris", "oat"], repeats=1,
                        direction="maximize")
    ref = report.reference["pooled"]
    assert ref.sum() == pytest.approx(1.0) and ref["x4"] == 0
    assert (report.results["reference"] == "pooled").all()
    study, inp = _run(f.space, plan_for_budget("morris", f.space, 25, method_seed(0, "morris", 0)).sampler,
                      lambda c: -f(c))
    df = _table(inp)
    assert report.results.set_index("method").loc["morris", "best_value"] == pytest.approx(df["value"].max())


def test_gp_runs_its_budget():
    f = ishigami()
    report = hp.compare(f.objective, f.space, budgets=[12], methods=["gp"], repeats=1, truth=f, n_trees=8)
    assert report.results["n_trials"].tolist() == [12]


def test_bad_input():
    f = ishigami()
    with pytest.raises(SpaceError):
        hp.compare(f.objective, f.space, budgets=[10], methods=["fast99"])
    with pytest.raises(UnknownParameterError):
        hp.compare(f.objective, f.space, budgets=[10], methods=["oat"], truth={"x1": 1, "x2": 1, "x3": 0, "y": 1})
    with pytest.raises(SpaceError):
        hp.compare(f.objective, f.space, budgets=[1], methods=["oat"])


def test_cli_compare(tmp_path, capsys):
    path = tmp_path / "g_study.py"
    path.write_text("from hpablate.testing import sobol_g\nf = sobol_g()\n"
                    "space, objective, direction, truth = f.space, f.objective, 'minimize', f\n")
    rc = main(["compare", str(path), "--budgets", "20,40", "--methods", "oat,morris", "--repeats", "1", "-f", "csv"])
    out = capsys.readouterr().out
    assert rc == 0
    table = pd.read_csv(__import__("io").StringIO(out))
    assert table["method"].tolist() == ["oat", "oat", "morris", "morris"] and (table["p_correct"][2:] == 1).all()
    html = tmp_path / "r.html"
    assert main(["compare", str(path), "--budgets", "20", "--methods", "morris", "--repeats", "1",
                 "--html", str(html)]) == 0
    assert html.read_text().startswith("<!DOCTYPE html>")
    assert main(["compare", str(path), "--methods", "nope"]) == 2
    assert "unknown method 'nope'" in capsys.readouterr().err
    assert main(["compare", str(tmp_path / "missing.py")]) == 2


def test_round_off_differences_are_not_effects():
    """Ishigami from 0 with levels ±pi: sin(pi) = 1.2e-16 is no effect, so nothing is ranked by it."""
    f = ishigami()
    space = plan_for_budget("oat", f.space, 10, 0).space  # 3 levels per number: -pi, 0, pi
    _, inp = _run(space, hp.OneAtATimeSampler(space, repeats=1), f)
    assert oat_importance(inp, space) == {"x1": 0.0, "x2": 0.0, "x3": 0.0}


@pytest.mark.parametrize("method", ["random", "tpe"])
def test_on_off_components_under_random_and_tpe(method):
    """Issue 9, item 8: an on/off Component sampled by Optuna came back as numpy bools (KeyError np.True_)."""
    space = hp.SearchSpace(
        hp.Float("lr", 1e-3, 1e-1, log=True, baseline=1e-2),
        hp.Component("dropout", baseline=True),
        hp.Component("norm", choices=["batch", "none"], baseline="batch"),
    )

    def objective(trial):
        cfg = space.suggest(trial)
        return math.log10(cfg["lr"]) + (0.5 if cfg["dropout"] else 0.0) + (0.2 if cfg["norm"] == "batch" else 0.0)

    report = hp.compare(objective, space, budgets=[8], methods=[method], repeats=1, n_trees=8)
    ranked = report.results
    assert len(ranked) == 1 and set(ranked["method"]) == {method}


def _components_objective(space):
    def objective(trial):
        c = space.suggest(trial)
        return 3 * c["a"] + 2 * c["b"] + 1 * c["c"] + 2 * (c["a"] and c["c"]) + 0.01 * (hp.trial_seed(trial) % 3)
    return objective


def test_shapley_and_path_methods_rank_components():
    space = hp.SearchSpace(*[hp.Component(n) for n in "abc"], hp.Float("lr", 0.1, 1.0, baseline=0.5))
    # exact Shapley values: a = 3 + 1, b = 2, c = 1 + 1; lr never moves (a dummy, last)
    report = hp.compare(_components_objective(space), space, budgets=[16], methods=["shapley", "path"], repeats=1,
                        truth={"a": 4.0, "b": 2.0, "c": 2.0, "lr": 0.0}, direction="maximize")
    rows = report.results.set_index("method")
    shapley = rows.loc["shapley", "importances"]
    assert shapley["a"] == pytest.approx(4.0, abs=0.02) and shapley["b"] == pytest.approx(2.0, abs=0.02)
    assert shapley["c"] == pytest.approx(2.0, abs=0.02) and math.isnan(shapley["lr"])
    assert rows.loc["shapley", "spend"] == "8 subsets x 2 repeats"
    path = rows.loc["path", "importances"]
    # greedy path from all-on (8) to all-off (0), keeping the least loss: b off (-2; a -5, c -3),
    # then c off (-3; a would cost -5), then a off (-3)
    assert path["b"] == pytest.approx(2.0, abs=0.02) and path["c"] == pytest.approx(3.0, abs=0.02)
    assert path["a"] == pytest.approx(3.0, abs=0.02)


def test_shapley_method_needs_components_and_path_fits_its_budget():
    f = ishigami()
    none = plan_for_budget("shapley", f.space, 100, 0)
    assert none.sampler is None and "no components" in none.spend
    m = len(f.space.names)
    choice = plan_for_budget("path", f.space, 100, 0)
    assert choice.n_trials == (100 // (1 + m * (m + 1) // 2)) * (1 + m * (m + 1) // 2) <= 100
    assert choice.sampler.target == far_target(f.space)
    assert plan_for_budget("path", f.space, 5, 0).sampler is None


def test_method_seeds_of_existing_methods_are_unchanged():
    # new methods go last in METHODS, so stored compare studies of older methods still resume
    from hpablate.comparison._designs import METHODS
    assert METHODS[:8] == ("oat", "grid", "morris", "sobol", "random", "tpe", "gp", "qmc")


def test_compare_on_a_conditional_space_keeps_every_branch():
    """momentum exists only under sgd: trials of the adam branch must count (they once were dropped,
    leaving the optimizer without an importance), and absent values never break a method."""
    space = hp.SearchSpace(
        hp.Categorical("optimizer", ["sgd", "adam"], baseline="adam"),
        hp.Float("momentum", 0.0, 0.99, baseline=0.9, when={"optimizer": "sgd"}),
        hp.Float("lr", 0.001, 0.1, log=True, baseline=0.01),
    )

    def objective(trial):
        c = space.suggest(trial)
        return (2.0 if c["optimizer"] == "sgd" else 0.0) + 3 * c.get("momentum", 0.0) + 5 * c["lr"]

    methods = ["oat", "grid", "morris", "sobol", "path", "random"]
    report = hp.compare(objective, space, budgets=[60], methods=methods, repeats=1, direction="maximize")
    rows = report.results.set_index("method")
    assert (rows["n_complete"] == rows["n_trials"]).all()  # no branch dropped
    for method in ("morris", "sobol", "random"):
        imp = rows.loc[method, "importances"]
        assert imp["optimizer"] > imp["lr"] and imp["momentum"] > imp["lr"], (method, imp)
    oat = rows.loc["oat", "importances"]
    assert oat["optimizer"] == pytest.approx(2.0 + 3 * 0.9)  # sgd (momentum at its baseline) vs adam
    assert math.isfinite(rows.loc["grid", "importances"]["lr"])
