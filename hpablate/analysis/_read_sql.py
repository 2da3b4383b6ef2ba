"""Optuna's SQL tables read with a handful of ``SELECT`` statements, strictly read-only.

* SQLite files are opened through a ``file:…?mode=ro`` URI connection, so no table is created,
  nothing migrated and no file made for a missing path; a WAL-mode database that no one has open
  for writing (no ``-wal`` file) is opened ``immutable=1``, so the reader leaves no ``-shm``/``-wal``
  files behind (see :func:`sqlite_uri`).
* Servers (PostgreSQL, MySQL/MariaDB) are read over a plain SQLAlchemy connection.
* Known Optuna schemas (``alembic_version`` in :data:`SQL_SCHEMAS`) are read directly; a schema
  this Optuna knows but this reader does not goes to :mod:`hpablate.analysis._read_optuna`;
  schemas older or newer than the installed Optuna are refused with
  :class:`~hpablate.errors.StorageError`.
"""

from __future__ import annotations

import math
import os
import sqlite3
import urllib.parse
from typing import Any

import numpy as np
import pandas as pd

from hpablate.analysis._read_optuna import read_rdb_via_optuna
from hpablate._storage import redact_url as redact
from hpablate.analysis._study_data import (
    ATTR_PREFIX,
    PARAM_PREFIX,
    StudyData,
    infer_dtypes,
    intermediate_frame,
    listing_table,
    loads_json,
    one_line,
    pick_study,
    widen,
)
from hpablate.errors import NoTrialsError, StorageError, StudyNotFoundError

#: Optuna schema revisions (``alembic_version``) whose tables hpablate reads with plain SQL.
SQL_SCHEMAS = frozenset({"v3.0.0.d", "v3.2.0.a"})


def sqlite_uri(path: str, immutable: bool = False) -> str:
    """The read-only URI of an SQLite file: ``mode=ro``, or ``immutable=1`` (no locks, no ``-shm``).

    Examples
    --------
    >>> sqlite_uri("/data/my study.db"), sqlite_uri("/data/x.db", immutable=True)
    ('file:/data/my%20study.db?mode=ro', 'file:/data/x.db?immutable=1')
    """
    return "file:" + urllib.parse.quote(path) + ("?immutable=1" if immutable else "?mode=ro")


def _idle_wal(path: str) -> bool:
    """True for a WAL-mode database without a ``-wal`` file.

    A ``mode=ro`` reader of a WAL database creates ``-shm`` and ``-wal`` files (it needs the
    shared-memory index) and, unable to checkpoint, leaves them behind. Without a ``-wal`` file no
    connection has the database open and all of it is in the main file, so ``immutable=1`` reads
    it completely without making either file. A writer that opens it during the read is not seen
    (its changes stay in its own ``-wal`` until a checkpoint); with a ``-wal`` file present the
    reader uses ``mode=ro`` and sees committed writes, at the cost of the files SQLite keeps.
    """
    with open(path, "rb") as f:
        header = f.read(20)
    # bytes 18 and 19 of the header: file format write/read version, 2 = WAL
    return len(header) == 20 and header[18:20] == b"\x02\x02" and not os.path.exists(path + "-wal")


def _sqlite_engine(path: str, immutable: bool = False) -> Any:
    import sqlalchemy

    uri = sqlite_uri(path, immutable)

    def creator() -> sqlite3.Connection:
        return sqlite3.connect(uri, uri=True, check_same_thread=False)

    return sqlalchemy.create_engine("sqlite://", creator=creator, poolclass=sqlalchemy.pool.NullPool)


def read_sqlite(path: str, study_name: str | None, listing: bool = False) -> Any:
    if os.path.getsize(path) == 0:
        raise StorageError(f"{path!r} is an empty file, not an Optuna database")
    last: Exception | None = None
    # immutable=1 is the fallback where mode=ro cannot open the file (e.g. a read-only folder)
    for immutable in (True,) if _idle_wal(path) else (False, True):
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
    raise StorageError(f"{path!r} is not a readable SQLite database: {one_line(last)}")


