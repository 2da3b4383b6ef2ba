"""Read an Optuna study into one tidy DataFrame, strictly read-only.

This is the only module of :mod:`hpablate.analysis` that touches storage. Everything else takes
the :class:`StudyData` built here (or one built by hand from a DataFrame) and returns DataFrames.

Storage is given the way the ``optuna`` CLI guesses it: ``redis://…`` is a journal on Redis, an
existing file path is a journal file (or, if the file starts with SQLite's header, an SQLite
database), anything else an SQLAlchemy URL. Reading never writes:

* SQLite files are opened through a ``file:…?mode=ro`` URI connection (``immutable=1`` as a
  fallback), so no table is created, nothing migrated and no file made for a missing path.
* Known Optuna schemas (``alembic_version`` in :data:`SQL_SCHEMAS`) are read with a handful of
  ``SELECT`` statements; a schema this Optuna knows but hpablate's reader does not is read through
  Optuna's API on a temporary copy (SQLite) or with ``skip_table_creation`` (servers); schemas
  older or newer than the installed Optuna are refused with :class:`~hpablate.errors.StorageError`.

Tidy layout of :attr:`StudyData.trials` (one row per trial, every state)::

    number  state     value_0 … value_{k-1}  params_<name> …  user_attrs_<key> …

``value_i`` is NaN when the trial has no values; ``params_<name>`` holds external values
(floats, ints, category objects) and is missing (NaN/None) for conditional parameters a trial did
not suggest; ``user_attrs_<key>`` holds the decoded JSON of the user attribute.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sqlite3
import tempfile
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hpablate.errors import NoTrialsError, StorageError, StudyNotFoundError

#: Optuna schema revisions (``alembic_version``) whose tables hpablate reads with plain SQL.
SQL_SCHEMAS = frozenset({"v3.0.0.d", "v3.2.0.a"})

PARAM_PREFIX = "params_"
ATTR_PREFIX = "user_attrs_"
_SQLITE_HEADER = b"SQLite format 3\x00"


@dataclass
class StudyData:
    """One study as plain data: everything the analysis needs, nothing tied to storage.

    Attributes
    ----------
    name : str
        Study name.
    directions : list of str
        ``"minimize"`` / ``"maximize"`` per objective.
    trials : pandas.DataFrame
        Tidy table described in the module docstring.
    distributions : dict
        Parameter name to :class:`optuna.distributions.BaseDistribution` (as the trials recorded).
    user_attrs : dict
        Study user attributes (``hpablate.space``, ``hpablate.design``, ``hpablate.grid_groups``…).
    source : str
        How the data was read (``"sql"``, ``"optuna"``, ``"study"``), for reports.
    notes : list of str
        Anything worth telling the reader about the data (conflicting distributions…).
    """

    name: str
    directions: list[str]
    trials: pd.DataFrame
    distributions: dict[str, Any]
    user_attrs: dict[str, Any] = field(default_factory=dict)
    source: str = "study"
    notes: list[str] = field(default_factory=list)

    @property
    def param_names(self) -> list[str]:
        """Parameter names in the order they first appear."""
        return list(self.distributions)

    @property
    def n_objectives(self) -> int:
        """Number of objectives of the study."""
        return len(self.directions)

    def params(self) -> pd.DataFrame:
        """The parameter columns renamed to plain parameter names."""
        cols = [PARAM_PREFIX + n for n in self.param_names]
        return self.trials[cols].rename(columns=lambda c: c[len(PARAM_PREFIX):])

    def attr(self, key: str) -> pd.Series | None:
        """The user attribute column ``key`` (without prefix), or None when absent."""
        col = ATTR_PREFIX + key
        return self.trials[col] if col in self.trials.columns else None


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
        return from_frozen_trials(
            storage.study_name,
            [d.name.lower() for d in storage.directions],
            storage.get_trials(deepcopy=False),
            storage.user_attrs,
            source="study",
        )
    if isinstance(storage, optuna.storages.BaseStorage):
        return _load_via_optuna(storage, study_name, listing)
    if not isinstance(storage, (str, os.PathLike)):
        raise StorageError(f"storage must be a URL, a path or an optuna.Study, not {type(storage).__name__}")
    url = os.fspath(storage)
    if not url:
        raise StorageError("no storage given (pass a URL or set OPTUNA_STORAGE)")
    if url.startswith("redis"):
        return _load_redis(url, study_name, listing)
    if "://" not in url:
        if os.path.isdir(url):
            raise StorageError(f"{url!r} is a directory, not a study file")
        if not os.path.isfile(url):
            raise StorageError(f"no such file: {url!r} (and not a storage URL)")
        with open(url, "rb") as f:
            head = f.read(len(_SQLITE_HEADER))
        if head == _SQLITE_HEADER:
            return _load_sqlite(os.path.abspath(url), study_name, listing)
        return _load_journal(url, study_name, listing)
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
        return _load_sqlite(os.path.abspath(path), study_name, listing)
    return _load_server(url, study_name, listing)


def _listing(table: pd.DataFrame) -> pd.DataFrame:
    return table.drop(columns=["study_id"]).reset_index(drop=True)


def _pick_study(table: pd.DataFrame, study_name: str | None) -> Any:
    """Choose the study row from (study_id, name, directions, n_trials, n_complete)."""
    if len(table) == 0:
        raise StorageError("the storage holds no study (empty database)")
    if study_name is None:
        if len(table) > 1:
            names = ", ".join(map(str, table["name"]))
            raise StudyNotFoundError(f"{len(table)} studies in the storage ({names}); name one with --study")
        return table.iloc[0]
    match = table[table["name"] == study_name]
    if len(match) == 0:
        names = ", ".join(map(str, table["name"]))
        raise StudyNotFoundError(f"no study named {study_name!r} (studies: {names})")
    return match.iloc[0]


def _sqlite_engine(path: str, immutable: bool = False) -> Any:
    import sqlalchemy

    uri = "file:" + urllib.parse.quote(path) + ("?immutable=1" if immutable else "?mode=ro")

    def creator() -> sqlite3.Connection:
        return sqlite3.connect(uri, uri=True, check_same_thread=False)

    return sqlalchemy.create_engine("sqlite://", creator=creator, poolclass=sqlalchemy.pool.NullPool)


def _load_sqlite(path: str, study_name: str | None, listing: bool = False) -> Any:
    if os.path.getsize(path) == 0:
        raise StorageError(f"{path!r} is an empty file, not an Optuna database")
    last: Exception | None = None
    for immutable in (False, True):
        engine = _sqlite_engine(path, immutable=immutable)
        try:
            with engine.connect() as conn:
                return _read_sql(conn, study_name, url=f"sqlite:///{path}", sqlite_path=path, listing=listing)
        except (StorageError, StudyNotFoundError, NoTrialsError):
            raise
        except Exception as exc:  # noqa: BLE001
            last = exc
            if "not a database" in str(exc) or "malformed" in str(exc):
                break
        finally:
            engine.dispose()
    raise StorageError(f"{path!r} is not a readable SQLite database: {_one_line(last)}")


def _load_server(url: str, study_name: str | None, listing: bool = False) -> Any:
    import sqlalchemy

    try:
        engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    except Exception as exc:  # noqa: BLE001 - missing driver, bad URL
        raise StorageError(f"cannot open storage {_redact(url)}: {_one_line(exc)}") from None
    try:
        with engine.connect() as conn:
            return _read_sql(conn, study_name, url=url, sqlite_path=None, listing=listing)
    except (StorageError, StudyNotFoundError, NoTrialsError):
        raise
    except Exception as exc:  # noqa: BLE001
        raise StorageError(f"cannot read storage {_redact(url)}: {_one_line(exc)}") from None
    finally:
        engine.dispose()


def _optuna_revisions() -> tuple[list[str], str]:
    """All schema revisions the installed Optuna knows, oldest first, and its head."""
    import optuna.storages._rdb as rdb

    versions_dir = os.path.join(os.path.dirname(rdb.__file__), "alembic", "versions")
    chain: dict[str | None, str] = {}
    for fname in os.listdir(versions_dir):
        if not fname.endswith(".py"):
            continue
        rev = down = None
        with open(os.path.join(versions_dir, fname)) as f:
            for line in f:
                if line.startswith("revision ="):
                    rev = line.split("=", 1)[1].strip().strip("\"'")
                elif line.startswith("down_revision ="):
                    d = line.split("=", 1)[1].strip()
                    down = None if d == "None" else d.strip("\"'")
        if rev:
            chain[down] = rev
    order: list[str] = []
    cur = chain.get(None)
    while cur is not None:
        order.append(cur)
        cur = chain.get(cur)
    return order, order[-1]


def _read_sql(conn: Any, study_name: str | None, url: str, sqlite_path: str | None, listing: bool = False) -> Any:
    import sqlalchemy

    tables = set(sqlalchemy.inspect(conn).get_table_names())
    if not tables:
        raise StorageError("empty database: it holds no Optuna tables")
    if "studies" not in tables or "trials" not in tables:
        raise StorageError("not an Optuna database (no 'studies'/'trials' tables)")
    revision = None
    if "alembic_version" in tables:
        row = conn.exec_driver_sql("SELECT version_num FROM alembic_version").fetchone()
        revision = row[0] if row else None
    known, head = _optuna_revisions()
    if revision is None:
        raise StorageError("Optuna database without a schema version (alembic_version); cannot read it safely")
    if revision not in known:
        raise StorageError(
            f"schema {revision} is newer than this Optuna ({head}); upgrade optuna to read it"
        )
    if revision != head and revision not in SQL_SCHEMAS:
        raise StorageError(
            f"schema {revision} is older than this Optuna's {head}; upgrade a copy with "
            "`optuna storage upgrade` (hpablate never migrates your file)"
        )
    if revision not in SQL_SCHEMAS:  # known to Optuna, not to this reader: use Optuna's API
        return _load_rdb_via_optuna(url, study_name, sqlite_path, listing)

    q = conn.exec_driver_sql
    studies = pd.DataFrame(q("SELECT study_id, study_name FROM studies").fetchall(), columns=["study_id", "name"])
    dirs = q("SELECT study_id, objective, direction FROM study_directions").fetchall()
    counts = q(
        "SELECT study_id, COUNT(*), SUM(CASE WHEN state = 'COMPLETE' THEN 1 ELSE 0 END) "
        "FROM trials GROUP BY study_id"
    ).fetchall()
    dir_map: dict[int, list[tuple[int, str]]] = {}
    for sid, obj, d in dirs:
        dir_map.setdefault(sid, []).append((obj, str(d).lower()))
    cnt = {sid: (int(n), int(c or 0)) for sid, n, c in counts}
    studies["directions"] = [[d for _, d in sorted(dir_map.get(s, []))] for s in studies["study_id"]]
    studies["n_trials"] = [cnt.get(s, (0, 0))[0] for s in studies["study_id"]]
    studies["n_complete"] = [cnt.get(s, (0, 0))[1] for s in studies["study_id"]]
    if listing:
        return _listing(studies)
    row = _pick_study(studies, study_name)
    sid = int(row["study_id"])
    user_attrs = _study_attrs(conn, sid)

    trial_rows = _select(conn, "SELECT trial_id, number, state FROM trials WHERE study_id = :sid", sid)
    values = _select(
        conn,
        "SELECT v.trial_id, v.objective, v.value, v.value_type FROM trial_values v "
        "JOIN trials t ON t.trial_id = v.trial_id WHERE t.study_id = :sid",
        sid,
    )
    params = _select(
        conn,
        "SELECT p.trial_id, p.param_name, p.param_value, p.distribution_json FROM trial_params p "
        "JOIN trials t ON t.trial_id = p.trial_id WHERE t.study_id = :sid",
        sid,
    )
    attrs = _select(
        conn,
        "SELECT a.trial_id, a.key, a.value_json FROM trial_user_attributes a "
        "JOIN trials t ON t.trial_id = a.trial_id WHERE t.study_id = :sid",
        sid,
    )
    return _assemble(
        name=str(row["name"]),
        directions=list(row["directions"]),
        user_attrs=user_attrs,
        trial_rows=trial_rows,
        values=values,
        params=params,
        attrs=attrs,
    )


def _select(conn: Any, sql: str, sid: int) -> list[tuple]:
    import sqlalchemy

    return [tuple(r) for r in conn.execute(sqlalchemy.text(sql), {"sid": sid}).fetchall()]


def _study_attrs(conn: Any, sid: int) -> dict[str, Any]:
    rows = _select(conn, "SELECT u.key, u.value_json FROM study_user_attributes u WHERE u.study_id = :sid", sid)
    return {k: _loads(v) for k, v in rows}


def _loads(s: Any) -> Any:
    try:
        return json.loads(s)
    except (TypeError, ValueError):
        return s


def _assemble(
    name: str,
    directions: list[str],
    user_attrs: dict[str, Any],
    trial_rows: list[tuple],
    values: list[tuple],
    params: list[tuple],
    attrs: list[tuple],
) -> StudyData:
    """Build the tidy frame from raw (trial_id, …) rows of Optuna's tables."""
    from optuna.distributions import CategoricalDistribution, json_to_distribution

    n_obj = max(len(directions), 1)
    trial_rows = sorted(trial_rows, key=lambda r: r[1])
    ids = np.array([r[0] for r in trial_rows], dtype=np.int64)
    index = pd.Index(ids, name="trial_id")
    df = pd.DataFrame(
        {"number": np.array([r[1] for r in trial_rows], dtype=np.int64),
         "state": [str(r[2]).split(".")[-1] for r in trial_rows]},
        index=index,
    )
    pos = {tid: i for i, tid in enumerate(ids)}
    vals = np.full((len(ids), n_obj), np.nan)
    for tid, obj, value, vtype in values:
        i = pos.get(tid)
        if i is None or obj >= n_obj:
            continue
        vt = str(vtype).split(".")[-1]
        vals[i, obj] = math.inf if vt == "INF_POS" else -math.inf if vt == "INF_NEG" else (
            np.nan if value is None else float(value))
    for k in range(n_obj):
        df[f"value_{k}"] = vals[:, k]

    distributions: dict[str, Any] = {}
    notes: list[str] = []
    if params:
        p = pd.DataFrame(params, columns=["trial_id", "name", "value", "dist"])
        cols: dict[str, pd.Series] = {}
        for (pname, djson), grp in p.groupby(["name", "dist"], sort=False):
            dist = json_to_distribution(djson)
            if isinstance(dist, CategoricalDistribution):
                choices = np.empty(len(dist.choices), dtype=object)
                choices[:] = list(dist.choices)
                ext = pd.Series(choices[grp["value"].to_numpy().astype(np.int64)], index=grp["trial_id"].to_numpy(),
                                dtype=object)
            elif type(dist).__name__ == "IntDistribution":
                ext = pd.Series(np.rint(grp["value"].to_numpy()).astype(np.int64), index=grp["trial_id"].to_numpy())
            else:
                ext = pd.Series(grp["value"].to_numpy(dtype=float), index=grp["trial_id"].to_numpy())
            if pname in distributions and distributions[pname] != dist:
                distributions[pname] = _widen(distributions[pname], dist, notes, pname)
            else:
                distributions.setdefault(pname, dist)
            cols[pname] = ext if pname not in cols else pd.concat([cols[pname].astype(object), ext.astype(object)])
        for pname in distributions:
            df[PARAM_PREFIX + pname] = _reindex(cols[pname], index)
    if attrs:
        a = pd.DataFrame(attrs, columns=["trial_id", "key", "value_json"])
        for key, grp in a.groupby("key", sort=False):
            s = pd.Series([_loads(v) for v in grp["value_json"]], index=grp["trial_id"].to_numpy(), dtype=object)
            df[ATTR_PREFIX + key] = _reindex(s, index)
    df = df.reset_index(drop=True)
    return StudyData(name, directions, _infer_dtypes(df), distributions, user_attrs, "sql", notes)


