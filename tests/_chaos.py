"""Chaos harness for ``hp.run``: kill, pause and disconnect workers, then audit the study.

The runner promises that every planned slot of an ablation plan completes **exactly once,
whatever happens to the workers**. This module checks that promise from the outside, the way a
cluster would break it: independent worker processes (each one ``hp.run`` call, ``n_workers=1``)
share one storage; faults are injected at every point of a trial's life; dead workers are
restarted; at the end the study is audited with plain Optuna only.

Only the public hpablate API (``hp.SearchSpace``, ``hp.OneAtATimeSampler``, ``hp.create_study``,
``hp.run``, ``hp.trial_seed``), Optuna's public sampler hooks and the documented trial record
(``hpablate.slot``, ``hpablate.fail_reason``) are used, so the harness outlives a rewrite of the
runner's internals.

Two modes
---------
``python tests/_chaos.py worker --storage URL --study NAME --repeats R ...``
    One worker process (see :func:`worker_main`).
:func:`run_chaos`
    The parent driver: starts ``n_procs`` workers, injects faults, restarts killed workers, stops
    when every worker has returned (or at the deadline / on a stall) and returns
    :class:`ChaosCounts`.

Points of a trial's life (the ``point`` of a kill or pause)
-----------------------------------------------------------
``startup``
    Worker process started, no trial created yet (or study loading).
``created``
    Optuna created the trial row (RUNNING) and called the sampler's ``before_trial``; the plan
    sampler has recorded nothing yet (no slot, no heartbeat). Self-kill point (a).
``claimed``
    The plan sampler's ``before_trial`` returned: slot recorded, objective not started.
    Self-kill point (b).
``objective``
    Inside the objective (heartbeats running). Self-kill point (c), half-way through its work.
``returned``
    The objective logged its result and returned; Optuna has not stored it yet.
``storing``
    Optuna's ``after_trial`` hook runs: the result is computed and about to be written by
    ``set_trial_state_values`` (``after_trial`` is called just before it in Optuna 5's
    ``_tell_with_warning``). Self-kill point (d). An external kill classified ``storing`` may also
    have hit just after the write (no public hook exists between the write and the next trial).

External faults from the parent: SIGKILL of a random worker every ``kill_every`` seconds (point
taken from the worker's last event), SIGSTOP/SIGCONT pauses longer than the grace period (e), and
dropped database connections (f: PostgreSQL backends terminated, Redis clients killed — only the
connections of this run's workers, recognised by ``application_name`` / ``client_name``, so other
users of the shared servers are left alone).

Determinism: every random choice (which fault, when, which worker, objective durations) comes
from :class:`numpy.random.SeedSequence` streams derived from ``seed``, the worker index and the
incarnation; what remains nondeterministic is the OS's scheduling (which trial a kill lands on).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

import hpablate as hp

CHAOS_SCRIPT = str(Path(__file__).resolve())

#: Five configurations per replicate (baseline, x∈{0, 1}, mode∈{b, c}): ``n_slots = 5 * repeats``.
SPACE = hp.SearchSpace(
    hp.Float("x", 0.0, 1.0, baseline=0.5, levels=[0.0, 0.5, 1.0]),
    hp.Categorical("mode", ["a", "b", "c"], baseline="a"),
)
#: The ablation-path design's space and target: 4 moves, rounds of 6, 3 and 2 configurations whose
#: values depend on the rounds before them (claimed, not numbered: the hardest case for the runner).
PATH_SPACE = hp.SearchSpace(
    hp.Float("x", 0.0, 1.0, baseline=0.5),
    hp.Categorical("mode", ["a", "b", "c"], baseline="a"),
    hp.Float("y", 0.0, 1.0, baseline=0.0),
    hp.Float("z", 0.0, 1.0, baseline=0.0),
)
PATH_TARGET = {"x": 1.0, "mode": "c", "y": 1.0, "z": 1.0}
DESIGNS = ("oat", "path")
CONFIGS_PER_REPLICATE = {"oat": 5, "path": 11}
PLAN_SEED = 7
SLOT_ATTR = "hpablate.slot"
FAIL_REASON_ATTR = "hpablate.fail_reason"

#: Self-inflicted fault points (probability per trial, drawn in the worker).
SELF_KILL_POINTS = ("created", "claimed", "objective", "storing")
LIFE_POINTS = ("startup", "created", "claimed", "objective", "returned", "storing")


# ---- the plan and the objective (shared by workers and the audit) ---------------------------------
def space_for(design: str) -> hp.SearchSpace:
    return PATH_SPACE if design == "path" else SPACE


def make_sampler(
    repeats: int, *, faults: Mapping[str, float] | None = None, seed: int = 0, design: str = "oat"
) -> hp.PlanSampler:
    """The plan sampler of a chaos study; with ``faults``, the one that injects self-kills."""
    if design == "path":
        kwargs: dict[str, Any] = {"target": PATH_TARGET, "repeats": repeats, "seed": PLAN_SEED}
        return ChaosPathSampler(PATH_SPACE, faults=faults, fault_seed=seed, **kwargs) if faults else \
            hp.AblationPathSampler(PATH_SPACE, **kwargs)
    if faults:
        return ChaosSampler(SPACE, repeats=repeats, seed=PLAN_SEED, faults=faults, fault_seed=seed)
    return hp.OneAtATimeSampler(SPACE, repeats=repeats, seed=PLAN_SEED)


def repeats_for(n_slots: int, design: str = "oat") -> int:
    """Replicates needed for at least ``n_slots`` slots (slot counts are multiples of the design's size)."""
    return max(1, math.ceil(n_slots / CONFIGS_PER_REPLICATE[design]))


def expected_value(params: Mapping[str, Any], seed: int) -> float:
    """The objective's value for a configuration and replicate seed (pure, so stored values can be
    checked against the slot they claim to be)."""
    extra = 3 * float(params.get("y", 0.0)) + 2 * float(params.get("z", 0.0))
    return round(float(params["x"]) * 10 + "abc".index(params["mode"]) + extra + (seed % 1000) / 1000, 6)


def expected_slots(design: str, repeats: int) -> dict[int, tuple[float, dict[str, Any]]]:
    """Every slot's value and parameters, from a fault-free in-memory run of the same plan.

    The objective is pure, so the path's decisions (and the values of its later rounds) are the
    same in the chaos run as here.
    """
    sampler = make_sampler(repeats, design=design)
    study = optuna.create_study(sampler=sampler, direction="maximize")
    space = space_for(design)
    study.optimize(lambda t: expected_value(space.suggest(t), hp.trial_seed(t)), n_trials=sampler.n_slots)
    return {int(t.user_attrs[SLOT_ATTR]): (float(t.value), dict(t.params)) for t in study.trials}


class _WorkerState:
    """Process-wide state of one worker incarnation (module level so the objective stays plain)."""

    events_fd: int | None = None
    rng: np.random.Generator = np.random.default_rng(0)
    faults: dict[str, float] = {}
    work_s: tuple[float, float] = (0.05, 0.2)
    design: str = "oat"


def _event(kind: str, number: int | None = None, slot: Any = None, value: Any = None) -> None:
    """Append one event line; ``os.write`` on an O_APPEND fd: on disk even if SIGKILL follows."""
    if _WorkerState.events_fd is None:
        return
    line = json.dumps({"t": time.time(), "e": kind, "n": number, "s": slot, "v": value}) + "\n"
    os.write(_WorkerState.events_fd, line.encode())


def _maybe_die(point: str, number: int | None, slot: Any = None) -> None:
    p = _WorkerState.faults.get(point, 0.0)
    if p > 0 and _WorkerState.rng.random() < p:
        _event("kill", number, slot, point)
        os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(10)  # SIGKILL is asynchronous; never run on past the kill point


def objective(trial: optuna.Trial) -> float:
    """A short deterministic objective that logs its result just before returning.

    The value depends only on the configuration and ``hp.trial_seed`` (see :func:`expected_value`).
    """
    config = space_for(_WorkerState.design).suggest(trial)
    seed = hp.trial_seed(trial)
    slot = trial.user_attrs.get(SLOT_ATTR)
    _event("objective", trial.number, slot)
    work = float(_WorkerState.rng.uniform(*_WorkerState.work_s))
    time.sleep(work / 2)
    _maybe_die("objective", trial.number, slot)
    time.sleep(work / 2)
    value = expected_value(config, seed)
    _event("returned", trial.number, slot, value)
    return value


class _ChaosHooks:
    """Plan-sampler hooks that log the trial's life and SIGKILL their own process on request.

    Parameters
    ----------
    faults : mapping
        Probability per trial of a self-kill at ``created`` (before the plan sampler records
        anything), ``claimed`` (after it did), ``objective`` and ``storing``.
    fault_seed : int
        Unused by the plan (kept out of it so the plan identity matches the parent's sampler).
    """

    def __init__(self, *args: Any, faults: Mapping[str, float], fault_seed: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._faults = dict(faults)
        self._fault_seed = fault_seed

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        _event("created", trial.number)
        _maybe_die("created", trial.number)
        super().before_trial(study, trial)  # type: ignore[misc]
        slot = trial.user_attrs.get(SLOT_ATTR)
        _event("claimed", trial.number, slot)
        _maybe_die("claimed", trial.number, slot)

    def after_trial(
        self, study: optuna.Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None
    ) -> None:
        slot = trial.user_attrs.get(SLOT_ATTR)
        _event("storing", trial.number, slot, state.name)
        if state == TrialState.COMPLETE:  # a finished result is about to be written: lose it here
            _maybe_die("storing", trial.number, slot)
        super().after_trial(study, trial, state, values)  # type: ignore[misc]


class ChaosSampler(_ChaosHooks, hp.OneAtATimeSampler):
    """``OneAtATimeSampler`` with the chaos hooks."""


class ChaosPathSampler(_ChaosHooks, hp.AblationPathSampler):
    """``AblationPathSampler`` with the chaos hooks."""


def worker_main(argv: Sequence[str] | None = None) -> None:
    """Entry point of one worker process: ``hp.run`` on the shared study with self-kill faults."""
    parser = argparse.ArgumentParser(prog="_chaos.py worker")
    parser.add_argument("--storage", required=True)
    parser.add_argument("--study", required=True)
    parser.add_argument("--repeats", type=int, required=True)
    parser.add_argument("--events", required=True, help="event log file of this incarnation")
    parser.add_argument("--seed", type=int, default=0, help="fault/work stream of this incarnation")
    parser.add_argument("--faults", default="{}", help='JSON, e.g. {"created": 0.05}')
    parser.add_argument("--heartbeat", type=float, default=0.2)
    parser.add_argument("--grace", type=float, default=1.5)
    parser.add_argument("--work", type=float, nargs=2, default=(0.05, 0.2))
    parser.add_argument("--design", choices=DESIGNS, default="oat")
    args = parser.parse_args(argv)
    # WARNING keeps Optuna's failed-trial reports (with their tracebacks) on stderr for the audit.
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    _WorkerState.events_fd = os.open(args.events, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    _WorkerState.rng = np.random.default_rng(args.seed)
    _WorkerState.faults = {k: float(v) for k, v in json.loads(args.faults).items()}
    _WorkerState.work_s = (args.work[0], args.work[1])
    _WorkerState.design = args.design
    _event("startup")
    sampler = make_sampler(args.repeats, faults=_WorkerState.faults or {"created": 0.0}, seed=args.seed, design=args.design)
    study = hp.create_study(space_for(args.design), sampler, storage=args.storage, study_name=args.study, direction="maximize")
    hp.run(study, objective, heartbeat_interval=args.heartbeat, grace_period=args.grace)
    _event("exit")


# ---- reading storages with plain Optuna -----------------------------------------------------------
def open_storage(url: str) -> str | optuna.storages.BaseStorage:
    """Plain-Optuna storage for a URL, a ``redis://`` journal or a journal file path."""
    if url.startswith("redis"):
        from optuna.storages.journal import JournalRedisBackend

        return optuna.storages.JournalStorage(JournalRedisBackend(url))
    if "://" in url:
        return url
    from optuna.storages.journal import JournalFileBackend

    return optuna.storages.JournalStorage(JournalFileBackend(url))


def _with_query(url: str, key: str, value: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{key}={value}"


def tagged_url(url: str, tag: str) -> str:
    """The workers' URL: their connections carry ``tag`` so the dropper kills only theirs."""
    if url.startswith("postgresql"):
        return _with_query(url, "application_name", tag)
    if url.startswith("redis"):
        return _with_query(url, "client_name", tag)
    return url


def storage_kind(url: str) -> str:
    """``sqlite``, ``postgres``, ``mysql``, ``redis`` or ``journal``."""
    for prefix, kind in (("sqlite", "sqlite"), ("postgres", "postgres"), ("mysql", "mysql"), ("redis", "redis")):
        if url.startswith(prefix):
            return kind
    return "journal"


# ---- connection dropper (f) -----------------------------------------------------------------------
class _Dropper:
    """Drops the database connections of this run's workers (never anyone else's)."""

    def __init__(self, url: str, tag: str) -> None:
        self.kind = storage_kind(url)
        self.url = url
        self.tag = tag
        self._engine: Any = None
        self._redis: Any = None

    @property
    def supported(self) -> bool:
        return self.kind in ("postgres", "redis")

    def drop(self) -> int:
        """Terminate the tagged connections now; returns how many were dropped."""
        if self.kind == "postgres":
            import sqlalchemy

            if self._engine is None:
                self._engine = sqlalchemy.create_engine(self.url, poolclass=sqlalchemy.pool.NullPool)
            with self._engine.connect() as connection:
                rows = connection.execute(
                    sqlalchemy.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = :tag AND pid <> pg_backend_pid()"
                    ),
                    {"tag": self.tag},
                ).fetchall()
                connection.commit()
            return sum(1 for (ok,) in rows if ok)
        if self.kind == "redis":
            import redis

            if self._redis is None:
                self._redis = redis.Redis.from_url(self.url)
            n = 0
            for client in self._redis.client_list():
                if client.get("name") == self.tag:
                    n += int(bool(self._redis.client_kill_filter(_id=client["id"])))
            return n
        return 0

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
        if self._redis is not None:
            self._redis.close()


# ---- the result of a chaos run --------------------------------------------------------------------
@dataclass
class ChaosCounts:
    """What a chaos run did and what the study holds afterwards (read with plain Optuna).

    Attributes
    ----------
    storage : str
        Storage kind (``sqlite``, ``journal``, ``postgres``, ``mysql``, ``redis``).
    n_procs, n_slots : int
        Concurrent worker processes; slots in the plan.
    workers_started : int
        Worker incarnations started (first starts and restarts).
    kills : dict
        SIGKILLs by point of a trial's life (see the module docstring): self-kills and the
        parent's kills (``kill_every``) together.
    pauses : dict
        SIGSTOP pauses (each longer than the grace period) by point of life.
    paused_results_logged : int
        Pauses that caught a worker inside an objective after which that objective still logged
        its result (the paused worker carried on instead of dying).
    connections_dropped : int
        Database connections of the workers terminated by the parent.
    completed_once : int
        Slots with exactly one COMPLETE trial.
    duplicates : int
        Slots with more than one COMPLETE trial.
    missing : int
        Slots with no COMPLETE trial.
    running_left : int
        Trials still RUNNING when the run ended (all workers gone).
    running_unclaimed : int
        Of those, the ones without a ``hpablate.slot`` (their worker died between Optuna's trial
        creation and the plan sampler's record: fault point ``created``).
    hang : bool
        The run did not end by itself: the deadline passed, or nothing changed in the study (no
        new trial, no trial finished) for ``stall_s`` while workers were alive.
    hang_reason : str
        ``""``, ``"deadline"`` or ``"stall"``.
    failures : dict
        FAIL trials by ``hpablate.fail_reason``, numbers removed (``"stale: no heartbeat for
        # s (worker died?)"``); ``"(none)"`` where no reason was recorded.
    tracebacks : int
        Worker incarnations whose stderr contains ``Traceback``.
    crashes : int
        Worker incarnations that exited neither with 0 nor by one of the harness's SIGKILLs.
    results_lost : int
        Finished results lost: objective calls that logged a result for trial *T* of slot *s*,
        where *T* is not COMPLETE and no trial of *s* is COMPLETE either — a result that was
        computed and is nowhere in the study (the slot is also counted in ``missing``).
    results_discarded : int
        Logged results of trials that ended other than COMPLETE although their worker was not
        killed before storing them (e.g. a paused worker's trial failed as stale); their slot was
        completed by another trial. Not an error of the promise, but wasted work.
    wrong_values : int
        COMPLETE trials whose value or parameters are not those of the slot they record.
    unlabeled_complete : int
        COMPLETE trials without a ``hpablate.slot`` (or a surplus slot).
    wall_s : float
        Seconds from the first worker start to the end of the run.
    traceback_samples : list of str
        The last lines of up to three worker stderr files with a traceback.
    """

    storage: str
    n_procs: int
    n_slots: int
    workers_started: int = 0
    kills: dict[str, int] = field(default_factory=dict)
    pauses: dict[str, int] = field(default_factory=dict)
    paused_results_logged: int = 0
    connections_dropped: int = 0
    completed_once: int = 0
    duplicates: int = 0
    missing: int = 0
    running_left: int = 0
    running_unclaimed: int = 0
    hang: bool = False
    hang_reason: str = ""
    failures: dict[str, int] = field(default_factory=dict)
    tracebacks: int = 0
    crashes: int = 0
    results_lost: int = 0
    results_discarded: int = 0
    wrong_values: int = 0
    unlabeled_complete: int = 0
    wall_s: float = 0.0
    traceback_samples: list[str] = field(default_factory=list)

    @property
    def n_kills(self) -> int:
        return sum(self.kills.values())

    @property
    def ok(self) -> bool:
        """The promise held: every slot once, nothing left running, no hang/loss/traceback/crash."""
        return not self.problems()

    def problems(self) -> list[str]:
        """The broken parts of the promise, one phrase each (empty when :attr:`ok`)."""
        checks = {
            "duplicates": self.duplicates,
            "missing": self.missing,
            "running_left": self.running_left,
            "hang": int(self.hang),
            "results_lost": self.results_lost,
            "tracebacks": self.tracebacks,
            "crashes": self.crashes,
            "wrong_values": self.wrong_values,
            "unlabeled_complete": self.unlabeled_complete,
        }
        return [f"{name}={value}" for name, value in checks.items() if value]

    def summary(self) -> str:
        """A multi-line report for assertion messages."""
        data = asdict(self)
        samples = data.pop("traceback_samples")
        text = "\n".join(f"  {k}: {v}" for k, v in data.items())
        if samples:
            text += "\n  traceback samples:\n" + "\n----\n".join(samples)
        return text


# ---- worker bookkeeping in the parent -------------------------------------------------------------
@dataclass
class _Incarnation:
    index: int
    number: int
    proc: subprocess.Popen
    events: Path
    stderr: Path
    stderr_file: Any
    killed_by_parent: bool = False
    stopped_until: float | None = None
    #: (wall time of SIGSTOP, trial number then in the objective or None) per pause.
    paused_in: list[tuple[float, int | None]] = field(default_factory=list)

    def last_event(self) -> dict[str, Any] | None:
        try:
            lines = self.events.read_text().splitlines()
        except OSError:
            return None
        for line in reversed(lines):
            try:
                return json.loads(line)
            except json.JSONDecodeError:  # torn last line: ignore it
                continue
        return None


def _point_of(event: dict[str, Any] | None) -> str:
    if event is None or event["e"] in ("startup", "exit"):
        return "startup" if event is None or event["e"] == "startup" else "exit"
    return str(event["e"]) if event["e"] in LIFE_POINTS else "startup"


def _at_points(
    incs: Sequence[_Incarnation], points: Sequence[str] | None
) -> list[tuple[_Incarnation, dict[str, Any] | None]]:
    """The workers (with their last event) whose last event is at one of ``points`` (any if None)."""
    found = [(inc, inc.last_event()) for inc in incs]
    return [(inc, last) for inc, last in found if points is None or _point_of(last) in points]


def _read_events(path: Path) -> list[dict[str, Any]]:
    out = []
    try:
        text = path.read_text()
    except OSError:
        return out
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def _progress_signature(study: optuna.Study) -> tuple[int, int, int]:
    trials = study.get_trials(deepcopy=False)
    finished = sum(1 for t in trials if t.state.is_finished())
    complete_slots = {t.user_attrs.get(SLOT_ATTR) for t in trials if t.state == TrialState.COMPLETE}
    return len(trials), finished, len(complete_slots - {None})


# ---- the driver -----------------------------------------------------------------------------------
def run_chaos(
    storage_url: str,
    n_procs: int = 4,
    n_slots: int = 60,
    *,
    kill_every: tuple[float, float] | None = (2.0, 4.0),
    kill_at: Sequence[str] | None = ("created", "claimed", "objective", "returned", "storing"),
    faults: Mapping[str, float] | None = None,
    pause_every: tuple[float, float] | None = None,
    pause_s: tuple[float, float] | None = None,
    pause_at: Sequence[str] | None = None,
    drop_every: tuple[float, float] | None = None,
    deadline_s: float = 120.0,
    stall_s: float | None = None,
    heartbeat_interval: float = 0.2,
    grace_period: float = 1.5,
    work_s: tuple[float, float] = (0.05, 0.2),
    seed: int = 0,
    study_name: str | None = None,
    log_dir: str | os.PathLike[str] | None = None,
    max_restarts: int | None = None,
    design: str = "oat",
) -> ChaosCounts:
    """Run ``n_procs`` chaos workers on one study until they are done; return what happened.

    Parameters
    ----------
    storage_url : str
        ``sqlite:///…``, ``postgresql…://``, ``mysql…://``, ``redis://…`` (journal on Redis) or a
        journal file path.
    n_procs : int
        Worker processes alive at once; a killed or crashed one is restarted (as a cluster's
        scheduler would) until the run ends.
    n_slots : int
        Slots wanted; rounded up to a multiple of the configurations per replicate (5 for ``oat``,
        11 for ``path``).
    kill_every : (float, float) or None
        The parent SIGKILLs a random running worker every ``uniform(lo, hi)`` seconds.
    kill_at : sequence of str, optional
        Only workers whose last event is at one of these points are killed by the parent (default:
        inside a trial's life, not during the worker's start-up, where a kill tests nothing but
        costs a restart); ``None``: any worker.
    faults : mapping, optional
        Per-trial self-kill probabilities at ``created``, ``claimed``, ``objective``, ``storing``.
    pause_every, pause_s : (float, float) or None
        The parent SIGSTOPs a random worker every ``uniform(*pause_every)`` seconds for
        ``uniform(*pause_s)`` seconds (default 1.5–2.5 grace periods), then SIGCONTs it.
    pause_at : sequence of str, optional
        Pause only workers whose last event is one of these points (e.g. ``["objective"]``: the
        pause then surely holds a trial whose heartbeat stops); when a pause is due and no worker
        is there, the parent tries again on the next tick.
    drop_every : (float, float) or None
        The parent drops the workers' database connections (PostgreSQL, Redis) this often.
    deadline_s : float
        Hard bound on the run; reaching it counts as a hang.
    stall_s : float, optional
        A hang is also declared when no trial was created or finished for this long while workers
        were alive (default ``max(15, 10 * grace_period)``), so a hung runner costs seconds, not
        the whole deadline.
    heartbeat_interval, grace_period : float
        Passed to ``hp.run`` in every worker.
    work_s : (float, float)
        Range of the objective's duration.
    seed : int
        Seed of every random choice of the parent and the workers.
    study_name : str, optional
        Default: a fresh unique name.
    log_dir : path, optional
        Where event logs and worker stderr go, in a subfolder named after the study (default: a
        new temporary directory, kept for inspection).
    max_restarts : int, optional
        Bound on restarts (default ``50 * n_procs``): a worker that dies on start cannot loop.
    design : {"oat", "path"}
        The plan: one-at-a-time (every slot numbered up front) or an ablation path (later rounds
        claimed once earlier rounds are decided).

    Returns
    -------
    ChaosCounts
    """
    repeats = repeats_for(n_slots, design)
    n_slots = repeats * CONFIGS_PER_REPLICATE[design]
    faults = dict(faults or {})
    unknown = set(faults) - set(SELF_KILL_POINTS)
    if unknown:
        raise ValueError(f"unknown fault points {sorted(unknown)}; use {SELF_KILL_POINTS}")
    kind = storage_kind(storage_url)
    study_name = study_name or f"chaos-{uuid.uuid4().hex[:10]}"
    tag = f"hpchaos-{uuid.uuid4().hex[:8]}"
    worker_url = tagged_url(storage_url, tag)
    # One fresh folder per run: event logs are appended to, so a reused folder would mix runs.
    log_path = (Path(log_dir) if log_dir is not None else Path(tempfile.mkdtemp(prefix="hpchaos-"))) / study_name
    log_path.mkdir(parents=True, exist_ok=True)
    stall_s = stall_s if stall_s is not None else max(15.0, 10.0 * grace_period)
    pause_s = pause_s or (1.5 * grace_period, 2.5 * grace_period)
    max_restarts = 50 * n_procs if max_restarts is None else max_restarts
    root = np.random.SeedSequence(seed)
    parent_rng = np.random.default_rng(root.spawn(1)[0])
    counts = ChaosCounts(storage=kind, n_procs=n_procs, n_slots=n_slots)

    # The parent makes the study first (like a user before submitting jobs): no creation race.
    hp.create_study(space_for(design), make_sampler(repeats, design=design), storage=storage_url, study_name=study_name,
                    direction="maximize")
    study = optuna.load_study(study_name=study_name, storage=open_storage(storage_url))

    incarnations: list[_Incarnation] = []
    alive: dict[int, _Incarnation] = {}
    done: set[int] = set()  # worker slots whose process returned 0: not restarted
    serial = [0] * n_procs
    dropper = _Dropper(storage_url, tag)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}

    def start(index: int) -> None:
        number = serial[index]
        serial[index] += 1
        # SeedSequence of (seed, worker, incarnation): the same run makes the same draws.
        wseed = int(np.random.SeedSequence([seed, index, number]).generate_state(1)[0])
        events = log_path / f"w{index}-{number}.events"
        err = log_path / f"w{index}-{number}.err"
        err_file = open(err, "wb")
        cmd = [
            sys.executable, CHAOS_SCRIPT, "worker", "--storage", worker_url, "--study", study_name,
            "--repeats", str(repeats), "--events", str(events), "--seed", str(wseed),
            "--faults", json.dumps(faults), "--heartbeat", str(heartbeat_interval),
            "--grace", str(grace_period), "--work", str(work_s[0]), str(work_s[1]), "--design", design,
        ]  # fmt: skip
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err_file, env=env)
        inc = _Incarnation(index, number, proc, events, err, err_file)
        incarnations.append(inc)
        alive[index] = inc
        counts.workers_started += 1

    def next_time(every: tuple[float, float] | None, now: float) -> float:
        return math.inf if every is None else now + float(parent_rng.uniform(*every))

    t0 = time.monotonic()
    restarts = 0
    try:
        for i in range(n_procs):
            start(i)
        now = time.monotonic()
        next_kill = next_time(kill_every, now)
        next_pause = next_time(pause_every, now)
        next_drop = next_time(drop_every if dropper.supported else None, now)
        next_poll = now
        last_signature: tuple[int, int, int] | None = None
        last_change = now
        plan_complete = False
        while True:
            now = time.monotonic()
            # Reap exited workers; restart the ones that did not finish cleanly.
            for index, inc in list(alive.items()):
                rc = inc.proc.poll()
                if rc is None:
                    continue
                del alive[index]
                inc.stderr_file.close()
                if rc == 0:
                    done.add(index)
                    continue
                self_killed = any(e["e"] == "kill" for e in _read_events(inc.events))
                if rc == -signal.SIGKILL and (inc.killed_by_parent or self_killed):
                    pass
                else:
                    counts.crashes += 1
                if restarts < max_restarts:
                    restarts += 1
                    start(index)
            # Resume paused workers whose pause is over.
            for inc in alive.values():
                if inc.stopped_until is not None and now >= inc.stopped_until:
                    inc.proc.send_signal(signal.SIGCONT)
                    inc.stopped_until = None
            if not alive:
                break  # every worker returned 0 (or the restart budget is spent)
            if now - t0 > deadline_s:
                counts.hang, counts.hang_reason = True, "deadline"
                break
            if now >= next_poll:
                next_poll = now + 0.5
                try:
                    signature = _progress_signature(study)
                except Exception:  # noqa: BLE001 - the parent's read may race a writer; try again
                    signature = last_signature
                if signature != last_signature:
                    last_signature, last_change = signature, now
                elif now - last_change > stall_s and not any(i.stopped_until for i in alive.values()):
                    counts.hang, counts.hang_reason = True, "stall"
                    break
                plan_complete = signature is not None and signature[2] >= n_slots
            # External faults, only while the plan is incomplete so that workers can drain.
            running = [inc for inc in alive.values() if inc.stopped_until is None]
            if not plan_complete and running:
                if now >= next_kill and (candidates := _at_points(running, kill_at)):
                    victim, last = candidates[int(parent_rng.integers(len(candidates)))]
                    point = _point_of(last)
                    victim.killed_by_parent = True
                    victim.proc.send_signal(signal.SIGKILL)
                    counts.kills[point] = counts.kills.get(point, 0) + 1
                    next_kill = next_time(kill_every, now)
                elif now >= next_pause and (candidates := _at_points(running, pause_at)):
                    victim, last = candidates[int(parent_rng.integers(len(candidates)))]
                    point = _point_of(last)
                    victim.proc.send_signal(signal.SIGSTOP)
                    in_objective = point == "objective" and last is not None
                    victim.paused_in.append((time.time(), last["n"] if in_objective else None))
                    victim.stopped_until = now + float(parent_rng.uniform(*pause_s))
                    counts.pauses[point] = counts.pauses.get(point, 0) + 1
                    next_pause = next_time(pause_every, now)
                elif now >= next_drop:
                    try:
                        counts.connections_dropped += dropper.drop()
                    except Exception as exc:  # noqa: BLE001 - the dropper must not end the run
                        print(f"chaos: dropping connections failed: {exc}", file=sys.stderr)
                    next_drop = next_time(drop_every, now)
            time.sleep(0.02)
    finally:
        # Never leave a child behind: continue paused ones (a stopped process ignores nothing but
        # SIGKILL, which works anyway), then kill whatever is alive.
        for inc in alive.values():
            if inc.proc.poll() is None:
                inc.proc.send_signal(signal.SIGKILL)
        for inc in incarnations:
            try:
                inc.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            inc.stderr_file.close()
        dropper.close()
    counts.wall_s = round(time.monotonic() - t0, 2)
    for inc in incarnations:
        for e in _read_events(inc.events):
            if e["e"] == "kill":
                counts.kills[e["v"]] = counts.kills.get(e["v"], 0) + 1
    _audit(counts, storage_url, study_name, repeats, incarnations, design)
    return counts


# ---- the audit ------------------------------------------------------------------------------------
_NUMBER = re.compile(r"\d+(\.\d+)?")


def _reason_key(reason: str | None) -> str:
    return "(none)" if not reason else _NUMBER.sub("#", reason)[:80]


def _audit(
    counts: ChaosCounts, storage_url: str, study_name: str, repeats: int, incarnations: Sequence[_Incarnation],
    design: str = "oat",
) -> None:
    """Fill the storage-derived counts of ``counts`` from the study, read with plain Optuna."""
    study = optuna.load_study(study_name=study_name, storage=open_storage(storage_url))
    trials = study.get_trials(deepcopy=False)
    by_number = {t.number: t for t in trials}
    expected = expected_slots(design, repeats)
    complete_per_slot: Counter[int] = Counter()
    for t in trials:
        if t.state == TrialState.RUNNING:
            counts.running_left += 1
            counts.running_unclaimed += int(SLOT_ATTR not in t.user_attrs)
        elif t.state == TrialState.FAIL:
            key = _reason_key(t.user_attrs.get(FAIL_REASON_ATTR))
            counts.failures[key] = counts.failures.get(key, 0) + 1
        elif t.state == TrialState.COMPLETE:
            slot = t.user_attrs.get(SLOT_ATTR)
            if slot is None or int(slot) not in expected:
                counts.unlabeled_complete += 1
                continue
            slot = int(slot)
            complete_per_slot[slot] += 1
            value, params = expected[slot]
            if t.value is None or abs(t.value - value) > 1e-6 or t.params != params:
                counts.wrong_values += 1
    counts.completed_once = sum(1 for s in expected if complete_per_slot[s] == 1)
    counts.duplicates = sum(1 for s in expected if complete_per_slot[s] > 1)
    counts.missing = sum(1 for s in expected if complete_per_slot[s] == 0)

    for inc in incarnations:
        events = _read_events(inc.events)
        for i, e in enumerate(events):
            if e["e"] != "returned":
                continue
            trial = by_number.get(e["n"])
            if trial is None or trial.state == TrialState.COMPLETE:
                continue
            slot = trial.user_attrs.get(SLOT_ATTR, e["s"])
            if slot is None or complete_per_slot[int(slot)] == 0:
                counts.results_lost += 1
                continue
            # Was the process SIGKILLed before the write? Only "storing"/"kill" after "returned"
            # and death by SIGKILL: the result died with the process, which is allowed (the slot
            # was completed by another trial). Any later event ("created" of the next trial,
            # "exit") or another exit means a live worker stored it as something else.
            later = {x["e"] for x in events[i + 1 :]}
            died_with_it = later <= {"storing", "kill"} and inc.proc.returncode == -signal.SIGKILL
            if not died_with_it:
                counts.results_discarded += 1

    for inc in incarnations:
        events = _read_events(inc.events)
        for t_stop, number in inc.paused_in:
            if number is not None and any(
                e["e"] == "returned" and e["n"] == number and e["t"] >= t_stop for e in events
            ):
                counts.paused_results_logged += 1

    with_tb = []
    for inc in incarnations:
        try:
            text = inc.stderr.read_text(errors="replace")
        except OSError:
            continue
        if "Traceback" in text:
            with_tb.append(text)
    counts.tracebacks = len(with_tb)
    counts.traceback_samples = ["\n".join(text.strip().splitlines()[-12:]) for text in with_tb[:3]]


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "worker":
        worker_main(argv[1:])
        return
    parser = argparse.ArgumentParser(description="One chaos run; prints the counts as JSON.")
    parser.add_argument("storage")
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--slots", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--deadline", type=float, default=120.0)
    args = parser.parse_args(argv)
    counts = run_chaos(
        args.storage, args.procs, args.slots, faults={"created": 0.03, "claimed": 0.03, "objective": 0.03,
        "storing": 0.03}, seed=args.seed, deadline_s=args.deadline,
    )  # fmt: skip
    print(json.dumps(asdict(counts), indent=1))


if __name__ == "__main__":
    main()
