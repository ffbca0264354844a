"""The training stages: seeded determinism, the patience and time-limit stops, the state a run resumes from."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import pytest
import torch

from distant.config.run import MIN_SCORE_GRID, TrainConfig, load_config, move_old_keys
from distant.corpus import read_corpus
from distant.docs import PRED
from distant.errors import DistantError
from distant.loop import TrainState, make_optimizer, train_while_improving
from distant.models import TaggerConfig, build_tagger
from distant.predict import load_model, predict_documents
from distant.train import check_inputs, run_training

from tests.test_models import SENTENCES, TAGS, encoded

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "sample.toml"
QUICK = ["train.epochs=2", "pretrain.epochs=1", "model.charlm.hidden_size=16", "model.hidden_size=16"]


def _state_dict(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["state_dict"]


def _train(run_dir: Path, *overrides: str, resume: bool = False) -> dict:
    config = load_config(CONFIG, [*QUICK, *overrides])
    return run_training(config, run_dir, config_path=CONFIG, resume=resume)


def test_same_seed_same_model_other_seed_other_model(tmp_path):
    _train(tmp_path / "a")
    _train(tmp_path / "b")
    _train(tmp_path / "c", "train.seed=14")
    a, b, c = (_state_dict(tmp_path / r / "model.pt") for r in "abc")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)
    assert (tmp_path / "a" / "pseudo.jsonl").read_bytes() == (tmp_path / "c" / "pseudo.jsonl").read_bytes()


def test_an_interrupted_run_resumes_to_the_same_bits(tmp_path):
    _train(tmp_path / "whole", "train.epochs=3")
    _train(tmp_path / "parts", "train.epochs=1")
    _train(tmp_path / "parts", "train.epochs=3", resume=True)
    whole, parts = (_state_dict(tmp_path / r / "model.pt") for r in ("whole", "parts"))
    assert all(torch.equal(whole[k], parts[k]) for k in whole)
    state, _, _ = TrainState.load(tmp_path / "parts" / "last.pt")
    assert state.epoch == 3 and [h["epoch"] for h in state.history] == [1, 2, 3]


def _tagger_and_examples():
    torch.manual_seed(0)
    tagger = build_tagger(SENTENCES, TAGS, TaggerConfig(word_dim=8, hidden_size=8))
    return tagger, encoded(tagger)


def test_patience_stops_a_round_that_does_not_improve():
    tagger, examples = _tagger_and_examples()
    settings = TrainConfig(epochs=10, batch_size=4, patience=2)
    state = TrainState()
    events = list(train_while_improving(tagger, examples, make_optimizer(tagger, settings), settings=settings,
                                        device=torch.device("cpu"), score=lambda: {"f1": 0.5}, state=state,
                                        last_epoch=10))
    epochs = [e for e in events if e["event"] == "epoch"]
    assert [e["is_best"] for e in epochs] == [True, False, False]  # the first 0.5 is a gain over nothing
    assert state.stopped and state.stop_reason == "patience" and state.best_epoch == 1 and state.epoch == 3


def test_the_time_limit_stops_after_the_epoch_it_is_reached_in():
    tagger, examples = _tagger_and_examples()
    settings = TrainConfig(epochs=10, batch_size=4, patience=5)
    scores = iter([0.1, 0.2, 0.3])
    state = TrainState()
    list(train_while_improving(tagger, examples, make_optimizer(tagger, settings), settings=settings,
                               device=torch.device("cpu"), score=lambda: {"f1": next(scores)}, state=state,
                               last_epoch=10, deadline=time.perf_counter()))
    assert state.stopped and state.stop_reason == "time" and state.epoch == 1


def test_a_run_stopped_by_the_time_limit_says_so(tmp_path):
    report = _train(tmp_path / "run", "train.max_minutes=0.00001", "train.epochs=5")
    assert report["train"]["stopped_by"] == "time" and report["train"]["epochs"] == 1
    assert any("time limit" in w for w in report["warnings"])
    assert json.loads((tmp_path / "run" / "report.json").read_text())["warnings"] == report["warnings"]


def test_a_finished_round_stays_finished_when_resumed(tmp_path):
    _train(tmp_path / "run", "train.epochs=5", "train.patience=1")
    state, _, _ = TrainState.load(tmp_path / "run" / "last.pt")
    assert state.stopped or state.epoch == 5
    again = _train(tmp_path / "run", "train.epochs=5", "train.patience=1", resume=True)
    assert again["train"]["epochs"] == state.epoch  # no epoch more


def test_state_save_and_load(tmp_path):
    tagger, _ = _tagger_and_examples()
    optimizer = make_optimizer(tagger, TrainConfig())
    state = TrainState(epoch=4, best_epoch=3, best_f1=0.7, history=[{"epoch": 1}], round=1, round_start=3,
                       stopped=True, stop_reason="patience", rounds=[{"round": 1, "added": 2}])
    state.save(tmp_path / "last.pt", tagger, optimizer)
    again, model, optim = TrainState.load(tmp_path / "last.pt")
    assert again == state and model["tags"] == TAGS and "state" in optim
    torch.save({"model": model, "optimizer": optim, "epoch": 2, "best": {"epoch": 1, "f1": 0.5}, "history": [],
                "round": 0, "round_start": 1, "stopped": False}, tmp_path / "old.pt")  # written before TrainState
    old, _, _ = TrainState.load(tmp_path / "old.pt")
    assert (old.epoch, old.best_epoch, old.best_f1) == (2, 1, 0.5)
    torch.save({"model": model}, tmp_path / "bad.pt")
    with pytest.raises(DistantError, match="optimizer"):
        TrainState.load(tmp_path / "bad.pt")


def test_old_keys_are_read_where_they_moved(caplog):
    data = {"train": {"pretrain_epochs": 2, "eval_batch_size": 64, "charlm": "lm.pt"},
            "model": {"consistency_min_score": 0.9, "charlm": {"lr": 0.01}}, "debias": {"gold_budget": 50}}
    moved = move_old_keys(data)
    assert moved == {"train": {}, "model": {"charlm": {}}, "debias": {}, "data": {"dev_budget": 50},
                     "pretrain": {"epochs": 2, "charlm": "lm.pt", "lr": 0.01},
                     "predict": {"batch_size": 64, "consistency_min_score": 0.9}}
    assert "train.pretrain_epochs is now pretrain.epochs" in caplog.text
    with pytest.raises(DistantError, match="both set"):
        move_old_keys({"train": {"pretrain_epochs": 2}, "pretrain": {"epochs": 3}})
    config = load_config(CONFIG, ["train.pretrain_epochs=0", "model.propagate_abbreviations=false"])
    assert config.pretrain.epochs == 0 and not config.predict.propagate_abbreviations


def test_check_inputs_names_what_is_missing(tmp_path):
    config = load_config(CONFIG, [f"data.test={tmp_path / 'missing.pubtator'}"])
    with pytest.raises(DistantError, match="data.test: not found"):
        check_inputs(config)
    config = load_config(CONFIG, ["data.train=[]"])
    with pytest.raises(DistantError, match="data.train is empty"):
        check_inputs(config)


def test_training_from_labeled_shards_as_they_are(tmp_path):
    """distant label's shards train a tagger without labelers: the same run as labeling in the run itself."""
    from typer.testing import CliRunner

    from distant.cli import app

    shards = tmp_path / "labeled"
    config = load_config(CONFIG)
    labeler = config.labelers[0].options
    args = ["label", str(ROOT / "data" / "sample" / "abstracts.txt"), "-o", f"{shards}/", "--dict",
            str(labeler.dicts[0]), "--unknown", str(labeler.unknown[0]), "--stopwords", str(labeler.stopwords)]
    assert CliRunner().invoke(app, args).exit_code == 0
    _train(tmp_path / "labeling")
    _train(tmp_path / "labeled", "data.train=[]", f"data.train_labeled=[\"{shards}\"]")
    a, b = (_state_dict(tmp_path / r / "model.pt") for r in ("labeling", "labeled"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    empty = tmp_path / "nolayer.jsonl"
    empty.write_text('{"id": "d", "text": "Aspirin."}\n')
    with pytest.raises(DistantError, match="no 'pseudo' layer"):
        _train(tmp_path / "bad", "data.train=[]", f"data.train_labeled=[\"{empty}\"]")


def test_features_on_disk_train_the_same_model(tmp_path):
    _train(tmp_path / "memory", "train.feature_cache=\"memory\"")
    _train(tmp_path / "disk", "train.feature_cache=\"disk\"")
    assert (tmp_path / "disk" / "features" / "charlm.f16").is_file()
    a, b = (_state_dict(tmp_path / r / "model.pt") for r in ("memory", "disk"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_min_score_auto_is_chosen_on_dev_and_kept_by_the_model(tmp_path):
    report = _train(tmp_path / "r", 'predict.min_score="auto"')
    chosen = report["dev"]["min_score"]["chosen"]
    curve = report["dev"]["min_score"]["dev_f1"]
    assert chosen in MIN_SCORE_GRID and set(curve) == {f"{t:g}" for t in MIN_SCORE_GRID}
    best = max(curve.values())
    assert curve[f"{chosen:g}"] == best and all(t >= chosen for t in MIN_SCORE_GRID if curve[f"{t:g}"] == best)
    assert report["dev"]["scores"]["f1"] == pytest.approx(curve[f"{chosen:g}"])
    model = load_model(tmp_path / "r")
    assert model.rules.min_score == chosen  # a number: prediction needs no dev set
    assert load_config(tmp_path / "r" / "config.toml").predict.min_score == "auto"


def test_min_score_drops_unconfident_spans_and_counts_them(tmp_path):
    config = load_config(CONFIG, ["train.epochs=12", "pretrain.epochs=1"])
    run_training(config, tmp_path / "r", config_path=CONFIG)
    model = load_model(tmp_path / "r")
    docs = read_corpus([load_config(CONFIG).data.test])
    free = [d.copy(layers=()) for d in docs]
    predict_documents(model, free)
    scores = sorted(s.score for d in free for s in d.spans(PRED))
    assert scores, "the quick model predicts something"
    cut = scores[(len(scores) - 1) // 2] + 1e-6  # at least the median span goes
    model.rules = dataclasses.replace(model.rules, min_score=cut)
    cut_docs = [d.copy(layers=()) for d in docs]
    stats = predict_documents(model, cut_docs)
    kept = [(d.id, s.start, s.end, s.label) for d in cut_docs for s in d.spans(PRED)]
    expected = [(d.id, s.start, s.end, s.label) for d in free for s in d.spans(PRED) if s.score >= cut]
    assert kept == expected
    assert stats["below_min_score"] == len(scores) - len(expected) > 0
    assert stats["spans"] == len(expected)


@pytest.mark.parametrize("value", ['"high"', "1.5", "-0.1"])
def test_min_score_rejects_what_is_not_a_threshold(value):
    with pytest.raises(DistantError, match="predict.min_score"):
        load_config(CONFIG, [f"predict.min_score={value}"])
