"""Read-only loading: every storage kind against Optuna's own view of the trials; files untouched."""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import sqlite3

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

import hpablate.analysis.load  # noqa: F401
load_mod = __import__("sys").modules["hpablate.analysis._read_sql"]  # the SQL reader holds SQL_SCHEMAS
from hpablate.analysis.load import ATTR_PREFIX, PARAM_PREFIX, list_studies, load
from hpablate.errors import StorageError, StudyNotFoundError

DIST = {"lr": FloatDistribution(1e-4, 1e-1, log=True), "n": IntDistribution(1, 9),
        "opt": CategoricalDistribution(["sgd", "adam", None]), "flag": CategoricalDistribution([True, False]),
        "mom": FloatDistribution(0.0, 0.99)}


def fill(study: optuna.Study, n: int = 40, seed: int = 0) -> None:
    """Trials of every kind: FAIL, PRUNED, inf values, conditional params, assorted user attrs."""
    rng = np.random.default_rng(seed)
    trials = []
    for i in range(n):
        p = {"lr": float(np.exp(rng.uniform(np.log(1e-4), np.log(1e-1)))), "n": int(rng.integers(1, 10)),
             "opt": [None, "sgd", "adam"][i % 3], "flag": bool(i % 2)}
        d = {k: DIST[k] for k in p}
        if p["opt"] == "sgd":  # conditional parameter
            p["mom"] = float(rng.random() * 0.99)
            d["mom"] = DIST["mom"]
        attrs = {"hpablate.seed": i, "hpablate.varied": ["lr"], "per_class_acc": {"0": 0.5, "1": float(i)},
                 "note": None if i % 4 else "x"}
        values = [float(rng.normal()), float(rng.normal())] if len(study.directions) == 2 else [float(rng.normal())]
        if i == 3:
            values = [math.inf] + values[1:]
        if i % 7 == 5:
            trials.append(optuna.trial.create_trial(params=p, distributions=d, state=TrialState.FAIL, user_attrs=attrs))
        elif i % 11 == 6:
            trials.append(optuna.trial.create_trial(params=p, distributions=d, state=TrialState.PRUNED,
                                                    user_attrs=attrs, intermediate_values={0: 1.0}))
        else:
            trials.append(optuna.trial.create_trial(params=p, distributions=d, values=values, user_attrs=attrs))
    study.add_trials(trials)
    study.set_user_attr("hpablate.design", "oat")
    study.set_user_attr("hpablate.grid_groups", [["lr", "n"]])


def assert_matches_optuna(data, study: optuna.Study) -> None:
    ref = study.get_trials(deepcopy=False)
    t = data.trials
    assert t["number"].tolist() == [r.number for r in ref]
    assert t["state"].tolist() == [r.state.name for r in ref]
    assert data.directions == [d.name.lower() for d in study.directions]
    assert data.user_attrs == study.user_attrs
    for k in range(len(study.directions)):
        got = t[f"value_{k}"].to_numpy()
        exp = np.array([r.values[k] if r.values is not None else np.nan for r in ref])
        np.testing.assert_array_equal(got, exp)
    for name in DIST:
        col = t[PARAM_PREFIX + name].tolist()
        for v, r in zip(col, ref):
            if name in r.params:
                assert v == r.params[name] and type(v) is type(r.params[name]) or (
                    isinstance(v, (int, float)) and not isinstance(v, bool) and v == r.params[name])
            else:
                assert v is None or (isinstance(v, float) and math.isnan(v))
    for key in ("hpablate.seed", "hpablate.varied", "per_class_acc", "note"):
        assert t[ATTR_PREFIX + key].tolist() == [r.user_attrs.get(key) for r in ref]
    assert {k: type(v) for k, v in data.distributions.items()} == {k: type(v) for k, v in DIST.items()}


def _md5(path) -> str:
    return hashlib.md5(open(path, "rb").read()).hexdigest()


@pytest.fixture
def sqlite_study(tmp_path):
    path = tmp_path / "study.db"
    url = f"sqlite:///{path}"
    study = optuna.create_study(storage=url, study_name="s1", directions=["minimize", "maximize"])
    fill(study)
    return path, url, study


def test_sql_reader_equals_optuna_and_leaves_the_file_alone(sqlite_study, tmp_path):
    path, url, study = sqlite_study
    before, files = _md5(path), sorted(os.listdir(tmp_path))
    data = load(url)
    assert data.source == "sql"
    assert_matches_optuna(data, study)
    assert load(str(path)).trials.equals(data.trials)  # a plain path to an SQLite file works too
    assert _md5(path) == before and sorted(os.listdir(tmp_path)) == files


def test_optuna_api_fallback_reads_a_copy(sqlite_study, tmp_path, monkeypatch):
    path, url, study = sqlite_study
    before = _md5(path)
    monkeypatch.setattr(load_mod, "SQL_SCHEMAS", frozenset())  # a schema only Optuna knows
    data = load(url)
    assert data.source == "optuna"
    assert_matches_optuna(data, study)
    assert _md5(path) == before and sorted(os.listdir(tmp_path)) == ["study.db"]


def test_study_selection(tmp_path):
    url = f"sqlite:///{tmp_path / 'two.db'}"
    for name in ("a", "b"):
        fill(optuna.create_study(storage=url, study_name=name), n=5)
    with pytest.raises(StudyNotFoundError, match="2 studies"):
        load(url)
    with pytest.raises(StudyNotFoundError, match="no study named 'c'"):
        load(url, "c")
    assert load(url, "b").name == "b"
    lst = list_studies(url)
    assert lst["name"].tolist() == ["a", "b"] and lst["n_trials"].tolist() == [5, 5]


