"""Conditional search spaces (issue 12): ``when=``, validity of every design's slots, serving, runs.

Every design's plan is checked against an independent enumeration: ``itertools.product`` over the
parameters' values, filtered by a hand-written validity rule, never by hpablate's own code.
"""

from __future__ import annotations

import itertools
import math

import optuna
import pytest

import hpablate as hp
from hpablate.errors import InactiveParameterError, SpaceError

# A tree of depth 2 (optimizer -> nesterov -> dampening), a list-valued condition (eps under two
# norms) and a child of a Component (heads under attention).
SPACE = hp.SearchSpace(
    hp.Categorical("optimizer", ["sgd", "adam"], baseline="adam"),
    hp.Float("momentum", 0.0, 0.9, baseline=0.5, levels=[0.0, 0.5, 0.9], when={"optimizer": "sgd"}),
    hp.Categorical("nesterov", [False, True], baseline=False, when={"optimizer": "sgd"}),
    hp.Float("dampening", 0.0, 0.2, baseline=0.0, levels=[0.0, 0.2], when={"nesterov": False}),
    hp.Float("beta2", 0.99, 0.999, baseline=0.999, levels=[0.99, 0.999], when={"optimizer": "adam"}),
    hp.Component("attention", baseline=True),
    hp.Int("heads", 1, 4, baseline=2, levels=[1, 2, 4], when={"attention": True}),
    hp.Component("norm", choices=["batch", "layer", "none"], baseline="batch"),
    hp.Float("eps", 1e-6, 1e-3, log=True, baseline=1e-5, levels=[1e-6, 1e-5, 1e-3], when={"norm": ["batch", "layer"]}),
)


def valid(config: dict) -> bool:
    """The conditions above, written out by hand: exactly the active parameters are present."""
    sgd = config["optimizer"] == "sgd"
    expect = {
        "optimizer": True,
        "momentum": sgd,
        "nesterov": sgd,
        "dampening": sgd and config.get("nesterov") is False,
        "beta2": not sgd,
        "attention": True,
        "heads": config["attention"] is True,
        "norm": True,
        "eps": config["norm"] in ("batch", "layer"),
    }
    return all((name in config) == present for name, present in expect.items())


def valid_configs() -> set[str]:
    """Every valid configuration over the parameters' levels, by brute force."""
    names = SPACE.names
    out = set()
    for values in itertools.product(*(SPACE[n].levels for n in names)):
        full = dict(zip(names, values))
        sgd = full["optimizer"] == "sgd"
        keep = {
            "optimizer", "attention", "norm",
            *(["momentum", "nesterov"] if sgd else ["beta2"]),
            *(["dampening"] if sgd and full["nesterov"] is False else []),
            *(["heads"] if full["attention"] else []),
            *(["eps"] if full["norm"] in ("batch", "layer") else []),
        }
        out.add(key({n: full[n] for n in names if n in keep}))
    return out


def key(config: dict) -> str:
    return repr(sorted((k, repr(v)) for k, v in config.items()))


def test_conditions_are_validated_at_construction():
    with pytest.raises(SpaceError, match="not in the space"):
        hp.SearchSpace(hp.Float("m", 0, 1, when={"optimizer": "sgd"}))
    with pytest.raises(SpaceError, match="never takes that value"):
        hp.SearchSpace(hp.Categorical("optimizer", ["sgd", "adam"]), hp.Float("m", 0, 1, when={"optimizer": "rmsprop"}))
    with pytest.raises(SpaceError, match="cycle"):
        hp.SearchSpace(hp.Int("a", 0, 2, when={"b": 1}), hp.Int("b", 0, 2, when={"a": 1}))
    with pytest.raises(SpaceError, match="itself"):
        hp.SearchSpace(hp.Int("a", 0, 2, when={"a": 1}))
    with pytest.raises(SpaceError, match="at least one value"):
        hp.Float("m", 0, 1, when={"optimizer": []})


def test_conditions_round_trip_through_the_stored_record():
    again = hp.SearchSpace.from_json(SPACE.to_json())
    assert again == SPACE and again["eps"].when == {"norm": ["batch", "layer"]}
    assert again["dampening"].when == {"nesterov": [False]}
    plain = hp.SearchSpace(hp.Float("x", 0, 1, baseline=0.5))
    assert "when" not in plain.to_json()  # unconditional spaces (and their plan ids) are unchanged


@pytest.mark.parametrize("seed", range(20))
def test_suggest_follows_the_conditions_under_optuna_samplers(seed):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    trial = study.ask()
    config = SPACE.suggest(trial)
    assert valid(config) and config == trial.params


def test_baseline_holds_only_what_exists_there():
    assert SPACE.active(SPACE.baseline) == {
        "optimizer": "adam", "beta2": 0.999, "attention": True, "heads": 2, "norm": "batch", "eps": 1e-5,
    }
    assert SPACE.activation("dampening") == {"optimizer": "sgd"}  # nesterov=False already holds


