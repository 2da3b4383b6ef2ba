"""Regression tests for the runner's faults (issue 9): each numbered finding, reproduced and fixed.

1. a trial created by a worker that died before recording anything no longer hangs everyone;
2. a result that arrives after its trial was failed as dead is kept, and the worker lives on;
3. plain Optuna use (optimize, ask-and-tell, n_jobs, enqueue/add_trial, PartialFixedSampler);
4. transient storage errors are retried, worker deaths do not use up retries;
5. settings are checked; 6. a rerun says what it waits for; 7. storage arguments are checked and
   passwords masked (the CLI parts live in test_cli_run.py).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

import hpablate as hp
from hpablate._retry import RetryingStorage, is_transient
from hpablate.errors import DistributionMismatchError, PlanTooLargeError, StorageError, UsageError
from hpablate.record import FAIL_REASON_ATTR, FOREIGN_ATTR, LATE_RESULT_PREFIX, SLOT_ATTR, is_worker_failure

sys.path.insert(0, str(Path(__file__).parent))
import _workers  # noqa: E402

FAST = dict(heartbeat_interval=0.1, grace_period=0.5)


def planned_completions(study: optuna.Study) -> Counter:
    """Completed trials per slot, counting only trials that ran a planned slot."""
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return Counter(
        t.user_attrs[SLOT_ATTR] for t in trials if t.user_attrs.get(SLOT_ATTR, -1) >= 0 and FOREIGN_ATTR not in t.user_attrs
    )


def assert_each_slot_once(study: optuna.Study, sampler: hp.PlanSampler) -> None:
    counts = planned_completions(study)
    assert sorted(counts) == list(range(sampler.n_slots)), sorted(set(range(sampler.n_slots)) - set(counts))
    assert max(counts.values()) == 1, {s: c for s, c in counts.items() if c > 1}
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        slot = trial.user_attrs.get(SLOT_ATTR, -1)
        if slot >= 0 and FOREIGN_ATTR not in trial.user_attrs:
            assert trial.params == dict(sampler.plan_object[slot].params)


def small_sampler(repeats: int = 1) -> hp.OneAtATimeSampler:
    return hp.OneAtATimeSampler(_workers.SPACE, params=["lr", "optimizer"], repeats=repeats, seed=3)


def sqlite_study(tmp_path: Path, sampler: hp.PlanSampler, name: str = "s") -> optuna.Study:
    return hp.create_study(_workers.SPACE, sampler, storage=f"sqlite:///{tmp_path / 'f.db'}", study_name=name,
                           direction="maximize")


# 1. hang forever ---------------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["first_pass", "retry"])
def test_trial_of_a_worker_killed_before_its_record_does_not_hang(tmp_path, where):
    """A RUNNING trial with no slot record and no heartbeat is failed after the grace period."""
    sampler = small_sampler()
    study = sqlite_study(tmp_path, sampler)
    if where == "retry":  # the first pass ran and slot 0 failed; a retry trial died before claiming
        hp.run(study, _workers.flaky_objective, n_trials=sampler.n_slots, **FAST)
        assert 0 in sampler.status(study).free
    orphan = study._storage.create_new_trial(study._study_id)  # the dead worker's trial
    started = time.monotonic()
    summary = hp.run(study, _workers.flaky_objective, **FAST)
    assert time.monotonic() - started < 60
    assert summary.completed == sampler.n_slots and summary.abandoned == 0
    stored = study._storage.get_trial(orphan)
    assert stored.state == TrialState.FAIL and stored.user_attrs[FAIL_REASON_ATTR].startswith("stale:")
    assert_each_slot_once(study, sampler)
    assert not study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))


# 2. a result after the trial was failed under a paused worker ------------------------------------
def pauses_at_slot_one(trial: optuna.Trial) -> float:
    """At slot 1 (first attempt) another worker's stale check fails this trial, as after a SIGSTOP."""
    config = _workers.SPACE.suggest(trial)
    if trial.user_attrs[SLOT_ATTR] == 1 and trial.number == 1:
        time.sleep(0.6)  # past the grace period, heartbeat included: simulate the other worker
        storage = trial.study._storage
        storage.set_trial_user_attr(trial._trial_id, FAIL_REASON_ATTR, "stale: no heartbeat for 61 s")
        storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
    return config["width"] / 64


