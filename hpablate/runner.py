"""Run a study: worker processes or threads, seeds, heartbeats, retries and resume.

:func:`run` drives any Optuna study. With a plan sampler it runs until every slot of the plan is
completed (or abandoned after ``max_retries`` failures), exactly once per slot also with many
workers; re-running a finished study runs nothing and an interrupted one runs only the missing
slots. With any other sampler (Random, TPE, GP) it runs ``n_trials`` trials.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import sys
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import BaseStorage, RDBStorage
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from hpablate import errors
from hpablate._storage import is_in_memory, open_storage, storage_spec, unwrap
from hpablate.errors import HpablateError, PlanMismatchError
from hpablate.samplers._plan_sampler import (
    FAIL_REASON_ATTR,
    HEARTBEAT_ATTR,
    SPACE_ATTR,
    PlanSampler,
    PlanStatus,
)
from hpablate.space import SearchSpace

_logger = logging.getLogger("hpablate")

Objective = Callable[[optuna.Trial], "float | Sequence[float]"]

SEED_ATTR = "hpablate.seed"
#: Trials before the end of the first pass from which a worker checks whether others took the rest.
_END_WINDOW = 64


@dataclass
class RunSummary:
    """What :func:`run` achieved.

    Attributes
    ----------
    completed : int
        Plan slots completed (or, for a non-plan sampler, COMPLETE trials in the study).
    pruned : int
        Plan slots (or trials) a pruner stopped; their slots are final and not rerun.
    failed_attempts : int
        FAIL trials recorded (each failed attempt at a slot is one).
    abandoned : int
        Slots given up after ``max_retries`` failed retries.
    surplus : int
        Trials that found no slot left to run (pruned before doing any work).
    """

    completed: int
    failed_attempts: int
    abandoned: int
    surplus: int
    pruned: int = 0

    def __repr__(self) -> str:
        return (
            f"RunSummary(completed={self.completed}, failed_attempts={self.failed_attempts}, "
            f"abandoned={self.abandoned}, surplus={self.surplus}"
            + (f", pruned={self.pruned})" if self.pruned else ")")
        )


# ---- seeds ---------------------------------------------------------------------------------------
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


# ---- study creation ------------------------------------------------------------------------------
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
    study = optuna.create_study(
        storage=open_storage(storage),
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


# ---- heartbeats and stale trials -----------------------------------------------------------------
class _Heartbeat:
    """Writes ``hpablate.heartbeat`` on a running trial every ``interval`` seconds from a thread."""

    def __init__(self, storage: BaseStorage, trial_id: int, interval: float) -> None:
        self._storage = storage
        self._trial_id = trial_id
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="hpablate-heartbeat", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._storage.set_trial_user_attr(self._trial_id, HEARTBEAT_ATTR, time.time())
            except UpdateFinishedTrialError:
                return
            except Exception as exc:  # noqa: BLE001 - a missed beat is retried next interval
                _logger.debug("heartbeat of trial %s failed: %s", self._trial_id, exc)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def fail_stale_trials(study: Study, grace_period_s: float) -> list[int]:
    """Mark RUNNING trials whose ``hpablate.heartbeat`` is older than the grace period as FAIL.

    Returns the numbers of the trials failed. Works on every storage (Optuna's own heartbeat exists
    for RDB storages only).
    """
    now = time.time()
    failed = []
    for trial in study._storage.get_all_trials(study._study_id, deepcopy=False, states=(TrialState.RUNNING,)):
        beat = trial.user_attrs.get(HEARTBEAT_ATTR)
        if beat is None or now - float(beat) <= grace_period_s:
            continue
        try:
            study._storage.set_trial_user_attr(
                trial._trial_id, FAIL_REASON_ATTR, f"stale: no heartbeat for {now - float(beat):.0f} s (worker died?)"
            )
            study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
            failed.append(trial.number)
            _logger.warning("trial %d had no heartbeat for %.0f s: marked FAIL", trial.number, now - float(beat))
        except (UpdateFinishedTrialError, RuntimeError):
            pass  # finished meanwhile, or another worker failed it first
    return failed


# ---- the objective wrapper -----------------------------------------------------------------------
class _RecordingObjective:
    """Calls the user's objective; records why a trial failed instead of crashing the worker."""

    def __init__(self, objective: Objective, heartbeat_interval: float | None) -> None:
        self._objective = objective
        self._heartbeat_interval = heartbeat_interval
        self.calls = 0

    def __call__(self, trial: optuna.Trial) -> Any:
        self.calls += 1
        beat = (
            _Heartbeat(trial.study._storage, trial._trial_id, self._heartbeat_interval)
            if self._heartbeat_interval
            else None
        )
        try:
            values = self._objective(trial)
        except (optuna.TrialPruned, HpablateError, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - the trial fails, the study goes on
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
            _record_failure(trial, reason)
            _logger.warning("trial %d failed: %s", trial.number, reason)
            return _nan_like(trial)
        finally:
            if beat is not None:
                beat.stop()
        bad = _invalid_value_reason(values, len(trial.study.directions))
        if bad is not None:
            _record_failure(trial, bad)
        return values


def _record_failure(trial: optuna.Trial, reason: str) -> None:
    try:
        trial.set_user_attr(FAIL_REASON_ATTR, reason)
    except Exception:  # noqa: BLE001 - the failure itself is still recorded by Optuna
        pass


def _nan_like(trial: optuna.Trial) -> float | list[float]:
    n = len(trial.study.directions)
    return math.nan if n == 1 else [math.nan] * n


def _invalid_value_reason(values: Any, n_objectives: int) -> str | None:
    seq = list(values) if isinstance(values, (list, tuple)) else [values]
    if len(seq) != n_objectives:
        return f"objective returned {len(seq)} values for {n_objectives} objectives"
    for value in seq:
        try:
            number = float(value)
        except (TypeError, ValueError):
            return f"objective returned {value!r}, not a number"
        if not math.isfinite(number):
            return f"objective returned {number}"
    return None


# ---- the worker loop -----------------------------------------------------------------------------
@dataclass
class _Options:
    n_trials: int | None
    timeout: float | None
    heartbeat_interval: float | None
    grace_period_s: float
    poll_interval: float
    show_progress_bar: bool = False


def _work(study: Study, objective: Objective, options: _Options) -> None:
    """One worker: run trials of ``study`` until the plan is done (or n_trials / timeout)."""
    sampler = study.sampler
    wrapped = _RecordingObjective(objective, options.heartbeat_interval)
    deadline = None if options.timeout is None else time.monotonic() + options.timeout
    optimize = dict(catch=(), gc_after_trial=False, show_progress_bar=False)
    if not isinstance(sampler, PlanSampler):
        remaining = None if options.n_trials is None else optuna.study.MaxTrialsCallback(options.n_trials, states=None)
        study.optimize(wrapped, timeout=options.timeout, callbacks=[remaining] if remaining else None, **optimize)
        return
    offset = sampler.bind(study)
    last_first_pass = offset + sampler.n_slots - 1

    def stop_after_first_pass(study: Study, trial: FrozenTrial) -> None:
        # Near the end, another worker may already hold the last first-pass number: stop rather
        # than create a trial that would only find the plan taken (a surplus trial).
        if trial.number >= last_first_pass or (
            trial.number >= last_first_pass - _END_WINDOW
            and study._storage.get_n_trials(study._study_id) > last_first_pass
        ):
            study.stop()

    while True:
        if deadline is not None and time.monotonic() >= deadline:
            return
        if options.n_trials is not None and wrapped.calls >= options.n_trials:
            return
        if options.heartbeat_interval:
            fail_stale_trials(study, options.grace_period_s)
        status = sampler.status(study)
        if status.free:
            budget = None if options.n_trials is None else options.n_trials - wrapped.calls
            timeout = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            if study._storage.get_n_trials(study._study_id) <= last_first_pass:
                # first-pass trial numbers remain: slots come from numbers, no reads per trial
                callbacks = [stop_after_first_pass]
            else:
                # retries and leftovers: one claimed trial at a time, then look again
                budget, callbacks = 1, []
            study.optimize(wrapped, n_trials=budget, timeout=timeout, callbacks=callbacks, **optimize)
        elif status.running:
            time.sleep(options.poll_interval)
        else:
            return


def _summary(study: Study) -> RunSummary:
    trials = study._storage.get_all_trials(study._study_id, deepcopy=False)
    surplus = sum(1 for t in trials if t.user_attrs.get("hpablate.surplus"))
    failed = sum(1 for t in trials if t.state == TrialState.FAIL)
    sampler = study.sampler
    if isinstance(sampler, PlanSampler):
        status: PlanStatus = sampler.status(study)
        return RunSummary(len(status.completed), failed, len(status.abandoned), surplus, len(status.pruned))
    completed = sum(1 for t in trials if t.state == TrialState.COMPLETE)
    pruned = sum(1 for t in trials if t.state == TrialState.PRUNED and not t.user_attrs.get("hpablate.surplus"))
    return RunSummary(completed, failed, 0, surplus, pruned)


# ---- processes -----------------------------------------------------------------------------------
def _worker_process(
    spec: str,
    study_name: str,
    sampler: optuna.samplers.BaseSampler,
    pruner: optuna.pruners.BasePruner,
    objective: Objective,
    options: _Options,
    threads: int,
    errors_queue: Any,
) -> None:
    os.environ["OMP_NUM_THREADS"] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.load_study(study_name=study_name, storage=open_storage(spec), sampler=sampler, pruner=pruner)
        _work(study, objective, options)
    except HpablateError as exc:
        errors_queue.put((type(exc).__name__, str(exc)))
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent as one line
        errors_queue.put(("RuntimeError", f"{type(exc).__name__}: {exc}"))
        sys.exit(1)


def _mp_context() -> multiprocessing.context.BaseContext:
    cuda_started = "torch" in sys.modules and sys.modules["torch"].cuda.is_initialized()
    if "fork" in multiprocessing.get_all_start_methods() and not cuda_started:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _dispose_engine(storage: BaseStorage) -> None:
    backend = unwrap(storage)
    if isinstance(backend, RDBStorage):
        backend.engine.dispose()  # children must open their own connections


def _run_processes(study: Study, objective: Objective, options: _Options, n_workers: int, spec: str) -> None:
    ctx = _mp_context()
    threads = max(1, (os.cpu_count() or 1) // n_workers)
    errors_queue = ctx.Queue()
    _dispose_engine(study._storage)
    procs = [
        ctx.Process(
            target=_worker_process,
            args=(spec, study.study_name, study.sampler, study.pruner, objective, options, threads, errors_queue),
            daemon=False,
        )
        for _ in range(n_workers)
    ]
    for proc in procs:
        proc.start()
    bar = _ProgressBar(study) if options.show_progress_bar else None
    try:
        while any(p.is_alive() for p in procs):
            for proc in procs:
                proc.join(timeout=1.0 if bar is None else 0.2)
            if bar is not None:
                bar.update_from(study)
    except KeyboardInterrupt:
        for proc in procs:
            proc.terminate()
        raise
    finally:
        if bar is not None:
            bar.close(study)
    reported = []
    while not errors_queue.empty():
        reported.append(errors_queue.get())
    if reported:
        name, message = reported[0]
        exc_type = getattr(errors, name, None)
        if isinstance(exc_type, type) and issubclass(exc_type, HpablateError):
            raise exc_type(message)
        raise RuntimeError(f"a worker failed: {message}")


class _ProgressBar:
    """tqdm bar of planned slots completed, updated by polling the storage."""

    def __init__(self, study: Study) -> None:
        from tqdm.auto import tqdm

        sampler = study.sampler
        total = sampler.n_slots if isinstance(sampler, PlanSampler) else None
        self._bar = tqdm(total=total, desc=study.study_name, unit="trial")
        self._last_poll = 0.0
        self.update_from(study, force=True)

    def update_from(self, study: Study, force: bool = False) -> None:
        if not force and time.monotonic() - self._last_poll < 1.0:
            return
        self._last_poll = time.monotonic()
        sampler = study.sampler
        if isinstance(sampler, PlanSampler):
            status = sampler.status(study)
            done = len(status.completed) + len(status.pruned)
        else:
            done = len(study._storage.get_all_trials(study._study_id, deepcopy=False, states=(TrialState.COMPLETE,)))
        self._bar.update(done - self._bar.n)

    def close(self, study: Study) -> None:
        self.update_from(study, force=True)
        self._bar.close()


# ---- public entry point --------------------------------------------------------------------------
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
        Override the sampler's ``max_retries`` (retries of a failed slot).
    heartbeat_interval : float, default 10
        Seconds between heartbeats of a running trial (storages shared between processes only).
    grace_period : float, optional
        Seconds without a heartbeat after which a running trial is failed and its slot rerun
        (default: 6 heartbeat intervals).
    show_progress_bar : bool, default False
        Show a tqdm bar of slots done / planned.

    Returns
    -------
    RunSummary
        Completed slots, failed attempts, abandoned slots and surplus trials.

    Raises
    ------
    HpablateError
        For bad input: the objective suggests a parameter the space lacks, another plan is stored…
    """
    if n_workers < 1:
        raise ValueError(f"n_workers must be >= 1, got {n_workers}")
    sampler = study.sampler
    is_plan = isinstance(sampler, PlanSampler)
    if not is_plan and n_trials is None and timeout is None:
        raise ValueError(f"{type(sampler).__name__} has no plan: give n_trials or timeout")
    shared = not is_in_memory(study._storage)
    grace = grace_period if grace_period is not None else 6.0 * heartbeat_interval
    if is_plan:
        if max_retries is not None:
            sampler.max_retries = int(max_retries)
        sampler.record_heartbeat = shared
        sampler.grace_period_s = grace
        sampler.bind(study)
    options = _Options(
        n_trials=n_trials,
        timeout=timeout,
        heartbeat_interval=heartbeat_interval if shared else None,
        grace_period_s=grace,
        poll_interval=min(1.0, max(heartbeat_interval / 4, 0.05)),
        show_progress_bar=show_progress_bar,
    )
    spec = storage_spec(study._storage) if shared else None
    if n_workers > 1 and spec is not None:
        _run_processes(study, objective, options, n_workers, spec)
    elif n_workers > 1:
        _run_threads(study, objective, options, n_workers)
    else:
        bar = _ProgressBar(study) if show_progress_bar else None
        try:
            if bar is None:
                _work(study, objective, options)
            else:
                _work_with_bar(study, objective, options, bar)
        finally:
            if bar is not None:
                bar.close(study)
    return _summary(study)


def _work_with_bar(study: Study, objective: Objective, options: _Options, bar: _ProgressBar) -> None:
    def objective_and_bar(trial: optuna.Trial) -> Any:
        try:
            return objective(trial)
        finally:
            bar.update_from(study)

    _work(study, objective_and_bar, options)


def _run_threads(study: Study, objective: Objective, options: _Options, n_workers: int) -> None:
    failures: list[BaseException] = []

    def target() -> None:
        try:
            _work(study, objective, options)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            failures.append(exc)

    threads = [threading.Thread(target=target, name=f"hpablate-worker-{i}") for i in range(n_workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
