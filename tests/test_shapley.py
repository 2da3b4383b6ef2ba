"""Shapley design and values: exact values by construction, efficiency, dummy, sampled orders, multi-valued."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

import hpablate as hp
from hpablate.analysis.shapley import shapley_interactions, shapley_values
from hpablate.design.shapley import shapley

#: Additive parts, plus an a-b interaction of 3 split evenly: Shapley a = 1 + 1.5, b = 2 + 1.5.
ADDITIVE = {"a": 1.0, "b": 2.0, "c": 0.5, "dummy": 0.0}
PAIR = 3.0
EXACT = {"a": 2.5, "b": 3.5, "c": 0.5, "dummy": 0.0}


def _space(extra: int = 0) -> hp.SearchSpace:
    names = [*ADDITIVE, *[f"z{i}" for i in range(extra)]]
    return hp.SearchSpace(*[hp.Component(n) for n in names], hp.Float("lr", 0.1, 1.0, baseline=0.5))


def _objective(space: hp.SearchSpace, noise: float = 0.05):
    def objective(trial) -> float:
        cfg = space.suggest(trial)
        value = sum(w for n, w in ADDITIVE.items() if cfg[n]) + PAIR * (cfg["a"] and cfg["b"])
        key = zlib.crc32(repr(sorted(cfg.items())).encode())
        return value + noise * np.random.default_rng([hp.trial_seed(trial), key]).standard_normal()
    return objective


def test_exact_formulas():
    v = np.array([0.0, 1.0, 2.0, 7.0])  # a = 1, b = 2, interaction 4
    assert shapley_values(v, 2).tolist() == [3.0, 4.0]
    assert shapley_interactions(v, 2)[0, 1] == 4.0


def test_exhaustive_design_recovers_known_values_with_efficiency():
    space = _space()
    study = hp.create_study(space, hp.ShapleyAblationSampler(space, repeats=4), direction="maximize")
    hp.run(study, _objective(space))
    assert len(study.trials) == 16 * 4
    report = hp.analyze(study)
    t = report.shapley.set_index("component")
    for name, exact in EXACT.items():
        assert t.loc[name, "ci_low"] <= exact <= t.loc[name, "ci_high"], (name, t.loc[name].to_dict())
    assert abs(t.loc["dummy", "shapley"]) < 0.05
    assert t["shapley"].sum() == pytest.approx(t["full_minus_bare"].iloc[0], abs=1e-9)  # efficiency
    # LOCO of a: 1 + 3 (it takes the whole interaction); add-one-in: 1
    assert t.loc["a", "loco"] == pytest.approx(4.0, abs=0.2) and t.loc["a", "add_one_in"] == pytest.approx(1.0, abs=0.2)
    pair = report.shapley_interactions.set_index(["component_a", "component_b"]).loc[("a", "b")]
    assert pair["ci_low"] <= PAIR <= pair["ci_high"]
    assert "Shapley values and leave-one-out effects" in report.to_markdown()


def test_sampled_orders_beyond_max_subsets():
    space = _space(extra=2)  # 6 components, 64 subsets; max 20 -> sampled
    sampler = hp.ShapleyAblationSampler(space, max_subsets=20, repeats=3)
    assert sampler.plan_object.options["orders"] == 2
    assert sampler.n_slots <= 20 * 3
    study = hp.create_study(space, sampler, direction="maximize")
    hp.run(study, _objective(space, noise=0.0))
    report = hp.analyze(study)
    t = report.shapley.set_index("component")
    assert t["shapley"].sum() == pytest.approx(t["full_minus_bare"].iloc[0], abs=1e-9)
    assert t.loc[["dummy", "z0", "z1"], "shapley"].abs().max() < 1e-9  # a dummy contributes 0 in every order
    assert t.loc["c", "shapley"] == pytest.approx(0.5)  # additive: the same in every order
    assert report.shapley_interactions.empty and any("sampled design" in n for n in report.notes)


def test_multi_valued_component_gets_a_game_per_choice():
    norm = hp.Component("norm", choices=["batch", "layer", "none"], baseline="batch")
    space = hp.SearchSpace(norm, hp.Component("residual"))
    plan = shapley(space, repeats=1)
    assert len(plan) == 4 + 2  # 2^2 subsets, plus the two with norm=layer on
    gain = {"batch": 1.0, "layer": 0.4, "none": 0.0}

    def objective(trial):
        cfg = space.suggest(trial)
        return gain[cfg["norm"]] + 2.0 * cfg["residual"]

    study = hp.create_study(space, hp.ShapleyAblationSampler(space, repeats=2), direction="maximize")
    hp.run(study, objective)
    t = hp.analyze(study).shapley.set_index(["game", "component"])["shapley"]
    assert t[("full", "norm")] == pytest.approx(1.0) and t[("norm=layer", "norm")] == pytest.approx(0.4)
    assert t[("norm=layer", "residual")] == pytest.approx(2.0)


def test_refuses_parameters_that_are_not_components():
    with pytest.raises(hp.SpaceError, match="not a Component"):
        hp.ShapleyAblationSampler(_space(), components=["lr"])
