"""Ranking recovery: how many trials each method needs to rank the parameters right.

For each test function of :mod:`hpablate.testing` (truth: analytic Sobol indices) and for
``studies/random_forest.py`` (reference: pooled ranking of every method's largest-budget runs),
every method runs at every budget, ``--reps`` times with different seeds, through
:func:`hpablate.compare`. Designs (OAT, grid, Morris, Sobol, ablation path) are ranked against total-order
indices, Random/QMC/TPE/GP + fANOVA against first-order indices (fANOVA's marginal importance is
a main-effect share). Printed per function and method: median Kendall tau at a few budgets and
the smallest budget at which the top-k set (every truly important parameter strictly above every
other) is right in >= 80% of repetitions; then hpablate's best design vs Random+fANOVA and
TPE+fANOVA. A plotly figure (median tau and P(top-k right) vs trials) is written to ``--out``.

    python benchmarks/ranking_recovery.py --quick          # ~1 min
    python benchmarks/ranking_recovery.py                  # full: test functions + random forest
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import warnings
from pathlib import Path

import pandas as pd

import hpablate as hp
from hpablate.comparison._report import smallest_budgets, summarize
from hpablate.testing import ishigami, lr_batch_optimizer, sobol_g

DESIGNS = ("oat", "grid", "morris", "sobol", "path")
SEARCH = ("random", "qmc", "tpe")


def problems(quick: bool) -> list[tuple[str, object]]:
    out = [("ishigami+2 dummies", ishigami(n_dummy=2)), ("sobol_g (8-d)", sobol_g()),
           ("lr/batch/optimizer", lr_batch_optimizer())]
    if not quick:
        out.append(("lr/batch/optimizer, noise sd 0.5", lr_batch_optimizer(noise_sd=0.5)))
    return out


def run_problem(label: str, objective, space, truth, direction: str, plan: dict[str, list[int]], reps: int,
                seed: int, n_jobs: int) -> pd.DataFrame:
    """Every method at its budgets through hp.compare; one row per method x budget x rep."""
    parts = []
    for method, budgets in plan.items():
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = hp.compare(objective, space, budgets, [method], repeats=reps, truth=truth, direction=direction,
                           seed=seed, n_jobs=n_jobs)
        res = r.results.assign(problem=label)
        parts.append(res)
        print(f"  {label:34s} {method:7s} {time.perf_counter() - t0:7.1f} s", file=sys.stderr, flush=True)
    return pd.concat(parts, ignore_index=True)


def pooled(results: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Re-rank a problem's runs against the pooled reference of every method's largest budget."""
    from hpablate.comparison import _pooled_reference, _report

    recs = results.drop(columns=["reference", "k", "kendall_tau", "top_k_agreement", "top_k_correct", "ranking",
                                 "problem"]).to_dict(orient="records")
    space = hp.SearchSpace(*[hp.Float(n, 0, 1) for n in names])  # only the names matter here
    ref = {"pooled": _pooled_reference(recs, space)}
    rep = _report(recs, ref, space, None, 0.8, "maximize", list(dict.fromkeys(results["method"])))
    print("  pooled reference: " + ", ".join(f"{n} {v:.3f}" for n, v in ref["pooled"].items()), file=sys.stderr)
    return rep.results.assign(problem=results["problem"].iloc[0]), ref["pooled"]


