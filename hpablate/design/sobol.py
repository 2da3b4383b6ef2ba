"""Sobol (Saltelli) design: A, B and the AB_i (and BA_i) matrices over the space's unit cube.

Each replicate draws ``n`` base points from a scrambled Sobol' sequence of dimension ``2 k``
(:class:`scipy.stats.qmc.Sobol`); the first ``k`` columns are the matrix ``A``, the last ``k`` the
matrix ``B`` (SALib's construction). ``AB_i`` is ``A`` with column ``i`` taken from ``B``; with
``second_order``, ``BA_i`` is ``B`` with column ``i`` from ``A``. The rows of one base point run in
SALib's order ``A, AB_1 … AB_k, [BA_1 … BA_k,] B``, so the objective values of a replicate, in
plan order, are exactly the ``Y`` that :func:`SALib.analyze.sobol.analyze` takes.

Unit coordinates become values through :meth:`SearchSpace.from_unit` (log ranges move evenly in
log space). Discrete parameters are first snapped to the centre of their cell, so that every
categorical choice and every integer (or stepped float) on its grid is equally likely: the
uniform measure Optuna's ``RandomSampler`` draws from, with respect to which the indices of
:mod:`hpablate.testing` are defined (``from_unit`` alone rounds, which halves the weight of the
two end values). Log-scaled integers are mapped continuously in log space, then rounded.

Conditional spaces: every row draws a coordinate for every factor, and the configuration keeps the
parameters that exist there (:meth:`SearchSpace.active`). The design thus samples the function
``f(active(x))`` over the full unit cube, in which an inactive parameter's coordinate changes
nothing (an ``AB_i`` row of an inactive child repeats ``A``); its Sobol indices are well defined,
and a child's main effect is averaged over its parent (see
:data:`hpablate.analysis.importance.sobol.SOBOL_CONDITIONAL`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from hpablate.design._plan import Config, Plan, check_plan_size, replicate_seeds
from hpablate.errors import SpaceError
from hpablate.space import Categorical, Float, Int, SearchSpace

#: Matrices of a Saltelli design, in the order one base point's rows run.
MATRICES = ("A", "AB", "BA", "B")
#: Base points per independent scrambling. A bootstrap over the points of one scrambled Sobol'
#: sequence assumes them independent; for some coordinate pairs the sequence's error is larger
#: than that (measured on the 8-d G-function: 1.5-2x the bootstrap SD of S_4 and S_6), so the points
#: come in blocks of independent scramblings and the bootstrap resamples blocks, then points.
SCRAMBLE_BLOCK = 64


def saltelli_unit(n_factors: int, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The ``A`` and ``B`` matrices, shape ``(n, n_factors)`` each: independently scrambled Sobol'
    sequences of :data:`SCRAMBLE_BLOCK` points each (the last block may be shorter).

    Examples
    --------
    >>> A, B = saltelli_unit(3, 8, np.random.default_rng(0))
    >>> A.shape, B.shape, bool(((A >= 0) & (A < 1)).all())
    ((8, 3), (8, 3), True)
    """
    from scipy.stats import qmc

    blocks = []
    for start in range(0, n, SCRAMBLE_BLOCK):
        try:
            engine = qmc.Sobol(d=2 * n_factors, scramble=True, rng=rng)
        except TypeError:  # SciPy < 1.15 names the generator `seed`
            engine = qmc.Sobol(d=2 * n_factors, scramble=True, seed=rng)
        with warnings.catch_warnings():
            # n not a power of 2 loses the sequence's balance, not its validity (scrambled points
            # stay uniform); the docstrings recommend powers of 2.
            warnings.simplefilter("ignore", UserWarning)
            blocks.append(engine.random(min(SCRAMBLE_BLOCK, n - start)))
    base = np.concatenate(blocks)
    return base[:, :n_factors], base[:, n_factors:]


