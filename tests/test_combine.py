"""[combine]: the labelers and the trained tagger combined by a label model, in training and in prediction."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from typer.testing import CliRunner

import distant
from distant.cli import app
from distant.combine import COMBINE_FILE, TAGGER, Combination, unseen
from distant.config.run import load_config
from distant.corpus import read_corpus
from distant.docs import Document, Span
from distant.errors import DistantError
from distant.evaluate import bootstrap_better, document_counts, evaluate
from distant.labelers.labelmodel import LabelModelAggregator
from tests.test_cli_pipeline import ok, one_line_error, run

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
CONFIG = ROOT / "configs" / "sample.toml"
QUICK = ["--set", "train.epochs=12", "--set", "pretrain.epochs=1", "--set", "model.charlm.hidden_size=16",
         "--set", "combine.method=hmm"]
runner = CliRunner()  # evaluate --json: its stdout alone


def one_line_error_of(*args) -> str:
    return one_line_error(run(*args))


@pytest.fixture(scope="module")
def combined(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("combine") / "sample"
    ok("train", CONFIG, "-o", run_dir, *QUICK)
    return run_dir


def micro(path: Path) -> dict:
    result = runner.invoke(app, ["evaluate", str(SAMPLE / "gold.pubtator"), str(path), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["micro"]


def test_training_saves_the_label_model_and_reports_both_scores(combined):
    report = json.loads((combined / "report.json").read_text())
    part = report["combine"]
    assert (combined / COMBINE_FILE).is_file() and part["kept"]
    assert part["sources"] == ["dictionary", "abbreviation", TAGGER]  # every labeler, then the tagger
    assert set(part["accuracies"]) == set(part["sources"]) and part["documents"] == 8
    assert "tagger" in report["test"] and report["test"]["micro"]["support"] == 66


def test_predict_gives_the_reported_test_scores_with_and_without_the_labelers(combined, tmp_path):
    report = json.loads((combined / "report.json").read_text())
    ok("predict", combined, SAMPLE / "gold.pubtator", "-o", tmp_path / "both.jsonl")
    ok("predict", combined, SAMPLE / "gold.pubtator", "-o", tmp_path / "alone.jsonl", "--tagger-only")
    for name, expected in (("both", report["test"]["micro"]), ("alone", report["test"]["tagger"])):
        got = micro(tmp_path / f"{name}.jsonl")
        assert (got["tp"], got["fp"], got["fn"]) == (expected["tp"], expected["fp"], expected["fn"]), name
    layers = {n for line in (tmp_path / "both.jsonl").read_text().splitlines() for n in json.loads(line)["spans"]}
    assert layers == {"gold", "pred"}  # the labelers' and the tagger's layers were only steps


def test_the_python_api_combines_as_predict_does(combined):
    text = "Cisplatin induced nephrotoxicity in rats given cisplatin and NAC."
    both, alone = distant.load(combined), distant.load(combined, combine=False)
    assert both.combination is not None and alone.combination is None
    doc = alone.pipe([Document("d", text)]).__next__()
    doc.layers[TAGGER] = doc.layers.pop("pred")
    both.combination.apply([doc], "pred")  # by hand: the tagger, then the labelers and the label model
    expected = [(s.start, s.end, s.label) for s in doc.spans("pred")]
    assert expected and [(e.start, e.end, e.type) for e in both(text)] == expected


def test_apply_keeps_an_input_layer_of_a_labelers_name():
    class Marker:
        name = "dictionary"

        def __call__(self, doc):
            doc.set_spans("dictionary", [Span(0, 9, "Chemical", "dictionary")])
            return doc

    model = LabelModelAggregator(["dictionary", TAGGER], iterations=1, types=["Chemical"], output="pred")
    doc = Document("d", "Cisplatin works.")
    doc.set_spans("dictionary", [Span(10, 15, "Chemical", "dictionary")])  # the input's own layer
    doc.set_spans(TAGGER, [Span(0, 9, "Chemical", TAGGER)])
    fit_doc = doc.copy()
    Marker()(fit_doc)
    model.fit([fit_doc])
    Combination([Marker()], model).apply([doc], "pred")
    assert [(s.start, s.end) for s in doc.spans("dictionary")] == [(10, 15)]
    assert TAGGER not in doc.layers and [(s.start, s.end, s.label) for s in doc.spans("pred")] == [(0, 9, "Chemical")]


def test_dev_in_the_training_text_cannot_drop_the_combination_and_the_fit_is_bounded(tmp_path):
    run_dir = tmp_path / "run"
    result = ok("train", CONFIG, "-o", run_dir, *QUICK, "--set", f"data.dev={SAMPLE / 'gold.pubtator'}",
                "--set", "combine.fit_documents=5")
    part = json.loads((run_dir / "report.json").read_text())["combine"]
    printed = json.loads(result.stdout.strip().splitlines()[-1])
    assert printed["combine"]["kept"] == part["kept"] and "test_tagger" in printed
    assert part["documents"] == 5  # of the sample's 8: the label model's fit is bounded
    # the 8 dev abstracts are the 8 training abstracts: scored for the report, not a check
    assert part["dev_checked"] == 0 and "dev_tagger_better" not in part and "dev_f1_tagger" in part
    assert part["kept"] and (run_dir / COMBINE_FILE).is_file()
    assert "unchecked" in result.stderr


def test_dev_documents_not_in_the_training_text_decide_by_bootstrap(tmp_path):
    train = tmp_path / "five.txt"
    train.write_text("".join((SAMPLE / "abstracts.txt").read_text().splitlines(keepends=True)[:5]))
    run_dir = tmp_path / "run"
    ok("train", CONFIG, "-o", run_dir, *QUICK, "--set", f'data.train=["{train}"]',
       "--set", f"data.dev={SAMPLE / 'gold.pubtator'}")
    part = json.loads((run_dir / "report.json").read_text())["combine"]
    assert part["dev_checked"] == 3 and 0.0 <= part["dev_tagger_better"] <= 1.0
    assert part["kept"] == (part["dev_tagger_better"] < 0.95)  # combine.confidence's default
    assert (run_dir / COMBINE_FILE).is_file() == part["kept"]


def test_unseen_finds_the_dev_documents_whose_text_is_not_trained_on(tmp_path):
    lines = (SAMPLE / "abstracts.txt").read_text().splitlines(keepends=True)
    train = tmp_path / "some.txt"
    train.write_text("".join(lines[i] for i in (0, 2, 3, 7)))
    config = load_config(CONFIG, [f'data.train=["{train}"]'])
    dev = read_corpus([SAMPLE / "gold.pubtator"])
    assert unseen(dev, config) == [1, 4, 5, 6]
    assert unseen(dev, load_config(CONFIG)) == []  # the shipped config trains on all eight


def test_bad_combine_settings_are_one_line_errors(tmp_path):
    line = one_line_error_of("train", CONFIG, "-o", tmp_path / "a", *QUICK, "--set", 'combine.sources=["dict"]')
    assert "combine.sources" in line and "'dict'" in line and "dictionary" in line
    line = one_line_error_of("train", CONFIG, "-o", tmp_path / "b", "--set", "combine.method=majority")
    assert "combine.method" in line and "hmm" in line
    line = one_line_error_of("train", CONFIG, "-o", tmp_path / "c", *QUICK, "--set", "combine.confidence=1")
    assert "combine.confidence" in line


def test_a_run_whose_dictionary_is_gone_says_so(combined, tmp_path):
    moved = tmp_path / "run"
    shutil.copytree(combined, moved)
    config = (moved / "config.toml").read_text()
    assert str(SAMPLE / "dict.tsv") in config
    (moved / "config.toml").write_text(config.replace(str(SAMPLE / "dict.tsv"), str(tmp_path / "gone.tsv")))
    line = one_line_error_of("predict", moved, SAMPLE / "gold.pubtator", "-o", tmp_path / "p.jsonl")
    assert "gone.tsv" in line
    ok("predict", moved, SAMPLE / "gold.pubtator", "-o", tmp_path / "p.jsonl", "--tagger-only")


def labeled(doc_id: str, mentions: list[tuple[int, str]], layer: str) -> Document:
    """A document whose ``layer`` has a three-character span of each (slot, type)."""
    return Document(doc_id, "x" * 40, layers={layer: [Span(4 * k, 4 * k + 3, t) for k, t in dict(mentions).items()]})


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.lists(st.tuples(st.integers(0, 5), st.sampled_from("AB"))),
                          st.lists(st.tuples(st.integers(0, 5), st.sampled_from("AB")))), min_size=1, max_size=6))
def test_document_counts_add_up_to_the_strict_micro_counts(pairs):
    gold = [labeled(f"d{i}", truth, "gold") for i, (truth, _) in enumerate(pairs)]
    pred = [labeled(f"d{i}", guess, "pred") for i, (_, guess) in enumerate(pairs)]
    counts = document_counts(gold, pred, "gold", "pred").sum(axis=0)
    micro = evaluate(gold, pred, gold_layer="gold", pred_layer="pred").micro
    assert tuple(counts) == (micro.tp, micro.fp, micro.fn)


def test_bootstrap_better_is_the_share_of_resamples_and_reproducible():
    perfect = np.array([[3, 0, 0]] * 20)
    poor = np.array([[1, 2, 2]] * 20)
    assert bootstrap_better(perfect, poor) == 1.0 and bootstrap_better(poor, perfect) == 0.0
    assert bootstrap_better(perfect, perfect) == 0.0  # "higher", never "as high"
    # better on one document of twenty, worse on another by less: dev's noise, not a verdict either way
    a, b = perfect.copy(), perfect.copy()
    a[0], b[1] = [1, 2, 2], [2, 1, 1]
    share = bootstrap_better(b, a)
    assert 0.3 < share < 0.95 and share == bootstrap_better(b, a)
    assert bootstrap_better(np.zeros((0, 3)), np.zeros((0, 3))) == 0.0
    with pytest.raises(ValueError):
        bootstrap_better(perfect, poor[:5])


# -- the input's own layers as sources (combine.inputs): labelling functions that came with the text ---------
INPUTS = ["dictionary", "abbreviation", "suffixes"]  # the layers configs/labelers_sample.toml writes


@pytest.fixture(scope="module")
def with_inputs(tmp_path_factory) -> Path:
    """A run with no labelers of its own: the tagger learns the pseudo layer of text that carries its labelling
    functions' layers (as a WRENCH file does), and the label model combines those layers and the tagger."""
    root = tmp_path_factory.mktemp("inputs")
    labelers = ROOT / "configs" / "labelers_sample.toml"
    ok("label", SAMPLE / "abstracts.txt", "-o", root / "train.jsonl", "--config", labelers)
    ok("label", SAMPLE / "gold.pubtator", "-o", root / "gold.jsonl", "--config", labelers)
    (root / "run.toml").write_text(
        '[data]\ntrain_labeled = ["train.jsonl"]\ndev = "gold.jsonl"\ntest = "gold.jsonl"\n'
        "[model]\nword_dim = 20\nhidden_size = 20\nuse_charlm = false\n"
        "[train]\nepochs = 6\nbatch_size = 4\nlr = 0.01\nseed = 13\n[debias]\ntarget = \"none\"\n"
        f"[combine]\nmethod = \"hmm\"\ninputs = {json.dumps(INPUTS)}\n")
    ok("train", root / "run.toml", "-o", root / "run")
    return root


