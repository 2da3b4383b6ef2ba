"""Speed of the analysis: hpablate's fANOVA vs Optuna's, reading, and a whole ``hpablate analyze``.

Builds SQLite studies of 1,000 and 10,000 trials over 6 parameters (random configurations plus a
replicated one-at-a-time block with the hpablate trial record, so every table of the report is
computed) and prints, side by side:

* hpablate's fANOVA (marginal + every pairwise term, 64 trees, Optuna's forest settings and
  encoding) vs Optuna's ``FanovaImportanceEvaluator`` (64 trees; at 10,000 trials only
  ``--optuna-trees-large`` trees, 2 by default, because 64 would take about half an hour — the
  64-tree time is then extrapolated linearly and marked so), with the largest difference between
  their marginal importances;
* reading the trials: hpablate's read-only SQL reader vs ``optuna.load_study`` + ``trials_dataframe``;
* a whole ``hpablate analyze STORAGE --html report.html`` in a fresh process (every table, fANOVA,
  PED-ANOVA, HTML).

Run: ``python benchmarks/analyze_speed.py`` (``--sizes 1000`` for a quick run).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from hpablate.analysis import importance as imp  # noqa: E402
from hpablate.analysis.load import load  # noqa: E402

DIST = {
    "lr": FloatDistribution(1e-4, 1e-1, log=True),
    "momentum": FloatDistribution(0.0, 0.99),
    "batch_size": IntDistribution(16, 512),
    "width": IntDistribution(8, 1024, log=True),
    "optimizer": CategoricalDistribution(["sgd", "adam", "rmsprop"]),
    "dropout": CategoricalDistribution([True, False]),
}
BASELINE = {"lr": 1e-2, "momentum": 0.9, "batch_size": 64, "width": 128, "optimizer": "adam", "dropout": True}
LEVELS = {"lr": [1e-4, 1e-3, 1e-2, 1e-1], "momentum": [0.0, 0.5, 0.9], "batch_size": [16, 64, 512],
          "width": [8, 128, 1024], "optimizer": ["sgd", "adam", "rmsprop"], "dropout": [True, False]}
SPACE = {"version": 1, "params": [
    {"kind": "float", "name": "lr", "low": 1e-4, "high": 1e-1, "log": True, "step": None, "baseline": 1e-2,
     "levels": LEVELS["lr"]},
    {"kind": "float", "name": "momentum", "low": 0.0, "high": 0.99, "log": False, "step": None, "baseline": 0.9,
     "levels": LEVELS["momentum"]},
    {"kind": "int", "name": "batch_size", "low": 16, "high": 512, "log": False, "step": 1, "baseline": 64,
     "levels": LEVELS["batch_size"]},
    {"kind": "int", "name": "width", "low": 8, "high": 1024, "log": True, "step": 1, "baseline": 128,
     "levels": LEVELS["width"]},
    {"kind": "categorical", "name": "optimizer", "choices": ["sgd", "adam", "rmsprop"], "baseline": "adam",
     "levels": LEVELS["optimizer"]},
    {"kind": "component", "name": "dropout", "choices": [True, False], "baseline": True, "off": False,
     "levels": [True, False]},
]}


def objective(p: dict, rng: np.random.Generator) -> float:
    acc = 0.95 - 0.04 * (math.log10(p["lr"]) + 2) ** 2 - 0.05 * (p["optimizer"] == "sgd") * (1 - p["momentum"])
    acc -= 0.01 * abs(math.log2(p["width"] / 128)) + 0.00002 * abs(p["batch_size"] - 64) + 0.01 * (not p["dropout"])
    return float(acc + rng.normal(0, 0.005))


def build(path: str, n: int, seed: int = 0) -> None:
    import sqlalchemy

    rng = np.random.default_rng(seed)
    storage = optuna.storages.RDBStorage(f"sqlite:///{path}")
    # building only: skip fsync per trial (Optuna commits every trial); the analysis reads the file as is
    sqlalchemy.event.listen(storage.engine, "connect", lambda con, _: con.execute("PRAGMA synchronous=OFF"))
    storage.engine.dispose()
    study = optuna.create_study(storage=storage, study_name=f"bench{n}", direction="maximize")
    study.set_user_attr("hpablate.space", json.dumps(SPACE))
    study.set_user_attr("hpablate.design", "random+oat")
    trials = []
    slot = 0
    oat = [dict(BASELINE)] + [{**BASELINE, k: v} for k, vs in LEVELS.items() for v in vs if v != BASELINE[k]]
    for cfg in oat:  # a replicated one-at-a-time block with the hpablate trial record
        for rep in range(3):
            varied = [k for k in cfg if cfg[k] != BASELINE[k]]
            trials.append(optuna.trial.create_trial(
                params=cfg, distributions=DIST, value=objective(cfg, rng),
                user_attrs={"hpablate.design": "oat" if varied else "baseline", "hpablate.varied": varied,
                            "hpablate.level": cfg[varied[0]] if varied else None, "hpablate.slot": slot,
                            "hpablate.replicate": rep, "hpablate.seed": int(rng.integers(2**31))}))
        slot += 1
    while len(trials) < n:
        p = {"lr": float(np.exp(rng.uniform(math.log(1e-4), math.log(1e-1)))), "momentum": float(rng.uniform(0, 0.99)),
             "batch_size": int(rng.integers(16, 513)), "width": int(np.exp(rng.uniform(math.log(8), math.log(1024)))),
             "optimizer": ["sgd", "adam", "rmsprop"][int(rng.integers(3))], "dropout": bool(rng.integers(2))}
        p["width"] = min(max(p["width"], 8), 1024)
        if len(trials) % 50 == 7:
            trials.append(optuna.trial.create_trial(params=p, distributions=DIST, state=optuna.trial.TrialState.FAIL))
        else:
            trials.append(optuna.trial.create_trial(params=p, distributions=DIST, value=objective(p, rng)))
    study.add_trials(trials[:n])


def time_it(fn, *a, **k):
    t = time.perf_counter()
    out = fn(*a, **k)
    return time.perf_counter() - t, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--optuna-trees", type=int, default=64, help="trees of Optuna's fANOVA (small studies)")
    ap.add_argument("--optuna-trees-large", type=int, default=2, help="trees of Optuna's fANOVA at >= 5,000 trials")
    ap.add_argument("--skip-optuna", action="store_true")
    ap.add_argument("--workdir", default=None, help="keep (and reuse) the built SQLite studies here")
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    print(f"hpablate analysis speed; {os.cpu_count()} CPUs visible, affinity "
          f"{len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else '?'}; optuna {optuna.__version__}")
    rows = []
    # warm-up: imports and thread pools of both implementations, so neither timing includes them
    rng = np.random.default_rng(0)
    warm = optuna.create_study()
    for _ in range(20):
        warm.add_trial(optuna.trial.create_trial(params={"a": float(rng.random()), "b": float(rng.random())},
                                                 distributions={k: FloatDistribution(0, 1) for k in "ab"},
                                                 value=float(rng.random())))
    optuna.importance.FanovaImportanceEvaluator(n_trees=2).evaluate(warm)
    imp.fanova_importances(load(warm).params(), np.array([t.value for t in warm.trials]),
                           {k: FloatDistribution(0, 1) for k in "ab"}, n_trees=2)
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = args.workdir or tmpdir
        os.makedirs(tmp, exist_ok=True)
        for n in args.sizes:
            path = os.path.join(tmp, f"bench{n}.db")
            t_build = 0.0
            if not os.path.exists(path):
                t_build, _ = time_it(build, path, n)
            url = f"sqlite:///{path}"
            t_read, data = time_it(load, url)
            t_optuna_read, _ = time_it(lambda: optuna.load_study(study_name=f"bench{n}", storage=url).trials_dataframe())
            done = data.trials[data.trials.state == "COMPLETE"]
            order = sorted(DIST)  # Optuna's column order (intersection search space is sorted by name)
            params = data.params().loc[done.index, order]
            y = done["value_0"].to_numpy()
            dists = {k: DIST[k] for k in order}
            t_hp, table = time_it(imp.fanova_importances, params, y, dists, encoding="optuna", n_trees=64, seed=0)
            t_hp_def, _ = time_it(imp.fanova_importances, params, y, dists, n_trees=64, seed=0, pair_cell_budget=3e7)
            ours = table[table.kind == "marginal"].set_index("param")["importance"]
            row = {"n": n, "build": t_build, "read_sql": t_read, "read_optuna": t_optuna_read, "hp": t_hp,
                   "hp_default": t_hp_def, "n_pairs": int((table.kind == "pairwise").sum())}
            if not args.skip_optuna:
                trees = args.optuna_trees if n < 5000 else args.optuna_trees_large
                study = optuna.load_study(study_name=f"bench{n}", storage=url)
                t_opt, ref = time_it(optuna.importance.FanovaImportanceEvaluator(n_trees=trees, seed=1).evaluate, study)
                row.update(optuna_trees=trees, optuna=t_opt, optuna64=t_opt * 64 / trees,
                           maxdiff=max(abs(ours[k] - v) for k, v in ref.items()))
            html = os.path.join(tmp, f"report{n}.html")
            cmd = [sys.executable, "-m", "hpablate", "analyze", url, "--html", html]
            env = {**os.environ, "PYTHONPATH": os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")}
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            load_avg = os.getloadavg()[0]
            t_cli, proc = time_it(subprocess.run, cmd, capture_output=True, text=True, env=env)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if proc.returncode != 0:
                raise SystemExit(f"hpablate analyze failed: {proc.stderr}")
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            row.update(cli=t_cli, cli_cpu=cpu, load=load_avg, html_mb=os.path.getsize(html) / 1e6)
            rows.append(row)
            print(f"  built {n} trials in {t_build:.1f}s", flush=True)
    print()
    print(f"{'trials':>7} | {'hpablate fANOVA':>15} | {'Optuna fANOVA':>26} | {'speed-up':>8} | {'max |Δ| marg.':>13} | "
          f"{'read SQL':>8} | {'load+df':>8} | {'hpablate analyze':>16} | {'its CPU time':>12} | {'load avg':>8}")
    for r in rows:
        if "optuna" in r:
            label = f"{r['optuna']:.1f}s ({r['optuna_trees']} trees)"
            if r["optuna_trees"] != 64:
                label = f"{r['optuna']:.1f}s/{r['optuna_trees']}t≈{r['optuna64']:.0f}s@64"
            sp = f"{r['optuna64'] / r['hp']:.0f}x" + ("*" if r["optuna_trees"] != 64 else "")
            md = f"{r['maxdiff']:.4f}" + ("*" if r["optuna_trees"] != 64 else "")
        else:
            label, sp, md = "skipped", "", ""
        print(f"{r['n']:>7} | {r['hp']:>14.2f}s | {label:>26} | {sp:>8} | {md:>13} | {r['read_sql']:>7.2f}s | "
              f"{r['read_optuna']:>7.2f}s | {r['cli']:>15.2f}s | {r['cli_cpu']:>11.2f}s | {r['load']:>8.1f}")
    print()
    print("hpablate fANOVA: 64 trees, Optuna's encoding and forest settings, marginal + all "
          f"{rows[0]['n_pairs']} pairwise terms, every tree (no budget).")
    for r in rows:
        print(f"  {r['n']} trials: default analyze settings (log-aware encoding, pairwise cell budget 3e7): "
              f"{r['hp_default']:.2f}s; HTML {r['html_mb']:.1f} MB")
    print("* Optuna run with fewer trees: 64-tree time extrapolated linearly (its cost is per tree); the max "
          "difference then also carries the randomness of a 2-tree forest.")
    print("hpablate analyze: a fresh process (imports included) reading the SQLite file read-only and writing every "
          "table, fANOVA (marginal + pairwise), PED-ANOVA and the HTML report; 'its CPU time' = user + sys of that "
          "process (both threads), and the 1-minute load average before it, to judge a shared machine.")


if __name__ == "__main__":
    main()