@pytest.mark.parametrize("revision,match", [("v3.0.0.c", "older"), ("v9.9.9.a", "newer")])
def test_old_and_new_schemas_are_refused_without_migrating(sqlite_study, revision, match, tmp_path):
    path, url, _ = sqlite_study
    con = sqlite3.connect(path)
    con.execute("UPDATE alembic_version SET version_num = ?", (revision,))
    con.commit()
    con.close()
    if revision == "v3.0.0.c":  # reference: Optuna itself would want to migrate this file
        copy = tmp_path / "copy.db"
        shutil.copy(path, copy)
        with pytest.raises(RuntimeError, match="upgrade"):
            optuna.storages.RDBStorage(f"sqlite:///{copy}")
        os.remove(copy)
    before, files = _md5(path), sorted(os.listdir(tmp_path))
    with pytest.raises(StorageError, match=match):
        load(url)
    assert _md5(path) == before and sorted(os.listdir(tmp_path)) == files


def test_bad_inputs_raise_storage_errors_and_create_nothing(tmp_path):
    missing = tmp_path / "missing.db"
    for arg in (f"sqlite:///{missing}", str(missing), "sqlite://", "sqlite:///:memory:", "", "no-such-dialect://x"):
        with pytest.raises(StorageError):
            load(arg)
    assert not missing.exists() and os.listdir(tmp_path) == []
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    text = tmp_path / "notes.txt"
    text.write_text("hello\nworld\n")
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE foo (x INTEGER)")
    con.commit()
    con.close()
    no_study = tmp_path / "nostudy.db"
    optuna.storages.RDBStorage(f"sqlite:///{no_study}").engine.dispose()
    cases = [(f"sqlite:///{empty}", "empty"), (str(empty), "empty"), (f"sqlite:///{text}", "not a"),
             (str(text), "neither"), (f"sqlite:///{other}", "not an Optuna"), (f"sqlite:///{no_study}", "no study")]
    for arg, match in cases:
        digests = {p: _md5(p) for p in (empty, text, other, no_study)}
        with pytest.raises(StorageError, match=match):
            load(arg)
        assert digests == {p: _md5(p) for p in (empty, text, other, no_study)}
    assert sorted(os.listdir(tmp_path)) == ["empty.db", "nostudy.db", "notes.txt", "other.db"]


def test_journal_file(tmp_path):
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    path = tmp_path / "journal.log"
    study = optuna.create_study(storage=JournalStorage(JournalFileBackend(str(path))), study_name="j")
    fill(study, n=20)
    before, files = _md5(path), sorted(os.listdir(tmp_path))
    data = load(str(path))
    assert_matches_optuna(data, study)
    assert _md5(path) == before and sorted(os.listdir(tmp_path)) == files


def test_study_object_and_storage_object():
    study = optuna.create_study()
    fill(study, n=10)
    assert_matches_optuna(load(study), study)
    assert_matches_optuna(load(study._storage, study.study_name), study)


def test_postgresql(postgres_url, unique_name):
    study = optuna.create_study(storage=postgres_url, study_name=unique_name)
    fill(study, n=15)
    data = load(postgres_url, unique_name)
    assert data.source == "sql"
    assert_matches_optuna(data, study)


def test_mysql(mysql_url, unique_name):
    study = optuna.create_study(storage=mysql_url, study_name=unique_name)
    fill(study, n=15)
    data = load(mysql_url, unique_name)
    assert data.source == "sql"
    assert_matches_optuna(data, study)


def test_redis_journal(redis_url, unique_name):
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalRedisBackend

    study = optuna.create_study(storage=JournalStorage(JournalRedisBackend(redis_url)), study_name=unique_name)
    fill(study, n=15)
    assert_matches_optuna(load(redis_url, unique_name), study)


def _to_wal(path) -> None:
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
    con.close()  # the last connection checkpoints and removes -wal/-shm


def test_wal_database_is_read_without_leaving_shm_or_wal_files(sqlite_study, tmp_path):
    from hpablate.cli import main

    path, url, study = sqlite_study
    assert_matches_optuna(load(url), study)
    expected = load(url).trials
    _to_wal(path)  # after Optuna's reads: Optuna's own connections would make -wal/-shm files
    before, files = _md5(path), sorted(os.listdir(tmp_path))
    assert files == ["study.db"]
    data = load(url)
    assert data.source == "sql" and data.trials.equals(expected)
    assert list_studies(str(path))["name"].tolist() == ["s1"]
    assert main(["analyze", url, "--study", "s1", "-f", "json"]) == 0
    assert _md5(path) == before and sorted(os.listdir(tmp_path)) == files


def test_wal_database_with_an_open_writer_is_read_with_its_committed_trials(sqlite_study, tmp_path):
    path, url, study = sqlite_study
    _to_wal(path)
    writer = sqlite3.connect(path)  # a writer holding the database open: its -wal file exists
    try:
        writer.execute("PRAGMA wal_autocheckpoint=0")  # keep the new trial in the -wal file only
        optuna.load_study(study_name="s1", storage=url).add_trial(optuna.trial.create_trial(
            params={"lr": 0.01}, distributions={"lr": DIST["lr"]}, values=[1.0, 2.0]))
        assert os.path.exists(f"{path}-wal")
        assert len(load(url).trials) == len(study.trials) == 41
    finally:
        writer.close()
