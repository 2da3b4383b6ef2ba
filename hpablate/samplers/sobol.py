"""Sobol (Saltelli) design: variance-based global sensitivity with first- and total-order indices."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hpablate.design import Plan
from hpablate.design.sobol import sobol
from hpablate.record import SOBOL_N_ATTR, SOBOL_SECOND_ORDER_ATTR
from hpablate.samplers._plan_sampler import PlanSampler
from hpablate.space import SearchSpace


class SobolSampler(PlanSampler):
    """A Saltelli design over the space's unit cube, for Sobol indices with CIs.

    Each replicate runs ``n`` base points of a scrambled Sobol' sequence as the matrices ``A``,
    ``B`` and ``AB_i`` (``A`` with parameter ``i`` from ``B``), plus ``BA_i`` with
    ``second_order``: ``n (k + 2)`` trials per replicate (``n (2k + 2)``). Categorical choices,
    integers and stepped floats are drawn uniformly from their values, log ranges in log space
    (see :mod:`hpablate.design.sobol`). :func:`hpablate.analyze` reports first-order (Saltelli
    2010), total-order (Jansen) and second-order indices with bootstrap CIs over base points
    and, with ``repeats``, over seeds; on the same points they equal SALib's ``sobol.analyze``.

    Parameters
    ----------
    space : SearchSpace
        The shared search space.
    n : int, default 256
        Base points per replicate (a power of 2 keeps the sequence balanced).
    params : sequence of str, optional
        The factors (default: every parameter); the rest stay at baseline.
    second_order : bool, default False
        Also run ``BA_i``, for second-order indices.
    repeats : int, default 1
        Replicates, each with its own base points and seed.
    seed : int, default 0
        Seed of the scrambling and the replicate seeds.
    max_retries : int, default 2
        Retries of a failed slot.

    Examples
    --------
    >>> import hpablate as hp
    >>> space = hp.SearchSpace(hp.Float("x1", 0, 1), hp.Float("x2", 0, 1), hp.Categorical("c", ["a", "b"]))
    >>> hp.SobolSampler(space, n=64).n_slots  # 64 * (3 + 2)
    320
    >>> hp.SobolSampler(space, n=64, second_order=True, repeats=2).n_slots  # 64 * (6 + 2) * 2
    1024
    """

    design = "sobol"

    def __init__(
        self,
        space: SearchSpace,
        n: int = 256,
        params: Sequence[str] | None = None,
        *,
        second_order: bool = False,
        repeats: int = 1,
        seed: int = 0,
        max_retries: int = 2,
    ) -> None:
        self._n = n
        self._params = None if params is None else list(params)
        self._second_order = bool(second_order)
        super().__init__(space, repeats=repeats, seed=seed, max_retries=max_retries)

    def _build_plan(self) -> Plan:
        return sobol(self._space, self._n, self._params, second_order=self._second_order, repeats=self._repeats,
                     seed=self._seed)

    def _study_attrs(self) -> dict[str, Any]:
        return {SOBOL_N_ATTR: int(self._n), SOBOL_SECOND_ORDER_ATTR: self._second_order}
