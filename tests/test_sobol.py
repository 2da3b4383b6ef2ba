"""Sobol design and indices: plan layout, uniform discrete mapping, SALib equality, ranking, coverage."""

from __future__ import annotations

import numpy as np
import pytest

import hpablate as hp
from hpablate.analysis.importance.sobol import SaltelliValues, sobol_indices
from hpablate.design.sobol import sobol
from hpablate.testing import ishigami, lr_batch_optimizer, sobol_g

N = 512  # base points of the ranking and coverage checks (N (k + 2) model runs)


def _values(f, n: int, seed: int, second_order: bool = False) -> SaltelliValues:
    plan = sobol(f.space, n=n, seed=seed, second_order=second_order)
    cols = {name: np.array([s.params[name] for s in plan]) for name in f.names}
    return SaltelliValues.from_salib(f.evaluate(cols), f.names, second_order)


def test_plan_layout_is_salib_order_and_grows_by_replicates():
    f = ishigami()
    plan = sobol(f.space, n=8, second_order=True, repeats=2, seed=1)
    assert len(plan) == 8 * (2 * 3 + 2) * 2
    first = [(s.config.extra["sobol_matrix"], s.config.varied) for s in plan][:8]
    assert first == [("A", ()), ("AB", ("x1",)), ("AB", ("x2",)), ("AB", ("x3",)),
                     ("BA", ("x1",)), ("BA", ("x2",)), ("BA", ("x3",)), ("B", ())]
    one = sobol(f.space, n=8, second_order=True, repeats=1, seed=1)
    assert [s.params for s in one] == [s.params for s in plan][:len(one)]
    assert hp.SobolSampler(f.space, n=8, seed=1).plan_id == hp.SobolSampler(f.space, n=8, seed=1).plan_id


def test_discrete_parameters_are_uniform_over_their_values():
    f = lr_batch_optimizer()
    frame = sobol(f.space, n=1024, seed=0).to_frame()
    a = frame[frame["sobol_matrix"] == "A"]
    share = a["optimizer"].value_counts(normalize=True)
    assert np.allclose(share.to_numpy(), 1 / 3, atol=0.02)
    batch = a["batch_size"].value_counts(normalize=True)
    assert len(batch) == 16 and np.allclose(batch.to_numpy(), 1 / 16, atol=0.02)


@pytest.mark.parametrize("second_order", [False, True])
def test_equal_to_salib_on_the_same_points(second_order):
    from SALib.analyze import sobol as salib

    f = ishigami()
    plan = sobol(f.space, n=256, seed=3, second_order=second_order)
    Y = f.evaluate({n: np.array([s.params[n] for s in plan]) for n in f.names})
    ours = sobol_indices(SaltelliValues.from_salib(Y, f.names, second_order), n_resamples=50)
    theirs = salib.analyze(f.salib_problem, Y, calc_second_order=second_order, num_resamples=10, seed=1)
    by = ours.set_index(["order", "param"])["raw"]
    np.testing.assert_allclose(by["first"].to_numpy(), theirs["S1"], atol=1e-12)
    np.testing.assert_allclose(by["total"].to_numpy(), theirs["ST"], atol=1e-12)
    if second_order:
        np.testing.assert_allclose(by["second"].to_numpy(), theirs["S2"][np.triu_indices(3, 1)], atol=1e-12)


def test_no_negative_index_and_truncation_is_flagged():
    table = sobol_indices(_values(ishigami(), 256, 0), n_resamples=200)
    assert (table[["index", "ci_low", "ci_high"]] >= 0).all().all()
    negative = table[table["raw"] < 0]
    assert negative["truncated"].all()


@pytest.mark.parametrize("f, top", [(ishigami(), ["x1", "x2", "x3"]), (sobol_g(), ["x1", "x2", "x3", "x4"])])
def test_total_order_ranking_is_right(f, top):
    table = sobol_indices(_values(f, N, 0), n_resamples=200)
    st = table[table["order"] == "total"].set_index("param")["index"].sort_values(ascending=False)
    assert list(st.index[:len(top)]) == top


def _coverage(f, reps: int) -> dict[tuple[str, str], float]:
    hits: dict[tuple[str, str], list[bool]] = {}
    for r in range(reps):
        table = sobol_indices(_values(f, N, r), n_resamples=300, seed=r)
        for row in table.itertuples():
            truth = (f.first_order if row.order == "first" else f.total_order)[row.param]
            hits.setdefault((row.order, row.param), []).append(row.ci_low <= truth <= row.ci_high)
    return {k: float(np.mean(v)) for k, v in hits.items()}


@pytest.mark.parametrize("f", [ishigami(), sobol_g()], ids=["ishigami", "sobol_g"])
def test_analytic_indices_inside_ci_20_repetitions(f):
    cov = _coverage(f, 20)
    assert min(cov.values()) >= 0.85, cov
    assert np.mean(list(cov.values())) >= 0.93, cov


@pytest.mark.slow
@pytest.mark.parametrize("f", [ishigami(), sobol_g()], ids=["ishigami", "sobol_g"])
def test_analytic_indices_inside_ci_100_repetitions(f):
    cov = _coverage(f, 100)
    assert min(cov.values()) >= 0.90, cov


def test_run_and_analyze_with_a_categorical_and_replicates():
    f = lr_batch_optimizer(noise_sd=0.1)
    study = hp.create_study(f.space, hp.SobolSampler(f.space, n=32, repeats=2), direction="minimize")
    hp.run(study, f.objective)
    report = hp.analyze(study)
    assert report.design == "sobol"
    st = report.sobol[report.sobol["order"] == "total"].set_index("param")
    assert set(st.index) == set(f.names)
    assert st["index"].idxmax() == "lr" and st.loc["weight_decay", "ci_low"] < 0.05
    assert (report.sobol[["index", "ci_low", "ci_high"]] >= 0).all().all()
    assert "Sobol indices (Saltelli design)" in report.to_markdown()
    assert set(report.importances["method"]) >= {"Sobol (Saltelli design)"}
