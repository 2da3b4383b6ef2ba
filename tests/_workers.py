"""Objectives and a worker entry point for the multi-process tests (module level: picklable)."""

from __future__ import annotations

import math
import os
import random
import sys
import time

import optuna

import hpablate as hp

SPACE = hp.SearchSpace(
    hp.Float("lr", 1e-4, 1e-1, log=True, baseline=1e-2, levels=[1e-4, 1e-3, 1e-2, 1e-1]),
    hp.Int("width", 8, 64, baseline=32, levels=[8, 16, 32, 64]),
    hp.Categorical("optimizer", ["sgd", "adam", "rmsprop"], baseline="adam"),
    hp.Component("dropout", baseline=True),
)


def make_sampler(repeats: int = 3) -> hp.OneAtATimeSampler:
    return hp.OneAtATimeSampler(SPACE, repeats=repeats, seed=11)


def quick_objective(trial: optuna.Trial) -> float:
    config = SPACE.suggest(trial)
    time.sleep(random.uniform(0.0, 0.01))
    return math.log10(config["lr"]) + config["width"] / 64 + hp.trial_seed(trial) % 3


def flaky_objective(trial: optuna.Trial) -> float:
    """Fails the first attempt at every slot divisible by 4 (raises) or 5 (returns NaN)."""
    config = SPACE.suggest(trial)
    slot = trial.user_attrs["hpablate.slot"]
    first_attempt = trial.number < trial.study.user_attrs["hpablate.n_slots"]
    if first_attempt and slot % 4 == 0:
        raise RuntimeError(f"flaky failure at slot {slot}")
    if first_attempt and slot % 5 == 0:
        return float("nan")
    return config["width"]


def prunes_lr_levels(trial: optuna.Trial) -> float:
    """Pruned whenever lr is off its baseline (as a pruner would stop a bad run)."""
    config = SPACE.suggest(trial)
    if config["lr"] != SPACE.baseline["lr"]:
        raise optuna.TrialPruned()
    return 1.0


def always_fails(trial: optuna.Trial) -> float:
    SPACE.suggest(trial)
    raise ValueError("broken objective")


def hanging_objective(trial: optuna.Trial) -> float:
    """Slot 2 signals it started (a marker file) and then hangs until the worker is killed."""
    SPACE.suggest(trial)
    if trial.user_attrs["hpablate.slot"] == 2 and os.environ.get("HANG_MARKER"):
        open(os.environ["HANG_MARKER"], "w").close()
        time.sleep(600)
    return 1.0


def main() -> None:
    """``python tests/_workers.py STORAGE STUDY OBJECTIVE``: one independent ``hp.run`` process."""
    storage, study_name, objective_name = sys.argv[1:4]
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = hp.create_study(
        SPACE, make_sampler(), storage=storage, study_name=study_name, direction="maximize"
    )
    hp.run(study, globals()[objective_name], heartbeat_interval=0.2, grace_period=2.0)


if __name__ == "__main__":
    main()


def reports_and_checks_pruning(trial: optuna.Trial) -> float:
    """Reports a falling curve for lr off baseline: any median pruner would stop those trials."""
    config = SPACE.suggest(trial)
    bad = config["lr"] != SPACE.baseline["lr"]
    for step in range(5):
        trial.report(-step if bad else step, step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return 1.0


#: Ablation path: 3a + 2b + c + 4ac. Greedy from 0 to 1: a (3 > 2 > 1), then c (1 + 4 > 2), then b.
PATH_SPACE = hp.SearchSpace(*[hp.Float(name, 0.0, 1.0, baseline=0.0) for name in ("a", "b", "c")])
PATH_TARGET = {"a": 1.0, "b": 1.0, "c": 1.0}


def path_value(config: dict) -> float:
    return 3 * config["a"] + 2 * config["b"] + config["c"] + 4 * config["a"] * config["c"]


def path_objective(trial: optuna.Trial) -> float:
    """The path function plus seed noise shared by a replicate and small per-configuration noise."""
    config = PATH_SPACE.suggest(trial)
    time.sleep(random.uniform(0.0, 0.02))
    seed = hp.trial_seed(trial)
    key = int(1000 * (config["a"] + 2 * config["b"] + 4 * config["c"]))
    return path_value(config) + 0.3 * (seed % 5) + 0.05 * random.Random(seed * 7919 + key).gauss(0, 1)


def flaky_path_objective(trial: optuna.Trial) -> float:
    """Fails the first attempt of every third slot (the retry runs in the same round)."""
    slot = trial.user_attrs["hpablate.slot"]
    failed = trial.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.FAIL,))
    if slot % 3 == 0 and not any(t.user_attrs.get("hpablate.slot") == slot for t in failed):
        PATH_SPACE.suggest(trial)
        raise RuntimeError("flaky")
    return path_objective(trial)