def test_result_of_a_trial_failed_under_a_paused_worker_is_kept(tmp_path, caplog):
    sampler = small_sampler()
    study = sqlite_study(tmp_path, sampler)
    with caplog.at_level(logging.WARNING, logger="hpablate"):
        summary = hp.run(study, pauses_at_slot_one, **FAST)
    assert summary.completed == sampler.n_slots and summary.worker_failures == 1
    assert_each_slot_once(study, sampler)
    late = {k: v for k, v in study.user_attrs.items() if k.startswith(LATE_RESULT_PREFIX)}
    assert list(late) == [f"{LATE_RESULT_PREFIX}1"]
    assert late[f"{LATE_RESULT_PREFIX}1"]["slot"] == 1
    assert late[f"{LATE_RESULT_PREFIX}1"]["values"] == [pytest.approx(32 / 64)]
    assert "after another worker had failed it as dead" in caplog.text


# 3. plain Optuna use -----------------------------------------------------------------------------
def plain_objective(trial: optuna.Trial) -> float:
    return _workers.SPACE.suggest(trial)["width"] + hp.trial_seed(trial) % 7


@pytest.mark.parametrize("earlier_trials", [0, 3])
def test_study_optimize_runs_each_slot_once(earlier_trials):
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: _workers.SPACE.suggest(t)["width"], n_trials=earlier_trials)
    sampler = small_sampler(repeats=2)
    study.sampler = sampler
    study.optimize(plain_objective, n_trials=sampler.n_slots)
    assert_each_slot_once(study, sampler)
    assert study.user_attrs["hpablate.plan_offset"] == earlier_trials


def test_ask_and_tell_runs_each_slot_once():
    sampler = small_sampler(repeats=2)
    study = optuna.create_study(sampler=sampler)
    for _ in range(sampler.n_slots):
        trial = study.ask()
        study.tell(trial, plain_objective(trial))
    assert_each_slot_once(study, sampler)
    assert sampler.status(study).free == []


def test_n_jobs_threads_then_hp_run_complete_the_plan():
    sampler = small_sampler(repeats=3)
    study = optuna.create_study(sampler=sampler)
    study.optimize(plain_objective, n_trials=sampler.n_slots, n_jobs=4)
    hp.run(study, plain_objective)  # whatever threads left (surplus at the binding) is run now
    assert_each_slot_once(study, sampler)


def test_enqueued_and_added_trials_never_take_planned_slots():
    sampler = small_sampler()
    study = hp.create_study(_workers.SPACE, sampler, direction="maximize")
    study.enqueue_trial({"lr": 0.001234})
    study.add_trial(optuna.trial.create_trial(
        params=dict(sampler.plan_object[1].params), distributions=_workers.SPACE.to_distributions(), value=0.0,
    ))
    hp.run(study, plain_objective)
    assert_each_slot_once(study, sampler)
    enqueued = next(t for t in study.trials if t.params.get("lr") == pytest.approx(0.001234))
    assert enqueued.state == TrialState.COMPLETE and FOREIGN_ATTR in enqueued.user_attrs
    assert enqueued.params["width"] == _workers.SPACE.baseline["width"]  # unfixed values: baseline


def test_partial_fixed_sampler_does_not_crash_and_off_plan_trials_hold_no_slot():
    sampler = small_sampler()
    fixed = optuna.samplers.PartialFixedSampler({"width": 8}, sampler)
    study = optuna.create_study(sampler=fixed)
    study.optimize(plain_objective, n_trials=sampler.n_slots)
    assert all(t.params["width"] == 8 for t in study.trials)
    assert all(FOREIGN_ATTR in t.user_attrs for t in study.trials if t.user_attrs.get(SLOT_ATTR, -1) >= 0)
    assert planned_completions(study) == Counter()


def test_a_known_parameter_with_another_distribution_stops_the_run():
    def wrong_range(trial: optuna.Trial) -> float:
        return trial.suggest_float("lr", 0.0, 1.0)

    study = hp.create_study(_workers.SPACE, small_sampler(), direction="maximize")
    with pytest.raises(DistributionMismatchError, match="lr"):
        hp.run(study, wrong_range)
    assert len(study.trials) == 1  # not retried as a flaky failure


# 4. transient storage errors and worker deaths ---------------------------------------------------
class FlakyConnection(Exception):
    """Stands in for a driver error whose message says the connection dropped."""