def test_the_inputs_own_layers_are_sources_and_predict_needs_them(with_inputs, tmp_path):
    run_dir = with_inputs / "run"
    report = json.loads((run_dir / "report.json").read_text())
    assert report["combine"]["sources"] == [*INPUTS, TAGGER] and report["combine"]["kept"]
    assert set(report["combine"]["accuracies"]) == {*INPUTS, TAGGER}
    ok("predict", run_dir, with_inputs / "gold.jsonl", "-o", tmp_path / "both.jsonl")
    got, expected = micro(tmp_path / "both.jsonl"), report["test"]["micro"]
    assert (got["tp"], got["fp"], got["fn"]) == (expected["tp"], expected["fp"], expected["fn"])
    assert expected["f1"] > report["test"]["tagger"]["f1"]  # six epochs: the sources carry the combination
    for line in (tmp_path / "both.jsonl").read_text().splitlines():  # the input's layers stay as they were
        assert set(INPUTS) <= set(json.loads(line)["spans"])
    # text without them would be combined as if every source had abstained on it: an error instead
    line = one_line_error_of("predict", run_dir, SAMPLE / "gold.pubtator", "-o", tmp_path / "p.jsonl")
    assert "'dictionary'" in line and "combine.inputs" in line and "--tagger-only" in line
    ok("predict", run_dir, SAMPLE / "gold.pubtator", "-o", tmp_path / "p.jsonl", "--tagger-only")
    with pytest.raises(DistantError, match="combine.inputs"):
        distant.load(run_dir)("Cisplatin induced nephrotoxicity.")


