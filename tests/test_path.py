"""Ablation path design: plan layout, greedy path recovery, paired step gains, exactly once with workers."""

from __future__ import annotations

import itertools
import json
from collections import Counter

import numpy as np
import optuna
import pytest
from scipy import stats

import hpablate as hp
from hpablate.cli import main
from hpablate.design.path import round_sizes
from hpablate.errors import SpaceError

from _workers import PATH_SPACE, PATH_TARGET, flaky_path_objective, path_objective, path_value


def greedy_path(value, moves, source, target, maximize=True):
    """The greedy path by brute force on a deterministic function (the independent reference)."""
    current, order = dict(source), []
    remaining = list(moves)
    while remaining:
        scores = {m: value({**current, m: target[m]}) for m in remaining}
        best = (max if maximize else min)(remaining, key=lambda m: scores[m])
        order.append(best)
        current[best] = target[best]
        remaining.remove(best)
    return order


def test_round_sizes_and_slot_counts_match_enumeration():
    for m in range(1, 7):
        sizes = round_sizes(m)
        # every subset-path evaluation: source, target, m singles, then m-1 … 2 flips
        expected = 2 + sum(m - r for r in range(0, m - 1)) if m > 1 else 2
        assert sum(sizes) == expected
    space = hp.SearchSpace(*[hp.Float(n, 0, 1, baseline=0) for n in "abcd"])
    sampler = hp.AblationPathSampler(space, target={n: 1 for n in "abcd"}, repeats=3)
    assert sampler.n_slots == (6 + 3 + 2) * 3
    assert sampler.first_pass_slots() == 6 * 3


def test_round_configs_flip_exactly_the_kept_moves():
    space = hp.SearchSpace(*[hp.Float(n, 0, 1, baseline=0) for n in "abcd"])
    plan = hp.design.ablation_path(space, {n: 1.0 for n in "abcd"}, repeats=1)
    round0 = [plan[i].config for i in plan.round_slots(0)]
    assert [c.extra["path_role"] for c in round0] == ["source", "target"] + ["candidate"] * 4
    assert round0[0].params == {n: 0 for n in "abcd"} and round0[1].params == {n: 1.0 for n in "abcd"}
    for config, move in zip(round0[2:], "abcd"):
        assert config.params == {n: (1.0 if n == move else 0) for n in "abcd"} and config.varied == (move,)
    for kept in itertools.permutations("abcd", 2):
        for j, move in enumerate(m for m in "abcd" if m not in kept):
            c = plan.config(2, j, list(kept))
            assert c.params == {n: (1.0 if n in (*kept, move) else 0) for n in "abcd"}
            assert c.extra["path_prefix"] == list(kept)


def test_conditional_space_moves_and_children():
    space = hp.SearchSpace(
        hp.Categorical("optimizer", ["sgd", "adam"], baseline="sgd"),
        hp.Float("momentum", 0.0, 0.99, baseline=0.9, when={"optimizer": "sgd"}),
        hp.Float("beta2", 0.9, 0.9999, baseline=0.999, when={"optimizer": "adam"}),
        hp.Float("lr", 1e-4, 1e-1, log=True, baseline=1e-3),
    )
    plan = hp.design.ablation_path(space, {"optimizer": "adam", "beta2": 0.95, "lr": 1e-2, "momentum": 0.5}, repeats=1)
    # momentum exists only at the source, beta2 only at the target: neither is a move of its own
    assert plan.moves == ("optimizer", "lr")
    assert plan.flipped_params(["optimizer"]) == {"optimizer": "adam", "beta2": 0.95, "lr": 1e-3}
    assert plan.flipped_params(["lr"]) == {"optimizer": "sgd", "momentum": 0.9, "lr": 1e-2}
    for slot in plan:
        if slot.config.params:
            assert slot.config.params == space.active(slot.config.params)  # only active parameters


def test_bad_targets_are_clear_errors():
    with pytest.raises(SpaceError, match="lacks"):
        hp.AblationPathSampler(PATH_SPACE, target={"zz": 1})
    with pytest.raises(SpaceError, match="outside"):
        hp.AblationPathSampler(PATH_SPACE, target={"a": 7.0})
    with pytest.raises(SpaceError, match="nothing to ablate"):
        hp.AblationPathSampler(PATH_SPACE, target={"a": 0.0})


@pytest.mark.parametrize("maximize", [True, False])
def test_known_greedy_path_is_recovered(maximize):
    expected = greedy_path(path_value, "abc", PATH_SPACE.baseline, PATH_TARGET, maximize)
    assert expected == (["a", "c", "b"] if maximize else ["c", "b", "a"])  # the interaction reorders b and c
    sampler = hp.AblationPathSampler(PATH_SPACE, target=PATH_TARGET, repeats=3)
    study = hp.create_study(PATH_SPACE, sampler, direction="maximize" if maximize else "minimize")
    hp.run(study, path_objective)
    path = hp.analyze(study).path
    assert path["param"].iloc[1:].tolist() == expected
    assert path["n"].tolist() == [3] * 4


