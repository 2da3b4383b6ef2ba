"""The torch trainer used by trial bodies.

Whole (small) datasets live as tensors on the device; each epoch draws one random permutation and
slices contiguous batches from the permuted tensors, so there is no per-sample ``DataLoader``
work. On CUDA the forward pass runs under bf16 autocast. Every epoch the validation accuracy is
reported to Optuna (pruners work), and a NaN/inf loss turns into :class:`DivergedError` with the
reason recorded on the trial.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import optuna
import torch
from torch import nn

from hpablate.train._data import ClassificationData
from hpablate.train._device import apply_thread_limit, pick_device
from hpablate.train._errors import FAIL_REASON_ATTR, DivergedError
from hpablate.train._metrics import TrainResult, count_parameters, per_class_accuracy, record_train_result
from hpablate.train._seed import seed_everything

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")


def make_optimizer(
    name: str, params: Any, lr: float, weight_decay: float = 0.0, momentum: float = 0.9,
    fused: bool = True, betas: tuple[float, float] | None = None,
) -> torch.optim.Optimizer:
    """Build an optimizer by name: ``sgd`` (with ``momentum``), ``adam``, ``adamw`` (with ``betas``,
    torch's default when None), ``rmsprop``.

    With ``fused`` the single-kernel implementation is used where torch has one for the
    parameters' device (same update rule, several times less per-step overhead for small models);
    otherwise, or when it is unavailable, the default implementation.
    """
    name = name.lower()
    params = list(params)
    if name == "sgd":
        cls, kw = torch.optim.SGD, {"momentum": momentum}
    elif name == "adam":
        cls, kw = torch.optim.Adam, {} if betas is None else {"betas": tuple(betas)}
    elif name == "adamw":
        cls, kw = torch.optim.AdamW, {} if betas is None else {"betas": tuple(betas)}
    elif name == "rmsprop":
        cls, kw = torch.optim.RMSprop, {}
    else:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {OPTIMIZERS}")
    if fused and cls is not torch.optim.RMSprop:
        try:
            return cls(params, lr=lr, weight_decay=weight_decay, fused=True, **kw)
        except (RuntimeError, ValueError, TypeError):
            pass
    return cls(params, lr=lr, weight_decay=weight_decay, **kw)


def _seed_of(trial: Any, seed: int | None) -> int:
    if seed is not None:
        return int(seed)
    if trial is None:
        return 0
    import hpablate as hp

    return int(hp.trial_seed(trial))


def _flat(logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sequence outputs (N, L, C) with targets (N, L) become (N*L, C) and (N*L,)."""
    if logits.dim() > 2:
        return logits.reshape(-1, logits.shape[-1]), target.reshape(-1)
    return logits, target


@torch.inference_mode()
def evaluate(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, n_classes: int, *, amp: bool = False,
    batch_size: int = 4096,
) -> tuple[float, float, list[float]]:
    """Accuracy, mean cross-entropy and per-class accuracy of ``model`` on ``(x, y)``.

    The whole split goes through in chunks of ``batch_size`` (one chunk for small data), in eval
    mode; the model's previous mode is restored.
    """
    was_training = model.training
    model.eval()
    preds, loss_sum, count = [], torch.zeros((), device=x.device, dtype=torch.float64), 0
    for i in range(0, len(x), batch_size):
        xb, yb = x[i : i + batch_size], y[i : i + batch_size]
        with torch.autocast(device_type=x.device.type, dtype=torch.bfloat16, enabled=amp):
            logits = model(xb)
        logits, yb = _flat(logits.float(), yb)
        loss_sum += nn.functional.cross_entropy(logits, yb, reduction="sum").double()
        count += yb.numel()
        preds.append(logits.argmax(dim=-1))
    model.train(was_training)
    pred = torch.cat(preds)
    target = y.reshape(-1)
    acc = float((pred == target).double().mean())
    return acc, float(loss_sum) / max(count, 1), per_class_accuracy(pred, target, n_classes)


def _has_pruner(trial: Any) -> bool:
    pruner = getattr(getattr(trial, "study", None), "pruner", None)
    return pruner is not None and not isinstance(pruner, optuna.pruners.NopPruner)


def _fail(trial: Any, message: str) -> DivergedError:
    if trial is not None:
        trial.set_user_attr(FAIL_REASON_ATTR, message)
    return DivergedError(message)


def train_classifier(
    build_model: Callable[[], nn.Module],
    data: ClassificationData,
    *,
    trial: optuna.trial.BaseTrial | None = None,
    seed: int | None = None,
    epochs: int = 10,
    batch_size: int = 64,
    optimizer: str = "adam",
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    momentum: float = 0.9,
    betas: tuple[float, float] | None = None,
    device: str | torch.device | None = None,
    amp: bool | None = None,
    channels_last: bool | None = None,
    report: bool | None = None,
    eval_every: int | None = None,
    prune: bool = True,
    record: bool = True,
    objective_name: str = "val_acc",
) -> TrainResult:
    """Train a classifier built by ``build_model`` on ``data`` and measure it.

    Parameters
    ----------
    build_model
        Zero-argument callable returning the model; called *after* seeding, so initial weights
        depend only on the seed. Outputs are logits ``(N, C)`` or ``(N, L, C)`` for sequences.
    data
        Train/validation tensors (moved to ``device`` once and cached).
    trial
        The Optuna trial: intermediate values are reported to it, pruning is honoured, metrics are
        recorded as user attributes, and its planned seed (``hp.trial_seed``) is used.
    seed
        Overrides the trial's seed (and is required for reproducibility without a trial).
    epochs, batch_size, optimizer, lr, weight_decay, momentum, betas
        Training settings; ``optimizer`` is one of ``sgd``, ``adam``, ``adamw``, ``rmsprop``;
        ``momentum`` is SGD's, ``betas`` Adam's/AdamW's (None: torch's default).
    device
        ``None`` picks ``cuda`` if available (or ``$HPABLATE_DEVICE``), else ``cpu``.
    amp
        bf16 autocast; default on for CUDA only.
    channels_last
        Store image batches (4-d inputs) and the model in channels-last memory format (same maths,
        much faster pooling and convolution kernels on CPU and tensor cores); default on for 4-d
        inputs.
    report
        Report the validation accuracy to Optuna after every epoch (``trial.report``), so pruners
        can stop the trial. The default (``None``) reports whenever the study has a pruner other
        than ``NopPruner``; with no pruner to read them the per-epoch values are still kept, as
        the ``val_acc_history`` user attribute (with ``eval_every``) written with the other
        metrics, one storage write instead of one per epoch.
    eval_every
        Evaluate on the validation split every so many epochs (and always after the last).
        Default: every epoch when reporting, else only after the last epoch (evaluation is then
        not paid for values nobody reads).
    prune
        Raise ``optuna.TrialPruned`` when the study's pruner says so.
    record
        Write the metrics (:func:`record_train_result`) on the trial.

    Returns
    -------
    TrainResult

    Raises
    ------
    DivergedError
        The training loss became NaN or infinite; the reason is first stored in the trial's
        ``hpablate.fail_reason`` user attribute so the trial is recorded as FAIL with it.

    Examples
    --------
    >>> from torch import nn
    >>> from hpablate.train import load_digits_data, train_classifier
    >>> data = load_digits_data(image=False)
    >>> res = train_classifier(lambda: nn.Linear(64, 10), data, seed=0, epochs=5, lr=1e-2, device="cpu")
    >>> res.val_acc > 0.8
    True
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    apply_thread_limit()
    dev = pick_device(device)
    use_amp = dev.type == "cuda" if amp is None else bool(amp and dev.type == "cuda")
    seed_value = _seed_of(trial, seed)
    gen = seed_everything(seed_value)
    data = data.to(dev)
    x, y = data.x_train, data.y_train
    x_val = data.x_val
    n = len(x)
    use_cl = (x.dim() == 4) if channels_last is None else bool(channels_last and x.dim() == 4)

    t0 = time.perf_counter()
    model = build_model().to(dev)
    if use_cl:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
        x_val = x_val.contiguous(memory_format=torch.channels_last)
    n_params = count_parameters(model)
    opt = make_optimizer(optimizer, model.parameters(), lr, weight_decay, momentum, betas=betas)
    loss_fn = nn.CrossEntropyLoss()
    history: list[float] = []
    can_report = trial is not None and (_has_pruner(trial) if report is None else bool(report))
    every = int(eval_every) if eval_every else (1 if can_report else epochs)
    if every < 1:
        raise ValueError(f"eval_every must be >= 1, got {eval_every}")
    train_loss = val_loss = math.nan
    acc, per_class = math.nan, []
    epoch = 0
    model.train()
    for epoch in range(1, epochs + 1):
        perm = torch.randperm(n, generator=gen).to(dev, non_blocking=True)
        xs, ys = x[perm], y[perm]
        loss_sum = torch.zeros((), device=dev)
        n_batches = 0
        for i in range(0, n, batch_size):
            xb, yb = xs[i : i + batch_size], ys[i : i + batch_size]
            with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=use_amp):
                logits = model(xb)
            loss = loss_fn(*_flat(logits.float(), yb))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.detach()
            n_batches += 1
        train_loss = float(loss_sum) / n_batches  # one sync per epoch
        if not math.isfinite(train_loss):
            raise _fail(
                trial,
                f"diverged: training loss is {train_loss} at epoch {epoch} "
                f"(optimizer={optimizer}, lr={lr:g}, batch_size={batch_size})",
            )
        if epoch % every and epoch != epochs:
            continue
        acc, val_loss, per_class = evaluate(model, x_val, data.y_val, data.n_classes, amp=use_amp)
        history.append(acc)
        if can_report:
            try:
                trial.report(acc, epoch)
            except NotImplementedError:  # multi-objective studies cannot report
                can_report = False
            else:
                if prune and trial.should_prune():
                    if record:
                        trial.set_user_attr("epochs_run", epoch)
                        trial.set_user_attr("val_acc_history", history)
                    raise optuna.TrialPruned(f"pruned at epoch {epoch} (val_acc={acc:.4f})")
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    elapsed = time.perf_counter() - t0
    if not math.isfinite(val_loss) and math.isnan(acc):
        raise _fail(trial, f"diverged: validation loss is {val_loss} after epoch {epoch}")
    result = TrainResult(
        val_acc=acc, train_loss=train_loss, val_loss=val_loss, train_time_s=elapsed,
        n_params=n_params, per_class_acc=per_class, epochs_run=epoch, history=history,
        device=str(dev),
    )
    if record and trial is not None:
        record_train_result(trial, result, objective_name)
    return result
