"""Analysis of ablation studies: effects, interactions, structural contributions, importances.

The entry point is :func:`analyze`; the pure functions of the submodules take DataFrames and
return DataFrames (``effects.oat_effects``, ``interactions.grid_interactions``,
``structural.structural_contributions``, ``importance.fanova_importances`` …) and only
:mod:`hpablate.analysis.load` (with its readers ``_read_sql`` and ``_read_optuna``) reads
storage, read-only.
"""

from __future__ import annotations

from typing import Any

from hpablate.analysis._input import AnalysisInput, analysis_input
from hpablate.analysis.load import StudyData, from_frozen_trials, list_studies
from hpablate.analysis.load import load as read_study
from hpablate.analysis.objectives import ObjectivesReport, analyze_objectives
from hpablate.analysis.power import seeds_needed
from hpablate.analysis.report import AnalysisReport, ObjectiveIndexError, analyze_data


def analyze(
    study_or_storage_url: Any,
    study_name: str | None = None,
    objective: int = 0,
    *,
    alpha: float = 0.05,
    n_trees: int = 64,
    seed: int | None = 0,
    encoding: str = "hpablate",
    pair_cell_budget: float | None = 3e7,
    ped_anova: bool = True,
    margin: float | str | None = None,
    failures: str = "verdict",
    mde: float | str | None = None,
    power: float = 0.8,
) -> AnalysisReport:
    """Analyse one objective of a study.

    Parameters
    ----------
    study_or_storage_url : optuna.Study, str or StudyData
        A study object, or a storage read read-only: ``sqlite:///x.db``, ``postgresql://…``,
        ``mysql+pymysql://…``, a journal file path or ``redis://…``.
    study_name : str, optional
        Needed when the storage holds several studies.
    objective : int
        Index of the objective to analyse (multi-objective studies are analysed per objective).
    alpha : float
        Significance level (applied to Holm-corrected p-values).
    n_trees, seed, encoding
        fANOVA forest settings (Optuna's defaults: 64 trees, depth 64) and encoding
        (``"hpablate"``: log-scaled parameters in log space, categoricals uniform over choices;
        ``"optuna"``: exactly Optuna's ``FanovaImportanceEvaluator`` encoding).
    pair_cell_budget : float, optional
        Bound on the work of the pairwise fANOVA (grid cells summed over trees); large studies
        then estimate pairwise terms from fewer trees (reported in ``n_trees``). None: all trees.
    ped_anova : bool
        Also compute PED-ANOVA importances with Optuna's evaluator.
    margin : float or str, optional
        Practical margin δ of the verdicts: an effect whose TOST (two one-sided tests at
        ``alpha``) puts it inside ±δ is ``equivalent``. A number is in objective units; ``"1%"``
        is relative to the reference (baseline) mean. Without it verdicts are better / worse /
        inconclusive (and failed).
    failures : {"verdict", "worst"}
        A configuration with a failed or diverged replicate gets the verdict ``failed``
        (default), or (``"worst"``) its failed and pruned replicates count as the worst
        objective value observed in the plan and are tested like the rest.
    mde, power
        With ``mde`` (minimum effect to detect, absolute or ``"1%"``) the report's
        ``seeds_needed`` table gives the replicates each effect needs for this power.

    Returns
    -------
    AnalysisReport

    Raises
    ------
    hpablate.errors.StorageError, StudyNotFoundError, NoTrialsError, ObjectiveIndexError

    Examples
    --------
    >>> import optuna, hpablate
    >>> study = optuna.create_study()
    >>> dist = {"x": optuna.distributions.FloatDistribution(0, 1)}
    >>> for i in range(30):
    ...     study.add_trial(optuna.trial.create_trial(params={"x": i / 30}, distributions=dist, value=i / 30))
    >>> report = hpablate.analyze(study)
    >>> report.importances.iloc[0][["param", "kind"]].tolist()
    ['x', 'marginal']
    """
    data = study_or_storage_url if isinstance(study_or_storage_url, StudyData) else read_study(
        study_or_storage_url, study_name
    )
    return analyze_data(
        data, objective, alpha=alpha, n_trees=n_trees, seed=seed, encoding=encoding,
        pair_cell_budget=pair_cell_budget, ped_anova=ped_anova, margin=margin, failures=failures, mde=mde,
        power=power,
    )


__all__ = ["AnalysisInput", "AnalysisReport", "ObjectiveIndexError", "ObjectivesReport", "StudyData", "analysis_input",
           "analyze", "analyze_data", "analyze_objectives", "from_frozen_trials", "list_studies", "read_study", "seeds_needed"]
