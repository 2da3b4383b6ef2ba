"""Metrics computed by trial bodies and recorded on the Optuna trial as user attributes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn


@dataclass
class TrainResult:
    """What one training run measured.

    Attributes
    ----------
    val_acc
        Accuracy on the validation split after the last epoch (the usual objective).
    train_loss
        Mean training loss over the last epoch.
    val_loss
        Mean validation loss after the last epoch.
    train_time_s
        Wall-clock seconds of the whole fit (training and per-epoch evaluation).
    n_params
        Number of trainable parameters of the model.
    per_class_acc
        Validation accuracy (recall) per class, index = class; NaN for a class with no samples.
    epochs_run
        Epochs completed (fewer than asked when a pruner stopped the trial).
    history
        Validation accuracy after each evaluated epoch (every epoch when reporting to a pruner).
    """

    val_acc: float
    train_loss: float
    val_loss: float
    train_time_s: float
    n_params: int
    per_class_acc: list[float]
    epochs_run: int
    history: list[float] = field(default_factory=list)
    device: str = "cpu"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters of ``model``."""
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only))


def module_types(model: nn.Module) -> list[str]:
    """Class names of every sub-module, in order: tests use it to see a component was removed."""
    return [type(m).__name__ for m in model.modules()]


def per_class_accuracy(pred: torch.Tensor, target: torch.Tensor, n_classes: int) -> list[float]:
    """Recall of each class: correct predictions of class k / samples of class k (NaN if none)."""
    pred = pred.reshape(-1)
    target = target.reshape(-1)
    total = torch.bincount(target, minlength=n_classes)[:n_classes].double()
    hits = torch.bincount(target[pred == target], minlength=n_classes)[:n_classes].double()
    acc = hits / total
    return [float(v) for v in acc.cpu()]


def per_class_accuracy_np(pred: np.ndarray, target: np.ndarray, labels: Sequence[Any]) -> list[float]:
    """NumPy version of :func:`per_class_accuracy` for arbitrary class labels."""
    out = []
    for lab in labels:
        mask = target == lab
        out.append(float(np.mean(pred[mask] == lab)) if mask.any() else float("nan"))
    return out


def _clean(value: Any) -> Any:
    """JSON-safe value: numpy scalars to Python, NaN kept as None-free float (Optuna stores JSON)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def record_metrics(
    trial: Any,
    *,
    objective_name: str | None = None,
    objective: float | None = None,
    train_loss: float | None = None,
    train_time_s: float | None = None,
    n_params: int | None = None,
    per_class_acc: Sequence[float] | Mapping[Any, float] | None = None,
    class_names: Sequence[Any] | None = None,
    **extra: Any,
) -> None:
    """Write the standard metrics on ``trial`` as user attributes.

    Names written (each only when given): ``<objective_name>`` (e.g. ``val_acc``), ``train_loss``,
    ``train_time_s``, ``n_params``, ``per_class_acc`` (a dict class -> accuracy) and, for each
    class, a flat ``acc_class_<class>`` (so ``trials_dataframe`` has one column per class), plus
    any ``extra`` keyword (numbers, strings or lists).
    """
    attrs: dict[str, Any] = {}
    if objective_name is not None and objective is not None:
        attrs[objective_name] = float(objective)
    if train_loss is not None:
        attrs["train_loss"] = float(train_loss)
    if train_time_s is not None:
        attrs["train_time_s"] = float(train_time_s)
    if n_params is not None:
        attrs["n_params"] = int(n_params)
    if per_class_acc is not None:
        if isinstance(per_class_acc, Mapping):
            items = [(str(k), v) for k, v in per_class_acc.items()]
        else:
            names = class_names if class_names is not None else range(len(per_class_acc))
            items = [(str(k), v) for k, v in zip(names, per_class_acc)]
        attrs["per_class_acc"] = {k: _clean(float(v)) for k, v in items}
        for k, v in items:
            attrs[f"acc_class_{k}"] = _clean(float(v))
    for key, value in extra.items():
        if isinstance(value, (list, tuple)):
            attrs[key] = [_clean(v) for v in value]
        else:
            attrs[key] = _clean(value)
    write_user_attrs(trial, attrs)


def write_user_attrs(trial: Any, attrs: Mapping[str, Any]) -> None:
    """Set several user attributes on ``trial``, in one storage transaction where possible.

    Optuna writes one attribute per transaction (milliseconds each on SQLite, which adds up to a
    large share of a small trial); an :class:`optuna.Trial` on a storage gets them in one batch,
    and its cached copy is updated so ``trial.user_attrs`` sees them. Other trial types
    (``FixedTrial``, frozen trials) get ``set_user_attr`` per key.
    """
    storage = getattr(getattr(trial, "study", None), "_storage", None)
    cached = getattr(trial, "_cached_frozen_trial", None)
    trial_id = getattr(trial, "_trial_id", None)
    if storage is not None and cached is not None and trial_id is not None:
        from hpablate._storage import write_trial_user_attrs

        write_trial_user_attrs(storage, trial_id, attrs)
        cached.user_attrs.update(attrs)
        return
    for key, value in attrs.items():
        trial.set_user_attr(key, value)


def record_train_result(trial: Any, result: TrainResult, objective_name: str = "val_acc") -> None:
    """Record a :class:`TrainResult` on ``trial`` (see :func:`record_metrics` for the names)."""
    record_metrics(
        trial,
        objective_name=objective_name,
        objective=result.val_acc,
        train_loss=result.train_loss,
        train_time_s=result.train_time_s,
        n_params=result.n_params,
        per_class_acc=result.per_class_acc,
        val_loss=result.val_loss,
        epochs_run=result.epochs_run,
        device=result.device,
        val_acc_history=result.history,
    )
