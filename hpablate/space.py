"""The shared search space: every hyperparameter and structural component of a study.

A :class:`SearchSpace` is the one problem definition every design (and every comparison sampler)
shares, in the way SALib's ``problem`` dict is shared by its samplers and analysers. Each parameter
knows its range, its baseline value and the levels an ablation visits; the space converts to plain
Optuna distributions, suggests values through an Optuna trial, maps values to the unit interval
(for Morris designs) and round-trips through JSON, so that a stored study can be analysed from the
database alone.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalChoiceType,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from hpablate.errors import SpaceError, UnknownParameterError

SPACE_JSON_VERSION = 1
DEFAULT_NUMERIC_LEVELS = 5


def _plain(value: Any) -> Any:
    """Cast numpy scalars to Python scalars so values compare, hash and serialise cleanly."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def same_value(a: Any, b: Any) -> bool:
    """Whether two parameter values are the same value: THE equality of hpablate.

    Numbers are equal up to a relative 1e-9 (a value read back from storage may have been
    rounded through JSON or a float column), ``1`` equals ``1.0``, but booleans are never
    numbers (``True`` is not ``1``), ``None`` equals only ``None`` and NaN nothing.

    Examples
    --------
    >>> same_value(0.1 + 0.2, 0.3), same_value(1, 1.0), same_value(True, 1), same_value(None, None)
    (True, True, False, True)
    """
    a, b = _plain(a), _plain(b)
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if math.isnan(a) or math.isnan(b):
            return False
        return a == b or math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=0.0)
    return bool(a == b)


def value_key(value: Any) -> Any:
    """A hashable key for grouping parameter values the way :func:`same_value` compares them.

    Exact (no tolerance): use it for values taken from one source, such as a study's trials.

    Examples
    --------
    >>> value_key(1) == value_key(1.0), value_key(True) == value_key(1)
    (True, False)
    """
    value = _plain(value)
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)):
        return ("num", float(value))
    if isinstance(value, str):
        return ("str", value)
    return ("obj", repr(value))


class _NoBaseline:
    """Marks a parameter built from an Optuna distribution: it has a range but no baseline."""

    def __repr__(self) -> str:
        return "NO_BASELINE"

    def __reduce__(self) -> str:  # unpickles to the one instance, so identity checks keep working
        return "NO_BASELINE"


NO_BASELINE: Any = _NoBaseline()


@dataclass(frozen=True)
class _Parameter:
    name: str
    kind: ClassVar[str] = ""
    #: ``((parent, (value, …)), …)``: the parameter exists only where every parent takes one of
    #: its values (see :attr:`when`).
    condition: tuple[tuple[str, tuple[Any, ...]], ...] = ()

    @property
    def when(self) -> dict[str, list[Any]]:
        """The parents and the values under which this parameter exists (empty: always)."""
        return {parent: list(values) for parent, values in self.condition}

    def _set_when(self, when: Mapping[str, Any] | None) -> None:
        if when is None:
            return
        if not isinstance(when, Mapping):
            raise SpaceError(f"{self.name}: when must map a parent's name to a value or a list of values, got {when!r}")
        condition = []
        for parent, values in when.items():
            values = list(values) if isinstance(values, (list, tuple, set, frozenset)) else [values]
            if not isinstance(parent, str) or not values:
                raise SpaceError(f"{self.name}: when={dict(when)!r} needs a parent name and at least one value")
            condition.append((parent, tuple(_plain(v) for v in values)))
        object.__setattr__(self, "condition", tuple(sorted(condition, key=lambda c: c[0])))

    def _when_dict(self) -> dict[str, Any]:
        return {"when": self.when} if self.condition else {}

    @property
    def baseline(self) -> Any:
        raise NotImplementedError

    @property
    def levels(self) -> list[Any]:
        raise NotImplementedError

    def distribution(self) -> BaseDistribution:
        raise NotImplementedError

    def suggest(self, trial: optuna.trial.BaseTrial) -> Any:
        raise NotImplementedError

    def to_unit(self, value: Any) -> float:
        raise NotImplementedError

    def from_unit(self, u: float) -> Any:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def contains(self, value: Any) -> bool:
        return bool(self.distribution()._contains(self.distribution().to_internal_repr(value)))

    @property
    def has_baseline(self) -> bool:
        """False for a parameter of a plain Optuna study (see :meth:`SearchSpace.from_distributions`)."""
        return getattr(self, "baseline_value", None) is not NO_BASELINE

    def _baseline(self) -> Any:
        if not self.has_baseline:
            raise SpaceError(f"{self.name}: no baseline (the parameter comes from a plain Optuna distribution)")
        return self.baseline_value

    def _without_baseline(self) -> Any:
        object.__setattr__(self, "baseline_value", NO_BASELINE)
        return self

    def _baseline_dict(self) -> dict[str, Any]:
        return {"baseline": self.baseline} if self.has_baseline else {"baseline": None, "no_baseline": True}


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name:
        raise SpaceError(f"a parameter name must be a non-empty string, got {name!r}")


