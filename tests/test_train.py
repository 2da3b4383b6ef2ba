"""The torch trainer, components, metrics and scikit-learn trial bodies (CPU, tiny data)."""

from __future__ import annotations

import math

import numpy as np
import optuna
import pytest
import torch
from torch import nn

import hpablate as hp
import hpablate.train as ht
from hpablate.train import components as C


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: fast and stable on a shared 2-core machine; restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def digits() -> ht.ClassificationData:
    return ht.load_digits_data(image=False).subset(300, 150)


def mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))


def test_pick_device_defaults_to_cpu_without_gpu(monkeypatch):
    monkeypatch.delenv(ht.DEVICE_ENV, raising=False)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert ht.pick_device().type == expected
    assert ht.pick_device("cpu") == torch.device("cpu")
    monkeypatch.setenv(ht.DEVICE_ENV, "cpu")
    assert ht.pick_device() == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a CPU-only machine")
def test_pick_device_rejects_cuda_without_gpu():
    with pytest.raises(ValueError, match="CUDA is not available"):
        ht.pick_device("cuda")


def test_threads_per_worker():
    assert ht.threads_per_worker(2, cores=2) == 1
    assert ht.threads_per_worker(3, cores=2) == 1
    assert ht.threads_per_worker(2, cores=16) == 8
    with pytest.raises(ValueError):
        ht.threads_per_worker(0)


def test_apply_thread_limit(monkeypatch):
    monkeypatch.setenv(ht.THREADS_ENV, "1")
    torch.set_num_threads(2)
    assert ht.apply_thread_limit() == 1 == torch.get_num_threads()


def test_same_seed_same_metrics_on_cpu(digits):
    kwargs = dict(seed=123, epochs=3, batch_size=32, lr=1e-2, device="cpu", eval_every=1)
    a = ht.train_classifier(mlp, digits, **kwargs)
    b = ht.train_classifier(mlp, digits, **kwargs)
    assert a.val_acc == b.val_acc
    assert a.train_loss == b.train_loss
    assert a.per_class_acc == b.per_class_acc
    assert a.history == b.history
    c = ht.train_classifier(mlp, digits, **{**kwargs, "seed": 124})
    assert c.train_loss != a.train_loss  # the seed matters (init, batch order)


def test_same_seed_same_metric_with_dropout_and_batchnorm_image_model():
    data = ht.load_digits_data(image=True).subset(200, 100)

    def cnn():
        return nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), C.norm("batch", 4, layout="image"), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), C.dropout(True, 0.3), nn.Linear(64, 10),
        )

    runs = [ht.train_classifier(cnn, data, seed=5, epochs=2, device="cpu") for _ in range(2)]
    assert runs[0].val_acc == runs[1].val_acc and runs[0].train_loss == runs[1].train_loss


def test_trial_seed_is_used():
    data = ht.load_digits_data(image=False).subset(200, 100)
    study = optuna.create_study(study_name="seed-check")
    t1 = study.ask()
    seed = hp.trial_seed(t1)
    by_trial = ht.train_classifier(mlp, data, trial=t1, epochs=1)
    by_seed = ht.train_classifier(mlp, data, seed=seed, epochs=1)
    assert by_trial.train_loss == by_seed.train_loss


def test_metrics_are_recorded_and_match_an_independent_computation(digits):
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.NopPruner())
    trial = study.ask()
    holder = {}

    def build():
        holder["model"] = mlp()
        return holder["model"]

    res = ht.train_classifier(build, digits, trial=trial, epochs=2, device="cpu")
    attrs = trial.user_attrs
    assert attrs["val_acc"] == res.val_acc
    assert attrs["train_loss"] == res.train_loss
    assert attrs["train_time_s"] > 0
    assert attrs["n_params"] == 64 * 32 + 32 + 32 * 10 + 10
    assert set(attrs["per_class_acc"]) == {str(k) for k in range(10)}
    for k in range(10):
        assert attrs[f"acc_class_{k}"] == attrs["per_class_acc"][str(k)]
    # independent reference: sklearn on the trained model's predictions
    from sklearn.metrics import accuracy_score, recall_score

    model = holder["model"].eval()
    with torch.no_grad():
        pred = model(digits.x_val).argmax(1).numpy()
    y = digits.y_val.numpy()
    assert res.val_acc == pytest.approx(accuracy_score(y, pred))
    present = np.unique(y)
    np.testing.assert_allclose(
        [res.per_class_acc[k] for k in present], recall_score(y, pred, average=None, labels=present)
    )
    assert attrs["val_acc_history"] == res.history == [res.val_acc]  # no pruner: evaluated once
    study.tell(trial, res.val_acc)
    stored = study.trials[0].user_attrs
    assert stored["per_class_acc"] == attrs["per_class_acc"] and stored["n_params"] == attrs["n_params"]


