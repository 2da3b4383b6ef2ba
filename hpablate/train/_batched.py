"""Replicates of one configuration trained together: ``stack_module_state`` + ``vmap``.

Replicates of the same architecture and training settings differ only in their seed, so their
weights can be stacked along a new leading axis and trained as one batched model: one kernel
launch per layer for all replicates instead of one each. This is how a GPU is kept busy by
models far too small to fill it. Each replicate keeps its own initial weights (built after
seeding with its own seed, exactly as :func:`train_classifier` builds them), its own batch order
and its own optimizer state (the optimizers are elementwise, so one optimizer over the stacked
weights is the same as one per replicate). Dropout masks are drawn per replicate but from one
stream, so a replicate with dropout is not bit-identical to its one-at-a-time run.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence

import torch
from torch import nn

from hpablate.train._data import ClassificationData
from hpablate.train._device import apply_thread_limit, pick_device
from hpablate.train._errors import DivergedError
from hpablate.train._metrics import TrainResult, count_parameters, per_class_accuracy
from hpablate.train._seed import seed_everything
from hpablate.train._torch import make_optimizer


def train_replicates(
    build_model: Callable[[], nn.Module],
    data: ClassificationData,
    seeds: Sequence[int],
    *,
    epochs: int = 10,
    batch_size: int = 64,
    optimizer: str = "adam",
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    momentum: float = 0.9,
    device: str | torch.device | None = None,
    amp: bool | None = None,
) -> list[TrainResult | DivergedError]:
    """Train one replicate per seed of the same configuration, batched with ``torch.func.vmap``.

    Parameters
    ----------
    build_model
        Zero-argument callable returning the model (called once per seed, after seeding).
    data
        Train/validation tensors.
    seeds
        One seed per replicate.
    epochs, batch_size, optimizer, lr, weight_decay, momentum, device, amp
        As in :func:`train_classifier`.

    Returns
    -------
    list
        Per seed, a :class:`TrainResult` (``train_time_s`` is the batch's time divided by the
        number of replicates), or a :class:`DivergedError` for a replicate whose loss became
        NaN/inf (the others are unaffected: their weights are separate slices).

    Examples
    --------
    >>> from torch import nn
    >>> from hpablate.train import load_digits_data, train_replicates
    >>> data = load_digits_data(image=False)
    >>> res = train_replicates(lambda: nn.Linear(64, 10), data, [0, 1, 2], epochs=1, device="cpu")
    >>> len(res)
    3
    """
    from torch.func import functional_call, stack_module_state, vmap

    if not seeds:
        return []
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    apply_thread_limit()
    dev = pick_device(device)
    use_amp = dev.type == "cuda" if amp is None else bool(amp and dev.type == "cuda")
    data = data.to(dev)
    x, y, x_val, y_val = data.x_train, data.y_train, data.x_val, data.y_val
    n, k = len(x), len(seeds)

    t0 = time.perf_counter()
    models, gens = [], []
    for seed in seeds:
        gens.append(seed_everything(int(seed)))
        models.append(build_model().to(dev))
    n_params = count_parameters(models[0])
    params, buffers = stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")
    del models

    def forward(p: dict, b: dict, xb: torch.Tensor) -> torch.Tensor:
        return functional_call(base, (p, b), (xb,))

    batched = vmap(forward, randomness="different")
    opt = make_optimizer(optimizer, list(params.values()), lr, weight_decay, momentum)
    diverged: dict[int, str] = {}
    losses = torch.zeros(k, device=dev)
    base.train()
    for epoch in range(1, epochs + 1):
        perms = torch.stack([torch.randperm(n, generator=g) for g in gens]).to(dev)
        xs, ys = x[perms], y[perms]  # (k, n, ...)
        loss_sum = torch.zeros(k, device=dev)
        n_batches = 0
        for i in range(0, n, batch_size):
            xb, yb = xs[:, i : i + batch_size], ys[:, i : i + batch_size]
            with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=use_amp):
                logits = batched(params, buffers, xb)
            logits = logits.float()
            per = nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), yb.reshape(-1), reduction="none"
            ).view(k, -1).mean(dim=1)
            opt.zero_grad(set_to_none=True)
            per.sum().backward()
            opt.step()
            loss_sum += per.detach()
            n_batches += 1
        losses = loss_sum / n_batches
        for r, value in enumerate(losses.tolist()):
            if r not in diverged and not math.isfinite(value):
                diverged[r] = (
                    f"diverged: training loss is {value} at epoch {epoch} "
                    f"(optimizer={optimizer}, lr={lr:g}, batch_size={batch_size})"
                )
        if len(diverged) == k:
            break

    base.eval()
    with torch.inference_mode():
        xv = x_val.unsqueeze(0).expand(k, *x_val.shape)
        with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=use_amp):
            logits = vmap(forward, randomness="different")(params, buffers, xv)
        logits = logits.float()
        val_losses = nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), y_val.repeat(k, *([1] * (y_val.dim() - 1))).reshape(-1),
            reduction="none",
        ).view(k, -1).mean(dim=1)
        preds = logits.argmax(dim=-1)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    elapsed = (time.perf_counter() - t0) / k
    out: list[TrainResult | DivergedError] = []
    for r in range(k):
        if r in diverged:
            out.append(DivergedError(diverged[r]))
            continue
        pred = preds[r].reshape(-1)
        target = y_val.reshape(-1)
        acc = float((pred == target).double().mean())
        out.append(
            TrainResult(
                val_acc=acc, train_loss=float(losses[r]), val_loss=float(val_losses[r]), train_time_s=elapsed,
                n_params=n_params, per_class_acc=per_class_accuracy(pred, target, data.n_classes),
                epochs_run=epoch, history=[acc], device=str(dev),
            )
        )
    return out
