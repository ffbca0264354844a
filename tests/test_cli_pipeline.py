"""The whole pipeline from the command line on the shipped sample: label -> train -> predict -> evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from distant.cli import app

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
CONFIG = ROOT / "configs" / "sample.toml"
runner = CliRunner()

SMALL = ["--set", "pretrain.epochs=1", "--set", "model.charlm.hidden_size=32"]
QUICK = ["--set", "train.epochs=2", *SMALL]


def run(*args):
    result = runner.invoke(app, [str(a) for a in args])
    return result


def ok(*args):
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result


def one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("distant: error:"), result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("runs") / "sample"
    ok("train", CONFIG, "-o", run_dir, *QUICK)
    return run_dir


def test_train_writes_a_complete_run_folder(trained):
    for name in ("config.toml", "pseudo.jsonl", "charlm.pt", "last.pt", "model.pt", "metrics.jsonl", "debias.json",
                 "report.json"):
        assert (trained / name).is_file(), name
    report = json.loads((trained / "report.json").read_text())
    gold_mentions = sum(line.count("\t") >= 4 for line in (SAMPLE / "gold.pubtator").read_text().splitlines())
    assert report["train"]["epochs"] == 2 and report["train"]["best_epoch"] in (1, 2)
    assert report["test"]["micro"]["support"] == gold_mentions == 66 and report["test"]["documents"] == 8
    assert report["dev"]["scores"]["support"] > 0 and report["train"]["stopped_by"] == "epochs"
    assert len((trained / "metrics.jsonl").read_text().splitlines()) == 2
    checkpoint = torch.load(trained / "model.pt", map_location="cpu", weights_only=True)
    assert checkpoint["format_version"] == 2 and checkpoint["tags"][0] == "O"


def test_label_predict_evaluate(trained, tmp_path):
    ok("label", SAMPLE / "gold.pubtator", "--dict", SAMPLE / "dict.tsv", "--stopwords", SAMPLE / "stopwords.txt",
       "-o", tmp_path / "pseudo.pubtator")
    dictionary = json.loads(ok("evaluate", SAMPLE / "gold.pubtator", tmp_path / "pseudo.pubtator", "--json").stdout)
    assert dictionary["micro"]["precision"] > 0.9
    for out in ("pred.pubtator", "pred.jsonl", "pred.conll"):
        ok("predict", trained, SAMPLE / "gold.pubtator", "-o", tmp_path / out)
    spans = [json.loads(line)["spans"]["pred"] for line in (tmp_path / "pred.jsonl").read_text().splitlines()]
    pubtator = [line for line in (tmp_path / "pred.pubtator").read_text().splitlines() if line.count("\t") >= 4]
    assert len(pubtator) == sum(len(doc) for doc in spans)  # the same predictions in both formats
    assert all(0.0 < s["score"] <= 1.0 + 1e-6 and s["source"] == "model" for doc in spans for s in doc)
    scores = json.loads(ok("evaluate", SAMPLE / "gold.pubtator", tmp_path / "pred.pubtator", "--json").stdout)
    report = json.loads((trained / "report.json").read_text())
    assert scores["micro"]["f1"] == pytest.approx(report["test"]["micro"]["f1"])


def test_predictions_are_identical_after_reloading(trained, tmp_path):
    ok("predict", trained, SAMPLE / "abstracts.txt", "-o", tmp_path / "a.jsonl")
    ok("predict", trained / "model.pt", SAMPLE / "abstracts.txt", "-o", tmp_path / "b.jsonl")
    assert (tmp_path / "a.jsonl").read_text() == (tmp_path / "b.jsonl").read_text()


def test_resume_continues_exactly_where_it_stopped(tmp_path):
    ok("train", CONFIG, "-o", tmp_path / "whole", *QUICK)
    ok("train", CONFIG, "-o", tmp_path / "parts", "--set", "train.epochs=1", *SMALL)
    ok("train", CONFIG, "-o", tmp_path / "parts", "--resume", *QUICK)
    whole = [json.loads(x) for x in (tmp_path / "whole" / "metrics.jsonl").read_text().splitlines()]
    parts = [json.loads(x) for x in (tmp_path / "parts" / "metrics.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in parts] == [1, 2]
    assert [h["loss"] for h in parts] == pytest.approx([h["loss"] for h in whole], rel=1e-5)


def test_debias_report_reads_the_run(trained):
    result = ok("debias", "report", trained, "--json")
    assert set(json.loads(result.stdout)["pseudo"]) >= {"O", "B-Chemical"}


def test_training_errors_are_one_line(tmp_path, trained):
    bad = tmp_path / "bad.toml"
    bad.write_text(CONFIG.read_text().replace("[train]", "[train]\nepochz = 3"))
    assert "train.epochz" in one_line_error(run("train", bad, "-o", tmp_path / "r"))
    assert "resume" in one_line_error(run("train", CONFIG, "-o", tmp_path / "none", "--resume"))
    assert "already" in one_line_error(run("train", CONFIG, "-o", trained))
    assert "no trained model" in one_line_error(run("predict", tmp_path, SAMPLE / "abstracts.txt", "-o", tmp_path / "p.jsonl"))
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.pt").write_bytes(b"not a checkpoint")
    assert "checkpoint" in one_line_error(run("predict", broken, SAMPLE / "abstracts.txt", "-o", tmp_path / "p.jsonl"))
    assert "debias.json" in one_line_error(run("debias", "report", tmp_path))


def test_self_training_folds_predictions_into_the_pseudo_labels(tmp_path):
    run_dir = tmp_path / "st"
    ok("train", CONFIG, "-o", run_dir, *QUICK, "--set", "train.self_training=1", "--set",
       "train.self_training_epochs=1", "--set", "train.self_training_min_score=0.0")
    history = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [h["round"] for h in history] == [0, 0, 1]
    report = json.loads((run_dir / "report.json").read_text())
    assert report["train"]["self_training"][0]["round"] == 1
    assert (run_dir / "pseudo.round1.jsonl").is_file()


def test_merge_predictions_keeps_typed_spans_and_resolves_untyped():
    from distant.docs import Document, Span
    from distant.selftrain import merge_predictions

    doc = Document("d", "aspirin caused acute renal failure and fever")
    doc.set_spans("pseudo", [Span(0, 7, "Chemical"), Span(15, 34, "-")])
    doc.set_spans("pred", [Span(0, 14, "Disease", score=0.99), Span(15, 34, "Disease", score=0.95),
                           Span(39, 44, "Disease", score=0.5)])
    added, resolved = merge_predictions(doc, "pseudo", "pred", 0.9, "new")
    assert (added, resolved) == (1, 1)
    assert [(s.start, s.end, s.label) for s in doc.spans("new")] == [(0, 7, "Chemical"), (15, 34, "Disease")]


def test_crossweigh_weights_are_computed_and_reported(tmp_path):
    run_dir = tmp_path / "cw"
    ok("train", CONFIG, "-o", run_dir, *QUICK, "--set", "debias.crossweigh=true", "--set", "debias.crossweigh_folds=2",
       "--set", "debias.crossweigh_iterations=2", "--set", "debias.crossweigh_epochs=1")
    report = json.loads((run_dir / "debias.json").read_text())["crossweigh"]
    weights = torch.load(run_dir / "crossweigh.pt", weights_only=True)["weights"]
    assert report["sentences"] == len(weights) > 0 and report["iterations"] == 2
    assert {round(w, 4) for w in weights.tolist()} <= {1.0, 0.7, 0.49}
    assert sum(report["flagged"].values()) == len(weights)
