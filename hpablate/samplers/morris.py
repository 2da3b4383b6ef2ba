"""Morris elementary-effects design: one-factor-at-a-time trajectories for global screening."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hpablate.design import Plan, morris
from hpablate.record import MORRIS_LEVELS_ATTR, MORRIS_TRAJECTORIES_ATTR
from hpablate.samplers._plan_sampler import PlanSampler
from hpablate.space import SearchSpace


class MorrisSampler(PlanSampler):
    """Morris elementary-effects screening (global, unlike one-at-a-time from the baseline).

    Each trajectory starts at a random point of a ``levels``-level grid over the unit cube and moves
    every factor once by ``delta = levels / (2 (levels - 1))``, so ``trajectories * (k + 1)`` runs
    give ``trajectories`` elementary effects per factor; ``mu*`` ranks factors by total effect,
    ``sigma`` flags interactions and non-linearity. The construction matches SALib's
    ``SALib.sample.morris.sample`` (without trajectory optimisation).

    Parameters
    ----------
    space : SearchSpace
        The shared search space.
    trajectories : int, default 10
        Number of trajectories ``r``.
    levels : int, default 4
        Grid levels ``p`` (even).
    params : sequence of str, optional
        The factors to screen (default: every parameter); the rest stay at baseline.
    repeats : int, default 1
        Replicates; each draws its own trajectories and seed.
    seed : int, default 0
        Seed of the trajectories and replicate seeds.
    max_retries : int, default 2
        Retries of a failed slot.

    Examples
    --------
    >>> import hpablate as hp
    >>> space = hp.SearchSpace(hp.Float("x1", 0, 1), hp.Float("x2", 0, 1), hp.Float("x3", 0, 1))
    >>> hp.MorrisSampler(space, trajectories=5).n_slots  # 1 baseline + 5 * (3 + 1)
    21
    """

    design = "morris"

    def __init__(
        self,
        space: SearchSpace,
        trajectories: int = 10,
        levels: int = 4,
        params: Sequence[str] | None = None,
        *,
        repeats: int = 1,
        seed: int = 0,
        max_retries: int = 2,
    ) -> None:
        self._trajectories = int(trajectories)
        self._levels = int(levels)
        self._params = None if params is None else list(params)
        super().__init__(space, repeats=repeats, seed=seed, max_retries=max_retries)

    def _build_plan(self) -> Plan:
        return morris(self._space, self._trajectories, self._levels, self._params, repeats=self._repeats, seed=self._seed)

    def _study_attrs(self) -> dict[str, Any]:
        return {MORRIS_LEVELS_ATTR: self._levels, MORRIS_TRAJECTORIES_ATTR: self._trajectories}
