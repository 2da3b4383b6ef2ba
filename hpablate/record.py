"""The stored record of an hpablate study: every ``hpablate.*`` key, and its one reader and writer.

A study made by hpablate is an ordinary Optuna study plus user attributes. The study holds the
search space, the design and its settings, and the plan's identity; every trial holds the plan
slot it ran (slot, replicate, seed, the varied parameters and their level, and for Morris points
the trajectory and step). Analysis relies on nothing else, so this module is the one place that
spells the keys, reads them back and says when a record cannot be read.

A study without any of these keys is a plain Optuna study (:func:`read_study_record` returns a
record whose ``space`` is None). A key that is present but unreadable is an error
(:class:`~hpablate.errors.RecordError` naming the key): a damaged record must never turn an
ablation study silently into "plain Optuna, no effects".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hpablate.errors import RecordError, SpaceError
from hpablate.space import SearchSpace

#: Version of the record's layout. Studies written before the version key existed are version 1.
RECORD_VERSION = 1
PREFIX = "hpablate."

# Study user attributes.
RECORD_VERSION_ATTR = "hpablate.record_version"
SPACE_ATTR = "hpablate.space"
DESIGN_ATTR = "hpablate.design"
N_SLOTS_ATTR = "hpablate.n_slots"
PLAN_ID_ATTR = "hpablate.plan_id"
PLAN_OFFSET_ATTR = "hpablate.plan_offset"
#: ``[[first trial number, first slot, n slots], …]``: one first-pass segment per growth of the plan.
PLAN_SEGMENTS_ATTR = "hpablate.plan_segments"
#: Prefix of study attributes that keep a result which arrived after its trial was failed as dead.
LATE_RESULT_PREFIX = "hpablate.late_result."
GRID_GROUPS_ATTR = "hpablate.grid_groups"
MORRIS_LEVELS_ATTR = "hpablate.morris_levels"
MORRIS_TRAJECTORIES_ATTR = "hpablate.morris_trajectories"
STRUCTURAL_MODE_ATTR = "hpablate.structural_mode"
#: Sobol design: base points per replicate, and whether the BA_i matrices (second order) were run.
SOBOL_N_ATTR = "hpablate.sobol_n"
SOBOL_SECOND_ORDER_ATTR = "hpablate.sobol_second_order"
#: Shapley design: the players (component names, in order) and the permutations sampled per
#: replicate (0: every on/off subset was run, so the values are exact up to seed noise).
SHAPLEY_COMPONENTS_ATTR = "hpablate.shapley_components"
SHAPLEY_PERMUTATIONS_ATTR = "hpablate.shapley_permutations"
#: Ablation path: the full target configuration, the moves (parameters flipped on the way, in
#: declaration order) and the objective whose means choose each step.
PATH_TARGET_ATTR = "hpablate.path_target"
PATH_MOVES_ATTR = "hpablate.path_moves"
PATH_OBJECTIVE_ATTR = "hpablate.path_objective"
#: The design settings a study may record, by their short name in :attr:`StudyRecord.settings`.
SETTING_ATTRS = {
    "grid_groups": GRID_GROUPS_ATTR,
    "morris_levels": MORRIS_LEVELS_ATTR,
    "morris_trajectories": MORRIS_TRAJECTORIES_ATTR,
    "structural_mode": STRUCTURAL_MODE_ATTR,
    "sobol_n": SOBOL_N_ATTR,
    "sobol_second_order": SOBOL_SECOND_ORDER_ATTR,
    "shapley_components": SHAPLEY_COMPONENTS_ATTR,
    "shapley_permutations": SHAPLEY_PERMUTATIONS_ATTR,
    "path_target": PATH_TARGET_ATTR,
    "path_moves": PATH_MOVES_ATTR,
    "path_objective": PATH_OBJECTIVE_ATTR,
}

# Trial user attributes (DESIGN_ATTR is shared with the study).
VARIED_ATTR = "hpablate.varied"
LEVEL_ATTR = "hpablate.level"
SLOT_ATTR = "hpablate.slot"
REPLICATE_ATTR = "hpablate.replicate"
SEED_ATTR = "hpablate.seed"
TRAJECTORY_ATTR = "hpablate.trajectory"
STEP_ATTR = "hpablate.step"
UNIT_ATTR = "hpablate.unit"
#: Parent values a design switched so that the varied parameter exists (conditional spaces).
BRANCH_ATTR = "hpablate.branch"
#: Sobol (Saltelli) design: the base point (numbered within its replicate) and the matrix the
#: trial's row comes from: ``A``, ``B``, ``AB`` (A with ``varied[0]`` from B) or ``BA``.
SOBOL_POINT_ATTR = "hpablate.sobol_point"
SOBOL_MATRIX_ATTR = "hpablate.sobol_matrix"
#: Shapley design: the components that are on (every other chosen component is off).
SUBSET_ATTR = "hpablate.subset"
#: Ablation path: the trial's round, the moves kept in the rounds before it, and its role
#: (``source``, ``target`` or ``candidate``).
PATH_ROUND_ATTR = "hpablate.path_round"
PATH_PREFIX_ATTR = "hpablate.path_prefix"
PATH_ROLE_ATTR = "hpablate.path_role"
FAIL_REASON_ATTR = "hpablate.fail_reason"
HEARTBEAT_ATTR = "hpablate.heartbeat"
SURPLUS_ATTR = "hpablate.surplus"
#: Set on a trial that ran outside the plan (enqueued, or fixed to other values than planned).
FOREIGN_ATTR = "hpablate.foreign"
#: ``hpablate.slot`` of a trial that holds no slot: a surplus trial (nothing left to run; pruned
#: before the objective) or a foreign one.
SURPLUS_SLOT = -1
NO_SLOT = SURPLUS_SLOT

#: Fail reasons that blame the worker, not the objective: they do not use up retries.
STALE_REASON = "stale"
INTERRUPTED_REASON = "interrupted"
_WORKER_REASONS = (STALE_REASON + ":", INTERRUPTED_REASON + ":")

DESIGNS = ("baseline", "oat", "grid", "structural", "morris", "sobol", "shapley", "path")
#: Per-trial record columns of :func:`trial_record_frame`, with the key each comes from.
TRIAL_COLUMNS = {
    "design": DESIGN_ATTR,
    "slot": SLOT_ATTR,
    "replicate": REPLICATE_ATTR,
    "seed": SEED_ATTR,
    "varied": VARIED_ATTR,
    "level": LEVEL_ATTR,
    "trajectory": TRAJECTORY_ATTR,
    "step": STEP_ATTR,
    "sobol_point": SOBOL_POINT_ATTR,
    "sobol_matrix": SOBOL_MATRIX_ATTR,
    "subset": SUBSET_ATTR,
    "path_round": PATH_ROUND_ATTR,
    "path_prefix": PATH_PREFIX_ATTR,
    "path_role": PATH_ROLE_ATTR,
}
_INT_COLUMNS = ("slot", "replicate", "seed", "trajectory", "step", "sobol_point", "path_round")
_TUPLE_COLUMNS = ("varied", "subset", "path_prefix")


@dataclass(frozen=True)
class StudyRecord:
    """What an hpablate study records about itself.

    Attributes
    ----------
    space : SearchSpace or None
        The stored search space; None for a plain Optuna study.
    design : str or None
        One of :data:`DESIGNS` (None when not recorded).
    n_slots, plan_id, plan_offset : int, str, int or None
        The plan's identity: its size, its hash and the number of trials the study held when
        the plan was bound.
    settings : dict
        Design settings by short name (``grid_groups``, ``morris_levels``, …), only those stored.
    version : int
        The record's layout version.
    """

    space: SearchSpace | None = None
    design: str | None = None
    n_slots: int | None = None
    plan_id: str | None = None
    plan_offset: int | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    version: int = RECORD_VERSION

    @property
    def grid_groups(self) -> list[list[str]]:
        """The grid design's groups of crossed parameters (empty when not a grid study)."""
        return [list(g) for g in self.settings.get("grid_groups") or []]

    def to_user_attrs(self) -> dict[str, Any]:
        """The study user attributes that store this record (the inverse of :func:`read_study_record`)."""
        attrs: dict[str, Any] = {RECORD_VERSION_ATTR: self.version}
        optional = {SPACE_ATTR: None if self.space is None else self.space.to_json(), DESIGN_ATTR: self.design,
                    N_SLOTS_ATTR: self.n_slots, PLAN_ID_ATTR: self.plan_id, PLAN_OFFSET_ATTR: self.plan_offset}
        attrs.update({k: v for k, v in optional.items() if v is not None})
        attrs.update({SETTING_ATTRS[k]: v for k, v in self.settings.items()})
        return attrs


