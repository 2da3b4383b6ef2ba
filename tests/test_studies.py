"""The example studies: each runs end to end with ``--quick``; components change real modules."""

from __future__ import annotations

import functools
from pathlib import Path

import optuna
import pytest
import torch

import hpablate as hp
import hpablate.train as ht
from hpablate.cli import main
from hpablate.cli._run import load_study_file

STUDIES = Path(__file__).resolve().parents[1] / "studies"
STUDY_FILES = sorted(p.name for p in STUDIES.glob("*.py") if not p.name.startswith("_"))
METRICS = ("train_time_s", "n_params", "train_loss", "per_class_acc")


@pytest.fixture(autouse=True)
def quick_env(monkeypatch):
    """Quick mode and one torch thread; every variable the CLI sets is restored afterwards."""
    for name in (ht.QUICK_ENV, ht.THREADS_ENV, ht.DEVICE_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(ht.QUICK_ENV, "1")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def load(name: str):
    return load_study_file(STUDIES / name)


def test_the_five_studies_exist():
    assert set(STUDY_FILES) >= {
        "digits_cnn.py", "random_forest.py", "lr_batch_grid.py", "tiny_transformer.py", "boosting_tradeoff.py",
    }
    assert any(len(load(n).directions) == 2 for n in STUDY_FILES)  # a multi-objective study


@pytest.mark.parametrize("name", STUDY_FILES)
def test_study_declares_space_objective_designs(name):
    sf = load(name)
    assert isinstance(sf.space, hp.SearchSpace) and callable(sf.objective)
    assert all(d in ("maximize", "minimize") for d in sf.directions)
    for design, factory in sf.designs.items():
        sampler = factory(sf.space, 1, 0)
        assert isinstance(sampler, hp.PlanSampler), design
        assert sampler.n_slots >= 2


@pytest.mark.parametrize("name", STUDY_FILES)
def test_study_runs_quick_end_to_end(name, tmp_path, capsys):
    sf = load(name)
    design = sf.default_design
    storage = f"sqlite:///{tmp_path / 'q.db'}"
    code = main(["run", str(STUDIES / name), "--quick", "--repeats", "1", "--storage", storage, "--no-progress"])
    assert code == 0
    out = capsys.readouterr().out
    study_name = f"{Path(name).stem}-{design}-quick"
    assert f"hpablate analyze --storage {storage} --study {study_name}" in out
    study = optuna.load_study(study_name=study_name, storage=storage)
    n_slots = sf.designs[design](sf.space, 1, 0).n_slots
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len({t.user_attrs["hpablate.slot"] for t in complete}) == n_slots
    for t in complete:
        for metric in METRICS:
            assert metric in t.user_attrs, (metric, t.number)
        assert t.user_attrs["train_time_s"] > 0 and t.user_attrs["n_params"] > 0
        if len(sf.directions) == 1 and sf.directions[0] == "maximize":
            assert 0.0 <= t.value <= 1.0


def _ablations(space: hp.SearchSpace):
    for param in space:
        if param.kind == "component":
            for value in param.choices:
                if value != param.baseline:
                    yield param.name, value


@pytest.mark.parametrize("name", ["digits_cnn.py", "tiny_transformer.py"])
def test_removed_component_changes_the_model(name):
    sf = load(name)
    build = sf.module.build_model
    extra = (sf.module.settings().width,) if name == "tiny_transformer.py" else ()
    base_cfg = sf.space.baseline
    base = build(base_cfg, *extra)
    checked = 0
    for component, value in _ablations(sf.space):
        ablated = build({**base_cfg, component: value}, *extra)
        differs = ht.count_parameters(ablated) != ht.count_parameters(base) or ht.module_types(ablated) != ht.module_types(base)
        assert differs, f"{name}: {component}={value!r} builds the same model"
        checked += 1
    assert checked >= 4


def test_digits_components_remove_the_expected_modules():
    sf = load("digits_cnn.py")
    build, base = sf.module.build_model, sf.space.baseline
    types = lambda cfg: ht.module_types(build({**base, **cfg}))  # noqa: E731
    assert "Dropout" in types({}) and "Dropout" not in types({"dropout": False})
    assert "BatchNorm2d" in types({}) and not {"BatchNorm2d", "GroupNorm"} & set(types({"norm": "none"}))
    assert "GroupNorm" in types({"norm": "layer"})
    assert types({}).count("Conv2d") == 2 and types({"conv2": False}).count("Conv2d") == 1


def test_transformer_components_remove_the_expected_modules():
    sf = load("tiny_transformer.py")
    build, base = sf.module.build_model, sf.space.baseline
    types = lambda cfg: ht.module_types(build({**base, **cfg}, 16))  # noqa: E731
    assert "MultiheadAttention" in types({}) and "MultiheadAttention" not in types({"attention": False})
    assert "LayerNorm" in types({}) and "LayerNorm" not in types({"layernorm": False})
    assert "Residual" in types({}) and "Residual" not in types({"residual": False})
    with_pos = ht.count_parameters(build(base, 16))
    assert with_pos - ht.count_parameters(build({**base, "posenc": False}, 16)) == sf.module.SEQ_LEN * 16


@pytest.mark.parametrize("name", ["digits_cnn.py", "lr_batch_grid.py", "random_forest.py"])
def test_same_seed_same_metric_twice(name):
    sf = load(name)
    values = []
    for _ in range(2):
        trial = optuna.trial.FixedTrial(sf.space.baseline, number=3)
        values.append(sf.objective(trial))
    assert values[0] == values[1]


def test_transformer_learns_sorting_only_with_attention():
    sf = load("tiny_transformer.py")
    m = sf.module
    data = m.sort_data(600, 200)
    run = lambda cfg: ht.train_classifier(  # noqa: E731
        functools.partial(m.build_model, {**sf.space.baseline, **cfg}, 32), data, seed=0, epochs=4, lr=3e-3,
        optimizer="adamw", device="cpu",
    ).val_acc
    assert run({}) > run({"attention": False}) + 0.05


def test_optimizer_conditional_study_reports_momentum_in_its_branch(tmp_path, capsys):
    """The conditional study (issue 12): momentum lives under SGD, the betas under Adam (the baseline)."""
    sf = load("optimizer_conditional.py")
    assert sf.space.conditional and sf.space.activation("momentum") == {"optimizer": "sgd"}
    for config in ({**sf.space.baseline, "optimizer": "sgd"}, sf.space.baseline):
        kw = sf.module.optimizer_settings(sf.space.active(config))
        opt = ht.make_optimizer(kw.pop("optimizer"), [torch.nn.Parameter(torch.zeros(2))], 0.1, **kw)
        group = opt.param_groups[0]
        assert group.get("momentum") == 0.9 if "momentum" in kw else group["betas"] == (0.9, 0.999)
    storage = f"sqlite:///{tmp_path / 'c.db'}"
    assert main(["run", str(STUDIES / "optimizer_conditional.py"), "--quick", "--repeats", "2", "--storage", storage,
                 "--no-progress"]) == 0
    report = hp.analyze(storage, study_name="optimizer_conditional-oat-quick")
    mom = report.effects[report.effects["param"] == "momentum"]
    assert set(mom["branch"]) == {"optimizer=sgd"} and len(mom) == 3 and (mom["baseline_n"] == 2).all()
    assert set(report.effects.loc[report.effects["param"] != "momentum", "branch"]) == {""}
    assert report.condition_tree[0].startswith("optimizer = sgd") and report.condition_tree[0].endswith(": momentum")
    assert report.condition_tree[1].endswith(": beta1, beta2")
