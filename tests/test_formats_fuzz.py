"""A fuzzer over every reader and writer.

Round trips: random documents within what each format holds are written and read back unchanged (what the
format holds of them); what a format cannot hold is refused with a DistantError or counted in a warning.
Bytes: random bytes and lines (CR, BOM, surrogate escapes, huge and negative numbers, deep nesting) fed to
every reader raise nothing but DistantError, and what they return every writer can write.

Each property runs a bounded number of examples; ``DISTANT_FUZZ_EXAMPLES=2000`` runs a longer fuzz by hand.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from distant.docs import O, UNKNOWN, Document, Span
from distant.errors import DistantError
from distant.formats import read_documents, write_documents
from distant.formats.validate import check_document
from distant.tokenize import default_tokenizer
from test_formats import doc_with_tokens

EXAMPLES = int(os.environ.get("DISTANT_FUZZ_EXAMPLES", "30"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
SUFFIX = {"text": ".txt", "pubtator": ".pubtator", "conll": ".conll", "jsonl": ".jsonl", "ck": ".ck",
          "docbin": ".spacy"}

NO_SURROGATE = st.characters(blacklist_categories=("Cs",))
ODD_SPACE = "\t\x0b\x0c\x1c\x85\xa0\u2028\u3000\ufeff "
LINE_CHARS = st.one_of(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r\t"),
                       st.sampled_from(ODD_SPACE.replace("\t", "")))
LABEL_CHARS = st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"))
LABEL = st.one_of(st.sampled_from(("Chemical", "Disease", "Chemical|Disease", "A-B", "B-X", "x y", "Ünï")),
                  st.text(LABEL_CHARS, min_size=1, max_size=5).filter(lambda s: s == s.strip() and s not in (O, UNKNOWN)))
WORD = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp", "Zs"), blacklist_characters="\ufeff\x85"),
               min_size=1, max_size=6).filter(lambda w: w == w.strip() and not w.startswith("-DOCSTART-"))


def warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def span_keys(spans) -> list[tuple]:
    return sorted(((s.start, s.end, s.label, s.kb_id) for s in spans), key=lambda k: (*k[:3], k[3] or ""))


@st.composite
def char_spans(draw, text: str, labels=LABEL, max_spans: int = 5) -> list[Span]:
    """Random (possibly overlapping) spans of ``text``."""
    spans = []
    for _ in range(draw(st.integers(0, max_spans)) if text else 0):
        start = draw(st.integers(0, len(text) - 1))
        spans.append(Span(start, draw(st.integers(start + 1, len(text))), draw(labels),
                          draw(st.sampled_from(("", "gold", "dict"))), draw(st.none() | st.text(NO_SURROGATE, max_size=4)),
                          draw(st.none() | st.floats(0, 1))))
    return sorted(spans, key=Span.key)


# -- JSONL and DocBin: everything ----------------------------------------------------------------------------
@st.composite
def any_documents(draw, doc_id: str) -> Document:
    text = draw(st.text(st.one_of(NO_SURROGATE, st.sampled_from(ODD_SPACE + "\n\r")), max_size=30))
    title = draw(st.integers(0, len(text)))
    meta = draw(st.fixed_dictionaries({}, optional={
        "title_length": st.just(title), "breaks": st.lists(st.integers(0, len(text)), max_size=2),
        "relations": st.lists(st.lists(st.text(NO_SURROGATE, max_size=3), min_size=1, max_size=3), max_size=2),
        "note": st.recursive(st.none() | st.booleans() | st.integers() | st.text(NO_SURROGATE, max_size=3),
                             lambda inner: st.lists(inner, max_size=2)
                             | st.dictionaries(st.text(NO_SURROGATE, max_size=2), inner, max_size=2), max_leaves=6),
    }))
    doc = Document(doc_id, text, meta=meta)
    if text and draw(st.booleans()):
        cuts = sorted(draw(st.sets(st.integers(0, len(text)), min_size=2, max_size=10)))
        tokens = list(zip(cuts[::2], cuts[1::2]))
        if tokens:
            k = draw(st.integers(1, len(tokens)))
            doc.set_tokens(tokens, [(0, k)] + ([(k, len(tokens))] if k < len(tokens) else []))
        else:
            doc.set_tokens([], [])
    labels = st.one_of(LABEL, st.just(O), st.just(UNKNOWN))
    for layer in draw(st.lists(st.sampled_from(["gold", "pred", "dict"]), unique=True, max_size=3)):
        doc.layers[layer] = draw(char_spans(text, labels))
    return doc


def documents(strategy, max_size: int = 3):
    return st.integers(0, max_size).flatmap(lambda n: st.tuples(*(strategy(f"d{k}") for k in range(n))))


def fields(doc: Document) -> tuple:
    return doc.id, doc.text, doc.tokens, doc.sentences, doc.layers, doc.meta


@FUZZ
@given(docs=documents(any_documents).filter(len))
def test_jsonl_round_trip_keeps_everything(tmp_path, docs):
    write_documents(docs, tmp_path / "f.jsonl")
    assert [fields(d) for d in read_documents(tmp_path / "f.jsonl")] == [fields(d) for d in docs]


@settings(FUZZ, max_examples=max(10, EXAMPLES * 2 // 3))
@given(docs=documents(any_documents).filter(len))
def test_docbin_round_trip_keeps_everything(tmp_path, docs):
    write_documents(docs, tmp_path / "f.spacy", layer="gold")
    tokenizer = default_tokenizer()
    expected = [fields(d if d.is_tokenized else tokenizer(d.copy())) for d in docs]  # spaCy needs tokens
    assert [fields(d) for d in read_documents(tmp_path / "f.spacy")] == expected


# -- PubTator: one line of title, one of abstract, mentions, relations ----------------------------------------
@st.composite
def pubtator_documents(draw, doc_id: str) -> Document:
    title = draw(st.text(LINE_CHARS, max_size=15))
    abstract = draw(st.text(LINE_CHARS, max_size=15))
    layout = draw(st.sampled_from(["abstract", "empty abstract", "no abstract line", "plain text"]))
    if layout == "abstract" and abstract:
        text, meta = f"{title} {abstract}", {"title_length": len(title), "breaks": [len(title) + 1]}
    elif layout == "no abstract line":
        text, meta = title, {"title_length": len(title), "abstract_line": False}
    elif layout == "plain text":  # a document from elsewhere: the writer makes its text the title
        text, meta = f"{title} {abstract}", {}
    else:
        text, meta = title, {"title_length": len(title)}
    doc = Document(draw(st.from_regex(r"[0-9A-Za-z_.:-]{1,8}", fullmatch=True)) + doc_id, text, meta=meta)
    spans = draw(char_spans(text, st.one_of(LABEL, st.just(O), st.just(UNKNOWN))))
    kb = st.none() | st.from_regex(r"[A-Za-z0-9:|-]{1,6}", fullmatch=True)
    doc.layers["gold"] = [s.with_(kb_id=draw(kb), source="gold", score=None) for s in spans]
    if draw(st.booleans()):
        meta["relations"] = [["CID", "D1", draw(st.from_regex(r"[A-Z][0-9]{1,3}", fullmatch=True))]]
    mentions = [s for s in doc.layers["gold"] if s.label not in (O, UNKNOWN)]
    if mentions and draw(st.booleans()):
        s = mentions[0]
        meta["mention_columns"] = {"gold": [[s.start, s.end, s.label, [draw(st.from_regex(r"[a-z|]{1,3}", fullmatch=True))]]]}
    return doc


@FUZZ
@given(docs=documents(pubtator_documents).filter(len))
def test_pubtator_round_trip_keeps_text_mentions_and_relations(tmp_path, caplog, docs):
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        write_documents(docs, tmp_path / "f.pubtator", layer="gold")
    unknown = sum(s.label == UNKNOWN for d in docs for s in d.spans("gold"))
    assert bool(unknown) == any(f"{unknown} spans labeled '-'" in m for m in warnings(caplog))
    again = read_documents(tmp_path / "f.pubtator", layer="gold", strict=True)  # our writer has no quirks
    assert [(d.id, d.text, d.meta.get("relations")) for d in again] == \
           [(d.id, d.text, d.meta.get("relations")) for d in docs]
    assert [span_keys(d.spans("gold")) for d in again] == \
           [span_keys(s for s in d.spans("gold") if s.label not in (O, UNKNOWN)) for d in docs]
    write_documents(again, tmp_path / "g.pubtator", layer="gold")
    assert (tmp_path / "g.pubtator").read_bytes() == (tmp_path / "f.pubtator").read_bytes()


# -- CoNLL: words, sentences and token spans ------------------------------------------------------------------
@st.composite
def conll_documents(draw, doc_id: str) -> Document:
    sentences = draw(st.lists(st.lists(WORD, min_size=1, max_size=6), max_size=3))
    spans, first = [], 0
    for words in sentences:  # non-overlapping token ranges within each sentence
        i = first
        while i < first + len(words):
            if draw(st.booleans()):
                j = draw(st.integers(i + 1, min(first + len(words), i + 3)))
                spans.append((i, j, draw(st.one_of(LABEL, st.sampled_from((O, UNKNOWN, "Chemical", "Chemical"))))))
                i = j
            else:
                i += 1
        first += len(words)
    doc = doc_with_tokens(doc_id, sentences, spans)
    if doc.tokens and draw(st.booleans()):
        doc.meta["columns"] = [[draw(st.from_regex(r"[A-Z]{1,3}", fullmatch=True))] for _ in doc.tokens]
    return doc


def token_spans(doc: Document, merge: set[str] | None) -> list[tuple[int, int, str]]:
    """The non-O token spans of a document, touching ones merged when their label is in ``merge``."""
    out: list[tuple[int, int, str]] = []
    for s in doc.spans("gold"):
        if s.label == O:
            continue
        i, j = doc.token_range(s.start, s.end)
        if out and out[-1][1] == i and out[-1][2] == s.label and s.label in merge and \
                doc.sentence_of_token()[i] == doc.sentence_of_token()[i - 1]:
            out[-1] = (out[-1][0], j, s.label)
        else:
            out.append((i, j, s.label))
    return out


def sentence_words(doc: Document) -> list[list[str]]:
    words = doc.words()
    return [words[a:b] for a, b in doc.sentences or []]


@FUZZ
@given(docs=documents(conll_documents).filter(len), scheme=st.sampled_from(("IOB2", "IOB1", "IOBES", "IO")),
       given_scheme=st.booleans())
def test_conll_round_trip_keeps_words_sentences_and_entities(tmp_path, caplog, docs, scheme, given_scheme):
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        write_documents(docs, tmp_path / "f.conll", layer="gold", scheme=scheme)
    labels = {s.label for d in docs for s in d.spans("gold")}
    merged = {UNKNOWN} | (labels if scheme == "IO" else set())
    pairs = sum(len(token_spans(d, set())) - len(token_spans(d, merged - {UNKNOWN})) for d in docs)
    assert bool(pairs) == any(f"{pairs} pairs of adjacent entities" in m for m in warnings(caplog))
    again = read_documents(tmp_path / "f.conll", layer="gold", scheme=scheme if given_scheme else None, strict=True)
    padded = any("columns" in d.meta for d in docs)  # one column count per file: "_" where a document has none
    assert [(d.id, sentence_words(d), d.meta) for d in again] == \
           [(d.id, sentence_words(d), d.meta or ({"columns": [["_"]] * len(d.tokens)} if padded and d.tokens else {}))
            for d in docs]
    assert [token_spans(d, set()) for d in again] == [token_spans(d, merged) for d in docs]


@FUZZ
@given(doc=conll_documents("d"), data=st.data())
def test_conll_writer_counts_spans_that_tags_cannot_hold(tmp_path, caplog, doc, data):
    """Spans off token boundaries, across sentences or overlapping: each is written or counted."""
    assume(doc.text)
    extra = data.draw(char_spans(doc.text, st.just("Disease"), max_spans=3))
    doc.layers["gold"] = sorted([s for s in doc.layers["gold"] if s.label != UNKNOWN] + extra, key=Span.key)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        write_documents([doc], tmp_path / "f.conll", layer="gold")
    written = len(read_documents(tmp_path / "f.conll", layer="gold")[0].spans("gold"))
    lost = re.findall(r"(\d+) of (\d+) spans in layer 'gold' not written", " ".join(warnings(caplog)))
    assert written + sum(int(n) for n, _ in lost) == len([s for s in doc.spans("gold") if s.label != O])


# -- plain text ---------------------------------------------------------------------------------------------
@FUZZ
@given(texts=st.lists(st.text(LINE_CHARS, min_size=1, max_size=20).filter(str.strip), min_size=1, max_size=4),
       n_spans=st.integers(0, 2))
def test_text_file_round_trip_and_spans_counted(tmp_path, caplog, texts, n_spans):
    assume(not texts[0].startswith("\ufeff"))
    docs = [Document(f"t{k}", t) for k, t in enumerate(texts)]
    docs[0].layers["pred"] = [Span(0, 1, "X")] * n_spans
    if n_spans:
        with pytest.raises(DistantError, match=f"found {n_spans} spans in layer 'pred'"):
            write_documents(docs, tmp_path / "f.txt")
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        write_documents(docs, tmp_path / "f.txt", "text")
    assert bool(n_spans) == any(f"{n_spans} spans in layer 'pred' not written" in m for m in warnings(caplog))
    assert [d.text for d in read_documents(tmp_path / "f.txt", strict=True)] == texts


@FUZZ
@given(texts=st.lists(st.text(st.one_of(NO_SURROGATE, st.sampled_from("\n\r\ufeff")), max_size=20), min_size=1,
                      max_size=3))
def test_text_folder_round_trip(tmp_path, texts):
    assume(not any(t.startswith("\ufeff") for t in texts))
    docs = [Document(f"f{k}", t) for k, t in enumerate(texts)]
    folder = tmp_path / "out"
    for old in folder.glob("*.txt"):
        old.unlink()
    write_documents(docs, folder)
    assert [(d.id, d.text) for d in read_documents(folder, strict=True)] == [(d.id, d.text) for d in docs]


# -- bytes: nothing but DistantError ----------------------------------------------------------------------------
DEEP = "[" * 3000
VALID = {  # a valid file of each format, as lines, that the soup mutates
    "pubtator": ["1|t|Title here", "1|a|An abstract", "1\t0\t5\tTitle\tX", "1\t6\t10\there\tY\tD1\tmore",
                 "1\tCID\tD1\tD2", "", "2|t|x", "2|a|", "2\t0\t1\tx\tZ", ""],
    "conll": ["-DOCSTART- x", "", "a\tB-X", "b\tI-X", "f\tO", "", "d\tS-Y", "g\t-", "i\tI-Y", "", "-DOCSTART-", ""],
    "jsonl": ['{"id": "a", "text": "b"}', '{"id": "a", "text": "abc", "tokens": [[0, 1], [1, 3]], "sentences": [[0, 2]]}',
              '{"id": "a", "text": "abc", "spans": {"g": [{"start": 0, "end": 2, "label": "X", "score": 0.5}]}}',
              '{"id": "a", "text": "abc", "meta": {"title_length": 1, "relations": [["CID", "x", "y"]]}}'],
    "ck": ["<s> O None", "w I X", "v O X", "u I None", "<eof> I None", "", "<s> O None", "t I Y", "<eof> I None"],
    "text": ["one document", "\x85\u2028 odd spaces\x0b", "tab\tinside"],
}
BAD = {  # and its malformed or odd lines
    "pubtator": ["1|a|", "2|t|", "1\t0\t5\tTitl\tX\tD1\t", "1\tl0\t9\tA\tB", "1\t-3\t5\tA\tB", "1\t3\t2\tA\tB",
                 "1\t0\t" + "9" * 30 + "\tA\tB", "1\t0\t5", "1\tAssociation\t1\t2\tNovel", "1\t0\t5\tTitle\t\x0bX",
                 "1\t٣\t5\tTitle\tX"],
    "conll": ["e\tI-", "-DOCSTART-", "h\tB-X\textra", "i B-Y", "j\tL-X", "k\tU-Z", "l\tB-\x00", "m\t\tO"],
    "jsonl": ['{"id": "a", "text": "\\ud800"}', '{"id": "a", "text": "b", "meta": ' + "[" * 3000,
              '{"id": "a", "text": "abc", "spans": {"g": [{"start": 0, "end": 2, "label": "X", "score": 1e999}]}}',
              '{"id": "a", "text": "abc", "spans": {"g": [{"start": -1, "end": 2, "label": ""}]}}',
              '{"id": "a", "text": "abc", "spans": {"g": [{"start": 0, "end": ' + "9" * 5000 + ', "label": "X"}]}}',
              '{"id": "a", "text": "abc", "tokens": [[0, 1], [0, 3]]}', '{"id": "a", "text": "b", "x": 1}',
              '{"id": "a", "text": "abc", "meta": {"title_length": "x", "breaks": {"a": 1}}}',
              '{"id": "a", "text": "abc", "meta": {"relations": [["CID", 3]], "mention_columns": {"g": [[0, 1]]}}}',
              '{"id": "a", "text": "abc", "tokens": [[0, 3]], "meta": {"columns": [["NN"], ["VB"]]}}', "[1]", "null"],
    "ck": ["t O Y", "<s> I None", "x I\tX", "y I \x00", "z Q None"],
    "text": ["\r", ""],
}
COMMON = ["", " ", "\t", "\ufeff", "\ud800", "\x00"]
SEPARATORS = st.sampled_from(["\n"] * 12 + ["\r\n", "\r", "\n\n", " \n"])


@st.composite
def line_soup(draw, fmt: str) -> bytes:
    """A valid file of ``fmt`` with a few lines replaced, inserted or deleted (bad, odd or random ones), joined by
    odd line endings, as bytes (sometimes not UTF-8)."""
    lines = list(VALID[fmt])
    fragment = st.one_of(st.sampled_from(VALID[fmt] + BAD[fmt] + COMMON), st.text(max_size=6))
    for _ in range(draw(st.integers(0, 4))):
        k = draw(st.integers(0, len(lines)))
        op = draw(st.sampled_from(("replace", "insert", "delete")))
        if op == "insert" or k == len(lines):
            lines.insert(k, draw(fragment))
        elif op == "replace":
            lines[k] = draw(fragment)
        else:
            del lines[k]
    text = "".join(line + draw(SEPARATORS) for line in lines)
    return text.encode("utf-8", "surrogatepass" if draw(st.integers(0, 4)) == 0 else "replace")


def read_or_refuse(path: Path, fmt: str, strict: bool) -> None:
    try:
        docs = read_documents(path, fmt, strict=strict)
    except DistantError as e:
        assert "\n" not in str(e) and "\r" not in str(e)
        str(e).encode("utf-8")  # printable
        return
    for doc in docs:
        check_document(doc, path)  # whatever a reader returns, every writer can take


@settings(FUZZ, max_examples=EXAMPLES * 2)
@given(fmt=st.sampled_from(sorted(VALID)), data=st.data(), strict=st.booleans())
def test_line_readers_raise_nothing_but_distant_error(tmp_path, fmt, data, strict):
    path = tmp_path / f"in{SUFFIX[fmt]}"
    path.write_bytes(data.draw(st.one_of(line_soup(fmt), st.binary(max_size=200))))
    read_or_refuse(path, fmt, strict)


@FUZZ
@given(data=st.data())
def test_docbin_reader_raises_nothing_but_distant_error(tmp_path, data):
    doc = Document("p1", "Aspirin cures fever.", meta={"title_length": 7})
    doc.set_spans("gold", [Span(0, 7, "Chemical", score=0.5)])
    write_documents([doc], tmp_path / "ok.spacy", layer="gold")
    good = bytearray((tmp_path / "ok.spacy").read_bytes())
    if data.draw(st.booleans()):
        for _ in range(data.draw(st.integers(1, 4))):
            good[data.draw(st.integers(0, len(good) - 1))] = data.draw(st.integers(0, 255))
        blob = bytes(good[: data.draw(st.integers(1, len(good)))])
    else:
        blob = data.draw(st.binary(max_size=100))
    path = tmp_path / "in.spacy"
    path.write_bytes(blob)
    read_or_refuse(path, "docbin", False)