@dataclass(frozen=True)
class TrialRecord:
    """The plan slot a trial ran, as recorded on the trial.

    Attributes
    ----------
    design : str or None
    slot, replicate, seed : int or None
        Plan index (``SURPLUS_SLOT`` for a surplus trial), replicate and its seed.
    varied : tuple of str
        Parameters changed from the baseline (Morris: from the previous point).
    level : Any
        The varied value (a list for a grid cell), or None.
    trajectory, step : int or None
        Morris trajectory (numbered within its replicate) and position on it.
    unit : tuple of float or None
        Morris or Sobol unit-cube coordinates of the point, when recorded.
    sobol_point, sobol_matrix : int, str or None
        Sobol design: base point (within its replicate) and matrix (``A``, ``B``, ``AB``, ``BA``).
    subset : tuple of str or None
        Shapley design: the components that are on.
    path_round, path_prefix, path_role : int, tuple of str, str or None
        Ablation path: the round, the moves kept before it, and ``source``/``target``/``candidate``.
    """

    design: str | None = None
    slot: int | None = None
    replicate: int | None = None
    seed: int | None = None
    varied: tuple[str, ...] = ()
    level: Any = None
    trajectory: int | None = None
    step: int | None = None
    unit: tuple[float, ...] | None = None
    sobol_point: int | None = None
    sobol_matrix: str | None = None
    subset: tuple[str, ...] | None = None
    path_round: int | None = None
    path_prefix: tuple[str, ...] | None = None
    path_role: str | None = None

    @property
    def surplus(self) -> bool:
        """True for a trial that found nothing left to run."""
        return self.slot == SURPLUS_SLOT

    def to_user_attrs(self) -> dict[str, Any]:
        """The trial user attributes that store this record (the inverse of :func:`read_trial_record`)."""
        attrs: dict[str, Any] = {DESIGN_ATTR: self.design, VARIED_ATTR: list(self.varied), LEVEL_ATTR: self.level,
                                 SLOT_ATTR: self.slot, REPLICATE_ATTR: self.replicate, SEED_ATTR: self.seed}
        if self.trajectory is not None:
            attrs.update({TRAJECTORY_ATTR: self.trajectory, STEP_ATTR: self.step})
        if self.unit is not None:
            attrs[UNIT_ATTR] = list(self.unit)
        if self.sobol_point is not None:
            attrs.update({SOBOL_POINT_ATTR: self.sobol_point, SOBOL_MATRIX_ATTR: self.sobol_matrix})
        if self.subset is not None:
            attrs[SUBSET_ATTR] = list(self.subset)
        if self.path_round is not None:
            attrs.update({PATH_ROUND_ATTR: self.path_round, PATH_PREFIX_ATTR: list(self.path_prefix or ()),
                          PATH_ROLE_ATTR: self.path_role})
        if self.surplus:
            attrs[SURPLUS_ATTR] = True
        return attrs


