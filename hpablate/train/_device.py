"""Device choice and CPU thread pinning for trial bodies."""

from __future__ import annotations

import os

import torch

#: Environment variable that overrides the device (``cpu``, ``cuda``, ``cuda:1``, ...).
DEVICE_ENV = "HPABLATE_DEVICE"
#: Environment variable with the number of torch threads each worker process may use. The CLI
#: sets it to ``cores // workers`` so concurrent workers do not oversubscribe the cores.
THREADS_ENV = "HPABLATE_THREADS_PER_WORKER"


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """Return the device trials train on.

    Parameters
    ----------
    device
        Explicit choice. ``None`` reads ``$HPABLATE_DEVICE`` and otherwise picks ``cuda`` when a
        GPU is available, else ``cpu``.

    Returns
    -------
    torch.device

    Examples
    --------
    >>> pick_device("cpu")
    device(type='cpu')
    """
    if device is None:
        device = os.environ.get(DEVICE_ENV) or ("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(dev)!r} requested but CUDA is not available")
    return dev


def threads_per_worker(n_workers: int, cores: int | None = None) -> int:
    """Torch threads each of ``n_workers`` concurrent workers should use: ``max(1, cores // n)``."""
    if n_workers < 1:
        raise ValueError(f"n_workers must be >= 1, got {n_workers}")
    if cores is None:
        cores = available_cores()
    return max(1, int(cores) // n_workers)


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def apply_thread_limit() -> int:
    """Pin ``torch.set_num_threads`` to ``$HPABLATE_THREADS_PER_WORKER`` if it is set.

    Returns the number of intra-op threads torch now uses. Cheap and idempotent, so trial bodies
    call it at the start of every trial (a worker process may have been started by code that does
    not know about the limit).
    """
    value = os.environ.get(THREADS_ENV)
    if value:
        n = max(1, int(value))
        if torch.get_num_threads() != n:
            torch.set_num_threads(n)
    return torch.get_num_threads()
