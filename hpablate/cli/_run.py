"""``hpablate run``: run the designs of a study file on a storage, resumably.

A study file is a Python file exposing ``space`` (a :class:`hpablate.SearchSpace`) and
``objective(trial)``, plus optionally ``direction`` / ``directions``, ``objective_name`` /
``objective_names`` (stored as the study's metric names), ``designs`` (name ->
``factory(space, repeats, seed)`` returning a plan sampler), ``repeats``, ``default_design``,
``grid_groups``, ``path_target`` (the target of ``--design path``), ``pruner`` and ``callbacks`` (Optuna callbacks ``f(study, frozen_trial)`` called in
every worker after each trial is stored, e.g. optuna-integration's TensorBoard or MLflow callbacks;
the trial's ``hpablate.*`` record is in ``frozen_trial.user_attrs``). ``--quick`` sets ``$HPABLATE_QUICK`` before the file is imported,
so it (and every worker process) can shrink epochs and data; quick runs go to their own studies
(``<name>-quick``) so they never mix with full runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from hpablate._storage import redact_url
from hpablate.errors import StudyFileError, UsageError

DEFAULT_STORAGE = "sqlite:///hpablate.db"
DESIGN_CHOICES = ("oat", "grid", "structural", "morris", "add_one_in", "sobol", "shapley", "path")


@dataclass
class StudyFile:
    """A loaded study file: its module and what ``hpablate run`` needs from it."""

    path: Path
    module: ModuleType
    space: Any
    objective: Callable[..., Any]
    directions: list[str]
    designs: dict[str, Callable[..., Any]]
    default_design: str
    repeats: int
    callbacks: list[Callable[..., Any]] = field(default_factory=list)
    metric_names: list[str] | None = None

    @property
    def stem(self) -> str:
        return self.path.stem


def add_parser(subparsers: Any) -> None:
    """Register ``hpablate run``."""
    p = subparsers.add_parser(
        "run",
        help="run a study file's ablation designs (resumable)",
        description=(
            "Run the designs of a study file on a storage. Rerunning the same command after an "
            "interruption runs only the missing plan slots."
        ),
    )
    p.add_argument("study_file", help="Python file exposing `space` and `objective` (e.g. studies/digits_cnn.py)")
    p.add_argument(
        "--storage",
        default=None,
        help=f"storage URL or journal file (default: $OPTUNA_STORAGE, else {DEFAULT_STORAGE} in the working directory)",
    )
    p.add_argument(
        "--design",
        default=None,
        help="design to run: one the study file defines (oat, grid, structural, morris, ...) or 'all' (default: the file's first)",
    )
    p.add_argument(
        "--target", default=None, metavar="JSON",
        help="--design path: the target configuration as a JSON object, e.g. '{\"lr\": 0.01, \"dropout\": true}'",
    )
    p.add_argument(
        "--target-study", default=None, metavar="NAME",
        help="--design path: take the target from the best trial of this study in the same storage (e.g. a TPE study)",
    )
    p.add_argument("--study-name", "--study", dest="study_name", default=None, help="study name (default: <file stem>-<design>)")
    p.add_argument("--repeats", type=int, default=None, help="replicates per planned configuration (default: the file's `repeats`, else 3; 2 with --quick); more than a finished study holds grows it by the new replicates")
    p.add_argument("--seed", type=int, default=0, help="seed of the plan's replicate seeds (default 0)")
    p.add_argument("--workers", type=int, default=1, help="concurrent worker processes (default 1); CPU threads are split between them")
    p.add_argument("--quick", action="store_true", help="small epochs/data: a smoke run in minutes on a CPU")
    p.add_argument("--device", default=None, help="torch device for trial bodies (default: cuda if available, else cpu)")
    p.add_argument("--max-retries", type=int, default=None, help="retries of a slot whose objective failed (default: the sampler's, 2)")
    p.add_argument(
        "--heartbeat", type=float, default=10.0, metavar="S",
        help="seconds between heartbeats of a running trial (default 10)",
    )
    p.add_argument(
        "--grace-period", type=float, default=None, metavar="S",
        help="seconds without a heartbeat after which a running trial counts as dead and its slot is "
        "rerun (default: 6 heartbeats; at least 2). Shorten it to resume at once after a crash",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--dry-run", action="store_true",
        help="print the plan (configurations, replicates, number of trials) and exit without touching storage",
    )
    p.set_defaults(func=command)


# ---- loading a study file ------------------------------------------------------------------------
def _module_name(path: Path) -> str:
    name = path.stem if path.stem.isidentifier() else "hpablate_study"
    existing = sys.modules.get(name)
    if existing is not None and Path(getattr(existing, "__file__", "") or "").resolve() != path:
        name = f"hpablate_study_{abs(hash(str(path)))}"
    return name


def load_study_file(path: str | os.PathLike[str]) -> StudyFile:
    """Import a study file and check it exposes what ``hpablate run`` needs.

    The module is registered in ``sys.modules`` under its file stem and its folder is put on
    ``sys.path``, so worker processes (forked or spawned) can unpickle ``objective``.

    Raises
    ------
    StudyFileError
        The file is missing, fails to import, or lacks ``space`` / ``objective``.
    """
    import hpablate as hp

    p = Path(path)
    if not p.is_file():
        raise StudyFileError(f"study file {str(path)!r} not found")
    p = p.resolve()
    name = _module_name(p)
    spec = importlib.util.spec_from_file_location(name, p)
    if spec is None or spec.loader is None:
        raise StudyFileError(f"cannot import {str(path)!r}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    folder = str(p.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - any import failure is one line for the user
        sys.modules.pop(name, None)
        detail = str(exc).splitlines()[0] if str(exc) else ""
        raise StudyFileError(f"cannot import {str(path)!r}: {type(exc).__name__}: {detail}".rstrip(": ")) from None

    space = getattr(module, "space", None)
    if space is None:
        raise StudyFileError(f"{str(path)!r} defines no `space` (a hpablate.SearchSpace)")
    if not isinstance(space, hp.SearchSpace):
        raise StudyFileError(f"{str(path)!r}: `space` is a {type(space).__name__}, not a hpablate.SearchSpace")
    objective = getattr(module, "objective", None)
    if objective is None:
        raise StudyFileError(f"{str(path)!r} defines no `objective(trial)` function")
    if not callable(objective):
        raise StudyFileError(f"{str(path)!r}: `objective` is not callable")

    directions = getattr(module, "directions", None)
    if directions is None:
        directions = [getattr(module, "direction", "maximize")]
    directions = [str(d) for d in ([directions] if isinstance(directions, str) else directions)]
    for d in directions:
        if d not in ("maximize", "minimize"):
            raise StudyFileError(f"{str(path)!r}: direction {d!r} is not 'maximize' or 'minimize'")

    designs = _designs(module, space, str(path))
    default = getattr(module, "default_design", None) or next(iter(designs))
    if default not in designs:
        raise StudyFileError(f"{str(path)!r}: default_design {default!r} is not among its designs {list(designs)}")
    repeats = getattr(module, "repeats", 3)
    if not isinstance(repeats, int) or repeats < 1:
        raise StudyFileError(f"{str(path)!r}: `repeats` must be a positive integer, got {repeats!r}")
    callbacks = _callbacks(module, str(path))
    metric_names = _metric_names(module, str(path), len(directions))
    return StudyFile(p, module, space, objective, directions, designs, default, repeats, callbacks, metric_names)


def _callbacks(module: ModuleType, where: str) -> list[Callable[..., Any]]:
    declared = getattr(module, "callbacks", None)
    if declared is None:
        return []
    if callable(declared) and not isinstance(declared, (list, tuple)):
        declared = [declared]
    if not isinstance(declared, (list, tuple)) or not all(callable(c) for c in declared):
        raise StudyFileError(f"{where}: `callbacks` must be a list of callables callback(study, frozen_trial)")
    return list(declared)


def _metric_names(module: ModuleType, where: str, n_objectives: int) -> list[str] | None:
    names = getattr(module, "objective_names", None)
    if names is None and getattr(module, "objective_name", None) is not None:
        names = [module.objective_name]
    if names is None:
        return None
    if isinstance(names, str) or not all(isinstance(n, str) for n in names) or len(names) != n_objectives:
        raise StudyFileError(f"{where}: `objective_name(s)` must name each of the {n_objectives} objective(s), got {names!r}")
    return list(names)


def _designs(module: ModuleType, space: Any, where: str) -> dict[str, Callable[..., Any]]:
    declared = getattr(module, "designs", None)
    if declared is not None:
        if not isinstance(declared, dict) or not declared:
            raise StudyFileError(f"{where}: `designs` must be a non-empty dict name -> factory(space, repeats, seed)")
        for key, factory in declared.items():
            if not callable(factory):
                raise StudyFileError(f"{where}: design {key!r} is not callable")
        return dict(declared)
    return default_designs(space, getattr(module, "grid_groups", None))


def default_designs(space: Any, grid_groups: Any = None) -> dict[str, Callable[..., Any]]:
    """Designs for a study file without ``designs``: oat, structural (if it has components),
    grid (if it has ``grid_groups``), morris, sobol, shapley (if it has components)."""
    import hpablate as hp

    out: dict[str, Callable[..., Any]] = {
        "oat": lambda s, r, seed: hp.OneAtATimeSampler(s, repeats=r, seed=seed),
    }
    if any(p.kind == "component" for p in space):
        out["structural"] = lambda s, r, seed: hp.StructuralAblationSampler(s, repeats=r, seed=seed)
    if grid_groups:
        out["grid"] = lambda s, r, seed: hp.GridCombinationSampler(s, groups=grid_groups, repeats=r, seed=seed)
    out["morris"] = lambda s, r, seed: hp.MorrisSampler(s, repeats=r, seed=seed)
    # 64 base points: n (k + 2) trials per replicate stays affordable for a study file's default run
    out["sobol"] = lambda s, r, seed: hp.SobolSampler(s, n=64, repeats=r, seed=seed)
    if any(p.kind == "component" for p in space):
        out["shapley"] = lambda s, r, seed: hp.ShapleyAblationSampler(s, repeats=r, seed=seed)
    return out


# ---- running -------------------------------------------------------------------------------------
def _set_environment(args: argparse.Namespace) -> None:
    from hpablate.train import DEVICE_ENV, QUICK_ENV, THREADS_ENV, threads_per_worker

    if args.quick:
        os.environ[QUICK_ENV] = "1"
    if args.device:
        os.environ[DEVICE_ENV] = args.device
    if args.workers > 1:
        os.environ[THREADS_ENV] = str(threads_per_worker(args.workers))


def _pruner(module: ModuleType) -> Any:
    import optuna

    pruner = getattr(module, "pruner", None)
    if pruner is None:  # ablations compare complete runs: no pruning unless the file asks for it
        return optuna.pruners.NopPruner()
    return pruner() if callable(pruner) and not isinstance(pruner, optuna.pruners.BasePruner) else pruner


def _check_options(args: argparse.Namespace) -> None:
    if args.workers < 1:
        raise UsageError(f"--workers must be >= 1, got {args.workers}")
    if args.repeats is not None and args.repeats < 1:
        raise UsageError(f"--repeats must be >= 1, got {args.repeats}")
    if args.max_retries is not None and args.max_retries < 0:
        raise UsageError(f"--max-retries must be >= 0, got {args.max_retries}")
    if not math.isfinite(args.heartbeat) or args.heartbeat <= 0:
        raise UsageError(f"--heartbeat must be a positive number of seconds, got {args.heartbeat:g}")
    if args.grace_period is not None and not (math.isfinite(args.grace_period) and args.grace_period >= 2 * args.heartbeat):
        raise UsageError(
            f"--grace-period must be at least twice --heartbeat ({2 * args.heartbeat:g} s), got {args.grace_period:g}"
        )


def _study_name(args: argparse.Namespace, study_file: StudyFile, design: str) -> str:
    return args.study_name or f"{study_file.stem}-{design}" + ("-quick" if args.quick else "")


def _plan_sampler(study_file: StudyFile, design: str, repeats: int, args: argparse.Namespace) -> Any:
    import hpablate as hp

    sampler = study_file.designs[design](study_file.space, repeats, args.seed)
    if not isinstance(sampler, hp.PlanSampler):
        raise StudyFileError(f"design {design!r} of {args.study_file!r} did not return a hpablate plan sampler")
    return sampler


def _print_plan(sampler: Any, name: str, design: str) -> None:
    """``--dry-run``: the configurations of one replicate and the number of trials, nothing stored."""
    from hpablate.render._safe_text import strip_controls

    plan = sampler.plan
    first = plan[plan["replicate"] == 0]
    n_replicates = int(plan["replicate"].nunique())
    print(
        f"{name}: {design} design, {len(first)} configurations x {n_replicates} replicate"
        f"{'s' if n_replicates != 1 else ''} = {sampler.n_slots} trials (dry run: nothing stored)"
    )
    if "path_round" in first:  # later rounds' configurations depend on the results before them
        later = first[first["path_round"] > 0]
        first = first[first["path_round"] == 0]
        if len(later):
            print(f"then {later['path_round'].nunique()} more round(s) of {len(later)} configurations per replicate, "
                  "each from the best configuration so far")
    columns = ["varied", "level", *sampler.space.names]
    shown = first[[c for c in columns if c in first]].copy()
    shown["varied"] = [", ".join(v) if v else "(baseline)" for v in shown["varied"]]
    print(strip_controls(shown.to_string(index=False)))


def _run_design(
    args: argparse.Namespace, study_file: StudyFile, design: str, name: str, storage: str, repeats: int
) -> Any:
    import hpablate as hp

    sampler = _plan_sampler(study_file, design, repeats, args)
    study = hp.create_study(
        study_file.space,
        sampler,
        storage=storage,
        study_name=name,
        directions=study_file.directions,
        pruner=_pruner(study_file.module),
    )
    if study_file.metric_names and study.metric_names is None:
        study.set_metric_names(study_file.metric_names)
    mode = " (quick)" if args.quick else ""
    print(
        f"{name}: {design} design{mode}, {sampler.n_slots} planned trials "
        f"({repeats} replicate{'s' if repeats != 1 else ''}), {args.workers} worker{'s' if args.workers != 1 else ''}",
        file=sys.stderr,
    )
    started = time.perf_counter()
    try:
        summary = hp.run(
            study,
            study_file.objective,
            n_workers=args.workers,
            max_retries=args.max_retries,
            heartbeat_interval=args.heartbeat,
            grace_period=args.grace_period,
            callbacks=study_file.callbacks,
            show_progress_bar=not args.no_progress,
        )
    except KeyboardInterrupt:
        print(f"{name}: interrupted; rerun the same command to run only the missing trials", file=sys.stderr)
        raise
    print(_summary_line(name, summary, sampler.n_slots, time.perf_counter() - started))
    return summary


def _summary_line(name: str, summary: Any, n_slots: int, elapsed: float) -> str:
    line = f"{name}: {summary.completed}/{n_slots} trials complete in {elapsed:.1f} s"
    if summary.failed_attempts:
        line += f", {summary.failed_attempts} failed attempt{'s' if summary.failed_attempts != 1 else ''}"
    if summary.worker_failures:
        line += f" ({summary.worker_failures} by dead or interrupted workers)"
    if summary.abandoned:
        line += f", {summary.abandoned} slot{'s' if summary.abandoned != 1 else ''} abandoned after retries"
    return line


def storage_url(args: argparse.Namespace) -> str:
    """``--storage``, else ``$OPTUNA_STORAGE``, else :data:`DEFAULT_STORAGE`."""
    return args.storage or os.environ.get("OPTUNA_STORAGE") or DEFAULT_STORAGE


def _path_design(args: argparse.Namespace, study_file: StudyFile, storage: str) -> Callable[..., Any]:
    """The ``path`` design's factory, its target from ``--target``, ``--target-study`` or ``path_target``."""
    import hpablate as hp

    target = path_target(args, study_file, storage)
    return lambda s, r, seed: hp.AblationPathSampler(s, target=target, repeats=r, seed=seed)


