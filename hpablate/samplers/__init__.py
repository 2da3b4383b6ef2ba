"""Every ablation design is an Optuna sampler over the shared search space."""

from hpablate.samplers._plan_sampler import PlanExhausted, PlanSampler, PlanStatus
from hpablate.samplers.grid import GridCombinationSampler
from hpablate.samplers.morris import MorrisSampler
from hpablate.samplers.one_at_a_time import OneAtATimeSampler
from hpablate.samplers.path import AblationPathSampler
from hpablate.samplers.shapley import ShapleyAblationSampler
from hpablate.samplers.sobol import SobolSampler
from hpablate.samplers.structural import StructuralAblationSampler

__all__ = [
    "AblationPathSampler",
    "GridCombinationSampler",
    "MorrisSampler",
    "OneAtATimeSampler",
    "PlanExhausted",
    "PlanSampler",
    "PlanStatus",
    "ShapleyAblationSampler",
    "SobolSampler",
    "StructuralAblationSampler",
]
