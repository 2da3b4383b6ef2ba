"""Storage helpers shared by the samplers, the runner and the CLI.

Optuna's public API writes one trial attribute per transaction (about 2 ms each on SQLite), so the
record of a trial (six ``hpablate.*`` attributes) is written in one transaction where the storage
is an :class:`~optuna.storages.RDBStorage`; other storages get the public per-key calls.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from typing import Any

from optuna.exceptions import StorageInternalError
from optuna.storages import BaseStorage, InMemoryStorage, JournalStorage, RDBStorage

from hpablate.errors import StorageError


def unwrap(storage: BaseStorage) -> BaseStorage:
    """The storage behind wrappers (Optuna's private cache, hpablate's retrying storage), if any.

    A journal storage's ``_backend`` is its log backend, not a storage: it is not unwrapped.
    """
    while isinstance(getattr(storage, "_backend", None), BaseStorage):
        storage = storage._backend
    return storage


def write_trial_user_attrs(
    storage: BaseStorage, trial_id: int, attrs: Mapping[str, Any], *, new_keys: bool = False
) -> None:
    """Write several trial user attributes, in one transaction on RDB storages.

    With ``new_keys=True`` (none of the keys is set on the trial yet, as for a trial that was just
    created) the rows go in as one multi-row INSERT, about 2 ms on SQLite against 7 ms for
    per-key upserts; should a key exist after all, the write falls back to upserts.
    """
    backend = unwrap(storage)
    if isinstance(backend, RDBStorage):
        from hpablate._retry import retry_transient

        def write() -> None:
            if new_keys:
                try:
                    _insert_rdb_user_attrs(backend, trial_id, attrs)
                    return
                except _integrity_error():
                    pass  # a key existed (the insert was rolled back, or stored before a lost ack)
            _upsert_rdb_user_attrs(backend, trial_id, attrs)

        try:
            # The direct write bypasses the worker's retrying storage: retry dropped connections
            # and "database is locked" here too.
            retry_transient(write, name="write_trial_user_attrs")
            return
        except (ImportError, AttributeError, TypeError):  # private API moved: use the public one
            pass
    for key, value in attrs.items():
        storage.set_trial_user_attr(trial_id, key, value)


def _integrity_error() -> type[Exception]:
    import sqlalchemy.exc

    return sqlalchemy.exc.IntegrityError


def _insert_rdb_user_attrs(backend: RDBStorage, trial_id: int, attrs: Mapping[str, Any]) -> None:
    import sqlalchemy
    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session

    with _create_scoped_session(backend.scoped_session) as session:
        trial = models.TrialModel.find_or_raise_by_id(trial_id, session)
        backend.check_trial_is_updatable(trial_id, trial.state)
        rows = [{"trial_id": trial_id, "key": k, "value_json": json.dumps(v)} for k, v in attrs.items()]
        session.execute(sqlalchemy.insert(models.TrialUserAttributeModel), rows)


def _upsert_rdb_user_attrs(backend: RDBStorage, trial_id: int, attrs: Mapping[str, Any]) -> None:
    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session

    with _create_scoped_session(backend.scoped_session, True) as session:
        for key, value in attrs.items():
            backend._set_trial_attr_without_commit(session, models.TrialUserAttributeModel, trial_id, key, value)


def is_in_memory(storage: BaseStorage) -> bool:
    """Whether the storage lives in this process only (workers must then be threads)."""
    return isinstance(unwrap(storage), InMemoryStorage)


def storage_spec(storage: BaseStorage) -> str | None:
    """A string from which another process can reopen ``storage``, or ``None`` if it cannot.

    RDB storages give their URL; journal storages their file path or Redis URL.
    """
    backend = unwrap(storage)
    if isinstance(backend, RDBStorage):
        return str(backend.url)
    if isinstance(backend, JournalStorage):
        journal_backend = getattr(backend, "_backend", None)
        path = getattr(journal_backend, "_file_path", None)
        if path is not None:
            return os.fspath(path)
        url = getattr(journal_backend, "_url", None)
        if url is not None:
            return str(url)
    return None


def open_storage(spec: str | BaseStorage | None) -> BaseStorage | None:
    """Open a storage from a URL or journal path, guessing its kind as Optuna's CLI does.

    ``sqlite:///x.db`` / ``postgresql://…`` / ``mysql+pymysql://…`` open an RDB storage,
    ``redis://…`` a journal on Redis, and anything else is taken as a journal file path. The
    storage may be created (this is for commands that write); see ``hpablate.analysis.load`` for
    read-only access.
    """
    if spec is None or isinstance(spec, BaseStorage):
        return spec
    if not isinstance(spec, str) or not spec.strip():
        raise StorageError(f"storage must be a URL or a journal file path, got {spec!r}")
    try:
        if spec.startswith("redis"):
            from optuna.storages.journal import JournalRedisBackend

            return JournalStorage(JournalRedisBackend(spec))
        if "://" in spec:
            return _open_rdb(spec)
        from optuna.storages.journal import JournalFileBackend, JournalFileSymlinkLock

        check_journal_file(spec)
        lock = JournalFileSymlinkLock(spec, grace_period=JOURNAL_LOCK_GRACE_S)
        return JournalStorage(JournalFileBackend(spec, lock_obj=lock))
    except StorageError:
        raise
    except ImportError as exc:
        raise StorageError(f"cannot open storage {redact_url(spec)!r}: missing driver ({exc.name})") from None
    except Exception as exc:  # noqa: BLE001 - SQLAlchemy/redis raise many types; report one line
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise StorageError(f"cannot open storage {redact_url(spec)!r}: {mask_password(message, spec)}") from None


#: Seconds after which a journal file's lock is taken from a holder that does not release it.
#: Optuna's default (30 s) stalls every worker for half a minute whenever one is killed while it
#: appends; an append takes milliseconds, so 5 s is still generous for a live holder.
JOURNAL_LOCK_GRACE_S = 5

_SQLITE_MAGIC = b"SQLite format 3\x00"


def check_journal_file(path: str) -> None:
    """Refuse a path that exists but is not an Optuna journal file, before anything is appended.

    Raises
    ------
    StorageError
        The path is a folder, a SQLite database, or a file whose first line is not a journal record.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> settings = pathlib.Path(tempfile.mkdtemp()) / "settings.json"
    >>> _ = settings.write_text(json.dumps({"lr": 0.1}))
    >>> check_journal_file(str(settings))
    Traceback (most recent call last):
    ...
    hpablate.errors.StorageError: ... is not an Optuna journal file (its first line is no journal record); give a new file name, or a database URL such as sqlite:///x.db
    """
    if os.path.isdir(path):
        raise StorageError(f"storage {path!r} is a folder, not a journal file or database URL")
    if not os.path.isfile(path) or os.path.getsize(path) == 0:
        return
    with open(path, "rb") as handle:
        head = handle.read(65536)
    if head.startswith(_SQLITE_MAGIC):
        raise StorageError(f"{path!r} is a SQLite database: give it as sqlite:///{path}")
    first = head.split(b"\n", 1)[0]
    try:
        record = json.loads(first)
    except (UnicodeDecodeError, json.JSONDecodeError):
        record = None
    if not (isinstance(record, dict) and "op_code" in record):
        raise StorageError(
            f"{path!r} is not an Optuna journal file (its first line is no journal record); give a new file "
            "name, or a database URL such as sqlite:///x.db"
        )


def redact_url(spec: str) -> str:
    """A storage URL with its password replaced by ``***`` (journal paths unchanged).

    Examples
    --------
    >>> redact_url("postgresql://bob:s3cret@db:5432/hp")
    'postgresql://bob:***@db:5432/hp'
    >>> redact_url("redis://:s3cret@cache:6379/0")
    'redis://:***@cache:6379/0'
    """
    if "://" not in spec:
        return spec
    try:
        import sqlalchemy

        return sqlalchemy.engine.make_url(spec).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not an SQLAlchemy URL (redis://): mask by hand
        scheme, rest = spec.split("://", 1)
        if "@" not in rest:
            return spec
        credentials, host = rest.rsplit("@", 1)
        user = credentials.split(":", 1)[0] if ":" in credentials else credentials
        return f"{scheme}://{user}:***@{host}" if ":" in credentials else spec


def mask_password(message: str, spec: str) -> str:
    """``message`` with the password of the storage URL ``spec`` replaced by ``***``."""
    if "://" in spec and "@" in spec:
        password = spec.split("://", 1)[1].rsplit("@", 1)[0].partition(":")[2]
        if password:
            message = message.replace(password, "***")
    return message


_SCHEMA_RACE_SIGNS = ("already exists", "UNIQUE constraint", "Duplicate entry", "duplicate key", "database is locked")


def serialize_sqlite_transactions(engine: Any) -> None:
    """Make every SQLite transaction of ``engine`` take the write lock when it begins.

    Optuna refuses to change a finished trial by reading its state and then writing, in one
    session. On PostgreSQL and MySQL the read locks the row (``SELECT … FOR UPDATE``); Python's
    SQLite driver runs the read outside any transaction, so two processes can both read RUNNING
    and both write: a worker that marks a dead trial FAIL and the paused worker that completes it
    both "succeed", the later write wins, and the slot is run twice (seen in the chaos benchmark).
    ``BEGIN IMMEDIATE`` (the SQLAlchemy recipe for pysqlite) makes the read and the write one
    serialized transaction, so the second writer finds the trial finished.
    """
    import sqlalchemy

    @sqlalchemy.event.listens_for(engine, "connect")
    def _no_driver_transactions(dbapi_connection: Any, connection_record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver's own BEGIN would come too late

    @sqlalchemy.event.listens_for(engine, "begin")
    def _begin_immediate(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()  # connections opened before the listeners (schema creation) are dropped


def _open_rdb(url: str, attempts: int = 8) -> RDBStorage:
    """Open an RDB storage; retry when another process is creating the schema at the same time, or
    the connection dropped (about 50 s in all)."""
    import sqlalchemy.exc

    for attempt in range(attempts):
        try:
            storage = RDBStorage(url)
            if storage.engine.dialect.name == "sqlite":
                serialize_sqlite_transactions(storage.engine)
            return storage
        except (sqlalchemy.exc.DBAPIError, StorageInternalError) as exc:
            from hpablate._retry import is_transient

            racing = any(sign in str(exc) for sign in _SCHEMA_RACE_SIGNS) or is_transient(exc)
            if not racing or attempt == attempts - 1:
                raise
            time.sleep(0.2 * 2**attempt)
    raise AssertionError("unreachable")
