"""Simulation of hpablate's effect statistics: CI coverage, verdict error rates, seeds_needed, pairing.

Many small in-memory OAT studies with known true effects and a shared seed component
(common random numbers: every configuration of one replicate shares its seed)::

    y[config, r] = 1 + effect[config] + s_r + e[config, r],   s_r ~ N(0, sd_seed),  e ~ N(0, sd_noise)

are analysed with :func:`hpablate.analysis.effects.oat_effects` (paired by replicate, exactly as
``hp.analyze`` does) and :func:`hpablate.analysis.power.seeds_table`. One parameter ``x`` has the
baseline 0 and three levels: ``zero`` (true effect 0), ``margin`` (true effect exactly δ) and
``large`` (2.5 δ). Reported:

* coverage of the 95% paired CIs of all three levels (target 93-97%);
* type-I error of better/worse at the true zero (target <= α; with a margin TOST usually calls it
  ``equivalent`` first), of the unadjusted paired p < α there (target ≈ α), and of ``equivalent``
  at a true effect of exactly δ (target <= α);
* Welch's CI width with N seeds vs the paired width with N/2 seeds (target: paired no wider);
* ``seeds_needed``: a pilot study estimates the SD of the paired differences; studies run with the
  predicted seed count detect the true effect ``mde`` with the simulated power (target 0.8 ± 0.07).

Run ``python benchmarks/statistics_simulation.py --studies 2000`` (numbers in benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hpablate.analysis._pairing import compare
from hpablate.analysis.effects import oat_effects
from hpablate.analysis.power import power_paired, seeds_table
from hpablate.analysis.verdicts import Margin
from hpablate.space import Categorical, SearchSpace

DELTA = 0.1
LEVELS = {"zero": 0.0, "margin": DELTA, "large": 2.5 * DELTA}
SPACE = SearchSpace(Categorical("x", ["base", *LEVELS], baseline="base"))


@dataclass(frozen=True)
class Setting:
    """One simulated design: seeds per study, seed-shared and per-run noise."""

    seeds: int = 8
    sd_seed: float = 0.2
    sd_noise: float = 0.04
    alpha: float = 0.05


def one_study(rng: np.random.Generator, s: Setting, levels: dict[str, float] = LEVELS) -> pd.DataFrame:
    """The trials of one OAT study: columns ``x``, ``y``, ``replicate``."""
    shared = rng.normal(0, s.sd_seed, s.seeds)
    configs = {"base": 0.0, **levels}
    rows = [(name, 1.0 + eff + shared[r] + rng.normal(0, s.sd_noise), r)
            for r in range(s.seeds) for name, eff in configs.items()]
    return pd.DataFrame(rows, columns=["x", "y", "replicate"])


def analyse(trials: pd.DataFrame, s: Setting, margin: float | None = DELTA) -> pd.DataFrame:
    """hpablate's effects table of one simulated study (maximised objective), non-baseline rows."""
    e = oat_effects(trials[["x"]], trials["y"].to_numpy(), SPACE, direction="maximize", alpha=s.alpha,
                    replicate=trials["replicate"].to_numpy(dtype=object), margin=margin)
    return e[~e["is_baseline"]].set_index("level")


def verdict_rates(n_studies: int, s: Setting, seed: int = 0) -> dict[str, float]:
    """Coverage of the paired CIs and the verdicts' error rates over ``n_studies`` studies."""
    rng = np.random.default_rng(seed)
    covered = total = wrong_sign = false_equiv = significant = 0
    for _ in range(n_studies):
        e = analyse(one_study(rng, s), s)
        for level, truth in LEVELS.items():
            covered += bool(e.loc[level, "ci_low"] <= truth <= e.loc[level, "ci_high"])
            total += 1
        wrong_sign += e.loc["zero", "verdict"] in ("better", "worse")
        significant += bool(e.loc["zero", "p_value"] < s.alpha)  # per comparison, before Holm and TOST
        false_equiv += e.loc["margin", "verdict"] == "equivalent"
    return {"coverage": covered / total, "type1_better_worse_at_0": wrong_sign / n_studies,
            "type1_equivalent_at_delta": false_equiv / n_studies, "type1_p_at_0": significant / n_studies}


def width_ratio(n_studies: int, s: Setting, seed: int = 1) -> dict[str, float]:
    """Mean 95% CI width: Welch with ``s.seeds`` seeds vs paired with half as many."""
    rng = np.random.default_rng(seed)
    half = Setting(max(2, s.seeds // 2), s.sd_seed, s.sd_noise, s.alpha)
    welch_w, paired_w = [], []
    for _ in range(n_studies):
        t = one_study(rng, s, {"large": LEVELS["large"]})
        y, a, b = t["y"].to_numpy(), (t["x"] == "large").to_numpy(), (t["x"] == "base").to_numpy()
        w = compare(y, None, a, b)
        welch_w.append(w["ci_high"] - w["ci_low"])
        t = one_study(rng, half, {"large": LEVELS["large"]})
        y, a, b = t["y"].to_numpy(), (t["x"] == "large").to_numpy(), (t["x"] == "base").to_numpy()
        p = compare(y, t["replicate"].to_numpy(dtype=object), a, b)
        paired_w.append(p["ci_high"] - p["ci_low"])
    return {"welch_width": float(np.mean(welch_w)), "paired_half_width": float(np.mean(paired_w)),
            "ratio": float(np.mean(paired_w) / np.mean(welch_w))}


def power_check(n_studies: int, s: Setting, mde: float, pilot_seeds: int = 200, seed: int = 2) -> dict[str, float]:
    """Seeds predicted by ``seeds_table`` from a pilot study vs the power simulated at that count."""
    rng = np.random.default_rng(seed)
    pilot = Setting(pilot_seeds, s.sd_seed, s.sd_noise, s.alpha)
    effects = analyse(one_study(rng, pilot, {"zero": 0.0}), pilot, margin=None).reset_index()
    table = seeds_table(effects, mde=Margin(mde), alpha=s.alpha)
    n = int(table["seeds_needed"].iloc[0])
    run = Setting(n, s.sd_seed, s.sd_noise, s.alpha)
    hits = 0
    for _ in range(n_studies):
        e = analyse(one_study(rng, run, {"effect": mde}), run, margin=None)
        hits += bool(e.loc["effect", "p_value"] < s.alpha)
    sd_true = s.sd_noise * np.sqrt(2)
    return {"sd_diff_pilot": float(table["sd_diff"].iloc[0]), "seeds_needed": n, "simulated_power": hits / n_studies,
            "predicted_power_true_sd": power_paired(n, mde, sd_true, s.alpha)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--studies", type=int, default=2000, help="simulated studies per check (default 2000)")
    ap.add_argument("--seeds", type=int, default=8, help="replicates per study (default 8)")
    args = ap.parse_args(argv)
    s = Setting(seeds=args.seeds)
    start = time.perf_counter()
    print(f"setting: {s}, δ = {DELTA}, {args.studies} studies per check")
    for name, result in (("verdicts", verdict_rates(args.studies, s)),
                         ("verdicts, 3 seeds", verdict_rates(args.studies, Setting(3, s.sd_seed, s.sd_noise))),
                         ("CI width", width_ratio(args.studies, s)),
                         ("seeds_needed, mde=0.05", power_check(args.studies, s, 0.05)),
                         ("seeds_needed, mde=0.03", power_check(args.studies, s, 0.03))):
        print(f"{name}: " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                      for k, v in result.items()))
    print(f"{time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
