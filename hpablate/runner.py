"""Run a study: :func:`run`, :func:`create_study`, :func:`trial_seed` and the run's summary.

:func:`run` drives any Optuna study. With a plan sampler it runs until every slot of the plan is
completed (or abandoned), exactly once per slot also with many workers and whatever happens to
them; re-running a finished study runs nothing and an interrupted one runs only the missing
slots. With any other sampler (Random, TPE, GP) it runs until the study holds ``n_trials``
trials. The workers live in :mod:`hpablate._workers`, one worker's loop in
:mod:`hpablate._worker_loop`.
"""

from __future__ import annotations

import math
import numbers
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import optuna
from optuna.storages import BaseStorage
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from hpablate import _optuna
from hpablate._retry import RetryingStorage
from hpablate._storage import is_in_memory, open_storage, storage_spec
from hpablate._worker_loop import Callback, Objective, WorkerOptions
from hpablate._workers import ProgressBar, run_in_this_process, run_processes, run_threads
from hpablate.errors import PlanMismatchError, UsageError
from hpablate.record import FAIL_REASON_ATTR, SEED_ATTR, SPACE_ATTR, SURPLUS_ATTR, is_worker_failure
from hpablate.samplers._ledger import tally
from hpablate.samplers._plan_sampler import PlanSampler
from hpablate.space import SearchSpace


@dataclass
class RunSummary:
    """What :func:`run` achieved.

    Attributes
    ----------
    completed : int
        Plan slots completed (or, for a non-plan sampler, COMPLETE trials in the study).
    failed_attempts : int
        FAIL trials recorded (each failed attempt at a slot is one), whatever the cause.
    abandoned : int
        Slots given up: the objective failed more than ``max_retries`` times (or the worker died
        running it ten times).
    surplus : int
        Trials that found no slot left to run (pruned before doing any work).
    pruned : int
        Plan slots (or trials) a pruner stopped; their slots are final and not rerun.
    worker_failures : int
        Of ``failed_attempts``, those whose worker died, paused past the grace period or was
        interrupted; they do not use up ``max_retries``.
    """

    completed: int
    failed_attempts: int
    abandoned: int
    surplus: int
    pruned: int = 0
    worker_failures: int = 0

    def __repr__(self) -> str:
        extra = "".join(
            f", {name}={value}" for name, value in (("pruned", self.pruned), ("worker_failures", self.worker_failures)) if value
        )
        return (
            f"RunSummary(completed={self.completed}, failed_attempts={self.failed_attempts}, "
            f"abandoned={self.abandoned}, surplus={self.surplus}{extra})"
        )


def trial_seed(trial: optuna.trial.BaseTrial | FrozenTrial) -> int:
    """The seed an objective should use for ``trial``.

    A trial of a plan sampler returns its replicate's seed (``hpablate.seed``). Any other trial
    (Random/TPE/GP comparisons) gets a seed derived from its study name and trial number, recorded
    on the trial as ``hpablate.seed``.

    Examples
    --------
    >>> import optuna, hpablate as hp
    >>> study = optuna.create_study(study_name="s")
    >>> trial = study.ask()
    >>> hp.trial_seed(trial) == hp.trial_seed(trial)
    True
    """
    seed = trial.user_attrs.get(SEED_ATTR)
    if seed is not None:
        return int(seed)
    study = getattr(trial, "study", None)
    sampler = getattr(study, "sampler", None)
    if isinstance(sampler, PlanSampler):
        slot = sampler.slot_for(trial)
        if slot is not None:
            return slot.seed
    name = getattr(study, "study_name", "") or ""
    seed = int(np.random.SeedSequence([trial.number, zlib.crc32(name.encode())]).generate_state(1)[0]) & 0x7FFFFFFF
    if hasattr(trial, "set_user_attr") and not isinstance(trial, FrozenTrial):
        trial.set_user_attr(SEED_ATTR, seed)
    return seed


