"""The prose of the analysis report: notes on how to read each table, and the summary findings."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hpablate.render import fmt_value

NO_SPACE = ("No hpablate search space is stored in this study (plain Optuna): one-at-a-time effects "
            "and structural contributions need an hpablate baseline (create the study with "
            "`hpablate run` or hp.create_study with a plan sampler). Reported instead: importances and "
            "marginal/pairwise tables binned from the trials.")
NO_OAT_TRIALS = ("No trial differs from the baseline in exactly one parameter: no one-at-a-time effects "
                 "(run `hpablate run FILE --design oat`, or hp.OneAtATimeSampler).")
ONE_BASELINE = ("Fewer than two baseline trials: effects have no confidence intervals or tests "
                "(run the design with repeats >= 2).")
NO_REMOVAL = ("The space has components but no trial removes one from the baseline "
              "(run `--design structural`, or hp.StructuralAblationSampler).")
FANOVA_READING = ("fANOVA importance = fraction of the forest's variance explained by a parameter's main "
                  "effect (first order) or by a pair's interaction term (second order; Hutter et al. 2014). "
                  "A parameter acting only through interactions has a small marginal importance; spread = "
                  "SD over the forest's trees.")
FANOVA_NEEDS = "fANOVA needs at least 4 completed trials, a varying parameter and a non-constant objective."
MORRIS_READING = ("Morris mu* (mean |elementary effect|, objective units per unit of the normalised range) "
                  "screens for total-order effects, interactions included; sigma > mu* hints at "
                  "interactions or non-linearity. mu* CI: bootstrap over trajectories (q10/q90 columns "
                  "of the importances table hold its 95% percentile interval).")
MORRIS_CONDITIONAL = ("Morris on a conditional space: a conditional parameter's elementary effects come only from "
                      "the steps where it exists before and after the move, so its mu* is its effect within its "
                      "branch (n_effects counts them); a step that switches a parent is the parent's, also when "
                      "children appear or disappear with it; a move of an inactive parameter's coordinate is no step.")
GRID_NO_RESIDUAL = ("Grid ANOVA has no residual degrees of freedom (one trial per cell): run repeats >= 2 "
                    "to test interactions.")
GRID_BLOCKED = ("Grid ANOVAs include the replicate as a block (type II, y ~ a * b + other group parameters + "
                "C(replicate)): every cell of a replicate shares its seed, so the seed-to-seed noise leaves the "
                "residual. Trial counts per cell are in the count tables.")
BINNED_READING = ("Interaction tables and ANOVAs are binned from sampled trials (numeric parameters in "
                  "quantile bins), not from a designed grid: they describe where the sampler went, and "
                  "a sampler that concentrates on good regions confounds parameters.")


def binned_within_branches(skipped: list[str]) -> str:
    """How binned tables of a conditional study treat absent parameters."""
    text = ("Conditional parameters: each binned table and ANOVA uses only the trials holding both parameters "
            "(column branch says which branch; bins are cut within it), and marginal tables only the trials holding "
            "the parameter: a parameter's absence is never a level.")
    if skipped:
        text += (f" No table for {', '.join(skipped)}: no trial holds both, or one is constant where both exist "
                 "(a child and the parent value of its branch).")
    return text


def grid_conditional(coverage: list[str]) -> str:
    """Which cells the grid tables of a conditional space cover."""
    return ("Grid on a conditional space: a pair's table and ANOVA cover only the cells where both parameters "
            "exist (a parameter's absence is never a level); a third group member that exists in some of those "
            "cells only is held where the design fixed it. " + "; ".join(coverage) + ".")


def multi_objective(objective: int, direction: str, n_objectives: int) -> str:
    return (f"Multi-objective study: this report analyses objective {objective} ({direction}) alone; "
            f"run it again with objective=0..{n_objectives - 1} for the others.")


def left_out(n_fail: int) -> str:
    return (f"{n_fail} failed or pruned trials are left out of every statistic "
            "(their absence can bias means if failures depend on the parameters).")


def oat_local(alpha: float, n_levels: int, tests: list[str] | None = None) -> str:
    used = ", ".join(tests or []) or "none"
    return ("One-at-a-time effects are local: each is measured at the baseline with every other "
            "parameter fixed, and cannot see interactions. Use a grid design "
            "(`--design grid`, hp.GridCombinationSampler) for pairs, or Morris screening or Sobol indices "
            "(`--design morris` / `--design sobol`) for "
            f"effects across the space. significant = Holm-corrected p < {alpha} over the {n_levels} levels; "
            f"tests used: {used}. " + PAIRING_READING)


PAIRING_READING = ("Every configuration of one replicate shares its seed, so effects are paired by replicate "
                   "(per-replicate differences to the reference, paired t interval; with fewer than 10 pairs "
                   "also the exact sign-flip permutation p in p_perm, which cannot go below 2/2^n). Welch's "
                   "unpaired test is used only where fewer than two replicates pair.")


def branch_reading(branches: dict[str, str]) -> str:
    """How the effects of parameters that do not exist at the baseline were measured."""
    parts = "; ".join(f"{p} within {b}" for p, b in branches.items())
    return ("Conditional parameters that do not exist at the baseline are swept in their branch (the parent "
            f"switched to an activating value): {parts}. Their effects are paired with the branch baseline "
            "(that branch, the parameter at its baseline, everything else at the baseline; same replicate), "
            "labelled in the branch column; switching the parent itself is the parent's own effect, against "
            "the global baseline. Holm/BH run over every tested level of the study: a parameter's family "
            "members are its levels where it exists, never configurations where it is inactive.")


def thin_branch(param: str, branch: str, n: int) -> str:
    return (f"{param}: the branch baseline {branch} has {n} completed trial(s), fewer than 2: its levels are "
            "listed with their counts but have no interval or test.")


ACTIVE_SUBSPACE = ("Conditional parameters are analysed within their branch (branch_effects, branch_importances): "
                   "the trials where the parent takes an activating value. fANOVA there is computed on the "
                   "branch's active subspace: its estimand is the fraction of the variance of the objective "
                   "within the branch (uniform measure over the parameters that exist there, the parent fixed) "
                   "explained by a parameter's main effect, not a share of the whole study's variance. PED-ANOVA "
                   "per branch runs Optuna's evaluator on the branch's trials; the study-wide PED-ANOVA uses "
                   "Optuna's conditional evaluator (regimes by presence). branch_effects: one-way ANOVA of the "
                   "objective on the child's levels (quantile bins) within the branch, Holm over all branch tests.")


def empty_parent_values(table: "pd.DataFrame") -> str:
    empty = table[table["n_parent"] == 0].drop_duplicates(["parent", "parent_value"])
    parts = ", ".join(f"{p}={fmt_value(v)}" for p, v in zip(empty["parent"], empty["parent_value"]))
    return (f"No completed trial took {parts}: those branches are listed in the conditions table with 0 trials "
            "and nothing can be said about the parameters living there.")


def thin_sampled_branch(branch: str, children: list[str], n: int, min_effects: int, min_ped: int) -> str:
    what = ("no ANOVA or fANOVA within it (needs " + str(min_effects) + ")" if n < min_effects
            else f"no PED-ANOVA within it (needs {min_ped})")
    return (f"Branch {branch} ({', '.join(children)}) has only {n} completed trials: its rows are shown with "
            f"their counts, {what}.")


def verdict_reading(alpha: float, margin: object, failures: str) -> str:
    fail = ("a level with a failed or diverged replicate: failed" if failures == "verdict" else
            "failed and pruned replicates count as the worst observed value (failures='worst')")
    if margin is None:
        return (f"Verdicts: better/worse = Holm-corrected p < {alpha} in the direction that improves/degrades "
                f"the objective; inconclusive otherwise; {fail}. Without a margin nothing can be called "
                "equivalent: pass margin=δ (--margin) to test 'removing X does not hurt'.")
    return (f"Verdicts with margin δ = {margin}: equivalent = TOST at {alpha} (the {1 - 2 * alpha:.0%} interval "
            f"inside ±δ), checked first; better/worse = Holm-corrected p < {alpha}; inconclusive otherwise; "
            f"{fail}.")


#: Interaction terms whose smallest cell holds fewer trials than this are never headlined.
MIN_CELL_TRIALS = 3


def off_plan(counts: dict[str, int], labels: dict[str, str], design: str | None) -> str:
    parts = ", ".join(f"{n} {labels.get(k, k)}" for k, n in counts.items())
    return (f"{sum(counts.values())} trials are not part of this {design or 'hpablate'} plan and are left out of "
            f"the design analyses (effects, structural, grid interactions, Morris): {parts}. "
            "Importances and binned tables use every completed trial.")


def failures_found(failures: "pd.DataFrame") -> str:
    n_f = int((failures["status"] == "failed").sum())
    n_p = int((failures["status"] == "pruned").sum())
    reasons = failures.loc[failures["status"] == "failed", "reason"].astype(str).value_counts()
    why = "; ".join(f"{r} ×{c}" for r, c in reasons.head(3).items())
    return (f"{n_f} plan runs failed or diverged and {n_p} were pruned without a completed retry: they are "
            f"results of their configurations (counted in n_failed/n_pruned), not missing data"
            + (f" (reasons: {why})" if why else "") + ". Failures that blame the worker (killed, paused, "
            "interrupted: rerun) are not counted.")


def fanova_not_headlined(design: str) -> str:
    return (f"fANOVA importances of a {design} design are not headlined: the trials sit on axes through the "
            "baseline, not spread over the space, so variance fractions over the space are extrapolations.")


def small_cells(n: int) -> str:
    return (f"{n} interaction term(s) rest on cells with fewer than {MIN_CELL_TRIALS} trials (min_cell_n "
            "column): they are listed but never headlined.")


def conditional(dropped: list[str], n_present: int) -> str:
    return (f"Conditional parameters {dropped} are absent from some completed trials; the study-wide fANOVA uses the "
            f"{n_present} parameters present in every trial (as Optuna does) and imputes nothing: the forest is "
            "fitted on those parameters alone, so its estimand is the variance fraction of the objective averaged "
            "over the left-out parameters as the trials sampled them (a parent's importance includes what its "
            "children add in its branches). Per-branch fANOVA (branch_importances) measures the children within "
            "their branch; PED-ANOVA handles them by regime.")


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


#: Designs whose trials sit near the baseline: fANOVA over the space is not headlined for them.
LOCAL_DESIGNS = ("oat", "structural", "baseline")


def summarize(tables: dict[str, pd.DataFrame], alpha: float = 0.05, design: str | None = None) -> list[str]:
    """Plain-language findings from the report's tables, most important first."""
    importances = tables["importances"] if design not in LOCAL_DESIGNS else tables["importances"].iloc[0:0]
    return [line for part in (_path(tables.get("path")), _effects(tables["effects"]), _failed(tables["effects"]),
                              _structural(tables["structural"]), _importances(importances),
                              _morris(tables["morris"]), _interactions(tables["interactions"], alpha),
                              _branch_findings(tables.get("branch_effects"), tables.get("branch_importances"), alpha))
            for line in part]


