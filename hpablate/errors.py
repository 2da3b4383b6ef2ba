"""Exception types raised by hpablate.

Every error a user can cause by bad input derives from :class:`HpablateError`, so callers can
catch one type, and the CLI turns it into a one-line message with exit code 2.
"""

from __future__ import annotations


class HpablateError(Exception):
    """Base class of all hpablate errors caused by bad input or state."""


class SpaceError(HpablateError, ValueError):
    """A search space or parameter definition is invalid (bad range, baseline, levels, names)."""


class UnknownParameterError(HpablateError, KeyError):
    """A parameter name is not part of the search space."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0]) if self.args else ""


class DistributionMismatchError(HpablateError, ValueError):
    """The objective suggested a parameter with a distribution other than the space declares."""


class PlanMismatchError(HpablateError, ValueError):
    """A plan sampler was attached to a study whose stored space or plan differs."""


class StorageError(HpablateError):
    """A storage URL is malformed, unreachable, not an Optuna database or of an unknown schema."""


class StudyNotFoundError(HpablateError, LookupError):
    """The named study does not exist in the storage (or none was named where several exist)."""


class NoTrialsError(HpablateError):
    """The study has no completed trials to analyse."""


class StudyFileError(HpablateError):
    """A study file is missing, fails to import, or lacks ``space`` / ``objective``."""


class ObjectiveError(HpablateError):
    """The objective returned an invalid value (NaN, inf, wrong number of values)."""


class RecordError(HpablateError, ValueError):
    """A study's or trial's stored ``hpablate.*`` record is present but cannot be read."""


class UsageError(HpablateError, ValueError):
    """An option or setting has a bad value (the CLI exits with code 2), e.g. ``grace_period`` below
    two heartbeats."""


class PlanTooLargeError(SpaceError):
    """A design would plan more slots than hpablate runs (see ``hpablate.design.MAX_SLOTS``)."""


class InactiveParameterError(HpablateError, ValueError):
    """The objective suggested a parameter whose ``when`` condition does not hold in the trial's
    configuration (suggest through ``space.suggest(trial)``, which follows the conditions)."""
