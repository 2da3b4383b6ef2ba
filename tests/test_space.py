import math

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

import hpablate as hp
from hpablate.errors import SpaceError, UnknownParameterError


def full_space() -> hp.SearchSpace:
    return hp.SearchSpace(
        hp.Float("lr", 1e-4, 1e-1, log=True, baseline=1e-2, levels=[1e-4, 1e-3, 1e-2, 1e-1]),
        hp.Int("n_estimators", 10, 300, baseline=50, levels=[10, 50, 100, 200, 300]),
        hp.Categorical("optimizer", ["sgd", "adam", "rmsprop"], baseline="adam"),
        hp.Component("dropout", baseline=True),
        hp.Component("norm", choices=["batch", "layer", "none"], baseline="batch"),
    )


def test_baseline_levels_and_distributions():
    space = full_space()
    assert space.baseline == {"lr": 0.01, "n_estimators": 50, "optimizer": "adam", "dropout": True, "norm": "batch"}
    assert space["n_estimators"].levels == [10, 50, 100, 200, 300]
    assert space["optimizer"].levels == ["sgd", "adam", "rmsprop"]
    assert space["dropout"].off is False and space["norm"].off == "none"
    dists = space.to_distributions()
    assert dists["lr"] == FloatDistribution(1e-4, 1e-1, log=True)
    assert dists["n_estimators"] == IntDistribution(10, 300)
    assert dists["dropout"] == CategoricalDistribution((True, False))


def test_default_levels_are_log_spaced_and_include_baseline():
    lr = hp.Float("lr", 1e-4, 1e-1, log=True, baseline=0.02)
    assert 0.02 in lr.levels and lr.levels[0] == pytest.approx(1e-4) and lr.levels[-1] == pytest.approx(0.1)
    inner = [v for v in lr.levels if v != 0.02]
    ratios = [b / a for a, b in zip(inner, inner[1:])]
    assert ratios == pytest.approx([ratios[0]] * len(ratios))
    n = hp.Int("n", 1, 9, step=2)
    assert all((v - 1) % 2 == 0 for v in n.levels) and n.baseline == 5


def test_json_round_trip():
    space = full_space()
    again = hp.SearchSpace.from_json(space.to_json())
    assert again == space and again.baseline == space.baseline
    assert again["norm"].off == "none"


def test_suggest_uses_trial_and_matches_distributions():
    space = full_space()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    trial = study.ask()
    config = space.suggest(trial)
    assert set(config) == set(space.names)
    assert trial.distributions == space.to_distributions()


def test_unit_mapping_is_log_aware_and_invertible():
    space = full_space()
    assert space.to_unit("lr", 1e-3) == pytest.approx(1 / 3)
    assert space.from_unit("lr", 2 / 3) == pytest.approx(1e-2)
    assert space.to_unit("optimizer", "rmsprop") == 1.0
    assert space.from_unit("norm", 0.5) == "layer"
    assert space.from_unit("n_estimators", 0.5) == 155


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: hp.Float("lr", 1e-4, 1e-1, baseline=0.5), "outside the range"),
        (lambda: hp.Float("lr", 0.0, 1.0, log=True), "log range needs low > 0"),
        (lambda: hp.Float("lr", 1.0, 0.0), "greater than high"),
        (lambda: hp.Int("n", 1, 10, levels=[]), "levels must not be empty"),
        (lambda: hp.Int("n", 1, 10, levels=[0, 5]), "outside the range"),
        (lambda: hp.Categorical("opt", ["sgd", "adam"], baseline="rmsprop"), "not among the choices"),
        (lambda: hp.Component("norm", choices=["batch", "none"], baseline="layer"), "not among the choices"),
        (lambda: hp.SearchSpace(hp.Float("a", 0, 1), hp.Int("a", 0, 3)), "duplicate parameter name"),
        (lambda: hp.Float("x", 0, math.inf), "finite"),
    ],
)
def test_bad_definitions_raise_space_error(make, message):
    with pytest.raises(SpaceError, match=message):
        make()


def test_unknown_parameter():
    with pytest.raises(UnknownParameterError, match="unknown parameter 'nope'"):
        full_space()["nope"]


def test_from_distributions_has_ranges_but_no_baselines():
    import pickle

    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    dists = {"lr": FloatDistribution(1e-4, 1e-1, log=True), "n": IntDistribution(1, 9, step=2),
             "opt": CategoricalDistribution(["sgd", "adam", None])}
    space = hp.SearchSpace.from_distributions(dists)
    assert space.to_distributions() == dists
    assert not space.has_baseline and not space["lr"].has_baseline
    with pytest.raises(SpaceError, match="lr: no baseline"):
        space.baseline
    assert hp.SearchSpace.from_json(space.to_json()) == space
    assert pickle.loads(pickle.dumps(space)) == space
    assert space.to_unit("n", 5) == 0.5 and space.to_unit("opt", None) == 1.0
    assert hp.SearchSpace(hp.Float("x", 0, 1)).has_baseline


def test_one_value_equality():
    from hpablate.space import same_value, value_key

    assert same_value(np.float64(0.1) * 3, 0.3) and same_value(np.int64(2), 2.0)
    assert not same_value(True, 1) and not same_value(float("nan"), float("nan")) and not same_value(None, 0)
    assert value_key(np.int64(2)) == value_key(2.0) != value_key(True)
    c = hp.Categorical("c", [True, 1, "1"], baseline=1)
    assert c.index(1.0) == 1 and c.index(True) == 0 and c.baseline == 1
    with pytest.raises(SpaceError, match="duplicates"):
        hp.Categorical("c", [1, 1.0])
