"""``hpablate run``: study-file errors exit 2 in one line; runs are complete, resumable, parallel."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import optuna
import pytest

import hpablate.train as ht
from hpablate.cli import main

TOY = '''
import os
from pathlib import Path
import hpablate as hp

space = hp.SearchSpace(
    hp.Float("x", 0.0, 1.0, baseline=0.5, levels=[0.0, 0.5, 1.0]),
    hp.Component("extra", baseline=True),
)
direction = "{direction}"
repeats = 2
CALLS = Path(__file__).with_suffix(".calls")

def objective(trial):
    config = space.suggest(trial)
    with open(CALLS, "a") as f:
        f.write(f"{{trial.number}}\\n")
    stop_after = int(os.environ.get("TOY_INTERRUPT_AFTER", "0"))
    if stop_after and len(CALLS.read_text().split()) > stop_after:
        raise KeyboardInterrupt
    trial.set_user_attr("quick", os.environ.get("HPABLATE_QUICK", ""))
    trial.set_user_attr("threads", os.environ.get("HPABLATE_THREADS_PER_WORKER", ""))
    return config["x"] + (0.1 if config["extra"] else 0.0) + 0.001 * hp.trial_seed(trial) % 7
'''


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in (ht.QUICK_ENV, ht.THREADS_ENV, ht.DEVICE_ENV, "OPTUNA_STORAGE", "TOY_INTERRUPT_AFTER"):
        monkeypatch.delenv(name, raising=False)


def write_toy(tmp_path: Path, name: str = "toy", direction: str = "maximize") -> Path:
    path = tmp_path / f"{name}.py"
    path.write_text(TOY.format(direction=direction))
    return path


def calls(path: Path) -> list[int]:
    calls_file = path.with_suffix(".calls")
    return [int(v) for v in calls_file.read_text().split()] if calls_file.exists() else []


def complete(storage: str, name: str) -> list[optuna.trial.FrozenTrial]:
    study = optuna.load_study(study_name=name, storage=storage)
    return [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("hpablate run: error: ")
    return err


def test_missing_study_file(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.py")]) == 2
    assert "not found" in one_line_error(capsys)


def test_study_file_that_fails_to_import(tmp_path, capsys):
    bad = tmp_path / "bad.py"
    bad.write_text("import hpablate\nraise RuntimeError('boom\\nsecond line')\n")
    assert main(["run", str(bad), "--storage", f"sqlite:///{tmp_path / 'x.db'}"]) == 2
    err = one_line_error(capsys)
    assert "cannot import" in err and "RuntimeError: boom" in err
    syntax = tmp_path / "syntax.py"
    syntax.write_text("def (:\n")
    assert main(["run", str(syntax)]) == 2
    assert "SyntaxError" in one_line_error(capsys)


@pytest.mark.parametrize(
    "source, message",
    [
        ("def objective(trial):\n    return 0.0\n", "no `space`"),
        ("import hpablate as hp\nspace = hp.SearchSpace(hp.Float('x', 0, 1))\n", "no `objective"),
        ("space = {'x': 1}\ndef objective(t):\n    return 0\n", "not a hpablate.SearchSpace"),
        (
            "import hpablate as hp\nspace = hp.SearchSpace(hp.Float('x', 0, 1))\nobjective = 3\n",
            "not callable",
        ),
    ],
)
def test_study_file_lacking_space_or_objective(tmp_path, capsys, source, message):
    path = tmp_path / "lacking.py"
    path.write_text(source)
    assert main(["run", str(path), "--storage", f"sqlite:///{tmp_path / 'x.db'}"]) == 2
    assert message in one_line_error(capsys)


def test_unknown_design_and_bad_numbers(tmp_path, capsys):
    toy = write_toy(tmp_path)
    assert main(["run", str(toy), "--design", "fast99"]) == 2
    assert "no design 'fast99'" in one_line_error(capsys)
    assert main(["run", str(toy), "--workers", "0"]) == 2
    assert "--workers" in one_line_error(capsys)


def test_run_completes_every_slot_and_prints_next_command(tmp_path, capsys):
    toy = write_toy(tmp_path)
    storage = f"sqlite:///{tmp_path / 'r.db'}"
    assert main(["run", str(toy), "--storage", storage, "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert f"results: {storage}" in out
    assert f"hpablate analyze --storage {storage} --study toy-oat" in out
    trials = complete(storage, "toy-oat")
    assert sorted(t.user_attrs["hpablate.slot"] for t in trials) == list(range(len(trials)))
    assert len(trials) == len(calls(toy)) == 2 * 4  # (baseline + 2 levels of x + extra off) x 2
    assert optuna.load_study(study_name="toy-oat", storage=storage).direction.name == "MAXIMIZE"
    # rerunning a finished study runs nothing
    assert main(["run", str(toy), "--storage", storage, "--no-progress"]) == 0
    assert len(calls(toy)) == 8


def test_design_all_quick_and_default_storage(tmp_path, monkeypatch, capsys):
    toy = write_toy(tmp_path, direction="minimize")
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(toy), "--design", "all", "--quick", "--repeats", "1", "--no-progress"]) == 0
    assert (tmp_path / "hpablate.db").exists()
    storage = "sqlite:///hpablate.db"
    names = {s.study_name for s in optuna.get_all_study_summaries(storage)}
    assert names == {"toy-oat-quick", "toy-structural-quick", "toy-morris-quick", "toy-sobol-quick",
                     "toy-shapley-quick"}
    trials = complete(storage, "toy-structural-quick")
    assert len(trials) == 2 and all(t.user_attrs["quick"] == "1" for t in trials)
    assert optuna.load_study(study_name="toy-oat-quick", storage=storage).direction.name == "MINIMIZE"


def test_interrupted_run_resumes_only_missing_slots(tmp_path, monkeypatch):
    toy = write_toy(tmp_path)
    storage = f"sqlite:///{tmp_path / 'resume.db'}"
    monkeypatch.setenv("TOY_INTERRUPT_AFTER", "3")
    assert main(["run", str(toy), "--storage", storage, "--no-progress"]) == 130
    done_first = {t.user_attrs["hpablate.slot"] for t in complete(storage, "toy-oat")}
    assert len(done_first) == 3
    monkeypatch.delenv("TOY_INTERRUPT_AFTER")
    assert main(["run", str(toy), "--storage", storage, "--no-progress"]) == 0
    trials = complete(storage, "toy-oat")
    slots = [t.user_attrs["hpablate.slot"] for t in trials]
    assert sorted(slots) == list(range(8))  # every slot exactly once
    for t in trials:  # slots completed before the interruption were not rerun
        if t.user_attrs["hpablate.slot"] in done_first:
            assert t.number < 3


def test_workers_run_in_processes_with_threads_split(tmp_path):
    toy = write_toy(tmp_path)
    storage = f"sqlite:///{tmp_path / 'w.db'}"
    result = subprocess.run(
        [sys.executable, "-m", "hpablate", "run", str(toy), "--storage", storage, "--workers", "2", "--no-progress"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    trials = complete(storage, "toy-oat")
    assert sorted(t.user_attrs["hpablate.slot"] for t in trials) == list(range(8))
    assert {t.user_attrs["threads"] for t in trials} == {str(ht.threads_per_worker(2))}


def test_study_name_only_with_one_design(tmp_path, capsys):
    toy = write_toy(tmp_path)
    assert main(["run", str(toy), "--design", "all", "--study-name", "x"]) == 2
    assert "single --design" in one_line_error(capsys)
    storage = f"sqlite:///{tmp_path / 'n.db'}"
    assert main(["run", str(toy), "--design", "structural", "--study-name", "mine", "--storage", storage, "--no-progress"]) == 0
    assert len(complete(storage, "mine")) == 2 * 2


def test_multi_objective_file(tmp_path):
    path = tmp_path / "two.py"
    path.write_text(textwrap.dedent('''
        import hpablate as hp
        space = hp.SearchSpace(hp.Float("x", 0.0, 1.0, baseline=0.5, levels=[0.0, 1.0]))
        directions = ["maximize", "minimize"]
        def objective(trial):
            x = space.suggest(trial)["x"]
            return x, x * x
    '''))
    storage = f"sqlite:///{tmp_path / 'm.db'}"
    assert main(["run", str(path), "--storage", storage, "--repeats", "1", "--no-progress"]) == 0
    study = optuna.load_study(study_name="two-oat", storage=storage)
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    assert len(complete(storage, "two-oat")) == 3


FAILING = '''
import hpablate as hp

space = hp.SearchSpace(hp.Float("x", 0.0, 1.0, baseline=0.5, levels=[0.0, 0.5]))
repeats = 1

def objective(trial):
    space.suggest(trial)
    raise RuntimeError("this configuration breaks training")
'''


@pytest.mark.parametrize(
    "option, message",
    [
        (["--max-retries", "-1"], "--max-retries"),
        (["--grace-period", "0"], "--grace-period"),
        (["--heartbeat", "-1"], "--heartbeat"),
        (["--heartbeat", "2", "--grace-period", "3"], "at least twice"),
    ],
)
def test_bad_runner_settings_exit_2_before_running(tmp_path, capsys, option, message):
    toy = write_toy(tmp_path)
    storage = f"sqlite:///{tmp_path / 's.db'}"
    assert main(["run", str(toy), "--storage", storage, "--no-progress", *option]) == 2
    assert message in one_line_error(capsys)
    assert calls(toy) == [] and not (tmp_path / "s.db").exists()


def test_abandoned_slots_make_the_run_exit_non_zero(tmp_path, capsys):
    path = tmp_path / "failing.py"
    path.write_text(FAILING)
    storage = f"sqlite:///{tmp_path / 'f.db'}"
    assert main(["run", str(path), "--storage", storage, "--no-progress", "--max-retries", "0"]) == 1
    captured = capsys.readouterr()
    assert "2 slots abandoned" in captured.out and "failed every retry" in captured.err


def test_grace_period_option_resumes_quickly_after_a_dead_worker(tmp_path, capsys):
    toy = write_toy(tmp_path)
    storage = f"sqlite:///{tmp_path / 'g.db'}"
    study = optuna.create_study(study_name="toy-oat", storage=storage, direction="maximize")
    study.ask()  # a worker created a trial and died before recording anything
    started = time.monotonic()
    assert main(["run", str(toy), "--storage", storage, "--no-progress", "--heartbeat", "0.2", "--grace-period", "1"]) == 0
    assert time.monotonic() - started < 60
    trials = complete(storage, "toy-oat")
    assert sorted(t.user_attrs["hpablate.slot"] for t in trials) == list(range(8))


def test_storage_file_that_is_not_a_journal_is_left_untouched(tmp_path, capsys):
    toy = write_toy(tmp_path)
    settings = tmp_path / "settings.json"
    settings.write_text('{"lr": 0.1}\n')
    assert main(["run", str(toy), "--storage", str(settings), "--no-progress"]) == 2
    assert "not an Optuna journal file" in one_line_error(capsys)
    assert settings.read_text() == '{"lr": 0.1}\n'


def test_storage_password_is_never_printed(tmp_path, capsys):
    toy = write_toy(tmp_path)
    url = "postgresql+psycopg2://hpuser:TopSecret42@127.0.0.1:1/nodb"
    assert main(["run", str(toy), "--storage", url, "--no-progress"]) == 2
    err = one_line_error(capsys)
    assert "TopSecret42" not in err and "***" in err


def test_dry_run_prints_the_plan_and_touches_no_storage(tmp_path, monkeypatch, capsys):
    toy = write_toy(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(toy), "--design", "all", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "toy-oat: oat design, 4 configurations x 2 replicates = 8 trials (dry run: nothing stored)" in out
    assert "toy-structural: structural design" in out and "(baseline)" in out
    assert not (tmp_path / "hpablate.db").exists() and calls(toy) == []


CALLBACKS = TOY + '''
objective_name = "val_score"
SEEN = Path(__file__).with_suffix(".seen")

def record_trial(study, trial):
    with open(SEEN, "a") as f:
        f.write(f"{{trial.number}} {{trial.user_attrs['hpablate.slot']}} {{trial.user_attrs['hpablate.replicate']}}\\n")

callbacks = [record_trial]
'''


@pytest.mark.parametrize("workers", ["1", "2"])
def test_study_file_callbacks_run_in_every_worker_with_the_record(tmp_path, workers):
    path = tmp_path / "cb.py"
    path.write_text(CALLBACKS.format(direction="maximize"))
    storage = f"sqlite:///{tmp_path / 'cb.db'}"
    assert main(["run", str(path), "--storage", storage, "--no-progress", "--workers", workers]) == 0
    seen = [line.split() for line in path.with_suffix(".seen").read_text().splitlines()]
    assert sorted(int(slot) for _, slot, _ in seen) == list(range(8))
    assert optuna.load_study(study_name="cb-oat", storage=storage).metric_names == ["val_score"]