def _path(path: "pd.DataFrame | None") -> list[str]:
    """The ablation path in one line: each step's gain and share, and the total."""
    if path is None or len(path) < 2:
        return []
    steps = path.iloc[1:]
    parts = []
    for _, r in steps.iterrows():
        share = f", {r['share']:.0%}" if pd.notna(r.get("share")) else ""
        mark = "*" if r["significant"] else ""
        parts.append(f"{r['param']} {_signed(r['gain'])}{mark}{share}")
    total = float(steps["gain"].sum())
    return [f"Ablation path (greedy, baseline to target; gain in the objective's direction, * Holm p < alpha): "
            + " → ".join(parts) + f"; total {_signed(total)}."]


def _branch_findings(effects: "pd.DataFrame | None", importances: "pd.DataFrame | None", alpha: float) -> list[str]:
    """One line per child and branch: does it matter within its branch (Holm-corrected one-way ANOVA)."""
    if effects is None or not len(effects):
        return []
    out = []
    for (param, branch), t in effects.groupby(["param", "branch"], sort=False):
        r = t.iloc[0]
        share = ""
        if importances is not None and len(importances):
            f = importances[(importances["branch"] == branch) & (importances["param"] == param)
                            & importances["method"].str.startswith("fANOVA")]
            if len(f):
                share = f", fANOVA {f['importance'].iloc[0]:.0%} of the branch's variance"
        n = int(r["n_branch"])
        if not np.isfinite(r["p_value"]):
            out.append(f"Within {branch}, {param} was not tested ({n} trials).")
            continue
        word = "matters" if r["p_holm"] < alpha else "shows no significant effect"
        out.append(f"Within {branch}, {param} {word}: one-way ANOVA F={_num(r['F'])}, {fmt_p(r['p_value'])}, "
                   f"Holm {fmt_p(r['p_holm'])}, η²={_num(r['eta2'])} ({n} trials{share}).")
    return out


