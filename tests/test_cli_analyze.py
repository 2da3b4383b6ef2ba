"""``hpablate analyze``: formats, study listing, read-only for real, one-line errors with exit 2."""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import subprocess
import sys

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution

from hpablate.cli import main

SPACE = {"version": 1, "params": [
    {"kind": "float", "name": "lr", "low": 1e-4, "high": 0.1, "log": True, "step": None, "baseline": 0.01,
     "levels": [1e-3, 0.01, 0.1]},
    {"kind": "component", "name": "norm", "choices": ["batch", "none"], "baseline": "batch", "off": "none",
     "levels": ["batch", "none"]},
]}
DIST = {"lr": FloatDistribution(1e-4, 0.1, log=True), "norm": CategoricalDistribution(["batch", "none"])}


def _fill(study, seed=0):
    rng = np.random.default_rng(seed)
    study.set_user_attr("hpablate.space", json.dumps(SPACE))
    study.set_user_attr("hpablate.design", "oat")
    slot = 0
    for params, mu in (({"lr": 0.01, "norm": "batch"}, 0.9), ({"lr": 1e-3, "norm": "batch"}, 0.8),
                       ({"lr": 0.1, "norm": "batch"}, 0.85), ({"lr": 0.01, "norm": "none"}, 0.86)):
        for rep in range(3):
            study.add_trial(optuna.trial.create_trial(
                params=params, distributions=DIST, value=float(mu + rng.normal(0, 0.005)),
                user_attrs={"hpablate.design": "oat", "hpablate.varied": [], "hpablate.level": None,
                            "hpablate.slot": slot, "hpablate.replicate": rep, "hpablate.seed": rep}))
        slot += 1


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "study.db"
    _fill(optuna.create_study(storage=f"sqlite:///{path}", study_name="abl", direction="maximize"))
    return path


def _md5(path):
    return hashlib.md5(open(path, "rb").read()).hexdigest()


