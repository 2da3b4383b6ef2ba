"""Ablation path design: greedy rounds from the baseline towards a target configuration."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from hpablate import _optuna
from hpablate.design import Slot
from hpablate.design.path import PathPlan, ablation_path
from hpablate.errors import UsageError
from hpablate.record import FOREIGN_ATTR, PATH_MOVES_ATTR, PATH_OBJECTIVE_ATTR, PATH_TARGET_ATTR, SLOT_ATTR
from hpablate.samplers._ledger import PlanStatus
from hpablate.samplers._plan_sampler import _WAIT, PlanSampler, _Wait
from hpablate.space import SearchSpace


class AblationPathSampler(PlanSampler):
    """The greedy ablation path of Fawcett & Hoos (2016) from the baseline towards ``target``.

    Round 0 runs the source (the space's baseline), the target, and the source with each *move*
    (a parameter whose target value differs from its baseline) flipped to its target value. Each
    later round starts from the configuration kept so far and flips each remaining move; the move
    with the best mean over replicates is kept (ties: the first in declaration order). The path's
    last step reaches the target. :func:`hpablate.analyze` reports the path, each step's gain with a
    paired CI over seeds, and every round's candidates.

    Slots of round ``r`` exist only once rounds ``0 … r-1`` are decided (every slot completed,
    pruned or abandoned), so trials past round 0 *claim* their slot: a trial that finds every
    ready slot running waits (beating its heartbeat) until the round is decided, and each slot is
    still run exactly once with many workers. Every worker derives the same decisions from the
    stored results; a round whose candidates all failed keeps its first move (and says so in the
    analysis). Unlike other designs, a path study cannot grow by ``repeats`` (its rounds were
    decided on the stored replicates): run a new study for more seeds. With ask-and-tell, tell a
    round's trials before asking for the next round's: outside :func:`hpablate.run` a claim waits
    at most ``CLAIM_WAIT_S`` (600 s) for running slots, then its trial is surplus.

    Parameters
    ----------
    space : SearchSpace
        The shared search space; its baseline is the path's source.
    target : mapping
        Target values, e.g. ``study.best_params`` of a tuned study (parameters not named stay at
        their baseline; values the target's configuration does not use are ignored).
    repeats : int, default 3
        Replicates (seeds) of every evaluated configuration.
    seed : int, default 0
    objective : int, default 0
        The objective whose means choose each step (multi-objective studies).
    max_retries : int, default 2

    Examples
    --------
    >>> import hpablate as hp
    >>> space = hp.SearchSpace(hp.Float("lr", 1e-4, 1e-1, log=True, baseline=1e-3),
    ...                        hp.Int("layers", 1, 8, baseline=2), hp.Component("dropout", baseline=False))
    >>> sampler = hp.AblationPathSampler(space, target={"lr": 0.01, "layers": 4, "dropout": True}, repeats=2)
    >>> sampler.moves, sampler.n_slots   # round 0: source, target, 3 flips; round 1: 2 flips
    (('lr', 'layers', 'dropout'), 14)
    """

    design = "path"
    grows_by_replicates = False

    def __init__(
        self,
        space: SearchSpace,
        target: Mapping[str, Any],
        *,
        repeats: int = 3,
        seed: int = 0,
        objective: int = 0,
        max_retries: int = 2,
    ) -> None:
        if not isinstance(target, Mapping):
            raise TypeError(f"target must be a mapping of parameter values, got {type(target).__name__}")
        if isinstance(objective, bool) or not isinstance(objective, int) or objective < 0:
            raise ValueError(f"objective must be a non-negative index, got {objective!r}")
        self._target = dict(target)
        self._objective = objective
        # Moves kept in rounds 0, 1, … per study (decided rounds never change).
        self._kept: dict[tuple[int, int], list[str]] = {}
        self._last_kept: list[str] = []
        super().__init__(space, repeats=repeats, seed=seed, max_retries=max_retries)

    def _build_plan(self) -> PathPlan:
        return ablation_path(self._space, self._target, repeats=self._repeats, seed=self._seed)

    @property
    def plan_object(self) -> PathPlan:
        return self._plan  # type: ignore[return-value]

    @property
    def moves(self) -> tuple[str, ...]:
        """The parameters the path flips, in declaration order."""
        return self.plan_object.moves

    @property
    def target(self) -> dict[str, Any]:
        """The full target configuration (what exists of it)."""
        return dict(self.plan_object.target)

    def _study_attrs(self) -> dict[str, Any]:
        plan = self.plan_object
        return {
            PATH_TARGET_ATTR: plan.options["target"],
            PATH_MOVES_ATTR: list(plan.moves),
            PATH_OBJECTIVE_ATTR: self._objective,
        }

    def first_pass_slots(self) -> int:
        return len(self.plan_object.round_slots(0))

    def bind(self, study: Study, *, trial: FrozenTrial | None = None) -> Any:
        if self._objective >= len(study.directions):
            raise UsageError(
                f"objective {self._objective} of the path does not exist: the study has {len(study.directions)} objective(s)"
            )
        return super().bind(study, trial=trial)

    # ---- rounds -------------------------------------------------------------------------
    def _next_slot(self, study: Study, status: PlanStatus, trials: list[FrozenTrial]) -> Slot | None | _Wait:
        plan = self.plan_object
        free, running = set(status.free), set(status.running)
        for r in range(plan.n_rounds):
            slots = plan.round_slots(r)
            ready = [i for i in slots if i in free]
            if ready:
                return plan.resolve(ready[0], self._kept_before(r, study, trials))
            if any(i in running for i in slots):
                return _WAIT
        return None

    def _kept_before(self, r: int, study: Study, trials: list[FrozenTrial]) -> list[str]:
        """The moves kept in rounds ``0 … r-1`` (each decided round computed once)."""
        kept = self._kept.setdefault((id(_optuna.storage_of(study)), _optuna.study_id_of(study)), [])
        while len(kept) < r:
            kept.append(self._decide(kept, study, trials))
        self._last_kept = kept
        return kept[:r]

    def _decide(self, kept: list[str], study: Study, trials: list[FrozenTrial]) -> str:
        plan = self.plan_object
        r = len(kept)
        remaining = plan.remaining(kept)
        offset = 2 if r == 0 else 0  # round 0 also runs the source and the target
        means = round_means(plan, r, trials, self._objective)
        sign = 1.0 if study.directions[self._objective].name == "MAXIMIZE" else -1.0
        best, best_score = remaining[0], -math.inf
        for j, move in enumerate(remaining):
            mean = means.get(j + offset)
            if mean is not None and sign * mean > best_score:
                best, best_score = move, sign * mean
        return best

    def _slot_at(self, index: int) -> Slot:
        plan = self.plan_object
        r = plan.round_of(index)
        if r > len(self._last_kept):
            raise RuntimeError(f"slot {index} of round {r} is not known in this process: its earlier rounds were not read")
        return plan.resolve(index, self._last_kept)

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.update(_kept={}, _last_kept=[])
        return state

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._space!r}, moves={list(self.moves)}, n_slots={self.n_slots}, repeats={self._repeats})"


def round_means(plan: PathPlan, r: int, trials: list[FrozenTrial], objective: int) -> dict[int, float]:
    """Mean objective value of each configuration of round ``r`` over its completed replicates."""
    slots = plan.round_slots(r)
    values: dict[int, list[float]] = {}
    for t in trials:
        index = t.user_attrs.get(SLOT_ATTR)
        if (t.state != TrialState.COMPLETE or index is None or FOREIGN_ATTR in t.user_attrs
                or not slots.start <= int(index) < slots.stop):
            continue
        values.setdefault(plan.candidate_of(int(index)), []).append(float(t.values[objective]))
    return {j: float(np.mean(v)) for j, v in values.items()}


__all__ = ["AblationPathSampler", "round_means"]
