"""Compare ablation designs with search + fANOVA: which ranks the parameters right, for how many trials.

:func:`compare` runs every method at every budget on the same objective and space, derives each
method's importance ranking and best value, and measures the ranking's agreement with the truth
(analytic Sobol indices of :mod:`hpablate.testing` functions, or any reference you give) or, with
no truth, with the pooled ranking of every method's largest-budget runs.

Which reference a method is ranked against depends on what its importance estimates: the
screening designs (``oat``, ``grid``, ``morris``) against **total-order** indices, search +
fANOVA (``random``, ``tpe``, ``gp``, ``qmc``) against **first-order** indices (fANOVA's marginal
importance is a main-effect variance fraction).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import optuna
import pandas as pd

from hpablate.comparison._designs import (
    ESTIMAND,
    IMPORTANCE_LABEL,
    METHODS,
    SEQUENTIAL_METHODS,
    method_seed,
    plan_for_budget,
    sequential_sampler,
)
from hpablate.comparison._importance import best_value, compute_seconds, importances, method_input
from hpablate.comparison._metrics import important_count, kendall_tau, ranking_text, top_k_agreement
from hpablate.comparison._report import REFERENCE_LABEL, ComparisonReport, smallest_budgets, summarize
from hpablate.errors import SpaceError, UnknownParameterError
from hpablate.space import SearchSpace

__all__ = ["METHODS", "ComparisonReport", "compare", "kendall_tau", "important_count", "top_k_agreement"]

Objective = Callable[[optuna.Trial], float]


def compare(
    objective: Objective,
    space: SearchSpace,
    budgets: Sequence[int] = (50, 100, 200, 400),
    methods: Sequence[str] = ("oat", "morris", "grid", "random", "tpe", "gp"),
    *,
    repeats: int = 3,
    storage: str | Any | None = None,
    study_prefix: str = "hpablate-compare",
    direction: str = "minimize",
    truth: Any = None,
    top_k: int | None = None,
    seed: int = 0,
    grid_groups: Sequence[Sequence[str]] | None = None,
    threshold: float = 0.8,
    n_trees: int = 64,
    n_jobs: int | None = None,
    verbose: bool = False,
    path_target: Mapping[str, Any] | None = None,
) -> ComparisonReport:
    """Run (or resume) every method at every budget and measure how well each ranks the parameters.

    Parameters
    ----------
    objective : callable
        ``objective(trial) -> float`` using ``space.suggest(trial)`` (and
        :func:`hpablate.trial_seed` for its randomness). Must be picklable only if you run
        workers yourself; here studies run in this process.
    space : SearchSpace
        The shared search space.
    budgets : sequence of int
        Trial budgets. A plan method uses at most the budget (see :mod:`hpablate.comparison._designs`
        for how: OAT/grid repeats and levels, Morris ``r = (B - 1) // (k + 1)`` trajectories);
        Random/TPE/GP/QMC run the largest budget once per repetition and every smaller budget is
        the first B trials of that run.
    methods : sequence of str
        Any of ``oat``, ``grid``, ``morris``, ``sobol``, ``shapley`` (spaces with components),
        ``path``, ``random``, ``tpe``, ``gp``, ``qmc``.
    repeats : int
        Independent repetitions (different seeds) of every method x budget.
    storage : str or optuna storage, optional
        Default: in memory. With a storage, studies are named
        ``f"{study_prefix}-{method}-{budget}-r{rep}"`` (plan methods) and
        ``f"{study_prefix}-{method}-r{rep}"`` (sequential methods), and a second call resumes them:
        finished plans run nothing, sequential studies only add missing trials.
    direction : {"minimize", "maximize"}
        Direction of the objective (for the best value).
    truth : optional
        ``None``: rank against the pooled ranking of every method's largest-budget runs. A
        mapping ``{param: importance}``: one reference for every method. A mapping with keys
        ``"first_order"`` and ``"total_order"`` (each ``{param: index}``), or an object with those
        attributes (a :class:`hpablate.testing.SensitivityFunction`): screening designs are
        ranked against total-order, fANOVA methods against first-order indices.
    top_k : int, optional
        Number of truly important parameters. Default: cut each reference at the largest ratio
        between consecutive sorted values (:func:`important_count`).
    seed : int
        Base seed; every (method, repetition) gets its own seed derived from it.
    grid_groups : sequence of sequence of str, optional
        Groups crossed by the grid design (parameters in none get a group of their own). Default:
        consecutive pairs of the space's parameters.
    threshold : float
        ``smallest_budget`` reports the first budget whose share of repetitions with the top-k
        set right reaches this.
    n_trees, n_jobs
        fANOVA forest size and threads.
    verbose : bool
        Print one line per run to stderr.
    path_target : mapping, optional
        Target of the ``path`` method (default: :func:`~hpablate.comparison._designs.far_target`,
        every parameter at the end of its range farther from its baseline).

    Returns
    -------
    ComparisonReport

    Examples
    --------
    >>> import hpablate as hp
    >>> from hpablate.testing import ishigami
    >>> f = ishigami(n_dummy=1)
    >>> report = hp.compare(f.objective, f.space, budgets=[30], methods=["oat", "morris"],
    ...                     repeats=1, truth=f)
    >>> report.summary[["method", "n_trials", "reference"]].values.tolist()
    [['oat', 17.0, 'total'], ['morris', 26.0, 'total']]
    """
    methods = _check_methods(methods)
    budgets = _check_budgets(budgets)
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if direction not in ("minimize", "maximize"):
        raise ValueError(f"direction must be 'minimize' or 'maximize', got {direction!r}")
    references = _references(truth, space)
    records: list[dict[str, Any]] = []
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        for rep in range(repeats):
            for method in methods:
                s = method_seed(seed, method, rep)
                if method in SEQUENTIAL_METHODS:
                    records += _run_sequential(objective, space, method, budgets, rep, s, storage, study_prefix,
                                               direction, n_trees, n_jobs, verbose)
                else:
                    for budget in budgets:
                        records.append(_run_plan(objective, space, method, budget, rep, s, storage, study_prefix,
                                                 direction, grid_groups, n_trees, n_jobs, verbose,
                                                 None if path_target is None else dict(path_target)))
    finally:
        optuna.logging.set_verbosity(verbosity)
    if references is None:
        references = {"pooled": _pooled_reference(records, space)}
    return _report(records, references, space, top_k, threshold, direction, methods)


def _run_plan(objective: Objective, space: SearchSpace, method: str, budget: int, rep: int, seed: int,
              storage: Any, prefix: str, direction: str,
              grid_groups: Sequence[Sequence[str]] | None, n_trees: int, n_jobs: int | None,
              verbose: bool, path_target: dict[str, Any] | None = None) -> dict[str, Any]:
    from hpablate.runner import create_study, run

    choice = plan_for_budget(method, space, budget, seed, grid_groups, path_target)
    rec = _empty(method, budget, rep, choice.spend)
    if choice.sampler is None:
        return rec
    name = f"{prefix}-{method}-{budget}-r{rep}" if storage is not None else None
    study = create_study(choice.space, choice.sampler, storage=storage, study_name=name, direction=direction)
    run(study, objective)
    trials = study.get_trials(deepcopy=False)
    return _measure(rec, method, trials, study.user_attrs, space, direction, choice.groups, n_trees, seed, n_jobs,
                    verbose)


def _run_sequential(objective: Objective, space: SearchSpace, method: str, budgets: list[int], rep: int,
                    seed: int, storage: Any, prefix: str, direction: str, n_trees: int,
                    n_jobs: int | None, verbose: bool) -> list[dict[str, Any]]:
    from hpablate.runner import create_study, run

    name = f"{prefix}-{method}-r{rep}" if storage is not None else None
    study = create_study(space, sequential_sampler(method, seed), storage=storage, study_name=name,
                         direction=direction)
    target = max(budgets)
    if len(study.get_trials(deepcopy=False)) < target:
        run(study, objective, n_trials=target)
    trials = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
    out = []
    for budget in budgets:
        rec = _empty(method, budget, rep, f"first {budget} trials of one {target}-trial run")
        out.append(_measure(rec, method, trials[:budget], study.user_attrs, space, direction, None, n_trees, seed,
                            n_jobs, verbose))
    return out


def _empty(method: str, budget: int, rep: int, spend: str) -> dict[str, Any]:
    return {"method": method, "budget": int(budget), "rep": int(rep), "n_trials": 0, "n_complete": 0,
            "spend": spend, "importance": IMPORTANCE_LABEL[method], "best_value": math.nan,
            "compute_s": 0.0, "analysis_s": 0.0, "importances": None}


def _measure(rec: dict[str, Any], method: str, trials: Sequence[Any], user_attrs: dict[str, Any],
             space: SearchSpace, direction: str, groups: list[list[str]] | None, n_trees: int, seed: int,
             n_jobs: int | None, verbose: bool) -> dict[str, Any]:
    start = time.perf_counter()
    inp = method_input(trials, user_attrs, direction, space)
    imp = importances(method, inp, space, groups=groups, n_trees=n_trees, seed=seed, n_jobs=n_jobs)
    rec.update(n_trials=len(trials), n_complete=0 if inp is None else len(inp.y), best_value=best_value(inp),
               compute_s=compute_seconds(trials), analysis_s=time.perf_counter() - start, importances=imp)
    if verbose:
        print(f"compare: {method:7s} budget {rec['budget']:5d} rep {rec['rep']}: {len(trials)} trials, "
              f"best {rec['best_value']:.4g}, ranking {ranking_text(imp)}", file=sys.stderr)
    return rec


def _references(truth: Any, space: SearchSpace) -> dict[str, dict[str, float]] | None:
    if truth is None:
        return None
    if hasattr(truth, "first_order") and hasattr(truth, "total_order"):
        pair = {"first": truth.first_order, "total": truth.total_order}
    elif isinstance(truth, Mapping) and ({"first_order", "total_order"} <= set(truth) or {"first", "total"} <= set(truth)):
        pair = {"first": truth.get("first_order", truth.get("first")),
                "total": truth.get("total_order", truth.get("total"))}
    elif isinstance(truth, (Mapping, pd.Series)):
        pair = {"given": dict(truth)}
    else:
        raise SpaceError(f"truth must be None, a mapping param -> importance, or have first_order/total_order; "
                         f"got {type(truth).__name__}")
    out = {}
    for key, ref in pair.items():
        ref = {str(k): float(v) for k, v in dict(ref).items()}
        unknown = [n for n in ref if n not in space]
        if unknown:
            raise UnknownParameterError(f"truth names parameters the space lacks: {unknown}; the space has {space.names}")
        missing = [n for n in space.names if n not in ref]
        if missing:
            raise SpaceError(f"truth lacks parameters of the space: {missing}")
        out[key] = {n: ref[n] for n in space.names}
    return out


def _pooled_reference(records: list[dict[str, Any]], space: SearchSpace) -> dict[str, float]:
    """Mean over methods of each method's mean normalised importances at its largest budget."""
    per_method = []
    for method in dict.fromkeys(r["method"] for r in records):
        runs = [r for r in records if r["method"] == method and r["importances"] is not None]
        if not runs:
            continue
        top = max(r["budget"] for r in runs)
        vecs = []
        for r in runs:
            if r["budget"] != top:
                continue
            v = np.array([r["importances"].get(n, math.nan) for n in space.names], dtype=float)
            v = np.nan_to_num(np.abs(v))
            if v.sum() > 0:
                vecs.append(v / v.sum())
        if vecs:
            per_method.append(np.mean(vecs, axis=0))
    if not per_method:
        return {n: math.nan for n in space.names}
    pooled = np.mean(per_method, axis=0)
    return {n: float(pooled[i]) for i, n in enumerate(space.names)}


def _report(records: list[dict[str, Any]], references: dict[str, dict[str, float]], space: SearchSpace,
            top_k: int | None, threshold: float, direction: str, methods: list[str]) -> ComparisonReport:
    ks = {key: (int(top_k) if top_k is not None else important_count(ref)) for key, ref in references.items()}
    names = space.names
    rows = []
    for r in records:
        key = ESTIMAND[r["method"]] if {"first", "total"} <= set(references) else next(iter(references))
        ref = references[key]
        imp = r["importances"]
        row = {k: v for k, v in r.items() if k != "importances"}
        row.update(reference=key, k=ks[key])
        if imp is None:
            row.update(kendall_tau=math.nan, top_k_agreement=math.nan, top_k_correct=False, ranking="")
        else:
            est = {n: (-1.0 if imp.get(n) is None or math.isnan(imp[n]) else float(imp[n])) for n in names}
            agree = top_k_agreement(est, ref, ks[key])
            row.update(kendall_tau=kendall_tau([est[n] for n in names], [ref[n] for n in names]),
                       top_k_agreement=agree, top_k_correct=bool(agree == 1.0), ranking=ranking_text(est))
        row["importances"] = imp
        rows.append(row)
    results = pd.DataFrame(rows)
    summary = summarize(results)
    reference = pd.DataFrame(references)
    reference.index.name = "param"
    reference.attrs["k"] = ks
    notes = _notes(references, methods)
    return ComparisonReport(results, summary, reference, smallest_budgets(summary, threshold), direction,
                            threshold, notes)


def _notes(references: dict[str, dict[str, float]], methods: list[str]) -> list[str]:
    notes = []
    if {"first", "total"} <= set(references):
        notes.append("Designs (oat, grid, morris, sobol) are ranked against total-order Sobol indices; "
                     "search + fANOVA (random, tpe, gp, qmc) against first-order indices, which is what "
                     "fANOVA's marginal importance estimates.")
    else:
        notes.append(f"Every method is ranked against one reference: {REFERENCE_LABEL[next(iter(references))]}.")
    notes.append("top-k agreement: share of the reference's k most important parameters among the method's k "
                 "highest (ties broken against the method); P(top-k right): share of repetitions in which every "
                 "truly important parameter ranks strictly above every other one.")
    if "oat" in methods:
        notes.append("OAT effects are local, at the baseline: a parameter that acts only through an interaction "
                     "with parameters held at their baseline shows no effect (e.g. Ishigami's x3 from the centre). "
                     "Morris trajectories or a grid over the interacting pair find it.")
    if set(methods) & set(SEQUENTIAL_METHODS):
        notes.append("Random/TPE/GP/QMC: each repetition runs the largest budget once; a smaller budget B is the "
                     "first B trials of that run (what a B-trial run with the same seed would have done).")
    notes.append("best value: best objective among the method's trials (a design's trials are not an optimiser's); "
                 "time: summed wall time of the trials, sampling included; analysis time is in `results`.")
    return notes


def _check_methods(methods: Sequence[str]) -> list[str]:
    if isinstance(methods, str):
        methods = [m.strip() for m in methods.split(",") if m.strip()]
    out = []
    for m in methods:
        m = str(m).lower()
        if m not in METHODS:
            raise SpaceError(f"unknown method {m!r}; choose from {', '.join(METHODS)}")
        if m not in out:
            out.append(m)
    if not out:
        raise SpaceError("methods must name at least one method")
    return out


def _check_budgets(budgets: Sequence[int]) -> list[int]:
    if isinstance(budgets, int):
        budgets = [budgets]
    out = sorted({int(b) for b in budgets})
    if not out or out[0] < 2:
        raise SpaceError(f"budgets must be integers >= 2, got {list(budgets)}")
    return out
