"""How each method spends a budget of B trials.

* ``oat``: the space's own levels, ``repeats = B // n_configs`` (a plan of ``1 + Σ (levels - 1)``
  configurations); when one replicate does not fit, numeric parameters drop to three levels
  (low end, baseline, high end), then to two (baseline and the farther end).
* ``grid``: full factorials of consecutive pairs of parameters (or the given groups, every
  parameter not in one added as a group of its own), with the same level ladder and repeats.
* ``morris``: ``r = (B - 1) // (k + 1)`` trajectories of 4 levels (the plan's extra slot is
  the baseline), one replicate.
* ``sobol``: ``n = B // (k + 2)`` Saltelli base points (at least 2), one replicate.
* ``shapley``: every on/off subset of the space's components (``2^c``; above 1,024, sampled
  orders), ``repeats = B // subsets``; the other parameters stay at their baselines.
* ``path``: the ablation path from the baseline to :func:`far_target` (each parameter at the end of
  its range farther from its baseline, each component switched), ``repeats = B // (1 + m(m+1)/2)``.
* ``random``, ``tpe``, ``gp``, ``qmc``: B trials of Optuna's sampler; the run for the largest
  budget is shared by every budget (its first B trials are exactly a B-trial run with the same
  seed, since these samplers only look at earlier trials).

Every plan uses at most B trials; a budget too small for one replicate gives no plan.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna

from hpablate.design.path import path_moves, round_sizes
from hpablate.samplers import (
    AblationPathSampler,
    GridCombinationSampler,
    MorrisSampler,
    OneAtATimeSampler,
    PlanSampler,
    ShapleyAblationSampler,
    SobolSampler,
)
from hpablate.space import Categorical, Component, Float, Int, SearchSpace, same_value

PLAN_METHODS = ("oat", "grid", "morris", "sobol", "shapley", "path")
SEQUENTIAL_METHODS = ("random", "tpe", "gp", "qmc")
#: Every method; the order fixes each method's seed (:func:`method_seed`): new methods go last.
METHODS = ("oat", "grid", "morris", "sobol", *SEQUENTIAL_METHODS, "shapley", "path")

#: What each method's importance estimates, and so which reference it is ranked against.
ESTIMAND = {
    "oat": "total",  # |effect| from the baseline: local, screening
    "grid": "total",  # variance along each axis of its factorial: screening
    "morris": "total",  # mu*: screening proxy for the total-order index
    "sobol": "total",  # ST_i: the total-order index itself
    "shapley": "total",  # |Shapley value| of a component: its average marginal contribution
    "path": "total",  # |gain| of the path step that flips the parameter: local, order-dependent
    "random": "first",  # fANOVA marginal: first-order (main effect)
    "tpe": "first",
    "gp": "first",
    "qmc": "first",
}
IMPORTANCE_LABEL = {
    "oat": "max |OAT delta| from the baseline",
    "grid": "mean variance along the parameter's axis of its grid group",
    "morris": "Morris mu*",
    "sobol": "Sobol total-order index ST",
    "shapley": "|Shapley value| (components only)",
    "path": "|gain| of the parameter's ablation-path step",
    "random": "fANOVA marginal (first-order)",
    "tpe": "fANOVA marginal (first-order)",
    "gp": "fANOVA marginal (first-order)",
    "qmc": "fANOVA marginal (first-order)",
}
MORRIS_LEVELS = 4


@dataclass
class DesignChoice:
    """The plan a method runs for one budget.

    Attributes
    ----------
    sampler : PlanSampler or None
        None when the budget is too small for one replicate.
    n_trials : int
        Trials the plan runs (``<=`` the budget).
    spend : str
        Human description, e.g. ``"33 configs x 3 repeats"``.
    space : SearchSpace
        The space the plan was built on (levels possibly reduced).
    groups : list of list of str
        Grid groups (grid only).
    """

    sampler: PlanSampler | None
    n_trials: int
    spend: str
    space: SearchSpace
    groups: list[list[str]] | None = None


def with_levels(space: SearchSpace, n_levels: int | None) -> SearchSpace:
    """``space`` with numeric parameters reduced to ``n_levels`` levels (None: unchanged).

    3 levels: low end, baseline, high end; 2 levels: baseline and the end farther from it in
    the unit scale. Categorical parameters and components keep their levels.
    """
    if n_levels is None:
        return space
    params = []
    for p in space:
        if isinstance(p, (Float, Int)):
            ends = [p.from_unit(0.0), p.from_unit(1.0)]
            if n_levels == 2:
                u = p.to_unit(p.baseline)
                ends = [ends[1] if u < 0.5 else ends[0]]
            levels = [*ends, p.baseline]
            cls = Float if isinstance(p, Float) else Int
            kwargs = {"log": p.log, "baseline": p.baseline, "levels": levels}
            if p.step is not None and not (cls is Int and p.step == 1 and p.log):
                kwargs["step"] = p.step
            params.append(cls(p.name, p.low, p.high, **kwargs))
        else:
            params.append(p)
    return SearchSpace(*params)


def default_groups(space: SearchSpace, groups: Sequence[Sequence[str]] | None = None) -> list[list[str]]:
    """Grid groups covering every parameter: the given ones plus singletons, or consecutive pairs."""
    names = space.names
    if groups:
        out = [space.check_names(list(g)) for g in groups]
        covered = {n for g in out for n in g}
        return out + [[n] for n in names if n not in covered]
    return [names[i:i + 2] for i in range(0, len(names), 2)]


def plan_for_budget(
    method: str,
    space: SearchSpace,
    budget: int,
    seed: int,
    groups: Sequence[Sequence[str]] | None = None,
    path_target: dict[str, Any] | None = None,
) -> DesignChoice:
    """The plan of a plan method (:data:`PLAN_METHODS`) that fits ``budget`` trials."""
    if method == "morris":
        k = len(space)
        r = (budget - 1) // (k + 1)
        if r < 1:
            return DesignChoice(None, 0, f"too small: Morris needs {k + 2} trials", space)
        s = MorrisSampler(space, trajectories=r, levels=MORRIS_LEVELS, seed=seed)
        return DesignChoice(s, s.n_slots, f"1 baseline + {r} trajectories x {k + 1}", space)
    if method == "sobol":
        k = len(space)
        n = budget // (k + 2)
        if n < 2:
            return DesignChoice(None, 0, f"too small: Sobol needs {2 * (k + 2)} trials", space)
        s = SobolSampler(space, n=n, seed=seed)
        return DesignChoice(s, s.n_slots, f"{n} base points x {k + 2}", space)
    if method == "shapley":
        return _shapley_for_budget(space, budget, seed)
    if method == "path":
        return _path_for_budget(space, budget, seed, path_target)
    if method not in ("oat", "grid"):
        raise ValueError(f"{method!r} is not a plan method; choose from {PLAN_METHODS}")
    grid_groups = default_groups(space, groups) if method == "grid" else None
    for n_levels in (None, 3, 2):
        sub = with_levels(space, n_levels)
        one = _sampler(method, sub, 1, seed, grid_groups)
        if one.n_slots <= budget:
            repeats = budget // one.n_slots
            s = _sampler(method, sub, repeats, seed, grid_groups)
            what = "space levels" if n_levels is None else f"{n_levels} levels per number"
            return DesignChoice(s, s.n_slots, f"{one.n_slots} configs ({what}) x {repeats} repeats", sub, grid_groups)
    return DesignChoice(None, 0, f"too small: one replicate needs {one.n_slots} trials", space, grid_groups)


def _shapley_for_budget(space: SearchSpace, budget: int, seed: int) -> DesignChoice:
    if not space.components:
        return DesignChoice(None, 0, "not applicable: the space has no components", space)
    one = ShapleyAblationSampler(space, repeats=1, seed=seed)
    repeats = budget // one.n_slots
    if repeats < 1:
        return DesignChoice(None, 0, f"too small: one replicate needs {one.n_slots} trials", space)
    s = ShapleyAblationSampler(space, repeats=repeats, seed=seed)
    return DesignChoice(s, s.n_slots, f"{one.n_slots} subsets x {repeats} repeats", space)


def far_target(space: SearchSpace) -> dict[str, Any]:
    """Every parameter at the end of its range farther from its baseline (unit scale), every
    categorical at its first other choice, every component at its ablated value.

    Examples
    --------
    >>> space = SearchSpace(Float("x", 0.0, 1.0, baseline=0.2), Component("dropout", baseline=True))
    >>> far_target(space)
    {'x': 1.0, 'dropout': False}
    """
    target: dict[str, Any] = {}
    for p in space:
        if isinstance(p, Component) and not same_value(p.baseline, p.off):
            target[p.name] = p.off
        elif isinstance(p, Categorical):
            target[p.name] = next((c for c in p.levels if c != p.baseline), p.baseline)
        else:
            target[p.name] = p.from_unit(0.0 if p.to_unit(p.baseline) >= 0.5 else 1.0)
    return target


def _path_for_budget(space: SearchSpace, budget: int, seed: int, target: dict[str, Any] | None) -> DesignChoice:
    target = far_target(space) if target is None else target
    per_replicate = sum(round_sizes(len(path_moves(space, target))))
    repeats = budget // per_replicate
    if repeats < 1:
        return DesignChoice(None, 0, f"too small: one replicate needs {per_replicate} trials", space)
    s = AblationPathSampler(space, target=target, repeats=repeats, seed=seed)
    return DesignChoice(s, s.n_slots, f"{per_replicate} path configs x {repeats} repeats", space)


def _sampler(method: str, space: SearchSpace, repeats: int, seed: int,
             groups: list[list[str]] | None) -> PlanSampler:
    if method == "oat":
        return OneAtATimeSampler(space, repeats=repeats, seed=seed)
    return GridCombinationSampler(space, groups=groups, repeats=repeats, seed=seed)


def sequential_sampler(method: str, seed: int) -> optuna.samplers.BaseSampler:
    """Optuna's sampler for ``random``, ``tpe``, ``gp`` or ``qmc`` (scrambled Sobol), seeded."""
    if method == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if method == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if method == "gp":
        return optuna.samplers.GPSampler(seed=seed, warn_independent_sampling=False)
    if method == "qmc":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.QMCSampler(scramble=True, seed=seed, warn_independent_sampling=False,
                                              warn_asynchronous_seeding=False)
    raise ValueError(f"{method!r} is not a sequential method; choose from {SEQUENTIAL_METHODS}")


def method_seed(seed: int, method: str, rep: int) -> int:
    """Seed of one (method, repetition) run: distinct per repetition, stable across calls."""
    return int(np.random.SeedSequence([seed, METHODS.index(method), rep]).generate_state(1)[0] & 0x7FFFFFFF)
