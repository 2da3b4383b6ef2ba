"""``report.to_latex`` and ``hpablate analyze --latex``: booktabs tables that compile."""

from __future__ import annotations

import re
import shutil
import subprocess

import optuna
import pytest

import hpablate
from hpablate.cli import main
from hpablate.render._latex import ci_decimals, latex_escape, latex_frame
from test_cli_analyze import _fill


@pytest.fixture(scope="module")
def report():
    study = optuna.create_study(direction="maximize", study_name="abl_50%")
    _fill(study)
    return hpablate.analyze(study)


def _balanced(tex: str) -> None:
    body = re.sub(r"\\[{}%$&#_]", "", tex)
    body = "\n".join(line.split("%", 1)[0] for line in body.splitlines())
    depth = 0
    for ch in body:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0
    assert depth == 0
    stack = []
    for kind, env in re.findall(r"\\(begin|end)\{(\w+)\}", body):
        if kind == "begin":
            stack.append(env)
        else:
            assert stack.pop() == env
    assert not stack
    assert body.count("$") % 2 == 0


def test_tables_are_booktabs_and_balanced(report):
    tex = report.to_latex()
    _balanced(tex)
    assert r"\usepackage{booktabs}" in tex and tex.count(r"\toprule") == tex.count(r"\bottomrule") == 3
    assert {"tab:hpablate-effects", "tab:hpablate-structural", "tab:hpablate-importances"} <= set(
        re.findall(r"\\label\{([^}]*)\}", tex))
    assert r"abl\_50\%" in tex and r"delta ($\pm$ CI)" in tex and "***" in tex


def test_values_are_rounded_to_the_ci_precision(report):
    e = report.effects.iloc[[2]]  # lr = 0.1
    half = float(e["ci_high"].iloc[0] - e["ci_low"].iloc[0]) / 2
    d = ci_decimals(half)
    cell = latex_frame(e).filter(like="delta").iloc[0, 0]
    assert cell == f"${e['delta'].iloc[0]:.{d}f} \\pm {half:.{d}f}$"
    assert ci_decimals(0.0123) == 3


def test_special_characters_are_escaped():
    raw = "a_b % & # $ { } ~ ^ \\ \x1b"
    out = latex_escape(raw)
    _balanced(out)
    assert "\x1b" not in out and not re.search(r"(?<!\\)[_%&#$]", out.replace(r"\textbackslash{}", ""))


def test_cli_writes_latex(tmp_path, capsys):
    path = tmp_path / "s.db"
    _fill(optuna.create_study(storage=f"sqlite:///{path}", study_name="abl", direction="maximize"))
    code = main(["analyze", f"sqlite:///{path}", "--latex", str(tmp_path / "t.tex")])
    _, err = capsys.readouterr()
    assert code == 0 and "LaTeX tables written" in err
    _balanced((tmp_path / "t.tex").read_text())


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed here")
def test_standalone_document_compiles(report, tmp_path):
    (tmp_path / "r.tex").write_text(report.to_latex(standalone=True))
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "r.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:]
