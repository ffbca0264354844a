"""The spaCy components: registered by entry point, the spans of distant predict, alignment counted, DocBin."""

from __future__ import annotations

import json
import logging
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import spacy
from spacy.tokens import Doc, DocBin
from typer.testing import CliRunner

import distant
from distant.cli import app
from distant.errors import DistantError

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
LABELERS = ROOT / "configs" / "labelers_sample.toml"


def _cli_predictions(run_dir: Path, tmp_path: Path) -> tuple[list, list]:
    out = tmp_path / "pred.jsonl"
    result = CliRunner().invoke(app, ["predict", str(run_dir), str(SAMPLE / "gold.pubtator"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    return [line["text"] for line in lines], [line["spans"]["pred"] for line in lines]


class WhitespaceTokenizer:
    """A tokenizer that differs from the model's: splits on spaces only ("(TD)" is one token)."""

    def __init__(self, vocab):
        self.vocab = vocab

    def __call__(self, text):
        words = text.split(" ")
        return Doc(self.vocab, words=words, spaces=[True] * (len(words) - 1) + [False])


def test_the_factories_are_registered_by_entry_point():
    names = {ep.name: ep.value for ep in entry_points(group="spacy_factories")}
    assert names["distant_tagger"] == "distant.spacy_pipes:make_tagger"
    assert names["distant_labelers"] == "distant.spacy_pipes:make_labelers"


def test_the_tagger_pipe_gives_the_spans_of_distant_predict(sample_run, tmp_path):
    texts, expected = _cli_predictions(sample_run, tmp_path)
    assert sum(map(len, expected)) > 0
    nlp = spacy.blank("en")
    pipe = nlp.add_pipe("distant_tagger", config={"model": str(sample_run)})
    docs = list(nlp.pipe(texts, batch_size=3))
    for doc, spans in zip(docs, expected):
        assert [(e.start_char, e.end_char, e.label_, e._.distant_confidence) for e in doc.ents] == \
            [(s["start"], s["end"], s["label"], s["score"]) for s in spans]
        assert doc._.distant_unaligned == 0
    assert pipe.counts["unaligned"] == 0 and pipe.counts["written"] == sum(map(len, expected))
    gold = distant.read(SAMPLE / "gold.pubtator")
    pred = [distant.Document(g.id, d.text) for g, d in zip(gold, docs)]
    for p, d in zip(pred, docs):
        p.set_spans("pred", [distant.Span(e.start_char, e.end_char, e.label_) for e in d.ents])
    report = json.loads((sample_run / "report.json").read_text())
    assert distant.evaluate(gold, pred).micro.f1 == pytest.approx(report["test"]["micro"]["f1"])


def test_the_tagger_pipe_groups_documents_as_distant_predict_whatever_spacys_batch_size(sample_run, monkeypatch):
    from distant import predict

    parts = []
    encode = predict.encode_documents

    def recording(model, docs, **kwargs):
        parts.append(len(docs))
        return encode(model, docs, **kwargs)

    monkeypatch.setattr(predict, "DOCS_PER_PART", 4)
    monkeypatch.setattr(predict, "encode_documents", recording)
    texts = (SAMPLE.joinpath("abstracts.txt").read_text().splitlines() * 2)[:10]
    nlp = spacy.blank("en")
    nlp.add_pipe("distant_tagger", config={"model": str(sample_run)})
    docs = list(nlp.pipe(texts, batch_size=1))
    assert parts == [4, 4, 2]  # parts of DOCS_PER_PART, not spaCy's batches of 1
    assert [d.text for d in docs] == texts  # in input order, each doc once


def test_a_span_group_instead_of_the_entities(sample_run):
    nlp = spacy.blank("en")
    nlp.add_pipe("distant_tagger", config={"model": str(sample_run), "spans_key": "distant"})
    text = SAMPLE.joinpath("abstracts.txt").read_text().splitlines()[1]
    doc = nlp(text)
    assert not doc.ents and len(doc.spans["distant"]) > 0
    assert all(0 < s._.distant_confidence <= 1 for s in doc.spans["distant"])


def test_other_tokens_are_aligned_by_characters_and_the_rest_counted(sample_run, caplog):
    texts = SAMPLE.joinpath("abstracts.txt").read_text().splitlines()
    tagger = distant.load(sample_run, device="cpu")
    predicted = [tagger(t) for t in texts]
    results = {}
    for mode in ("split", "strict", "expand", "contract"):
        nlp = spacy.blank("en")
        nlp.tokenizer = WhitespaceTokenizer(nlp.vocab)
        pipe = nlp.add_pipe("distant_tagger", config={"model": str(sample_run), "alignment_mode": mode})
        with caplog.at_level(logging.WARNING):
            docs = list(nlp.pipe(texts))
        results[mode] = (pipe.counts, docs)
        # every predicted span is written or counted, none lost without a word
        assert pipe.counts["written"] + pipe.counts["unaligned"] == sum(map(len, predicted))
        assert sum(d._.distant_unaligned for d in docs) == pipe.counts["unaligned"]
    split, strict, expand = results["split"][0], results["strict"][0], results["expand"][0]
    assert split["unaligned"] == 0 and split["split_tokens"] > 0 and split["realigned"] == 0
    for doc, entities in zip(results["split"][1], predicted):  # split tokens: the exact spans, the same text
        assert [(e.start_char, e.end_char, e.label_) for e in doc.ents] == [(e.start, e.end, e.type) for e in entities]
    assert [d.text for d in results["split"][1]] == texts
    assert strict["unaligned"] > 0 and strict["realigned"] == 0  # "(TD)" and "dyskinesia," are single tokens here
    assert expand["unaligned"] < strict["unaligned"] and expand["realigned"] > 0
    assert "fit no spaCy token range" in caplog.text
    exact = {(e.start, e.end) for p in predicted for e in p}
    for doc in results["expand"][1]:
        for ent in doc.ents:  # expanded spans cover a predicted one
            assert any(ent.start_char <= s and e <= ent.end_char for s, e in exact)


def test_confidences_survive_a_docbin_round_trip(sample_run, tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("distant_tagger", config={"model": str(sample_run)})
    docs = list(nlp.pipe(SAMPLE.joinpath("abstracts.txt").read_text().splitlines()))
    before = [[(e.start_char, e.end_char, e.label_, e._.distant_confidence) for e in d.ents] for d in docs]
    assert any(before)
    DocBin(docs=docs, store_user_data=True).to_disk(tmp_path / "x.spacy")
    back = list(DocBin().from_disk(tmp_path / "x.spacy").get_docs(spacy.blank("en").vocab))
    assert [[(e.start_char, e.end_char, e.label_, e._.distant_confidence) for e in d.ents] for d in back] == before


def test_distants_docbin_writer_sets_the_confidence_extension(sample_run, tmp_path):
    import distant.spacy_pipes

    tagged = list(distant.load(sample_run, device="cpu").pipe(distant.read(SAMPLE / "gold.pubtator")))
    distant.write(tagged, tmp_path / "pred.spacy")
    back = list(DocBin().from_disk(tmp_path / "pred.spacy").get_docs(spacy.blank("en").vocab))
    for doc, sdoc in zip(tagged, back):
        assert [(e.start_char, e.end_char, e._.distant_confidence) for e in sdoc.ents] == \
            [(s.start, s.end, s.score) for s in doc.spans("pred")]
    assert [d.layers for d in distant.read(tmp_path / "pred.spacy")] == [d.layers for d in tagged]


def test_the_labelers_pipe_writes_one_group_per_labeler():
    nlp = spacy.blank("en")
    pipe = nlp.add_pipe("distant_labelers", config={"config": str(LABELERS)})
    texts = SAMPLE.joinpath("abstracts.txt").read_text().splitlines()
    labelers = distant.Labelers.from_config(LABELERS)
    for doc, ours in zip(nlp.pipe(texts, batch_size=2), labelers.pipe(distant.Document(str(k), t)
                                                                     for k, t in enumerate(texts))):
        assert set(doc.spans) == {"dictionary", "abbreviation", "suffixes", "pseudo"}
        for name in doc.spans:
            assert [(s.start_char, s.end_char, s.label_) for s in doc.spans[name]] == \
                [(s.start, s.end, s.label) for s in ours.spans(name)]
    assert pipe.counts["unaligned"] == 0 and pipe.counts["written"] > 0


def test_a_missing_model_or_config_is_a_distant_error(tmp_path):
    nlp = spacy.blank("en")
    with pytest.raises(DistantError, match="no trained model found"):
        nlp.add_pipe("distant_tagger", config={"model": str(tmp_path)})
    with pytest.raises(DistantError, match='expected config=\\{"model": RUN_DIR\\}'):
        nlp.add_pipe("distant_tagger")
    with pytest.raises(DistantError, match="config file not found"):
        nlp.add_pipe("distant_labelers", config={"config": str(tmp_path / "x.toml")})
    with pytest.raises(DistantError, match="alignment_mode: expected one of split, strict, expand, contract"):
        nlp.add_pipe("distant_labelers", config={"config": str(LABELERS), "alignment_mode": "nearest"})
