"""Grid-combination design: a full factorial over each group of parameters, the rest at baseline."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hpablate.design import Plan, grid
from hpablate.record import GRID_GROUPS_ATTR
from hpablate.errors import SpaceError
from hpablate.samplers._plan_sampler import PlanSampler
from hpablate.space import SearchSpace


class GridCombinationSampler(PlanSampler):
    """Full factorial over chosen groups of parameters (e.g. learning rate x batch size).

    Each group's parameters take every combination of their levels with all other parameters at
    baseline, so two-way (or higher) interactions inside a group can be estimated by ANOVA.

    Parameters
    ----------
    space : SearchSpace
        The shared search space.
    groups : sequence of sequence of str
        Groups of parameter names, e.g. ``[("lr", "batch_size")]``.
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
    ...     hp.Float("lr", 1e-3, 1e-2, log=True, baseline=1e-2, levels=[1e-3, 1e-2]),
    ...     hp.Categorical("batch_size", [32, 64], baseline=64),
    ... )
    >>> hp.GridCombinationSampler(space, groups=[("lr", "batch_size")], repeats=1).n_slots
    4
    """

    design = "grid"

    def __init__(
        self,
        space: SearchSpace,
        groups: Sequence[Sequence[str]],
        *,
        repeats: int = 3,
        seed: int = 0,
        max_retries: int = 2,
    ) -> None:
        if isinstance(groups, str) or not isinstance(groups, Sequence):
            raise SpaceError(f"groups must be a list of groups of names, got {groups!r}")
        self._groups = [list(g) if not isinstance(g, str) else g for g in groups]
        super().__init__(space, repeats=repeats, seed=seed, max_retries=max_retries)

    @property
    def groups(self) -> list[list[str]]:
        """The groups of parameters crossed by the design."""
        return [list(g) for g in self._groups]

    def _build_plan(self) -> Plan:
        return grid(self._space, self._groups, repeats=self._repeats, seed=self._seed)

    def _study_attrs(self) -> dict[str, Any]:
        return {GRID_GROUPS_ATTR: self.groups}
