"""Morris elementary-effects design: one-factor-at-a-time trajectories for global screening."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hpablate.design._plan import Config, Plan, baseline_config, replicate_seeds
from hpablate.errors import SpaceError
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
    :meth:`SearchSpace.from_unit` (log-scaled floats move evenly in log space). In a conditional
    space a step that moves only a coordinate inactive at both of its points repeats the previous
    configuration: it is not run (its step number is skipped), so no trial is spent on it.
    """
    base = space.baseline
    units = morris_unit_trajectories(len(names), trajectories, levels, rng)
    configs = [baseline_config(space)]
    for t, trajectory in enumerate(units):
        previous: np.ndarray | None = None
        previous_params: dict = {}
        for step, point in enumerate(trajectory):
            # In a conditional space inactive coordinates are carried (unit) but are not values of
            # the point, and a move of an inactive coordinate is not a step of that parameter.
            params = space.active({**base, **{n: space.from_unit(n, float(u)) for n, u in zip(names, point)}})
            if previous is None:
                varied: tuple[str, ...] = ()
            else:
                moved = [n for n, a, b in zip(names, previous, point) if not np.isclose(a, b)]
                if moved and all(n not in params and n not in previous_params for n in moved):
                    # only an inactive coordinate moved: the configuration is the previous one, so
                    # the point is not run (the trajectory carries the coordinate on)
                    previous = point
                    continue
                varied = tuple(n for n in moved if n in params and n in previous_params)
            previous_params = params
            configs.append(
                Config(
                    params=params,
                    design="morris",
                    varied=varied,
                    level=None,
                    extra={"trajectory": t, "step": step, "unit": tuple(float(u) for u in point)},
                )
            )
            previous = point
    return configs


def morris(
    space: SearchSpace,
    trajectories: int = 10,
    levels: int = 4,
    params: Sequence[str] | None = None,
    *,
    repeats: int = 1,
    seed: int = 0,
) -> Plan:
    """The Morris plan: in each replicate the baseline and ``trajectories`` new trajectories.

    Replicate ``r`` draws its trajectories after those of replicates ``0 … r-1`` from one
    generator, so a plan with more replicates starts with the plan with fewer.

    Examples
    --------
    >>> import hpablate as hp
    >>> space = hp.SearchSpace(hp.Float("x1", 0, 1), hp.Float("x2", 0, 1))
    >>> len(morris(space, trajectories=3, repeats=2))  # (1 + 3 * (2 + 1)) * 2
    20
    """
    names = space.names if params is None else space.check_names(params)
    if not names:
        raise SpaceError("params must name at least one parameter")
    seeds = replicate_seeds(seed, repeats)
    rng = np.random.default_rng(seed)
    replicates = [morris_configs(space, names, int(trajectories), int(levels), rng) for _ in seeds]
    options = {"trajectories": int(trajectories), "levels": int(levels), "params": None if params is None else list(params),
               "repeats": repeats}
    return Plan(space, replicates, seeds, "morris", options)
