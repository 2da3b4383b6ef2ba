"""Chaos benchmark: does every planned slot complete exactly once, whatever happens to the workers?

For each storage (SQLite, journal file, PostgreSQL, MariaDB, journal on Redis) and each fault
scenario, ``tests/_chaos.run_chaos`` runs independent ``hp.run`` worker processes on one study
while they are SIGKILLed at every point of a trial's life (self-kills between Optuna's trial
creation and the first heartbeat, after the slot is recorded, mid-objective, while the result is
stored, plus a parent SIGKILL every 2–4 s), paused past the grace period (SIGSTOP/SIGCONT), or
cut off from the database (PostgreSQL backends / Redis clients of the workers terminated). Killed
workers are restarted, as a cluster would. The study is then audited with plain Optuna; see
``ChaosCounts`` in ``tests/_chaos.py`` for what every column means.

    python benchmarks/chaos.py                       # 8 workers x 300 slots, every storage/scenario
    python benchmarks/chaos.py --quick               # 4 workers x 60 slots
    python benchmarks/chaos.py --storages sqlite postgres --scenarios kill --runs 3

A storage whose server does not answer is skipped with a note. Runs are bounded (``--deadline``;
a stall of ``--stall`` seconds, 60 by default, also ends a run as a hang), and every worker is killed before the audit.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import _chaos  # noqa: E402

SERVERS = {
    "postgres": "postgresql+psycopg2://postgres@127.0.0.1:5432/test",
    "mysql": "mysql+pymysql://root@127.0.0.1:3306/test",
    "redis": "redis://127.0.0.1:6379/15",
}
STORAGES = ("sqlite", "journal", "postgres", "mysql", "redis")
SELF_KILLS = {"created": 0.03, "claimed": 0.02, "objective": 0.02, "storing": 0.02}

#: Scenario name -> run_chaos keyword arguments.
SCENARIOS: dict[str, dict[str, Any]] = {
    "kill": dict(kill_every=(2.0, 4.0), faults=SELF_KILLS),
    "pause": dict(kill_every=None, pause_every=(2.0, 4.0), pause_s=(4.0, 6.0), pause_at=["objective"]),
    "drop": dict(kill_every=None, drop_every=(1.0, 3.0)),
    "all": dict(kill_every=(2.0, 4.0), faults=SELF_KILLS, pause_every=(3.0, 6.0), drop_every=(2.0, 4.0)),
}


def _reachable(kind: str) -> str | None:
    """The server URL, or ``None`` when it does not answer."""
    url = SERVERS[kind]
    try:
        if kind == "redis":
            import redis

            redis.Redis.from_url(url).ping()
        else:
            import sqlalchemy

            engine = sqlalchemy.create_engine(url)
            with engine.connect() as connection:
                connection.execute(sqlalchemy.text("SELECT 1"))
            engine.dispose()
    except Exception as exc:  # noqa: BLE001 - reported as a skip
        print(f"# {kind}: skipped ({type(exc).__name__}: {str(exc).splitlines()[0][:80]})", file=sys.stderr)
        return None
    return url


def _url(kind: str, tmp: Path) -> str | None:
    if kind == "sqlite":
        return f"sqlite:///{tmp / f'chaos-{uuid.uuid4().hex[:8]}.db'}"
    if kind == "journal":
        return str(tmp / f"chaos-{uuid.uuid4().hex[:8]}.journal")
    return _reachable(kind)


def _fmt_points(points: dict[str, int]) -> str:
    short = {"startup": "st", "created": "cr", "claimed": "cl", "objective": "ob", "returned": "rt",
             "storing": "sto", "exit": "ex"}  # fmt: skip
    return " ".join(f"{short.get(k, k)}{v}" for k, v in sorted(points.items())) or "-"


COLUMNS = (
    ("storage", 8), ("scen", 6), ("run", 3), ("kills by point", 30), ("pau", 3), ("drop", 4),
    ("slots", 5), ("once", 4), ("dup", 3), ("miss", 4), ("runL", 4), ("hang", 7), ("lost", 4),
    ("disc", 4), ("tb", 3), ("crash", 5), ("stale", 5), ("wall s", 6),
)  # fmt: skip


def _row(counts: _chaos.ChaosCounts, scenario: str, run: int) -> list[str]:
    stale = sum(v for k, v in counts.failures.items() if k.startswith("stale"))
    return [
        counts.storage, scenario, str(run), _fmt_points(counts.kills), str(sum(counts.pauses.values())),
        str(counts.connections_dropped), str(counts.n_slots), str(counts.completed_once), str(counts.duplicates),
        str(counts.missing), str(counts.running_left), counts.hang_reason or "no", str(counts.results_lost),
        str(counts.results_discarded), str(counts.tracebacks), str(counts.crashes), str(stale), f"{counts.wall_s:.1f}",
    ]  # fmt: skip


def _line(cells: list[str]) -> str:
    return " ".join(cell.rjust(width) if i > 2 else cell.ljust(width) for i, (cell, (_, width)) in enumerate(zip(cells, COLUMNS)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storages", nargs="+", choices=STORAGES, default=list(STORAGES))
    parser.add_argument("--scenarios", nargs="+", choices=list(SCENARIOS), default=list(SCENARIOS))
    parser.add_argument("--procs", type=int, default=8)
    parser.add_argument("--slots", type=int, default=300)
    parser.add_argument("--runs", type=int, default=1, help="runs per storage and scenario (seeds 0..runs-1)")
    parser.add_argument("--deadline", type=float, default=600.0)
    parser.add_argument(
        "--stall", type=float, default=60.0,
        help="seconds with no trial created or finished that count as a hang (default 60: a loaded "
        "machine can take longer than 15 s to start 8 workers)",
    )
    parser.add_argument("--quick", action="store_true", help="4 workers x 60 slots, deadline 120 s")
    parser.add_argument("--json", help="also write every ChaosCounts to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.procs, args.slots, args.deadline = 4, 60, 120.0

    tmp = Path(tempfile.mkdtemp(prefix="hpchaos-bench-"))
    print(f"# {args.procs} workers x {args.slots} slots, heartbeat 0.2 s, grace 1.5 s; logs in {tmp}")
    print("# kills by point: st=startup cr=created (before the slot record) cl=claimed ob=objective "
          "sto=storing the result; pau=SIGSTOP pauses; drop=connections dropped")  # fmt: skip
    print("# once/dup/miss = slots with 1 / >1 / 0 COMPLETE trials; runL = RUNNING left; lost = finished"
          " results lost; disc = results discarded; tb = workers with a traceback; stale = trials failed"
          " as stale")  # fmt: skip
    print(_line([name for name, _ in COLUMNS]))
    records = []
    started = time.monotonic()
    for kind in args.storages:
        for scenario in args.scenarios:
            if scenario == "drop" and kind not in ("postgres", "redis"):
                continue  # only the workers' own connections are dropped: PostgreSQL and Redis
            for run in range(args.runs):
                url = _url(kind, tmp)
                if url is None:
                    break
                counts = _chaos.run_chaos(
                    url, args.procs, args.slots, deadline_s=args.deadline, stall_s=args.stall, seed=run, log_dir=tmp,
                    **SCENARIOS[scenario],
                )  # fmt: skip
                print(_line(_row(counts, scenario, run)), flush=True)
                records.append({"scenario": scenario, "run": run, **asdict(counts)})
    failed = [r for r in records if _chaos.ChaosCounts(**{k: v for k, v in r.items() if k not in ("scenario", "run")}).problems()]
    print(f"# {len(records)} runs, {len(failed)} broke the promise, {time.monotonic() - started:.0f} s in all")
    if args.json:
        Path(args.json).write_text(json.dumps(records, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