def table(results: pd.DataFrame, show: list[int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, summaries = [], []
    for problem, g in results.groupby("problem", sort=False):
        s = summarize(g)
        sb = smallest_budgets(s, 0.8).set_index("method")
        summaries.append(s.assign(problem=problem))
        for method, gm in s.groupby("method", sort=False):
            row = {"problem": problem, "method": method, "ranked vs": gm["reference"].iloc[0], "k": int(gm["k"].iloc[0])}
            for b in show:
                hit = gm[gm["budget"] == b]
                row[f"tau@{b}"] = "" if hit.empty or math.isnan(hit["kendall_tau"].iloc[0]) else f"{hit['kendall_tau'].iloc[0]:.2f}"
            last = gm.sort_values("budget").iloc[-1]
            row["tau@largest"] = f"{last['kendall_tau']:.2f} ({int(last['budget'])})"
            nb = sb.loc[method, "n_trials"]
            row["trials for P>=0.8"] = "never" if math.isnan(nb) else str(int(nb))
            rows.append(row)
    return pd.DataFrame(rows), pd.concat(summaries, ignore_index=True)


def ratios(summary: pd.DataFrame) -> pd.DataFrame:
    """hpablate's best design vs random/TPE + fANOVA: trials needed for P(top-k right) >= 0.8."""
    rows = []
    for problem, g in summary.groupby("problem", sort=False):
        sb = smallest_budgets(g, 0.8).set_index("method")["n_trials"]
        designs = {m: sb[m] for m in DESIGNS if m in sb and not math.isnan(sb[m])}
        best = min(designs, key=lambda m: (designs[m], ("morris", "sobol", "grid", "path", "oat").index(m))) if designs else None
        row = {"problem": problem, "best design": best or "none",
               "its trials": "never" if best is None else int(designs[best])}
        for m in ("random", "tpe", "qmc", "gp"):
            if m not in sb:
                continue
            v = sb[m]
            row[f"{m}+fANOVA trials"] = "never" if math.isnan(v) else int(v)
            if best is not None and not math.isnan(v):
                row[f"design/{m}"] = f"{designs[best] / v:.2f}"
            elif best is not None:
                row[f"design/{m}"] = f"< {designs[best] / g[g['method'] == m]['n_trials'].max():.2f}"
            else:
                row[f"design/{m}"] = "—"
        rows.append(row)
    return pd.DataFrame(rows)


def figure(summary: pd.DataFrame, path: Path) -> None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    probs = list(dict.fromkeys(summary["problem"]))
    fig = make_subplots(rows=2, cols=len(probs), subplot_titles=[*probs, *[""] * len(probs)],
                        shared_xaxes=True, vertical_spacing=0.08)
    colors = {"path": "#bcbd22", "sobol": "#9467bd", "oat": "#7f7f7f", "grid": "#8c564b", "morris": "#d62728", "random": "#1f77b4", "qmc": "#17becf",
              "tpe": "#ff7f0e", "gp": "#2ca02c"}
    for j, p in enumerate(probs, start=1):
        g = summary[summary["problem"] == p]
        for m, gm in g.groupby("method", sort=False):
            gm = gm[gm["n_trials"] > 0].sort_values("n_trials")
            kw = dict(mode="lines+markers", name=m, legendgroup=m, line={"color": colors.get(m)},
                      showlegend=(j == 1))
            fig.add_trace(go.Scatter(x=gm["n_trials"], y=gm["kendall_tau"], **kw), row=1, col=j)
            fig.add_trace(go.Scatter(x=gm["n_trials"], y=gm["p_correct"], **{**kw, "showlegend": False}), row=2, col=j)
        fig.update_xaxes(type="log", title_text="trials", row=2, col=j)
    fig.update_yaxes(title_text="median Kendall tau", range=[-0.6, 1.05], row=1, col=1)
    fig.update_yaxes(title_text="P(top-k set right)", range=[-0.05, 1.05], row=2, col=1)
    fig.update_layout(height=700, width=420 * len(probs),
                      title="Ranking recovery: designs (vs total-order) and search+fANOVA (vs first-order)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.write_html(str(path), include_plotlyjs=True)


def fixes(reps: int, seed: int) -> None:
    """OAT's blind spot fixed by a grid crossing the interacting pair (printed, not plotted)."""
    cases = [(lr_batch_optimizer(), [("lr", "dropout"), ("batch_size", "optimizer")]),
             (ishigami(n_dummy=2), [("x1", "x3"), ("x2", "x4")])]
    for f, groups in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = hp.compare(f.objective, f.space, [20, 50, 100, 200], ["grid"], repeats=reps, truth=f,
                           grid_groups=groups, seed=seed, n_jobs=1)
        print(f"\n{f.name}: grid with grid_groups={groups}")
        print(r.table().to_string(index=False))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="few budgets, 5 reps, no GP, no random forest")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--budgets", default=None, help="comma-separated (default 20..1000)")
    ap.add_argument("--gp-budgets", default="20,30,50", help="GP budgets, on the G-function only ('' = no GP)")
    ap.add_argument("--rf-budgets", default="20,40", help="random-forest study budgets ('' = skip it)")
    ap.add_argument("--rf-methods", default="oat,morris,random")
    ap.add_argument("--n-jobs", type=int, default=1, help="fANOVA threads (default 1)")
    ap.add_argument("--fixes", action="store_true", help="only the grid-groups fix of OAT's blind spot")
    ap.add_argument("--out", default="benchmarks/out/ranking_recovery.html")
    ap.add_argument("--csv", default="benchmarks/out/ranking_recovery.csv")
    a = ap.parse_args(argv)
    if a.budgets:
        budgets = [int(x) for x in a.budgets.split(",")]
    else:
        budgets = [20, 50, 100, 200] if a.quick else [20, 30, 50, 70, 100, 150, 200, 300, 500, 700, 1000]
    t_all = time.perf_counter()
    if a.fixes:
        fixes(a.reps, a.seed)
        return 0
    parts = []
    for label, f in problems(a.quick):
        plan = {m: budgets for m in (*DESIGNS, *SEARCH)}
        if label.startswith("sobol_g") and a.gp_budgets and not a.quick:
            plan["gp"] = [int(x) for x in a.gp_budgets.split(",")]
        parts.append(run_problem(label, f.objective, f.space, f, f.direction, plan, a.reps, a.seed, a.n_jobs))
    if a.rf_budgets and not a.quick:
        os.environ["HPABLATE_QUICK"] = "1"  # 3-fold CV: the study's own quick mode
        from hpablate.cli._run import load_study_file

        sf = load_study_file(Path(__file__).resolve().parent.parent / "studies" / "random_forest.py")
        rf_b = [int(x) for x in a.rf_budgets.split(",")]
        plan = {m: rf_b for m in a.rf_methods.split(",")}
        raw = run_problem("random_forest (quick, 3-fold)", sf.objective, sf.space, None, sf.directions[0], plan,
                          a.reps, a.seed, a.n_jobs)
        res, _ = pooled(raw, sf.space.names)
        parts.append(res)
    results = pd.concat(parts, ignore_index=True)
    show = [b for b in (20, 50, 100, 200, 500, 1000) if b in budgets] or budgets[:4]
    t, summary = table(results, show)
    pd.set_option("display.width", 250)
    print(t.to_string(index=False))
    print()
    print(ratios(summary).to_string(index=False))
    print(f"\n{a.reps} repetitions; total {time.perf_counter() - t_all:.0f} s")
    figure(summary, Path(a.out))
    Path(a.csv).parent.mkdir(parents=True, exist_ok=True)
    summary.to_csv(a.csv, index=False)
    print(f"wrote {a.out} and {a.csv}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
