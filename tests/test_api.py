"""The Python API (distant.load, Labelers, read, write, evaluate) and docs/api.md's examples as doctests."""

from __future__ import annotations

import doctest
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import distant
from distant.cli import app
from distant.docs import Document
from distant.errors import DistantError

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"


def test_import_distant_is_light():
    code = ("import sys, distant; distant.load; distant.Labelers; "
            "print(sorted(m for m in ('torch', 'spacy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_evaluate_stays_the_function_after_the_submodule_loads():
    import distant.evaluate as loaded  # noqa: F401  (loads the submodule)
    from distant.evaluate import Evaluation

    assert callable(distant.evaluate) and not isinstance(distant.evaluate, type(sys))
    assert isinstance(distant.evaluate(SAMPLE / "gold.pubtator", SAMPLE / "gold.pubtator"), Evaluation)


def test_the_docs_examples_run(sample_run, tmp_path, monkeypatch):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "sample").symlink_to(sample_run)
    for name in ("data", "configs"):
        (tmp_path / name).symlink_to(ROOT / name)
    monkeypatch.chdir(tmp_path)
    result = doctest.testfile(str(ROOT / "docs" / "api.md"), module_relative=False, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 20 and result.failed == 0


def test_tagger_gives_the_spans_distant_predict_writes(sample_run, tmp_path):
    runner = CliRunner()
    out = tmp_path / "pred.jsonl"
    result = runner.invoke(app, ["predict", str(sample_run), str(SAMPLE / "gold.pubtator"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    cli = [json.loads(line) for line in out.read_text().splitlines()]
    tagger = distant.load(sample_run, device="cpu")
    docs = distant.read(SAMPLE / "gold.pubtator")
    texts = [doc.text for doc in docs]
    for line, doc, entities in zip(cli, tagger.pipe(docs), tagger.pipe(texts)):
        expected = [(s["start"], s["end"], s["label"], s["score"]) for s in line["spans"]["pred"]]
        assert [(s.start, s.end, s.label, s.score) for s in doc.spans("pred")] == expected
        assert [(e.start, e.end, e.type, e.confidence) for e in entities] == expected
        assert all(e.text == doc.text[e.start:e.end] for e in entities)
    assert sum(len(line["spans"]["pred"]) for line in cli) > 0


def test_tagger_one_item_and_a_stream(sample_run):
    tagger = distant.load(sample_run, device="cpu", layer="model")
    doc = Document("x", "Cisplatin-induced nephrotoxicity in rats.")
    assert tagger(doc) is doc and "model" in doc.layers
    stream = tagger.pipe(iter(["Lithium toxicity.", doc]))
    assert isinstance(next(stream), list) and next(stream) is doc
    with pytest.raises(TypeError, match="expected a str or a distant Document"):
        tagger(42)


def test_load_without_a_model_is_one_clear_error(tmp_path):
    with pytest.raises(DistantError, match="no trained model found"):
        distant.load(tmp_path)


def test_labelers_label_as_distant_label_does(tmp_path):
    config = ROOT / "configs" / "labelers_sample.toml"
    result = CliRunner().invoke(app, ["label", str(SAMPLE / "gold.pubtator"), "--config", str(config), "-o",
                                      str(tmp_path / "cli.jsonl")])
    assert result.exit_code == 0, result.output
    labelers = distant.Labelers.from_config(config)
    distant.write(labelers.pipe(distant.read(SAMPLE / "gold.pubtator")), tmp_path / "api.jsonl", layer="pseudo")
    assert (tmp_path / "api.jsonl").read_bytes() == (tmp_path / "cli.jsonl").read_bytes()
    flags = distant.Labelers.from_args(dicts=[SAMPLE / "dict.tsv"], stopwords=SAMPLE / "stopwords.txt")
    assert flags.names == ["dictionary", "abbreviation"]
    with pytest.raises(DistantError, match="config file not found"):
        distant.Labelers.from_config(tmp_path / "missing.toml")


def test_evaluate_matches_the_cli_on_files_and_documents(tmp_path):
    labelers = distant.Labelers.from_config(ROOT / "configs" / "labelers_sample.toml")
    labeled = list(labelers.pipe(distant.read(SAMPLE / "gold.pubtator")))
    distant.write(labeled, tmp_path / "pseudo.pubtator", layer="pseudo")
    result = CliRunner().invoke(app, ["evaluate", str(SAMPLE / "gold.pubtator"), str(tmp_path / "pseudo.pubtator"),
                                      "--json"])
    assert result.exit_code == 0, result.output
    cli = json.loads(result.stdout)
    assert distant.evaluate(SAMPLE / "gold.pubtator", tmp_path / "pseudo.pubtator").as_dict() == cli
    assert distant.evaluate(distant.read(SAMPLE / "gold.pubtator"), labeled, pred_layer="pseudo").as_dict() == cli
    with pytest.raises(DistantError, match="no document has the span layer 'nope'"):
        distant.evaluate(labeled, labeled, pred_layer="nope")
