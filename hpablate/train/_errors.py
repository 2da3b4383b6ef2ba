"""Errors raised by trial bodies."""

from __future__ import annotations

#: User attribute under which a failed trial's reason is recorded (shared with ``hp.run``).
FAIL_REASON_ATTR = "hpablate.fail_reason"


class DivergedError(RuntimeError):
    """Training diverged (the loss became NaN or infinite).

    Trial bodies set the trial's ``hpablate.fail_reason`` user attribute to the message before
    raising, so the trial is recorded as FAIL with its reason rather than crashing the study.
    """
