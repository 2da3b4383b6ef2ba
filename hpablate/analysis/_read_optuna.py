"""Storage read through Optuna's own API: journal files, Redis journals, storage objects, and SQL
schemas this Optuna knows but hpablate's SQL reader does not.

Optuna's storages may write (create tables, take locks, migrate), so they are only ever handed a
copy of a user's file, or a server URL with ``skip_table_creation``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from typing import Any

import numpy as np
import pandas as pd

from hpablate._storage import redact_url as redact
from hpablate.analysis._study_data import from_frozen_trials, listing_table, one_line, pick_study
from hpablate.errors import StorageError, StudyNotFoundError

#: Where Optuna keeps ``study.metric_names`` (a study system attribute).
METRIC_NAMES_KEY = "study:metric_names"


def read_via_optuna(storage: Any, study_name: str | None, listing: bool = False) -> Any:
    summaries = storage.get_all_studies()
    table = pd.DataFrame(
        {
            "study_id": [s._study_id for s in summaries],
            "name": [s.study_name for s in summaries],
            "directions": [[d.name.lower() for d in s.directions] for s in summaries],
            "n_trials": [s.n_trials if hasattr(s, "n_trials") else np.nan for s in summaries],
            "n_complete": [np.nan for _ in summaries],
        }
    )
    if listing:
        return listing_table(table)
    row = pick_study(table, study_name)
    sid = int(row["study_id"])
    trials = storage.get_all_trials(sid, deepcopy=False)
    data = from_frozen_trials(
        str(row["name"]), list(row["directions"]), trials, storage.get_study_user_attrs(sid), "optuna"
    )
    data.metric_names = storage.get_study_system_attrs(sid).get(METRIC_NAMES_KEY)
    return data


def read_journal(path: str, study_name: str | None, listing: bool = False) -> Any:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    if os.path.getsize(path) == 0:
        raise StorageError(f"{path!r} is an empty file, not an Optuna journal or database")
    with open(path, "rb") as f:
        first = f.readline()
    try:
        log = json.loads(first)
        if not isinstance(log, dict) or "op_code" not in log:
            raise ValueError
    except ValueError:
        raise StorageError(f"{path!r} is neither an SQLite database nor an Optuna journal file") from None
    # JournalFileBackend only reads an existing file (the lock is taken for writes only); a copy
    # keeps even that from touching the user's directory.
    tmpdir = tempfile.mkdtemp(prefix="hpablate-")
    try:
        copy = os.path.join(tmpdir, "journal.log")
        shutil.copyfile(path, copy)
        try:
            storage = JournalStorage(JournalFileBackend(copy))
        except Exception as exc:  # noqa: BLE001
            raise StorageError(f"{path!r} is not a readable Optuna journal: {one_line(exc)}") from None
        return read_via_optuna(storage, study_name, listing)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def read_redis(url: str, study_name: str | None, listing: bool = False) -> Any:
    try:
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalRedisBackend

        storage = JournalStorage(JournalRedisBackend(url))
    except Exception as exc:  # noqa: BLE001
        raise StorageError(f"cannot open Redis journal {redact(url)}: {one_line(exc)}") from None
    try:
        return read_via_optuna(storage, study_name, listing)
    except (StorageError, StudyNotFoundError):
        raise
    except Exception as exc:  # noqa: BLE001
        raise StorageError(f"cannot read Redis journal {redact(url)}: {one_line(exc)}") from None


def read_rdb_via_optuna(url: str, study_name: str | None, sqlite_path: str | None, listing: bool = False) -> Any:
    from optuna.storages import RDBStorage

    tmpdir = None
    try:
        if sqlite_path is not None:  # never hand Optuna the user's file: it may write to it
            tmpdir = tempfile.mkdtemp(prefix="hpablate-")
            copy = os.path.join(tmpdir, "study.db")
            shutil.copyfile(sqlite_path, copy)
            url = f"sqlite:///{copy}"
        try:
            storage = RDBStorage(url, skip_table_creation=True)
        except Exception as exc:  # noqa: BLE001
            raise StorageError(f"Optuna cannot read this storage: {one_line(exc)}") from None
        return read_via_optuna(storage, study_name, listing)
    finally:
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)