@dataclass(frozen=True)
class _Numeric(_Parameter):
    low: float = 0.0
    high: float = 1.0
    log: bool = False
    step: float | int | None = None
    baseline_value: Any = None
    level_values: tuple[Any, ...] = field(default=())

    def _validate_range(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise SpaceError(f"{self.name}: low and high must be finite, got {self.low}, {self.high}")
        if self.low > self.high:
            raise SpaceError(f"{self.name}: low={self.low} is greater than high={self.high}")
        if self.log and self.low <= 0:
            raise SpaceError(f"{self.name}: a log range needs low > 0, got low={self.low}")
        if self.log and self.step not in (None, 1):
            raise SpaceError(f"{self.name}: step={self.step} cannot be combined with log=True")
        if self.step is not None and self.step <= 0:
            raise SpaceError(f"{self.name}: step must be positive, got {self.step}")

    def _validate_value(self, value: Any, what: str) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            raise SpaceError(f"{self.name}: {what} {value!r} is not a number")
        if not self.low <= value <= self.high:
            raise SpaceError(
                f"{self.name}: {what} {value!r} is outside the range [{self.low}, {self.high}]"
            )
        if not self.contains(value):
            raise SpaceError(f"{self.name}: {what} {value!r} is not on the grid of step {self.step}")

    @property
    def baseline(self) -> Any:
        return self._baseline()

    @property
    def levels(self) -> list[Any]:
        return list(self.level_values)

    def to_unit(self, value: Any) -> float:
        if self.high == self.low:
            return 0.0
        if self.log:
            return float((math.log(value) - math.log(self.low)) / (math.log(self.high) - math.log(self.low)))
        return float((value - self.low) / (self.high - self.low))

    def _unit_to_raw(self, u: float) -> float:
        u = min(max(float(u), 0.0), 1.0)
        if self.log:
            return float(math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low))))
        return float(self.low + u * (self.high - self.low))

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "low": self.low,
            "high": self.high,
            "log": self.log,
            "step": self.step,
            **self._baseline_dict(),
            "levels": self.levels,
            **self._when_dict(),
        }


def _default_numeric_levels(low: float, high: float, log: bool, baseline: float) -> list[float]:
    grid = (
        np.geomspace(low, high, DEFAULT_NUMERIC_LEVELS)
        if log
        else np.linspace(low, high, DEFAULT_NUMERIC_LEVELS)
    )
    return [float(v) for v in grid] + [float(baseline)]