def is_worker_failure(reason: Any) -> bool:
    """Whether a stored fail reason blames the worker (killed, paused, interrupted).

    A FAIL trial without any reason was failed from outside hpablate's worker loop (its worker died
    before it could say why), so it counts as a worker failure too.

    Examples
    --------
    >>> is_worker_failure("stale: no heartbeat for 61 s"), is_worker_failure("ValueError: x")
    (True, False)
    """
    return reason is None or (isinstance(reason, str) and reason.startswith(_WORKER_REASONS))


def read_study_record(user_attrs: Mapping[str, Any]) -> StudyRecord:
    """Read the study record from a study's user attributes.

    Parameters
    ----------
    user_attrs : mapping
        ``study.user_attrs`` (or :attr:`hpablate.analysis.StudyData.user_attrs`).

    Returns
    -------
    StudyRecord
        ``space`` is None when the study stores none (a plain Optuna study).

    Raises
    ------
    hpablate.errors.RecordError
        When a key is present but cannot be read (the message names the key and the value).

    Examples
    --------
    >>> import hpablate as hp
    >>> space = hp.SearchSpace(hp.Float("lr", 1e-4, 1e-1, log=True))
    >>> rec = read_study_record({SPACE_ATTR: space.to_json(), DESIGN_ATTR: "oat"})
    >>> rec.space == space, rec.design
    (True, 'oat')
    >>> read_study_record({}).space is None
    True
    >>> read_study_record({SPACE_ATTR: "{not json"})
    Traceback (most recent call last):
    ...
    hpablate.errors.RecordError: study attribute 'hpablate.space' cannot be read: search-space JSON does not parse: ...
    """
    version = _read(user_attrs, RECORD_VERSION_ATTR, _int, default=RECORD_VERSION)
    if version != RECORD_VERSION:
        raise RecordError(f"study attribute {RECORD_VERSION_ATTR!r} is {version!r}; this hpablate reads "
                          f"record version {RECORD_VERSION} (upgrade hpablate to read this study)")
    settings = {name: _read(user_attrs, key, _SETTING_READERS[name]) for name, key in SETTING_ATTRS.items()
                if user_attrs.get(key) is not None}
    return StudyRecord(
        space=_read(user_attrs, SPACE_ATTR, _space),
        design=_read(user_attrs, DESIGN_ATTR, _design),
        n_slots=_read(user_attrs, N_SLOTS_ATTR, _int),
        plan_id=_read(user_attrs, PLAN_ID_ATTR, _str),
        plan_offset=_read(user_attrs, PLAN_OFFSET_ATTR, _int),
        settings=settings,
        version=version,
    )


