"""Shapley ablation design: the components' on/off subsets, for Shapley values of the metric.

The *game* has the chosen components as players; the worth ``v(S)`` of a subset ``S`` is the
metric with the components in ``S`` on (at their baseline, the full model's value) and every other
chosen component off (``Component.off``); parameters that are not players stay at baseline. So
``v(all)`` is the full model, ``v(∅)`` the bare one, and the Shapley values split ``v(all) - v(∅)``
among the components, averaging each one's marginal contribution over the orders in which the
components could be added.

* ``2^k <= max_subsets`` (default 1,024, i.e. ``k <= 10``): every subset is run, and the Shapley
  values and pairwise Shapley interaction indices are exact up to seed noise.
* Otherwise a sampled design of ``m`` orders (permutations) per replicate: each order is a chain
  ``∅ ⊂ {π1} ⊂ {π1, π2} ⊂ … ⊂ all`` of ``k + 1`` subsets, run once each (shared subsets once).
  ``m = (max_subsets - 2) // (k - 1)`` (rounded down to even: half the orders are the reverses of
  the other half, antithetic sampling). The orders of a replicate are drawn from its seed
  (:func:`shapley_orders`), so the analysis re-derives them from the trial record.

A component whose baseline is its off value is "on" at its first other choice. A multi-valued
component (``norm``: ``batch`` / ``layer`` / ``none``) is a player whose "on" is its baseline
value; each of its other non-off choices gets a game of its own (the same players, that choice as
"on"), so every choice is compared against the ablated value. Those games share every subset in
which the component is off, so each extra choice costs only the subsets in which it is on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hpablate.design._plan import Config, Plan, check_plan_size, deduplicate, replicate_seeds
from hpablate.design.structural import _chosen_components
from hpablate.errors import SpaceError
from hpablate.space import Component, SearchSpace, same_value

#: All subsets are run up to this many (``k <= 10``); beyond it, sampled orders.
DEFAULT_MAX_SUBSETS = 1024


def on_value(component: Component) -> Any:
    """The value that switches a component on: its baseline, or its first other choice if that is off."""
    if not same_value(component.baseline, component.off):
        return component.baseline
    return next(c for c in component.choices if not same_value(c, component.off))


def shapley_games(components: Sequence[Component]) -> list[dict[str, Any]]:
    """The games' "on" values: the full model's, then one game per other non-off choice.

    Examples
    --------
    >>> import hpablate as hp
    >>> norm = hp.Component("norm", choices=["batch", "layer", "none"], baseline="batch")
    >>> shapley_games([norm, hp.Component("residual")])
    [{'norm': 'batch', 'residual': True}, {'norm': 'layer', 'residual': True}]
    """
    main = {c.name: on_value(c) for c in components}
    games = [main]
    for c in components:
        for choice in c.choices:
            if not same_value(choice, c.off) and not same_value(choice, main[c.name]):
                games.append({**main, c.name: choice})
    return games


def n_orders(k: int, max_subsets: int | None) -> int:
    """Orders sampled per replicate: 0 when all ``2^k`` subsets fit in ``max_subsets``."""
    limit = DEFAULT_MAX_SUBSETS if max_subsets is None else int(max_subsets)
    if limit < 2:
        raise SpaceError(f"max_subsets must be >= 2 (the full and the bare model), got {max_subsets!r}")
    if k <= 1 or 2**k <= limit:
        return 0
    m = (limit - 2) // (k - 1)
    if m < 2:
        raise SpaceError(f"max_subsets={limit} leaves no room for two orders of {k} components: give at least "
                         f"{2 * (k - 1) + 2}")
    return m - m % 2


def shapley_orders(k: int, m: int, replicate_seed: int) -> np.ndarray:
    """The ``m`` orders of one replicate, shape ``(m, k)``: ``m / 2`` random, then their reverses.

    Examples
    --------
    >>> shapley_orders(3, 2, 7).tolist() == [shapley_orders(3, 2, 7)[0].tolist(), shapley_orders(3, 2, 7)[0][::-1].tolist()]
    True
    """
    rng = np.random.default_rng([int(replicate_seed), k, m])
    half = np.array([rng.permutation(k) for _ in range(m // 2)], dtype=int).reshape(-1, k)
    return np.concatenate([half, half[:, ::-1]])


def subset_masks(k: int, orders: np.ndarray | None) -> list[int]:
    """Bit masks of the subsets to run: all ``2^k``, or the chains of ``orders`` (each once, in order)."""
    if orders is None or not len(orders):
        return list(range(2**k))
    masks: dict[int, None] = {}
    for order in orders:
        mask = 0
        masks[mask] = None
        for i in order:
            mask |= 1 << int(i)
            masks[mask] = None
    return list(masks)


def shapley_configs(space: SearchSpace, components: Sequence[Component], masks: Sequence[int]) -> list[Config]:
    """Every game's configuration of every subset, deduplicated (games share their "off" subsets)."""
    base = space.baseline
    configs = []
    for game in shapley_games(components):
        for mask in masks:
            on = [c.name for i, c in enumerate(components) if mask >> i & 1]
            values: Mapping[str, Any] = {c.name: game[c.name] if c.name in on else c.off for c in components}
            changed = tuple(c.name for c in components if not same_value(values[c.name], base[c.name]))
            configs.append(Config(params=space.active({**base, **values}), design="shapley", varied=changed,
                                  level=None, extra={"subset": tuple(on)}))
    return deduplicate(configs)


def shapley(
    space: SearchSpace,
    components: Sequence[str] | None = None,
    max_subsets: int | None = None,
    *,
    repeats: int = 3,
    seed: int = 0,
) -> Plan:
    """The Shapley plan: every on/off subset (or sampled orders' chains) in each replicate.

    Examples
    --------
    >>> import hpablate as hp
    >>> space = hp.SearchSpace(*[hp.Component(n) for n in ("a", "b", "c")], hp.Float("lr", 0.1, 1))
    >>> len(shapley(space, repeats=2))  # 2^3 subsets x 2 replicates
    16
    >>> plan = shapley(hp.SearchSpace(*[hp.Component(f"c{i}") for i in range(12)]), repeats=1)
    >>> plan.options["orders"], len(plan) <= 1024
    (92, True)
    """
    chosen = _chosen_components(space, components)
    m = n_orders(len(chosen), max_subsets)
    seeds = replicate_seeds(seed, repeats)
    per = (2 ** len(chosen) if m == 0 else m * (len(chosen) - 1) + 2) * len(shapley_games(chosen))
    check_plan_size(per * len(seeds), f"the Shapley design over {len(chosen)} components")
    replicates = [shapley_configs(space, chosen, subset_masks(len(chosen), shapley_orders(len(chosen), m, s) if m else None))
                  for s in seeds]
    options = {"components": [c.name for c in chosen], "max_subsets": max_subsets, "orders": m, "repeats": repeats}
    return Plan(space, replicates, seeds, "shapley", options)


def exact_weights(k: int) -> np.ndarray:
    """Shapley weights ``|S|! (k - |S| - 1)! / k!`` by subset size ``|S| = 0 … k - 1``."""
    return np.array([math.factorial(s) * math.factorial(k - s - 1) / math.factorial(k) for s in range(k)])