def test_transient_errors_are_recognised_through_their_causes():
    try:
        try:
            raise FlakyConnection("server closed the connection unexpectedly")
        except FlakyConnection as inner:
            raise optuna.exceptions.StorageInternalError("An exception is raised during the commit.") from inner
    except optuna.exceptions.StorageInternalError as exc:
        assert is_transient(exc)
    assert not is_transient(ValueError("Cannot set different distribution kind"))


def test_retrying_storage_survives_dropped_calls():
    backend = optuna.storages.InMemoryStorage()
    calls = Counter()
    original = backend.set_trial_user_attr

    def drops_every_third(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] % 3 == 0:
            raise ConnectionResetError("connection reset by peer")
        return original(*args, **kwargs)

    backend.set_trial_user_attr = drops_every_third  # type: ignore[method-assign]
    storage = RetryingStorage(backend)
    sampler = small_sampler()
    study = hp.create_study(_workers.SPACE, sampler, storage=storage, direction="maximize")
    hp.run(study, plain_objective)
    assert_each_slot_once(study, sampler)
    assert storage.retries > 0


def test_lost_acknowledgement_of_the_final_state_counts_as_stored():
    backend = optuna.storages.InMemoryStorage()
    original = backend.set_trial_state_values
    dropped = []

    def stores_then_drops(trial_id, state, values=None):
        result = original(trial_id, state, values)
        if state.is_finished() and not dropped:
            dropped.append(trial_id)
            raise ConnectionError("connection lost after commit")
        return result

    backend.set_trial_state_values = stores_then_drops  # type: ignore[method-assign]
    study = optuna.create_study(storage=RetryingStorage(backend))
    trial = study.ask()
    study.tell(trial, 1.5)
    assert study.trials[0].state == TrialState.COMPLETE and study.trials[0].value == 1.5


def test_dead_workers_do_not_use_up_retries(tmp_path):
    sampler = small_sampler()
    study = sqlite_study(tmp_path, sampler)
    for _ in range(4):  # the workers running slots 0-3 died
        trial = study.ask()
        study._storage.set_trial_user_attr(trial._trial_id, FAIL_REASON_ATTR, "stale: no heartbeat for 70 s")
        study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
    status = sampler.status(study)
    assert status.worker_failures == {0: 1, 1: 1, 2: 1, 3: 1} and status.failures == {}
    sampler.max_retries = 0
    assert sampler.status(study).abandoned == []  # max_retries=0 would abandon them were they objective failures
    summary = hp.run(study, plain_objective, max_retries=0, **FAST)
    assert summary.abandoned == 0 and summary.worker_failures == 4
    assert_each_slot_once(study, sampler)


def test_objective_failures_still_abandon_a_slot():
    study = hp.create_study(_workers.SPACE, small_sampler(), direction="maximize")
    summary = hp.run(study, _workers.always_fails, max_retries=1)
    assert summary.abandoned == study.sampler.n_slots and summary.worker_failures == 0


# 5. settings ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "settings, match",
    [
        (dict(grace_period=0), "grace_period"),
        (dict(heartbeat_interval=1.0, grace_period=1.5), "at least twice"),
        (dict(heartbeat_interval=-1), "heartbeat_interval"),
        (dict(heartbeat_interval=float("nan")), "heartbeat_interval"),
        (dict(max_retries=-1), "max_retries"),
        (dict(n_workers=0), "n_workers"),
        (dict(n_workers=True), "n_workers"),
        (dict(n_trials=0), "n_trials"),
        (dict(timeout=-5), "timeout"),
    ],
)
def test_bad_settings_are_refused_before_anything_runs(settings, match):
    study = hp.create_study(_workers.SPACE, small_sampler(), direction="maximize")
    with pytest.raises(UsageError, match=match):
        hp.run(study, plain_objective, **settings)
    assert study.trials == []


def test_a_huge_grid_is_refused_at_once():
    space = hp.SearchSpace(
        hp.Float("a", 0.0, 1.0, baseline=0.0, levels=[i / 2999 for i in range(3000)]),
        hp.Float("b", 0.0, 1.0, baseline=0.0, levels=[i / 2999 for i in range(3000)]),
    )
    started = time.monotonic()
    with pytest.raises(PlanTooLargeError, match="9,000,000 slots"):
        hp.GridCombinationSampler(space, groups=[("a", "b")])
    assert time.monotonic() - started < 5