def test_step_gains_are_paired_t_tests_and_shares_sum_to_one():
    sampler = hp.AblationPathSampler(PATH_SPACE, target=PATH_TARGET, repeats=4, seed=3)
    study = hp.create_study(PATH_SPACE, sampler, direction="maximize")
    hp.run(study, path_objective)
    report = hp.analyze(study)
    path = report.path
    trials = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]

    def values(params):
        rows = sorted((t.user_attrs["hpablate.replicate"], t.value) for t in trials if t.params == params)
        return np.array([v for _, v in rows])

    configs = [{"a": 0.0, "b": 0.0, "c": 0.0}, {"a": 1.0, "b": 0.0, "c": 0.0}, {"a": 1.0, "b": 0.0, "c": 1.0},
               {"a": 1.0, "b": 1.0, "c": 1.0}]
    for s in range(1, 4):
        after, before = values(configs[s]), values(configs[s - 1])
        ref = stats.ttest_rel(after, before)
        ci = ref.confidence_interval(0.95)
        row = path.iloc[s]
        assert row["gain"] == pytest.approx((after - before).mean())
        assert row["p_value"] == pytest.approx(ref.pvalue)
        assert (row["gain_ci_low"], row["gain_ci_high"]) == pytest.approx((ci.low, ci.high))
        assert row["mean"] == pytest.approx(after.mean())
    assert path["share"].iloc[1:].sum() == pytest.approx(1.0)
    holm = np.minimum(1, np.maximum.accumulate(np.sort(path["p_value"].iloc[1:].to_numpy()) * np.array([3, 2, 1])))
    assert sorted(path["p_holm"].iloc[1:]) == pytest.approx(sorted(holm))
    cands = report.path_candidates
    assert cands.groupby("round")["kept"].sum().tolist() == [1, 1]
    assert len(cands) == 3 + 2
    assert "Ablation path" in report.to_markdown() and "path" in json.loads(report.to_json())


def _check_exactly_once(study, sampler):
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    slots = Counter(t.user_attrs["hpablate.slot"] for t in complete)
    assert sorted(slots) == list(range(sampler.n_slots)) and max(slots.values()) == 1
    assert not [t for t in study.trials if t.state == optuna.trial.TrialState.RUNNING]


@pytest.mark.parametrize("objective", [path_objective, flaky_path_objective], ids=["clean", "flaky"])
def test_many_workers_run_each_evaluation_exactly_once(tmp_path, objective):
    sampler = hp.AblationPathSampler(PATH_SPACE, target=PATH_TARGET, repeats=3)
    study = hp.create_study(PATH_SPACE, sampler, storage=f"sqlite:///{tmp_path / 'p.db'}", study_name="p",
                            direction="maximize")
    hp.run(study, objective, n_workers=3)
    _check_exactly_once(study, sampler)
    assert hp.analyze(study).path["param"].iloc[1:].tolist() == ["a", "c", "b"]


def test_many_workers_on_postgres(postgres_url, unique_name):
    space = hp.SearchSpace(*[hp.Float(n, 0.0, 1.0, baseline=0.0) for n in "abcde"])
    sampler = hp.AblationPathSampler(space, target={n: 1.0 for n in "abcde"}, repeats=2)
    study = hp.create_study(space, sampler, storage=postgres_url, study_name=unique_name, direction="maximize")
    hp.run(study, _weighted_objective, n_workers=4)
    _check_exactly_once(study, sampler)
    assert hp.analyze(study).path["param"].iloc[1:].tolist() == list("abcde")


def _weighted_objective(trial):
    config = {n: trial.suggest_float(n, 0.0, 1.0) for n in "abcde"}
    return sum(w * config[n] for w, n in zip((5, 4, 3, 2, 1), "abcde")) + 0.01 * (hp.trial_seed(trial) % 3)


def test_unfinished_path_is_analysed_as_far_as_it_ran():
    sampler = hp.AblationPathSampler(PATH_SPACE, target=PATH_TARGET, repeats=2)
    study = hp.create_study(PATH_SPACE, sampler, direction="maximize")
    hp.run(study, path_objective, n_trials=5 * 2 + 1)  # round 0 and one slot of round 1
    report = hp.analyze(study)
    assert report.path["param"].iloc[1:].tolist() == ["a"]
    assert any("not finished" in n for n in report.notes)
    hp.run(study, path_objective)  # resumes: the rest of the path
    assert hp.analyze(study).path["param"].iloc[1:].tolist() == ["a", "c", "b"]


