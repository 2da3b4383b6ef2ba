"""Structural ablation: leave one component out of the full model, or add one to the bare model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from hpablate.design._plan import Config, Plan, baseline_config, deduplicate, replicated
from hpablate.errors import SpaceError
from hpablate.space import Component, SearchSpace

StructuralMode = Literal["leave_one_out", "add_one_in"]


def _chosen_components(space: SearchSpace, components: Sequence[str] | None) -> list[Component]:
    names = [c.name for c in space.components] if components is None else space.check_names(components)
    chosen = []
    for name in names:
        param = space[name]
        if not isinstance(param, Component):
            raise SpaceError(f"{name!r} is a {param.kind} parameter, not a Component")
        chosen.append(param)
    if not chosen:
        raise SpaceError("a structural design needs at least one hp.Component in the space")
    return chosen


def structural_configs(
    space: SearchSpace, mode: StructuralMode = "leave_one_out", components: Sequence[str] | None = None
) -> list[Config]:
    """Configurations of a structural ablation.

    ``leave_one_out``: the full (baseline) model, then each component set to each of its other
    levels (an on/off component: off) with everything else at baseline.
    ``add_one_in``: the full model, the bare model (every chosen component off), then each component
    restored to its baseline value in the bare model.
    """
    chosen = _chosen_components(space, components)
    base = space.baseline
    configs = [baseline_config(space)]
    if mode == "leave_one_out":
        for comp in chosen:
            for level in comp.levels:
                if repr(level) != repr(comp.baseline):
                    configs.append(
                        Config(params=space.active({**base, comp.name: level}), design="structural", varied=(comp.name,), level=level)
                    )
    elif mode == "add_one_in":
        bare = {**base, **{c.name: c.off for c in chosen}}
        configs.append(
            Config(params=space.active(bare), design="structural", varied=tuple(c.name for c in chosen), level="bare")
        )
        for comp in chosen:
            configs.append(
                Config(
                    params=space.active({**bare, comp.name: comp.baseline}),
                    design="structural",
                    varied=(comp.name,),
                    level=comp.baseline,
                    extra={"added": True},
                )
            )
    else:
        raise SpaceError(f"mode must be 'leave_one_out' or 'add_one_in', got {mode!r}")
    return deduplicate(configs)


def structural(
    space: SearchSpace,
    mode: StructuralMode = "leave_one_out",
    components: Sequence[str] | None = None,
    *,
    repeats: int = 3,
    seed: int = 0,
) -> Plan:
    """The structural plan: :func:`structural_configs` in each of ``repeats`` replicates.

    Examples
    --------
    >>> import hpablate as hp
    >>> space = hp.SearchSpace(hp.Component("dropout", baseline=True), hp.Component("residual", baseline=True))
    >>> [slot.config.level for slot in structural(space, "add_one_in", repeats=1)]
    [None, 'bare', True, True]
    """
    configs = structural_configs(space, mode, components)
    return replicated(space, configs, "structural", repeats, seed, mode=mode,
                      components=None if components is None else list(components))