def test_intermediate_values_reported_per_epoch(digits):
    study = optuna.create_study(direction="maximize")  # Optuna's default MedianPruner
    trial = study.ask()
    res = ht.train_classifier(mlp, digits, trial=trial, epochs=3, device="cpu")
    study.tell(trial, res.val_acc)
    assert study.trials[0].intermediate_values == {1: res.history[0], 2: res.history[1], 3: res.history[2]}
    quiet = optuna.create_study(direction="maximize", pruner=optuna.pruners.NopPruner())
    trial = quiet.ask()
    ht.train_classifier(mlp, digits, trial=trial, epochs=2, device="cpu")  # no pruner: no reports
    assert quiet.trials[0].intermediate_values == {}
    trial = quiet.ask()
    ht.train_classifier(mlp, digits, trial=trial, epochs=2, device="cpu", report=True)
    assert len(quiet.trials[1].intermediate_values) == 2


def test_metrics_on_sqlite_trial(tmp_path, digits):
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'm.db'}", pruner=optuna.pruners.NopPruner())
    trial = study.ask()
    res = ht.train_classifier(mlp, digits, trial=trial, epochs=1, device="cpu")
    assert trial.user_attrs["val_acc"] == res.val_acc
    study.tell(trial, res.val_acc)
    stored = optuna.load_study(study_name=study.study_name, storage=study._storage).trials[0].user_attrs
    assert stored["val_acc"] == res.val_acc and stored["acc_class_3"] == res.per_class_acc[3]


def test_pruner_can_stop_a_trial(digits):
    class AlwaysPrune(optuna.pruners.BasePruner):
        def prune(self, study, trial):
            return True

    study = optuna.create_study(direction="maximize", pruner=AlwaysPrune())
    trial = study.ask()
    with pytest.raises(optuna.TrialPruned):
        ht.train_classifier(mlp, digits, trial=trial, epochs=5, device="cpu")
    assert trial.user_attrs["epochs_run"] == 1


def test_multi_objective_trial_does_not_report(digits):
    study = optuna.create_study(directions=["maximize", "minimize"])
    trial = study.ask()
    res = ht.train_classifier(mlp, digits, trial=trial, epochs=2, device="cpu")
    assert res.epochs_run == 2 and trial.user_attrs["val_acc"] == res.val_acc


def test_diverging_lr_raises_with_reason(digits):
    study = optuna.create_study()
    trial = study.ask()
    with pytest.raises(ht.DivergedError, match="diverged"):
        ht.train_classifier(mlp, digits, trial=trial, epochs=3, optimizer="sgd", lr=1e20, device="cpu")
    assert "diverged" in trial.user_attrs[ht.FAIL_REASON_ATTR]


def test_diverging_lr_is_a_failed_trial_under_hp_run(digits):
    space = hp.SearchSpace(hp.Float("lr", 1e-3, 1e20, log=True, baseline=1e-2, levels=[1e-2, 1e20]))

    def objective(trial):
        lr = space.suggest(trial)["lr"]
        return ht.train_classifier(mlp, digits, trial=trial, epochs=2, optimizer="sgd", lr=lr).val_acc

    sampler = hp.OneAtATimeSampler(space, repeats=1, max_retries=0)
    study = hp.create_study(space, sampler, direction="maximize", pruner=optuna.pruners.NopPruner())
    hp.run(study, objective)  # must not raise
    states = {t.params["lr"]: t for t in study.trials}
    assert states[1e-2].state == optuna.trial.TrialState.COMPLETE
    failed = states[1e20]
    assert failed.state == optuna.trial.TrialState.FAIL
    assert "diverged" in failed.user_attrs[ht.FAIL_REASON_ATTR]


def test_sequence_outputs_are_flattened():
    rng = np.random.default_rng(0)
    x = torch.as_tensor(rng.integers(0, 5, size=(120, 6)))
    data = ht.ClassificationData(x[:80], x[:80], x[80:], x[80:], n_classes=5)  # copy task
    model = lambda: nn.Sequential(nn.Embedding(5, 8), nn.Linear(8, 5))  # noqa: E731
    res = ht.train_classifier(model, data, seed=0, epochs=30, batch_size=16, lr=3e-2, device="cpu")
    assert res.val_acc > 0.9 and len(res.per_class_acc) == 5


def test_bad_arguments(digits):
    with pytest.raises(ValueError, match="optimizer"):
        ht.train_classifier(mlp, digits, seed=0, optimizer="lbfgs", device="cpu")
    with pytest.raises(ValueError, match="epochs"):
        ht.train_classifier(mlp, digits, seed=0, epochs=0, device="cpu")


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "rmsprop"])
def test_make_optimizer(name):
    p = [nn.Parameter(torch.ones(3))]
    opt = ht.make_optimizer(name, p, lr=0.1, weight_decay=0.01)
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[0]["weight_decay"] == 0.01


