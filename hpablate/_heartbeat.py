"""Heartbeats of running trials: a real one for shared storages, a null one for in-memory studies.

A trial's heartbeat is the trial user attribute ``hpablate.heartbeat`` (seconds since the epoch),
written from a thread every ``interval`` seconds for the whole life of the trial: from the moment
the worker holds it until its final state is stored. Optuna's own heartbeat exists for RDB
storages only and stops when the objective returns; this one works on every storage and also
covers the time Optuna needs to store the result, so a busy storage cannot make a live trial look
dead. Used as a context manager, like Optuna's ``storages/_heartbeat.py``.
"""

from __future__ import annotations

import logging
import threading
import time
from types import TracebackType

from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import BaseStorage

from hpablate.record import HEARTBEAT_ATTR

_logger = logging.getLogger("hpablate")


class Heartbeat:
    """Write ``hpablate.heartbeat`` on one trial every ``interval`` seconds until stopped.

    Parameters
    ----------
    storage : optuna.storages.BaseStorage
        The study's storage.
    trial_id : int
        Storage id of the trial to keep alive.
    interval : float
        Seconds between beats.

    Examples
    --------
    >>> import optuna
    >>> study = optuna.create_study()
    >>> trial = study.ask()
    >>> with Heartbeat(study._storage, trial._trial_id, interval=0.01):
    ...     time.sleep(0.05)
    >>> "hpablate.heartbeat" in study._storage.get_trial(trial._trial_id).user_attrs
    True
    """

    def __init__(self, storage: BaseStorage, trial_id: int, interval: float) -> None:
        self._storage = storage
        self._trial_id = trial_id
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="hpablate-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._storage.set_trial_user_attr(self._trial_id, HEARTBEAT_ATTR, time.time())
            except UpdateFinishedTrialError:
                return  # stored, or failed as dead by another worker: the worker loop says which
            except Exception as exc:  # noqa: BLE001 - a missed beat is retried at the next interval
                _logger.debug("heartbeat of trial id %s failed: %s", self._trial_id, exc)


class NullHeartbeat:
    """The heartbeat of a study that lives in one process: nothing can die apart from it."""

    def __enter__(self) -> NullHeartbeat:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None


def heartbeat(storage: BaseStorage, trial_id: int, interval: float | None) -> Heartbeat | NullHeartbeat:
    """A :class:`Heartbeat` when ``interval`` is set, else a :class:`NullHeartbeat`."""
    if interval is None:
        return NullHeartbeat()
    return Heartbeat(storage, trial_id, interval)
