"""Trial bodies: a torch trainer, scikit-learn estimators, and the metrics they record.

Everything here takes an Optuna trial (or none) and returns plain results; metrics are written on
the trial as user attributes: the objective (e.g. ``val_acc``), ``train_loss``, ``train_time_s``,
``n_params``, ``per_class_acc`` and one ``acc_class_<k>`` per class.

Examples
--------
>>> from torch import nn
>>> import hpablate.train as ht
>>> data = ht.load_digits_data(image=False)
>>> res = ht.train_classifier(lambda: nn.Linear(64, 10), data, seed=0, epochs=1, device="cpu")
>>> 0.0 <= res.val_acc <= 1.0
True
"""

from __future__ import annotations

from hpablate.train import components
from hpablate.train._data import ClassificationData, load_digits_data, load_tabular
from hpablate.train._device import (
    DEVICE_ENV,
    THREADS_ENV,
    apply_thread_limit,
    available_cores,
    pick_device,
    threads_per_worker,
)
from hpablate.train._errors import FAIL_REASON_ATTR, DivergedError
from hpablate.train._metrics import (
    TrainResult,
    count_parameters,
    module_types,
    per_class_accuracy,
    record_metrics,
    record_train_result,
)
from hpablate.train._quick import QUICK_ENV, is_quick
from hpablate.train._seed import seed_everything
from hpablate.train._sklearn import CVResult, cross_validate_estimator
from hpablate.train._batched import train_replicates
from hpablate.train._torch import OPTIMIZERS, evaluate, make_optimizer, train_classifier

__all__ = [
    "CVResult",
    "ClassificationData",
    "DEVICE_ENV",
    "DivergedError",
    "FAIL_REASON_ATTR",
    "OPTIMIZERS",
    "QUICK_ENV",
    "THREADS_ENV",
    "TrainResult",
    "apply_thread_limit",
    "available_cores",
    "components",
    "count_parameters",
    "cross_validate_estimator",
    "evaluate",
    "is_quick",
    "load_digits_data",
    "load_tabular",
    "make_optimizer",
    "module_types",
    "per_class_accuracy",
    "pick_device",
    "record_metrics",
    "record_train_result",
    "seed_everything",
    "threads_per_worker",
    "train_classifier",
    "train_replicates",
]
