"""Random forest on breast cancer: how many trees, how deep, how many features per split.

``oat`` sweeps ``n_estimators`` over 50/100/200/300 and ``max_depth`` (1, i.e. stumps, to 16) /
``max_features`` around the baseline, 5 replicates each (each replicate reseeds the forest and the CV folds); ``grid``
crosses ``n_estimators`` with ``max_depth`` to look for an interaction. The objective is the
5-fold cross-validated accuracy; per-class accuracy, training log loss, fit time and the total
number of tree nodes are recorded too. Run it with::

    hpablate run studies/random_forest.py --quick --repeats 5

(the README's quick demo: with 5 seeds, stumps, ``max_depth=1``, are significantly worse than the
baseline depth 8; ``--quick`` alone runs 2 seeds).
"""

from __future__ import annotations

import hpablate as hp
from hpablate import train as ht

space = hp.SearchSpace(
    hp.Int("n_estimators", 50, 300, baseline=100, levels=[50, 100, 200, 300]),
    hp.Int("max_depth", 1, 16, baseline=8, levels=[1, 2, 4, 8, 16]),
    hp.Categorical("max_features", ["sqrt", "log2", "all"], baseline="sqrt"),
)
direction = "maximize"
repeats = 5
grid_groups = [("n_estimators", "max_depth")]


def oat_design(space: hp.SearchSpace, repeats: int, seed: int) -> hp.PlanSampler:
    return hp.OneAtATimeSampler(space, repeats=repeats, seed=seed)


def grid_design(space: hp.SearchSpace, repeats: int, seed: int) -> hp.PlanSampler:
    return hp.GridCombinationSampler(space, groups=grid_groups, repeats=repeats, seed=seed)


designs = {"oat": oat_design, "grid": grid_design}


def folds() -> int:
    """5-fold CV; ``--quick``: 3 folds on half the samples."""
    return 3 if ht.is_quick() else 5


def objective(trial) -> float:
    """Cross-validated accuracy of the configured forest (metrics recorded on the trial)."""
    from sklearn.ensemble import RandomForestClassifier

    config = space.suggest(trial)
    forest = RandomForestClassifier(
        n_estimators=config["n_estimators"],
        max_depth=config["max_depth"],
        max_features=None if config["max_features"] == "all" else config["max_features"],
    )
    x, y = ht.load_tabular("breast_cancer")
    if ht.is_quick():  # every other sample
        x, y = x[::2], y[::2]
    return ht.cross_validate_estimator(forest, x, y, trial=trial, cv=folds()).score
