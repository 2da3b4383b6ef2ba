"""Which slot each stored trial holds, and where a plan stands: the bookkeeping of a plan sampler.

A trial holds a slot when

* it recorded the slot (``hpablate.slot``) in ``before_trial`` and is not marked foreign, or
* it is a first-pass trial (see :class:`FirstPass`) still RUNNING that has not written its record
  yet and was not enqueued with fixed parameters: it is being set up and will take slot ``k``.

A finished trial without a record (added with ``study.add_trial``, or failed before it could
record anything) holds nothing, so its slot is run again by a later trial.

A trial shows a *sign of life* by its heartbeat (``hpablate.heartbeat``) or, before its first
heartbeat, by its start time. Once that sign is older than the grace period the trial counts as
dead. Only a dead trial that has been *marked* FAIL frees its slot: marking is atomic in every
storage, so a paused worker that wakes up can no longer complete the slot another trial took.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from optuna.trial import FrozenTrial, TrialState

from hpablate.record import FAIL_REASON_ATTR, FOREIGN_ATTR, NO_SLOT, SLOT_ATTR, is_worker_failure

#: Worker deaths (kills, pauses past the grace period, interrupts) after which a slot is given up:
#: a configuration that kills its worker every time (out of memory, a segfault) must not loop.
MAX_WORKER_FAILURES = 10


@dataclass
class PlanStatus:
    """Where a plan stands in a study.

    Attributes
    ----------
    n_slots : int
        Slots in the plan.
    completed, pruned, running, free, abandoned : list of int
        Slots with a COMPLETE trial; with a PRUNED one (a pruner's verdict is final: the slot is
        not rerun); being run by a trial that is not marked FAIL; waiting to be run; given up
        (the objective failed more than ``max_retries`` times, or the worker died
        :data:`MAX_WORKER_FAILURES` times).
    failures : dict
        Failed attempts per slot that the objective caused (raised, returned NaN, off-plan).
    worker_failures : dict
        Failed attempts per slot whose worker died, paused too long or was interrupted.
    """

    n_slots: int
    completed: list[int] = field(default_factory=list)
    pruned: list[int] = field(default_factory=list)
    running: list[int] = field(default_factory=list)
    free: list[int] = field(default_factory=list)
    abandoned: list[int] = field(default_factory=list)
    failures: dict[int, int] = field(default_factory=dict)
    worker_failures: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class FirstPass:
    """Which trial numbers run which slots without reading the study.

    One segment ``(first trial number, first slot, number of slots)`` for the plan as first bound,
    and one more each time the study grew by replicates (``repeats`` raised on a bound study).

    Examples
    --------
    >>> first_pass = FirstPass(((0, 0, 10), (14, 10, 5)))
    >>> first_pass.slot_of(3), first_pass.slot_of(12), first_pass.slot_of(16), first_pass.last_number
    (3, None, 12, 18)
    """

    segments: tuple[tuple[int, int, int], ...]

    @property
    def start(self) -> int:
        """The first trial number that belongs to the plan."""
        return self.segments[0][0]

    @property
    def last_number(self) -> int:
        """The last trial number of the first pass."""
        return max(first + count - 1 for first, _, count in self.segments)

    def slot_of(self, number: int) -> int | None:
        """The slot trial ``number`` runs in the first pass, or ``None`` if it must claim one."""
        for first, slot, count in self.segments:
            if first <= number < first + count:
                return slot + number - first
        return None


def held_slot(trial: FrozenTrial, first_pass: FirstPass) -> int | None:
    """The slot ``trial`` holds, ``NO_SLOT`` if it holds none, ``None`` while it is still claiming."""
    if trial.number < first_pass.start:
        return NO_SLOT
    recorded = trial.user_attrs.get(SLOT_ATTR)
    if recorded is not None:
        return int(recorded)
    if trial.state != TrialState.RUNNING or "fixed_params" in trial.system_attrs:
        return NO_SLOT
    return first_pass.slot_of(trial.number)


def tally(
    trials: Iterable[FrozenTrial],
    first_pass: FirstPass,
    n_slots: int,
    max_retries: int,
    *,
    below: int | None = None,
) -> tuple[PlanStatus, list[FrozenTrial]]:
    """Count slot states over ``trials``.

    Returns the status and the RUNNING trials numbered below ``below`` that have not recorded a
    claim yet (a claiming trial waits for them, or for them to be marked dead).
    """
    completed: set[int] = set()
    pruned: set[int] = set()
    running: set[int] = set()
    failures: dict[int, int] = {}
    deaths: dict[int, int] = {}
    unclaimed: list[FrozenTrial] = []
    for t in trials:
        if below is not None and t.number >= below:
            continue
        index = held_slot(t, first_pass)
        if index is None:
            unclaimed.append(t)
            continue
        if not 0 <= index < n_slots:
            continue
        if FOREIGN_ATTR in t.user_attrs:  # ran with other values than planned (off-plan)
            if t.state.is_finished():
                failures[index] = failures.get(index, 0) + 1
            else:
                running.add(index)
            continue
        if t.state == TrialState.COMPLETE:
            completed.add(index)
        elif t.state == TrialState.PRUNED:
            pruned.add(index)
        elif t.state in (TrialState.RUNNING, TrialState.WAITING):
            running.add(index)
        elif t.state == TrialState.FAIL:
            counter = deaths if is_worker_failure(t.user_attrs.get(FAIL_REASON_ATTR)) else failures
            counter[index] = counter.get(index, 0) + 1
    status = PlanStatus(n_slots=n_slots, failures=failures, worker_failures=deaths)
    for index in range(n_slots):
        if index in completed:
            status.completed.append(index)
        elif index in pruned:
            status.pruned.append(index)
        elif index in running:
            status.running.append(index)
        elif failures.get(index, 0) > max_retries or deaths.get(index, 0) >= MAX_WORKER_FAILURES:
            status.abandoned.append(index)
        else:
            status.free.append(index)
    return status, unclaimed
