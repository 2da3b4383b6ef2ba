"""Gradient boosting on breast cancer, two objectives: accuracy up, training time down.

A multi-objective ablation: each one-at-a-time step away from the baseline is judged on both
cross-validated accuracy and fit time, so the analysis (run per objective) shows which settings
buy accuracy with time and which cost time for nothing. Run it with::

    hpablate run studies/boosting_tradeoff.py --quick
"""

from __future__ import annotations

import hpablate as hp
from hpablate import train as ht

space = hp.SearchSpace(
    hp.Int("n_estimators", 25, 200, baseline=100, levels=[25, 50, 100, 200]),
    hp.Float("learning_rate", 0.01, 1.0, log=True, baseline=0.1, levels=[0.03, 0.1, 0.3]),
    hp.Int("max_depth", 1, 5, baseline=3, levels=[1, 2, 3, 5]),
    hp.Float("subsample", 0.5, 1.0, baseline=1.0, levels=[0.5, 0.8, 1.0]),
)
directions = ["maximize", "minimize"]
objective_names = ["cv_accuracy", "train_time_s"]
repeats = 3


def oat_design(space: hp.SearchSpace, repeats: int, seed: int) -> hp.PlanSampler:
    return hp.OneAtATimeSampler(space, repeats=repeats, seed=seed)


def morris_design(space: hp.SearchSpace, repeats: int, seed: int) -> hp.PlanSampler:
    return hp.MorrisSampler(space, trajectories=4 if ht.is_quick() else 10, levels=4, repeats=repeats, seed=seed)


designs = {"oat": oat_design, "morris": morris_design}


def folds() -> int:
    """5-fold CV; ``--quick``: 3 folds on half the samples."""
    return 3 if ht.is_quick() else 5


def objective(trial) -> tuple[float, float]:
    """(cross-validated accuracy, seconds to fit and evaluate every fold)."""
    from sklearn.ensemble import GradientBoostingClassifier

    config = space.suggest(trial)
    model = GradientBoostingClassifier(
        n_estimators=config["n_estimators"],
        learning_rate=config["learning_rate"],
        max_depth=config["max_depth"],
        subsample=config["subsample"],
    )
    x, y = ht.load_tabular("breast_cancer")
    if ht.is_quick():  # every other sample
        x, y = x[::2], y[::2]
    result = ht.cross_validate_estimator(model, x, y, trial=trial, cv=folds())
    return result.score, result.train_time_s
