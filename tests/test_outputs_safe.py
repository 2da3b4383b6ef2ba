"""Text from a database is data: every output format neutralises hostile names for its medium."""

from __future__ import annotations

import io
import json

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution

from hpablate.cli import main

LR = "lr\x1b[2J\x07"
NORM = "<img src=x onerror=alert(1)>"
FORMULA = '=HYPERLINK("http://evil")'
SCRIPT = "<script>alert(1)</script>"
SPACE = {"version": 1, "params": [
    {"kind": "float", "name": LR, "low": 1e-4, "high": 0.1, "log": True, "step": None, "baseline": 0.01,
     "levels": [1e-3, 0.01, 0.1]},
    {"kind": "component", "name": NORM, "choices": [FORMULA, SCRIPT], "baseline": FORMULA, "off": SCRIPT,
     "levels": [FORMULA, SCRIPT]},
]}
DIST = {LR: FloatDistribution(1e-4, 0.1, log=True), NORM: CategoricalDistribution([FORMULA, SCRIPT])}


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("hostile") / "study.db"
    study = optuna.create_study(storage=f"sqlite:///{path}", study_name="s\x1b]0;pwn\x07", direction="maximize")
    study.set_user_attr("hpablate.space", json.dumps(SPACE))
    study.set_user_attr("hpablate.design", "oat")
    rng = np.random.default_rng(0)
    slot = 0
    for params, mu in (({LR: 0.01, NORM: FORMULA}, 0.9), ({LR: 1e-3, NORM: FORMULA}, 0.8),
                       ({LR: 0.1, NORM: FORMULA}, 0.85), ({LR: 0.01, NORM: SCRIPT}, 0.86)):
        for rep in range(3):
            study.add_trial(optuna.trial.create_trial(
                params=params, distributions=DIST, value=float(mu + rng.normal(0, 0.005)),
                user_attrs={"hpablate.design": "oat", "hpablate.varied": [], "hpablate.level": None,
                            "hpablate.slot": slot, "hpablate.replicate": rep, "hpablate.seed": rep,
                            "note\x1b[31m": "=1+1"}))
        slot += 1
    return path


def _run(capsys, *argv):
    code = main(["analyze", *map(str, argv)])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


@pytest.mark.parametrize("fmt", ["table", "markdown"])
def test_terminal_formats_show_controls_instead_of_acting_on_them(db, capsys, fmt):
    out = _run(capsys, f"sqlite:///{db}", "-f", fmt)
    assert "\x1b" not in out and "\x07" not in out
    assert "lr\\x1b[2J\\x07" in out
    if fmt == "markdown":
        assert "<script>" not in out and "<img" not in out and "&lt;script&gt;" in out


def test_csv_quotes_formulas_but_keeps_numbers(db, capsys):
    out = _run(capsys, f"sqlite:///{db}", "-f", "csv")
    t = pd.read_csv(io.StringIO(out))
    assert "\x1b" not in out
    text = [v for c in t.columns[t.dtypes.eq(object).to_numpy()] for v in t[c].dropna() if isinstance(v, str)]
    assert not [v for v in text if v.startswith(("=", "+", "-", "@"))]
    assert "'" + FORMULA in set(t["level"].astype(str).str.replace(" (baseline)", "", regex=False))
    assert (t["delta"].dropna() < 0).any() and t["delta"].dtype == float  # negative numbers stay numbers


def test_json_is_valid_and_keeps_the_data(db, capsys):
    out = _run(capsys, f"sqlite:///{db}", "-f", "json")
    assert "\x1b" not in out  # json escapes controls as \u001b
    d = json.loads(out)
    assert {r["param"] for r in d["effects"]} == {LR, NORM}


def test_html_escapes_markup(db, capsys, tmp_path):
    _run(capsys, f"sqlite:///{db}", "--html", tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert SCRIPT not in page and NORM not in page and "\x1b" not in page.replace("\\u001b", "")


def test_choice_named_like_another_parameter_renders(capsys, tmp_path):
    study = optuna.create_study()
    dist = {"dropout": FloatDistribution(0, 0.5), "act": CategoricalDistribution(["relu", "dropout", "gelu"])}
    rng = np.random.default_rng(0)
    for i in range(30):
        study.add_trial(optuna.trial.create_trial(
            params={"dropout": float(rng.uniform(0, 0.5)), "act": ["relu", "dropout", "gelu"][i % 3]},
            distributions=dist, value=float(rng.normal())))
    import hpablate

    r = hpablate.analyze(study)
    assert r.interaction_tables
    assert "<th>dropout \\ act</th>" in r.to_html() and "| dropout \\ act |" in r.to_markdown()


def test_latex_escapes_names(db, capsys, tmp_path):
    _run(capsys, f"sqlite:///{db}", "--latex", tmp_path / "t.tex")
    tex = (tmp_path / "t.tex").read_text(encoding="utf-8")
    assert "\x1b" not in tex and "<script>" not in tex and r"\textless{}script\textgreater{}" in tex
