"""A 2-layer transformer that learns to sort: which parts of the architecture matter?

The task is generated: sequences of 8 digits (0–9), target = the same digits sorted. Sorting
needs every position to see every other (attention) and to know where it is (positional
encoding), so the leave-one-component-out design over ``attention``, ``layernorm``,
``residual`` and ``posenc`` has large, known-direction effects: a good sanity check of an
ablation pipeline. The objective is per-token validation accuracy; per-class accuracy is per
digit. Run it with::

    hpablate run studies/tiny_transformer.py --quick
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

import hpablate as hp
from hpablate import train as ht
from hpablate.train import components as C

SEQ_LEN = 8
VOCAB = 10

space = hp.SearchSpace(
    hp.Component("attention", baseline=True),
    hp.Component("layernorm", baseline=True),
    hp.Component("residual", baseline=True),
    hp.Component("posenc", baseline=True),
    hp.Float("lr", 3e-4, 1e-2, log=True, baseline=3e-3, levels=[1e-3, 3e-3, 1e-2]),
)
direction = "maximize"
repeats = 3


def structural_design(space: hp.SearchSpace, repeats: int, seed: int) -> hp.PlanSampler:
    return hp.StructuralAblationSampler(space, mode="leave_one_out", repeats=repeats, seed=seed)


def add_one_in_design(space: hp.SearchSpace, repeats: int, seed: int) -> hp.PlanSampler:
    return hp.StructuralAblationSampler(space, mode="add_one_in", repeats=repeats, seed=seed)


def shapley_design(space: hp.SearchSpace, repeats: int, seed: int) -> hp.PlanSampler:
    return hp.ShapleyAblationSampler(space, repeats=repeats, seed=seed)


designs = {"structural": structural_design, "add_one_in": add_one_in_design, "shapley": shapley_design}


@dataclass(frozen=True)
class Settings:
    epochs: int
    n_train: int
    n_val: int
    width: int


def settings() -> Settings:
    """Full runs: 15 epochs on 3,000 sequences, width 48; ``--quick``: 3 epochs on 1,000, width 32."""
    return Settings(3, 1000, 300, 32) if ht.is_quick() else Settings(15, 3000, 1000, 48)


class Block(nn.Module):
    """Pre-norm transformer block: ``x + attn(ln(x))`` then ``x + mlp(ln(x))``.

    ``attention=False`` removes the attention sub-layer (the block is then only its MLP),
    ``layernorm=False`` replaces the norms by ``nn.Identity``, ``residual=False`` drops the
    ``Residual`` wrappers (skip connections).
    """

    def __init__(self, width: int, heads: int, attention: bool, layernorm: bool, residual: bool):
        super().__init__()
        self.attn = C.residual(_Attention(width, heads, layernorm), residual) if attention else nn.Identity()
        mlp = nn.Sequential(
            C.norm("layer" if layernorm else "none", width, layout="sequence"),
            nn.Linear(width, 2 * width),
            nn.GELU(),
            nn.Linear(2 * width, width),
        )
        self.mlp = C.residual(mlp, residual)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.attn(x))


class _Attention(nn.Module):
    def __init__(self, width: int, heads: int, layernorm: bool):
        super().__init__()
        self.norm = C.norm("layer" if layernorm else "none", width, layout="sequence")
        self.mha = nn.MultiheadAttention(width, heads, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(x)
        return self.mha(h, h, h, need_weights=False)[0]


class SortTransformer(nn.Module):
    """Token embedding (+ learned positions) → 2 blocks → final norm → per-position classifier."""

    def __init__(self, attention=True, layernorm=True, residual=True, posenc=True, width=64, heads=4, layers=2):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, width)
        self.pos = nn.Parameter(torch.randn(1, SEQ_LEN, width) * 0.1) if posenc else None
        self.blocks = nn.Sequential(*(Block(width, heads, attention, layernorm, residual) for _ in range(layers)))
        self.norm = C.norm("layer" if layernorm else "none", width, layout="sequence")
        self.out = nn.Linear(width, VOCAB)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.embed(tokens.long())
        if self.pos is not None:
            x = x + self.pos
        return self.out(self.norm(self.blocks(x)))


def build_model(config: dict, width: int) -> nn.Module:
    return SortTransformer(
        attention=config["attention"], layernorm=config["layernorm"], residual=config["residual"],
        posenc=config["posenc"], width=width,
    )


@functools.lru_cache(maxsize=4)
def sort_data(n_train: int, n_val: int, seed: int = 0) -> ht.ClassificationData:
    """Random digit sequences and their sorted versions (fixed ``seed``: the same task every trial)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, VOCAB, size=(n_train + n_val, SEQ_LEN))
    y = np.sort(x, axis=1)
    xt = torch.as_tensor(x, dtype=torch.long)
    yt = torch.as_tensor(y, dtype=torch.long)
    return ht.ClassificationData(xt[:n_train], yt[:n_train], xt[n_train:], yt[n_train:], n_classes=VOCAB)


def objective(trial) -> float:
    """Per-token validation accuracy of the configured transformer."""
    config = space.suggest(trial)
    s = settings()
    result = ht.train_classifier(
        functools.partial(build_model, config, s.width),
        sort_data(s.n_train, s.n_val),
        trial=trial,
        epochs=s.epochs,
        batch_size=64,
        optimizer="adamw",
        lr=config["lr"],
        weight_decay=0.01,
    )
    return result.val_acc