def run(capsys, *argv):
    code = main(["analyze", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def assert_user_error(capsys, *argv, match=""):
    code, out, err = run(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hpablate analyze: error: "), err
    assert match.lower() in lines[0].lower(), lines[0]
    return out


def test_table_output_and_the_db_is_untouched(db, capsys, tmp_path):
    before, files = _md5(db), sorted(os.listdir(tmp_path))
    code, out, err = run(capsys, f"sqlite:///{db}")
    assert code == 0, err
    for title in ("One-at-a-time effects", "Structural contributions", "Importances", "Summary"):
        assert title in out
    assert "lr matters most" in out
    assert _md5(db) == before and sorted(os.listdir(tmp_path)) == files


def test_formats(db, capsys):
    code, out, _ = run(capsys, f"sqlite:///{db}", "--study", "abl", "-f", "json")
    d = json.loads(out)
    assert code == 0 and d["study"] == "abl" and d["counts"]["used"] == 12 and d["schema"] == "hpablate.analysis/1"
    keys = {"objective", "objective_name", "direction", "design", "notes", "summary", "effects", "importances"}
    assert keys <= set(d)
    assert {r["param"] for r in d["effects"]} == {"lr", "norm"}
    code, out, _ = run(capsys, f"sqlite:///{db}", "--format", "csv")
    assert code == 0 and len(pd.read_csv(io.StringIO(out))) == 5  # effects: lr 3 levels, norm 2
    code, out, _ = run(capsys, f"sqlite:///{db}", "-f", "csv", "--table", "importances")
    assert code == 0 and {"method", "param", "importance"} <= set(pd.read_csv(io.StringIO(out)).columns)
    code, out, _ = run(capsys, str(db), "--format", "markdown")
    assert code == 0 and out.startswith("# Analysis of study `abl`") and "| param |" in out


def test_csv_out_dir_writes_one_file_per_table(db, capsys, tmp_path):
    code, out, err = run(capsys, f"sqlite:///{db}", "--out-dir", tmp_path / "csv")
    files = {p.stem: pd.read_csv(p) for p in (tmp_path / "csv").glob("*.csv")}
    assert code == 0 and out == "" and {"effects", "structural", "importances"} <= set(files)
    assert len(files["effects"]) == 5 and "CSV tables written" in err


def test_csv_of_an_empty_table_says_why(tmp_path, capsys):
    path = tmp_path / "one.db"
    study = optuna.create_study(storage=f"sqlite:///{path}")
    study.add_trial(optuna.trial.create_trial(params={"x": 0.5}, distributions={"x": FloatDistribution(0, 1)},
                                              value=1.0))
    code, out, err = run(capsys, f"sqlite:///{path}", "-f", "csv")
    assert code == 2 and out == "" and "effects table is empty (1 trial used" in err
    code, out, err = run(capsys, f"sqlite:///{path}", "--out-dir", tmp_path / "csv")
    assert code == 2 and "nothing to write" in err
    code, _, err = run(capsys, f"sqlite:///{path}", "-f", "csv", "--table", "nope")
    assert code == 2 and "no table 'nope'; choose from effects" in err


def test_html_report(db, capsys, tmp_path):
    html = tmp_path / "out" / "report.html"
    html.parent.mkdir()
    before = _md5(db)
    code, _, err = run(capsys, f"sqlite:///{db}", "--html", html)
    assert code == 0 and html.exists() and "report written" in err
    text = html.read_text(encoding="utf-8")
    assert "Plotly" in text and "lr matters most" in text
    assert _md5(db) == before


def test_storage_from_env_and_option(db, capsys, monkeypatch):
    monkeypatch.setenv("OPTUNA_STORAGE", f"sqlite:///{db}")
    assert run(capsys)[0] == 0
    monkeypatch.delenv("OPTUNA_STORAGE")
    assert run(capsys, "--storage", f"sqlite:///{db}", "--study-name", "abl")[0] == 0
    assert_user_error(capsys, match="no storage given")


def test_several_studies_are_listed(tmp_path, capsys):
    path = tmp_path / "two.db"
    for name in ("first", "second"):
        _fill(optuna.create_study(storage=f"sqlite:///{path}", study_name=name))
    before = _md5(path)
    out = assert_user_error(capsys, f"sqlite:///{path}", match="2 studies")
    assert "first" in out and "second" in out
    assert run(capsys, f"sqlite:///{path}", "--study", "second")[0] == 0
    assert_user_error(capsys, f"sqlite:///{path}", "--study", "third", match="no study named 'third'")
    assert _md5(path) == before


def test_journal_file(tmp_path, capsys):
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    path = tmp_path / "journal.log"
    _fill(optuna.create_study(storage=JournalStorage(JournalFileBackend(str(path))), study_name="j"))
    before = _md5(path)
    code, out, err = run(capsys, path)
    assert code == 0, err
    assert "lr matters most" in out
    assert _md5(path) == before and os.listdir(tmp_path) == ["journal.log"]


def test_user_errors_one_line_exit_2_nothing_written(tmp_path, capsys, db):
    missing = tmp_path / "missing.db"
    assert_user_error(capsys, f"sqlite:///{missing}", match="no such")
    assert_user_error(capsys, missing, match="no such file")
    assert not missing.exists()
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n")
    assert_user_error(capsys, f"sqlite:///{text}", match="not a")
    assert_user_error(capsys, text, match="neither")
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    assert_user_error(capsys, f"sqlite:///{empty}", match="empty")
    tables_only = tmp_path / "tables.db"
    optuna.storages.RDBStorage(f"sqlite:///{tables_only}").engine.dispose()
    assert_user_error(capsys, f"sqlite:///{tables_only}", match="no study")
    only_failed = tmp_path / "failed.db"
    optuna.create_study(storage=f"sqlite:///{only_failed}", study_name="f").add_trial(
        optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL))
    assert_user_error(capsys, f"sqlite:///{only_failed}", match="no completed trials")
    assert_user_error(capsys, f"sqlite:///{db}", "--objective", "1", match="objective 1 out of range")
    assert_user_error(capsys, "nosuchdialect://user@host/db", match="cannot open storage")
    assert_user_error(capsys, "sqlite:///", match="in-memory")
    digests = {p: _md5(p) for p in (text, empty, tables_only, only_failed, db)}
    for revision, match in (("v3.0.0.c", "older"), ("v99.0.0.a", "newer")):
        copy = tmp_path / f"schema-{revision}.db"
        copy.write_bytes(db.read_bytes())
        con = sqlite3.connect(copy)
        con.execute("UPDATE alembic_version SET version_num = ?", (revision,))
        con.commit()
        con.close()
        d = _md5(copy)
        assert_user_error(capsys, f"sqlite:///{copy}", match=match)
        assert _md5(copy) == d
    assert digests == {p: _md5(p) for p in digests}
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["notes.txt", "empty.db", "tables.db", "failed.db", "study.db", "schema-v3.0.0.c.db", "schema-v99.0.0.a.db"])


def test_console_script_exit_code(db, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")])}
    ok = subprocess.run([sys.executable, "-m", "hpablate", "analyze", f"sqlite:///{db}", "-f", "json"],
                        capture_output=True, text=True, env=env, timeout=300)
    assert ok.returncode == 0, ok.stderr
    json.loads(ok.stdout)
    bad = subprocess.run([sys.executable, "-m", "hpablate", "analyze", str(tmp_path / "none.db")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and bad.stdout == ""


@pytest.mark.parametrize("via", ["sql", "journal", "study"])
def test_outputs_name_the_objective_by_its_metric_name(tmp_path, capsys, via):
    import hpablate

    if via == "journal":
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        target = str(tmp_path / "j.log")
        storage = JournalStorage(JournalFileBackend(target))
    else:
        target = storage = f"sqlite:///{tmp_path / 's.db'}"
    study = optuna.create_study(storage=storage, study_name="abl", direction="maximize")
    study.set_metric_names(["val_acc"])
    _fill(study)
    if via == "study":
        r = hpablate.analyze(study)
        assert r.objective_name == "val_acc" and r"val\_acc (maximize)" in r.to_latex()
        return
    code, out, _ = run(capsys, target, "-f", "json")
    assert code == 0 and json.loads(out)["objective_name"] == "val_acc"
    code, out, _ = run(capsys, target)
    assert code == 0 and "val_acc (maximize)" in out and "objective 0" not in out
