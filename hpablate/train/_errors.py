"""Errors raised by trial bodies."""

from __future__ import annotations

from hpablate.record import FAIL_REASON_ATTR

__all__ = ["FAIL_REASON_ATTR", "DivergedError"]


class DivergedError(RuntimeError):
    """Training diverged (the loss became NaN or infinite).

    Trial bodies set the trial's ``hpablate.fail_reason`` user attribute to the message before
    raising, so the trial is recorded as FAIL with its reason rather than crashing the study.
    """
