"""Test functions whose sensitivity indices are known analytically.

Each function comes as a :class:`SensitivityFunction`: an hpablate :class:`~hpablate.SearchSpace`,
a vectorised evaluation, an Optuna objective (with optional Gaussian noise, so replicates matter)
and the exact first-order (``S_i``) and total-order (``ST_i``) Sobol indices **with respect to the
measure Optuna's** ``RandomSampler`` **draws from on that space**: uniform for linear floats,
log-uniform for log-scaled floats, discrete uniform for integers on their step grid and for
categorical choices. These indices are the ground truth of :func:`hpablate.compare` and of
``benchmarks/ranking_recovery.py``.

* :func:`ishigami` — Ishigami & Homma (1990), ``a = 7, b = 0.1`` on ``[-π, π]³`` (optionally with
  inert dummy inputs). ``x3`` acts only through its interaction with ``x1``: ``S_3 = 0``,
  ``ST_3 = 0.2437``, and one-at-a-time sweeps from the centre (``x1 = 0``) cannot see it.
* :func:`sobol_g` — Sobol's G-function, ``a = (0, 1, 4.5, 9, 99, 99, 99, 99)`` on ``[0, 1]⁸``.
  With ``a_1 = 0`` the whole function vanishes at ``x1 = 0.5``: from the centre, every input but
  ``x1`` looks inert.
* :func:`lr_batch_optimizer` — a hyperparameter-shaped function of a log-scaled learning rate, an
  integer batch size, a categorical optimizer, a dropout rate that acts only through its
  interaction with the learning rate, and an inert (log-scaled) weight decay.

Examples
--------
>>> from hpablate.testing import ishigami
>>> f = ishigami()
>>> {k: round(v, 4) for k, v in f.total_order.items()}
{'x1': 0.5576, 'x2': 0.4424, 'x3': 0.2437}
>>> round(f({"x1": 0.0, "x2": 0.0, "x3": 1.0}), 6)
0.0
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna

from hpablate.space import Categorical, Float, Int, SearchSpace

__all__ = [
    "SensitivityFunction",
    "ishigami",
    "ishigami_indices",
    "lr_batch_optimizer",
    "sobol_g",
    "sobol_g_indices",
]

Evaluate = Callable[[Mapping[str, np.ndarray]], np.ndarray]
FromUnit = Callable[[np.ndarray], Mapping[str, np.ndarray]]


@dataclass(frozen=True)
class SensitivityFunction:
    """A test function with its search space and exact Sobol indices.

    Attributes
    ----------
    name : str
        Short name (``"ishigami"``, ``"sobol_g"``, ``"lr_batch_optimizer"``).
    space : SearchSpace
        The hpablate space (baselines at the centre of each range unless stated otherwise).
    first_order, total_order : dict
        Exact first-order ``S_i`` and total-order ``ST_i`` Sobol indices per parameter.
    noise_sd : float
        Standard deviation of the Gaussian noise the :meth:`objective` adds (0: deterministic).
    direction : str
        ``"minimize"``: every function here is a loss to minimise.
    variance : float
        Exact variance of the noise-free function under that measure.
    evaluate : callable
        ``evaluate(columns) -> ndarray``: the noise-free function on arrays of parameter values
        (external values, one array per parameter name).
    from_unit : callable
        ``from_unit(U) -> columns``: maps ``U`` of shape ``(n, d)`` with rows uniform on the unit
        cube to parameter values distributed as Optuna's ``RandomSampler`` draws them; used to
        estimate the indices by Monte Carlo (e.g. SALib's Sobol method).
    """

    name: str
    space: SearchSpace
    first_order: dict[str, float]
    total_order: dict[str, float]
    evaluate: Evaluate = field(repr=False)
    from_unit: FromUnit = field(repr=False)
    noise_sd: float = 0.0
    direction: str = "minimize"
    variance: float = float("nan")

    @property
    def names(self) -> list[str]:
        """Parameter names in space order."""
        return self.space.names

    def __call__(self, config: Mapping[str, Any]) -> float:
        """The noise-free value at one configuration (a dict of parameter values)."""
        columns = {n: np.asarray([config[n]]) for n in self.names}
        return float(self.evaluate(columns)[0])

    def evaluate_unit(self, U: np.ndarray) -> np.ndarray:
        """Noise-free values at the rows of ``U`` (unit cube), mapped through :attr:`from_unit`."""
        U = np.atleast_2d(np.asarray(U, dtype=float))
        if U.shape[1] != len(self.names):
            raise ValueError(f"{self.name}: U has {U.shape[1]} columns, the space {len(self.names)} parameters")
        return np.asarray(self.evaluate(self.from_unit(U)), dtype=float)

    def noise(self, config: Mapping[str, Any], seed: int) -> float:
        """The noise term added at ``config`` for replicate seed ``seed`` (0 if ``noise_sd`` is 0).

        The noise is a deterministic function of the seed *and* the configuration, so a resumed
        study reproduces it, and different configurations of one replicate get independent noise
        (an additive noise shared by the whole replicate would cancel in every difference).
        """
        if self.noise_sd == 0:
            return 0.0
        key = repr(sorted((k, repr(config[k])) for k in self.names)).encode()
        rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(key)])
        return float(self.noise_sd * rng.standard_normal())

    def objective(self, trial: optuna.trial.BaseTrial) -> float:
        """Optuna objective: suggest every parameter, evaluate, add noise seeded by the trial.

        The seed is :func:`hpablate.trial_seed` (a plan's replicate seed, or one derived from
        the trial number for Random/TPE/GP trials).
        """
        from hpablate.runner import trial_seed

        config = self.space.suggest(trial)
        value = self(config)
        if self.noise_sd:
            value += self.noise(config, trial_seed(trial))
        return value

    def with_noise(self, noise_sd: float) -> SensitivityFunction:
        """A copy of the function with Gaussian noise of standard deviation ``noise_sd``."""
        if noise_sd < 0 or not math.isfinite(noise_sd):
            raise ValueError(f"noise_sd must be a finite number >= 0, got {noise_sd}")
        return SensitivityFunction(
            self.name, self.space, self.first_order, self.total_order, self.evaluate, self.from_unit,
            float(noise_sd), self.direction, self.variance,
        )

    @property
    def salib_problem(self) -> dict[str, Any]:
        """The SALib problem on the unit cube that :meth:`evaluate_unit` takes."""
        d = len(self.names)
        return {"num_vars": d, "names": list(self.names), "bounds": [[0.0, 1.0]] * d}



def _make(name: str, space: SearchSpace, s: Mapping[str, float], st: Mapping[str, float], evaluate: Evaluate,
          from_unit: FromUnit, variance: float, noise_sd: float) -> SensitivityFunction:
    if noise_sd < 0 or not math.isfinite(noise_sd):
        raise ValueError(f"noise_sd must be a finite number >= 0, got {noise_sd}")
    return SensitivityFunction(name, space, dict(s), dict(st), evaluate, from_unit, float(noise_sd), "minimize",
                               float(variance))


# ---- Ishigami -----------------------------------------------------------------------------------
def ishigami_indices(a: float = 7.0, b: float = 0.1) -> tuple[dict[str, float], dict[str, float], float]:
    """Exact Sobol indices of the Ishigami function ``sin x1 + a sin² x2 + b x3⁴ sin x1``.

    With ``x ~ U[-π, π]³``: ``V1 = ½ (1 + b π⁴ / 5)²``, ``V2 = a² / 8``, ``V3 = 0``,
    ``V13 = b² π⁸ (1/18 - 1/50)``, ``V = V1 + V2 + V13``.

    Returns
    -------
    first_order, total_order : dict
    variance : float
    """
    pi4 = math.pi**4
    v1 = 0.5 * (1 + b * pi4 / 5) ** 2
    v2 = a * a / 8
    v13 = b * b * pi4 * pi4 * (1 / 18 - 1 / 50)
    v = v1 + v2 + v13
    s = {"x1": v1 / v, "x2": v2 / v, "x3": 0.0}
    st = {"x1": (v1 + v13) / v, "x2": v2 / v, "x3": v13 / v}
    return s, st, v


def ishigami(a: float = 7.0, b: float = 0.1, *, n_dummy: int = 0, noise_sd: float = 0.0) -> SensitivityFunction:
    """The Ishigami function on ``[-π, π]³`` (baselines at 0), to be minimised.

    Parameters
    ----------
    a, b : float
        Coefficients (the classic values 7 and 0.1 give ``S = (0.3139, 0.4424, 0)`` and
        ``ST = (0.5576, 0.4424, 0.2437)``).
    n_dummy : int, default 0
        Extra inert inputs ``x4, x5, …`` on ``[-π, π]`` (indices 0), so that "which parameters
        matter" is a non-trivial question for every estimand.
    noise_sd : float, default 0
        Gaussian noise added by :meth:`SensitivityFunction.objective`.
    """
    if n_dummy < 0:
        raise ValueError(f"n_dummy must be >= 0, got {n_dummy}")
    d = 3 + int(n_dummy)
    names = [f"x{i + 1}" for i in range(d)]
    space = SearchSpace(*[Float(n, -math.pi, math.pi, baseline=0.0) for n in names])
    s, st, v = ishigami_indices(a, b)
    for n in names[3:]:
        s[n] = st[n] = 0.0

    def evaluate(c: Mapping[str, np.ndarray]) -> np.ndarray:
        x1, x2, x3 = (np.asarray(c[n], dtype=float) for n in ("x1", "x2", "x3"))
        return np.sin(x1) + a * np.sin(x2) ** 2 + b * x3**4 * np.sin(x1)

    def from_unit(U: np.ndarray) -> dict[str, np.ndarray]:
        return {n: -math.pi + 2 * math.pi * U[:, j] for j, n in enumerate(names)}

    return _make("ishigami", space, s, st, evaluate, from_unit, v, noise_sd)


# ---- Sobol G ------------------------------------------------------------------------------------
G_A = (0.0, 1.0, 4.5, 9.0, 99.0, 99.0, 99.0, 99.0)


def sobol_g_indices(a: Sequence[float] = G_A) -> tuple[dict[str, float], dict[str, float], float]:
    """Exact Sobol indices of the G-function ``Π (|4 x_i - 2| + a_i) / (1 + a_i)`` on ``[0, 1]^d``.

    ``V_i = 1 / (3 (1 + a_i)²)``, ``V = Π (1 + V_i) - 1``, ``S_i = V_i / V``,
    ``ST_i = V_i Π_{j≠i} (1 + V_j) / V``.
    """
    vi = np.array([1.0 / (3.0 * (1.0 + ai) ** 2) for ai in a])
    prod = float(np.prod(1.0 + vi))
    v = prod - 1.0
    names = [f"x{i + 1}" for i in range(len(vi))]
    s = {n: float(vi[i] / v) for i, n in enumerate(names)}
    st = {n: float(vi[i] * prod / (1.0 + vi[i]) / v) for i, n in enumerate(names)}
    return s, st, v


def sobol_g(a: Sequence[float] = G_A, *, noise_sd: float = 0.0) -> SensitivityFunction:
    """Sobol's G-function on ``[0, 1]^d`` (baselines 0.5), to be minimised.

    Parameters
    ----------
    a : sequence of float, default ``(0, 1, 4.5, 9, 99, 99, 99, 99)``
        Small ``a_i``: important input; ``a_i = 99``: almost inert.
    noise_sd : float, default 0
        Gaussian noise added by :meth:`SensitivityFunction.objective`.
    """
    a = tuple(float(x) for x in a)
    if not a or any(x < 0 for x in a):
        raise ValueError(f"a must be a non-empty sequence of numbers >= 0, got {a}")
    names = [f"x{i + 1}" for i in range(len(a))]
    space = SearchSpace(*[Float(n, 0.0, 1.0, baseline=0.5) for n in names])
    s, st, v = sobol_g_indices(a)
    coef = np.array(a)

    def evaluate(c: Mapping[str, np.ndarray]) -> np.ndarray:
        X = np.column_stack([np.asarray(c[n], dtype=float) for n in names])
        return np.prod((np.abs(4 * X - 2) + coef) / (1 + coef), axis=1)

    def from_unit(U: np.ndarray) -> dict[str, np.ndarray]:
        return {n: U[:, j].copy() for j, n in enumerate(names)}

    return _make("sobol_g", space, s, st, evaluate, from_unit, v, noise_sd)


# ---- lr / batch / optimizer ---------------------------------------------------------------------
#: Per-optimizer effect ``h(o)`` (mean 0 over the three choices, variance 1/2).
OPTIMIZER_EFFECT = {"sgd": 1.0, "adam": -0.5, "rmsprop": -0.5}
_BATCH_VALUES = np.arange(16, 257, 16)  # 16 values, discrete uniform under Optuna's RandomSampler


def lr_batch_optimizer(*, noise_sd: float = 0.0) -> SensitivityFunction:
    """A training-loss-shaped function of lr, batch size, optimizer, dropout and weight decay.

    Space (what Optuna's ``RandomSampler`` draws, which defines the indices)::

        lr            Float 1e-4..1e-1, log    u = 2 (log10 lr + 4) / 3 - 1   ~ U[-1, 1]
        batch_size    Int 16..256, step 16     b = (batch - 136) / 120          16 equally spaced in [-1, 1]
        optimizer     sgd | adam | rmsprop     h = +1, -1/2, -1/2               uniform
        dropout       Float 0..0.5             d = 4 dropout - 1                ~ U[-1, 1]
        weight_decay  Float 1e-6..1e-2, log    inert

    ``f = 2 + 3 (u² - 1/3) + b + 0.6 h + 1.5 u b + 3 u d``.

    Every term is a product of zero-mean functions of distinct inputs, so the terms are the
    ANOVA (Sobol-Hoeffding) decomposition and each term's variance is the product of its
    factors' variances: ``Var(u² - 1/3) = 1/5 - 1/9 = 4/45``, ``Var(u) = Var(d) = 1/3``,
    ``Var(b) = (n + 1) / (3 (n - 1)) = 17/45`` for ``n = 16`` points, ``Var(h) = 1/2``. Hence
    ``V_lr = 9·4/45 = 0.8``, ``V_batch = 17/45``, ``V_opt = 0.36·0.5 = 0.18``,
    ``V_lr,batch = 2.25·17/135``, ``V_lr,dropout = 9/9 = 1``; ``V`` is their sum
    (2.6411), ``S_i = V_i / V`` and ``ST_i`` adds the interactions containing ``i``:

    ============  =======  =======
    param         S        ST
    ============  =======  =======
    lr            0.3029   0.7888
    batch_size    0.1430   0.2503
    optimizer     0.0682   0.0682
    dropout       0        0.3786
    weight_decay  0        0
    ============  =======  =======

    Baselines: lr = 10^-2.5 (``u = 0``), batch 128, adam, dropout 0.25 (``d = 0``), weight decay
    1e-4. At the baseline ``u = 0``, so a one-at-a-time sweep sees no effect of dropout (total
    index 0.38): only a design that moves lr and dropout together (Morris, a grid) finds it.

    Parameters
    ----------
    noise_sd : float, default 0
        Gaussian noise added by :meth:`SensitivityFunction.objective`.
    """
    space = SearchSpace(
        Float("lr", 1e-4, 1e-1, log=True, baseline=10**-2.5, levels=[1e-4, 1e-3, 10**-2.5, 1e-2, 1e-1]),
        Int("batch_size", 16, 256, step=16, baseline=128, levels=[16, 64, 128, 192, 256]),
        Categorical("optimizer", ["sgd", "adam", "rmsprop"], baseline="adam"),
        Float("dropout", 0.0, 0.5, baseline=0.25, levels=[0.0, 0.125, 0.25, 0.375, 0.5]),
        Float("weight_decay", 1e-6, 1e-2, log=True, baseline=1e-4, levels=[1e-6, 1e-5, 1e-4, 1e-3, 1e-2]),
    )
    n = len(_BATCH_VALUES)
    var_b = (n + 1) / (3 * (n - 1))
    parts = {
        ("lr",): 9 * 4 / 45,
        ("batch_size",): var_b,
        ("optimizer",): 0.36 * 0.5,
        ("lr", "batch_size"): 2.25 * (1 / 3) * var_b,
        ("lr", "dropout"): 9 * (1 / 3) * (1 / 3),
    }
    v = sum(parts.values())
    names = space.names
    s = {p: sum(x for k, x in parts.items() if k == (p,)) / v for p in names}
    st = {p: sum(x for k, x in parts.items() if p in k) / v for p in names}
    h_of = np.vectorize(lambda o: OPTIMIZER_EFFECT[o], otypes=[float])

    def evaluate(c: Mapping[str, np.ndarray]) -> np.ndarray:
        u = 2 * (np.log10(np.asarray(c["lr"], dtype=float)) + 4) / 3 - 1
        b = (np.asarray(c["batch_size"], dtype=float) - 136) / 120
        h = h_of(np.asarray(c["optimizer"], dtype=object))
        d = 4 * np.asarray(c["dropout"], dtype=float) - 1
        return 2 + 3 * (u * u - 1 / 3) + b + 0.6 * h + 1.5 * u * b + 3 * u * d

    choices = np.array(["sgd", "adam", "rmsprop"], dtype=object)

    def from_unit(U: np.ndarray) -> dict[str, np.ndarray]:
        return {
            "lr": 10 ** (-4 + 3 * U[:, 0]),
            "batch_size": _BATCH_VALUES[np.minimum((U[:, 1] * n).astype(int), n - 1)],
            "optimizer": choices[np.minimum((U[:, 2] * 3).astype(int), 2)],
            "dropout": 0.5 * U[:, 3],
            "weight_decay": 10 ** (-6 + 4 * U[:, 4]),
        }

    return _make("lr_batch_optimizer", space, s, st, evaluate, from_unit, v, noise_sd)
