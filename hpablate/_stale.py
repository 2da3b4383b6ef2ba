"""Fail the trials of dead workers, so that their slots can be run again.

A RUNNING trial is dead when its last sign of life (heartbeat, or its start time before the first
heartbeat) is older than the grace period. This covers a worker killed at any point of a trial's
life: right after Optuna created the trial, while it claimed a slot, mid-objective, or while its
result was being stored. Marking the trial FAIL is atomic in every storage: if its worker was only
paused and finishes later, its write is refused and the runner keeps the late result aside.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState

from hpablate.record import FAIL_REASON_ATTR, HEARTBEAT_ATTR, STALE_REASON

_logger = logging.getLogger("hpablate")


def last_sign_of_life(trial: FrozenTrial) -> float | None:
    """Seconds since the epoch of the trial's last heartbeat, or of its start before the first."""
    beat = trial.user_attrs.get(HEARTBEAT_ATTR)
    if beat is not None:
        return float(beat)
    if trial.datetime_start is None:
        return None
    return trial.datetime_start.timestamp()


def is_dead(trial: FrozenTrial, grace_period_s: float, now: float | None = None) -> bool:
    """Whether a RUNNING trial has shown no sign of life for longer than the grace period."""
    sign = last_sign_of_life(trial)
    if sign is None:
        return False
    return (time.time() if now is None else now) - sign > grace_period_s


def fail_dead_trials(
    storage: BaseStorage,
    study_id: int,
    grace_period_s: float,
    *,
    trials: Iterable[FrozenTrial] | None = None,
) -> list[int]:
    """Mark RUNNING trials with no sign of life for ``grace_period_s`` seconds as FAIL.

    Parameters
    ----------
    storage, study_id
        Where the study lives.
    grace_period_s : float
        Seconds without a sign of life after which a trial counts as dead.
    trials : iterable of FrozenTrial, optional
        Trials already read (only the RUNNING ones are looked at); read from storage if omitted.

    Returns
    -------
    list of int
        Numbers of the trials this call failed (not those another worker failed first).

    Examples
    --------
    >>> import optuna
    >>> study = optuna.create_study()
    >>> trial = study.ask()
    >>> fail_dead_trials(study._storage, study._study_id, grace_period_s=3600.0)
    []
    >>> fail_dead_trials(study._storage, study._study_id, grace_period_s=-1.0)
    [0]
    """
    if trials is None:
        trials = storage.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,))
    now = time.time()
    failed = []
    for trial in trials:
        if trial.state != TrialState.RUNNING or not is_dead(trial, grace_period_s, now):
            continue
        silent_s = now - (last_sign_of_life(trial) or now)
        reason = f"{STALE_REASON}: no heartbeat (nor other sign of life) for {silent_s:.0f} s: worker killed, paused or cut off"
        try:
            # The reason goes first: a finished trial takes no more attributes. Should the worker
            # complete the trial in between, the state write below is refused and the COMPLETE
            # trial keeps a reason that the analysis ignores (it reads reasons of FAIL trials only).
            storage.set_trial_user_attr(trial._trial_id, FAIL_REASON_ATTR, reason)
            if not storage.set_trial_state_values(trial._trial_id, TrialState.FAIL):
                continue
        except (UpdateFinishedTrialError, RuntimeError):
            continue  # it finished meanwhile, or another worker failed it first
        failed.append(trial.number)
        _logger.warning("trial %d: %s; marked FAIL, its slot will be run again", trial.number, reason)
    return failed
