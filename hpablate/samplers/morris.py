"""Morris elementary-effects design: one-factor-at-a-time trajectories for global screening."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hpablate.errors import SpaceError
from hpablate.plan import Config, Plan, baseline_config, replicate_seeds
from hpablate.samplers._plan_sampler import PlanSampler
from hpablate.space import SearchSpace


def morris_delta(levels: int) -> float:
    """The Morris step in the unit cube for a ``levels``-level grid: ``p / (2 (p - 1))``."""
    return levels / (2.0 * (levels - 1))


def morris_unit_trajectories(
    n_factors: int, trajectories: int, levels: int, rng: np.random.Generator
) -> np.ndarray:
    """Random Morris trajectories in the unit cube (Morris 1991; SALib's construction).

    Returns an array of shape ``(trajectories, n_factors + 1, n_factors)``: each trajectory starts
    at a random point of the ``levels``-level grid and moves every factor once by ``±delta``, in a
    random order.
    """
    if levels < 2 or levels % 2:
        raise SpaceError(f"Morris levels must be an even number >= 2, got {levels}")
    if trajectories < 1:
        raise SpaceError(f"trajectories must be >= 1, got {trajectories}")
    delta = morris_delta(levels)
    k = n_factors
    lower = np.tril(np.ones((k + 1, k)), -1)
    ones = np.ones((k + 1, k))
    start_grid = np.linspace(0.0, 1.0 - delta, levels // 2)
    out = np.empty((trajectories, k + 1, k))
    for t in range(trajectories):
        order = np.eye(k)
        rng.shuffle(order)
        directions = np.diag(rng.choice([-1, 1], k))
        start = rng.choice(start_grid, k)
        moves = ((2.0 * lower @ order.T) - ones) @ directions
        out[t] = start + (delta / 2.0) * (moves + ones)
    return out


def morris_configs(
    space: SearchSpace,
    names: Sequence[str],
    trajectories: int,
    levels: int,
    rng: np.random.Generator,
) -> list[Config]:
    """One replicate of a Morris design: the baseline, then every point of every trajectory.

    Factors outside ``names`` stay at baseline. Unit coordinates map to values through
    :meth:`SearchSpace.from_unit` (log-scaled floats move evenly in log space).
    """
    base = space.baseline
    units = morris_unit_trajectories(len(names), trajectories, levels, rng)
    configs = [baseline_config(space)]
    for t, trajectory in enumerate(units):
        previous: np.ndarray | None = None
        for step, point in enumerate(trajectory):
            params = {**base, **{n: space.from_unit(n, float(u)) for n, u in zip(names, point)}}
            if previous is None:
                varied: tuple[str, ...] = ()
            else:
                varied = tuple(n for n, a, b in zip(names, previous, point) if not np.isclose(a, b))
            configs.append(
                Config(
                    params=params,
                    design="morris",
                    varied=varied,
                    level=None,
                    extra={"trajectory": t, "step": step},
                )
            )
            previous = point
    return configs


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
        names = self._space.names if self._params is None else self._space.check_names(self._params)
        if not names:
            raise SpaceError("params must name at least one parameter")
        seeds = replicate_seeds(self._seed, self._repeats)
        rng = np.random.default_rng(self._seed)
        replicates = [morris_configs(self._space, names, self._trajectories, self._levels, rng) for _ in seeds]
        options: dict[str, Any] = {
            "trajectories": self._trajectories,
            "levels": self._levels,
            "params": self._params,
            "repeats": self._repeats,
        }
        return Plan(self._space, replicates, seeds, self.design, options)

    def _study_attrs(self) -> dict[str, Any]:
        return {"hpablate.morris_levels": self._levels, "hpablate.morris_trajectories": self._trajectories}
