"""Plans: a design is a finite, ordered list of planned configurations with their labels.

A :class:`Plan` is a plain, iterable, testable object (like scikit-learn's ``ParameterGrid``),
separate from the sampler that serves it to Optuna trials. Slots are ordered replicate-major, so
an interrupted study has whole replicates first, and every configuration of one replicate shares
that replicate's seed (common random numbers: paired differences have less noise).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hpablate.errors import PlanTooLargeError, SpaceError
from hpablate.record import DESIGNS, PREFIX, TrialRecord
from hpablate.space import SearchSpace

#: The most slots a plan may hold. A plan is built in memory before anything runs, and a study of
#: more trials than this is beyond what an ablation needs: such a design is refused up front.
MAX_SLOTS = 1_000_000


def check_plan_size(n_slots: int, what: str) -> None:
    """Refuse a design of more than :data:`MAX_SLOTS` slots before building it.

    Examples
    --------
    >>> check_plan_size(3000 * 3000, "the grid over ('a', 'b')")
    Traceback (most recent call last):
    ...
    hpablate.errors.PlanTooLargeError: the grid over ('a', 'b') would plan 9,000,000 slots; hpablate runs at most 1,000,000: use fewer levels or a Morris design
    """
    if n_slots > MAX_SLOTS:
        raise PlanTooLargeError(
            f"{what} would plan {n_slots:,} slots; hpablate runs at most {MAX_SLOTS:,}: use fewer levels or a Morris design"
        )


@dataclass(frozen=True)
class Config:
    """One planned configuration of a design, before replication.

    Attributes
    ----------
    params : dict
        A value for every parameter of the space.
    design : str
        One of ``baseline``, ``oat``, ``grid``, ``structural``, ``morris``, ``sobol``, ``shapley``.
    varied : tuple of str
        The parameters changed from the baseline (grid: the group; morris: the one changed from
        the previous point of the trajectory).
    level : Any
        The varied value (a list of values for a grid cell), or ``None``.
    extra : dict
        Design-specific labels (``trajectory``, ``step`` and ``unit`` for Morris points;
        ``sobol_point``, ``sobol_matrix`` and ``unit`` for Sobol points; ``subset`` for Shapley).
    """

    params: Mapping[str, Any]
    design: str
    varied: tuple[str, ...] = ()
    level: Any = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def key(self) -> str:
        """A canonical string of the parameter values, to detect repeated configurations."""
        return json.dumps([[k, repr(v)] for k, v in sorted(self.params.items())])


@dataclass(frozen=True)
class Slot:
    """One unit of work: a configuration in one replicate, run by exactly one completed trial."""

    index: int
    replicate: int
    seed: int
    config: Config

    @property
    def params(self) -> Mapping[str, Any]:
        return self.config.params

    def user_attrs(self) -> dict[str, Any]:
        """The ``hpablate.*`` trial user attributes that record this slot on its trial."""
        extra = dict(self.config.extra)
        record = TrialRecord(
            design=self.config.design,
            slot=self.index,
            replicate=self.replicate,
            seed=self.seed,
            varied=tuple(self.config.varied),
            level=self.config.level,
            trajectory=extra.pop("trajectory", None),
            step=extra.pop("step", None),
            unit=extra.pop("unit", None),
            sobol_point=extra.pop("sobol_point", None),
            sobol_matrix=extra.pop("sobol_matrix", None),
            subset=extra.pop("subset", None),
            path_round=extra.pop("path_round", None),
            path_prefix=extra.pop("path_prefix", None),
            path_role=extra.pop("path_role", None),
        )
        attrs = record.to_user_attrs()
        attrs.update({f"{PREFIX}{k}": v for k, v in extra.items()})
        return attrs


def replicate_seeds(seed: int, repeats: int) -> list[int]:
    """Distinct 31-bit seeds for ``repeats`` replicates, derived from one ``seed``."""
    if isinstance(repeats, bool) or not isinstance(repeats, (int, np.integer)) or repeats < 1:
        raise SpaceError(f"repeats must be a positive integer, got {repeats!r}")
    state = np.random.SeedSequence(int(seed)).generate_state(int(repeats) * 2, dtype=np.uint32)
    seeds: list[int] = []
    for value in state:  # generate_state may repeat a value in principle; keep them distinct
        value = int(value) & 0x7FFFFFFF
        if value not in seeds:
            seeds.append(value)
        if len(seeds) == repeats:
            break
    return seeds


class Plan:
    """An ordered list of slots over a search space.

    Parameters
    ----------
    space : SearchSpace
        The shared search space.
    replicates : sequence of sequence of Config
        The configurations of each replicate, in run order. Usually every replicate has the same
        configurations (Morris designs draw new trajectories per replicate).
    seeds : sequence of int
        One seed per replicate.
    design : str
        The design's name (stored on the study).
    options : dict, optional
        The design's settings, part of the plan's identity (:attr:`plan_id`).

    Examples
    --------
    >>> import hpablate as hp
    >>> space = hp.SearchSpace(hp.Int("n", 1, 3, baseline=2))
    >>> sampler = hp.OneAtATimeSampler(space, repeats=2)
    >>> len(sampler.plan_object)
    6
    """

    def __init__(
        self,
        space: SearchSpace,
        replicates: Sequence[Sequence[Config]],
        seeds: Sequence[int],
        design: str,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        if len(replicates) != len(seeds):
            raise ValueError("one seed per replicate is needed")
        self.space = space
        self.design = design
        self.options = dict(options or {})
        check_plan_size(sum(len(configs) for configs in replicates), f"the {design} design")
        slots: list[Slot] = []
        for replicate, (configs, seed) in enumerate(zip(replicates, seeds)):
            for config in configs:
                slots.append(Slot(len(slots), replicate, int(seed), config))
        if not slots:
            raise SpaceError(f"the {design} design has no configurations to run")
        self._slots = slots

    def __len__(self) -> int:
        return len(self._slots)

    def __iter__(self) -> Iterator[Slot]:
        return iter(self._slots)

    def __getitem__(self, index: int) -> Slot:
        return self._slots[index]

    @property
    def n_replicates(self) -> int:
        return self._slots[-1].replicate + 1

    @property
    def plan_id(self) -> str:
        """A short hash of the space, design, options and every slot: identifies the plan."""
        payload = json.dumps(
            {
                "space": self.space.to_dict(),
                "design": self.design,
                "options": self.options,
                "slots": [[s.replicate, s.seed, s.config.key()] for s in self._slots],
            },
            sort_keys=True,
            default=repr,
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def to_frame(self) -> pd.DataFrame:
        """The plan as a DataFrame: slot, replicate, seed, design, varied, level, every parameter."""
        rows = []
        for slot in self._slots:
            row: dict[str, Any] = {
                "slot": slot.index,
                "replicate": slot.replicate,
                "seed": slot.seed,
                "design": slot.config.design,
                "varied": list(slot.config.varied),
                "level": slot.config.level,
            }
            row.update(slot.config.extra)
            row.update(slot.config.params)
            rows.append(row)
        return pd.DataFrame(rows)


def deduplicate(configs: Sequence[Config]) -> list[Config]:
    """Drop configurations whose parameter values repeat an earlier one (the first label wins)."""
    seen: set[str] = set()
    unique: list[Config] = []
    for config in configs:
        key = config.key()
        if key not in seen:
            seen.add(key)
            unique.append(config)
    return unique


def baseline_config(space: SearchSpace) -> Config:
    """The baseline configuration: every parameter at its baseline."""
    return Config(params=space.active(space.baseline), design="baseline")


def replicated(space: SearchSpace, configs: Sequence[Config], design: str, repeats: int, seed: int, **options: Any) -> Plan:
    """The same configurations in every replicate, each replicate with its own seed."""
    seeds = replicate_seeds(seed, repeats)
    return Plan(space, [list(configs)] * len(seeds), seeds, design, {**options, "repeats": repeats})
