"""Worker processes and threads for :func:`hpablate.run`.

Each worker reopens the study over a :class:`~hpablate._retry.RetryingStorage`, so a dropped
database connection is retried instead of killing it. Processes fork (spawn once CUDA is
initialised) and split the CPU threads between them. Ctrl-C in the parent is passed on to the
workers as SIGINT, and SIGTERM in a worker is handled like Ctrl-C: each marks its running trial
FAIL ("interrupted") before it exits, so a rerun can take the slot at once.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from typing import Any

import optuna
from optuna.storages import BaseStorage, RDBStorage
from optuna.study import Study
from optuna.trial import TrialState

from hpablate import _optuna, errors
from hpablate._retry import RetryingStorage
from hpablate._storage import open_storage, unwrap
from hpablate._worker_loop import Objective, WorkerOptions, work
from hpablate.errors import HpablateError
from hpablate.samplers._plan_sampler import PlanSampler

_logger = logging.getLogger("hpablate")

#: Seconds the parent waits for interrupted workers to record their trials before killing them.
_INTERRUPT_WAIT_S = 15.0


def resilient(study: Study) -> Study:
    """``study`` read and written through a storage that retries transient errors.

    A SQLite study is reopened through :func:`~hpablate._storage.open_storage`, whose connections
    serialize transactions (a study the user opened with plain Optuna has connections that don't).
    """
    storage = _optuna.storage_of(study)
    if isinstance(storage, RetryingStorage):
        return study
    backend = unwrap(storage)
    if isinstance(backend, RDBStorage) and backend.engine.dialect.name == "sqlite":
        storage = open_storage(str(backend.url))
    return _optuna.reopen(study, RetryingStorage(storage))


def run_in_this_process(study: Study, objective: Objective, options: WorkerOptions, progress: Any = None) -> None:
    """One worker in the calling thread."""
    work(resilient(study), _with_progress(objective, progress, study), options)


def run_threads(study: Study, objective: Objective, options: WorkerOptions, n_workers: int) -> None:
    """``n_workers`` workers as threads of this process (for studies that live in memory)."""
    failures: list[BaseException] = []
    shared = resilient(study)

    def target() -> None:
        try:
            work(shared, objective, options)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            failures.append(exc)

    threads = [threading.Thread(target=target, name=f"hpablate-worker-{i}") for i in range(n_workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


def run_processes(
    study: Study, objective: Objective, options: WorkerOptions, n_workers: int, spec: str, progress: Any = None
) -> None:
    """``n_workers`` worker processes on the storage that ``spec`` reopens."""
    ctx = _mp_context()
    threads = max(1, (os.cpu_count() or 1) // n_workers)
    errors_queue = ctx.Queue()
    _dispose_engine(_optuna.storage_of(study))
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
    try:
        while any(p.is_alive() for p in procs):
            for proc in procs:
                proc.join(timeout=1.0 if progress is None else 0.2)
            if progress is not None:
                progress.update_from(study)
    except KeyboardInterrupt:
        _interrupt(procs)
        raise
    _raise_reported(errors_queue)
    _check_exit_codes([proc.exitcode for proc in procs])


def _check_exit_codes(codes: list[int | None]) -> None:
    """A worker that died without reporting (killed, or its process could not start) is said."""
    died = [code for code in codes if code not in (0, None)]
    if died and len(died) == len(codes):
        raise RuntimeError(
            f"every worker process died without reporting an error (exit codes {died}); with spawned "
            "workers (CUDA initialised before hp.run) the calling script needs an "
            "`if __name__ == '__main__':` guard"
        )
    if died:
        _logger.warning("%d of %d worker processes died (exit codes %s); the others finished the run",
                        len(died), len(codes), died)


def _interrupt(procs: list[Any]) -> None:
    """Pass Ctrl-C on, give the workers time to record their trials, then stop them."""
    for proc in procs:
        if proc.is_alive() and proc.pid is not None:
            try:
                os.kill(proc.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + _INTERRUPT_WAIT_S
    for proc in procs:
        proc.join(timeout=max(deadline - time.monotonic(), 0.0))
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
            proc.join(timeout=5.0)


def _raise_reported(errors_queue: Any) -> None:
    reported = []
    while not errors_queue.empty():
        reported.append(errors_queue.get())
    if reported:
        name, message = reported[0]
        exc_type = getattr(errors, name, None)
        if isinstance(exc_type, type) and issubclass(exc_type, HpablateError):
            raise exc_type(message)
        raise RuntimeError(f"a worker failed: {message}")


def _terminate_as_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _worker_process(
    spec: str,
    study_name: str,
    sampler: optuna.samplers.BaseSampler,
    pruner: optuna.pruners.BasePruner,
    objective: Objective,
    options: WorkerOptions,
    threads: int,
    errors_queue: Any,
) -> None:
    signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        storage = RetryingStorage(open_storage(spec))
        study = optuna.load_study(study_name=study_name, storage=storage, sampler=sampler, pruner=pruner)
        work(study, objective, options)
    except HpablateError as exc:
        errors_queue.put((type(exc).__name__, str(exc)))
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent as one line
        errors_queue.put(("RuntimeError", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"))
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


def _with_progress(objective: Objective, progress: Any, study: Study) -> Objective:
    if progress is None:
        return objective

    def objective_and_progress(trial: optuna.Trial) -> Any:
        try:
            return objective(trial)
        finally:
            progress.update_from(study)

    return objective_and_progress


class ProgressBar:
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
            done = len(_optuna.read_trials(study, states=(TrialState.COMPLETE,)))
        self._bar.update(done - self._bar.n)

    def close(self, study: Study) -> None:
        self.update_from(study, force=True)
        self._bar.close()
