"""Shared machinery of every design: serve a finite plan to Optuna trials, each slot exactly once.

How a trial finds its slot
--------------------------
Trial numbers are the one thing Optuna's RDB and journal storages hand out atomically, so slots
are assigned from them:

* When the plan is bound to a study, the number of trials already in it is stored as the plan's
  *offset*. Trial ``offset + k`` runs slot ``k`` for ``k < n_slots``. This first pass reads nothing
  from the storage, so the per-trial cost stays flat however large the study grows.
* A trial numbered past the first pass (a retry, a resumed study, a worker looking for leftovers)
  *claims* a slot: it reads the study, waits until every lower-numbered trial has recorded its own
  claim, and takes the lowest slot that no completed, running or lower-numbered trial holds.
  Claims are thus decided in trial-number order, so two trials never take the same slot.
* A trial that finds nothing left is a *surplus* trial: it is recorded with ``hpablate.slot = -1``
  and pruned before the objective does any work, and the study is asked to stop.

Failed trials (the objective raised or returned NaN) free their slot for a retry, up to
``max_retries`` times. A trial whose worker was killed stays RUNNING; the runner's heartbeat marks
it FAIL once its heartbeat is older than the grace period, which frees its slot as well.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import optuna
import pandas as pd
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from hpablate._storage import write_trial_user_attrs
from hpablate.errors import DistributionMismatchError, PlanMismatchError, UnknownParameterError
from hpablate.plan import Config, Plan, Slot, replicate_seeds
from hpablate.space import SearchSpace

SPACE_ATTR = "hpablate.space"
PLAN_ID_ATTR = "hpablate.plan_id"
PLAN_OFFSET_ATTR = "hpablate.plan_offset"
SLOT_ATTR = "hpablate.slot"
HEARTBEAT_ATTR = "hpablate.heartbeat"
FAIL_REASON_ATTR = "hpablate.fail_reason"
SURPLUS_SLOT = -1

#: How long a claiming trial waits for a lower-numbered trial that has not recorded its claim.
CLAIM_WAIT_S = 60.0


class PlanExhausted(optuna.TrialPruned):
    """Raised in a surplus trial: every slot of the plan is completed or being run."""


@dataclass
class PlanStatus:
    """Where a plan stands in a study.

    Attributes
    ----------
    n_slots : int
        Slots in the plan.
    completed, pruned, running, free, abandoned : list of int
        Slots with a COMPLETE trial; with a PRUNED one (a pruner's verdict is final: the slot is
        not rerun); being run by a live trial; waiting to be run (never tried, or failed fewer than
        ``max_retries + 1`` times); failed too often.
    failures : dict
        Failed attempts per slot.
    """

    n_slots: int
    completed: list[int] = field(default_factory=list)
    pruned: list[int] = field(default_factory=list)
    running: list[int] = field(default_factory=list)
    free: list[int] = field(default_factory=list)
    abandoned: list[int] = field(default_factory=list)
    failures: dict[int, int] = field(default_factory=dict)


@dataclass
class _Binding:
    offset: int


class PlanSampler(BaseSampler):
    """Base class of hpablate's designs: an Optuna sampler that serves a finite plan.

    Subclasses build the plan in :meth:`_build_plan`. The sampler returns the planned value for
    every parameter of the space (through Optuna's relative sampling), records the slot on the
    trial as ``hpablate.*`` user attributes, and raises :class:`~hpablate.errors.UnknownParameterError`
    or :class:`~hpablate.errors.DistributionMismatchError` when the objective suggests a parameter
    the space lacks or with another distribution.

    Parameters
    ----------
    space : SearchSpace
        The shared search space.
    repeats : int
        Replicates of every configuration, each with its own seed.
    seed : int
        Seed from which the replicates' seeds (and random design choices) derive.
    max_retries : int
        How often a failed slot is retried before it is abandoned.
    """

    design: str = ""

    def __init__(self, space: SearchSpace, *, repeats: int = 3, seed: int = 0, max_retries: int = 2) -> None:
        if not isinstance(space, SearchSpace):
            raise TypeError(f"space must be a hpablate.SearchSpace, got {type(space).__name__}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        self._space = space
        self._repeats = repeats
        self._seed = int(seed)
        self.max_retries = int(max_retries)
        self._plan = self._build_plan()
        self._plan_id = self._plan.plan_id
        self._distributions = space.to_distributions()
        self._assignments: dict[int, Slot | None] = {}
        self._bindings: dict[tuple[int, int], _Binding] = {}
        self._lock = threading.Lock()
        #: Set by :func:`hpablate.run`: record a heartbeat with each trial's claim.
        self.record_heartbeat = False
        #: Seconds without a heartbeat after which a running trial counts as dead.
        self.grace_period_s = 60.0

    # ---- the plan -------------------------------------------------------------------------
    def _build_plan(self) -> Plan:
        raise NotImplementedError

    def _replicated_plan(self, configs: list[Config], **options: Any) -> Plan:
        """The same configurations in every replicate, each replicate with its own seed."""
        seeds = replicate_seeds(self._seed, self._repeats)
        return Plan(self._space, [configs] * len(seeds), seeds, self.design, {**options, "repeats": self._repeats})

    def _study_attrs(self) -> dict[str, Any]:
        """Design-specific study user attributes (besides space, design and plan id)."""
        return {}

    @property
    def space(self) -> SearchSpace:
        """The search space the plan is over."""
        return self._space

    @property
    def plan_object(self) -> Plan:
        """The :class:`~hpablate.plan.Plan` served by this sampler."""
        return self._plan

    @property
    def plan(self) -> pd.DataFrame:
        """The plan as a DataFrame: slot, replicate, seed, design, varied, level, parameters."""
        return self._plan.to_frame()

    @property
    def n_slots(self) -> int:
        """Number of slots (configurations × replicates) in the plan."""
        return len(self._plan)

    @property
    def plan_id(self) -> str:
        """The plan's identity, stored on the study to refuse a different plan later."""
        return self._plan_id

    # ---- binding to a study -------------------------------------------------------------------
    def bind(self, study: Study) -> int:
        """Record the space and plan on ``study`` (or check them) and return the plan's offset.

        Raises
        ------
        PlanMismatchError
            If the study already holds another search space or another plan.
        """
        key = (id(study._storage), study._study_id)
        binding = self._bindings.get(key)
        if binding is not None:
            return binding.offset
        storage, study_id = study._storage, study._study_id
        attrs = storage.get_study_user_attrs(study_id)
        if PLAN_ID_ATTR not in attrs:
            n_existing = storage.get_n_trials(study_id)
            # Another process may have bound the plan meanwhile: its attributes are written before
            # its first trial, so a re-read after counting sees them whenever its trials are counted.
            attrs = storage.get_study_user_attrs(study_id)
            if PLAN_ID_ATTR not in attrs:
                self._check_space(attrs)
                new_attrs = {
                    SPACE_ATTR: self._space.to_json(),
                    "hpablate.design": self._plan.design,
                    "hpablate.n_slots": self.n_slots,
                    PLAN_OFFSET_ATTR: n_existing,
                    **self._study_attrs(),
                }
                for attr_key, value in new_attrs.items():
                    storage.set_study_user_attr(study_id, attr_key, value)
                storage.set_study_user_attr(study_id, PLAN_ID_ATTR, self._plan_id)
                attrs = storage.get_study_user_attrs(study_id)
        self._check_space(attrs)
        if attrs.get(PLAN_ID_ATTR) != self._plan_id:
            raise PlanMismatchError(
                f"study {study.study_name!r} holds another plan ({attrs.get('hpablate.design')} design, "
                f"{attrs.get('hpablate.n_slots')} slots) than this {self._plan.design} sampler "
                f"({self.n_slots} slots): use a new study name to run a different design, "
                "repeats or seed"
            )
        binding = _Binding(offset=int(attrs.get(PLAN_OFFSET_ATTR, 0)))
        self._bindings[key] = binding
        return binding.offset

    def _check_space(self, attrs: dict[str, Any]) -> None:
        stored = attrs.get(SPACE_ATTR)
        if stored is not None and SearchSpace.from_json(stored) != self._space:
            raise PlanMismatchError(
                "the study was made with another search space than this sampler's "
                f"(stored parameters: {SearchSpace.from_json(stored).names}; "
                f"sampler: {self._space.names})"
            )

    # ---- Optuna sampler hooks -----------------------------------------------------------------
    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        offset = self.bind(study)
        k = trial.number - offset
        if 0 <= k < self.n_slots:
            slot: Slot | None = self._plan[k]
        else:
            slot = self._claim(study, trial, offset)
        attrs = slot.user_attrs() if slot is not None else {SLOT_ATTR: SURPLUS_SLOT, "hpablate.surplus": True}
        if self.record_heartbeat:
            attrs[HEARTBEAT_ATTR] = time.time()
        write_trial_user_attrs(study._storage, trial._trial_id, attrs, new_keys=True)
        trial.user_attrs.update(attrs)  # the Trial object reads its attributes from this copy
        with self._lock:
            self._assignments[trial._trial_id] = slot
        if slot is None:
            try:
                study.stop()
            except RuntimeError:  # not inside study.optimize (ask-and-tell): nothing to stop
                pass

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return dict(self._distributions)

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        slot = self.slot_for(trial)
        if slot is None:
            raise PlanExhausted(
                f"trial {trial.number} is surplus: every slot of the plan is completed or running"
            )
        return dict(slot.params)

    def sample_independent(
        self, study: Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        if param_name not in self._distributions:
            raise UnknownParameterError(
                f"the objective suggested {param_name!r}, which is not in the search space "
                f"{self._space.names}"
            )
        raise DistributionMismatchError(
            f"the objective suggested {param_name!r} as {param_distribution}, but the space declares "
            f"{self._distributions[param_name]}"
        )

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        with self._lock:
            self._assignments.pop(trial._trial_id, None)

    def slot_for(self, trial: FrozenTrial | optuna.trial.BaseTrial) -> Slot | None:
        """The slot assigned to a running trial of this process (``None`` for a surplus trial)."""
        trial_id = trial._trial_id
        with self._lock:
            if trial_id in self._assignments:
                return self._assignments[trial_id]
        index = trial.user_attrs.get(SLOT_ATTR)
        if index is None or index == SURPLUS_SLOT:
            return None
        return self._plan[int(index)]

    # ---- slot bookkeeping ---------------------------------------------------------------------
    def _slot_index(self, trial: FrozenTrial, offset: int) -> int | None:
        """The slot a stored trial holds; ``None`` if it has not recorded a claim yet."""
        k = trial.number - offset
        if 0 <= k < self.n_slots:
            return k
        index = trial.user_attrs.get(SLOT_ATTR)
        return None if index is None else int(index)

    def _is_dead(self, trial: FrozenTrial, now: float) -> bool:
        beat = trial.user_attrs.get(HEARTBEAT_ATTR)
        if beat is None:
            started = trial.datetime_start
            if started is None or SLOT_ATTR in trial.user_attrs:
                return False  # claimed, but no heartbeat is kept: only Optuna can tell
            beat = started.timestamp()
        return now - float(beat) > self.grace_period_s

    def _tally(self, trials: Sequence[FrozenTrial], offset: int, below: int | None = None) -> tuple[PlanStatus, bool]:
        """Count slot states over ``trials``; the flag says a lower trial's claim is still unknown."""
        completed: set[int] = set()
        pruned: set[int] = set()
        running: set[int] = set()
        failures: dict[int, int] = {}
        pending = False
        now = time.time()
        for t in trials:
            if t.number < offset or (below is not None and t.number >= below):
                continue
            index = self._slot_index(t, offset)
            if index is None:
                if t.state == TrialState.RUNNING and not self._is_dead(t, now):
                    pending = True
                continue
            if not 0 <= index < self.n_slots:
                continue
            if t.state == TrialState.COMPLETE:
                completed.add(index)
            elif t.state == TrialState.PRUNED:
                pruned.add(index)
            elif t.state == TrialState.RUNNING:
                running.add(index)
            elif t.state == TrialState.FAIL:
                failures[index] = failures.get(index, 0) + 1
        status = PlanStatus(n_slots=self.n_slots, failures=failures)
        for index in range(self.n_slots):
            if index in completed:
                status.completed.append(index)
            elif index in pruned:
                status.pruned.append(index)
            elif index in running:
                status.running.append(index)
            elif failures.get(index, 0) > self.max_retries:
                status.abandoned.append(index)
            else:
                status.free.append(index)
        return status, pending

    def _claim(self, study: Study, trial: FrozenTrial, offset: int) -> Slot | None:
        deadline = time.monotonic() + CLAIM_WAIT_S
        delay = 0.005
        while True:
            trials = study._storage.get_all_trials(study._study_id, deepcopy=False)
            status, pending = self._tally(trials, offset, below=trial.number)
            if not pending or time.monotonic() > deadline:
                break
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
        return self._plan[status.free[0]] if status.free else None

    def status(self, study: Study) -> PlanStatus:
        """Where the plan stands in ``study``: completed, running, free and abandoned slots."""
        offset = self.bind(study)
        trials = study._storage.get_all_trials(study._study_id, deepcopy=False)
        status, _ = self._tally(trials, offset)
        return status

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.update(_lock=None, _assignments={}, _bindings={})
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def reseed_rng(self) -> None:  # the plan is fixed; nothing random happens per trial
        pass

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._space!r}, n_slots={self.n_slots}, repeats={self._repeats})"
