"""Document model, tag schemes, tokenizer, config mapping and strict evaluation."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st
from seqeval.metrics import classification_report
from seqeval.scheme import IOB2

from distant.config import apply_overrides, build, dump_toml, load_toml, to_dict
from distant.docs import Document, Span
from distant.errors import DistantError
from distant.evaluate import evaluate
from distant.tags import TagError, spans_to_tags, split_tag, tags_to_spans
from distant.tokenize import ABBREVIATIONS, default_tokenizer


# -- tokenizer ------------------------------------------------------------------------------------------------
def test_tokens_are_exact_character_offsets():
    text = "Cisplatin-induced nephrotoxicity, e.g. i.v. 5-FU/LV (0.5 mg/kg).\nNew  line"
    tokens, sentences = default_tokenizer().tokenize(text)
    words = [text[s:e] for s, e in tokens]
    assert words[:4] == ["Cisplatin", "-", "induced", "nephrotoxicity"]
    assert "e.g." in words and "i.v." in words and "0.5" in words
    assert all(text[s:e].strip() == text[s:e] and s < e for s, e in tokens)
    # every non-space character is inside exactly one token
    covered = "".join(text[s:e] for s, e in tokens)
    assert covered == "".join(text.split())
    assert [words[a] for a, _ in sentences] == ["Cisplatin", "New"]


def test_dictionary_spacing_does_not_matter():
    tok = default_tokenizer()
    assert tok.words("( R)-alpha - methylhistamine") == tok.words("(R)-alpha-methylhistamine")


def test_sentence_breaks_after_title_and_closers():
    text = 'Title without a period Abstract says "done." Next one (see above.) Last'
    tokens, sentences = default_tokenizer().tokenize(text, breaks=[23])
    firsts = [text[tokens[a][0]:tokens[a][1]] for a, _ in sentences]
    assert firsts == ["Title", "Abstract", "Next", "Last"]


def _reference_sentences(text, tokens, breaks=()):
    """The sentence rules written as a walk over every token (the splitter visits only the candidates)."""
    newline_before = [i > 0 and "\n" in text[tokens[i - 1][1]:s] or i == 0 and "\n" in text[:s]
                      for i, (s, _) in enumerate(tokens)]
    sentences, first, ended = [], 0, False
    for i, (s, e) in enumerate(tokens):
        tok = text[s:e]
        closer = tok in {")", "]", "}", '"', "'", "\u201d", "\u2019"}
        if i > first and (newline_before[i] or s in set(breaks) or (ended and not closer)):
            sentences.append((first, i))
            first, ended = i, False
        if tok in {".", "!", "?"}:
            p = tokens[i - 1] if i > 0 else None
            initial = (tok == "." and p is not None and p[1] == s and p[1] - p[0] == 1 and text[p[0]].isupper()
                       and (p[0] == 0 or not text[p[0] - 1].isalnum()))
            ended = not initial
    if first < len(tokens):
        sentences.append((first, len(tokens)))
    return sentences


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["a", "T", "J", "Bx", "1", ".", "!", "?", ")", "]", '"', "'", "\u201d", "(", " ",
                                 "\n", "\n\n", "e.g.", "0.5", "al."]), max_size=30).map("".join),
       st.lists(st.integers(0, 40), max_size=3))
def test_sentences_follow_the_rules_token_by_token(text, breaks):
    tokens, sentences = default_tokenizer().tokenize(text, breaks)
    assert sentences == _reference_sentences(text, tokens, breaks)


def test_sentences_follow_the_rules_token_by_token_on_bc5cdr(data_dir):
    from distant.formats import read_documents

    docs = read_documents(data_dir / "BC5CDR/original/CDR_TestSet.PubTator.txt", "pubtator")
    tokenizer = default_tokenizer()
    for d in docs:
        tokens, sentences = tokenizer.tokenize(d.text, d.meta.get("breaks", ()))
        assert sentences == _reference_sentences(d.text, tokens, d.meta.get("breaks", ()))


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80))
def test_tokenizer_offsets_property(text):
    tokens, sentences = default_tokenizer().tokenize(text)
    previous_end = 0
    for s, e in tokens:
        assert previous_end <= s < e <= len(text)
        previous_end = e
    assert "".join(text[s:e] for s, e in tokens) == "".join(text.split())
    assert sum(b - a for a, b in sentences) == len(tokens)


def _spacy_reference_tokenizer():
    """The rules ``distant.tokenize`` implements, as a blank spaCy English tokenizer (the reference)."""
    import re

    import spacy
    from spacy.symbols import ORTH

    punct = r"[^\w\s]|_"
    tokenizer = spacy.blank("en").tokenizer
    tokenizer.prefix_search = re.compile(rf"^(?:{punct})").search
    tokenizer.suffix_search = re.compile(rf"(?:{punct})$").search
    tokenizer.infix_finditer = re.compile(r"(?<!\d)[.,](?=\d)|(?<=\d)[.,](?!\d)|(?<!\d)[.,](?!\d)|[^\w\s.,]|_").finditer
    tokenizer.token_match = tokenizer.url_match = None
    tokenizer.rules = {}
    for abbr in ABBREVIATIONS:
        tokenizer.add_special_case(abbr, [{ORTH: abbr}])
    return lambda text: [(t.idx, t.idx + len(t)) for t in tokenizer(text) if not t.is_space]


_SPACY_REFERENCE = _spacy_reference_tokenizer()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["a", "Bx", "1", "2", ".", ",", "-", "(", ")", "/", "_", " ", "\n", "\t", "\u00a0",
                                 "\u03b1", "\u00b5", "'", ";"] + list(ABBREVIATIONS)), max_size=25).map("".join))
def test_tokenizer_equals_the_spacy_rules_it_implements(text):
    assert default_tokenizer().tokenize(text)[0] == _SPACY_REFERENCE(text)


def test_tokenizer_equals_the_spacy_rules_on_bc5cdr(data_dir):
    from distant.formats import read_documents

    docs = read_documents(data_dir / "BC5CDR/original/CDR_TestSet.PubTator.txt", "pubtator")
    tokenizer = default_tokenizer()
    assert all(tokenizer.tokenize(d.text)[0] == _SPACY_REFERENCE(d.text) for d in docs)


# -- documents --------------------------------------------------------------------------------------------
def test_token_range_and_span_validation():
    doc = Document("d", "aspirin and heart failure")
    default_tokenizer()(doc)
    assert doc.token_range(12, 25) == (2, 4)
    assert doc.token_range(13, 25) is None
    assert doc.covering_token_range(13, 20) == (2, 4)
    with pytest.raises(ValueError, match="outside the text"):
        doc.set_spans("gold", [Span(20, 40, "Disease")])


# -- tags ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("scheme", ["IOB2", "IOB1", "IOBES", "IO"])
def test_spans_tags_round_trip(scheme):
    spans = [(0, 2, "A"), (2, 3, "A"), (4, 5, "B")] if scheme != "IO" else [(0, 2, "A"), (4, 5, "B")]
    tags = spans_to_tags(6, spans, scheme)
    assert tags_to_spans(tags, scheme) == spans


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 3), st.sampled_from("AB"), st.booleans()), max_size=8),
       st.sampled_from(["IOB2", "IOB1", "IOBES"]))
def test_spans_tags_round_trip_property(pieces, scheme):
    spans, pos = [], 0
    for length, label, gap in pieces:
        pos += gap
        spans.append((pos, pos + length, label))
        pos += length
    assert tags_to_spans(spans_to_tags(pos + 1, spans, scheme), scheme) == spans


def test_malformed_tags_are_errors():
    for bad in ["I-", "X-Foo", "B", "S-Chem"]:
        with pytest.raises(TagError):
            split_tag(bad, "IOB2")
    assert split_tag("L-Chem", "IOBES") == ("E", "Chem")


# -- evaluation vs seqeval ----------------------------------------------------------------------------------
def _doc_from_sentences(doc_id: str, sentences: list[list[str]], layer: str, tags: list[list[str]]) -> Document:
    tokens, sents, spans, offset = [], [], [], 0
    for words, sent_tags in zip(sentences, tags):
        first = len(tokens)
        for w in words:
            tokens.append((offset, offset + len(w)))
            offset += len(w) + 1
        sents.append((first, len(tokens)))
        for i, j, label in tags_to_spans(sent_tags):
            spans.append(Span(tokens[first + i][0], tokens[first + j - 1][1], label))
    text = " ".join(w for words in sentences for w in words)
    doc = Document(doc_id, text)
    doc.set_tokens(tokens, sents)
    doc.set_spans(layer, spans)
    return doc


@pytest.mark.parametrize("seed", range(20))
def test_evaluate_equals_seqeval_strict(seed):
    rng = random.Random(seed)
    tagset = ["O", "O", "O", "B-Chem", "I-Chem", "B-Dis", "I-Dis", "I-Gene"]
    sentences = [[f"w{rng.randrange(50)}" for _ in range(rng.randint(1, 12))] for _ in range(rng.randint(1, 15))]
    gold_tags = [[rng.choice(tagset) for _ in s] for s in sentences]
    pred_tags = [[t if rng.random() < 0.7 else rng.choice(tagset) for t in s] for s in gold_tags]
    gold = _doc_from_sentences("d", sentences, "gold", gold_tags)
    pred = _doc_from_sentences("d", sentences, "pred", pred_tags)
    ours = evaluate([gold], [pred]).as_dict()
    report = classification_report(gold_tags, pred_tags, mode="strict", scheme=IOB2, output_dict=True,
                                   zero_division=0)
    assert ours["micro"]["support"] == report["micro avg"]["support"]
    for key in ("precision", "recall", "f1"):
        assert ours["micro"][key] == pytest.approx(report["micro avg"][f"{key}-score" if key == "f1" else key])
    for label, scores in ours["per_type"].items():
        if label in report:
            assert scores["f1"] == pytest.approx(report[label]["f1-score"])
            assert scores["support"] == report[label]["support"]


def test_evaluate_counts_errors_and_rejects_mismatched_documents():
    gold = Document("d1", "aspirin causes ulcers")
    gold.set_spans("gold", [Span(0, 7, "Chemical"), Span(15, 21, "Disease")])
    pred = Document("d1", gold.text)
    pred.set_spans("pred", [Span(0, 7, "Disease"), Span(15, 21, "Disease")])
    result = evaluate([gold], [pred])
    assert (result.micro.tp, result.micro.fp, result.micro.fn) == (1, 1, 1)
    assert {e.category for e in result.errors} == {"type"}
    with pytest.raises(DistantError, match="text differs"):
        evaluate([gold], [Document("d1", "aspirin causes ulcer.")])
    with pytest.raises(DistantError, match="no prediction"):
        evaluate([gold], [Document("d2", gold.text)])


# -- config -------------------------------------------------------------------------------------------------
@dataclass
class Inner:
    size: int = 1
    path: Path | None = None


@dataclass
class Outer:
    inner: Inner = field(default_factory=Inner)
    rate: float = 0.1
    names: list[str] = field(default_factory=list)


def test_config_unknown_key_names_file_key_and_closest(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[inner]\nsise = 3\n")
    with pytest.raises(DistantError) as e:
        build(Outer, load_toml(cfg), path=cfg)
    assert "c.toml" in str(e.value) and "inner.sise" in str(e.value) and "inner.size" in str(e.value)


def test_config_types_overrides_and_dump(tmp_path):
    data = apply_overrides({"inner": {"size": 2}}, ["rate=0.5", "names=['a','b']"])
    data["inner"]["path"] = "data/x.txt"  # as written in a config file: relative to the file's folder
    obj = build(Outer, data, base=tmp_path)
    assert obj.inner.path == tmp_path / "data/x.txt" and obj.rate == 0.5 and obj.names == ["a", "b"]
    # given with --set: relative to the current folder, where the user typed it
    on_command_line = build(Outer, apply_overrides({}, ["inner.path=runs/lm.pt"]), base=tmp_path)
    assert on_command_line.inner.path == Path.cwd() / "runs/lm.pt"
    with pytest.raises(DistantError, match="expected int"):
        build(Outer, {"inner": {"size": "big"}})
    cfg = tmp_path / "again.toml"
    cfg.write_text(dump_toml(to_dict(obj)))
    assert build(Outer, load_toml(cfg)) == obj


def test_config_syntax_error_names_line(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("a = 1\nb = = 2\n")
    with pytest.raises(DistantError) as e:
        load_toml(cfg)
    assert "bad.toml:2" in str(e.value)
