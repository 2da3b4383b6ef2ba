"""Every design against an independent construction (itertools.product, SALib's Morris sampler)."""

import itertools
import json

import numpy as np
import optuna
import pytest
from SALib.sample import morris as salib_morris

import hpablate as hp
from hpablate.errors import DistributionMismatchError, PlanMismatchError, SpaceError, UnknownParameterError


def make_space() -> hp.SearchSpace:
    return hp.SearchSpace(
        hp.Float("lr", 1e-4, 1e-1, log=True, baseline=1e-2, levels=[1e-4, 1e-3, 1e-2, 1e-1]),
        hp.Categorical("batch_size", [16, 32, 64, 128], baseline=64),
        hp.Int("n_estimators", 10, 300, baseline=50, levels=[50, 100, 200, 300]),
        hp.Categorical("optimizer", ["sgd", "adam", "rmsprop"], baseline="adam"),
        hp.Component("dropout", baseline=True),
        hp.Component("norm", choices=["batch", "layer", "none"], baseline="batch"),
    )


def key(config: dict) -> str:
    return json.dumps(sorted((k, repr(v)) for k, v in config.items()))


def plan_configs(sampler, replicate=0) -> list[str]:
    plan = sampler.plan
    rows = plan[plan["replicate"] == replicate]
    return [key({n: row[n] for n in sampler.space.names}) for _, row in rows.iterrows()]


def test_one_at_a_time_matches_independent_construction():
    space = make_space()
    sampler = hp.OneAtATimeSampler(space, repeats=3, seed=7)
    base = space.baseline
    expected = {key(base)}
    for name in space.names:
        for level in space[name].levels:
            expected.add(key({**base, name: level}))
    for replicate in range(3):
        configs = plan_configs(sampler, replicate)
        assert len(configs) == len(set(configs)) == len(expected)
        assert set(configs) == expected
    assert sampler.n_slots == 3 * len(expected)
    seeds = sampler.plan.groupby("replicate")["seed"].unique()
    assert all(len(s) == 1 for s in seeds) and len({s[0] for s in seeds}) == 3
    first = sampler.plan.iloc[0]
    assert first["design"] == "baseline" and first["varied"] == []
    oat = sampler.plan[sampler.plan["design"] == "oat"]
    assert all(len(v) == 1 for v in oat["varied"])
    assert all(row[row["varied"][0]] == row["level"] for _, row in oat.iterrows())


def test_one_at_a_time_params_restricts_the_sweep():
    space = make_space()
    sampler = hp.OneAtATimeSampler(space, params=["lr"], repeats=1)
    assert sampler.n_slots == 4  # baseline + 3 other lr levels
    with pytest.raises(UnknownParameterError):
        hp.OneAtATimeSampler(space, params=["nope"])


def test_grid_matches_itertools_product():
    space = make_space()
    sampler = hp.GridCombinationSampler(space, groups=[("lr", "batch_size"), ("optimizer", "dropout")], repeats=2)
    base = space.baseline
    expected = {key(base)}
    for group in (("lr", "batch_size"), ("optimizer", "dropout")):
        for values in itertools.product(*(space[n].levels for n in group)):
            expected.add(key({**base, **dict(zip(group, values))}))
    for replicate in range(2):
        configs = plan_configs(sampler, replicate)
        assert len(configs) == len(set(configs))
        assert set(configs) == expected
    assert sampler.n_slots == 2 * len(expected) == 2 * (1 + 4 * 4 - 1 + 3 * 2 - 1)


def test_structural_leave_one_out_and_add_one_in():
    space = make_space()
    loo = hp.StructuralAblationSampler(space, repeats=1)
    base = space.baseline
    expected = {key(base), key({**base, "dropout": False}), key({**base, "norm": "layer"}), key({**base, "norm": "none"})}
    assert set(plan_configs(loo)) == expected
    add = hp.StructuralAblationSampler(space, mode="add_one_in", repeats=1)
    bare = {**base, "dropout": False, "norm": "none"}
    assert set(plan_configs(add)) == {key(base), key(bare), key({**bare, "dropout": True}), key({**bare, "norm": "batch"})}
    with pytest.raises(SpaceError, match="Component"):
        hp.StructuralAblationSampler(space, components=["lr"])
    with pytest.raises(SpaceError, match="at least one hp.Component"):
        hp.StructuralAblationSampler(hp.SearchSpace(hp.Float("x", 0, 1)))


def _unit_space(k: int) -> hp.SearchSpace:
    return hp.SearchSpace(*[hp.Float(f"x{i}", 0.0, 1.0) for i in range(k)])


def _our_morris(k: int, r: int, levels: int, seed: int) -> np.ndarray:
    sampler = hp.MorrisSampler(_unit_space(k), trajectories=r, levels=levels, seed=seed, repeats=1)
    plan = sampler.plan
    points = plan[plan["design"] == "morris"][[f"x{i}" for i in range(k)]].to_numpy(dtype=float)
    return points.reshape(r, k + 1, k)


