"""hpablate: hyperparameter ablation and sensitivity studies as Optuna samplers.

The public API is re-exported here. Analysis and comparison are imported lazily so that
``import hpablate`` (and the CLI) stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from hpablate.errors import (
    DistributionMismatchError,
    HpablateError,
    InactiveParameterError,
    PlanMismatchError,
    SpaceError,
    UnknownParameterError,
)
from hpablate import design
from hpablate.design import Plan, Slot
from hpablate.runner import RunSummary, create_study, run, trial_seed
from hpablate.samplers import (
    AblationPathSampler,
    GridCombinationSampler,
    MorrisSampler,
    OneAtATimeSampler,
    PlanSampler,
    ShapleyAblationSampler,
    SobolSampler,
    StructuralAblationSampler,
)
from hpablate.space import Categorical, Component, Float, Int, SearchSpace

__version__ = "0.1.0"

_LAZY = {
    "analyze": "hpablate.analysis",
    "AnalysisReport": "hpablate.analysis",
    "analyze_objectives": "hpablate.analysis",
    "ObjectivesReport": "hpablate.analysis",
    "seeds_needed": "hpablate.analysis",
    "compare": "hpablate.comparison",
    "ComparisonReport": "hpablate.comparison",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hpablate' has no attribute {name!r}")


__all__ = [
    "AblationPathSampler",
    "AnalysisReport",
    "Categorical",
    "ComparisonReport",
    "Component",
    "DistributionMismatchError",
    "Float",
    "GridCombinationSampler",
    "HpablateError",
    "InactiveParameterError",
    "Int",
    "MorrisSampler",
    "OneAtATimeSampler",
    "Plan",
    "RunSummary",
    "PlanMismatchError",
    "PlanSampler",
    "SearchSpace",
    "ShapleyAblationSampler",
    "SobolSampler",
    "Slot",
    "SpaceError",
    "StructuralAblationSampler",
    "UnknownParameterError",
    "analyze",
    "analyze_objectives",
    "ObjectivesReport",
    "compare",
    "create_study",
    "design",
    "run",
    "seeds_needed",
    "trial_seed",
    "__version__",
]
