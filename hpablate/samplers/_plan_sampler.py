"""Shared machinery of every design: serve a finite plan to Optuna trials, each slot exactly once.

How a trial finds its slot
--------------------------
Trial numbers are the one thing Optuna's RDB and journal storages hand out atomically, so slots
are assigned from them:

* When the plan is bound to a study, the number of the first trial that belongs to it is stored as
  the plan's *offset*: the number of trials already there when ``hp.create_study`` / ``hp.run``
  binds it, or the number of the trial being set up when Optuna drives the sampler directly
  (``study.optimize``, ask-and-tell, ``n_jobs`` threads). Trial ``offset + k`` runs slot ``k`` for
  ``k < n_slots``. This first pass reads nothing from the storage, so the per-trial cost stays flat
  however large the study grows.
* A trial numbered past the first pass (a retry, a resumed study, a worker looking for leftovers)
  *claims* a slot: it reads the study, waits until every lower-numbered trial has recorded its own
  claim (or has been failed as dead), and takes the lowest free slot. Claims are thus decided in
  trial-number order, so two trials never take the same slot.
* A trial that finds nothing left is a *surplus* trial: it is recorded with ``hpablate.slot = -1``
  and pruned before the objective does any work.
* A study grows by replicates: binding a sampler of the same design with more ``repeats`` appends
  the new replicates' slots as a new first-pass segment starting at the next trial number (the
  existing replicates keep their seeds and results). Fewer ``repeats`` than stored is refused.
* Trials that do not come from the plan never hold a slot: enqueued trials (their fixed values
  win over the plan), trials added with ``study.add_trial``, and trials whose values differ from
  the planned ones (a ``PartialFixedSampler`` fixing a parameter to another value). Their slot is
  run by a later trial.

Values are served through ``sample_independent``, which sees each suggested distribution, so an
objective suggesting a parameter with another distribution than the space declares raises
:class:`~hpablate.errors.DistributionMismatchError` instead of failing like a flaky trial.

Failed trials (the objective raised or returned NaN) free their slot for a retry, up to
``max_retries`` times. A trial whose worker died stays RUNNING until it has shown no sign of life
for the grace period; then it is marked FAIL (see :mod:`hpablate._stale`), which frees its slot
without using up a retry.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from typing import Any

import optuna
import pandas as pd
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from hpablate import _optuna
from hpablate._stale import fail_dead_trials, is_dead
from hpablate._storage import write_trial_user_attrs
from hpablate.errors import DistributionMismatchError, InactiveParameterError, UnknownParameterError
from hpablate.design import Plan, Slot
from hpablate.record import (
    FAIL_REASON_ATTR,
    FOREIGN_ATTR,
    HEARTBEAT_ATTR,
    NO_SLOT,
    SLOT_ATTR,
    SPACE_ATTR,
    SURPLUS_ATTR,
    SURPLUS_SLOT,
)
from hpablate.samplers._binding import bind_plan
from hpablate.samplers._ledger import FirstPass, PlanStatus, tally
from hpablate.space import SearchSpace

__all__ = ["FAIL_REASON_ATTR", "HEARTBEAT_ATTR", "SPACE_ATTR", "SURPLUS_SLOT", "PlanExhausted", "PlanSampler", "PlanStatus"]


#: How long a claiming trial waits for lower-numbered trials to record their claims before it
#: gives up and becomes a surplus trial (safe: it never guesses a slot).
CLAIM_WAIT_S = 600.0


class PlanExhausted(optuna.TrialPruned):
    """Raised in a surplus trial: every slot of the plan is completed or being run."""


class _Wait:
    """Returned by :meth:`PlanSampler._next_slot` when a claim must wait for running slots."""


_WAIT = _Wait()


class _Foreign:
    """Marks a trial that runs outside the plan (enqueued with fixed values)."""


_FOREIGN = _Foreign()


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
    #: Whether binding more ``repeats`` to a study of this design appends the new replicates.
    grows_by_replicates: bool = True

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
        self._assignments: dict[int, Slot | _Foreign | None] = {}
        self._bindings: dict[tuple[int, int], FirstPass] = {}
        self._lock = threading.Lock()
        self._bind_lock = threading.RLock()
        #: Set by :func:`hpablate.run`: record a heartbeat with each trial's claim.
        self.record_heartbeat = False
        #: Seconds between heartbeats a claiming trial writes while it waits.
        self.heartbeat_interval_s = 10.0
        #: Seconds without a sign of life after which a running trial counts as dead.
        self.grace_period_s = 60.0

    # ---- the plan -------------------------------------------------------------------------
    def _build_plan(self) -> Plan:
        raise NotImplementedError

    def _study_attrs(self) -> dict[str, Any]:
        """Design-specific study user attributes (besides space, design and plan id)."""
        return {}

    @property
    def space(self) -> SearchSpace:
        """The search space the plan is over."""
        return self._space

    @property
    def plan_object(self) -> Plan:
        """The :class:`~hpablate.design.Plan` served by this sampler."""
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

    def bind(self, study: Study, *, trial: FrozenTrial | None = None) -> FirstPass:
        """Record the space and plan on ``study`` (or check them, or grow the stored plan).

        A study that holds this design with fewer replicates grows: the new replicates' slots are
        appended (the existing ones keep their seeds and results) and run by the next trials.

        Parameters
        ----------
        study : optuna.Study
            The study to bind to.
        trial : FrozenTrial, optional
            The trial being set up when Optuna drives the sampler directly: it (or a trial created
            by a concurrent thread just before it) becomes the plan's first slot.

        Returns
        -------
        FirstPass
            Which trial numbers run which slots without reading the study.

        Raises
        ------
        PlanMismatchError
            If the study holds another search space, another plan, or this design with more
            replicates than asked for.
        """
        key = (id(_optuna.storage_of(study)), _optuna.study_id_of(study))
        with self._bind_lock:
            first_pass = self._bindings.get(key)
            if first_pass is None:
                first_pass = bind_plan(self, study, trial)
                self._bindings[key] = first_pass
            return first_pass

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        first_pass = self.bind(study, trial=trial)
        k = first_pass.slot_of(trial.number)
        slot: Slot | _Foreign | None
        if "fixed_params" in trial.system_attrs:
            slot = _FOREIGN
            attrs: dict[str, Any] = {SLOT_ATTR: NO_SLOT, FOREIGN_ATTR: "enqueued with fixed parameters"}
        elif k is not None:
            slot = self._plan[k]
            attrs = slot.user_attrs()
        elif trial.number < first_pass.start:  # created by a concurrent thread before the plan bound
            slot = None
            attrs = {SLOT_ATTR: NO_SLOT, SURPLUS_ATTR: True}
        else:
            slot = self._claim(study, trial, first_pass)
            attrs = slot.user_attrs() if slot is not None else {SLOT_ATTR: NO_SLOT, SURPLUS_ATTR: True}
        if self.record_heartbeat:
            attrs[HEARTBEAT_ATTR] = time.time()
        write_trial_user_attrs(_optuna.storage_of(study), _optuna.trial_id_of(trial), attrs, new_keys=True)
        trial.user_attrs.update(attrs)  # the Trial object reads its attributes from this copy
        with self._lock:
            self._assignments[_optuna.trial_id_of(trial)] = slot
        if slot is None and trial.number > first_pass.start:  # the plan is exhausted: end optimize loops
            try:
                study.stop()
            except RuntimeError:  # not inside study.optimize (ask-and-tell): nothing to stop
                pass

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return {}

    def sample_independent(
        self, study: Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        declared = self._distributions.get(param_name)
        if declared is None:
            raise UnknownParameterError(
                f"the objective suggested {param_name!r}, which is not in the search space "
                f"{self._space.names}"
            )
        if param_distribution != declared:
            raise DistributionMismatchError(
                f"the objective suggested {param_name!r} as {param_distribution}, but the space declares "
                f"{declared}"
            )
        slot = self._slot_of(trial)
        if slot is None:
            raise PlanExhausted(f"trial {trial.number} is surplus: every slot of the plan is completed or running")
        if slot is _FOREIGN:  # an enqueued trial: parameters it does not fix stay at the baseline
            return self._space.baseline[param_name]
        if param_name not in slot.params:
            conditions = ", ".join(f"{p} in {v}" for p, v in self._space[param_name].when.items())
            raise InactiveParameterError(
                f"the objective suggested {param_name!r}, which does not exist in this configuration "
                f"({conditions} does not hold): suggest it only under its condition, as space.suggest(trial) does"
            )
        return slot.params[param_name]

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        with self._lock:
            slot = self._assignments.pop(_optuna.trial_id_of(trial), None)
        if isinstance(slot, Slot):
            differing = self._off_plan(slot, trial)
            if differing:
                # e.g. a PartialFixedSampler fixed a parameter to another value than planned
                reason = "ran with other values than planned: " + ", ".join(differing)
                try:
                    _optuna.storage_of(study).set_trial_user_attr(_optuna.trial_id_of(trial), FOREIGN_ATTR, reason)
                except Exception:  # noqa: BLE001 - finished under us: it holds no slot then anyway
                    pass

    def _off_plan(self, slot: Slot, trial: FrozenTrial) -> list[str]:
        differing = []
        for name, value in trial.params.items():
            planned = slot.params.get(name)
            dist = self._distributions.get(name)
            if dist is None or not _same(dist, value, planned):
                differing.append(f"{name}={value!r} (planned {planned!r})")
        return differing

    def slot_for(self, trial: FrozenTrial | optuna.trial.BaseTrial) -> Slot | None:
        """The slot a trial runs (``None`` for a surplus trial or one outside the plan)."""
        slot = self._slot_of(trial)
        return slot if isinstance(slot, Slot) else None

    def _slot_of(self, trial: FrozenTrial | optuna.trial.BaseTrial) -> Slot | _Foreign | None:
        """The slot this process assigned to a running trial, else the one its record names."""
        trial_id = _optuna.trial_id_of(trial)
        with self._lock:
            if trial_id in self._assignments:
                return self._assignments[trial_id]
        return self._stored_slot(trial)

    def _stored_slot(self, trial: FrozenTrial | optuna.trial.BaseTrial) -> Slot | _Foreign | None:
        if FOREIGN_ATTR in trial.user_attrs:
            return _FOREIGN
        index = trial.user_attrs.get(SLOT_ATTR)
        if index is None or index == NO_SLOT:
            return None
        return self._slot_at(int(index))

    def _slot_at(self, index: int) -> Slot:
        """Slot ``index`` with its planned values."""
        return self._plan[index]

    def _claim(self, study: Study, trial: FrozenTrial, first_pass: FirstPass) -> Slot | None:
        """Take the lowest free slot once every lower-numbered trial has claimed or been failed."""
        deadline = time.monotonic() + CLAIM_WAIT_S
        delay = 0.005
        last_beat = time.monotonic()
        while True:
            trials = _optuna.read_trials(study)
            status, unclaimed = tally(trials, first_pass, self.n_slots, self.max_retries, below=trial.number)
            now = time.time()
            dead = [t for t in unclaimed if is_dead(t, self.grace_period_s, now)]
            if dead:
                # They must be *marked* dead before this trial decides: a paused claimer that wakes
                # up then finds its trial failed and cannot take a slot too.
                fail_dead_trials(_optuna.storage_of(study), _optuna.study_id_of(study), self.grace_period_s, trials=dead)
                continue
            if not unclaimed:
                choice = self._next_slot(study, status, trials)
                if choice is not _WAIT:
                    return choice
                # The ready slots are all running and later ones depend on them (ablation path
                # rounds): wait, beating so that the claimers behind this trial do not think it dead.
                self._fail_dead_holders(study, trials, trial.number)
                if self.record_heartbeat:  # under hp.run dead holders are failed: waiting ends
                    deadline = time.monotonic() + CLAIM_WAIT_S
                elif time.monotonic() > deadline:
                    return None  # e.g. ask-and-tell asking past a round it has not told: give up
                waiting = True
            elif time.monotonic() > deadline:
                return None  # surplus: never guess a slot while a lower claim is undecided
            else:
                waiting = False
            if (self.record_heartbeat or waiting) and time.monotonic() - last_beat > self.heartbeat_interval_s:
                _optuna.storage_of(study).set_trial_user_attr(_optuna.trial_id_of(trial), HEARTBEAT_ATTR, time.time())
                last_beat = time.monotonic()
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def _next_slot(self, study: Study, status: PlanStatus, trials: list[FrozenTrial]) -> Slot | None | _Wait:
        """The slot a claiming trial takes once every lower claim is decided (``None``: surplus).

        Designs whose later slots depend on earlier results return :data:`_WAIT` while the slots
        they could serve are all being run.
        """
        return self._plan[status.free[0]] if status.free else None

    def _fail_dead_holders(self, study: Study, trials: list[FrozenTrial], number: int) -> None:
        """Fail dead workers' trials, which may hold the slots a waiting claim waits for.

        Only where every trial beats (under :func:`hpablate.run`): a plain ``study.optimize`` trial
        shows no sign of life while its objective runs. A first-pass trial whose worker died before
        it recorded anything holds its slot by number, so every dead trial counts, not only those
        with a recorded slot.
        """
        if self.record_heartbeat:  # fail_dead_trials picks the RUNNING trials past the grace period
            others = [t for t in trials if t.number != number]
            fail_dead_trials(_optuna.storage_of(study), _optuna.study_id_of(study), self.grace_period_s, trials=others)

    def first_pass_slots(self) -> int:
        """How many slots (from slot 0) trials run by their number, without reading the study."""
        return self.n_slots

    def status(self, study: Study) -> PlanStatus:
        """Where the plan stands in ``study``: completed, running, free and abandoned slots."""
        first_pass = self.bind(study)
        trials = _optuna.read_trials(study)
        status, _ = tally(trials, first_pass, self.n_slots, self.max_retries)
        return status

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.update(_lock=None, _bind_lock=None, _assignments={}, _bindings={})
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._bind_lock = threading.RLock()

    def reseed_rng(self) -> None:  # the plan is fixed; nothing random happens per trial
        pass

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._space!r}, n_slots={self.n_slots}, repeats={self._repeats})"


def _same(dist: BaseDistribution, a: Any, b: Any) -> bool:
    """Whether two values of one parameter are the same point of its distribution."""
    try:
        x, y = dist.to_internal_repr(a), dist.to_internal_repr(b)
    except (ValueError, TypeError):
        return False
    return x == y or math.isclose(float(x), float(y), rel_tol=1e-12, abs_tol=0.0)

