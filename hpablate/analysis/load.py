"""Read an Optuna study into one tidy :class:`StudyData`, strictly read-only.

This is the entry to storage for :mod:`hpablate.analysis`: everything else takes the
:class:`StudyData` built here (or one built by hand from a DataFrame) and returns DataFrames.

Storage is given the way the ``optuna`` CLI guesses it: ``redis://…`` is a journal on Redis, an
existing file path is a journal file (or, if the file starts with SQLite's header, an SQLite
database), anything else an SQLAlchemy URL. Reading never writes: SQL storages are read with
plain ``SELECT`` statements (:mod:`hpablate.analysis._read_sql`), everything else through Optuna's
API on a copy or without table creation (:mod:`hpablate.analysis._read_optuna`). The tidy layout
is described in :mod:`hpablate.analysis._study_data`.
"""

from __future__ import annotations

import os
from typing import Any

import pandas as pd

from hpablate.analysis._read_optuna import read_journal, read_redis, read_via_optuna
from hpablate.analysis._read_sql import SQL_SCHEMAS, read_server, read_sqlite
from hpablate.analysis._study_data import ATTR_PREFIX, PARAM_PREFIX, StudyData, from_frozen_trials
from hpablate.errors import StorageError

__all__ = ["ATTR_PREFIX", "PARAM_PREFIX", "SQL_SCHEMAS", "StudyData", "from_frozen_trials", "list_studies", "load"]

_SQLITE_HEADER = b"SQLite format 3\x00"


def load(storage: Any, study_name: str | None = None) -> StudyData:
    """Read a study read-only from a storage URL / path / storage object, or take an ``optuna.Study``.

    Parameters
    ----------
    storage : str, optuna.Study or optuna.storages.BaseStorage
        ``sqlite:///x.db``, ``postgresql://…``, ``mysql+pymysql://…``, a journal file path,
        ``redis://…``; or an in-memory ``optuna.Study`` (then ``study_name`` is ignored).
    study_name : str, optional
        Needed when the storage holds several studies.

    Returns
    -------
    StudyData

    Raises
    ------
    StorageError, StudyNotFoundError
        For every unreadable storage, unknown schema or study.

    Examples
    --------
    >>> import optuna
    >>> study = optuna.create_study()
    >>> study.add_trial(optuna.trial.create_trial(
    ...     params={"x": 0.5}, distributions={"x": optuna.distributions.FloatDistribution(0, 1)},
    ...     value=1.0))
    >>> load(study).trials[["number", "state", "value_0", "params_x"]].values.tolist()
    [[0, 'COMPLETE', 1.0, 0.5]]
    """
    return _read(storage, study_name, listing=False)


def list_studies(storage: Any) -> pd.DataFrame:
    """Studies in a storage: name, directions, number of trials and of completed trials.

    Read-only like :func:`load`; raises the same errors for unreadable storage.

    Examples
    --------
    >>> import optuna
    >>> storage = optuna.storages.InMemoryStorage()
    >>> _ = optuna.create_study(storage=storage, study_name="a", direction="maximize")
    >>> list_studies(storage)[["name", "directions"]].values.tolist()
    [['a', ['maximize']]]
    """
    return _read(storage, None, listing=True)


def _read(storage: Any, study_name: str | None, listing: bool) -> Any:
    """:func:`load` (``listing=False``) or :func:`list_studies` (``listing=True``) of any storage."""
    import optuna

    if isinstance(storage, optuna.Study):
        if listing:  # the study itself: a storage of one study
            trials = storage.get_trials(deepcopy=False)
            directions = [d.name.lower() for d in storage.directions]
            n_complete = sum(t.state.name == "COMPLETE" for t in trials)
            return pd.DataFrame({"name": [storage.study_name], "directions": [directions],
                                 "n_trials": [len(trials)], "n_complete": [n_complete]})
        data = from_frozen_trials(
            storage.study_name,
            [d.name.lower() for d in storage.directions],
            storage.get_trials(deepcopy=False),
            storage.user_attrs,
            source="study",
        )
        data.metric_names = storage.metric_names
        return data
    if isinstance(storage, optuna.storages.BaseStorage):
        return read_via_optuna(storage, study_name, listing)
    if not isinstance(storage, (str, os.PathLike)):
        raise StorageError(f"storage must be a URL, a path or an optuna.Study, not {type(storage).__name__}")
    url = os.fspath(storage)
    if not url:
        raise StorageError("no storage given (pass a URL or set OPTUNA_STORAGE)")
    if url.startswith("redis"):
        return read_redis(url, study_name, listing)
    if "://" not in url:
        if os.path.isdir(url):
            raise StorageError(f"{url!r} is a directory, not a study file")
        if not os.path.isfile(url):
            raise StorageError(f"no such file: {url!r} (and not a storage URL)")
        with open(url, "rb") as f:
            head = f.read(len(_SQLITE_HEADER))
        if head == _SQLITE_HEADER:
            return read_sqlite(os.path.abspath(url), study_name, listing)
        return read_journal(url, study_name, listing)
    try:
        import sqlalchemy

        parsed = sqlalchemy.engine.make_url(url)
    except Exception as exc:  # ArgumentError and friends
        raise StorageError(f"cannot parse storage URL {url!r}: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database
        if not path or path == ":memory:" or path.startswith("file:"):
            raise StorageError(f"{url!r}: an in-memory SQLite database holds no study")
        if not os.path.isfile(path):
            raise StorageError(f"no such database file: {path!r}")
        return read_sqlite(os.path.abspath(path), study_name, listing)
    return read_server(url, study_name, listing)
