"""A conditional space on the digits MLP: SGD with its momentum versus Adam with its betas.

``momentum`` exists only under ``optimizer=sgd`` and ``beta1``/``beta2`` only under
``optimizer=adam`` (``when=``); the baseline is Adam. The one-at-a-time design sweeps the learning
rate and the Adam betas from the baseline, switches the optimizer to SGD (the optimizer's own
effect), and sweeps ``momentum`` in its *branch*: optimizer=sgd, every other setting at the
baseline. ``hpablate analyze`` reports momentum's effects against that branch baseline (the
``branch`` column says ``optimizer=sgd``) and prints the condition tree. The same space sampled by
plain Optuna (``space.suggest`` under a ``RandomSampler``) is analysed per branch instead (effects
and importances within optimizer=sgd and within optimizer=adam). Run it with::

    hpablate run studies/optimizer_conditional.py --quick
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from torch import nn

import hpablate as hp
from hpablate import train as ht

space = hp.SearchSpace(
    hp.Float("lr", 1e-3, 1e-1, log=True, baseline=1e-2, levels=[1e-3, 1e-2, 1e-1]),
    hp.Categorical("optimizer", ["sgd", "adam"], baseline="adam"),
    hp.Float("momentum", 0.0, 0.95, baseline=0.9, levels=[0.0, 0.5, 0.9], when={"optimizer": "sgd"}),
    hp.Float("beta1", 0.5, 0.95, baseline=0.9, levels=[0.5, 0.9], when={"optimizer": "adam"}),
    hp.Float("beta2", 0.9, 0.999, baseline=0.999, levels=[0.9, 0.999], when={"optimizer": "adam"}),
)
direction = "maximize"
repeats = 3


def oat_design(space: hp.SearchSpace, repeats: int, seed: int) -> hp.PlanSampler:
    return hp.OneAtATimeSampler(space, repeats=repeats, seed=seed)


designs = {"oat": oat_design}


@dataclass(frozen=True)
class Settings:
    epochs: int
    n_train: int | None
    n_val: int | None


def settings() -> Settings:
    """Full runs: 8 epochs on the whole split; ``--quick``: 2 epochs on 300 samples."""
    return Settings(2, 300, 150) if ht.is_quick() else Settings(8, None, None)


def build_model() -> nn.Module:
    """64 pixels → 64 hidden units → 10 classes: small enough for seconds per trial on a CPU."""
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


@functools.lru_cache(maxsize=4)
def _data(n_train: int | None, n_val: int | None) -> ht.ClassificationData:
    data = ht.load_digits_data(image=False)
    return data.subset(n_train, n_val) if n_train or n_val else data


def optimizer_settings(config: dict) -> dict:
    """The trainer's optimizer arguments: momentum for SGD, betas for Adam (absent otherwise)."""
    if config["optimizer"] == "sgd":
        return {"optimizer": "sgd", "momentum": config["momentum"]}
    return {"optimizer": "adam", "betas": (config["beta1"], config["beta2"])}


def objective(trial) -> float:
    """Train the MLP with the configured optimizer; return validation accuracy (metrics recorded)."""
    config = space.suggest(trial)
    s = settings()
    result = ht.train_classifier(
        build_model, _data(s.n_train, s.n_val), trial=trial, epochs=s.epochs, batch_size=32, lr=config["lr"],
        **optimizer_settings(config),
    )
    return result.val_acc