def read_trial_record(user_attrs: Mapping[str, Any]) -> TrialRecord | None:
    """Read the plan record of one trial; None for a trial hpablate did not plan.

    Raises
    ------
    hpablate.errors.RecordError
        When a key is present but holds a value of the wrong type.

    Examples
    --------
    >>> rec = read_trial_record({DESIGN_ATTR: "oat", VARIED_ATTR: ["lr"], LEVEL_ATTR: 0.1, SLOT_ATTR: 3,
    ...                          REPLICATE_ATTR: 0, SEED_ATTR: 7})
    >>> rec.varied, rec.slot, rec.replicate
    (('lr',), 3, 0)
    >>> read_trial_record({"val_acc": 0.9}) is None
    True
    """
    if user_attrs.get(DESIGN_ATTR) is None and user_attrs.get(SLOT_ATTR) is None:
        return None
    unit = _read(user_attrs, UNIT_ATTR, _floats)
    subset = _read(user_attrs, SUBSET_ATTR, _names, "trial")
    prefix = _read(user_attrs, PATH_PREFIX_ATTR, _names, "trial")
    return TrialRecord(
        design=_read(user_attrs, DESIGN_ATTR, _design, "trial"),
        slot=_read(user_attrs, SLOT_ATTR, _int, "trial"),
        replicate=_read(user_attrs, REPLICATE_ATTR, _int, "trial"),
        seed=_read(user_attrs, SEED_ATTR, _int, "trial"),
        varied=tuple(_read(user_attrs, VARIED_ATTR, _names, "trial") or ()),
        level=user_attrs.get(LEVEL_ATTR),
        trajectory=_read(user_attrs, TRAJECTORY_ATTR, _int, "trial"),
        step=_read(user_attrs, STEP_ATTR, _int, "trial"),
        unit=None if unit is None else tuple(unit),
        sobol_point=_read(user_attrs, SOBOL_POINT_ATTR, _int, "trial"),
        sobol_matrix=_read(user_attrs, SOBOL_MATRIX_ATTR, _str, "trial"),
        subset=None if subset is None else tuple(subset),
        path_round=_read(user_attrs, PATH_ROUND_ATTR, _int, "trial"),
        path_prefix=None if prefix is None else tuple(prefix),
        path_role=_read(user_attrs, PATH_ROLE_ATTR, _str, "trial"),
    )


