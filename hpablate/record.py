"""The stored record: every ``hpablate.*`` key hpablate writes on studies and trials.

Study user attributes hold the space, the design and its settings and the plan's identity; trial
user attributes hold the slot a trial ran and its replicate, seed and labels, its heartbeat, and
why it failed. Keys are spelled here only.
"""

from __future__ import annotations

from typing import Any

PREFIX = "hpablate."

# Study attributes.
SPACE_ATTR = "hpablate.space"
DESIGN_ATTR = "hpablate.design"
N_SLOTS_ATTR = "hpablate.n_slots"
PLAN_ID_ATTR = "hpablate.plan_id"
PLAN_OFFSET_ATTR = "hpablate.plan_offset"
#: ``[[first trial number, first slot, n slots], …]``: one segment per growth of the plan.
PLAN_SEGMENTS_ATTR = "hpablate.plan_segments"
#: Prefix of study attributes that keep a result which arrived after its trial was failed as dead.
LATE_RESULT_PREFIX = "hpablate.late_result."

# Trial attributes.
SLOT_ATTR = "hpablate.slot"
REPLICATE_ATTR = "hpablate.replicate"
SEED_ATTR = "hpablate.seed"
VARIED_ATTR = "hpablate.varied"
LEVEL_ATTR = "hpablate.level"
HEARTBEAT_ATTR = "hpablate.heartbeat"
FAIL_REASON_ATTR = "hpablate.fail_reason"
SURPLUS_ATTR = "hpablate.surplus"
#: Set on a trial that ran outside the plan (enqueued, added, or fixed to other values).
FOREIGN_ATTR = "hpablate.foreign"

#: ``hpablate.slot`` of a trial that holds no slot (surplus or foreign).
NO_SLOT = -1

#: Fail reasons that say the worker, not the objective, failed: they do not use up retries.
STALE_REASON = "stale"
INTERRUPTED_REASON = "interrupted"
_WORKER_REASONS = (STALE_REASON + ":", INTERRUPTED_REASON + ":")


def is_worker_failure(reason: Any) -> bool:
    """Whether a stored fail reason blames the worker (killed, paused, interrupted).

    A FAIL trial without any reason was failed from outside hpablate's objective wrapper (its
    worker died before it could say why), so it counts as a worker failure too.

    Examples
    --------
    >>> is_worker_failure("stale: no sign of life for 61 s"), is_worker_failure("ValueError: x")
    (True, False)
    """
    return reason is None or (isinstance(reason, str) and reason.startswith(_WORKER_REASONS))
