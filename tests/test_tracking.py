"""Experiment tracking (train.log_to): metrics.csv rows from the history, TensorBoard event files, the option."""

from __future__ import annotations

import csv
import importlib.util
import json
import sys

import pytest

from distant.config.run import TrainConfig, load_config
from distant.errors import DistantError
from distant.tracking import check_targets
from distant.train import run_training
from tests.test_train import CONFIG, QUICK


def _train(run_dir, *overrides):
    config = load_config(CONFIG, [*QUICK, "train.epochs=3", *overrides])
    return run_training(config, run_dir, config_path=CONFIG)


def test_log_to_takes_a_name_or_a_list_and_refuses_others():
    assert TrainConfig(log_to="csv").log_to == ["csv"]
    assert TrainConfig(log_to=["csv", "tensorboard"]).log_to == ["csv", "tensorboard"]
    assert TrainConfig().log_to == []
    with pytest.raises(DistantError, match=r"train\.log_to: expected one of csv, tensorboard.*'wandb'"):
        load_config(CONFIG, ['train.log_to="wandb"'])
    with pytest.raises(DistantError, match="train.log_to"):
        load_config(CONFIG, ["train.log_to=[1]"])


def test_csv_holds_one_row_per_epoch_as_metrics_jsonl(tmp_path):
    _train(tmp_path / "run", 'train.log_to="csv"')
    history = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    with open(tmp_path / "run" / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(history) == 3
    for row, entry in zip(rows, history):
        assert int(row["epoch"]) == entry["epoch"] and int(row["round"]) == entry["round"]
        assert float(row["loss"]) == entry["loss"]
        assert float(row["dev_f1"]) == entry["dev"]["f1"]
        assert float(row["dev_precision"]) == entry["dev"]["precision"]
    assert not (tmp_path / "run" / "tensorboard").exists()


def test_nothing_is_logged_by_default(tmp_path):
    _train(tmp_path / "run", "train.epochs=1")
    assert not (tmp_path / "run" / "metrics.csv").exists()
    assert not (tmp_path / "run" / "tensorboard").exists()


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None, reason="tensorboard not installed")
def test_tensorboard_writes_an_event_file_with_the_dev_scores(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _train(tmp_path / "run", 'train.log_to=["tensorboard", "csv"]')
    files = list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))
    assert files
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    events.Reload()
    assert [e.step for e in events.Scalars("dev/f1")] == [1, 2, 3]
    assert {"train/loss", "train/step_loss", "dev/precision", "dev/recall"} <= set(events.Tags()["scalars"])
    assert (tmp_path / "run" / "metrics.csv").is_file()


def test_tensorboard_missing_is_one_error_before_any_work(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import tensorboard now raises ImportError
    with pytest.raises(DistantError, match=r"needs TensorBoard: pip install 'distant\[tracking\]'"):
        check_targets(["tensorboard"])
    with pytest.raises(DistantError, match="needs TensorBoard"):
        _train(tmp_path / "run", 'train.log_to="tensorboard"')
    assert not (tmp_path / "run").exists()