def _sorted_unique(values: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(sorted({_plain(v) for v in values}))


@dataclass(frozen=True, init=False)
class Float(_Numeric):
    """A real-valued hyperparameter.

    Parameters
    ----------
    name : str
        Parameter name, as passed to ``trial.suggest_float``.
    low, high : float
        Inclusive range.
    log : bool, default False
        Sample (and space default levels) on a log scale; needs ``low > 0``.
    step : float, optional
        Discretisation step, as in :func:`optuna.trial.Trial.suggest_float`.
    baseline : float, optional
        The value every other design varies away from. Defaults to the (geometric, if ``log``)
        centre of the range.
    levels : sequence of float, optional
        Values a one-at-a-time or grid design visits. Defaults to 5 points spaced over the range
        (log-spaced when ``log``); the baseline is always added.

    Examples
    --------
    >>> import hpablate as hp
    >>> lr = hp.Float("lr", 1e-4, 1e-1, log=True, baseline=1e-2)
    >>> [round(v, 6) for v in lr.levels]
    [0.0001, 0.000562, 0.003162, 0.01, 0.017783, 0.1]
    """

    kind: ClassVar[str] = "float"

    def __init__(
        self,
        name: str,
        low: float,
        high: float,
        *,
        log: bool = False,
        step: float | None = None,
        baseline: float | None = None,
        levels: Sequence[float] | None = None,
        when: Mapping[str, Any] | None = None,
    ) -> None:
        _check_name(name)
        set_ = object.__setattr__
        set_(self, "name", name)
        set_(self, "low", float(low))
        set_(self, "high", float(high))
        set_(self, "log", bool(log))
        set_(self, "step", None if step is None else float(step))
        self._validate_range()
        if baseline is None:
            baseline = self._unit_to_raw(0.5)
            if self.step is not None:
                baseline = self.low + round((baseline - self.low) / self.step) * self.step
        baseline = float(_plain(baseline)) if not isinstance(baseline, bool) else baseline
        self._validate_value(baseline, "baseline")
        set_(self, "baseline_value", baseline)
        if levels is None:
            raw = _default_numeric_levels(self.low, self.high, self.log, baseline)
            if self.step is not None:
                raw = [self.low + round((v - self.low) / self.step) * self.step for v in raw]
            levels = [min(max(v, self.low), self.high) for v in raw]
        if len(levels) == 0:
            raise SpaceError(f"{name}: levels must not be empty")
        for value in levels:
            self._validate_value(value, "level")
        set_(self, "level_values", _sorted_unique([float(v) for v in levels] + [baseline]))
        self._set_when(when)

    def distribution(self) -> FloatDistribution:
        return FloatDistribution(self.low, self.high, log=self.log, step=self.step)

    def suggest(self, trial: optuna.trial.BaseTrial) -> float:
        return trial.suggest_float(self.name, self.low, self.high, log=self.log, step=self.step)

    def from_unit(self, u: float) -> float:
        value = self._unit_to_raw(u)
        if self.step is not None:
            value = self.low + round((value - self.low) / self.step) * self.step
        return float(min(max(value, self.low), self.high))


@dataclass(frozen=True, init=False)
class Int(_Numeric):
    """An integer hyperparameter.

    Parameters
    ----------
    name : str
        Parameter name, as passed to ``trial.suggest_int``.
    low, high : int
        Inclusive range.
    log : bool, default False
        Log scale; needs ``low >= 1``.
    step : int, default 1
        Spacing of admissible values.
    baseline : int, optional
        Defaults to the (geometric) centre of the range, rounded onto the step grid.
    levels : sequence of int, optional
        Defaults to 5 spaced values (rounded, deduplicated) plus the baseline.

    Examples
    --------
    >>> import hpablate as hp
    >>> hp.Int("n_estimators", 10, 300, baseline=50, levels=[50, 100, 200, 300]).levels
    [50, 100, 200, 300]
    """

    kind: ClassVar[str] = "int"

    def __init__(
        self,
        name: str,
        low: int,
        high: int,
        *,
        log: bool = False,
        step: int = 1,
        baseline: int | None = None,
        levels: Sequence[int] | None = None,
        when: Mapping[str, Any] | None = None,
    ) -> None:
        _check_name(name)
        for label, value in (("low", low), ("high", high), ("step", step)):
            if isinstance(value, bool) or not float(value).is_integer():
                raise SpaceError(f"{name}: {label}={value!r} must be an integer")
        set_ = object.__setattr__
        set_(self, "name", name)
        set_(self, "low", int(low))
        set_(self, "high", int(high))
        set_(self, "log", bool(log))
        set_(self, "step", int(step))
        self._validate_range()
        if baseline is None:
            baseline = self._snap(self._unit_to_raw(0.5))
        self._validate_integer(baseline, "baseline")
        baseline = int(baseline)
        set_(self, "baseline_value", baseline)
        if levels is None:
            levels = [self._snap(v) for v in _default_numeric_levels(self.low, self.high, self.log, baseline)]
        if len(levels) == 0:
            raise SpaceError(f"{name}: levels must not be empty")
        for value in levels:
            self._validate_integer(value, "level")
        set_(self, "level_values", _sorted_unique([int(v) for v in levels] + [baseline]))
        self._set_when(when)

    def _validate_integer(self, value: Any, what: str) -> None:
        self._validate_value(value, what)
        if not float(value).is_integer():
            raise SpaceError(f"{self.name}: {what} {value!r} is not an integer")

    def _snap(self, value: float) -> int:
        snapped = self.low + round((value - self.low) / self.step) * self.step
        return int(min(max(snapped, self.low), self.high))

    def distribution(self) -> IntDistribution:
        return IntDistribution(self.low, self.high, log=self.log, step=self.step)

    def suggest(self, trial: optuna.trial.BaseTrial) -> int:
        return trial.suggest_int(self.name, self.low, self.high, log=self.log, step=self.step)

    def from_unit(self, u: float) -> int:
        return self._snap(self._unit_to_raw(u))


@dataclass(frozen=True, init=False)
class Categorical(_Parameter):
    """A categorical hyperparameter (e.g. the optimizer).

    Parameters
    ----------
    name : str
        Parameter name, as passed to ``trial.suggest_categorical``.
    choices : sequence
        Admissible values (``None``, bool, int, float or str, as Optuna allows).
    baseline : optional
        Defaults to the first choice.
    levels : sequence, optional
        The choices a one-at-a-time design visits; defaults to every choice.

    Examples
    --------
    >>> import hpablate as hp
    >>> hp.Categorical("optimizer", ["sgd", "adam"], baseline="adam").levels
    ['sgd', 'adam']
    """

    kind: ClassVar[str] = "categorical"
    choices: tuple[CategoricalChoiceType, ...] = ()
    baseline_value: Any = None
    level_values: tuple[Any, ...] = ()

    def __init__(
        self,
        name: str,
        choices: Sequence[CategoricalChoiceType],
        *,
        baseline: CategoricalChoiceType | None = None,
        levels: Sequence[CategoricalChoiceType] | None = None,
        when: Mapping[str, Any] | None = None,
    ) -> None:
        _check_name(name)
        self._init_choices(name, choices, baseline, levels, default_baseline_index=0)
        self._set_when(when)

    def _init_choices(
        self,
        name: str,
        choices: Sequence[Any],
        baseline: Any,
        levels: Sequence[Any] | None,
        default_baseline_index: int,
    ) -> None:
        set_ = object.__setattr__
        set_(self, "name", name)
        choices = tuple(_plain(c) for c in choices)
        if len(choices) == 0:
            raise SpaceError(f"{name}: choices must not be empty")
        if len({value_key(c) for c in choices}) != len(choices):
            raise SpaceError(f"{name}: choices contain duplicates: {list(choices)!r}")
        for choice in choices:
            if choice is not None and not isinstance(choice, (bool, int, float, str)):
                raise SpaceError(
                    f"{name}: choice {choice!r} must be None, bool, int, float or str"
                )
        set_(self, "choices", choices)
        if baseline is None and None not in choices:
            baseline = choices[default_baseline_index]
        baseline = _plain(baseline)
        if not self._is_choice(baseline):
            raise SpaceError(f"{name}: baseline {baseline!r} is not among the choices {list(choices)!r}")
        set_(self, "baseline_value", baseline)
        if levels is None:
            levels = choices
        if len(levels) == 0:
            raise SpaceError(f"{name}: levels must not be empty")
        for level in levels:
            if not self._is_choice(_plain(level)):
                raise SpaceError(f"{name}: level {level!r} is not among the choices {list(choices)!r}")
        wanted = {value_key(v) for v in levels} | {value_key(baseline)}
        set_(self, "level_values", tuple(c for c in choices if value_key(c) in wanted))

    def _is_choice(self, value: Any) -> bool:
        return any(same_value(value, c) for c in self.choices)

    @property
    def baseline(self) -> Any:
        return self._baseline()

    @property
    def levels(self) -> list[Any]:
        return list(self.level_values)

    def distribution(self) -> CategoricalDistribution:
        return CategoricalDistribution(self.choices)

    def contains(self, value: Any) -> bool:
        return self._is_choice(_plain(value))

    def suggest(self, trial: optuna.trial.BaseTrial) -> Any:
        return trial.suggest_categorical(self.name, self.choices)

    def index(self, value: Any) -> int:
        for i, choice in enumerate(self.choices):
            if same_value(choice, value):
                return i
        raise SpaceError(f"{self.name}: {value!r} is not among the choices {list(self.choices)!r}")

    def to_unit(self, value: Any) -> float:
        n = len(self.choices)
        return 0.0 if n == 1 else self.index(value) / (n - 1)

    def from_unit(self, u: float) -> Any:
        n = len(self.choices)
        return self.choices[int(round(min(max(u, 0.0), 1.0) * (n - 1)))]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "choices": list(self.choices),
            **self._baseline_dict(),
            "levels": self.levels,
            **self._when_dict(),
        }


