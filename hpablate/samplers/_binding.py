"""Binding a plan to a study: record it, check the one stored, or grow it by replicates.

The study's user attributes hold the space, the design, the plan's identity and its *first pass*:
which trial numbers run which slots without reading the study (see
:class:`~hpablate.samplers._ledger.FirstPass`). The plan identity is written last, so a process
that sees it sees the whole record.
"""

from __future__ import annotations

import copy
import time
from typing import TYPE_CHECKING, Any

from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from hpablate import _optuna
from hpablate.errors import PlanMismatchError
from hpablate.record import (
    DESIGN_ATTR,
    N_SLOTS_ATTR,
    PLAN_ID_ATTR,
    PLAN_OFFSET_ATTR,
    PLAN_SEGMENTS_ATTR,
    RECORD_VERSION,
    RECORD_VERSION_ATTR,
    SPACE_ATTR,
)
from hpablate.samplers._ledger import FirstPass
from hpablate.space import SearchSpace

if TYPE_CHECKING:
    from hpablate.samplers._plan_sampler import PlanSampler


def bind_plan(sampler: PlanSampler, study: Study, trial: FrozenTrial | None) -> FirstPass:
    """Record ``sampler``'s plan on ``study``, check the one stored, or grow it; its first pass."""
    storage, study_id = _optuna.storage_of(study), _optuna.study_id_of(study)
    attrs = storage.get_study_user_attrs(study_id)
    if PLAN_ID_ATTR not in attrs or _grows(sampler, attrs):
        offset = storage.get_n_trials(study_id) if trial is None else _first_new_trial(sampler, study, trial)
        # Another process may have bound the plan meanwhile: its attributes are written before
        # its first trial, so a re-read after counting sees them whenever its trials are counted.
        attrs = storage.get_study_user_attrs(study_id)
        if PLAN_ID_ATTR not in attrs:
            _check_space(sampler, attrs)
            new_attrs = {
                RECORD_VERSION_ATTR: RECORD_VERSION,
                SPACE_ATTR: sampler._space.to_json(),
                DESIGN_ATTR: sampler._plan.design,
                N_SLOTS_ATTR: sampler.n_slots,
                PLAN_OFFSET_ATTR: offset,
                **sampler._study_attrs(),
            }
            if sampler.first_pass_slots() != sampler.n_slots:  # later slots are claimed, not numbered
                new_attrs[PLAN_SEGMENTS_ATTR] = [[offset, 0, sampler.first_pass_slots()]]
            _write_plan(sampler, storage, study_id, new_attrs)
        elif _grows(sampler, attrs):
            segments = [*_segments(attrs), [offset, int(attrs[N_SLOTS_ATTR]), sampler.n_slots - int(attrs[N_SLOTS_ATTR])]]
            _write_plan(sampler, storage, study_id, {N_SLOTS_ATTR: sampler.n_slots, PLAN_SEGMENTS_ATTR: segments})
        attrs = storage.get_study_user_attrs(study_id)
    _check_space(sampler, attrs)
    if attrs.get(PLAN_ID_ATTR) != sampler._plan_id:
        raise PlanMismatchError(_mismatch(sampler, study, attrs))
    return FirstPass(tuple(tuple(int(v) for v in segment) for segment in _segments(attrs)))


def _write_plan(sampler: PlanSampler, storage: Any, study_id: int, attrs: dict[str, Any]) -> None:
    for attr_key, value in attrs.items():
        storage.set_study_user_attr(study_id, attr_key, value)
    storage.set_study_user_attr(study_id, PLAN_ID_ATTR, sampler._plan_id)  # last: the plan is complete


def _stored_repeats(sampler: PlanSampler, attrs: dict[str, Any]) -> int | None:
    """How many replicates of *this* design the study holds, or ``None`` if it holds another."""
    if not sampler.grows_by_replicates:
        return None
    per_replicate, left = divmod(sampler.n_slots, sampler._repeats)
    stored = attrs.get(N_SLOTS_ATTR)
    if left or not isinstance(stored, int) or stored % per_replicate:
        return None
    repeats = stored // per_replicate
    if repeats < 1 or repeats == sampler._repeats:
        return None
    other = copy.copy(sampler)
    other._repeats = repeats
    return repeats if other._build_plan().plan_id == attrs.get(PLAN_ID_ATTR) else None


def _grows(sampler: PlanSampler, attrs: dict[str, Any]) -> bool:
    if not sampler.grows_by_replicates or attrs.get(PLAN_ID_ATTR) in (None, sampler._plan_id):
        return False
    stored = _stored_repeats(sampler, attrs)
    return stored is not None and stored < sampler._repeats


def _mismatch(sampler: PlanSampler, study: Study, attrs: dict[str, Any]) -> str:
    stored = _stored_repeats(sampler, attrs)
    if stored is not None and stored > sampler._repeats:
        return (
            f"study {study.study_name!r} holds this {sampler._plan.design} design with {stored} replicates; "
            f"{sampler._repeats} would drop results: give repeats >= {stored} (more replicates grow the study)"
        )
    return (
        f"study {study.study_name!r} holds another plan ({attrs.get(DESIGN_ATTR)} design, "
        f"{attrs.get(N_SLOTS_ATTR)} slots) than this {sampler._plan.design} sampler "
        f"({sampler.n_slots} slots): use a new study name to run a different design or seed"
    )


def _first_new_trial(sampler: PlanSampler, study: Study, trial: FrozenTrial) -> int:
    """The lowest-numbered trial that, like ``trial``, was just created and is still blank.

    With ``n_jobs`` threads several trials are created before the first one binds the plan;
    starting the plan at the lowest of them keeps them all inside it.
    """
    now = time.time()
    first = trial.number
    for t in _optuna.read_trials(study, states=(TrialState.RUNNING,)):
        blank = not t.user_attrs and not t.params and "fixed_params" not in t.system_attrs
        recent = t.datetime_start is not None and now - t.datetime_start.timestamp() < sampler.grace_period_s
        if t.number < first and blank and recent:
            first = t.number
    return first


def _check_space(sampler: PlanSampler, attrs: dict[str, Any]) -> None:
    stored = attrs.get(SPACE_ATTR)
    if stored is not None and SearchSpace.from_json(stored) != sampler._space:
        raise PlanMismatchError(
            "the study was made with another search space than this sampler's "
            f"(stored parameters: {SearchSpace.from_json(stored).names}; "
            f"sampler: {sampler._space.names})"
        )


def _segments(attrs: dict[str, Any]) -> list[list[int]]:
    stored = attrs.get(PLAN_SEGMENTS_ATTR)
    if stored:
        return [list(segment) for segment in stored]
    return [[int(attrs.get(PLAN_OFFSET_ATTR, 0)), 0, int(attrs[N_SLOTS_ATTR])]]
