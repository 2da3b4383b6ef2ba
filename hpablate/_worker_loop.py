"""One worker: run trials of a study until its plan is done, each trial from creation to storage.

The loop uses Optuna's ask-and-tell API instead of ``study.optimize`` so that hpablate owns every
step of a trial's life:

* the heartbeat starts as soon as the trial exists and stops only after its state is stored, so a
  slow storage never makes a live trial look dead;
* a trial that another worker failed as dead while this one was paused (SIGSTOP, a laptop lid)
  does not crash the worker: its result is logged and kept as the study user attribute
  ``hpablate.late_result.<trial number>`` (its slot has been, or will be, run by another trial,
  so keeping it as a trial would count the slot twice);
* Ctrl-C or SIGTERM marks the running trial FAIL with reason ``interrupted: …`` before the worker
  exits, so a rerun takes the slot at once;
* objective failures are recorded with their reason (``hpablate.fail_reason``) and do not stop the
  study; errors in hpablate's own use (an unknown parameter, another distribution) do.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from hpablate import _optuna
from hpablate._heartbeat import heartbeat
from hpablate._stale import fail_dead_trials, last_sign_of_life
from hpablate.errors import HpablateError
from hpablate.record import FAIL_REASON_ATTR, INTERRUPTED_REASON, LATE_RESULT_PREFIX, SLOT_ATTR, SURPLUS_ATTR
from hpablate.samplers._plan_sampler import PlanSampler

_logger = logging.getLogger("hpablate")

Objective = Callable[[optuna.Trial], "float | Sequence[float]"]
Callback = Callable[[Study, FrozenTrial], None]

#: Trials before the end of the first pass from which a worker checks whether others took the rest.
_END_WINDOW = 64


@dataclass
class WorkerOptions:
    """How one worker runs (validated by :func:`hpablate.run`)."""

    n_trials: int | None = None
    timeout: float | None = None
    heartbeat_interval: float | None = None
    grace_period_s: float = 60.0
    poll_interval: float = 1.0
    callbacks: Sequence[Callback] = field(default_factory=tuple)


@dataclass
class _Clock:
    options: WorkerOptions
    started: float = field(default_factory=time.monotonic)
    trials: int = 0

    def timed_out(self) -> bool:
        timeout = self.options.timeout
        return timeout is not None and time.monotonic() - self.started >= timeout

    def expired(self) -> bool:
        n_trials = self.options.n_trials
        return self.timed_out() or (n_trials is not None and self.trials >= n_trials)


class _DeadTrialSweep:
    """Fails dead workers' trials when due: at once, then once per grace period.

    Each sweep reads the study's RUNNING trials, so loops that run trial after trial sweep on a
    clock rather than per trial (the per-trial cost stays flat).
    """

    def __init__(self, study: Study, options: WorkerOptions) -> None:
        self._study = study
        self._options = options
        self._last = -math.inf

    def __call__(self) -> None:
        if self._options.heartbeat_interval is None or time.monotonic() - self._last <= self._options.grace_period_s:
            return
        _fail_dead(self._study, self._options)
        self._last = time.monotonic()


def work(study: Study, objective: Objective, options: WorkerOptions) -> None:
    """Run trials until the plan is done (plan samplers) or the study holds ``n_trials``."""
    clock = _Clock(options)
    if isinstance(study.sampler, PlanSampler):
        _work_on_plan(study, study.sampler, objective, options, clock)
    else:
        _work_unplanned(study, objective, options, clock)


def _work_unplanned(study: Study, objective: Objective, options: WorkerOptions, clock: _Clock) -> None:
    # n_trials counts the study's trials, so a rerun resumes instead of adding n_trials more.
    total = options.n_trials
    sweep = _DeadTrialSweep(study, options)
    while not clock.timed_out():
        if total is not None and _optuna.count_trials(study) >= total:
            return
        sweep()
        run_trial(study, objective, options)


def _work_on_plan(study: Study, sampler: PlanSampler, objective: Objective, options: WorkerOptions, clock: _Clock) -> None:
    first_pass = sampler.bind(study)
    last_first_pass = first_pass.last_number
    waiting = _WaitNotice()
    sweep = _DeadTrialSweep(study, options)
    while not clock.expired():
        if _optuna.count_trials(study) <= last_first_pass:
            # First-pass trial numbers remain: slots come from numbers, no reads per trial. Dead
            # workers' trials are failed on the sweep's clock (their slots are rerun after the pass).
            while not clock.expired():
                sweep()
                trial = run_trial(study, objective, options)
                clock.trials += 1
                if trial is None or trial.number >= last_first_pass:
                    break
                if trial.number >= last_first_pass - _END_WINDOW and _optuna.count_trials(study) > last_first_pass:
                    break
            continue
        running = _fail_dead(study, options)
        status = sampler.status(study)
        if status.free:
            run_trial(study, objective, options)
            clock.trials += 1
        elif status.running:
            waiting.say(running, options)
            time.sleep(options.poll_interval)
        elif options.heartbeat_interval is not None and any(t.number >= first_pass.start for t in running):
            # Every slot is done, but a trial of the plan holds no slot yet: a live worker's claim
            # (it ends as surplus in moments) or a dead worker's (failed once its grace is over).
            # Leave no RUNNING trial behind.
            waiting.say(running, options)
            time.sleep(options.poll_interval)
        else:
            return


def _fail_dead(study: Study, options: WorkerOptions) -> list[FrozenTrial]:
    """Fail the trials of dead workers; return the RUNNING trials still alive."""
    running = _optuna.read_trials(study, states=(TrialState.RUNNING,))
    if options.heartbeat_interval is None:
        return running
    failed = set(fail_dead_trials(_optuna.storage_of(study), _optuna.study_id_of(study), options.grace_period_s, trials=running))
    return [t for t in running if t.number not in failed]


class _WaitNotice:
    """Says once per set of silent trials how long the worker may wait for them."""

    def __init__(self) -> None:
        self._said: frozenset[int] = frozenset()

    def say(self, running: Sequence[FrozenTrial], options: WorkerOptions) -> None:
        if options.heartbeat_interval is None:
            return
        now = time.time()
        silent = {t.number: now - (last_sign_of_life(t) or now) for t in running}
        silent = {n: s for n, s in silent.items() if s > 2 * options.heartbeat_interval}
        if silent and frozenset(silent) != self._said:
            self._said = frozenset(silent)
            left = max(options.grace_period_s - min(silent.values()), 0.0)
            _logger.warning(
                "waiting up to %.0f s for %d trial%s of dead workers (no heartbeat for %.0f s; grace period %.0f s)",
                left, len(silent), "s" if len(silent) != 1 else "", max(silent.values()), options.grace_period_s,
            )


def run_trial(study: Study, objective: Objective, options: WorkerOptions) -> FrozenTrial | None:
    """Create one trial, run the objective on it and store the outcome.

    Returns the stored trial, or ``None`` when the trial was taken from this worker before it
    could start (another worker failed it as dead while this one was paused).
    """
    try:
        trial = study.ask()
    except UpdateFinishedTrialError:
        _logger.warning("a trial being set up was failed as dead meanwhile (was this worker paused?); skipping it")
        return None
    storage = _optuna.storage_of(study)
    with heartbeat(storage, _optuna.trial_id_of(trial), options.heartbeat_interval):
        if trial.user_attrs.get(SURPLUS_ATTR):
            return _tell(study, trial, TrialState.PRUNED, None, None, options.callbacks)
        try:
            values = objective(trial)
        except optuna.TrialPruned:
            return _tell(study, trial, TrialState.PRUNED, None, None, options.callbacks)
        except KeyboardInterrupt:
            _tell(study, trial, TrialState.FAIL, None, f"{INTERRUPTED_REASON}: the worker was stopped (Ctrl-C or SIGTERM)", options.callbacks)
            raise
        except HpablateError as exc:  # misuse of the space: stop the run, it would fail every trial
            _tell(study, trial, TrialState.FAIL, None, _one_line(exc), options.callbacks)
            raise
        except Exception as exc:  # noqa: BLE001 - the trial fails, the study goes on
            return _tell(study, trial, TrialState.FAIL, None, _one_line(exc), options.callbacks)
        bad = invalid_value_reason(values, len(study.directions))
        if bad is not None:
            return _tell(study, trial, TrialState.FAIL, None, bad, options.callbacks)
        return _tell(study, trial, TrialState.COMPLETE, values, None, options.callbacks)


def _tell(
    study: Study,
    trial: optuna.Trial,
    state: TrialState,
    values: Any,
    reason: str | None,
    callbacks: Sequence[Callback],
) -> FrozenTrial | None:
    storage, trial_id = _optuna.storage_of(study), _optuna.trial_id_of(trial)
    if reason is not None:
        _logger.warning("trial %d failed: %s", trial.number, reason)
    try:
        if reason is not None:
            storage.set_trial_user_attr(trial_id, FAIL_REASON_ATTR, reason)
        study.tell(trial, values if state == TrialState.COMPLETE else None, state=state)
    except (UpdateFinishedTrialError, ValueError):
        stored = storage.get_trial(trial_id)
        if not stored.state.is_finished():
            raise
        _keep_late_result(study, trial, stored, state, values)
        return None
    frozen = storage.get_trial(trial_id)
    for callback in callbacks:  # as study.optimize calls them: after the trial is stored
        callback(study, frozen)
    return frozen


def _keep_late_result(study: Study, trial: optuna.Trial, stored: FrozenTrial, state: TrialState, values: Any) -> None:
    slot = trial.user_attrs.get(SLOT_ATTR)
    if state != TrialState.COMPLETE:
        _logger.warning(
            "trial %d (slot %s) was already marked %s by another worker; this worker's outcome (%s) is dropped",
            trial.number, slot, stored.state.name, state.name,
        )
        return
    values = [float(v) for v in (values if isinstance(values, (list, tuple)) else [values])]
    key = f"{LATE_RESULT_PREFIX}{trial.number}"
    record = {"trial": trial.number, "slot": slot, "values": values, "params": dict(trial.params), "stored_at": time.time()}
    try:
        _optuna.storage_of(study).set_study_user_attr(_optuna.study_id_of(study), key, record)
        where = f"kept in study attribute {key!r}"
    except Exception as exc:  # noqa: BLE001 - the log line below still carries the values
        where = f"could not be kept ({_one_line(exc)})"
    _logger.warning(
        "trial %d (slot %s) finished with %s after another worker had failed it as dead (was this worker "
        "paused past the grace period?); the result is %s and its slot is run again",
        trial.number, slot, values, where,
    )


def invalid_value_reason(values: Any, n_objectives: int) -> str | None:
    """Why the objective's return value cannot be stored, or ``None`` if it can.

    Examples
    --------
    >>> invalid_value_reason(float("nan"), 1)
    'objective returned nan'
    >>> invalid_value_reason([0.5, 1.0], 2) is None
    True
    """
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


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