def trial_record_frame(attr: Any, index: Any) -> Any:
    """The per-trial record as columns (``slot, replicate, seed, design, varied, level, trajectory, step,
    sobol_point, sobol_matrix, subset``).

    The tabular form of :func:`read_trial_record` for many trials at once.

    Parameters
    ----------
    attr : callable
        ``attr(key) -> Series or None``: the column of a trial user attribute (as
        :meth:`hpablate.analysis.StudyData.attr`), aligned with ``index``.
    index : pandas.Index
        The rows (trials).

    Returns
    -------
    DataFrame
        Integer columns are nullable ``Int64`` (missing: a trial without that key); ``varied`` and
        ``subset`` hold tuples (``subset``: None when not recorded), the others the stored values.

    Raises
    ------
    hpablate.errors.RecordError
        When an integer column holds something that is not an integer.
    """
    import pandas as pd

    out = pd.DataFrame(index=index)
    for name, key in TRIAL_COLUMNS.items():
        col = attr(key)
        if name in _INT_COLUMNS:
            out[name] = _int_column(col, key, index)
        elif name in _TUPLE_COLUMNS:
            missing = () if name == "varied" else None
            out[name] = pd.Series([tuple(v) if isinstance(v, (list, tuple)) else missing for v in
                                   (col if col is not None else [None] * len(index))], index=index, dtype=object)
        else:
            out[name] = col.to_numpy() if col is not None else pd.Series([None] * len(index), index=index, dtype=object)
    return out


def _int_column(col: Any, key: str, index: Any) -> Any:
    import pandas as pd

    if col is None:
        return pd.array([pd.NA] * len(index), dtype="Int64")
    values = col.to_numpy()
    present = np.array([not (v is None or (isinstance(v, float) and v != v)) for v in values], dtype=bool)
    if present.any():
        bad = [v for v in values[present] if isinstance(v, bool) or not isinstance(v, (int, float, np.number))
               or not float(v).is_integer()]
        if bad:
            raise RecordError(f"trial attribute {key!r} must hold integers; found {bad[0]!r}")
    ints = np.zeros(len(values), dtype=np.int64)
    ints[present] = [int(v) for v in values[present]]
    return pd.arrays.IntegerArray(ints, ~present)


def _read(attrs: Mapping[str, Any], key: str, parse: Any, where: str = "study", default: Any = None) -> Any:
    value = attrs.get(key)
    if value is None:
        return default
    try:
        return parse(value)
    except (SpaceError, TypeError, ValueError, KeyError) as exc:
        raise RecordError(f"{where} attribute {key!r} cannot be read: {exc}") from None


def _space(value: Any) -> SearchSpace:
    if isinstance(value, str):
        return SearchSpace.from_json(value)
    if isinstance(value, Mapping):
        return SearchSpace.from_dict(value)
    raise TypeError(f"expected the space as JSON text, got {type(value).__name__} {value!r}")


def _design(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a design name, got {value!r}")
    return value


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not float(value).is_integer():
        raise TypeError(f"expected an integer, got {value!r}")
    return int(value)


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value


def _names(value: Any) -> list[str]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"expected a list of parameter names, got {value!r}")
    return list(value)


def _groups(value: Any) -> list[list[str]]:
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"expected a list of parameter groups, got {value!r}")
    return [_names(g) for g in value]


def _floats(value: Any) -> list[float]:
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise TypeError(f"expected a list of numbers, got {value!r}")
    return [float(v) for v in value]


def _mapping(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise TypeError(f"expected a mapping of parameter values, got {value!r}")
    return dict(value)


def _bool(value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"expected true or false, got {value!r}")
    return bool(value)


_SETTING_READERS = {"grid_groups": _groups, "morris_levels": _int, "morris_trajectories": _int,
                    "structural_mode": _str, "sobol_n": _int, "sobol_second_order": _bool,
                    "shapley_components": _names, "shapley_permutations": _int, "path_target": _mapping,
                    "path_moves": _names, "path_objective": _int}
