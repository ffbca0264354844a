"""Readers and writers: round trips, bad input with its line numbers, and the BC5CDR files."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distant.docs import O, UNKNOWN, Document, Span
from distant.errors import DistantError
from distant.formats import FORMATS, convert, detect_format, read_documents, write_documents
from distant.tags import SCHEMES, spans_to_tags, tags_to_spans

PROPERTY = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
LABELS = ("Chemical", "Disease")


def write_bytes(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def keys(doc: Document, layer: str) -> list[tuple]:
    return [(s.start, s.end, s.label, s.kb_id) for s in doc.spans(layer)]


def texts(doc: Document, layer: str) -> list[tuple[str, str]]:
    return [(doc.span_text(s), s.label) for s in doc.spans(layer)]


def doc_with_tokens(doc_id: str, sentences: list[list[str]], spans: list[tuple[int, int, str]] = ()) -> Document:
    """Build a document the way the CoNLL reader does; spans are (first token, last token + 1, label)."""
    text = "\n".join(" ".join(words) for words in sentences)
    tokens, ranges, pos = [], [], 0
    for words in sentences:
        first = len(tokens)
        for w in words:
            tokens.append((pos, pos + len(w)))
            pos += len(w) + 1
        ranges.append((first, len(tokens)))
    doc = Document(doc_id, text)
    doc.set_tokens(tokens, ranges)
    doc.set_spans("gold", [Span(tokens[i][0], tokens[j - 1][1], label, source="gold") for i, j, label in spans])
    return doc


# -- registry and detection ---------------------------------------------------------------------------------
def test_registry_names_every_format():
    assert set(FORMATS) == {"text", "pubtator", "conll", "jsonl", "docbin", "ck", "pubmed", "wrench", "bioc",
                            "bioc-json", "brat", "prodigy", "doccano", "labelstudio"}
    assert FORMATS["ck"].write is None and FORMATS["pubmed"].write is None
    assert all(f.read is not None and f.description for f in FORMATS.values())
    assert all(f.extensions for f in FORMATS.values() if f.name not in ("prodigy", "doccano"))  # .jsonl is JSONL


@pytest.mark.parametrize("name, fmt", [("a.conll", "conll"), ("a.tsv", "conll"), ("a.jsonl", "jsonl"),
                                       ("a.spacy", "docbin"), ("a.ck", "ck"), ("A.PubTator", "pubtator"),
                                       ("new.txt", "text"), ("new.PubTator.txt", "pubtator"), ("out", "text")])
def test_detect_format_by_name(tmp_path, name, fmt):
    assert detect_format(tmp_path / name) == fmt


def test_detect_format_sniffs_txt_and_folders(tmp_path):
    assert detect_format(write_bytes(tmp_path / "p.txt", "\n123|t|A title\n123|a|An abstract\n")) == "pubtator"
    assert detect_format(write_bytes(tmp_path / "t.txt", "A plain line | with a bar\n")) == "text"
    assert detect_format(tmp_path) == "text"


def test_unknown_extension_and_format_are_errors(tmp_path):
    with pytest.raises(DistantError, match="expected a folder or a name ending in"):
        detect_format(tmp_path / "a.xyz")
    with pytest.raises(DistantError, match="unknown format 'xml'; expected one of text, pubtator"):
        read_documents(tmp_path / "a.txt", "xml")
    with pytest.raises(DistantError, match="read only"):
        write_documents([], tmp_path / "a.ck")


# -- text -------------------------------------------------------------------------------------------------
def test_text_file_round_trip(tmp_path):
    path = write_bytes(tmp_path / "notes.txt", "First text.\n\n  \nSecond text, with  spaces.\r\n")
    docs = read_documents(path)
    assert [(d.id, d.text) for d in docs] == [("notes:1", "First text."), ("notes:4", "Second text, with  spaces.")]
    write_documents(docs, tmp_path / "out.txt")
    assert [d.text for d in read_documents(tmp_path / "out.txt")] == [d.text for d in docs]


def test_text_folder_round_trip(tmp_path):
    (tmp_path / "in").mkdir()
    write_bytes(tmp_path / "in" / "b.txt", "Bee.\nTwo lines.\n")
    write_bytes(tmp_path / "in" / "a.txt", "Aye.")
    write_bytes(tmp_path / "in" / "skip.md", "not text")
    docs = read_documents(tmp_path / "in")
    assert [(d.id, d.text) for d in docs] == [("a", "Aye."), ("b", "Bee.\nTwo lines.\n")]
    write_documents(docs, tmp_path / "out")
    assert [(d.id, d.text) for d in read_documents(tmp_path / "out")] == [(d.id, d.text) for d in docs]


def test_text_writer_refuses_line_breaks(tmp_path):
    with pytest.raises(DistantError, match="document d1: found a line break"):
        write_documents([Document("d1", "two\nlines")], tmp_path / "out.txt")
    assert not (tmp_path / "out.txt").exists()


# -- PubTator ---------------------------------------------------------------------------------------------
PUBTATOR = (
    "101|t|Aspirin and colds.\n"
    "101|a|Aspirin treats fever.\n"
    "101\t0\t7\tAspirin\tChemical\tD001241\n"
    "101\t19\t26\tAspirin\tChemical\tD001241\n"
    "101\t34\t39\tfever\tDisease\tD005334\tfever|x\textra\n"
    "101\tCID\tD001241\tD005334\n"
    "\n"
    "102|t|No abstract mentions\n"
    "102|a|\n"
    "102\t0\t2\tNo\tDisease\n"
    "\n"
)


def test_pubtator_reads_text_breaks_spans_and_relations(tmp_path):
    docs = read_documents(write_bytes(tmp_path / "a.pubtator", PUBTATOR), layer="gold")
    first, second = docs
    assert first.text == "Aspirin and colds. Aspirin treats fever."
    assert first.meta["breaks"] == [19] and first.meta["relations"] == [["CID", "D001241", "D005334"]]
    assert texts(first, "gold") == [("Aspirin", "Chemical"), ("Aspirin", "Chemical"), ("fever", "Disease")]
    assert first.spans("gold")[0] == Span(0, 7, "Chemical", source="gold", kb_id="D001241")
    assert second.text == "No abstract mentions" and second.spans("gold")[0].kb_id is None  # an empty abstract
    assert second.meta == {"title_length": 20}


def test_pubtator_round_trip_is_byte_identical(tmp_path):
    path = write_bytes(tmp_path / "a.pubtator", PUBTATOR)
    write_documents(read_documents(path, layer="gold"), tmp_path / "b.pubtator", layer="gold")
    assert (tmp_path / "b.pubtator").read_text() == PUBTATOR


def test_pubtator_writer_skips_markers_and_writes_plain_docs_as_title(tmp_path):
    doc = Document("7", "Some text here")
    doc.set_spans("pred", [Span(0, 4, "Chemical"), Span(5, 9, UNKNOWN), Span(10, 14, O)])
    write_documents([doc], tmp_path / "p.pubtator")
    assert (tmp_path / "p.pubtator").read_text() == "7|t|Some text here\n7|a|\n7\t0\t4\tSome\tChemical\n\n"


@pytest.mark.parametrize("line, message", [
    ("101\t1.5\t7\tAspirin\tChemical", "found offsets '1.5' '7', expected two integers"),
    ("101\tl0\t7\tAspirin\tChemical", "found offsets 'l0' '7', expected two integers"),
    ("101\t20\t99\tbad\tChemical", "found offsets 20-99, expected 0 <= start < end <= 25"),
    ("101\t0\t7\tAspirin", "found a mention line with 4 columns, expected at least 5"),
    ("999\t0\t7\tAspirin\tChemical", "found a mention or relation line for document 999, expected document 101"),
    ("just some words", "expected PMID|t|title"),
])
def test_pubtator_errors_name_the_line(tmp_path, line, message):
    content = f"101|t|Aspirin and\n101|a|colds are bad\n{line}\n\n"
    with pytest.raises(DistantError) as info:
        read_documents(write_bytes(tmp_path / "a.pubtator", content))
    assert info.value.line == 3 and message in str(info.value) and "\n" not in str(info.value)


def test_pubtator_mention_before_title_is_an_error(tmp_path):
    with pytest.raises(DistantError, match=r":1: found a mention or relation line before any title line"):
        read_documents(write_bytes(tmp_path / "a.pubtator", "1\t0\t1\tA\tChemical\n"))


# -- CoNLL ------------------------------------------------------------------------------------------------
CONLL = (
    "-DOCSTART- first\n"
    "\n"
    "Aspirin\tNN\tB-Chemical\n"
    "treats\tVB\tO\n"
    "fever\tNN\tB-Disease\n"
    "\n"
    "Acute\tJJ\tB-Disease\n"
    "renal\tJJ\tI-Disease\n"
    "failure\tNN\tI-Disease\n"
    "-DOCSTART- -X- -X- O\n"
    "Unknown\tNN\t-\n"
    "tags\tNN\t-\n"
    "here\tRB\tO\n"
)


def test_conll_reads_documents_sentences_spans_and_columns(tmp_path):
    first, second = read_documents(write_bytes(tmp_path / "a.conll", CONLL), layer="gold")
    assert first.id == "first" and second.id == "doc-2"
    assert first.text == "Aspirin treats fever\nAcute renal failure"
    assert first.sentences == [(0, 3), (3, 6)] and first.words()[3] == "Acute"
    assert texts(first, "gold") == [("Aspirin", "Chemical"), ("fever", "Disease"), ("Acute renal failure", "Disease")]
    assert first.meta["columns"] == [["NN"], ["VB"], ["NN"], ["JJ"], ["JJ"], ["NN"]]
    assert texts(second, "gold") == [("Unknown tags", UNKNOWN)]


def test_conll_round_trip_keeps_columns_and_unknown_tags(tmp_path):
    docs = read_documents(write_bytes(tmp_path / "a.conll", CONLL), layer="gold")
    write_documents(docs, tmp_path / "b.conll", layer="gold")
    again = read_documents(tmp_path / "b.conll", layer="gold")
    assert [(d.id, d.text, d.tokens, d.sentences, d.layers, d.meta) for d in again] == \
           [(d.id, d.text, d.tokens, d.sentences, d.layers, d.meta) for d in docs]
    assert "Unknown\tNN\t-\n" in (tmp_path / "b.conll").read_text()


@pytest.mark.parametrize("scheme", ["IOB2", "IOBES", "IO", "IOB1"])
def test_conll_round_trip_in_each_scheme(tmp_path, scheme):
    doc = doc_with_tokens("d", [["a", "b", "c", "d", "e"], ["f", "g"]],
                          [(0, 1, "Chemical"), (1, 3, "Chemical"), (4, 5, "Disease"), (5, 7, "Disease")])
    if scheme == "IO":  # IO cannot separate touching entities of one type
        doc.set_spans("gold", [s for s in doc.spans("gold") if s.start != 0])
    write_documents([doc], tmp_path / "d.conll", layer="gold", scheme=scheme)
    tags = [line.split("\t")[-1] for line in (tmp_path / "d.conll").read_text().split("\n") if "\t" in line]
    if scheme == "IOBES":
        assert tags == ["S-Chemical", "B-Chemical", "E-Chemical", "O", "S-Disease", "B-Disease", "E-Disease"]
    again = read_documents(tmp_path / "d.conll", layer="gold", scheme=None if scheme != "IOB1" else "IOB1")
    assert again[0].text == doc.text and keys(again[0], "gold") == keys(doc, "gold")


def test_conll_writer_tokenizes_and_warns_once_per_document_about_unaligned_spans(tmp_path, caplog):
    doc = Document("d7", "Aspirin-induced fever. Cisplatin too.")
    doc.set_spans("pred", [Span(0, 7, "Chemical"), Span(0, 3, "Chemical"), Span(17, 20, "Disease"),
                           Span(23, 32, "Chemical")])
    with caplog.at_level(logging.WARNING):
        write_documents([doc], tmp_path / "d.conll")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "document d7" in warnings[0] and "2 of 4 spans" in warnings[0]
    again = read_documents(tmp_path / "d.conll")[0]
    assert texts(again, "gold") == [("Aspirin", "Chemical"), ("Cisplatin", "Chemical")]
    assert len(again.sentences) == 2 and doc.tokens is None  # the caller's document is not changed


def test_conll_without_docstart_is_one_document_and_guesses_iobes(tmp_path):
    docs = read_documents(write_bytes(tmp_path / "one.tsv", "a S-X\nb O\n\nc B-Y\nd E-Y\n"))
    assert [d.id for d in docs] == ["doc-1"] and texts(docs[0], "gold") == [("a", "X"), ("c d", "Y")]


@pytest.mark.parametrize("content, line, message", [
    ("a\tO\nb\tO\tO\n", 2, "found 3 columns, expected 2 (as on line 1)"),
    ("a O\n\nb\n", 3, "found 1 columns, expected 2"),
    ("a\tO\nb\tI-\n", 2, "invalid tag 'I-'"),
    ("a\tO\n\nb\tX-Foo\n", 3, "invalid tag 'X-Foo'"),
    ("a\tB-X\nb\tM-Y\n", 2, "invalid tag 'M-Y' for scheme IOB2"),
])
def test_conll_errors_name_the_line(tmp_path, content, line, message):
    with pytest.raises(DistantError) as info:
        read_documents(write_bytes(tmp_path / "a.conll", content))
    assert info.value.line == line and message in str(info.value)


def test_conll_tag_invalid_in_the_given_scheme(tmp_path):
    with pytest.raises(DistantError, match=r":2: invalid tag 'E-X' for scheme IOB2"):
        read_documents(write_bytes(tmp_path / "a.conll", "a\tB-X\nb\tE-X\n"), scheme="BIO")


# -- JSONL ------------------------------------------------------------------------------------------------
def test_jsonl_round_trip_keeps_every_layer_and_field(tmp_path):
    doc = Document("x1", "Aspirin\ncures  fever.", meta={"title_length": 7, "nested": {"a": [1, 2]}})
    doc.set_tokens([(0, 7), (8, 13), (15, 20), (20, 21)], [(0, 1), (1, 4)])
    doc.set_spans("gold", [Span(0, 7, "Chemical", "gold", "D1"), Span(15, 20, "Disease", "gold")])
    doc.set_spans("dict", [Span(15, 20, "Disease", "dict", score=0.25), Span(8, 13, UNKNOWN, "dict")])
    write_documents([doc, Document("x2", "")], tmp_path / "a.jsonl")
    again = read_documents(tmp_path / "a.jsonl", layer="ignored")
    assert [(d.id, d.text, d.tokens, d.sentences, d.layers, d.meta) for d in again] == \
           [(d.id, d.text, d.tokens, d.sentences, d.layers, d.meta) for d in (doc, Document("x2", ""))]


def test_jsonl_writes_what_json_reads_back_even_where_orjson_refuses(tmp_path):
    """orjson writes the lines; an integer beyond 64 bits or a non-string key goes through json.dumps."""
    import json

    from distant.formats.jsonl import to_json

    docs = [Document("a", "Aspirin x", meta={"big": 2 ** 70, "f": 1e-7, "s": "\u00e9\u2028\u0000"}),
            Document("b", "fever", meta={"n": {"1": [0.5, None, True]}})]
    docs[1].set_tokens([(0, 5)])
    docs[1].set_spans("dict", [Span(0, 5, "Disease", "dict", score=1 / 3)])
    write_documents(docs, tmp_path / "a.jsonl")
    lines = (tmp_path / "a.jsonl").read_bytes().split(b"\n")
    assert lines[-1] == b"" and [json.loads(line) for line in lines[:-1]] == [to_json(d) for d in docs]
    again = read_documents(tmp_path / "a.jsonl")
    assert [(d.id, d.text, d.tokens, d.layers, d.meta) for d in again] == \
           [(d.id, d.text, d.tokens, d.layers, d.meta) for d in docs]


@pytest.mark.parametrize("score, meta", [(float("nan"), {}), (None, {"x": [1.0, float("inf")]}),
                                         (None, {"x": {"y": float("-inf")}})])
def test_jsonl_writer_refuses_a_nan_or_an_infinity_rather_than_writing_null(tmp_path, score, meta):
    doc = Document("d7", "fever", meta=meta)
    doc.set_spans("pred", [Span(0, 5, "Disease", score=score)])
    with pytest.raises(DistantError, match="document d7: .*finite"):
        write_documents([doc], tmp_path / "a.jsonl")
    assert not (tmp_path / "a.jsonl").exists()


@pytest.mark.parametrize("line, message", [
    ('{"id": "a", "text": "abc"', "found invalid JSON"),
    ('["a"]', "found the line = [\"a\"], expected a JSON object"),
    ('{"id": 3, "text": "abc"}', "found id = 3, expected a string"),
    ('{"id": "a"}', "found no 'text' key"),
    ('{"id": "a", "text": "abc", "spans": {"g": [{"start": 1, "end": 9, "label": "X"}]}}',
     "spans.g[0].start/end = [1, 9], expected 0 <= start < end <= 3"),
    ('{"id": "a", "text": "abc", "spans": {"g": [{"start": 0, "end": 1, "label": true}]}}',
     "spans.g[0].label = true, expected a string"),
    ('{"id": "a", "text": "abc", "tokens": [[0, 1], [2, 3]], "sentences": [[1, 2]]}',
     "found sentences that do not cover the 2 tokens"),
    ('{"id": "a", "text": "abc", "colour": 1}', "found key 'colour'"),
])
def test_jsonl_errors_name_the_line(tmp_path, line, message):
    content = '{"id": "ok", "text": "fine"}\n\n' + line + "\n"
    with pytest.raises(DistantError) as info:
        read_documents(write_bytes(tmp_path / "a.jsonl", content))
    assert info.value.line == 3 and message in str(info.value) and "\n" not in str(info.value)


# -- spaCy DocBin -----------------------------------------------------------------------------------------
def test_docbin_round_trip_keeps_text_tokens_sentences_and_layers(tmp_path):
    from spacy.tokens import DocBin
    from spacy.vocab import Vocab

    doc = Document("p1", "  Aspirin  cures\nfever. Then\n\nheadache ")
    doc.set_tokens([(2, 9), (11, 16), (17, 22), (22, 23), (24, 28), (30, 38)], [(0, 4), (4, 6)])
    doc.set_spans("pred", [Span(2, 9, "Chemical", kb_id="D1"), Span(11, 22, UNKNOWN), Span(17, 22, "Disease"),
                           Span(30, 38, "Disease")])
    doc.set_spans("dict", [Span(2, 9, "Chemical", "dict"), Span(3, 9, "Chemical", "dict")])
    write_documents([doc], tmp_path / "a.spacy")

    sdoc = next(DocBin().from_disk(tmp_path / "a.spacy").get_docs(Vocab()))
    assert sdoc.text == doc.text
    assert [(e.text, e.label_, e.kb_id_) for e in sdoc.ents] == [("Aspirin", "Chemical", "D1"),
                                                                  ("fever", "Disease", ""),
                                                                  ("headache", "Disease", "")]
    assert [s.text.strip() for s in sdoc.sents] == ["Aspirin  cures\nfever.", "Then\n\nheadache"]
    assert [(s.start_char, s.end_char) for s in sdoc.spans["dict"]] == [(2, 9)]  # the unaligned span: reported

    again = read_documents(tmp_path / "a.spacy")[0]
    assert (again.id, again.text, again.tokens, again.sentences) == (doc.id, doc.text, doc.tokens, doc.sentences)
    assert again.layers == doc.layers  # every span, the unaligned one too, with source, kb_id and score


# -- AutoNER .ck ------------------------------------------------------------------------------------------
CK = (
    "<s> O None\n"
    "Aspirin I Chemical\n"
    "treats I None\n"
    "congestive I Disease\n"
    "heart O Disease\n"
    "failure O Disease\n"
    "fever I Disease\n"
    "<eof> I None\n"
    "\n"
    "<s> O None\n"
    "Done I None\n"
    ". I None\n"
    "<eof> I None\n"
)


def test_ck_reads_chunks_as_spans(tmp_path):
    (doc,) = read_documents(write_bytes(tmp_path / "truth.ck", CK), layer="gold")
    assert doc.id == "doc-1" and doc.text == "Aspirin treats congestive heart failure fever\nDone ."
    assert doc.sentences == [(0, 6), (6, 8)]
    assert texts(doc, "gold") == [("Aspirin", "Chemical"), ("congestive heart failure", "Disease"),
                                  ("fever", "Disease")]


@pytest.mark.parametrize("content, line, message", [
    ("<s> O None\na X None\n<eof> I None\n", 2, "found the mark 'X', expected I (break) or O (tie)"),
    ("<s> O None\na O Disease\n<eof> I None\n", 2, "found a tie (O) on the first token"),
    ("<s> O None\na I Disease\nb O None\n<eof> I None\n", 3, "found type 'None' on a tie (O), expected 'Disease'"),
    ("a I None\n", 1, "outside a sentence"),
    ("<s> O None\na I\n", 2, "found 2 columns, expected 3"),
])
def test_ck_errors_name_the_line(tmp_path, content, line, message):
    with pytest.raises(DistantError) as info:
        read_documents(write_bytes(tmp_path / "a.ck", content))
    assert info.value.line == line and message in str(info.value)


# -- bad input, every reader --------------------------------------------------------------------------------
FIRST_LINES = {"text": "hello", "pubtator": "1|t|Title", "conll": "a\tO", "jsonl": '{"id": "a", "text": "b"}',
               "ck": "<s> O None"}
SUFFIX = {"text": ".txt", "pubtator": ".pubtator", "conll": ".conll", "jsonl": ".jsonl", "ck": ".ck",
          "docbin": ".spacy", "pubmed": ".xml", "wrench": ".json", "bioc": ".bioc.xml", "bioc-json": ".bioc.json",
          "brat": ".ann", "prodigy": ".jsonl", "doccano": ".jsonl", "labelstudio": ".json"}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_missing_file(tmp_path, fmt):
    with pytest.raises(DistantError, match="file not found: expected"):
        read_documents(tmp_path / f"missing{SUFFIX[fmt]}", fmt)


@pytest.mark.parametrize("content", [b"", b"  \n\n\t\r\n"])
@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_empty_file(tmp_path, fmt, content):
    with pytest.raises(DistantError, match="empty input: expected"):
        read_documents(write_bytes(tmp_path / f"empty{SUFFIX[fmt]}", content), fmt)


@pytest.mark.parametrize("fmt", sorted(FIRST_LINES))
def test_broken_utf8_names_the_line(tmp_path, fmt):
    path = write_bytes(tmp_path / f"bad{SUFFIX[fmt]}", FIRST_LINES[fmt].encode() + b"\nab\xe9cd\tO\n")
    with pytest.raises(DistantError, match="expected UTF-8 text") as info:
        read_documents(path, fmt)
    assert info.value.line == 2 and "0xe9" in str(info.value)


def test_broken_utf8_in_a_text_folder_names_the_file_and_line(tmp_path):
    write_bytes(tmp_path / "a.txt", b"fine\nalso fine\nnot \xff fine\n")
    with pytest.raises(DistantError, match=r"a\.txt:3: found byte 0xff at column 5"):
        read_documents(tmp_path)


def test_docbin_garbage_is_an_error(tmp_path):
    with pytest.raises(DistantError, match="found no DocBin"):
        read_documents(write_bytes(tmp_path / "a.spacy", b"not a docbin"))


# -- property tests -----------------------------------------------------------------------------------------
WORD = st.text(alphabet="abcXYZ019-().,/", min_size=1, max_size=6)


@st.composite
def token_spans(draw, n: int, labels: tuple[str, ...] = LABELS) -> list[tuple[int, int, str]]:
    """Non-overlapping (first, last + 1, label) ranges over ``n`` tokens; touching ones may share a label."""
    spans, i = [], 0
    while i < n:
        if draw(st.booleans()):
            j = draw(st.integers(i + 1, min(n, i + 3)))
            spans.append((i, j, draw(st.sampled_from(labels))))
            i = j
        else:
            i += 1
    return spans


def merge_touching(spans: list[tuple[int, int, str]], labels: set[str]) -> list[tuple[int, int, str]]:
    """Merge touching spans of one label in ``labels`` (what a tag sequence cannot tell apart)."""
    out: list[tuple[int, int, str]] = []
    for i, j, label in spans:
        if out and out[-1][1] == i and out[-1][2] == label and label in labels:
            out[-1] = (out[-1][0], j, label)
        else:
            out.append((i, j, label))
    return out


@st.composite
def tagged_sentences(draw, scheme: str) -> tuple[list[list[str]], list[tuple[int, int, str]]]:
    """Sentences of words and token spans that tags in ``scheme`` can tell apart."""
    sentences = draw(st.lists(st.lists(WORD, min_size=1, max_size=7), min_size=1, max_size=4))
    merged = {UNKNOWN, *LABELS} if scheme == "IO" else {UNKNOWN}
    spans, first = [], 0
    for words in sentences:
        local = draw(token_spans(len(words), (*LABELS, UNKNOWN)))
        spans.extend((first + i, first + j, label) for i, j, label in merge_touching(local, merged))
        first += len(words)
    return sentences, spans


@PROPERTY
@given(data=st.data(), n=st.integers(0, 12), scheme=st.sampled_from(SCHEMES))
def test_spans_tags_round_trip(data, n, scheme):
    spans = data.draw(token_spans(n))
    expected = merge_touching(spans, set(LABELS)) if scheme == "IO" else spans
    assert tags_to_spans(spans_to_tags(n, spans, scheme), scheme) == expected


@PROPERTY
@given(data=st.data(), scheme=st.sampled_from(("IOB2", "IOBES", "IO")))
def test_conll_round_trip_property(tmp_path, data, scheme):
    sentences, spans = data.draw(tagged_sentences(scheme))
    doc = doc_with_tokens("g1", sentences, spans)
    write_documents([doc, doc_with_tokens("g2", [["x"]])], tmp_path / "p.conll", layer="gold", scheme=scheme)
    again = read_documents(tmp_path / "p.conll", layer="gold", scheme=scheme)[0]
    assert (again.id, again.text, again.tokens, again.sentences) == (doc.id, doc.text, doc.tokens, doc.sentences)
    assert keys(again, "gold") == keys(doc, "gold")


TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


@st.composite
def any_documents(draw) -> Document:
    text = draw(TEXT)
    doc = Document(draw(st.text(min_size=1, max_size=8)), text,
                   meta=draw(st.dictionaries(st.text(max_size=4), st.one_of(st.integers(), st.text(max_size=4),
                                                                           st.lists(st.integers(), max_size=3)),
                                             max_size=2)))
    if text and draw(st.booleans()):
        cuts = sorted(draw(st.sets(st.integers(0, len(text)), min_size=2, max_size=8)))
        tokens = list(zip(cuts[::2], cuts[1::2]))
        doc.set_tokens(tokens, [(0, len(tokens))] if tokens else [])
    for layer in draw(st.lists(st.sampled_from(["gold", "pred", "dict"]), unique=True, max_size=3)):
        spans = []
        for _ in range(draw(st.integers(0, 4)) if text else 0):
            start = draw(st.integers(0, len(text) - 1))
            end = draw(st.integers(start + 1, len(text)))
            spans.append(Span(start, end, draw(st.sampled_from((*LABELS, O, UNKNOWN))),
                              draw(st.sampled_from(("", layer))), draw(st.none() | st.text(max_size=5)),
                              draw(st.none() | st.floats(0, 1))))
        doc.layers[layer] = sorted(spans, key=Span.key)
    return doc


@PROPERTY
@given(docs=st.lists(any_documents(), max_size=3))
def test_jsonl_round_trip_property(tmp_path, docs):
    write_documents(docs, tmp_path / "p.jsonl")
    if not docs:
        return
    again = read_documents(tmp_path / "p.jsonl")
    assert [(d.id, d.text, d.tokens, d.sentences, d.layers, d.meta) for d in again] == \
           [(d.id, d.text, d.tokens, d.sentences, d.layers, d.meta) for d in docs]


LINE_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r\t"), max_size=25)


@st.composite
def pubtator_documents(draw) -> Document:
    title, abstract = draw(LINE_TEXT), draw(LINE_TEXT)
    text = f"{title} {abstract}" if abstract else title  # an empty abstract line adds nothing to the text
    meta = {"title_length": len(title), "breaks": [len(title) + 1]} if abstract else {"title_length": len(title)}
    doc = Document(draw(st.from_regex(r"[0-9]{1,8}", fullmatch=True)), text, meta=meta)
    spans = []
    for _ in range(draw(st.integers(0, 4)) if text else 0):
        start = draw(st.integers(0, len(text) - 1))
        spans.append(Span(start, draw(st.integers(start + 1, len(text))), draw(st.sampled_from(LABELS)), "gold",
                          draw(st.none() | st.from_regex(r"[A-Z][0-9]{3}", fullmatch=True))))
    doc.layers["gold"] = sorted(spans, key=Span.key)
    return doc


@PROPERTY
@given(docs=st.lists(pubtator_documents(), min_size=1, max_size=3))
def test_pubtator_round_trip_property(tmp_path, docs):
    write_documents(docs, tmp_path / "p.pubtator", layer="gold")
    again = read_documents(tmp_path / "p.pubtator", layer="gold")
    assert [(d.id, d.text, d.layers, d.meta) for d in again] == [(d.id, d.text, d.layers, d.meta) for d in docs]


# -- the BC5CDR files ---------------------------------------------------------------------------------------
def bc5cdr(data_dir: Path, relative: str) -> Path:
    path = data_dir / "BC5CDR" / relative
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path


@pytest.mark.shared_data
def test_bc5cdr_pubtator_test_set(data_dir):
    docs = read_documents(bc5cdr(data_dir, "original/CDR_TestSet.PubTator.txt"), layer="gold")
    assert len(docs) == 500
    labels = [s.label for d in docs for s in d.spans("gold")]
    assert len(labels) == 9809 and labels.count("Chemical") == 5385 and labels.count("Disease") == 4424


@pytest.mark.shared_data
def test_bc5cdr_pubtator_jsonl_pubtator_keeps_every_mention(data_dir, tmp_path):
    src = bc5cdr(data_dir, "original/CDR_TestSet.PubTator.txt")
    assert convert(src, tmp_path / "test.jsonl") == 500
    assert convert(tmp_path / "test.jsonl", tmp_path / "back.pubtator") == 500

    def mention_lines(path: Path) -> list[str]:
        return [line for line in path.read_text(encoding="utf-8").splitlines() if line.count("\t") >= 4]

    original = mention_lines(src)
    assert len(original) == 9809 and mention_lines(tmp_path / "back.pubtator") == original


@pytest.mark.shared_data
def test_bc5cdr_conll_test_set(data_dir):
    (doc,) = read_documents(bc5cdr(data_dir, "mtl-iob/BC5CDR-IOB/test.tsv"), "conll", layer="gold")
    assert len(doc.sentences) == 4797 and len(doc.spans("gold")) == 9809


@pytest.mark.shared_data
def test_bc5cdr_autoner_truth_test(data_dir):
    (doc,) = read_documents(bc5cdr(data_dir, "autoner/truth_test.ck"), layer="gold")
    assert len(doc.sentences) == 7095
    labels = {s.label for s in doc.spans("gold")}
    assert labels == {"Chemical", "Disease"} and len(doc.spans("gold")) > 9000
