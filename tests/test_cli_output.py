"""One formatter for every -f format; UsageError for bad options (exit 2, one line on stderr);
the rendering and analysis modules import without cycles."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from hpablate.cli import main
from hpablate.cli._output import FORMATS, format_output
from hpablate.errors import UsageError


class _Report:
    def to_text(self):
        return "text"

    def to_csv(self):
        return "a,b\n1,2\n"

    def to_json(self):
        return '{"a": 1}'

    def to_markdown(self):
        return "| a |"


@pytest.mark.parametrize("fmt, expected", [("table", "text\n"), ("csv", "a,b\n1,2\n"), ("json", '{"a": 1}\n'),
                                           ("markdown", "| a |\n")])
def test_one_formatter_for_reports(fmt, expected):
    assert format_output(_Report(), fmt) == expected


def test_one_formatter_for_tables():
    t = pd.DataFrame({"name": ["a", "b"], "n_trials": [3, 4]})
    assert json.loads(format_output(t, "json")) == [{"name": "a", "n_trials": 3}, {"name": "b", "n_trials": 4}]
    assert format_output(t, "csv") == "name,n_trials\na,3\nb,4\n"
    assert {f: format_output(t, f).endswith("\n") for f in FORMATS} == dict.fromkeys(FORMATS, True)


def _user_error(capsys, argv, match):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and match in err, err


def test_bad_options_are_usage_errors(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("OPTUNA_STORAGE", raising=False)
    _user_error(capsys, ["analyze"], "no storage given")
    _user_error(capsys, ["analyze", "sqlite:///a.db", "--storage", "sqlite:///b.db"], "give the storage once")
    assert issubclass(UsageError, ValueError)
    study_file = tmp_path / "f.py"
    study_file.write_text("from hpablate.testing import sobol_g\nf = sobol_g()\nspace, objective = f.space, f.objective\n")
    _user_error(capsys, ["compare", str(study_file), "--budgets", "a,b"], "--budgets must be comma-separated")
    _user_error(capsys, ["compare", str(study_file), "--repeats", "0"], "--repeats must be >= 1")


def test_html_directory_is_a_usage_error(capsys, tmp_path):
    import optuna

    path = tmp_path / "s.db"
    study = optuna.create_study(storage=f"sqlite:///{path}")
    for i in range(5):
        study.add_trial(optuna.trial.create_trial(params={"x": i / 5}, value=float(i),
                                                  distributions={"x": optuna.distributions.FloatDistribution(0, 1)}))
    _user_error(capsys, ["analyze", f"sqlite:///{path}", "--html", str(tmp_path)], "is a directory")


def test_no_import_cycles():
    """Each module imports on its own (a cycle shows up as an ImportError in a fresh interpreter),
    and rendering does not import the analysis."""
    code = ("import sys, importlib\n"
            "for m in ['hpablate.render', 'hpablate.analysis._page', 'hpablate.render.figures', 'hpablate.analysis.report',"
            " 'hpablate.analysis.importance.morris', 'hpablate.record', 'hpablate.comparison', 'hpablate.cli._output']:\n"
            "    importlib.import_module(m)\n"
            "import hpablate.render as r\n")
    subprocess.run([sys.executable, "-c", code], check=True)
    out = subprocess.run([sys.executable, "-c", "import hpablate.render, sys; "
                          "print([m for m in sys.modules if m.startswith('hpablate.analysis')])"],
                         check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"