def path_target(args: argparse.Namespace, study_file: StudyFile, storage: str) -> dict[str, Any]:
    """The target configuration of ``--design path``.

    Raises
    ------
    UsageError
        No target was given, both options were, the JSON does not parse, or the target study
        does not exist or holds no completed trial.
    """
    import json

    if args.target is not None and args.target_study is not None:
        raise UsageError("give the path's target once: --target or --target-study, not both")
    if args.target is not None:
        try:
            target = json.loads(args.target)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--target is not JSON: {exc.msg} (at character {exc.pos})") from None
        if not isinstance(target, dict):
            raise UsageError("--target must be a JSON object of parameter values")
        return target
    if args.target_study is not None:
        return _best_params(storage, args.target_study)
    declared = getattr(study_file.module, "path_target", None)
    if isinstance(declared, dict):
        return dict(declared)
    raise UsageError(
        "--design path needs a target configuration: --target JSON, --target-study NAME (its best trial), "
        "or `path_target` in the study file"
    )


def _best_params(storage: str, study_name: str) -> dict[str, Any]:
    """The best completed trial's parameters of a single-objective study, read read-only."""
    import numpy as np

    from hpablate.analysis._branches import absent
    from hpablate.analysis.load import PARAM_PREFIX, load
    from hpablate.space import _plain

    data = load(storage, study_name)
    if len(data.directions) > 1:
        raise UsageError(f"--target-study {study_name!r} has several objectives: give the target with --target")
    done = data.trials[(data.trials["state"] == "COMPLETE") & data.trials["value_0"].notna()]
    if not len(done):
        raise UsageError(f"--target-study {study_name!r} has no completed trial")
    values = done["value_0"].to_numpy(dtype=float)
    best = done.iloc[[int(np.argmax(values) if data.directions[0] == "maximize" else np.argmin(values))]]
    # a parameter the best trial did not suggest (its condition did not hold) is NaN; None is a value
    return {col[len(PARAM_PREFIX):]: _plain(best[col].iat[0]) for col in best.columns
            if col.startswith(PARAM_PREFIX) and not absent(best[col])[0]}