def create_study(
    space: SearchSpace,
    sampler: optuna.samplers.BaseSampler | None = None,
    *,
    storage: str | BaseStorage | None = None,
    study_name: str | None = None,
    direction: str | StudyDirection | None = None,
    directions: Sequence[str | StudyDirection] | None = None,
    load_if_exists: bool = True,
    pruner: optuna.pruners.BasePruner | None = None,
) -> Study:
    """Create (or load) an Optuna study that records ``space`` for later analysis.

    The space is stored as the study user attribute ``hpablate.space``; a plan sampler is bound
    to the study (its plan recorded, or checked against the one already stored).

    Parameters
    ----------
    space : SearchSpace
        The shared search space.
    sampler : optuna.samplers.BaseSampler, optional
        A hpablate design or any Optuna sampler (Random/TPE/GP run on ``space.to_distributions()``).
    storage : str or optuna.storages.BaseStorage, optional
        URL (``sqlite:///x.db``, ``postgresql://…``), journal file path, ``redis://…``, a storage
        object, or ``None`` for memory.
    study_name, direction, directions, load_if_exists
        As in :func:`optuna.create_study`.
    pruner : optuna.pruners.BasePruner, optional
        Default :class:`~optuna.pruners.NopPruner`: an ablation measures every planned
        configuration to the end unless a pruner is asked for.

    Raises
    ------
    PlanMismatchError
        If the stored study has another space or plan.
    """
    opened = open_storage(storage)
    study = optuna.create_study(
        storage=None if opened is None else RetryingStorage(opened),
        sampler=sampler,
        pruner=pruner if pruner is not None else optuna.pruners.NopPruner(),
        study_name=study_name,
        direction=direction,
        directions=directions,
        load_if_exists=load_if_exists,
    )
    stored = study.user_attrs.get(SPACE_ATTR)
    if stored is None:
        study.set_user_attr(SPACE_ATTR, space.to_json())
    elif SearchSpace.from_json(stored) != space:
        raise PlanMismatchError(f"study {study.study_name!r} was made with another search space")
    if isinstance(sampler, PlanSampler):
        sampler.bind(study)
    return study


def run(
    study: Study,
    objective: Objective,
    n_workers: int = 1,
    *,
    n_trials: int | None = None,
    timeout: float | None = None,
    max_retries: int | None = None,
    heartbeat_interval: float = 10.0,
    grace_period: float | None = None,
    callbacks: Sequence[Callback] | None = None,
    show_progress_bar: bool = False,
) -> RunSummary:
    """Run ``objective`` on ``study`` until its plan is done.

    Parameters
    ----------
    study : optuna.Study
        A study whose sampler is a hpablate design (then every slot is run exactly once, failed
        slots are retried, and a finished study runs nothing), or any Optuna sampler (then
        ``n_trials`` or ``timeout`` is required).
    objective : callable
        ``objective(trial) -> float`` (or a sequence for multi-objective studies). Use
        ``space.suggest(trial)`` and ``hp.trial_seed(trial)`` inside. Must be a module-level
        function when workers are spawned processes.
    n_workers : int, default 1
        Worker processes (separate processes on RDB and journal storages; threads on an in-memory
        study). Several ``run`` calls in separate processes on one storage also cooperate.
    n_trials : int, optional
        With a plan sampler: stop each worker of this call after so many trials (default: until
        the plan is done). With any other sampler: run until the study holds ``n_trials`` trials
        in total, so a rerun resumes rather than adds ``n_trials`` more.
    timeout : float, optional
        Stop starting new trials after so many seconds.
    max_retries : int, optional
        Override the sampler's ``max_retries``: how often a slot whose objective failed (raised,
        returned NaN) is retried. Attempts lost to dead workers do not count.
    heartbeat_interval : float, default 10
        Seconds between heartbeats of a running trial (storages shared between processes only).
    grace_period : float, optional
        Seconds without a sign of life (heartbeat, or start time before the first heartbeat)
        after which a running trial counts as dead: it is marked FAIL and its slot rerun.
        At least twice ``heartbeat_interval``; default six times.
    callbacks : sequence of callable, optional
        ``callback(study, frozen_trial)`` after each trial is stored, in every worker, as in
        :meth:`optuna.study.Study.optimize` (TensorBoard, MLflow, W&B callbacks work).
    show_progress_bar : bool, default False
        Show a tqdm bar of slots done / planned.

    Returns
    -------
    RunSummary
        Completed slots, failed attempts (and how many were dead workers'), abandoned slots and
        surplus trials.

    Raises
    ------
    UsageError
        For settings out of range (``n_workers < 1``, ``grace_period`` below twice the heartbeat
        interval, negative ``max_retries`` …).
    HpablateError
        For bad input: the objective suggests a parameter the space lacks, another plan is stored…

    Examples
    --------
    >>> import hpablate as hp
    >>> space = hp.SearchSpace(hp.Int("n", 1, 3, baseline=2))
    >>> study = hp.create_study(space, hp.OneAtATimeSampler(space, repeats=2))
    >>> hp.run(study, lambda trial: space.suggest(trial)["n"] ** 2)
    RunSummary(completed=6, failed_attempts=0, abandoned=0, surplus=0)
    """
    sampler = study.sampler
    is_plan = isinstance(sampler, PlanSampler)
    _check_settings(n_workers, n_trials, timeout, max_retries, heartbeat_interval, grace_period)
    if not is_plan and n_trials is None and timeout is None:
        raise UsageError(f"{type(sampler).__name__} has no plan: give n_trials or timeout")
    shared = not is_in_memory(_optuna.storage_of(study))
    grace = float(grace_period) if grace_period is not None else 6.0 * heartbeat_interval
    if is_plan:
        if max_retries is not None:
            sampler.max_retries = int(max_retries)
        sampler.record_heartbeat = shared
        sampler.heartbeat_interval_s = float(heartbeat_interval)
        sampler.grace_period_s = grace
        sampler.bind(study)
    options = WorkerOptions(
        n_trials=n_trials,
        timeout=timeout,
        heartbeat_interval=float(heartbeat_interval) if shared else None,
        grace_period_s=grace,
        poll_interval=min(1.0, max(heartbeat_interval / 4, 0.05)),
        callbacks=tuple(callbacks or ()),
    )
    spec = storage_spec(_optuna.storage_of(study)) if shared else None
    progress = ProgressBar(study) if show_progress_bar else None
    try:
        if n_workers > 1 and spec is not None:
            run_processes(study, objective, options, n_workers, spec, progress)
        elif n_workers > 1:
            run_threads(study, objective, options, n_workers)
        else:
            run_in_this_process(study, objective, options, progress)
    finally:
        if progress is not None:
            progress.close(study)
    return summarize(study)