def test_path_cannot_grow_by_repeats():
    sampler = hp.AblationPathSampler(PATH_SPACE, target=PATH_TARGET, repeats=2)
    study = hp.create_study(PATH_SPACE, sampler, direction="maximize")
    hp.run(study, path_objective)
    with pytest.raises(hp.PlanMismatchError, match="another plan"):
        hp.AblationPathSampler(PATH_SPACE, target=PATH_TARGET, repeats=3).bind(study)


STUDY_FILE = '''
import hpablate as hp
space = hp.SearchSpace(*[hp.Float(n, 0.0, 1.0, baseline=0.0) for n in "abc"])
direction = "maximize"
repeats = 2

def objective(trial):
    c = space.suggest(trial)
    return 3 * c["a"] + 2 * c["b"] + c["c"] + 4 * c["a"] * c["c"] + 0.01 * (hp.trial_seed(trial) % 3)
'''


def test_cli_path_design(tmp_path, capsys):
    study_file = tmp_path / "toy.py"
    study_file.write_text(STUDY_FILE)
    storage = f"sqlite:///{tmp_path / 'cli.db'}"
    assert main(["run", str(study_file), "--design", "path", "--storage", storage, "--dry-run",
                 "--target", '{"a": 1, "b": 1, "c": 1}']) == 0
    out = capsys.readouterr().out
    assert "path design, 7 configurations x 2 replicates = 14 trials" in out and "more round" in out
    assert not (tmp_path / "cli.db").exists()
    assert main(["run", str(study_file), "--design", "path", "--storage", storage, "--no-progress",
                 "--target", '{"a": 1, "b": 1, "c": 1}']) == 0
    capsys.readouterr()
    assert main(["analyze", storage, "--study", "toy-path", "-f", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [row["param"] for row in report["path"]][1:] == ["a", "c", "b"]


def test_cli_path_target_from_another_study(tmp_path, capsys):
    study_file = tmp_path / "toy.py"
    study_file.write_text(STUDY_FILE)
    storage = f"sqlite:///{tmp_path / 'cli.db'}"
    tuned = optuna.create_study(storage=storage, study_name="tuned", direction="maximize")
    dist = {n: optuna.distributions.FloatDistribution(0.0, 1.0) for n in "abc"}
    for a in (0.2, 1.0):
        tuned.add_trial(optuna.trial.create_trial(params={"a": a, "b": 1.0, "c": 0.5}, distributions=dist, value=a))
    assert main(["run", str(study_file), "--design", "path", "--storage", storage, "--dry-run",
                 "--target-study", "tuned"]) == 0
    assert "path design, 7 configurations x 2 replicates = 14 trials" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    ([], "needs a target"),
    (["--target", "{nope"], "not JSON"),
    (["--target", "[1]"], "JSON object"),
    (["--target", '{"zz": 1}'], "lacks"),
    (["--target-study", "missing"], "missing"),
])
def test_cli_path_errors_are_one_line(tmp_path, capsys, args, message):
    study_file = tmp_path / "toy.py"
    study_file.write_text(STUDY_FILE)
    storage = f"sqlite:///{tmp_path / 'cli.db'}"
    optuna.create_study(storage=storage, study_name="other")
    assert main(["run", str(study_file), "--design", "path", "--storage", storage, "--dry-run", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_cli_design_all_includes_the_path_when_the_file_names_a_target(tmp_path, capsys):
    study_file = tmp_path / "toy.py"
    study_file.write_text(STUDY_FILE + '\npath_target = {"a": 1.0, "b": 1.0, "c": 1.0}\n')
    assert main(["run", str(study_file), "--design", "all", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "toy-path: path design" in out and "toy-oat: oat design" in out


def test_ask_and_tell_past_an_untold_round_gives_up_instead_of_hanging(monkeypatch):
    from hpablate.samplers import _plan_sampler

    monkeypatch.setattr(_plan_sampler, "CLAIM_WAIT_S", 0.5)
    sampler = hp.AblationPathSampler(PATH_SPACE, target=PATH_TARGET, repeats=1)
    study = optuna.create_study(sampler=sampler, direction="maximize")
    round0 = [study.ask() for _ in range(sampler.first_pass_slots())]
    [PATH_SPACE.suggest(t) for t in round0]
    waiting = study.ask()  # round 1 depends on round 0, which nobody told: wait 0.5 s, then surplus
    assert waiting.user_attrs["hpablate.surplus"] is True
    study.tell(waiting, state=optuna.trial.TrialState.PRUNED)
    for t in round0:
        study.tell(t, path_value({n: t.params[n] for n in "abc"}))
    nxt = study.ask()  # round 0 decided: a round-1 slot with a kept prefix
    assert nxt.user_attrs["hpablate.path_round"] == 1 and nxt.user_attrs["hpablate.path_prefix"] == ["a"]
