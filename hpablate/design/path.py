"""Ablation path (Fawcett & Hoos, 2016): from a source configuration towards a target, greedily.

The *moves* are the parameters whose value differs between the source (the space's baseline) and
the target and that exist in both. Round ``r`` starts from the source with the moves chosen in
rounds ``0 … r-1`` flipped to their target values and evaluates flipping each remaining move; the
move whose configuration has the best mean over replicates is kept. With ``m`` moves the path has
``m`` steps; its last step reaches the target, which round 0 already ran, so the rounds run
``m, m-1, …, 2`` candidates (plus the source and the target in round 0).

Conditional spaces: a parameter that exists in only one of source and target is no move of its
own: it appears (at its target value) or disappears when the move of the parent that governs it is
flipped. A parameter inactive at the source but active in the target takes its target value as
soon as it exists.

Slots are ordered round-major (round 0 first, replicate by replicate inside a round), so the
first pass of trial numbers covers round 0 only; the slots of later rounds are known once the
rounds before them are decided (see :class:`hpablate.AblationPathSampler`).

Examples
--------
>>> import hpablate as hp
>>> space = hp.SearchSpace(hp.Float("a", 0, 1, baseline=0), hp.Float("b", 0, 1, baseline=0),
...                        hp.Float("c", 0, 1, baseline=0))
>>> plan = hp.design.ablation_path(space, {"a": 1, "b": 1, "c": 1}, repeats=2)
>>> plan.moves, plan.round_sizes, len(plan)   # (source, target, 3 flips), then 2 flips; x2 seeds
(('a', 'b', 'c'), (5, 2), 14)
>>> plan.config(1, 0, ["b"]).params           # round 1, first remaining move after b was kept
{'a': 1.0, 'b': 1.0, 'c': 0.0}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hpablate.design._plan import Config, Plan, Slot, check_plan_size, replicate_seeds
from hpablate.errors import SpaceError
from hpablate.space import SearchSpace, _plain, same_value

#: ``Config.extra`` keys of a path slot: its round, the moves flipped before it, and its role.
ROUND = "path_round"
PREFIX = "path_prefix"
ROLE = "path_role"
SOURCE, TARGET, CANDIDATE = "source", "target", "candidate"


def path_target(space: SearchSpace, target: Mapping[str, Any]) -> dict[str, Any]:
    """The full target configuration: ``target``'s values over the baseline, restricted to what exists.

    Raises
    ------
    SpaceError
        For a parameter the space lacks or a value outside its range/choices.
    """
    unknown = [name for name in target if name not in space]
    if unknown:
        raise SpaceError(f"the path target names parameters the space lacks: {unknown} (space: {space.names})")
    for name, value in target.items():
        if not space[name].contains(value):
            raise SpaceError(f"the path target's {name}={value!r} is outside {name}'s range or choices")
    merged = {**space.baseline, **{name: _typed(space, name, value) for name, value in target.items()}}
    return space.active(merged)


def path_moves(space: SearchSpace, target: Mapping[str, Any]) -> tuple[str, ...]:
    """The parameters the path flips: differing between source and target and existing in both."""
    source = space.active(space.baseline)
    full_target = path_target(space, target)
    return tuple(
        name for name in space.names
        if name in source and name in full_target and not same_value(source[name], full_target[name])
    )


def round_sizes(n_moves: int) -> tuple[int, ...]:
    """Configurations per round of a path with ``n_moves`` moves (round 0 adds the source and target).

    Examples
    --------
    >>> round_sizes(4), round_sizes(2), round_sizes(1)
    ((6, 3, 2), (4,), (2,))
    """
    return (2 + n_moves,) + tuple(n_moves - r for r in range(1, n_moves - 1)) if n_moves > 1 else (2,)


class PathPlan(Plan):
    """The slots of an ablation path; slots of round ``r > 0`` get their values once rounds ``< r`` are decided.

    Parameters
    ----------
    space : SearchSpace
        The shared search space (its baseline is the source).
    target : mapping
        Target values (parameters not named stay at the baseline).
    repeats : int
        Replicates (seeds) of every evaluated configuration.
    seed : int
        Seed from which the replicates' seeds derive.
    """

    def __init__(self, space: SearchSpace, target: Mapping[str, Any], repeats: int, seed: int) -> None:
        self.space = space
        self.design = "path"
        self.target = path_target(space, target)
        self.moves = path_moves(space, target)
        if not self.moves:
            raise SpaceError("the path target equals the baseline: there is nothing to ablate")
        self.seeds = tuple(replicate_seeds(seed, repeats))
        m = len(self.moves)
        self.round_sizes = round_sizes(m)
        check_plan_size(sum(self.round_sizes) * len(self.seeds), "the ablation path")
        self.options = {"target": {k: _plain(v) for k, v in self.target.items()}, "repeats": repeats}
        self._round_starts: list[int] = []
        slots: list[Slot] = []
        for r, size in enumerate(self.round_sizes):
            self._round_starts.append(len(slots))
            for replicate, replicate_seed in enumerate(self.seeds):
                for j in range(size):
                    config = self._round0_config(j) if r == 0 else _placeholder(r, j)
                    slots.append(Slot(len(slots), replicate, replicate_seed, config))
        self._slots = slots

    @property
    def n_replicates(self) -> int:
        return len(self.seeds)

    @property
    def n_rounds(self) -> int:
        return len(self.round_sizes)

    def round_of(self, index: int) -> int:
        """The round slot ``index`` belongs to."""
        for r in range(self.n_rounds - 1, -1, -1):
            if index >= self._round_starts[r]:
                return r
        raise IndexError(index)

    def round_slots(self, r: int) -> range:
        """The slot indices of round ``r``."""
        start = self._round_starts[r]
        return range(start, start + self.round_sizes[r] * len(self.seeds))

    def flipped_params(self, flipped: Sequence[str]) -> dict[str, Any]:
        """The configuration with the moves ``flipped`` at their target values (what exists of it)."""
        current = dict(self.space.baseline)
        source = self.space.active(current)
        for name, value in self.target.items():
            if name not in source:  # exists only under a target parent value: its target value
                current[name] = value
        for name in flipped:
            current[name] = self.target[name]
        return self.space.active(current)

    def remaining(self, flipped: Sequence[str]) -> list[str]:
        """The moves not flipped yet, in declaration order."""
        return [name for name in self.moves if name not in flipped]

    def config(self, r: int, j: int, flipped: Sequence[str]) -> Config:
        """Candidate ``j`` of round ``r`` given the moves kept in rounds ``0 … r-1`` (in order)."""
        if r == 0:
            return self._round0_config(j)
        if len(flipped) != r:
            raise ValueError(f"round {r} needs the {r} moves kept before it, got {list(flipped)}")
        move = self.remaining(flipped)[j]
        return Config(
            params=self.flipped_params([*flipped, move]),
            design="path",
            varied=(move,),
            level=self.target[move],
            extra={ROUND: r, PREFIX: list(flipped), ROLE: CANDIDATE},
        )

    def resolve(self, index: int, kept: Sequence[str]) -> Slot:
        """Slot ``index`` with its values, given the moves kept in the rounds before its own."""
        slot = self._slots[index]
        r = self.round_of(index)
        if r == 0:
            return slot
        j = (index - self._round_starts[r]) % self.round_sizes[r]
        return Slot(index, slot.replicate, slot.seed, self.config(r, j, list(kept)[:r]))

    def candidate_of(self, index: int) -> int:
        """The position of slot ``index`` within its round's configurations."""
        r = self.round_of(index)
        return (index - self._round_starts[r]) % self.round_sizes[r]

    def _round0_config(self, j: int) -> Config:
        if j == 0:
            return Config(params=self.flipped_params([]), design="path", extra={ROUND: 0, PREFIX: [], ROLE: SOURCE})
        if j == 1:
            return Config(params=self.flipped_params(self.moves), design="path", varied=self.moves,
                          extra={ROUND: 0, PREFIX: [], ROLE: TARGET})
        return self.config_first(self.moves[j - 2])

    def config_first(self, move: str) -> Config:
        return Config(params=self.flipped_params([move]), design="path", varied=(move,), level=self.target[move],
                      extra={ROUND: 0, PREFIX: [], ROLE: CANDIDATE})


def ablation_path(space: SearchSpace, target: Mapping[str, Any], *, repeats: int = 3, seed: int = 0) -> PathPlan:
    """The plan of an ablation path from the baseline towards ``target`` (see :class:`PathPlan`)."""
    return PathPlan(space, target, repeats, seed)


def _placeholder(r: int, j: int) -> Config:
    return Config(params={}, design="path", extra={ROUND: r, PREFIX: None, ROLE: CANDIDATE, "path_candidate": j})


def _typed(space: SearchSpace, name: str, value: Any) -> Any:
    """``value`` as the parameter's own type (a float for a Float given 1, an int for an Int)."""
    value = _plain(value)
    kind = space[name].kind
    if kind == "float" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind == "int" and isinstance(value, float) and value.is_integer():
        return int(value)
    return value
