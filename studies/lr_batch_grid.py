"""Learning rate × batch size on an MLP (digits): the interaction every practitioner suspects.

``grid`` runs the full 5 × 4 factorial of learning rate and batch size with replicates (the other
settings at baseline), so the analysis can fit a two-way ANOVA with an interaction term; ``oat``
runs the cheaper one-at-a-time sweep of the same levels, to show what it misses. SGD with the
largest learning rate can diverge: such trials fail with the reason recorded, the study goes on.
Run it with::

    hpablate run studies/lr_batch_grid.py --design grid --quick
"""

from __future__ import annotations

import functools

from torch import nn

import hpablate as hp
from hpablate import train as ht

space = hp.SearchSpace(
    hp.Float("lr", 1e-4, 1.0, log=True, baseline=1e-2, levels=[1e-4, 1e-3, 1e-2, 1e-1, 1.0]),
    hp.Int("batch_size", 16, 256, log=True, baseline=64, levels=[16, 32, 64, 128, 256]),
    hp.Int("hidden", 32, 256, log=True, baseline=128, levels=[32, 128, 256]),
)
direction = "maximize"
repeats = 3
grid_groups = [("lr", "batch_size")]


def grid_design(space: hp.SearchSpace, repeats: int, seed: int) -> hp.PlanSampler:
    return hp.GridCombinationSampler(space, groups=grid_groups, repeats=repeats, seed=seed)


def oat_design(space: hp.SearchSpace, repeats: int, seed: int) -> hp.PlanSampler:
    return hp.OneAtATimeSampler(space, repeats=repeats, seed=seed)


designs = {"grid": grid_design, "oat": oat_design}


def epochs() -> int:
    """10 epochs; ``--quick``: 2."""
    return 2 if ht.is_quick() else 10


def build_model(hidden: int) -> nn.Module:
    return nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 10))


@functools.lru_cache(maxsize=2)
def _data(quick: bool) -> ht.ClassificationData:
    data = ht.load_digits_data(image=False)
    return data.subset(600, 300) if quick else data


def objective(trial) -> float:
    """Validation accuracy of an SGD-trained MLP (momentum 0.9)."""
    config = space.suggest(trial)
    result = ht.train_classifier(
        functools.partial(build_model, config["hidden"]),
        _data(ht.is_quick()),
        trial=trial,
        epochs=epochs(),
        batch_size=config["batch_size"],
        optimizer="sgd",
        lr=config["lr"],
    )
    return result.val_acc
