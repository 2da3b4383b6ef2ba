"""Structural ablation: leave one component out of the full model, or add one to the bare model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from hpablate.errors import SpaceError
from hpablate.plan import Config, Plan, baseline_config, deduplicate
from hpablate.samplers._plan_sampler import PlanSampler
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
                        Config(params={**base, comp.name: level}, design="structural", varied=(comp.name,), level=level)
                    )
    elif mode == "add_one_in":
        bare = {**base, **{c.name: c.off for c in chosen}}
        configs.append(
            Config(params=bare, design="structural", varied=tuple(c.name for c in chosen), level="bare")
        )
        for comp in chosen:
            configs.append(
                Config(
                    params={**bare, comp.name: comp.baseline},
                    design="structural",
                    varied=(comp.name,),
                    level=comp.baseline,
                    extra={"added": True},
                )
            )
    else:
        raise SpaceError(f"mode must be 'leave_one_out' or 'add_one_in', got {mode!r}")
    return deduplicate(configs)


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
        configs = structural_configs(self._space, self._mode, self._components)
        return self._replicated_plan(configs, mode=self._mode, components=self._components)

    def _study_attrs(self) -> dict[str, Any]:
        return {"hpablate.structural_mode": self._mode}
