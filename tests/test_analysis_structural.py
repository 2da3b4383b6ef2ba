"""Structural contributions and per-class drops against scipy paired-t references (paired by replicate)."""

from __future__ import annotations

import json

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution
from scipy import stats

import hpablate

SPACE = {"version": 1, "params": [
    {"kind": "float", "name": "lr", "low": 1e-4, "high": 0.1, "log": True, "step": None, "baseline": 0.01, "levels": [0.01]},
    {"kind": "component", "name": "dropout", "choices": [True, False], "baseline": True, "off": False,
     "levels": [True, False]},
    {"kind": "component", "name": "norm", "choices": ["batch", "layer", "none"], "baseline": "batch", "off": "none",
     "levels": ["batch", "layer", "none"]},
]}
DIST = {"lr": FloatDistribution(1e-4, 0.1, log=True), "dropout": CategoricalDistribution([True, False]),
        "norm": CategoricalDistribution(["batch", "layer", "none"])}


def _true_acc(dropout, norm):
    return 0.90 - 0.02 * (not dropout) - 0.05 * (norm == "none")


def build(seed=0, class_style="dict"):
    rng = np.random.default_rng(seed)
    study = optuna.create_study(direction="maximize")
    study.set_user_attr("hpablate.space", json.dumps(SPACE))
    study.set_user_attr("hpablate.design", "structural")
    configs = [("baseline", True, "batch"), ("loo", False, "batch"), ("loo", True, "none"),
               ("none", False, "none"), ("add", True, "none"), ("add", False, "batch")]
    groups: dict = {}
    for slot, (kind, dropout, norm) in enumerate(configs):
        for rep in range(4):
            acc = _true_acc(dropout, norm) + rng.normal(0, 0.004 + 0.004 * (kind == "loo"))
            c0 = acc + 0.02 + rng.normal(0, 0.003)
            c1 = acc - 0.02 - 0.06 * (norm == "none") + rng.normal(0, 0.003)
            attrs = {"hpablate.design": "structural", "hpablate.varied": [], "hpablate.level": None,
                     "hpablate.slot": slot, "hpablate.replicate": rep, "hpablate.seed": rep}
            if class_style == "dict":
                attrs["per_class_acc"] = {"0": c0, "1": c1}
            else:
                attrs["val_acc_class_0"] = c0
                attrs["val_acc_class_1"] = c1
            groups.setdefault((dropout, norm), []).append((acc, c0, c1))
            study.add_trial(optuna.trial.create_trial(params={"lr": 0.01, "dropout": dropout, "norm": norm},
                                                      distributions=DIST, value=acc, user_attrs=attrs))
    # lr off the baseline: never part of a structural comparison
    study.add_trial(optuna.trial.create_trial(params={"lr": 0.1, "dropout": False, "norm": "batch"}, distributions=DIST,
                                              value=0.1))
    return study, {k: np.array(v) for k, v in groups.items()}


def _check(row, a, b):
    """Paired by replicate (the paired t-test is the reference): ``a``, ``b`` list replicates 0-3 in
    order, a configuration run in two slots (``b`` of length 8) averages per replicate."""
    a, b = a.reshape(-1, 4).mean(axis=0), b.reshape(-1, 4).mean(axis=0)
    assert row["contribution"] == pytest.approx(a.mean() - b.mean(), rel=1e-12)
    assert row["test"].startswith("paired t") and row["n_pairs"] == len(a)
    assert row["p_value"] == pytest.approx(stats.ttest_rel(a, b).pvalue, rel=1e-9)
    d = a - b
    h = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((d.mean() - h, d.mean() + h), rel=1e-9)


def test_leave_one_out_and_add_one_in():
    study, g = build()
    s = hpablate.analyze(study).structural.set_index(["component", "mode"])
    base = g[(True, "batch")][:, 0]
    _check(s.loc[("dropout", "leave_one_out")], base, g[(False, "batch")][:, 0])
    _check(s.loc[("norm", "leave_one_out")], base, g[(True, "none")][:, 0])
    none = g[(False, "none")][:, 0]
    _check(s.loc[("dropout", "add_one_in")], g[(True, "none")][:, 0], none)
    _check(s.loc[("norm", "add_one_in")], g[(False, "batch")][:, 0], none)
    assert s.loc[("norm", "leave_one_out"), "significant"]
    assert (s["benefit"] == s["contribution"]).all()  # maximised objective: positive = helps
    assert s.loc[("norm", "leave_one_out"), "ablated"] == "none"


@pytest.mark.parametrize("style", ["dict", "scalar"])
def test_per_class_drops(style):
    study, g = build(class_style=style)
    pc = hpablate.analyze(study).structural_per_class
    metric = "per_class_acc" if style == "dict" else "val_acc"
    assert set(pc["metric"]) == {metric} and set(pc["class"]) == {"0", "1"}
    base = g[(True, "batch")]
    abl = g[(True, "none")]
    for cls, col in (("0", 1), ("1", 2)):
        row = pc[(pc.component == "norm") & (pc["class"] == cls)].iloc[0]
        assert row["drop"] == pytest.approx(base[:, col].mean() - abl[:, col].mean(), rel=1e-12)
        a, b = base[:, col], abl[:, col].reshape(-1, 4).mean(axis=0)  # (True, none) ran in two slots
        assert row["p_value"] == pytest.approx(stats.ttest_rel(a, b).pvalue, rel=1e-9)
    # class 1 loses much more than class 0 without normalisation
    d = pc[pc.component == "norm"].set_index("class")["drop"]
    assert d["1"] > d["0"] + 0.04


def test_summary_and_figure():
    study, _ = build()
    r = hpablate.analyze(study)
    assert any(s.startswith("Component norm helps most") for s in r.summary)
    assert "structural" in r.figures
