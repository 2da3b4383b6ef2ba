"""Quick mode: study files shrink epochs and data when ``$HPABLATE_QUICK`` is set."""

from __future__ import annotations

import os

#: Environment variable the CLI sets for ``--quick``; worker processes inherit it.
QUICK_ENV = "HPABLATE_QUICK"


def is_quick() -> bool:
    """Whether quick mode is on (``$HPABLATE_QUICK`` is set to anything but ``""``/``0``/``false``)."""
    return os.environ.get(QUICK_ENV, "").strip().lower() not in ("", "0", "false", "no")