def test_bad_combine_inputs_are_one_line_errors(with_inputs, tmp_path):
    config = with_inputs / "run.toml"
    line = one_line_error_of("train", config, "-o", tmp_path / "a", "--set", 'combine.inputs=["gold"]')
    assert "combine.inputs" in line and "'gold'" in line
    line = one_line_error_of("train", config, "-o", tmp_path / "b", "--set", 'combine.sources=["dict"]')
    assert "combine.sources" in line and "'dict'" in line and "suffixes" in line
    line = one_line_error_of("train", CONFIG, "-o", tmp_path / "c", *QUICK, "--set", 'combine.inputs=["dictionary"]')
    assert "combine.inputs" in line and "dictionary" in line and "labeler" in line
    line = one_line_error_of("train", config, "-o", tmp_path / "d", "--set", 'combine.inputs=["dictionary", "lf9"]')
    assert "'lf9'" in line and "train.jsonl" in line  # the training text lacks it: named with its file


def test_the_spacy_tagger_reads_the_input_layers_from_span_groups(with_inputs):
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("distant_labelers", config={"config": str(ROOT / "configs" / "labelers_sample.toml")})
    nlp.add_pipe("distant_tagger", config={"model": str(with_inputs / "run")})
    gold = read_corpus([with_inputs / "gold.jsonl"])
    tagger = distant.load(with_inputs / "run")
    for doc in gold[:3]:
        expected = [(s.start, s.end, s.label) for s in tagger(doc.copy(layers=INPUTS)).spans("pred")]
        assert expected and [(e.start_char, e.end_char, e.label_) for e in nlp(doc.text).ents] == expected
    bare = spacy.blank("en")
    bare.add_pipe("distant_tagger", config={"model": str(with_inputs / "run")})
    with pytest.raises(DistantError, match="combine.inputs"):
        bare(gold[0].text)
