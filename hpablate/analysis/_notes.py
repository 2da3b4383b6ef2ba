"""The prose of the analysis report: notes on how to read each table, and the summary findings."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hpablate.render import fmt_value

NO_SPACE = ("No hpablate search space is stored in this study (plain Optuna): one-at-a-time effects "
            "and structural contributions need an hpablate baseline (create the study with "
            "hpablate.create_study and a plan sampler). Reported instead: importances and "
            "marginal/pairwise tables binned from the trials.")
NO_OAT_TRIALS = ("No trial differs from the baseline in exactly one parameter: no one-at-a-time effects "
                 "(use hpablate.OneAtATimeSampler).")
ONE_BASELINE = ("Fewer than two baseline trials: effects have no confidence intervals or tests "
                "(run the design with repeats >= 2).")
NO_REMOVAL = ("The space has components but no trial removes one from the baseline "
              "(use hpablate.StructuralAblationSampler).")
FANOVA_READING = ("fANOVA importance = fraction of the forest's variance explained by a parameter's main "
                  "effect (first order) or by a pair's interaction term (second order; Hutter et al. 2014). "
                  "A parameter acting only through interactions has a small marginal importance; spread = "
                  "SD over the forest's trees.")
FANOVA_NEEDS = "fANOVA needs at least 4 completed trials, a varying parameter and a non-constant objective."
MORRIS_READING = ("Morris mu* (mean |elementary effect|, objective units per unit of the normalised range) "
                  "screens for total-order effects, interactions included; sigma > mu* hints at "
                  "interactions or non-linearity. mu* CI: bootstrap over trajectories (q10/q90 columns "
                  "of the importances table hold its 95% percentile interval).")
GRID_NO_RESIDUAL = ("Grid ANOVA has no residual degrees of freedom (one trial per cell): run repeats >= 2 "
                    "to test interactions.")
BINNED_READING = ("Interaction tables and ANOVAs are binned from sampled trials (numeric parameters in "
                  "quantile bins), not from a designed grid: they describe where the sampler went, and "
                  "a sampler that concentrates on good regions confounds parameters.")


def multi_objective(objective: int, direction: str, n_objectives: int) -> str:
    return (f"Multi-objective study: this report analyses objective {objective} ({direction}) alone; "
            f"run it again with objective=0..{n_objectives - 1} for the others.")


def left_out(n_fail: int) -> str:
    return (f"{n_fail} failed or pruned trials are left out of every statistic "
            "(their absence can bias means if failures depend on the parameters).")


def oat_local(alpha: float, n_levels: int) -> str:
    return ("One-at-a-time effects are local: each is measured at the baseline with every other "
            "parameter fixed, and cannot see interactions. Use a grid design "
            "(GridCombinationSampler) for pairs or Morris screening (MorrisSampler) for "
            f"effects across the space. significant = Holm-corrected Welch p < {alpha} over the {n_levels} levels.")


def conditional(dropped: list[str], n_present: int) -> str:
    return (f"Conditional parameters {dropped} are absent from some completed trials; fANOVA uses the "
            f"{n_present} parameters present in every trial (as Optuna does), PED-ANOVA handles them by regime.")


def fanova_near_baseline(design: str) -> str:
    return (f"fANOVA was fitted on a {design} design: the forest sees only configurations near the "
            "baseline, so its global variance fractions are extrapolations; read the effects table first.")


def ped_anova_on_plan(design: str) -> str:
    return (f"PED-ANOVA not computed: it compares the best trials with all trials of a sampler that "
            f"covers the space (Random, TPE…), which a {design} plan is not.")


def fmt_p(p: float) -> str:
    """p-value for prose: ``p<0.001`` or ``p=0.023``."""
    if p is None or not np.isfinite(p):
        return "p n/a"
    return "p<0.001" if p < 0.001 else f"p={p:.3f}" if p < 0.1 else f"p={p:.2f}"


def _num(x: float) -> str:
    if x is None or not np.isfinite(x):
        return "n/a"
    a = abs(x)
    if a != 0 and (a >= 1e4 or a < 1e-3):
        return f"{x:.2e}".replace("-", "−")
    return f"{x:.3g}".replace("-", "−") if a < 100 else f"{x:.1f}".replace("-", "−")


def _signed(x: float) -> str:
    s = _num(x)
    return s if s.startswith("−") or s == "n/a" else "+" + s


def summarize(tables: dict[str, pd.DataFrame], alpha: float = 0.05) -> list[str]:
    """Plain-language findings from the report's tables, most important first."""
    return [line for part in (_effects(tables["effects"]), _structural(tables["structural"]),
                              _importances(tables["importances"]), _morris(tables["morris"]),
                              _interactions(tables["interactions"], alpha)) for line in part]