# 6. a rerun says what it waits for ------------------------------------------------------------------
def test_rerun_says_it_waits_for_trials_of_dead_workers(tmp_path, caplog):
    sampler = small_sampler()
    study = sqlite_study(tmp_path, sampler)
    hp.run(study, plain_objective, n_trials=sampler.n_slots - 1, **FAST)
    dead = study.ask()  # the last slot, taken by a worker that then died
    study._storage.set_trial_user_attr(dead._trial_id, "hpablate.heartbeat", time.time())
    with caplog.at_level(logging.WARNING, logger="hpablate"):
        summary = hp.run(study, plain_objective, heartbeat_interval=0.1, grace_period=1.0)
    assert summary.completed == sampler.n_slots
    assert "waiting up to" in caplog.text and "1 trial of dead workers" in caplog.text
    assert_each_slot_once(study, sampler)


# Ctrl-C ------------------------------------------------------------------------------------------------
def interrupted_at_slot_two(trial: optuna.Trial) -> float:
    config = _workers.SPACE.suggest(trial)
    if trial.user_attrs[SLOT_ATTR] == 2:
        raise KeyboardInterrupt
    return config["width"]


def test_ctrl_c_marks_the_running_trial_failed_so_a_rerun_starts_at_once(tmp_path):
    sampler = small_sampler()
    study = sqlite_study(tmp_path, sampler)
    with pytest.raises(KeyboardInterrupt):
        hp.run(study, interrupted_at_slot_two, heartbeat_interval=5.0, grace_period=60.0)
    interrupted = study.trials[2]
    assert interrupted.state == TrialState.FAIL
    assert interrupted.user_attrs[FAIL_REASON_ATTR].startswith("interrupted:")
    started = time.monotonic()
    summary = hp.run(study, plain_objective, heartbeat_interval=5.0, grace_period=60.0)
    assert time.monotonic() - started < 20  # no grace period to sit out
    assert summary.completed == sampler.n_slots and summary.worker_failures == 1
    assert_each_slot_once(study, sampler)


# 7. storage arguments -----------------------------------------------------------------------------------
def test_a_file_that_is_not_a_journal_is_refused_untouched(tmp_path):
    settings = tmp_path / "settings.json"
    settings.write_text('{"lr": 0.1}\n')
    before = settings.read_bytes()
    with pytest.raises(StorageError, match="not an Optuna journal file"):
        hp.create_study(_workers.SPACE, small_sampler(), storage=str(settings))
    assert settings.read_bytes() == before


def test_a_sqlite_file_given_as_a_path_is_refused(tmp_path):
    db = tmp_path / "x.db"
    optuna.create_study(storage=f"sqlite:///{db}")
    with pytest.raises(StorageError, match="sqlite:///"):
        hp.create_study(_workers.SPACE, small_sampler(), storage=str(db))


def test_threads_on_memory_and_a_heartbeat_thread_per_trial_end_with_the_run():
    before = threading.active_count()
    study = hp.create_study(_workers.SPACE, small_sampler(repeats=2), direction="maximize")
    hp.run(study, plain_objective, n_workers=3)
    assert threading.active_count() == before
    assert_each_slot_once(study, study.sampler)


# Growing a study by replicates (issue 11's "grow a study", on the runner side) ------------------------
@pytest.mark.parametrize("make", [
    lambda repeats: small_sampler(repeats=repeats),
    lambda repeats: hp.MorrisSampler(_workers.SPACE, trajectories=2, repeats=repeats, seed=5),
])
def test_more_repeats_grow_a_finished_study_exactly_once(tmp_path, make):
    url = f"sqlite:///{tmp_path / 'grow.db'}"
    small = make(2)
    study = hp.create_study(_workers.SPACE, small, storage=url, study_name="g", direction="maximize")
    hp.run(study, plain_objective, **FAST)
    first = {t.number: (t.user_attrs[SLOT_ATTR], t.user_attrs["hpablate.seed"], t.value) for t in study.trials}
    big = make(4)
    grown = hp.create_study(_workers.SPACE, big, storage=url, study_name="g", direction="maximize")
    summary = hp.run(grown, plain_objective, n_workers=2, **FAST)
    assert summary.completed == big.n_slots == 2 * small.n_slots
    assert_each_slot_once(grown, big)
    for trial in grown.trials:  # the first replicates were not rerun and kept their seeds
        if trial.number in first:
            assert (trial.user_attrs[SLOT_ATTR], trial.user_attrs["hpablate.seed"], trial.value) == first[trial.number]
    extra = [t for t in grown.trials if not t.user_attrs.get("hpablate.surplus") and t.state != TrialState.COMPLETE]
    # with a 0.5 s grace period a worker starved by SQLite's lock may be failed as stale (its slot is
    # rerun: legitimate); nothing else may add a trial
    assert all(t.state == TrialState.FAIL and is_worker_failure(t.user_attrs.get(FAIL_REASON_ATTR)) for t in extra), \
        [(t.state, t.user_attrs) for t in extra]
    assert len([t for t in grown.trials if t.state == TrialState.COMPLETE]) == big.n_slots
    assert sorted({t.user_attrs.get("hpablate.replicate") for t in grown.trials} - {None}) == [0, 1, 2, 3]
    with pytest.raises(hp.PlanMismatchError, match="4 replicates; 3 would drop"):
        hp.create_study(_workers.SPACE, make(3), storage=url, study_name="g", direction="maximize")