@dataclass(frozen=True, init=False)
class Component(Categorical):
    """A structural component of the model that an ablation removes or swaps.

    A component is a categorical parameter with a notion of "off": the value that removes it
    (``False`` for an on/off component, ``"none"`` when that is a choice). Leave-one-component-out
    designs set one component to each of its non-baseline choices; add-one-in designs start from
    every component off.

    Parameters
    ----------
    name : str
        Parameter name (suggested with ``trial.suggest_categorical``).
    baseline : optional
        The value in the full model; defaults to ``True`` for on/off components, else the first
        choice.
    choices : sequence, optional
        Alternatives, e.g. ``["batch", "layer", "none"]``; defaults to ``(True, False)``.
    off : optional
        The value meaning "removed"; defaults to ``False``, or ``"none"`` / ``None`` when among the
        choices, else the last choice.

    Examples
    --------
    >>> import hpablate as hp
    >>> norm = hp.Component("norm", choices=["batch", "layer", "none"], baseline="batch")
    >>> norm.off
    'none'
    """

    kind: ClassVar[str] = "component"
    off: Any = None

    def __init__(
        self,
        name: str,
        baseline: Any = None,
        *,
        choices: Sequence[Any] | None = None,
        off: Any = None,
        levels: Sequence[Any] | None = None,
        when: Mapping[str, Any] | None = None,
    ) -> None:
        _check_name(name)
        self._set_when(when)
        if choices is None:
            choices = (True, False)
        self._init_choices(name, choices, baseline, levels, default_baseline_index=0)
        if off is None:
            for candidate in (False, "none", None):
                if self._is_choice(candidate):
                    off = candidate
                    break
            else:
                off = self.choices[-1]
        off = _plain(off)
        if not self._is_choice(off):
            raise SpaceError(f"{name}: off value {off!r} is not among the choices {list(self.choices)!r}")
        object.__setattr__(self, "off", off)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "off": self.off}


