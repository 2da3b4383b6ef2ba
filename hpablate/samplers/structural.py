"""Structural ablation: leave one component out of the full model, or add one to the bare model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hpablate.design import Plan, structural
from hpablate.record import STRUCTURAL_MODE_ATTR
from hpablate.design.structural import StructuralMode
from hpablate.samplers._plan_sampler import PlanSampler
from hpablate.space import SearchSpace

class StructuralAblationSampler(PlanSampler):
    """Leave-one-component-out (or add-one-in) ablation over the space's ``Component`` parameters.

    Parameters
    ----------
    space : SearchSpace
        The shared search space; its :class:`~hpablate.Component` parameters are ablated.
    mode : {"leave_one_out", "add_one_in"}, default "leave_one_out"
        Remove each component from the full model, or add each to the model with all removed.
    components : sequence of str, optional
        Restrict the ablation to these components.
    repeats : int, default 3
        Replicates of each configuration.
    seed : int, default 0
        Seed the replicates' seeds derive from.
    max_retries : int, default 2
        Retries of a failed slot.

    Examples
    --------
    >>> import hpablate as hp
    >>> space = hp.SearchSpace(
    ...     hp.Float("lr", 1e-4, 1e-1, log=True, baseline=1e-2),
    ...     hp.Component("dropout", baseline=True),
    ...     hp.Component("norm", choices=["batch", "layer", "none"], baseline="batch"),
    ... )
    >>> sampler = hp.StructuralAblationSampler(space, repeats=1)
    >>> sampler.plan[["design", "varied", "level"]].values.tolist()
    [['baseline', [], None], ['structural', ['dropout'], False], ['structural', ['norm'], 'layer'], ['structural', ['norm'], 'none']]
    """

    design = "structural"

    def __init__(
        self,
        space: SearchSpace,
        mode: StructuralMode = "leave_one_out",
        components: Sequence[str] | None = None,
        *,
        repeats: int = 3,
        seed: int = 0,
        max_retries: int = 2,
    ) -> None:
        self._mode = mode
        self._components = None if components is None else list(components)
        super().__init__(space, repeats=repeats, seed=seed, max_retries=max_retries)

    @property
    def mode(self) -> str:
        return self._mode

    def _build_plan(self) -> Plan:
        return structural(self._space, self._mode, self._components, repeats=self._repeats, seed=self._seed)

    def _study_attrs(self) -> dict[str, Any]:
        return {STRUCTURAL_MODE_ATTR: self._mode}
