"""Exactly once, resumable, retried: the runner on real storages with real worker processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

import hpablate as hp
from hpablate._storage import open_storage

sys.path.insert(0, str(Path(__file__).parent))
import _workers  # noqa: E402

WORKER_SCRIPT = str(Path(__file__).parent / "_workers.py")


def completed_slots(study: optuna.Study) -> Counter:
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return Counter(t.user_attrs["hpablate.slot"] for t in trials if "hpablate.slot" in t.user_attrs)


def assert_exactly_once(study: optuna.Study, n_slots: int) -> None:
    counts = completed_slots(study)
    duplicates = {s: c for s, c in counts.items() if c > 1}
    missing = sorted(set(range(n_slots)) - set(counts))
    assert duplicates == {} and missing == [], f"duplicates {duplicates}, missing {missing}"
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        if "hpablate.slot" not in trial.user_attrs:
            continue  # a trial made before the plan was attached
        slot = study.sampler.plan_object[trial.user_attrs["hpablate.slot"]]
        assert trial.params == dict(slot.params)
        assert trial.user_attrs["hpablate.seed"] == slot.seed


def new_study(storage, name, sampler=None):
    return hp.create_study(
        _workers.SPACE, sampler or _workers.make_sampler(), storage=storage, study_name=name, direction="maximize"
    )


def run_four_workers(storage_url: str, name: str) -> None:
    study = new_study(storage_url, name)
    summary = hp.run(study, _workers.quick_objective, n_workers=4, heartbeat_interval=0.5)
    assert summary.completed == study.sampler.n_slots and summary.abandoned == 0
    assert_exactly_once(optuna.load_study(storage=open_storage(storage_url), study_name=name, sampler=study.sampler), study.sampler.n_slots)


def test_four_workers_sqlite(tmp_path, unique_name):
    run_four_workers(f"sqlite:///{tmp_path / 'w.db'}", unique_name)


def test_four_workers_journal_file(tmp_path, unique_name):
    run_four_workers(str(tmp_path / "journal.log"), unique_name)


def test_four_workers_postgres(postgres_url, unique_name):
    run_four_workers(postgres_url, unique_name)


def test_four_workers_mysql(mysql_url, unique_name):
    run_four_workers(mysql_url, unique_name)


def test_four_workers_redis_journal(redis_url, unique_name):
    run_four_workers(redis_url, unique_name)


def test_threads_on_in_memory_study():
    study = new_study(None, "mem")
    hp.run(study, _workers.quick_objective, n_workers=3)
    assert_exactly_once(study, study.sampler.n_slots)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_separate_processes_each_calling_run(tmp_path, unique_name, backend, request):
    url = f"sqlite:///{tmp_path / 'sep.db'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    procs = [
        subprocess.Popen([sys.executable, WORKER_SCRIPT, url, unique_name, "quick_objective"], stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()[-2000:]
    study = optuna.load_study(storage=open_storage(url), study_name=unique_name, sampler=_workers.make_sampler())
    assert_exactly_once(study, study.sampler.n_slots)


def test_failed_slots_are_retried_with_reasons(tmp_path):
    study = new_study(f"sqlite:///{tmp_path / 'f.db'}", "flaky")
    summary = hp.run(study, _workers.flaky_objective)
    n_slots = study.sampler.n_slots
    assert_exactly_once(study, n_slots)
    failed = study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
    expected_failures = [s for s in range(n_slots) if s % 4 == 0 or s % 5 == 0]
    assert sorted(t.user_attrs["hpablate.slot"] for t in failed) == expected_failures
    assert summary.failed_attempts == len(expected_failures) and summary.abandoned == 0
    reasons = {t.user_attrs["hpablate.slot"]: t.user_attrs["hpablate.fail_reason"] for t in failed}
    assert reasons[0] == "RuntimeError: flaky failure at slot 0"
    assert reasons[5] == "objective returned nan"


def test_always_failing_objective_is_abandoned_after_max_retries():
    study = new_study(None, "broken", hp.OneAtATimeSampler(_workers.SPACE, params=["lr"], repeats=1))
    summary = hp.run(study, _workers.always_fails, max_retries=1)
    n_slots = study.sampler.n_slots
    assert summary.completed == 0 and summary.abandoned == n_slots
    assert summary.failed_attempts == 2 * n_slots  # first try + one retry, then given up
    assert all(t.user_attrs["hpablate.fail_reason"] == "ValueError: broken objective" for t in study.trials)


def test_rerun_of_finished_study_runs_nothing_and_interrupted_runs_only_missing(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    study = new_study(url, "resume")
    n_slots = study.sampler.n_slots
    hp.run(study, _workers.quick_objective, n_trials=10)  # interrupted after 10 trials
    assert len(completed_slots(study)) == 10
    study = new_study(url, "resume")
    hp.run(study, _workers.quick_objective)
    assert_exactly_once(study, n_slots)
    assert len(study.trials) == n_slots
    hp.run(new_study(url, "resume"), _workers.quick_objective)
    assert len(optuna.load_study(storage=url, study_name="resume").trials) == n_slots


def test_killed_worker_trial_is_failed_and_its_slot_rerun(tmp_path, unique_name):
    url = f"sqlite:///{tmp_path / 'k.db'}"
    marker = tmp_path / "started"
    env = {**os.environ, "HANG_MARKER": str(marker)}
    proc = subprocess.Popen([sys.executable, WORKER_SCRIPT, url, unique_name, "hanging_objective"], env=env)
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert time.monotonic() < deadline and proc.poll() is None, "worker never reached slot 2"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    study = new_study(url, unique_name)
    summary = hp.run(study, _workers.hanging_objective, heartbeat_interval=0.2, grace_period=2.0)
    assert_exactly_once(study, study.sampler.n_slots)
    failed = study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
    assert [t.user_attrs["hpablate.slot"] for t in failed] == [2]
    assert failed[0].user_attrs["hpablate.fail_reason"].startswith("stale: no heartbeat")
    assert summary.failed_attempts == 1


def test_trial_seed_for_plain_optuna_trials_is_recorded():
    study = optuna.create_study(study_name="plain", sampler=optuna.samplers.RandomSampler(seed=0))
    seeds = []

    def objective(trial):
        seeds.append(hp.trial_seed(trial))
        assert trial.user_attrs["hpablate.seed"] == seeds[-1]
        return 0.0

    hp.run(study, objective, n_trials=5)
    assert len(set(seeds)) == 5
    assert [t.user_attrs["hpablate.seed"] for t in study.trials] == seeds


def test_random_and_tpe_run_on_the_same_space():
    space = _workers.SPACE
    for sampler in (optuna.samplers.RandomSampler(seed=0), optuna.samplers.TPESampler(seed=0)):
        study = hp.create_study(space, sampler, direction="maximize")
        summary = hp.run(study, _workers.quick_objective, n_trials=12)
        assert summary.completed == 12
        assert all(t.distributions == space.to_distributions() for t in study.trials)
    with pytest.raises(ValueError, match="n_trials"):
        hp.run(optuna.create_study(), _workers.quick_objective)


def test_first_pass_reads_no_trials_per_trial(monkeypatch):
    """Per-trial cost stays flat: the first pass maps trial numbers to slots without scanning."""
    from hpablate._worker_loop import _END_WINDOW

    study = new_study(None, "flat", hp.OneAtATimeSampler(_workers.SPACE, repeats=60))
    calls = Counter()
    original = study._storage.get_all_trials

    def counting(*args, **kwargs):
        if kwargs.get("states") != (TrialState.WAITING,):  # Optuna's own per-trial queue check
            calls["scans"] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(study._storage, "get_all_trials", counting)
    hp.run(study, _workers.quick_objective)
    assert study.sampler.n_slots >= 500
    # status before and after the pass, the summary, and a count near the end of the pass
    assert calls["scans"] <= 6 + _END_WINDOW, calls


def test_plan_attached_to_a_study_with_earlier_trials(tmp_path):
    url = f"sqlite:///{tmp_path / 'o.db'}"
    study = hp.create_study(_workers.SPACE, optuna.samplers.RandomSampler(seed=0), storage=url, study_name="s",
                            direction="maximize")
    hp.run(study, _workers.quick_objective, n_trials=7)
    planned = new_study(url, "s")
    assert planned.user_attrs["hpablate.plan_offset"] == 7
    hp.run(planned, _workers.quick_objective, n_workers=2)
    assert_exactly_once(planned, planned.sampler.n_slots)
    planned_trials = [t for t in planned.trials if not t.user_attrs.get("hpablate.surplus")]
    assert len(planned_trials) == 7 + planned.sampler.n_slots


def test_pruned_slots_are_final_and_counted_apart():
    study = new_study(None, "pruned")
    summary = hp.run(study, _workers.prunes_lr_levels)
    n_lr = 3 * (len(_workers.SPACE["lr"].levels) - 1)
    assert summary.pruned == n_lr and summary.completed == study.sampler.n_slots - n_lr
    assert len(study.trials) == study.sampler.n_slots  # pruned slots were not rerun
    assert isinstance(study.pruner, optuna.pruners.NopPruner)


def test_record_written_in_one_insert_falls_back_when_a_key_exists(tmp_path):
    from hpablate._storage import write_trial_user_attrs

    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'a.db'}")
    trial = study.ask()
    trial.set_user_attr("hpablate.slot", -5)
    write_trial_user_attrs(study._storage, trial._trial_id, {"hpablate.slot": 3, "hpablate.seed": 9}, new_keys=True)
    write_trial_user_attrs(study._storage, trial._trial_id, {"other": [1, "a"]}, new_keys=True)
    assert study._storage.get_trial(trial._trial_id).user_attrs == {"hpablate.slot": 3, "hpablate.seed": 9, "other": [1, "a"]}


def test_worker_processes_use_the_study_pruner(tmp_path):
    study = new_study(f"sqlite:///{tmp_path / 'p.db'}", "nop")  # hp.create_study: NopPruner
    summary = hp.run(study, _workers.reports_and_checks_pruning, n_workers=2)
    assert summary.pruned == 0 and summary.completed == study.sampler.n_slots


def test_plain_postgresql_url_runs(postgres_url, unique_name):
    """``postgresql://`` (SQLAlchemy's default driver, psycopg 3) works as well as ``+psycopg2``."""
    plain = postgres_url.replace("postgresql+psycopg2://", "postgresql://")
    study = new_study(plain, unique_name, hp.OneAtATimeSampler(_workers.SPACE, params=["lr"], repeats=1))
    assert hp.run(study, _workers.quick_objective, n_workers=2).completed == study.sampler.n_slots
