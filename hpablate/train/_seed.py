"""Seeding of every random number generator a trial body touches."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python's, NumPy's and torch's global generators (CPU and CUDA) with ``seed``.

    Returns a fresh CPU :class:`torch.Generator` seeded with ``seed`` for the batch order, so the
    shuffling stream does not depend on how many random numbers model initialisation consumed.

    Examples
    --------
    >>> g = seed_everything(3)
    >>> int(torch.randint(0, 100, (1,), generator=g))  # same value on every run
    ... # doctest: +SKIP
    """
    seed = int(seed) % (2**63 - 1)
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)  # also seeds every CUDA device
    gen = torch.Generator()
    gen.manual_seed(seed)
    return gen
