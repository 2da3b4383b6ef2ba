"""The runner's access to Optuna internals, in one place.

Optuna 5 has no public API for a study's storage and ids, for reading trials without copying
them, or for reopening a study over a wrapped storage; the runner needs all of these. Should a
future Optuna move them, this module is the one to change.
"""

from __future__ import annotations

from collections.abc import Container

import optuna
from optuna.storages import BaseStorage
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState


def storage_of(study: Study) -> BaseStorage:
    """The storage object a study reads and writes."""
    return study._storage


def study_id_of(study: Study) -> int:
    """The storage's id of a study."""
    return study._study_id


def trial_id_of(trial: optuna.trial.BaseTrial | FrozenTrial) -> int:
    """The storage's id of a trial."""
    return trial._trial_id


def read_trials(study: Study, states: Container[TrialState] | None = None) -> list[FrozenTrial]:
    """All trials of a study (optionally in some states), without Optuna's defensive copies."""
    return study._storage.get_all_trials(study._study_id, deepcopy=False, states=states)


def count_trials(study: Study) -> int:
    """Number of trials in a study (one COUNT query on RDB storages)."""
    return study._storage.get_n_trials(study._study_id)


def reopen(study: Study, storage: BaseStorage) -> Study:
    """The same study, read and written through ``storage`` (e.g. a retrying wrapper of its own).

    Examples
    --------
    >>> study = optuna.create_study(study_name="s")
    >>> reopen(study, study._storage).study_name
    's'
    """
    return optuna.load_study(study_name=study.study_name, storage=storage, sampler=study.sampler, pruner=study.pruner)
