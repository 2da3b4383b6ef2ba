"""Grid-combination design: a full factorial over each group of parameters, the rest at baseline."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from hpablate.design._plan import Config, Plan, baseline_config, check_plan_size, deduplicate, replicated
from hpablate.errors import SpaceError
from hpablate.space import SearchSpace


def grid_configs(space: SearchSpace, groups: Sequence[Sequence[str]]) -> list[Config]:
    """The baseline, then the full factorial of each group's levels (others at baseline).

    A cell equal to the baseline, or to a cell of an earlier group, is not repeated.
    """
    if not groups:
        raise SpaceError("groups must hold at least one group of parameter names")
    base = space.baseline
    configs = [baseline_config(space)]
    checked = [_check_group(space, group) for group in groups]
    check_plan_size(sum(math.prod(len(space[name].levels) for name in names) for names in checked), f"the grid over {groups!r}")
    for names in checked:
        branch = group_branch(space, names)
        for values in itertools.product(*(space[name].levels for name in names)):
            params = space.active({**base, **branch, **dict(zip(names, values))})
            level = [value if name in params else None for name, value in zip(names, values)]
            configs.append(Config(params=params, design="grid", varied=tuple(names), level=level,
                                  extra={"branch": branch} if branch else {}))
    return deduplicate(configs)


def group_branch(space: SearchSpace, names: Sequence[str]) -> dict[str, object]:
    """Parents outside the group switched so that every member of the group can exist.

    Examples
    --------
    >>> import hpablate as hp
    >>> space = hp.SearchSpace(hp.Categorical("opt", ["sgd", "adam"], baseline="adam"),
    ...                        hp.Float("m", 0, 1, when={"opt": "sgd"}), hp.Float("lr", 0, 1))
    >>> group_branch(space, ["lr", "m"]), group_branch(space, ["opt", "m"])
    ({'opt': 'sgd'}, {})
    """
    branch: dict[str, object] = {}
    for name in names:
        for parent, value in space.activation(name).items():
            if parent not in names:
                branch[parent] = value
    return branch


def _check_group(space: SearchSpace, group: Sequence[str]) -> list[str]:
    if isinstance(group, str):
        raise SpaceError(f"a group must be a sequence of names, got the string {group!r}")
    names = space.check_names(group)
    if len(names) == 0 or len(set(names)) != len(names):
        raise SpaceError(f"a group must name distinct parameters, got {list(group)!r}")
    return list(names)


def grid(space: SearchSpace, groups: Sequence[Sequence[str]], *, repeats: int = 3, seed: int = 0) -> Plan:
    """The grid-combination plan: :func:`grid_configs` in each of ``repeats`` replicates.

    Examples
    --------
    >>> import hpablate as hp
    >>> space = hp.SearchSpace(hp.Int("a", 1, 2, baseline=1), hp.Int("b", 1, 3, baseline=1))
    >>> len(grid(space, [("a", "b")], repeats=1))
    6
    """
    return replicated(space, grid_configs(space, groups), "grid", repeats, seed, groups=[list(g) for g in groups])
