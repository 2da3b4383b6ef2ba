"""The stored record: one reader/writer, every key in one place, unreadable records are errors."""

from __future__ import annotations

import json

import optuna
import pytest

import hpablate as hp
from hpablate import record
from hpablate.errors import RecordError

SPACE = hp.SearchSpace(hp.Float("lr", 1e-4, 1e-1, log=True, baseline=1e-2), hp.Component("dropout"))


def test_study_record_round_trips():
    rec = record.StudyRecord(space=SPACE, design="grid", n_slots=12, plan_id="abc", plan_offset=3,
                             settings={"grid_groups": [["lr", "dropout"]], "morris_levels": 4})
    attrs = json.loads(json.dumps(rec.to_user_attrs()))  # what a storage gives back
    assert all(k.startswith(record.PREFIX) for k in attrs)
    back = record.read_study_record(attrs)
    assert back == rec
    assert back.grid_groups == [["lr", "dropout"]]


def test_trial_record_round_trips():
    rec = record.TrialRecord(design="morris", slot=5, replicate=1, seed=42, varied=("lr",), level=None,
                             trajectory=2, step=3, unit=(0.25, 1.0))
    back = record.read_trial_record(json.loads(json.dumps(rec.to_user_attrs())))
    assert back == rec
    surplus = record.read_trial_record({record.SLOT_ATTR: record.SURPLUS_SLOT, record.SURPLUS_ATTR: True})
    assert surplus.surplus and surplus.design is None


def test_plain_optuna_study_has_an_empty_record():
    rec = record.read_study_record({"note": "mine"})
    assert rec.space is None and rec.design is None and rec.settings == {}
    assert record.read_trial_record({"val_acc": 0.9}) is None


@pytest.mark.parametrize("key, value, words", [
    (record.SPACE_ATTR, "{broken", "search-space JSON does not parse"),
    (record.SPACE_ATTR, json.dumps({"version": 99, "params": []}), "version 99"),
    (record.SPACE_ATTR, json.dumps({"version": 1, "params": [{"kind": "float", "name": "x"}]}), "lacks the field"),
    (record.DESIGN_ATTR, 3, "expected a design name"),
    (record.N_SLOTS_ATTR, "many", "expected an integer"),
    (record.GRID_GROUPS_ATTR, "lr", "list of parameter groups"),
])
def test_unreadable_study_record_is_an_error_naming_the_key(key, value, words):
    with pytest.raises(RecordError, match=words) as info:
        record.read_study_record({key: value})
    assert repr(key) in str(info.value)


def test_newer_record_version_is_refused():
    with pytest.raises(RecordError, match="record version 1"):
        record.read_study_record({record.RECORD_VERSION_ATTR: 2})


@pytest.mark.parametrize("key, value", [(record.SLOT_ATTR, "3"), (record.REPLICATE_ATTR, 1.5),
                                        (record.VARIED_ATTR, "lr"), (record.TRAJECTORY_ATTR, True)])
def test_unreadable_trial_record_is_an_error_naming_the_key(key, value):
    with pytest.raises(RecordError) as info:
        record.read_trial_record({record.DESIGN_ATTR: "oat", key: value})
    assert repr(key) in str(info.value)


def test_damaged_space_is_not_silently_plain_optuna():
    study = optuna.create_study()
    study.set_user_attr(record.SPACE_ATTR, '{"version": 1, "params": [{"kind": "float"')
    dist = {"x": optuna.distributions.FloatDistribution(0, 1)}
    for i in range(10):
        study.add_trial(optuna.trial.create_trial(params={"x": i / 10}, distributions=dist, value=float(i)))
    with pytest.raises(RecordError, match="hpablate.space"):
        hp.analyze(study)


def test_sampler_constants_are_the_record_keys():
    from hpablate.samplers import _plan_sampler

    # the names the sampler module still exports are the record's own (not copies)
    for name in ("SPACE_ATTR", "SLOT_ATTR", "HEARTBEAT_ATTR", "FAIL_REASON_ATTR", "SURPLUS_SLOT"):
        assert getattr(_plan_sampler, name) is getattr(record, name)


def test_no_module_spells_a_record_key_itself():
    """Every stored key is spelled in record.py only (doctests and docstrings aside)."""
    import ast
    from pathlib import Path

    keys = {v for k, v in vars(record).items() if k.endswith("_ATTR") and isinstance(v, str)}
    package = Path(record.__file__).parent
    offenders = []
    for path in package.rglob("*.py"):
        if path.name == "record.py":
            continue
        tree = ast.parse(path.read_text())
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in keys and id(node) not in docstrings:
                offenders.append(f"{path.relative_to(package)}:{node.lineno} {node.value}")
    assert offenders == []


def test_plan_slots_write_what_the_reader_reads():
    sampler = hp.MorrisSampler(SPACE, trajectories=2, repeats=2)
    for slot in sampler.plan_object:
        rec = record.read_trial_record(slot.user_attrs())
        assert (rec.slot, rec.replicate, rec.seed) == (slot.index, slot.replicate, slot.seed)
        assert rec.varied == tuple(slot.config.varied)
