"""Whole-study throughput: the digits CNN study run by hpablate vs the loop a user would write.

Both sides run the same planned configurations (the study's design, every replicate) with the
same model code (``studies/digits_cnn.py``), the same epochs and the same data, and report the
validation accuracy they reach.

* **baseline**, the loop a user would write: data loaded once, then for each configuration
  ``torch.manual_seed(seed)``, ``DataLoader(TensorDataset(x, y), batch_size=..., shuffle=True)``,
  ``torch.optim`` defaults, torch's default number of threads, one trial at a time, evaluated
  once after the last epoch, no storage at all (nothing is slowed down on purpose);
* **hpablate**: ``hp.create_study`` on a SQLite file + ``hp.run(n_workers=W)`` with the study's
  ``objective`` (whole-tensor batches, channels-last images, fused optimizer, threads pinned per
  worker, every metric written to the storage), including worker start-up.

Usage::

    python benchmarks/trainer_speed.py                 # CPU: workers = cores
    python benchmarks/trainer_speed.py --quick         # a smoke run
    python benchmarks/trainer_speed.py --device cuda --workers 4

Prints seconds per trial, trials/hour and mean accuracy of each side and their ratios, plus the
load average. Other processes on the machine slow the multi-threaded baseline most (its OpenMP
threads wait for each other), so the baseline is also timed with one thread, and the ratio is
also given against the faster of the two baselines: that one is the honest headline number on a
shared machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def baseline_trial(module, config: dict, seed: int, data, epochs: int, device: str) -> float:
    """One trial the way a user writes it (the optuna-examples PyTorch loop, minus reporting)."""
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(seed)
    model = module.build_model(config).to(device)
    if config["optimizer"] == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=config["lr"], momentum=0.9, weight_decay=config["weight_decay"])
    else:
        opt = torch.optim.Adam(model.parameters(), lr=config["lr"], weight_decay=config["weight_decay"])
    train_loader = DataLoader(TensorDataset(data.x_train, data.y_train), batch_size=config["batch_size"], shuffle=True)
    val_loader = DataLoader(TensorDataset(data.x_val, data.y_val), batch_size=config["batch_size"])
    for _ in range(epochs):
        model.train()
        for xb, yb in train_loader:
            xb, yb = xb.to(device), yb.to(device)
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
    model.eval()
    correct = 0
    with torch.no_grad():
        for xb, yb in val_loader:
            correct += (model(xb.to(device)).argmax(1) == yb.to(device)).sum().item()
    return correct / len(data.y_val)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--design", default="oat", help="design of studies/digits_cnn.py to run (default oat)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None, help="hpablate workers (default: CPU cores, or 4 on a GPU)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    parser.add_argument("--quick", action="store_true", help="2 epochs on 400 samples: a smoke run")
    parser.add_argument("--order", choices=["baseline-first", "hpablate-first"], default="baseline-first")
    args = parser.parse_args(argv)

    if args.quick:
        os.environ["HPABLATE_QUICK"] = "1"
    import optuna
    import torch

    import hpablate as hp
    from hpablate.cli._run import load_study_file
    from hpablate.train import available_cores, pick_device

    device = str(pick_device(args.device))
    os.environ["HPABLATE_DEVICE"] = device
    workers = args.workers or (4 if device.startswith("cuda") else available_cores())
    sf = load_study_file(ROOT / "studies" / "digits_cnn.py")
    module = sf.module
    settings = module.settings()
    data = module._data(settings.n_train, settings.n_val)
    sampler = sf.designs[args.design](sf.space, args.repeats, 0)
    plan = sampler.plan
    configs = [({name: row[name] for name in sf.space.names}, int(row["seed"])) for _, row in plan.iterrows()]
    configs = [({k: (v.item() if hasattr(v, "item") else v) for k, v in c.items()}, s) for c, s in configs]
    n = len(configs)
    default_threads = torch.get_num_threads()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    print(
        f"digits CNN study, design {args.design}: {n} trials ({args.repeats} replicates), {settings.epochs} epochs, "
        f"{len(data.x_train)} training samples, device {device}, {available_cores()} cores"
    )
    print(f"load average before: {os.getloadavg()[0]:.2f}")

    def run_baseline(threads: int) -> tuple[float, list[float]]:
        torch.set_num_threads(threads)
        t0 = time.perf_counter()
        accs = [baseline_trial(module, c, s, data, settings.epochs, device) for c, s in configs]
        elapsed = time.perf_counter() - t0
        torch.set_num_threads(default_threads)
        return elapsed, accs

    def run_hpablate() -> tuple[float, list[float]]:
        with tempfile.TemporaryDirectory() as tmp:
            storage = f"sqlite:///{Path(tmp) / 'bench.db'}"
            t0 = time.perf_counter()
            study = hp.create_study(
                sf.space, sf.designs[args.design](sf.space, args.repeats, 0), storage=storage,
                study_name="bench", direction="maximize", pruner=optuna.pruners.NopPruner(),
            )
            summary = hp.run(study, sf.objective, n_workers=workers)
            elapsed = time.perf_counter() - t0
            trials = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
            if summary.completed != n:
                raise SystemExit(f"hpablate completed {summary.completed} of {n} trials")
            return elapsed, [t.value for t in trials]

    results = {}
    sides = ["baseline", "hpablate"] if args.order == "baseline-first" else ["hpablate", "baseline"]
    if default_threads != 1 and not device.startswith("cuda"):
        sides.append("baseline-1thread")
    for side in sides:
        if side == "hpablate":
            results[side] = run_hpablate()
        else:
            results[side] = run_baseline(1 if side == "baseline-1thread" else default_threads)
        print(f"  {side} done in {results[side][0]:.1f} s (load average {os.getloadavg()[0]:.2f})")

    mean = lambda v: sum(v) / len(v)  # noqa: E731
    labels = {
        "baseline": f"baseline (DataLoader, {default_threads} thr, 1 at a time)",
        "baseline-1thread": "baseline (DataLoader, 1 thr, 1 at a time)",
        "hpablate": f"hpablate ({workers} workers)",
    }
    print()
    print(f"{'':42s} {'s/trial':>8s} {'trials/h':>9s} {'mean acc':>9s}")
    for side in ("baseline", "baseline-1thread", "hpablate"):
        if side in results:
            t, accs = results[side]
            print(f"{labels[side]:42s} {t / n:8.3f} {3600 * n / t:9.0f} {mean(accs):9.4f}")
    th, acch = results["hpablate"]
    tb, accb = results["baseline"]
    print()
    print(f"throughput ratio vs the default-threads baseline: {tb / th:.2f}x  (accuracy {mean(acch) - mean(accb):+.4f})")
    best = min((results[s][0], s) for s in results if s != "hpablate")
    print(f"throughput ratio vs the faster baseline ({best[1]}): {best[0] / th:.2f}x")
    target = 4.0 if device.startswith("cuda") else 1.5
    print(f"target >= {target}x vs the faster baseline: {'met' if best[0] / th >= target else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
