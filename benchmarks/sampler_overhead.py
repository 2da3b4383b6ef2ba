"""Per-trial overhead of hpablate's plan samplers vs Optuna's samplers, side by side in one run.

For each sampler the same trivial objective (suggest every parameter, return their sum) runs on
one study; the cost per trial is measured over a window of trials ending at each checkpoint
(default 500 and 5,000 trials), in memory and on SQLite. The plan samplers' plans hold at least
5,000 slots; GridSampler and BruteForceSampler run on the same 5,000-point grid as the
GridCombinationSampler. A sampler slower than ``--budget`` seconds for one window is stopped and
shown as ``>`` its last rate and where it stopped.

    python benchmarks/sampler_overhead.py             # 500 and 5,000 trials (about 20 min)
    python benchmarks/sampler_overhead.py --quick     # 100 and 1,000 trials
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable

import optuna

import hpablate as hp

optuna.logging.set_verbosity(optuna.logging.ERROR)

SPACE = hp.SearchSpace(
    hp.Float("lr", 1e-4, 1e-1, log=True, baseline=1e-2, levels=[1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 1e-1]),
    hp.Categorical("batch_size", [8, 16, 24, 32, 48, 64, 96, 128, 192, 256], baseline=64),
    hp.Int("width", 10, 100, step=10, baseline=50, levels=list(range(10, 101, 10))),
    hp.Categorical("optimizer", ["sgd", "adam", "rmsprop", "adamw", "lion"], baseline="adam"),
    hp.Component("dropout", baseline=True),
    hp.Component("norm", choices=["batch", "layer", "none"], baseline="batch"),
)
GRID_GROUP = ("lr", "batch_size", "width", "optimizer")  # 10 * 10 * 10 * 5 = 5,000 points


def objective(trial: optuna.Trial) -> float:
    config = SPACE.suggest(trial)
    return config["lr"] + config["batch_size"] + config["width"] + len(config["optimizer"])


def grid_search_space() -> dict[str, list]:
    return {name: SPACE[name].levels for name in GRID_GROUP} | {
        name: [SPACE.baseline[name]] for name in SPACE.names if name not in GRID_GROUP
    }


def samplers(n_max: int) -> dict[str, Callable[[], optuna.samplers.BaseSampler]]:
    oat_configs = hp.OneAtATimeSampler(SPACE, repeats=1).n_slots
    structural_configs = hp.StructuralAblationSampler(SPACE, repeats=1).n_slots
    return {
        "OneAtATimeSampler": lambda: hp.OneAtATimeSampler(SPACE, repeats=-(-n_max // oat_configs)),
        "GridCombinationSampler": lambda: hp.GridCombinationSampler(SPACE, groups=[GRID_GROUP], repeats=-(-n_max // 5000)),
        "StructuralAblationSampler": lambda: hp.StructuralAblationSampler(SPACE, repeats=-(-n_max // structural_configs)),
        "MorrisSampler": lambda: hp.MorrisSampler(SPACE, trajectories=-(-n_max // (len(SPACE) + 1)), seed=0),
        "RandomSampler": lambda: optuna.samplers.RandomSampler(seed=0),
        "GridSampler": lambda: optuna.samplers.GridSampler(grid_search_space(), seed=0),
        "BruteForceSampler": lambda: optuna.samplers.BruteForceSampler(seed=0),
    }


def brute_force_objective(trial: optuna.Trial) -> float:
    # BruteForceSampler enumerates what the objective suggests: suggest the grid as categoricals
    values = {name: trial.suggest_categorical(name, levels) for name, levels in grid_search_space().items()}
    return values["lr"] + values["batch_size"] + values["width"] + len(values["optimizer"])


def measure(make_sampler, storage, checkpoints: list[int], window: int, budget: float, name: str) -> dict[int, str]:
    sampler = make_sampler()
    study = optuna.create_study(storage=storage, sampler=sampler, study_name=name)
    func = brute_force_objective if name == "BruteForceSampler" else objective
    results: dict[int, str] = {}
    done = 0
    for checkpoint in checkpoints:
        while done < checkpoint - window:  # reach the window in chunks; give up if too slow
            chunk = min(window, checkpoint - window - done)
            start = time.perf_counter()
            study.optimize(func, n_trials=chunk)
            done += chunk
            if time.perf_counter() - start > budget:
                results[checkpoint] = f">{1000 * (time.perf_counter() - start) / chunk:.0f} at N={done}"
                return results
        start = time.perf_counter()
        study.optimize(func, n_trials=window)
        elapsed = time.perf_counter() - start
        done = checkpoint
        results[checkpoint] = f"{1000 * elapsed / window:.2f}"
        if elapsed > budget:
            break
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="checkpoints 100 and 1,000")
    parser.add_argument("--window", type=int, default=100, help="trials per measurement window")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds per window before giving up")
    parser.add_argument("--storages", default="memory,sqlite")
    args = parser.parse_args()
    checkpoints = [100, 1000] if args.quick else [500, 5000]
    window = min(args.window, checkpoints[0])
    print(f"ms per trial over the {window} trials ending at each checkpoint (lower is better)\n")
    for storage_name in args.storages.split(","):
        tmp = tempfile.mkdtemp()
        rows = {}
        for name, make in samplers(checkpoints[-1]).items():
            storage = None if storage_name == "memory" else f"sqlite:///{os.path.join(tmp, name + '.db')}"
            rows[name] = measure(make, storage, checkpoints, window, args.budget, name)
            print(f"  [{storage_name}] {name}: {rows[name]}", flush=True)
        print(f"\n{storage_name}: ms/trial and ratio to RandomSampler on the same storage")
        header = f"{'sampler':28s}" + "".join(f"{f'N={c}':>20s}{'ratio':>8s}" for c in checkpoints)
        print(header)
        for name, result in rows.items():
            line = f"{name:28s}"
            for c in checkpoints:
                value = result.get(c, "—")
                base = rows["RandomSampler"].get(c)
                try:
                    ratio = f"{float(value) / float(base):.2f}"
                except (TypeError, ValueError):
                    ratio = "—"
                line += f"{value:>20s}{ratio:>8s}"
            print(line)
        print()


if __name__ == "__main__":
    main()