def _check_settings(
    n_workers: object,
    n_trials: object,
    timeout: object,
    max_retries: object,
    heartbeat_interval: object,
    grace_period: object,
) -> None:
    if not _is_int(n_workers) or n_workers < 1:  # type: ignore[operator]
        raise UsageError(f"n_workers must be an integer >= 1, got {n_workers!r}")
    if n_trials is not None and (not _is_int(n_trials) or n_trials < 1):  # type: ignore[operator]
        raise UsageError(f"n_trials must be an integer >= 1, got {n_trials!r}")
    if max_retries is not None and (not _is_int(max_retries) or max_retries < 0):  # type: ignore[operator]
        raise UsageError(f"max_retries must be an integer >= 0, got {max_retries!r}")
    if timeout is not None and not _positive(timeout):
        raise UsageError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if not _positive(heartbeat_interval):
        raise UsageError(f"heartbeat_interval must be a positive number of seconds, got {heartbeat_interval!r}")
    if grace_period is not None and (not _positive(grace_period) or grace_period < 2 * heartbeat_interval):  # type: ignore[operator]
        raise UsageError(
            f"grace_period must be at least twice heartbeat_interval ({2 * heartbeat_interval:g} s), got "  # type: ignore[operator]
            f"{grace_period!r}: a shorter one fails live trials as dead"
        )


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _positive(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def summarize(study: Study) -> RunSummary:
    """The :class:`RunSummary` of a study as it stands in its storage."""
    trials = _optuna.read_trials(study)
    surplus = sum(1 for t in trials if t.user_attrs.get(SURPLUS_ATTR))
    failed = [t for t in trials if t.state == TrialState.FAIL]
    worker_failures = sum(1 for t in failed if is_worker_failure(t.user_attrs.get(FAIL_REASON_ATTR)))
    sampler = study.sampler
    if isinstance(sampler, PlanSampler):
        status, _ = tally(trials, sampler.bind(study), sampler.n_slots, sampler.max_retries)  # no second read
        return RunSummary(
            len(status.completed), len(failed), len(status.abandoned), surplus, len(status.pruned), worker_failures
        )
    completed = sum(1 for t in trials if t.state == TrialState.COMPLETE)
    pruned = sum(1 for t in trials if t.state == TrialState.PRUNED and not t.user_attrs.get(SURPLUS_ATTR))
    return RunSummary(completed, len(failed), 0, surplus, pruned, worker_failures)
