"""A storage that retries transient errors, so a dropped connection never kills a worker.

Workers talk to their study through :class:`RetryingStorage`, which wraps Optuna's storage and
retries a call that failed for a transient reason (a dropped or reset database connection,
"database is locked", a Redis connection error) with exponential backoff, up to ``max_wait_s``.
Other errors pass through unchanged.

Two calls are not idempotent, and the retry handles what a lost acknowledgement can leave behind:

* ``set_trial_state_values`` with a final state: if the first attempt was stored before the
  connection dropped, the retry finds the trial finished; when the stored state and values are
  the ones being written, the call succeeded and returns ``True``.
* ``create_new_trial``: a retry after a lost acknowledgement leaves one orphan RUNNING trial with
  no heartbeat. The runner's stale rule (no sign of life for the grace period, counted from the
  trial's start) fails it later; its slot, if it had one, is run by another trial.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Container, Sequence
from typing import Any, TypeVar

from optuna.distributions import BaseDistribution
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import BaseStorage
from optuna.study._frozen import FrozenStudy
from optuna.study._study_direction import StudyDirection
from optuna.trial import FrozenTrial, TrialState

_logger = logging.getLogger("hpablate")
_T = TypeVar("_T")

#: Text in an error (or its causes) that marks it as transient.
_TRANSIENT_SIGNS = (
    "database is locked",
    "server closed the connection",
    "connection was closed",
    "terminating connection",
    "could not connect",
    "connection refused",
    "connection reset",
    "lost connection",
    "gone away",
    "broken pipe",
    "connection timed out",
    "ssl connection has been closed",
    "deadlock",
    "lock wait timeout",
    "closed the connection unexpectedly",
)


def _transient_types() -> tuple[type[BaseException], ...]:
    types: list[type[BaseException]] = [ConnectionError, TimeoutError]
    try:
        import sqlalchemy.exc

        types += [sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError]
    except ImportError:  # pragma: no cover - SQLAlchemy is a dependency of Optuna
        pass
    try:
        import redis.exceptions

        types += [redis.exceptions.ConnectionError, redis.exceptions.TimeoutError]
    except ImportError:
        pass
    return tuple(types)


_TRANSIENT_TYPES = _transient_types()


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception it was raised from) is worth retrying.

    Examples
    --------
    >>> is_transient(ConnectionResetError("peer reset")), is_transient(ValueError("bad value"))
    (True, False)
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _TRANSIENT_TYPES):
            return True
        if getattr(current, "connection_invalidated", False):
            return True
        text = str(current).lower()
        if any(sign in text for sign in _TRANSIENT_SIGNS):
            return True
        current = current.__cause__ or current.__context__
    return False


class RetryingStorage(BaseStorage):
    """Wrap an Optuna storage; retry calls that fail for transient reasons.

    Parameters
    ----------
    backend : optuna.storages.BaseStorage
        The storage to wrap (as Optuna's ``get_storage`` returns it).
    max_wait_s : float, default 300
        Give up (re-raise) once a call has been retried for this long.

    Examples
    --------
    >>> import optuna
    >>> storage = RetryingStorage(optuna.storages.InMemoryStorage())
    >>> study = optuna.create_study(storage=storage)
    >>> study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    >>> len(study.trials)
    2
    """

    def __init__(self, backend: BaseStorage, *, max_wait_s: float = 300.0) -> None:
        self._backend = backend
        self._max_wait_s = max_wait_s
        #: Transient errors retried so far (for tests and summaries).
        self.retries = 0

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        method = getattr(self._backend, name)
        return _retry_callable(self, name, lambda: method(*args, **kwargs))

    def _reset(self) -> None:
        # A dead pooled connection would otherwise be handed out again.
        remove = getattr(self._backend, "remove_session", None)
        try:
            if remove is not None:
                remove()
        except Exception:  # noqa: BLE001 - best effort; the retry reconnects anyway
            pass

    def __getattr__(self, name: str) -> Any:
        # Attributes not part of BaseStorage (e.g. an RDB engine) come from the backend.
        if name == "_backend":
            raise AttributeError(name)
        return getattr(self._backend, name)

    # Studies.
    def create_new_study(self, directions: Sequence[StudyDirection], study_name: str | None = None) -> int:
        return self._call("create_new_study", directions, study_name)

    def delete_study(self, study_id: int) -> None:
        self._call("delete_study", study_id)

    def set_study_user_attr(self, study_id: int, key: str, value: Any) -> None:
        self._call("set_study_user_attr", study_id, key, value)

    def set_study_system_attr(self, study_id: int, key: str, value: Any) -> None:
        self._call("set_study_system_attr", study_id, key, value)

    def get_study_id_from_name(self, study_name: str) -> int:
        return self._call("get_study_id_from_name", study_name)

    def get_study_name_from_id(self, study_id: int) -> str:
        return self._call("get_study_name_from_id", study_id)

    def get_study_directions(self, study_id: int) -> list[StudyDirection]:
        return self._call("get_study_directions", study_id)

    def get_study_user_attrs(self, study_id: int) -> dict[str, Any]:
        return self._call("get_study_user_attrs", study_id)

    def get_study_system_attrs(self, study_id: int) -> dict[str, Any]:
        return self._call("get_study_system_attrs", study_id)

    def get_all_studies(self) -> list[FrozenStudy]:
        return self._call("get_all_studies")

    # Trials.
    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        return self._call("create_new_trial", study_id, template_trial)

    def set_trial_param(
        self, trial_id: int, param_name: str, param_value_internal: float, distribution: BaseDistribution
    ) -> None:
        self._call("set_trial_param", trial_id, param_name, param_value_internal, distribution)

    def get_trial_id_from_study_id_trial_number(self, study_id: int, trial_number: int) -> int:
        return self._call("get_trial_id_from_study_id_trial_number", study_id, trial_number)

    def get_trial_number_from_id(self, trial_id: int) -> int:
        return self._call("get_trial_number_from_id", trial_id)

    def get_trial_param(self, trial_id: int, param_name: str) -> float:
        return self._call("get_trial_param", trial_id, param_name)

    def set_trial_state_values(
        self, trial_id: int, state: TrialState, values: Sequence[float] | None = None
    ) -> bool:
        attempted = False

        def once() -> bool:
            nonlocal attempted
            try:
                return self._backend.set_trial_state_values(trial_id, state, values)
            except UpdateFinishedTrialError:
                # A retry of a write whose acknowledgement was lost finds its own result stored.
                if attempted and state.is_finished() and _stored_as(self._backend.get_trial(trial_id), state, values):
                    return True
                raise
            finally:
                attempted = True

        return _retry_callable(self, "set_trial_state_values", once)

    def set_trial_intermediate_value(self, trial_id: int, step: int, intermediate_value: float) -> None:
        self._call("set_trial_intermediate_value", trial_id, step, intermediate_value)

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        self._call("set_trial_user_attr", trial_id, key, value)

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        self._call("set_trial_system_attr", trial_id, key, value)

    def get_trial(self, trial_id: int) -> FrozenTrial:
        return self._call("get_trial", trial_id)

    def get_all_trials(
        self, study_id: int, deepcopy: bool = True, states: Container[TrialState] | None = None
    ) -> list[FrozenTrial]:
        return self._call("get_all_trials", study_id, deepcopy=deepcopy, states=states)

    def get_n_trials(self, study_id: int, state: tuple[TrialState, ...] | TrialState | None = None) -> int:
        return self._call("get_n_trials", study_id, state)

    def get_best_trial(self, study_id: int) -> FrozenTrial:
        return self._call("get_best_trial", study_id)

    def remove_session(self) -> None:
        self._backend.remove_session()

    def check_trial_is_updatable(self, trial_id: int, trial_state: TrialState) -> None:
        self._backend.check_trial_is_updatable(trial_id, trial_state)


def _retry_callable(storage: RetryingStorage, name: str, call: Callable[[], _T]) -> _T:
    def on_retry() -> None:
        storage.retries += 1
        storage._reset()

    return retry_transient(call, name=name, max_wait_s=storage._max_wait_s, on_retry=on_retry)


def retry_transient(
    call: Callable[[], _T], *, name: str, max_wait_s: float = 300.0, on_retry: Callable[[], None] | None = None
) -> _T:
    """``call()``, retried with exponential backoff while it fails for a transient reason.

    Examples
    --------
    >>> attempts = []
    >>> def flaky():
    ...     attempts.append(1)
    ...     if len(attempts) < 3:
    ...         raise ConnectionResetError("connection reset by peer")
    ...     return "stored"
    >>> retry_transient(flaky, name="write")
    'stored'
    """
    deadline = time.monotonic() + max_wait_s
    delay = 0.05
    while True:
        try:
            return call()
        except Exception as exc:
            if not is_transient(exc) or time.monotonic() + delay > deadline:
                raise
            _logger.warning("storage call %s failed (%s); retrying in %.2f s", name, _one_line(exc), delay)
            if on_retry is not None:
                on_retry()
        time.sleep(delay * (0.5 + random.random()))
        delay = min(delay * 2, 5.0)


def _stored_as(trial: FrozenTrial, state: TrialState, values: Sequence[float] | None) -> bool:
    if trial.state != state:
        return False
    if values is None:
        return True
    return trial.values is not None and list(map(float, trial.values)) == list(map(float, values))


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:200]

