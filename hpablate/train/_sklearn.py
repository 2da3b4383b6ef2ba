"""scikit-learn trial bodies: cross-validated scores with the same metrics as the torch trainer."""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hpablate.train._device import THREADS_ENV
from hpablate.train._metrics import per_class_accuracy_np, record_metrics


@dataclass
class CVResult:
    """Cross-validation measurements of one configuration.

    Attributes
    ----------
    score
        Mean out-of-fold score (accuracy for classifiers, R² for regressors).
    score_std
        Standard deviation of the fold scores.
    fold_scores
        One score per fold.
    train_loss
        Mean in-fold training loss: log loss (classifiers with ``predict_proba``), else 1 - train
        accuracy; mean squared error for regressors.
    train_time_s
        Wall-clock seconds of all fits and predictions.
    n_params
        Size of the fitted model: total tree nodes for tree ensembles, number of coefficients for
        linear models (mean over folds); ``None`` when unknown.
    per_class_acc
        Out-of-fold recall per class (classifiers; empty for regressors).
    classes
        Class labels, in the order of ``per_class_acc``.
    """

    score: float
    score_std: float
    fold_scores: list[float]
    train_loss: float
    train_time_s: float
    n_params: int | None
    per_class_acc: list[float] = field(default_factory=list)
    classes: list[Any] = field(default_factory=list)


def estimator_size(estimator: Any) -> int | None:
    """Number of fitted parameters: tree nodes of (ensembles of) trees, or coefficients."""
    if hasattr(estimator, "tree_"):
        return int(estimator.tree_.node_count)
    if hasattr(estimator, "estimators_"):
        trees = np.asarray(estimator.estimators_, dtype=object).ravel()
        sizes = [estimator_size(t) for t in trees]
        if sizes and all(s is not None for s in sizes):
            return int(sum(sizes))
    if hasattr(estimator, "_predictors"):  # HistGradientBoosting
        return int(sum(p.nodes.shape[0] for it in estimator._predictors for p in it))
    if hasattr(estimator, "coef_"):
        n = np.size(estimator.coef_)
        return int(n + np.size(getattr(estimator, "intercept_", 0)))
    return None


def _prepare(estimator: Any, seed: int) -> Any:
    from sklearn.base import clone

    est = clone(estimator)
    params = est.get_params(deep=False)
    updates: dict[str, Any] = {}
    if "random_state" in params:
        updates["random_state"] = int(seed) % (2**32)
    threads = os.environ.get(THREADS_ENV)
    if "n_jobs" in params and params["n_jobs"] is None and threads:
        updates["n_jobs"] = max(1, int(threads))
    return est.set_params(**updates) if updates else est


def cross_validate_estimator(
    estimator: Any,
    x: np.ndarray,
    y: np.ndarray,
    *,
    trial: Any = None,
    seed: int | None = None,
    cv: int = 5,
    record: bool = True,
    objective_name: str | None = None,
) -> CVResult:
    """K-fold cross-validate an (unfitted) estimator and record the metrics on ``trial``.

    The estimator is cloned; its ``random_state`` and the fold shuffling come from the trial's
    planned seed (``hp.trial_seed``) or ``seed``. Classifiers use stratified folds and accuracy;
    regressors use plain folds and R².

    Parameters
    ----------
    estimator
        A scikit-learn estimator (unfitted).
    x, y
        Data.
    trial
        Optuna trial to record ``cv_accuracy`` / ``cv_r2`` (or ``objective_name``),
        ``cv_std``, ``train_loss``, ``train_time_s``, ``n_params`` and per-class accuracy on.
    seed
        Overrides the trial's seed.
    cv
        Number of folds.

    Returns
    -------
    CVResult

    Examples
    --------
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> from hpablate.train import cross_validate_estimator, load_tabular
    >>> x, y = load_tabular("wine")
    >>> r = cross_validate_estimator(RandomForestClassifier(n_estimators=10), x, y, seed=0, cv=3)
    >>> r.score > 0.8
    True
    """
    from sklearn.base import is_classifier
    from sklearn.metrics import log_loss, mean_squared_error, r2_score
    from sklearn.model_selection import KFold, StratifiedKFold

    if seed is None:
        if trial is None:
            seed = 0
        else:
            import hpablate as hp

            seed = int(hp.trial_seed(trial))
    x = np.asarray(x)
    y = np.asarray(y)
    classify = is_classifier(estimator)
    splitter_cls = StratifiedKFold if classify else KFold
    splitter = splitter_cls(n_splits=cv, shuffle=True, random_state=int(seed) % (2**32))
    classes = list(np.unique(y)) if classify else []
    oof = np.empty_like(y)
    scores, losses, sizes = [], [], []
    t0 = time.perf_counter()
    for fold, (tr, te) in enumerate(splitter.split(x, y)):
        est = _prepare(estimator, int(seed) + fold)
        est.fit(x[tr], y[tr])
        pred = est.predict(x[te])
        oof[te] = pred
        if classify:
            scores.append(float(np.mean(pred == y[te])))
            if hasattr(est, "predict_proba"):
                losses.append(float(log_loss(y[tr], est.predict_proba(x[tr]), labels=est.classes_)))
            else:
                losses.append(float(1.0 - np.mean(est.predict(x[tr]) == y[tr])))
        else:
            scores.append(float(r2_score(y[te], pred)))
            losses.append(float(mean_squared_error(y[tr], est.predict(x[tr]))))
        sizes.append(estimator_size(est))
    elapsed = time.perf_counter() - t0
    per_class = per_class_accuracy_np(oof, y, classes) if classify else []
    n_params = int(round(np.mean(sizes))) if sizes and all(s is not None for s in sizes) else None
    result = CVResult(
        score=float(np.mean(scores)), score_std=float(np.std(scores, ddof=1)) if cv > 1 else math.nan,
        fold_scores=scores, train_loss=float(np.mean(losses)), train_time_s=elapsed,
        n_params=n_params, per_class_acc=per_class, classes=[c.item() if hasattr(c, "item") else c for c in classes],
    )
    if record and trial is not None:
        name = objective_name or ("cv_accuracy" if classify else "cv_r2")
        record_metrics(
            trial, objective_name=name, objective=result.score, train_loss=result.train_loss,
            train_time_s=result.train_time_s, n_params=result.n_params,
            per_class_acc=per_class if classify else None, class_names=result.classes,
            cv_std=result.score_std, cv_fold_scores=result.fold_scores,
        )
    return result