def _salib_morris(k: int, r: int, levels: int, seed: int) -> np.ndarray:
    problem = {"num_vars": k, "names": [f"x{i}" for i in range(k)], "bounds": [[0.0, 1.0]] * k}
    sample = salib_morris.sample(problem, r, num_levels=levels, seed=seed)
    return sample.reshape(r, k + 1, k)


@pytest.mark.parametrize("levels", [4, 6])
def test_morris_matches_salib_in_distribution(levels):
    k, r = 4, 3000
    ours, theirs = _our_morris(k, r, levels, seed=1), _salib_morris(k, r, levels, seed=2)
    delta = levels / (2 * (levels - 1))
    grid = np.linspace(0, 1, levels)
    for traj in (ours, theirs):
        steps = np.diff(traj, axis=1)
        moved = ~np.isclose(steps, 0)
        assert (moved.sum(axis=2) == 1).all()  # exactly one factor moves per step
        assert (moved.sum(axis=1) == 1).all()  # every factor moves exactly once
        assert np.allclose(np.abs(steps[moved]), delta)
        assert np.isclose(traj[..., None], grid).any(-1).all()  # on the p-level grid

    def level_freq(traj):
        idx = np.rint(traj * (levels - 1)).astype(int).ravel()
        return np.bincount(idx, minlength=levels) / idx.size

    def order_freq(traj):  # which factor moves first
        first = np.argmax(~np.isclose(np.diff(traj, axis=1)[:, 0, :], 0), axis=1)
        return np.bincount(first, minlength=k) / len(first)

    def up_freq(traj):
        steps = np.diff(traj, axis=1)
        return (steps[~np.isclose(steps, 0)] > 0).mean()

    assert np.abs(level_freq(ours) - level_freq(theirs)).max() < 0.02
    assert np.abs(order_freq(ours) - order_freq(theirs)).max() < 0.04
    assert abs(up_freq(ours) - up_freq(theirs)) < 0.03
    # the start points are equally spread over the lower half of the grid
    assert np.abs(level_freq(ours[:, :1]) - level_freq(theirs[:, :1])).max() < 0.03


def test_morris_labels_record_trajectories():
    space = _unit_space(3)
    sampler = hp.MorrisSampler(space, trajectories=2, levels=4, repeats=2, seed=3)
    plan = sampler.plan
    assert sampler.n_slots == 2 * (1 + 2 * 4)
    morris = plan[plan["design"] == "morris"]
    assert sorted(morris["step"].unique()) == [0, 1, 2, 3]
    assert all((len(v) == 1) == (s > 0) for v, s in zip(morris["varied"], morris["step"]))
    # replicates draw different trajectories
    r0 = morris[morris["replicate"] == 0][["x0", "x1", "x2"]].to_numpy()
    r1 = morris[morris["replicate"] == 1][["x0", "x1", "x2"]].to_numpy()
    assert not np.allclose(r0, r1)
    with pytest.raises(SpaceError, match="even"):
        hp.MorrisSampler(space, levels=5)


def objective_with_unknown_param(trial):
    trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    return trial.suggest_float("momentum", 0.0, 1.0)


def objective_with_other_range(trial):
    return trial.suggest_float("lr", 1e-3, 1e-1, log=True)


def test_objective_suggesting_unknown_parameter_fails_loudly():
    space = hp.SearchSpace(hp.Float("lr", 1e-4, 1e-1, log=True))
    study = optuna.create_study(sampler=hp.OneAtATimeSampler(space, repeats=1))
    with pytest.raises(UnknownParameterError, match="momentum"):
        hp.run(study, objective_with_unknown_param)
    study = optuna.create_study(sampler=hp.OneAtATimeSampler(space, repeats=1))
    with pytest.raises(DistributionMismatchError, match="lr"):
        hp.run(study, objective_with_other_range)


def test_sampler_refuses_a_study_with_another_plan_or_space(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    space = make_space()
    study = optuna.create_study(storage=url, study_name="s", sampler=hp.OneAtATimeSampler(space, repeats=1))
    hp.run(study, lambda t: float(space.suggest(t)["lr"]))
    # (more repeats of the same design would grow the study: see test_runner_faults.py)
    other = optuna.load_study(storage=url, study_name="s", sampler=hp.OneAtATimeSampler(space, repeats=1, seed=7))
    with pytest.raises(PlanMismatchError, match="another plan"):
        hp.run(other, lambda t: 0.0)
    other_space = hp.SearchSpace(hp.Float("lr", 1e-4, 1e-1, log=True))
    third = optuna.load_study(storage=url, study_name="s", sampler=hp.OneAtATimeSampler(other_space, repeats=1))
    with pytest.raises(PlanMismatchError, match="another search space"):
        hp.run(third, lambda t: 0.0)
    assert json.loads(study.user_attrs["hpablate.space"]) == space.to_dict()
