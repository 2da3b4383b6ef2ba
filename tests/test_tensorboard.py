"""optuna-integration's TensorBoardCallback under ``hp.run(..., callbacks=[...])``, read back from the event files.

The callback logs each completed trial's parameters (hparams) and value; the wrapper of the README
adds the trial's hpablate record (design, varied, level, replicate, seed …), which callbacks get
in ``frozen_trial.user_attrs``.
"""

from __future__ import annotations

import json
import os

import numpy as np
import optuna
import pytest

import hpablate as hp

tf = pytest.importorskip("tensorflow", reason="optuna-integration's TensorBoardCallback writes through TensorFlow")
pytest.importorskip("optuna_integration", reason="pip install optuna-integration")
event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")

SPACE = hp.SearchSpace(
    hp.Float("lr", 1e-3, 1e-1, log=True, baseline=1e-2, levels=[1e-3, 1e-2, 1e-1]),
    hp.Component("dropout", baseline=True),
)


class RecordedTensorBoard:
    """TensorBoardCallback plus the trial's hpablate record as text summaries (the README's example)."""

    def __init__(self, logdir: str, metric_name: str) -> None:
        from optuna_integration import TensorBoardCallback

        self.logdir = logdir
        self.tensorboard = TensorBoardCallback(logdir, metric_name=metric_name)

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        self.tensorboard(study, trial)
        if trial.state != optuna.trial.TrialState.COMPLETE:
            return
        record = {k.removeprefix("hpablate."): v for k, v in trial.user_attrs.items() if k.startswith("hpablate.")}
        with tf.summary.create_file_writer(os.path.join(self.logdir, f"trial-{trial.number}")).as_default():
            for key, value in record.items():
                tf.summary.text(f"hpablate/{key}", json.dumps(value), step=trial.number)


def _accuracy(trial: optuna.Trial) -> float:
    p = SPACE.suggest(trial)
    rng = np.random.default_rng(hp.trial_seed(trial))
    return 0.9 - abs(np.log10(p["lr"]) + 2) * 0.1 - 0.05 * (not p["dropout"]) + rng.normal(0, 0.01)


@pytest.mark.filterwarnings("ignore:TensorBoardCallback has been deprecated:FutureWarning")
def test_every_trial_is_logged_with_its_value_params_and_record(tmp_path):
    logdir = str(tmp_path / "tb")
    study = hp.create_study(SPACE, hp.OneAtATimeSampler(SPACE, repeats=2), direction="maximize")
    hp.run(study, _accuracy, callbacks=[RecordedTensorBoard(logdir, metric_name="accuracy")])
    trials = study.get_trials(deepcopy=False)
    assert len(trials) == 8 and sorted(os.listdir(logdir)) == sorted(f"trial-{t.number}" for t in trials)
    for t in trials:
        acc = event_accumulator.EventAccumulator(os.path.join(logdir, f"trial-{t.number}"),
                                                 size_guidance={event_accumulator.TENSORS: 0})
        acc.Reload()
        tags = set(acc.Tags()["tensors"])
        (value,) = acc.Tensors("accuracy")
        assert value.step == t.number and float(tf.make_ndarray(value.tensor_proto)) == pytest.approx(t.value)
        hparams = acc.summary_metadata["_hparams_/session_start_info"].plugin_data.content
        assert all(name.encode() in hparams for name in t.params)
        record = {tag.split("/", 1)[1]: json.loads(tf.make_ndarray(acc.Tensors(tag)[0].tensor_proto).item())
                  for tag in tags if tag.startswith("hpablate/")}
        assert {"design", "varied", "level", "replicate", "seed", "slot"} <= set(record)
        assert record == {k.removeprefix("hpablate."): v for k, v in t.user_attrs.items()
                          if k.startswith("hpablate.")}