def designs() -> dict[str, hp.PlanSampler]:
    return {
        "oat": hp.OneAtATimeSampler(SPACE, repeats=1),
        "grid": hp.GridCombinationSampler(SPACE, groups=[("optimizer", "momentum", "nesterov"), ("norm", "eps")], repeats=1),
        "structural": hp.StructuralAblationSampler(SPACE, repeats=1),
        "add_one_in": hp.StructuralAblationSampler(SPACE, mode="add_one_in", repeats=1),
        "morris": hp.MorrisSampler(SPACE, trajectories=6, repeats=1),
        "shapley": hp.ShapleyAblationSampler(SPACE, repeats=1),
    }


@pytest.mark.parametrize("design", list(designs()))
def test_every_slot_of_every_design_is_a_valid_configuration(design):
    sampler = designs()[design]
    everything = valid_configs()
    for slot in sampler.plan_object:
        params = dict(slot.params)
        assert valid(params), (design, params)
        if design != "morris":  # Morris points lie on its own grid, not on the levels
            assert key(params) in everything


def test_oat_sweeps_an_inactive_child_in_its_branch():
    plan = designs()["oat"].plan_object
    momentum = [s for s in plan if s.config.varied == ("momentum",)]
    assert {s.config.params["momentum"] for s in momentum} == {0.0, 0.9}  # 0.5 is the branch baseline
    assert all(s.config.params["optimizer"] == "sgd" and s.config.extra == {"branch": {"optimizer": "sgd"}}
               for s in momentum)
    # the branch baseline (optimizer=sgd, momentum at its baseline) is in the plan, labelled or not
    branch_base = SPACE.active({**SPACE.baseline, "optimizer": "sgd"})
    assert any(dict(s.params) == branch_base for s in plan)
    assert all(s.user_attrs().get("hpablate.branch") == {"optimizer": "sgd"} for s in momentum)


def test_grid_crosses_only_valid_combinations():
    plan = designs()["grid"].plan_object
    group = [s for s in plan if s.config.varied == ("optimizer", "momentum", "nesterov")]
    # by hand: adam (1 cell: momentum, nesterov absent) + sgd x 3 momentum x 2 nesterov = 7
    expected = 1 + 3 * 2
    cells = {key(dict(s.params)) for s in group} | {key(dict(plan[0].params))}
    assert len(cells) == expected


def test_structural_removal_deactivates_children():
    plan = designs()["structural"].plan_object
    off = next(s for s in plan if s.config.varied == ("attention",))
    assert off.params["attention"] is False and "heads" not in off.params
    none = next(s for s in plan if s.config.varied == ("norm",) and s.config.level == "none")
    assert "eps" not in none.params


def test_morris_steps_move_only_active_parameters():
    for slot in designs()["morris"].plan_object:
        for name in slot.config.varied:
            assert name in slot.params


def test_morris_runs_no_point_that_only_moves_an_inactive_coordinate():
    """Counted independently from the raw unit trajectories: a step runs unless every coordinate it
    moves is inactive at both of its points (then it would repeat the previous configuration)."""
    import numpy as np

    from hpablate.design.morris import morris_unit_trajectories

    trajectories, levels = 6, 4
    plan = hp.design.morris(SPACE, trajectories=trajectories, levels=levels, seed=3)
    units = morris_unit_trajectories(len(SPACE.names), trajectories, levels, np.random.default_rng(3))
    expected = 1  # the baseline
    for trajectory in units:
        points = [SPACE.active({n: SPACE.from_unit(n, float(u)) for n, u in zip(SPACE.names, p)}) for p in trajectory]
        expected += 1 + sum(
            1 for a, b, ua, ub in zip(points, points[1:], trajectory, trajectory[1:])
            if any(not np.isclose(x, y) and (n in a or n in b) for n, x, y in zip(SPACE.names, ua, ub)))
    assert len(plan) == expected < 1 + trajectories * (len(SPACE.names) + 1)
    by_trajectory: dict = {}
    for slot in plan:
        if slot.config.design == "morris":
            by_trajectory.setdefault(slot.config.extra["trajectory"], []).append(slot.config.params)
    for points in by_trajectory.values():
        assert all(a != b for a, b in zip(points, points[1:]))


def objective(trial: optuna.Trial) -> float:
    config = SPACE.suggest(trial)
    return (config.get("momentum", 0.0) + config.get("beta2", 0.0) + math.log10(config.get("eps", 1.0))
            + config.get("heads", 0) + hp.trial_seed(trial) % 5)


@pytest.mark.parametrize("design", ["oat", "grid", "structural", "morris"])
def test_runs_exactly_once_without_suggesting_inactive_parameters(design):
    sampler = designs()[design]
    study = hp.create_study(SPACE, sampler, direction="maximize")
    summary = hp.run(study, objective)
    assert summary.completed == sampler.n_slots and summary.failed_attempts == 0
    for trial in study.trials:
        assert valid(trial.params)


def test_suggesting_an_inactive_parameter_is_a_clear_error():
    def careless(trial: optuna.Trial) -> float:
        trial.suggest_categorical("optimizer", ["sgd", "adam"])
        return trial.suggest_float("momentum", 0.0, 0.9)  # also under adam

    study = hp.create_study(SPACE, hp.OneAtATimeSampler(SPACE, repeats=1), direction="maximize")
    with pytest.raises(InactiveParameterError, match="momentum"):
        hp.run(study, careless)
