"""A small CNN on scikit-learn's 8×8 digits: training settings and model structure.

Two designs, as an ablation section of a paper would have them:

* ``oat``: one-at-a-time sweeps of the learning rate, batch size, weight decay and optimizer
  (SGD vs Adam) around the baseline, the model fixed;
* ``structural``: leave-one-component-out over dropout, the normalisation (batch norm → layer
  norm / none) and the second convolution block, the training settings fixed.

Every trial records validation accuracy (the objective), per-class accuracy, final training loss,
training time and the parameter count. Run it with::

    hpablate run studies/digits_cnn.py --design all --quick
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from torch import nn

import hpablate as hp
from hpablate import train as ht
from hpablate.train import components as C

space = hp.SearchSpace(
    hp.Float("lr", 1e-4, 1e-1, log=True, baseline=1e-3, levels=[1e-4, 1e-3, 1e-2, 1e-1]),
    hp.Int("batch_size", 16, 256, log=True, baseline=64, levels=[32, 64, 128]),
    hp.Float("weight_decay", 0.0, 1e-2, baseline=0.0, levels=[0.0, 1e-4, 1e-3, 1e-2]),
    hp.Categorical("optimizer", ["sgd", "adam"], baseline="adam"),
    hp.Component("dropout", baseline=True),
    hp.Component("norm", choices=["batch", "layer", "none"], baseline="batch"),
    hp.Component("conv2", baseline=True),
)
direction = "maximize"
repeats = 3
TRAINING = ["lr", "batch_size", "weight_decay", "optimizer"]


def oat_design(space: hp.SearchSpace, repeats: int, seed: int) -> hp.PlanSampler:
    return hp.OneAtATimeSampler(space, params=TRAINING, repeats=repeats, seed=seed)


def structural_design(space: hp.SearchSpace, repeats: int, seed: int) -> hp.PlanSampler:
    return hp.StructuralAblationSampler(space, mode="leave_one_out", repeats=repeats, seed=seed)


designs = {"oat": oat_design, "structural": structural_design}


@dataclass(frozen=True)
class Settings:
    epochs: int
    n_train: int | None
    n_val: int | None


def settings() -> Settings:
    """Full runs: 10 epochs on the whole split; ``--quick``: 2 epochs on 400 samples."""
    return Settings(2, 400, 200) if ht.is_quick() else Settings(10, None, None)


class DigitsCNN(nn.Module):
    """conv(16) → [conv(32)] → max-pool → dropout → fc(64) → dropout → fc(10).

    Removing a component removes real modules: ``dropout=False`` puts ``nn.Identity`` where the
    dropout layers were, ``norm="none"`` drops the normalisation layers (and gives the
    convolutions biases), ``conv2=False`` drops the second convolution block.
    """

    def __init__(self, dropout: bool = True, norm: str = "batch", conv2: bool = True, width: int = 16):
        super().__init__()
        has_norm = C.is_on(norm)
        out = 2 * width if conv2 else width
        self.block1 = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1, bias=not has_norm), C.norm(norm, width, layout="image"), nn.ReLU()
        )
        self.block2 = C.maybe(
            nn.Sequential(
                nn.Conv2d(width, out, 3, padding=1, bias=not has_norm), C.norm(norm, out, layout="image"), nn.ReLU()
            ),
            conv2,
        )
        self.pool = nn.MaxPool2d(2)
        self.head = nn.Sequential(
            nn.Flatten(),
            C.dropout(dropout, 0.25),
            nn.Linear(out * 16, 64),
            nn.ReLU(),
            C.dropout(dropout, 0.25),
            nn.Linear(64, 10),
        )

    def forward(self, x):
        return self.head(self.pool(self.block2(self.block1(x))))


def build_model(config: dict) -> nn.Module:
    """The model a trial's configuration describes."""
    return DigitsCNN(dropout=config["dropout"], norm=config["norm"], conv2=config["conv2"])


@functools.lru_cache(maxsize=4)
def _data(n_train: int | None, n_val: int | None) -> ht.ClassificationData:
    data = ht.load_digits_data(image=True)
    return data.subset(n_train, n_val) if n_train or n_val else data


def objective(trial) -> float:
    """Train the configured CNN; return validation accuracy (metrics recorded on the trial)."""
    config = space.suggest(trial)
    s = settings()
    result = ht.train_classifier(
        functools.partial(build_model, config),
        _data(s.n_train, s.n_val),
        trial=trial,
        epochs=s.epochs,
        batch_size=config["batch_size"],
        optimizer=config["optimizer"],
        lr=config["lr"],
        weight_decay=config["weight_decay"],
    )
    return result.val_acc