def _effects(e: pd.DataFrame) -> list[str]:
    if not len(e) or not (~e["is_baseline"]).any():
        return []
    cand = e[~e["is_baseline"]].copy()
    cand["absd"] = cand["delta"].abs()
    sig = cand[cand["significant"]]
    pick = (sig if len(sig) else cand).sort_values("absd", ascending=False).iloc[0]
    half = (pick["ci_high"] - pick["ci_low"]) / 2 if np.isfinite(pick["ci_high"]) else float("nan")
    verdict = "matters most" if pick["significant"] else "has the largest (not significant) effect"
    nsig = int(cand["significant"].sum())
    flat = [p for p in e["param"].unique() if not cand[(cand["param"] == p) & cand["significant"]].shape[0]]
    return [
        f"{pick['param']} {verdict}: {_signed(pick['delta'])} ± {_num(half)} when set to "
        f"{fmt_value(pick['level'])} (baseline mean {_num(pick['baseline_mean'])}, n={int(pick['n'])} vs "
        f"{int(pick['baseline_n'])}, {fmt_p(pick['p_value'])}, Holm {fmt_p(pick['p_holm'])}); local effect at "
        "the baseline.",
        f"{nsig} of {len(cand)} one-at-a-time levels differ significantly from the baseline "
        f"(Holm); no significant effect: {', '.join(map(str, flat)) or 'none'}.",
    ]


def _structural(s: pd.DataFrame) -> list[str]:
    if not len(s):
        return []
    top = s.reindex(s["benefit"].abs().sort_values(ascending=False).index).iloc[0]
    half = (top["ci_high"] - top["ci_low"]) / 2
    what = "helps" if top["benefit"] > 0 else "hurts"
    return [f"Component {top['component']} {what} most ({top['mode'].replace('_', '-')}): contribution "
            f"{_signed(top['contribution'])} ± {_num(half)} ({fmt_p(top['p_value'])})."]


def _importances(imp: pd.DataFrame) -> list[str]:
    if not len(imp):
        return []
    out = []
    fm = imp[imp["method"].str.startswith("fANOVA") & (imp["kind"] == "marginal")]
    if len(fm):
        top = fm.sort_values("importance", ascending=False).iloc[0]
        out.append(f"fANOVA (main effects): {top['param']} explains {top['importance']:.1%} ± "
                   f"{top['std']:.1%} (SD over trees) of the forest's variance.")
    fp = imp[imp["method"].str.startswith("fANOVA") & (imp["kind"] == "pairwise")]
    if len(fp) and fp["importance"].notna().any():
        top = fp.sort_values("importance", ascending=False).iloc[0]
        out.append(f"fANOVA (pairwise): the largest interaction term is {top['param']} at "
                   f"{top['importance']:.1%} ± {top['std']:.1%}.")
    return out


def _morris(m: pd.DataFrame) -> list[str]:
    if not len(m):
        return []
    top = m.iloc[0]
    return [f"Morris screening: {top['param']} has the largest mu* = {_num(top['mu_star'])} "
            f"(95% CI {_num(top['mu_star_lo'])}–{_num(top['mu_star_hi'])}), sigma = {_num(top['sigma'])}."]


def _interactions(it: pd.DataFrame, alpha: float) -> list[str]:
    if not len(it):
        return []
    inter = it[it["term"].str.contains(" × ") & it["p_value"].notna()]
    if not len(inter):
        return []
    top = inter.sort_values("p_value").iloc[0]
    lead = (f"Strongest interaction ({top['source']})" if top["p_value"] < alpha
            else f"No interaction is significant at {alpha} ({top['source']}); the smallest p is")
    return [f"{lead}: {top['term']}, F={_num(top['F'])}, {fmt_p(top['p_value'])} (uncorrected), "
            f"partial η²={_num(top['partial_eta2'])}."]