Parameter = Float | Int | Categorical | Component
_KINDS: dict[str, type] = {"float": Float, "int": Int, "categorical": Categorical, "component": Component}


def _admits(param: _Parameter, value: Any) -> bool:
    if isinstance(param, Categorical):
        return param._is_choice(_plain(value))
    try:
        return bool(param.contains(value))
    except (TypeError, ValueError):
        return False


def _parameter_from_dict(data: Mapping[str, Any]) -> Parameter:
    if data.get("no_baseline"):
        return _parameter_from_dict({**data, "no_baseline": False, "baseline": None})._without_baseline()
    kind = data.get("kind")
    try:
        if kind in ("float", "int"):
            cls = Float if kind == "float" else Int
            kwargs: dict[str, Any] = {"log": data.get("log", False), "baseline": data.get("baseline"),
                                      "when": data.get("when")}
            if data.get("step") is not None:
                kwargs["step"] = data["step"]
            if data.get("levels") is not None:
                kwargs["levels"] = data["levels"]
            return cls(data["name"], data["low"], data["high"], **kwargs)
        if kind == "categorical":
            return Categorical(data["name"], data["choices"], baseline=data.get("baseline"), levels=data.get("levels"),
                               when=data.get("when"))
        if kind == "component":
            return Component(
                data["name"],
                data.get("baseline"),
                choices=data["choices"],
                off=data.get("off"),
                levels=data.get("levels"),
                when=data.get("when"),
            )
    except KeyError as exc:
        raise SpaceError(f"parameter record {dict(data)!r} lacks the field {exc.args[0]!r}") from None
    raise SpaceError(f"unknown parameter kind {kind!r} in {dict(data)!r}")