def command(args: argparse.Namespace) -> int:
    """Run ``hpablate run``; returns the exit code."""
    import optuna

    _check_options(args)
    _set_environment(args)  # before the import: the file and its workers read these
    study_file = load_study_file(args.study_file)
    if args.design in (None, ""):
        names = [study_file.default_design]
    elif args.design == "all":
        names = list(study_file.designs)
        has_target = args.target is not None or args.target_study is not None or hasattr(study_file.module, "path_target")
        if "path" not in names and has_target:
            names.append("path")
    elif args.design in study_file.designs or args.design == "path":
        names = [args.design]
    else:
        raise StudyFileError(
            f"{args.study_file!r} has no design {args.design!r}; choose one of {list(study_file.designs) + ['all']}"
        )
    if "path" in names and "path" not in study_file.designs:
        study_file.designs["path"] = _path_design(args, study_file, storage_url(args))
    if args.study_name and len(names) > 1:
        raise UsageError("--study-name names one study: give it with a single --design, not 'all'")
    storage = storage_url(args)
    repeats = args.repeats or (min(2, study_file.repeats) if args.quick else study_file.repeats)
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    if args.dry_run:
        for design in names:
            _print_plan(_plan_sampler(study_file, design, repeats, args), _study_name(args, study_file, design), design)
        return 0
    finished: list[tuple[str, Any]] = []
    for design in names:
        name = _study_name(args, study_file, design)
        finished.append((name, _run_design(args, study_file, design, name, storage, repeats)))
    shown = redact_url(storage)
    print(f"results: {shown}")
    for name, _ in finished:
        print(f"analyse: hpablate analyze --storage {shown} --study {name}")
    abandoned = sum(summary.abandoned for _, summary in finished)
    if abandoned:
        print(
            f"hpablate run: {abandoned} planned slot{'s' if abandoned != 1 else ''} failed every retry; "
            "see hpablate.fail_reason of the FAIL trials (rerun with a larger --max-retries to try again)",
            file=sys.stderr,
        )
        return 1
    return 0