def uniform_unit(space: SearchSpace, name: str, u: float) -> float:
    """The unit coordinate that :meth:`SearchSpace.from_unit` maps to the value uniform ``u`` falls on.

    A categorical with ``m`` choices (or an integer / stepped float with ``m`` grid values) gets
    choice ``floor(u m)``, each with probability ``1 / m``; other parameters keep ``u``.

    Examples
    --------
    >>> import hpablate as hp
    >>> space = hp.SearchSpace(hp.Categorical("opt", ["sgd", "adam", "rmsprop"]))
    >>> [space.from_unit("opt", uniform_unit(space, "opt", u)) for u in (0.1, 0.4, 0.9)]
    ['sgd', 'adam', 'rmsprop']
    """
    param = space[name]
    if isinstance(param, Categorical):
        m = len(param.choices)
    elif isinstance(param, (Int, Float)) and param.step is not None and not param.log:
        m = int(round((param.high - param.low) / param.step)) + 1
    else:
        return float(u)
    if m <= 1:
        return 0.0
    return min(int(u * m), m - 1) / (m - 1)


def sobol_configs(
    space: SearchSpace,
    names: Sequence[str],
    n: int,
    second_order: bool,
    rng: np.random.Generator,
) -> list[Config]:
    """One replicate of a Saltelli design: ``n (k + 2)`` rows, ``n (2 k + 2)`` with ``second_order``.

    Parameters outside ``names`` stay at baseline. Every row records its base point
    (``sobol_point``), matrix (``sobol_matrix``), the swapped parameter (``varied``, for ``AB`` and
    ``BA`` rows) and its unit coordinates.
    """
    base = space.baseline
    A, B = saltelli_unit(len(names), n, rng)
    configs: list[Config] = []

    def row(j: int, matrix: str, point: np.ndarray, varied: tuple[str, ...] = ()) -> Config:
        values = {name: space.from_unit(name, uniform_unit(space, name, float(u))) for name, u in zip(names, point)}
        extra = {"sobol_point": j, "sobol_matrix": matrix, "unit": tuple(float(u) for u in point)}
        return Config(params=space.active({**base, **values}), design="sobol", varied=varied, extra=extra)

    for j in range(n):
        configs.append(row(j, "A", A[j]))
        for i, name in enumerate(names):
            ab = A[j].copy()
            ab[i] = B[j, i]
            configs.append(row(j, "AB", ab, (name,)))
        if second_order:
            for i, name in enumerate(names):
                ba = B[j].copy()
                ba[i] = A[j, i]
                configs.append(row(j, "BA", ba, (name,)))
        configs.append(row(j, "B", B[j]))
    return configs


def sobol(
    space: SearchSpace,
    n: int = 256,
    params: Sequence[str] | None = None,
    *,
    second_order: bool = False,
    repeats: int = 1,
    seed: int = 0,
) -> Plan:
    """The Sobol plan: ``n`` base points per replicate, each replicate its own scrambling and seed.

    Replicate ``r``'s points come from a generator seeded by ``(seed, r)`` alone, so a plan with
    more replicates starts with the plan with fewer (a study grows by replicates).

    Parameters
    ----------
    space : SearchSpace
        The shared search space.
    n : int, default 256
        Base points per replicate (a power of 2 keeps the Sobol' sequence balanced).
    params : sequence of str, optional
        The factors (default: every parameter); the rest stay at baseline.
    second_order : bool, default False
        Also run the ``BA_i`` matrices, for second-order indices.
    repeats : int, default 1
        Replicates, each with new base points and its own seed.
    seed : int, default 0

    Examples
    --------
    >>> import hpablate as hp
    >>> space = hp.SearchSpace(hp.Float("x1", 0, 1), hp.Float("x2", 0, 1), hp.Float("x3", 0, 1))
    >>> plan = sobol(space, n=4, repeats=2)
    >>> len(plan)  # 4 base points x (3 + 2) rows x 2 replicates
    40
    >>> [s.config.extra["sobol_matrix"] for s in plan][:5]
    ['A', 'AB', 'AB', 'AB', 'B']
    """
    names = space.names if params is None else space.check_names(params)
    if not names:
        raise SpaceError("params must name at least one parameter")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise SpaceError(f"n (base points) must be an integer >= 2, got {n!r}")
    seeds = replicate_seeds(seed, repeats)
    rows = int(n) * (len(names) * (2 if second_order else 1) + 2)
    check_plan_size(rows * len(seeds), f"the Sobol design of {n} base points over {len(names)} parameters")
    replicates = [sobol_configs(space, names, int(n), bool(second_order), np.random.default_rng([int(seed), r]))
                  for r in range(len(seeds))]
    options = {"n": int(n), "params": None if params is None else list(params),
               "second_order": bool(second_order), "repeats": repeats}
    return Plan(space, replicates, seeds, "sobol", options)