def _failed(e: pd.DataFrame) -> list[str]:
    if not len(e) or "n_failed" not in e:
        return []
    bad = e[(e["n_failed"] > 0)]
    return [f"{r['param']}={fmt_value(r['level'])}{' (baseline)' if r['is_baseline'] else ''} breaks training: "
            f"{int(r['n_failed'])} of {int(r['n_total'])} replicates failed or diverged (verdict: "
            f"{r['verdict'] or 'failed'})." for _, r in bad.iterrows()]


def _effects(e: pd.DataFrame) -> list[str]:
    if not len(e) or not (~e["is_baseline"]).any():
        return []
    cand = e[~e["is_baseline"] & (e["n"] > 0)].copy()
    if not len(cand):
        return []
    cand["absd"] = cand["delta"].abs()
    sig = cand[cand["significant"]]
    pick = (sig if len(sig) else cand).sort_values("absd", ascending=False).iloc[0]
    half = (pick["ci_high"] - pick["ci_low"]) / 2 if np.isfinite(pick["ci_high"]) else float("nan")
    verdict = "matters most" if pick["significant"] else "has the largest (not significant) effect"
    nsig = int(cand["significant"].sum())
    failed = set(e.loc[e["n_failed"] > 0, "param"]) if "n_failed" in e else set()
    flat = [p for p in e["param"].unique()
            if p not in failed and not cand[(cand["param"] == p) & cand["significant"]].shape[0]]
    paired = f", {int(pick['n_pairs'])} pairs" if pick.get("n_pairs", 0) else ""
    test = f", {pick['test']}" if pick.get("test") else ""
    lines = [
        f"{pick['param']} {verdict}: {_signed(pick['delta'])} ± {_num(half)} when set to "
        f"{fmt_value(pick['level'])} (baseline mean {_num(pick['baseline_mean'])}, n={int(pick['n'])} vs "
        f"{int(pick['baseline_n'])}{paired}{test}, {fmt_p(pick['p_value'])}, Holm {fmt_p(pick['p_holm'])}); "
        + (f"local effect at the branch baseline {pick['branch']}." if pick.get("branch") else
           "local effect at the baseline."),
        f"{nsig} of {len(cand)} one-at-a-time levels differ significantly from the baseline "
        f"(Holm); no significant effect: {', '.join(map(str, flat)) or 'none'}.",
    ]
    if "verdict" in cand and cand["verdict"].notna().any():
        counts = cand["verdict"].value_counts()
        lines.append("Verdicts: " + ", ".join(f"{counts[v]} {v}" for v in
                                              ("better", "worse", "equivalent", "inconclusive", "failed")
                                              if v in counts) + ".")
    return lines


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
    if "min_cell_n" in inter:
        inter = inter[inter["min_cell_n"] >= MIN_CELL_TRIALS]
    if not len(inter):
        return []
    top = inter.sort_values("p_value").iloc[0]
    where = f"{top['source']}, within {top['branch']}" if isinstance(top.get("branch"), str) and top["branch"] \
        else top["source"]
    lead = (f"Strongest interaction ({where})" if top["p_value"] < alpha
            else f"No interaction is significant at {alpha} ({where}); the smallest p is")
    return [f"{lead}: {top['term']}, F={_num(top['F'])}, {fmt_p(top['p_value'])} (uncorrected), "
            f"partial η²={_num(top['partial_eta2'])}."]
