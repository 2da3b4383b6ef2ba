"""Importances: fANOVA (marginal and pairwise), PED-ANOVA and Morris elementary effects.

Every row of every table names its *estimand*, because the methods answer different questions:

* **fANOVA** (Hutter, Hoos & Leyton-Brown, ICML 2014) decomposes the variance of a random forest's
  prediction over the uniform measure on the search space. A marginal importance is the fraction
  of variance of the first-order (main-effect) term; a pairwise importance the fraction of the
  second-order (interaction-only) term, ``V_ij = Var(a_ij) - V_i - V_j``. Parameters that act only
  through interactions get a small marginal importance.
* **PED-ANOVA** (Watanabe et al. 2023, Optuna's default evaluator) measures how far the
  distribution of a parameter among the best trials departs from its distribution among all
  trials: a "what do good trials look like" importance, not a variance fraction.
* **Morris** mu* (mean absolute elementary effect) is a screening proxy for the *total-order*
  effect; sigma flags interactions or non-linearity. Units are objective units per unit of the
  parameter's normalised range.

The fANOVA here is a vectorised re-implementation of Optuna's ``FanovaImportanceEvaluator``
algorithm on scikit-learn forests: each tree is turned into its leaf boxes once, and the marginal
of a parameter set is evaluated on the grid of the tree's split points with an N-d difference array
(one ``bincount`` + cumulative sums) instead of one tree traversal per grid cell.
"""

from __future__ import annotations

from hpablate.analysis.importance._encode import Encoded, encode
from hpablate.analysis.importance.fanova import (
    FANOVA_MARGINAL,
    FANOVA_PAIRWISE,
    IMPORTANCE_COLUMNS,
    analyze_fanova,
    fanova_importances,
)
from hpablate.analysis.importance.fanova import fanova  # noqa: E402 - the function, not the module
from hpablate.analysis.importance.morris import MORRIS_ESTIMAND, analyze_morris, morris_elementary_effects, morris_indices
from hpablate.analysis.importance.ped_anova import PED_ANOVA_ESTIMAND, analyze_ped_anova, ped_anova_importances

__all__ = [
    "IMPORTANCE_COLUMNS", "analyze_fanova", "analyze_morris", "analyze_ped_anova", "Encoded", "FANOVA_MARGINAL", "FANOVA_PAIRWISE", "MORRIS_ESTIMAND", "PED_ANOVA_ESTIMAND", "encode", "fanova",
    "fanova_importances", "morris_elementary_effects", "morris_indices", "ped_anova_importances",
]
