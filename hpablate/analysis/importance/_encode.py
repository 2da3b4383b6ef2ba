"""Trials as a numeric matrix for the fANOVA forest, and the box that defines its uniform measure."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from hpablate.space import value_key


@dataclass
class Encoded:
    """Trials encoded as a numeric matrix for the forest.

    Attributes
    ----------
    X : ndarray, shape (n_trials, n_columns)
    bounds : ndarray, shape (n_columns, 2)
        The box whose uniform measure defines the variance decomposition.
    groups : list of ndarray
        Encoded columns of each parameter (several for one-hot categoricals).
    names : list of str
    """

    X: np.ndarray
    bounds: np.ndarray
    groups: list[np.ndarray]
    names: list[str]


def encode(params: pd.DataFrame, distributions: dict[str, Any], encoding: str = "hpablate") -> Encoded:
    """Encode parameter values for fANOVA.

    Parameters
    ----------
    params : DataFrame
        One column per parameter (external values), no missing values.
    distributions : dict
        Parameter name to Optuna distribution, in the column order to use.
    encoding : {"hpablate", "optuna"}
        ``"hpablate"``: log-scaled floats/ints are analysed in log space, integers over
        ``[low-step/2, high+step/2]``, categoricals as one ordinal column over
        ``[-0.5, k-0.5]`` so every choice gets equal measure (as in Hutter et al.).
        ``"optuna"``: exactly Optuna's ``FanovaImportanceEvaluator`` encoding (raw scale, no
        step widening, one-hot categoricals over ``[0, 1]`` each) for cross-checks.
    """
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if encoding not in ("hpablate", "optuna"):
        raise ValueError(f"encoding must be 'hpablate' or 'optuna', not {encoding!r}")
    cols: list[np.ndarray] = []
    bounds: list[tuple[float, float]] = []
    groups: list[np.ndarray] = []
    names = list(distributions)
    for name, d in distributions.items():
        v = params[name].to_numpy()
        start = len(cols)
        if isinstance(d, CategoricalDistribution):
            index = {value_key(c): i for i, c in enumerate(d.choices)}
            idx = np.array([index[value_key(x)] for x in v], dtype=np.int64)
            k = len(d.choices)
            if encoding == "optuna":
                for j in range(k):
                    cols.append((idx == j).astype(float))
                    bounds.append((0.0, 1.0))
            else:
                cols.append(idx.astype(float))
                bounds.append((-0.5, k - 0.5))
        elif isinstance(d, (FloatDistribution, IntDistribution)):
            x = v.astype(float)
            low, high = float(d.low), float(d.high)
            if encoding == "optuna":
                cols.append(x)
                bounds.append((low, high))
            else:
                half = 0.5 * d.step if isinstance(d, IntDistribution) else 0.0
                if d.log:
                    cols.append(np.log(x))
                    bounds.append((math.log(low - half) if low - half > 0 else math.log(low), math.log(high + half)))
                else:
                    cols.append(x)
                    bounds.append((low - half, high + half))
        else:  # pragma: no cover - Optuna has no other distributions
            raise ValueError(f"unsupported distribution for {name!r}: {d!r}")
        groups.append(np.arange(start, len(cols)))
    X = np.column_stack(cols) if cols else np.empty((len(params), 0))
    B = np.array(bounds, dtype=float).reshape(-1, 2)
    X = np.clip(X, B[:, 0], B[:, 1])
    return Encoded(X, B, groups, names)


# --------------------------------------------------------------------------------------------