def test_components_build_real_modules():
    assert isinstance(C.dropout(False), nn.Identity) and isinstance(C.dropout(True), nn.Dropout)
    assert C.dropout(0.4).p == 0.4
    assert isinstance(C.norm("batch", 8, layout="image"), nn.BatchNorm2d)
    assert isinstance(C.norm("layer", 8, layout="image"), nn.GroupNorm)
    assert isinstance(C.norm("batch", 8), nn.BatchNorm1d)
    assert isinstance(C.norm("layer", 8, layout="sequence"), nn.LayerNorm)
    assert isinstance(C.norm("none", 8), nn.Identity) and isinstance(C.norm(False, 8), nn.Identity)
    assert isinstance(C.maybe(nn.ReLU(), False), nn.Identity)
    with pytest.raises(ValueError, match="unknown norm"):
        C.norm("group", 8)
    body = nn.Linear(4, 4)
    x = torch.randn(2, 4)
    assert torch.allclose(C.residual(body, True)(x), x + body(x))
    assert C.residual(body, False) is body
    seq_bn = C.norm("batch", 4, layout="sequence")
    assert seq_bn(torch.randn(3, 5, 4)).shape == (3, 5, 4)


def test_sklearn_cross_validation_matches_sklearn():
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    x, y = ht.load_tabular("wine")
    study = optuna.create_study(direction="maximize")
    trial = study.ask()
    rf = RandomForestClassifier(n_estimators=10)
    res = ht.cross_validate_estimator(rf, x, y, trial=trial, seed=7, cv=3)
    assert len(res.fold_scores) == 3
    # reference: sklearn's cross_val_score with the same folds and forest seeds per fold
    folds = list(StratifiedKFold(3, shuffle=True, random_state=7).split(x, y))
    ref = [
        cross_val_score(RandomForestClassifier(n_estimators=10, random_state=7 + i), x, y, cv=[folds[i]])[0]
        for i in range(3)
    ]
    np.testing.assert_allclose(res.fold_scores, ref)
    assert res.score == pytest.approx(np.mean(ref))
    attrs = trial.user_attrs
    assert attrs["cv_accuracy"] == res.score
    assert attrs["n_params"] > 0 and attrs["train_time_s"] > 0 and attrs["train_loss"] >= 0
    assert set(attrs["per_class_acc"]) == {"0", "1", "2"}
    again = ht.cross_validate_estimator(rf, x, y, seed=7, cv=3)
    assert again.fold_scores == res.fold_scores


def test_sklearn_gradient_boosting_size_and_regression():
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestRegressor

    x, y = ht.load_tabular("breast_cancer")
    res = ht.cross_validate_estimator(GradientBoostingClassifier(n_estimators=5, max_depth=1), x, y, seed=0, cv=2)
    assert res.n_params == 5 * 3  # five stumps of three nodes
    xr, yr = ht.load_tabular("diabetes")
    reg = ht.cross_validate_estimator(RandomForestRegressor(n_estimators=5), xr, yr, seed=0, cv=2)
    assert reg.per_class_acc == [] and -1 < reg.score < 1 and reg.train_loss > 0


def test_record_metrics_is_json_safe():
    study = optuna.create_study()
    trial = study.ask()
    ht.record_metrics(trial, objective_name="acc", objective=np.float32(0.5), per_class_acc=[1.0, math.nan], n_params=np.int64(3))
    assert trial.user_attrs["acc"] == 0.5 and trial.user_attrs["acc_class_1"] is None
    assert trial.user_attrs["n_params"] == 3


def test_batched_replicates_match_one_at_a_time_training():
    data = ht.load_digits_data(image=True).subset(200, 100)

    def cnn():  # batch norm (running stats under vmap), no dropout: same maths as sequential
        # (no conv bias before the norm: its gradient is rounding noise, which Adam amplifies)
        return nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(256, 10)
        )

    kwargs = dict(epochs=2, batch_size=32, lr=1e-2, device="cpu")
    batched = ht.train_replicates(cnn, data, [3, 4, 5], **kwargs)
    for seed, res in zip([3, 4, 5], batched):
        one = ht.train_classifier(cnn, data, seed=seed, channels_last=False, **kwargs)
        assert res.train_loss == pytest.approx(one.train_loss, rel=1e-4)
        assert res.val_loss == pytest.approx(one.val_loss, rel=1e-3)
        assert res.n_params == one.n_params and len(res.per_class_acc) == 10
    assert batched[0].train_loss != batched[1].train_loss


def test_batched_replicates_isolate_a_diverged_replicate(digits):
    def build():  # the first replicate starts with NaN weights: its loss is NaN, the others train
        model = mlp()
        if build.calls == 0:
            with torch.no_grad():
                model[0].weight.fill_(float("nan"))
        build.calls += 1
        return model

    build.calls = 0
    out = ht.train_replicates(build, digits, [0, 1], epochs=2, device="cpu", lr=1e-2)
    assert isinstance(out[0], ht.DivergedError) and "diverged" in str(out[0])
    assert isinstance(out[1], ht.TrainResult) and out[1].val_acc > 0.3