def test_a_journal_lock_left_by_a_killed_worker_is_taken_over_in_seconds(tmp_path):
    """A worker SIGKILLed while appending leaves ``<journal>.lock``; Optuna's default waits 30 s."""
    import os

    from hpablate._storage import JOURNAL_LOCK_GRACE_S

    path = tmp_path / "j.journal"
    sampler = small_sampler()
    study = hp.create_study(_workers.SPACE, sampler, storage=str(path), study_name="j", direction="maximize")
    os.symlink(str(path), str(path) + ".lock")  # how Optuna's symlink lock looks while held
    started = time.monotonic()
    hp.run(study, plain_objective, **FAST)
    assert time.monotonic() - started < JOURNAL_LOCK_GRACE_S + 15
    assert_each_slot_once(study, sampler)


def test_sqlite_read_then_write_of_a_trial_state_is_one_serialized_transaction(tmp_path):
    """Two processes must not both change a RUNNING trial's state (the chaos benchmark's duplicate)."""
    from optuna.storages._rdb import models

    from hpablate._storage import open_storage

    url = f"sqlite:///{tmp_path / 's.db'}"
    study = optuna.create_study(storage=open_storage(url), study_name="s")
    trial_id = study.ask()._trial_id
    first = open_storage(url)
    second = open_storage(url)
    second.engine.dispose()
    second.engine.pool._creator = _with_timeout(second.engine.pool._creator)  # fail fast instead of 5 s
    session = first.scoped_session()
    state = models.TrialModel.find_or_raise_by_id(trial_id, session).state  # the "check" of a writer
    assert state == TrialState.RUNNING
    with pytest.raises(optuna.exceptions.StorageInternalError) as refused:  # it waits for this transaction
        second.set_trial_state_values(trial_id, TrialState.FAIL)
    assert "database is locked" in str(refused.value.__cause__) and is_transient(refused.value)
    session.rollback()
    assert second.set_trial_state_values(trial_id, TrialState.FAIL)


def _with_timeout(creator):
    def create():
        connection = creator()
        connection.execute("PRAGMA busy_timeout = 100")
        return connection

    return create


def test_workers_that_all_die_silently_make_the_run_fail_loudly():
    from hpablate._workers import _check_exit_codes

    with pytest.raises(RuntimeError, match="every worker process died"):
        _check_exit_codes([1, -9])
    _check_exit_codes([0, -9])  # one died, the other finished the plan: a warning, not an error
    _check_exit_codes([0, 0])


def test_the_direct_record_write_retries_a_locked_database(tmp_path, monkeypatch):
    """The record goes to the RDB in one INSERT, past the retrying storage: it must retry too."""
    import sqlalchemy.exc

    from hpablate import _storage

    study = optuna.create_study(storage=_storage.open_storage(f"sqlite:///{tmp_path / 'l.db'}"))
    trial_id = study.ask()._trial_id
    original, calls = _storage._insert_rdb_user_attrs, []

    def locked_once(*args):
        calls.append(1)
        if len(calls) == 1:
            raise sqlalchemy.exc.OperationalError("INSERT", {}, Exception("database is locked"))
        return original(*args)

    monkeypatch.setattr(_storage, "_insert_rdb_user_attrs", locked_once)
    _storage.write_trial_user_attrs(study._storage, trial_id, {SLOT_ATTR: 4}, new_keys=True)
    assert len(calls) == 2 and study._storage.get_trial(trial_id).user_attrs[SLOT_ATTR] == 4
