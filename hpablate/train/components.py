"""Building blocks that turn a trial's component values into real modules.

A removed component is a different module (``nn.Identity``, no norm, no skip connection), never a
flag the forward pass ignores, so parameter counts and module types change with it.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

_OFF = (False, None, "none", "off", "identity", 0)


def is_on(value: Any) -> bool:
    """Whether a component value means "present" (``False``, ``None``, ``"none"``, 0 mean removed)."""
    if isinstance(value, str):
        return value.lower() not in ("none", "off", "identity", "false")
    return value not in _OFF


def maybe(module: nn.Module, on: Any) -> nn.Module:
    """``module`` when the component is on, else ``nn.Identity()``."""
    return module if is_on(on) else nn.Identity()


def dropout(on: Any, p: float = 0.25) -> nn.Module:
    """``nn.Dropout(p)`` or ``nn.Identity()``; a float ``on`` in (0, 1) is used as ``p``."""
    if isinstance(on, float) and not isinstance(on, bool) and 0.0 < on < 1.0:
        return nn.Dropout(on)
    return nn.Dropout(p) if is_on(on) else nn.Identity()


class _ChannelLast(nn.Module):
    """Apply a channel norm (BatchNorm1d) to (N, L, C) sequences by moving C to axis 1."""

    def __init__(self, norm: nn.Module) -> None:
        super().__init__()
        self.norm = norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.transpose(1, -1)).transpose(1, -1)


def norm(kind: Any, num_features: int, *, layout: str = "features") -> nn.Module:
    """A normalisation layer by name.

    Parameters
    ----------
    kind
        ``"batch"``, ``"layer"`` or ``"none"`` (``True`` means the layout's natural default:
        batch for ``image``/``features``, layer for ``sequence``; ``False``/``None`` mean none).
    num_features
        Channels (images), features (vectors) or model width (sequences).
    layout
        ``"image"`` for (N, C, H, W), ``"features"`` for (N, C), ``"sequence"`` for (N, L, C).
        Layer norm on images normalises over (C, H, W) (``GroupNorm(1, C)``).
    """
    if layout not in ("image", "features", "sequence"):
        raise ValueError(f"layout must be 'image', 'features' or 'sequence', got {layout!r}")
    if kind is True:
        kind = "layer" if layout == "sequence" else "batch"
    if not is_on(kind):
        return nn.Identity()
    kind = str(kind).lower()
    if kind in ("batch", "batchnorm", "bn"):
        if layout == "image":
            return nn.BatchNorm2d(num_features)
        if layout == "features":
            return nn.BatchNorm1d(num_features)
        return _ChannelLast(nn.BatchNorm1d(num_features))
    if kind in ("layer", "layernorm", "ln"):
        if layout == "image":
            return nn.GroupNorm(1, num_features)
        return nn.LayerNorm(num_features)
    raise ValueError(f"unknown norm {kind!r}; choose 'batch', 'layer' or 'none'")


class Residual(nn.Module):
    """A skip connection around ``body``: ``x + body(x)``."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def residual(body: nn.Module, on: Any = True) -> nn.Module:
    """``Residual(body)`` when the skip connection is on, else ``body`` alone (no wrapper)."""
    return Residual(body) if is_on(on) else body