def read_server(url: str, study_name: str | None, listing: bool = False) -> Any:
    import sqlalchemy

    try:
        engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    except Exception as exc:  # noqa: BLE001 - missing driver, bad URL
        raise StorageError(f"cannot open storage {redact(url)}: {one_line(exc)}") from None
    try:
        with engine.connect() as conn:
            return _read_sql(conn, study_name, url=url, sqlite_path=None, listing=listing)
    except (StorageError, StudyNotFoundError, NoTrialsError):
        raise
    except Exception as exc:  # noqa: BLE001
        raise StorageError(f"cannot read storage {redact(url)}: {one_line(exc)}") from None
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
        return read_rdb_via_optuna(url, study_name, sqlite_path, listing)

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
        return listing_table(studies)
    row = pick_study(studies, study_name)
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
    data = _assemble(
        name=str(row["name"]),
        directions=list(row["directions"]),
        user_attrs=user_attrs,
        trial_rows=trial_rows,
        values=values,
        params=params,
        attrs=attrs,
    )
    data.metric_names = _metric_names(conn, sid)
    if "trial_intermediate_values" in tables:
        data.intermediate = _intermediate(conn, sid, trial_rows)
    return data


#: Rows of intermediate values fetched at a time: the tuples of one batch are the reader's peak.
_BATCH = 200_000
_INF = {"INF_POS": math.inf, "INF_NEG": -math.inf, "NAN": math.nan}


def _intermediate(conn: Any, sid: int, trial_rows: list[tuple]) -> pd.DataFrame:
    """The study's intermediate values as a compact long table (empty without a query when none).

    One indexed ``LIMIT 1`` probe first, so a study that reported nothing (the common case, also
    for 100k-trial studies) costs nothing more; otherwise rows arrive in batches converted to
    numpy arrays, so no Python tuple per value outlives its batch.
    """
    import sqlalchemy

    probe = ("SELECT 1 FROM trial_intermediate_values v JOIN trials t ON t.trial_id = v.trial_id "
             "WHERE t.study_id = :sid LIMIT 1")
    if conn.execute(sqlalchemy.text(probe), {"sid": sid}).fetchone() is None:
        return intermediate_frame([], [], [])
    number_of = {int(r[0]): int(r[1]) for r in trial_rows}
    result = conn.execute(sqlalchemy.text(
        "SELECT v.trial_id, v.step, v.intermediate_value, v.intermediate_value_type FROM trial_intermediate_values v "
        "JOIN trials t ON t.trial_id = v.trial_id WHERE t.study_id = :sid"), {"sid": sid})
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    while batch := result.fetchmany(_BATCH):
        ids, steps, vals, types = zip(*batch)
        value = np.array(vals, dtype=np.float64)  # None (non-finite values) becomes NaN
        kind = np.asarray(types).astype(str)
        for name, v in _INF.items():
            value[np.char.endswith(kind, name)] = v
        parts.append((np.fromiter((number_of[i] for i in ids), np.int64, len(ids)), np.asarray(steps, np.int64),
                      value))
    return intermediate_frame(*(np.concatenate([p[k] for p in parts]) for k in range(3)))


def _select(conn: Any, sql: str, sid: int) -> list[tuple]:
    import sqlalchemy

    return [tuple(r) for r in conn.execute(sqlalchemy.text(sql), {"sid": sid}).fetchall()]


def _metric_names(conn: Any, sid: int) -> list[str] | None:
    rows = _select(conn, "SELECT s.value_json FROM study_system_attributes s "
                         "WHERE s.study_id = :sid AND s.key = 'study:metric_names'", sid)
    return loads_json(rows[0][0]) if rows else None


def _study_attrs(conn: Any, sid: int) -> dict[str, Any]:
    rows = _select(conn, "SELECT u.key, u.value_json FROM study_user_attributes u WHERE u.study_id = :sid", sid)
    return {k: loads_json(v) for k, v in rows}


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
                distributions[pname] = widen(distributions[pname], dist, notes, pname)
            else:
                distributions.setdefault(pname, dist)
            cols[pname] = ext if pname not in cols else pd.concat([cols[pname].astype(object), ext.astype(object)])
        for pname in distributions:
            df[PARAM_PREFIX + pname] = _reindex(cols[pname], index)
    if attrs:
        a = pd.DataFrame(attrs, columns=["trial_id", "key", "value_json"])
        for key, grp in a.groupby("key", sort=False):
            s = pd.Series([loads_json(v) for v in grp["value_json"]], index=grp["trial_id"].to_numpy(), dtype=object)
            df[ATTR_PREFIX + key] = _reindex(s, index)
    df = df.reset_index(drop=True)
    return StudyData(name, directions, infer_dtypes(df), distributions, user_attrs, "sql", notes)


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
