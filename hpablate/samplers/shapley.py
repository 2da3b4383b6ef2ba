"""Shapley ablation design: every on/off subset of the components (or sampled orders)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hpablate.design import Plan
from hpablate.design.shapley import shapley
from hpablate.record import SHAPLEY_COMPONENTS_ATTR, SHAPLEY_PERMUTATIONS_ATTR
from hpablate.samplers._plan_sampler import PlanSampler
from hpablate.space import SearchSpace


class ShapleyAblationSampler(PlanSampler):
    """Shapley values of the components: how much of the full-vs-bare difference each accounts for.

    Runs the components' on/off subsets (all ``2^k`` for ``k <= 10`` by default; for larger ``k``
    the chains of sampled orders, see :mod:`hpablate.design.shapley`) in every replicate.
    :func:`hpablate.analyze` reports each component's Shapley value (its marginal contribution
    averaged over orders; the values sum to full minus bare), pairwise Shapley interaction indices
    (exhaustive designs), and leave-one-component-out effects side by side, with CIs over seeds.
    A multi-valued component (``norm``: ``batch`` / ``layer`` / ``none``) is "on" at its baseline;
    each other non-off choice is compared against the ablated value in a game of its own.

    Parameters
    ----------
    space : SearchSpace
        The shared search space (with ``hp.Component`` s).
    components : sequence of str, optional
        The players (default: every component of the space).
    max_subsets : int, optional
        Most subsets per game and replicate (default 1,024): above ``2^k``, sampled orders.
    repeats : int, default 3
        Replicates (seeds); CIs need at least 2.
    seed : int, default 0
    max_retries : int, default 2

    Examples
    --------
    >>> import hpablate as hp
    >>> space = hp.SearchSpace(hp.Component("attention"), hp.Component("residual"), hp.Component("posenc"),
    ...                        hp.Float("lr", 1e-3, 1e-1, log=True))
    >>> hp.ShapleyAblationSampler(space, repeats=3).n_slots  # 2^3 subsets x 3 seeds
    24
    """

    design = "shapley"

    def __init__(
        self,
        space: SearchSpace,
        components: Sequence[str] | None = None,
        max_subsets: int | None = None,
        *,
        repeats: int = 3,
        seed: int = 0,
        max_retries: int = 2,
    ) -> None:
        self._components = None if components is None else list(components)
        self._max_subsets = max_subsets
        super().__init__(space, repeats=repeats, seed=seed, max_retries=max_retries)

    def _build_plan(self) -> Plan:
        return shapley(self._space, self._components, self._max_subsets, repeats=self._repeats, seed=self._seed)

    def _study_attrs(self) -> dict[str, Any]:
        options = self._plan.options
        return {SHAPLEY_COMPONENTS_ATTR: list(options["components"]), SHAPLEY_PERMUTATIONS_ATTR: int(options["orders"])}
