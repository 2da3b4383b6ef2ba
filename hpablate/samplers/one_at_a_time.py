"""One-at-a-time design: the baseline, then each parameter swept over its levels."""

from __future__ import annotations

from collections.abc import Sequence

from hpablate.design import Plan, one_at_a_time
from hpablate.samplers._plan_sampler import PlanSampler
from hpablate.space import SearchSpace


class OneAtATimeSampler(PlanSampler):
    """Vary one parameter at a time from the baseline, all else fixed.

    The plan holds, for each replicate, the baseline configuration once and then every level of
    every chosen parameter (its baseline level excluded: that is the baseline slot). Effects found
    this way are *local*, at the baseline: they miss interactions (see :class:`MorrisSampler` and
    :class:`GridCombinationSampler`).

    Parameters
    ----------
    space : SearchSpace
        The shared search space.
    params : sequence of str, optional
        Restrict the sweep to these parameters (default: every parameter).
    repeats : int, default 3
        Replicates of each configuration, each with its own seed.
    seed : int, default 0
        Seed the replicates' seeds derive from.
    max_retries : int, default 2
        Retries of a failed slot.

    Examples
    --------
    >>> import optuna, hpablate as hp
    >>> space = hp.SearchSpace(
    ...     hp.Int("n_estimators", 10, 300, baseline=50, levels=[50, 100, 200, 300]),
    ...     hp.Categorical("criterion", ["gini", "entropy"], baseline="gini"),
    ... )
    >>> sampler = hp.OneAtATimeSampler(space, repeats=2)
    >>> sampler.n_slots  # (1 baseline + 3 + 1) configurations x 2 replicates
    10
    >>> study = optuna.create_study(sampler=sampler, direction="maximize")
    >>> hp.run(study, lambda t: t.suggest_int("n_estimators", 10, 300) / 300
    ...        + (t.suggest_categorical("criterion", ["gini", "entropy"]) == "gini"))
    RunSummary(completed=10, failed_attempts=0, abandoned=0, surplus=0)
    """

    design = "oat"

    def __init__(
        self,
        space: SearchSpace,
        params: Sequence[str] | None = None,
        *,
        repeats: int = 3,
        seed: int = 0,
        max_retries: int = 2,
    ) -> None:
        self._params = None if params is None else list(params)
        super().__init__(space, repeats=repeats, seed=seed, max_retries=max_retries)

    def _build_plan(self) -> Plan:
        return one_at_a_time(self._space, self._params, repeats=self._repeats, seed=self._seed)