class SearchSpace:
    """The shared search space of an ablation study.

    Parameters
    ----------
    *params : Float, Int, Categorical or Component
        The hyperparameters and structural components, in the order designs list them.

    Examples
    --------
    >>> import hpablate as hp
    >>> space = hp.SearchSpace(
    ...     hp.Float("lr", 1e-4, 1e-1, log=True, baseline=1e-2, levels=[1e-4, 1e-3, 1e-2, 1e-1]),
    ...     hp.Categorical("optimizer", ["sgd", "adam"], baseline="adam"),
    ...     hp.Component("dropout", baseline=True),
    ... )
    >>> space.baseline
    {'lr': 0.01, 'optimizer': 'adam', 'dropout': True}
    >>> sorted(space.to_distributions())
    ['dropout', 'lr', 'optimizer']
    """

    def __init__(self, *params: Parameter) -> None:
        if len(params) == 1 and isinstance(params[0], (list, tuple)):
            params = tuple(params[0])
        if not params:
            raise SpaceError("a search space needs at least one parameter")
        names: list[str] = []
        for param in params:
            if not isinstance(param, _Parameter):
                raise SpaceError(f"{param!r} is not a hpablate parameter (Float, Int, Categorical, Component)")
            if param.name in names:
                raise SpaceError(f"duplicate parameter name {param.name!r}")
            names.append(param.name)
        self._params: dict[str, Parameter] = {p.name: p for p in params}
        self._order = self._check_conditions()

    def _check_conditions(self) -> list[str]:
        """Validate every ``when`` and return the names parents-first (the order of suggestion)."""
        for param in self._params.values():
            for parent_name, values in param.condition:
                if parent_name == param.name:
                    raise SpaceError(f"{param.name}: when names the parameter itself")
                if parent_name not in self._params:
                    raise SpaceError(f"{param.name}: when names {parent_name!r}, which is not in the space {self.names}")
                parent = self._params[parent_name]
                for value in values:
                    if not _admits(parent, value):
                        raise SpaceError(
                            f"{param.name}: when {parent_name}={value!r}, but {parent_name} never takes that value"
                        )
        order: list[str] = []
        state: dict[str, str] = {}

        def visit(name: str, path: list[str]) -> None:
            if state.get(name) == "done":
                return
            if state.get(name) == "open":
                raise SpaceError(f"conditions form a cycle: {' -> '.join(path + [name])}")
            state[name] = "open"
            for parent_name, _ in self._params[name].condition:
                visit(parent_name, path + [name])
            state[name] = "done"
            order.append(name)

        for name in self._params:
            visit(name, [])
        return order

    @property
    def conditional(self) -> bool:
        """Whether some parameter exists only under a parent's value (``when=``)."""
        return any(p.condition for p in self._params.values())

    def is_active(self, name: str, config: Mapping[str, Any]) -> bool:
        """Whether parameter ``name`` exists in ``config`` (every parent present with a listed value)."""
        for parent_name, values in self[name].condition:
            if parent_name not in config or not any(same_value(config[parent_name], v) for v in values):
                return False
        return True

    def active(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """``config`` restricted to the parameters that exist in it, in declaration order.

        Examples
        --------
        >>> import hpablate as hp
        >>> space = hp.SearchSpace(
        ...     hp.Categorical("optimizer", ["sgd", "adam"], baseline="adam"),
        ...     hp.Float("momentum", 0.0, 0.99, baseline=0.9, when={"optimizer": "sgd"}),
        ... )
        >>> space.active(space.baseline)
        {'optimizer': 'adam'}
        >>> space.active({**space.baseline, "optimizer": "sgd"})
        {'optimizer': 'sgd', 'momentum': 0.9}
        """
        if not self.conditional:
            return {name: config[name] for name in self._params if name in config}
        kept: dict[str, Any] = {}
        for name in self._order:
            if name in config and self.is_active(name, kept):
                kept[name] = config[name]
        return {name: kept[name] for name in self._params if name in kept}

    def activation(self, name: str, config: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Parent values that make ``name`` exist, changing as few as possible from ``config``.

        ``config`` defaults to the baseline. A parent that already takes a listed value keeps it;
        otherwise it takes the first listed value (recursively for the parent's own parents).

        Examples
        --------
        >>> import hpablate as hp
        >>> space = hp.SearchSpace(
        ...     hp.Categorical("optimizer", ["sgd", "adam"], baseline="adam"),
        ...     hp.Float("momentum", 0.0, 0.99, baseline=0.9, when={"optimizer": "sgd"}),
        ... )
        >>> space.activation("momentum")
        {'optimizer': 'sgd'}
        """
        current = dict(self.baseline if config is None else config)
        changes: dict[str, Any] = {}

        def activate(child: str) -> None:
            for parent_name, values in self[child].condition:
                activate(parent_name)
                if not any(same_value(current.get(parent_name), v) for v in values):
                    current[parent_name] = changes[parent_name] = values[0]

        activate(name)
        return changes

    @property
    def names(self) -> list[str]:
        """Parameter names in declaration order."""
        return list(self._params)

    @property
    def parameters(self) -> list[Parameter]:
        """Parameters in declaration order."""
        return list(self._params.values())

    @property
    def components(self) -> list[Component]:
        """The structural components of the space."""
        return [p for p in self._params.values() if isinstance(p, Component)]

    @property
    def baseline(self) -> dict[str, Any]:
        """The baseline configuration: every parameter at its baseline value.

        Raises :class:`~hpablate.errors.SpaceError` for a space without baselines
        (:meth:`from_distributions`).
        """
        return {name: p.baseline for name, p in self._params.items()}

    @property
    def has_baseline(self) -> bool:
        """Whether every parameter has a baseline (False for :meth:`from_distributions` spaces)."""
        return all(p.has_baseline for p in self._params.values())

    def __getitem__(self, name: str) -> Parameter:
        try:
            return self._params[name]
        except KeyError:
            raise UnknownParameterError(
                f"unknown parameter {name!r}; the space has {self.names}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._params

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self._params.values())

    def __len__(self) -> int:
        return len(self._params)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SearchSpace) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(self.to_json())

    def __repr__(self) -> str:
        return f"SearchSpace({', '.join(self.names)})"

    def check_names(self, names: Sequence[str]) -> list[str]:
        """Return ``names`` as a list, raising :class:`UnknownParameterError` for any unknown."""
        for name in names:
            self[name]
        return list(names)

    def suggest(self, trial: optuna.trial.BaseTrial) -> dict[str, Any]:
        """Suggest every parameter that exists through ``trial`` and return the configuration.

        Parents are suggested before their children, and a child whose ``when`` does not hold is
        neither suggested nor in the returned dict (Optuna's define-by-run conditional space).
        """
        config: dict[str, Any] = {}
        for name in self._order:
            if self.is_active(name, config):
                config[name] = self._params[name].suggest(trial)
        return {name: config[name] for name in self._params if name in config}

    def to_distributions(self) -> dict[str, BaseDistribution]:
        """Plain Optuna distributions, so Random/TPE/GP samplers search the very same space."""
        return {name: param.distribution() for name, param in self._params.items()}

    def to_unit(self, name: str, value: Any) -> float:
        """Map ``value`` of parameter ``name`` into [0, 1] (log-aware; choice index / (n - 1))."""
        return self[name].to_unit(value)

    def from_unit(self, name: str, u: float) -> Any:
        """Inverse of :meth:`to_unit`, snapped onto the parameter's admissible values."""
        return self[name].from_unit(u)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible description of the space, baselines and levels included."""
        return {"version": SPACE_JSON_VERSION, "params": [p.to_dict() for p in self._params.values()]}

    def to_json(self) -> str:
        """Serialise to JSON (stored as the study user attribute ``hpablate.space``)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_distributions(cls, distributions: Mapping[str, BaseDistribution]) -> SearchSpace:
        """The space of a plain Optuna study: ranges and choices, no baselines.

        Parameters
        ----------
        distributions : mapping
            Parameter name to Optuna distribution (as the trials recorded them).

        Examples
        --------
        >>> from optuna.distributions import CategoricalDistribution, FloatDistribution
        >>> space = SearchSpace.from_distributions(
        ...     {"lr": FloatDistribution(1e-4, 1e-1, log=True), "opt": CategoricalDistribution(["sgd", "adam"])})
        >>> space.has_baseline, round(space.to_unit("lr", 1e-2), 4), space.to_unit("opt", "adam")
        (False, 0.6667, 1.0)
        >>> SearchSpace.from_json(space.to_json()) == space
        True
        """
        params: list[Parameter] = []
        for name, dist in distributions.items():
            if isinstance(dist, FloatDistribution):
                param: Parameter = Float(name, dist.low, dist.high, log=dist.log, step=dist.step)
            elif isinstance(dist, IntDistribution):
                param = Int(name, dist.low, dist.high, log=dist.log, step=dist.step)
            elif isinstance(dist, CategoricalDistribution):
                param = Categorical(name, dist.choices, baseline=dist.choices[0])
            else:
                raise SpaceError(f"{name}: unsupported distribution {dist!r}")
            params.append(param._without_baseline())
        return cls(*params)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SearchSpace:
        """Rebuild a space from :meth:`to_dict` output."""
        version = data.get("version")
        if version != SPACE_JSON_VERSION:
            raise SpaceError(f"unsupported search-space format version {version!r}")
        return cls(*[_parameter_from_dict(p) for p in data.get("params", [])])

    @classmethod
    def from_json(cls, text: str) -> SearchSpace:
        """Rebuild a space from :meth:`to_json` output."""
        try:
            data = json.loads(text)
        except (TypeError, json.JSONDecodeError) as exc:
            raise SpaceError(f"search-space JSON does not parse: {exc}") from None
        if not isinstance(data, dict):
            raise SpaceError("search-space JSON must be an object")
        return cls.from_dict(data)