def _reindex(s: pd.Series, index: pd.Index) -> pd.Series:
    """Align to the trial ids; absent entries become NaN (a ``None`` value stays ``None``)."""
    s = s[~s.index.duplicated(keep="last")]
    if s.dtype == object:
        vals = np.full(len(index), np.nan, dtype=object)
        pos = index.get_indexer(s.index)
        ok = pos >= 0
        vals[pos[ok]] = s.to_numpy()[ok]
        return pd.Series(vals, index=index, dtype=object)
    return s.reindex(index)


def _infer_dtypes(df: pd.DataFrame) -> pd.DataFrame:
    for c in df.columns:
        if df[c].dtype == object:
            vals = df[c].to_numpy()
            if len(vals) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
                # numbers with NaN for absent entries (no None): a numeric column
                df[c] = pd.to_numeric(df[c])
    return df


def _widen(old: Any, new: Any, notes: list[str], name: str) -> Any:
    """Merge two distributions recorded for one parameter name into one that covers both."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    notes.append(f"parameter {name!r} was recorded with different distributions; using their union")
    if isinstance(old, CategoricalDistribution) and isinstance(new, CategoricalDistribution):
        choices = list(old.choices) + [c for c in new.choices if c not in old.choices]
        return CategoricalDistribution(choices)
    if isinstance(old, IntDistribution) and isinstance(new, IntDistribution) and old.log == new.log:
        return IntDistribution(min(old.low, new.low), max(old.high, new.high), log=old.log)
    low = min(getattr(old, "low", 0), getattr(new, "low", 0))
    high = max(getattr(old, "high", 1), getattr(new, "high", 1))
    log = bool(getattr(old, "log", False) and getattr(new, "log", False))
    return FloatDistribution(low, high, log=log)


def _one_line(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def _redact(url: str) -> str:
    try:
        import sqlalchemy

        return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return "<storage URL>"


def from_frozen_trials(
    name: str,
    directions: list[str],
    trials: Iterable[Any],
    user_attrs: dict[str, Any],
    source: str = "optuna",
) -> StudyData:
    """Build :class:`StudyData` from ``optuna.trial.FrozenTrial`` objects."""
    trials = sorted(trials, key=lambda t: t.number)
    n_obj = max(len(directions), 1)
    df = pd.DataFrame({"number": np.array([t.number for t in trials], dtype=np.int64),
                       "state": [t.state.name for t in trials]})
    vals = np.full((len(trials), n_obj), np.nan)
    for i, t in enumerate(trials):
        if t.values is not None:
            vals[i, : len(t.values)] = t.values
    for k in range(n_obj):
        df[f"value_{k}"] = vals[:, k]
    distributions: dict[str, Any] = {}
    notes: list[str] = []
    for t in trials:
        for pname, dist in t.distributions.items():
            if pname in distributions and distributions[pname] != dist:
                distributions[pname] = _widen(distributions[pname], dist, notes, pname)
            else:
                distributions.setdefault(pname, dist)
    for pname in distributions:
        col = pd.Series([t.params.get(pname, np.nan) for t in trials], dtype=object)
        df[PARAM_PREFIX + pname] = col
    keys: dict[str, None] = {}
    for t in trials:
        for k in t.user_attrs:
            keys.setdefault(k, None)
    for k in keys:
        df[ATTR_PREFIX + k] = pd.Series([t.user_attrs.get(k, np.nan) for t in trials], dtype=object)
    return StudyData(name, list(directions), _infer_dtypes(df), distributions, dict(user_attrs), source, notes)


def _load_via_optuna(storage: Any, study_name: str | None, listing: bool = False) -> Any:
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
        return _listing(table)
    row = _pick_study(table, study_name)
    sid = int(row["study_id"])
    trials = storage.get_all_trials(sid, deepcopy=False)
    return from_frozen_trials(
        str(row["name"]), list(row["directions"]), trials, storage.get_study_user_attrs(sid), "optuna"
    )


def _load_journal(path: str, study_name: str | None, listing: bool = False) -> Any:
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
            raise StorageError(f"{path!r} is not a readable Optuna journal: {_one_line(exc)}") from None
        return _load_via_optuna(storage, study_name, listing)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def _load_redis(url: str, study_name: str | None, listing: bool = False) -> Any:
    try:
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalRedisBackend

        storage = JournalStorage(JournalRedisBackend(url))
    except Exception as exc:  # noqa: BLE001
        raise StorageError(f"cannot open Redis journal {_redact(url)}: {_one_line(exc)}") from None
    try:
        return _load_via_optuna(storage, study_name, listing)
    except (StorageError, StudyNotFoundError):
        raise
    except Exception as exc:  # noqa: BLE001
        raise StorageError(f"cannot read Redis journal {_redact(url)}: {_one_line(exc)}") from None


def _load_rdb_via_optuna(url: str, study_name: str | None, sqlite_path: str | None, listing: bool = False) -> Any:
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
            raise StorageError(f"Optuna cannot read this storage: {_one_line(exc)}") from None
        return _load_via_optuna(storage, study_name, listing)
    finally:
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)
