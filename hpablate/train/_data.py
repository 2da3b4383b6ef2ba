"""Small datasets held as whole tensors (on the training device), loaded once per process."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import torch


@dataclass
class ClassificationData:
    """A train/validation split held as whole tensors.

    Trainers draw shuffled index batches from these tensors instead of iterating a per-sample
    ``DataLoader``; :meth:`to` moves (and caches) a copy on a device so a worker moves the data
    once, not once per trial.

    Parameters
    ----------
    x_train, y_train, x_val, y_val
        Inputs (any float shape with the sample axis first) and integer targets. Targets may have
        extra axes (sequence tasks: one class per position).
    n_classes
        Number of classes; inferred from the targets when omitted.
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    n_classes: int = 0
    _on: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.x_train) != len(self.y_train) or len(self.x_val) != len(self.y_val):
            raise ValueError("inputs and targets must have the same number of samples")
        if not self.n_classes:
            self.n_classes = int(max(self.y_train.max(), self.y_val.max())) + 1

    @property
    def device(self) -> torch.device:
        return self.x_train.device

    def to(self, device: torch.device | str) -> "ClassificationData":
        """This data on ``device`` (a cached copy; ``self`` when it is already there)."""
        device = torch.device(device)
        if device == self.device or (device.type == self.device.type and device.index is None):
            return self
        key = str(device)
        if key not in self._on:
            self._on[key] = ClassificationData(
                self.x_train.to(device), self.y_train.to(device),
                self.x_val.to(device), self.y_val.to(device), self.n_classes,
            )
        return self._on[key]

    @classmethod
    def from_numpy(
        cls, x: np.ndarray, y: np.ndarray, *, val_fraction: float = 0.2, seed: int = 0,
        stratify: bool = True, n_classes: int = 0,
    ) -> "ClassificationData":
        """Split arrays into train/validation (fixed ``seed``, stratified) and wrap them."""
        from sklearn.model_selection import train_test_split

        strat = y if stratify and y.ndim == 1 else None
        xtr, xva, ytr, yva = train_test_split(
            x, y, test_size=val_fraction, random_state=seed, stratify=strat
        )
        return cls(
            torch.as_tensor(np.ascontiguousarray(xtr), dtype=torch.float32),
            torch.as_tensor(np.ascontiguousarray(ytr), dtype=torch.long),
            torch.as_tensor(np.ascontiguousarray(xva), dtype=torch.float32),
            torch.as_tensor(np.ascontiguousarray(yva), dtype=torch.long),
            n_classes,
        )

    def subset(self, n_train: int | None = None, n_val: int | None = None) -> "ClassificationData":
        """The first ``n_train`` / ``n_val`` samples (splits are already shuffled): for quick runs."""
        return ClassificationData(
            self.x_train[:n_train], self.y_train[:n_train], self.x_val[:n_val], self.y_val[:n_val],
            self.n_classes,
        )


@functools.lru_cache(maxsize=8)
def load_digits_data(*, image: bool = True, val_fraction: float = 0.2, seed: int = 0) -> ClassificationData:
    """scikit-learn's 8×8 digits, scaled to [0, 1]; shape (N, 1, 8, 8) if ``image`` else (N, 64).

    Cached per process, so concurrent or consecutive trials in a worker never reload it.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.data / 16.0).astype(np.float32)
    if image:
        x = x.reshape(-1, 1, 8, 8)
    return ClassificationData.from_numpy(x, bunch.target, val_fraction=val_fraction, seed=seed, n_classes=10)


@functools.lru_cache(maxsize=8)
def load_tabular(name: str) -> tuple[np.ndarray, np.ndarray]:
    """A scikit-learn bundled dataset as ``(X, y)`` arrays: breast_cancer, wine, digits, diabetes, iris."""
    from sklearn import datasets

    loaders = {
        "breast_cancer": datasets.load_breast_cancer,
        "wine": datasets.load_wine,
        "digits": datasets.load_digits,
        "diabetes": datasets.load_diabetes,
        "iris": datasets.load_iris,
    }
    if name not in loaders:
        raise ValueError(f"unknown dataset {name!r}; choose one of {sorted(loaders)}")
    x, y = loaders[name](return_X_y=True)
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y
