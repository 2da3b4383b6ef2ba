"""hpablate.testing: analytic Sobol indices against SALib's estimates and SALib's own functions."""

from __future__ import annotations

import math

import numpy as np
import optuna
import pytest
from SALib.analyze import sobol as sobol_analyze
from SALib.sample import sobol as sobol_sample
from SALib.test_functions import Ishigami as salib_ishigami
from SALib.test_functions import Sobol_G as salib_g

import hpablate as hp
from hpablate.testing import G_A, ishigami, lr_batch_optimizer, sobol_g

optuna.logging.set_verbosity(optuna.logging.WARNING)

FUNCTIONS = {
    "ishigami": lambda: ishigami(n_dummy=1),
    "sobol_g": sobol_g,
    "lr_batch_optimizer": lr_batch_optimizer,
}


@pytest.fixture(scope="module")
def salib_estimates():
    """SALib Sobol (Saltelli/Jansen) estimates on N = 2^14 base samples per function."""
    out = {}
    for name, make in FUNCTIONS.items():
        f = make()
        problem = f.salib_problem
        X = sobol_sample.sample(problem, 2**14, calc_second_order=False, seed=7)
        Y = f.evaluate_unit(X)
        out[name] = (f, sobol_analyze.analyze(problem, Y, calc_second_order=False, seed=7), Y)
    return out


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_analytic_indices_match_salib_sobol_estimate(salib_estimates, name):
    f, r, Y = salib_estimates[name]
    for i, p in enumerate(f.names):
        # tolerance: the larger of 0.02 and twice SALib's bootstrap half-width
        assert abs(r["S1"][i] - f.first_order[p]) < max(0.02, 2 * r["S1_conf"][i]), (p, "S1")
        assert abs(r["ST"][i] - f.total_order[p]) < max(0.02, 2 * r["ST_conf"][i]), (p, "ST")
    assert np.var(Y) == pytest.approx(f.variance, rel=0.02)


def test_ishigami_classic_values_and_salib_function():
    f = ishigami()
    assert [round(f.first_order[n], 4) for n in f.names] == [0.3139, 0.4424, 0.0]
    assert [round(f.total_order[n], 4) for n in f.names] == [0.5576, 0.4424, 0.2437]
    rng = np.random.default_rng(0)
    X = rng.uniform(-math.pi, math.pi, (500, 3))
    ours = f.evaluate({n: X[:, j] for j, n in enumerate(f.names)})
    np.testing.assert_allclose(ours, salib_ishigami.evaluate(X), rtol=1e-12, atol=1e-12)


def test_sobol_g_matches_salib_function_and_closed_form():
    f = sobol_g()
    a = np.array(G_A)
    rng = np.random.default_rng(1)
    X = rng.random((500, 8))
    np.testing.assert_allclose(f.evaluate_unit(X), salib_g.evaluate(X, a), rtol=1e-12)
    np.testing.assert_allclose([f.first_order[n] for n in f.names], salib_g.sensitivity_index(a), rtol=1e-10)
    np.testing.assert_allclose([f.total_order[n] for n in f.names], salib_g.total_sensitivity_index(a),
                               rtol=1e-10)


def test_lr_batch_optimizer_indices_sum_and_interaction_only_dropout():
    f = lr_batch_optimizer()
    # interactions lr×batch and lr×dropout: sum of ST exceeds 1 by exactly twice their share
    assert sum(f.first_order.values()) + (f.total_order["dropout"]) + 1.5**2 * (17 / 135) / f.variance \
        == pytest.approx(1.0)
    assert f.first_order["dropout"] == 0 and f.total_order["dropout"] > 0.3
    assert f.first_order["weight_decay"] == f.total_order["weight_decay"] == 0
    # from the baseline, moving dropout alone changes nothing (OAT is blind to it)
    base = f.space.baseline
    for level in f.space["dropout"].levels:
        assert f({**base, "dropout": level}) == pytest.approx(f(base), abs=1e-12)
    assert f({**base, "lr": 1e-4}) != pytest.approx(f(base))


def test_from_unit_matches_optuna_random_sampler_measure():
    """The Monte-Carlo measure of the indices is what RandomSampler draws (KS / chi-square)."""
    from scipy import stats

    f = lr_batch_optimizer()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    study.optimize(lambda t: (f.space.suggest(t), 0.0)[1], n_trials=1500)
    lr = np.array([t.params["lr"] for t in study.trials])
    batch = np.array([t.params["batch_size"] for t in study.trials])
    ours = f.from_unit(np.random.default_rng(4).random((1500, 5)))
    assert stats.ks_2samp(np.log10(lr), np.log10(ours["lr"])).pvalue > 1e-3
    counts = np.array([np.sum(batch == v) for v in np.arange(16, 257, 16)])
    assert counts.sum() == 1500 and stats.chisquare(counts).pvalue > 1e-3
    assert set(np.unique(ours["batch_size"])) == set(range(16, 257, 16))


def test_objective_noise_is_seeded_by_trial_and_config():
    f = sobol_g(noise_sd=0.5)
    study = hp.create_study(f.space, hp.OneAtATimeSampler(f.space, params=["x1"], repeats=40, seed=0))
    hp.run(study, f.objective)
    trials = study.trials
    resid = np.array([t.value - f(t.params) for t in trials])
    assert resid.std(ddof=1) == pytest.approx(0.5, rel=0.2)
    for t in trials[:5]:
        assert t.value - f(t.params) == pytest.approx(f.noise(t.params, hp.trial_seed(t)))
    # within one replicate (one seed) different configurations get different noise
    rep0 = [t for t in trials if t.user_attrs["hpablate.replicate"] == 0]
    assert len({round(t.value - f(t.params), 12) for t in rep0}) == len(rep0)
    assert sobol_g().objective(optuna.trial.FixedTrial(f.space.baseline)) == f(f.space.baseline)
    with pytest.raises(ValueError):
        f.with_noise(-1.0)
