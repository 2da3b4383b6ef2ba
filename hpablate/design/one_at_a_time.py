"""One-at-a-time design: the baseline, then each parameter swept over its levels."""

from __future__ import annotations

from collections.abc import Sequence

from hpablate.design._plan import Config, Plan, baseline_config, deduplicate, replicated
from hpablate.errors import SpaceError
from hpablate.space import SearchSpace


def one_at_a_time_configs(space: SearchSpace, params: Sequence[str] | None = None) -> list[Config]:
    """The baseline, then every non-baseline level of each parameter with all others at baseline.

    In a conditional space a parameter that does not exist at the baseline (momentum when the
    baseline optimizer is Adam) is swept in its *branch*: its parents switched to activating values
    (:meth:`SearchSpace.activation`), recorded as ``extra["branch"]``; the branch baseline (the
    parameter at its baseline there) is planned too. Children a level deactivates are left out.
    """
    names = space.names if params is None else space.check_names(params)
    if not names:
        raise SpaceError("params must name at least one parameter")
    base = space.baseline
    configs = [baseline_config(space)]
    for name in names:
        branch = space.activation(name)
        start = {**base, **branch}
        extra = {"branch": branch} if branch else {}
        if branch:
            configs.append(Config(params=space.active(start), design="oat", varied=(name,),
                                  level=base[name], extra=extra))
        for level in space[name].levels:
            if repr(level) == repr(base[name]):
                continue
            configs.append(Config(params=space.active({**start, name: level}), design="oat", varied=(name,),
                                  level=level, extra=extra))
    return deduplicate(configs)


def one_at_a_time(space: SearchSpace, params: Sequence[str] | None = None, *, repeats: int = 3, seed: int = 0) -> Plan:
    """The one-at-a-time plan: :func:`one_at_a_time_configs` in each of ``repeats`` replicates.

    Examples
    --------
    >>> import hpablate as hp
    >>> space = hp.SearchSpace(hp.Int("n", 1, 3, baseline=2), hp.Component("dropout", baseline=True))
    >>> plan = one_at_a_time(space, repeats=2)
    >>> len(plan), [slot.config.varied for slot in plan][:4]
    (8, [(), ('n',), ('n',), ('dropout',)])
    """
    return replicated(space, one_at_a_time_configs(space, params), "oat", repeats, seed, params=None if params is None else list(params))
