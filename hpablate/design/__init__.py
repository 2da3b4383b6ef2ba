"""Designs as plain plans, built without any sampler (like scikit-learn's ``ParameterGrid``).

A :class:`Plan` is an ordered list of :class:`Slot` s: a :class:`Config` (values of every parameter
plus its labels) in one replicate with that replicate's seed. The builders turn a search space into
a plan; :class:`hpablate.PlanSampler` serves a plan to Optuna trials.

Examples
--------
>>> import hpablate as hp
>>> space = hp.SearchSpace(hp.Float("lr", 1e-3, 1e-1, log=True, baseline=1e-2, levels=[1e-3, 1e-2, 1e-1]))
>>> plan = hp.design.one_at_a_time(space, repeats=2)
>>> [(slot.replicate, slot.config.params["lr"]) for slot in plan]
[(0, 0.01), (0, 0.001), (0, 0.1), (1, 0.01), (1, 0.001), (1, 0.1)]
"""

from hpablate.design._plan import MAX_SLOTS, Config, Plan, Slot, check_plan_size, replicate_seeds
from hpablate.design.grid import grid
from hpablate.design.morris import morris
from hpablate.design.one_at_a_time import one_at_a_time
from hpablate.design.path import PathPlan, ablation_path
from hpablate.design.shapley import shapley
from hpablate.design.sobol import sobol
from hpablate.design.structural import structural

__all__ = [
    "ablation_path",
    "MAX_SLOTS",
    "Config",
    "Plan",
    "PathPlan",
    "Slot",
    "check_plan_size",
    "grid",
    "morris",
    "one_at_a_time",
    "replicate_seeds",
    "shapley",
    "sobol",
    "structural",
]
