"""Readers and writers on real corpora that are slightly off, and on what a format cannot hold: one test a class.

Each benign quirk is read with one warning per file that counts it (a strict reading refuses it, naming the
file and line); malformed input is an error; what a writer cannot write is refused or counted, never lost.
"""

from __future__ import annotations

import io
import json
import logging
import sys
from pathlib import Path

import pytest

from distant.docs import UNKNOWN, Document, Span
from distant.errors import DistantError
from distant.formats import convert, detect_format, read_documents, write_documents
from distant.tags import decode_tags, detect_scheme, tags_to_spans

SUFFIX = {"text": ".txt", "pubtator": ".pubtator", "conll": ".conll", "jsonl": ".jsonl", "ck": ".ck",
          "docbin": ".spacy"}
GOOD = {  # a small valid file of each line-based format
    "text": "First document.\nSecond one.\n",
    "pubtator": "1|t|Aspirin and colds\n1|a|cause fever\n1\t0\t7\tAspirin\tChemical\n\n",
    "conll": "Aspirin\tB-Chemical\ntreats\tO\n\nfever\tB-Disease\n",
    "jsonl": '{"id": "a", "text": "Aspirin"}\n{"id": "b", "text": "fever"}\n',
    "ck": "<s> O None\nAspirin I Chemical\ntreats I None\n<eof> I None\n",
}


def write_bytes(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def spans(doc: Document, layer: str = "gold") -> list[tuple]:
    return [(s.start, s.end, s.label, s.kb_id) for s in doc.spans(layer)]


def token_spans(doc: Document, layer: str = "gold") -> list[tuple[int, int, str]]:
    return [(*doc.token_range(s.start, s.end), s.label) for s in doc.spans(layer)]


def read_same(tmp_path: Path, fmt: str, data: str | bytes, **kwargs) -> list[tuple]:
    docs = read_documents(write_bytes(tmp_path / f"x{SUFFIX[fmt]}", data), fmt, **kwargs)
    return [(d.text, spans(d)) for d in docs]


# -- strict, on every reader --------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", sorted(GOOD))
@pytest.mark.parametrize("quirk", ["crlf", "cr", "bom"])
def test_line_ending_quirks_are_read_with_one_counting_warning_and_refused_when_strict(tmp_path, caplog, fmt, quirk):
    good = GOOD[fmt]
    odd = {"crlf": good.replace("\n", "\r\n"), "cr": good.replace("\n", "\r"), "bom": "\ufeff" + good}[quirk]
    lines = good.count("\n")
    with caplog.at_level(logging.WARNING):
        assert read_same(tmp_path, fmt, odd) == read_same(tmp_path, fmt, good)
    (message,) = warnings(caplog)
    expected = {"crlf": f"{lines} lines ending in CR LF", "cr": f"{lines} lines ending in CR alone",
                "bom": "1 byte order marks"}[quirk]
    assert f"x{SUFFIX[fmt]}: read leniently" in message and expected in message and "line" in message
    with pytest.raises(DistantError, match=r"x\.\w+:1: found .*strict reading") as info:
        read_same(tmp_path, fmt, odd, strict=True)
    assert info.value.line == 1 and "\n" not in str(info.value)


def test_a_clean_file_reads_without_warning_even_when_strict(tmp_path, caplog):
    for fmt, data in GOOD.items():
        with caplog.at_level(logging.WARNING):
            read_same(tmp_path, fmt, data, strict=True)
    assert warnings(caplog) == []


# -- PubTator: slightly-off corpora are read, loudly ----------------------------------------------------------
NCBI_LIKE = (  # the NCBI-disease training file writes quotes in a mention column as spaces
    '10|t|The "ataxia telangiectasia" gene\n'
    "10|a|is studied.\n"
    "10\t5\t26\tataxia telangiectasia\tDisease\tD001260\n"
    "10\t4\t27\t ataxia telangiectasia \tDisease\tD001260\n"
    "\n"
)


def test_pubtator_mention_column_that_differs_from_the_text_keeps_its_offsets(tmp_path, caplog):
    path = write_bytes(tmp_path / "ncbi.pubtator", NCBI_LIKE)
    with caplog.at_level(logging.WARNING):
        (doc,) = read_documents(path)
    assert [doc.span_text(s) for s in doc.spans("gold")] == ['"ataxia telangiectasia"', "ataxia telangiectasia"]
    (message,) = warnings(caplog)
    assert "1 mention columns that differ from the text at their offsets" in message
    assert "line 4: document 10 4-27: column ' ataxia telangiectasia ', text '\"ataxia telangiectasia\"'" in message
    with pytest.raises(DistantError, match=r"ncbi\.pubtator:4: found the mention column ' ataxia") as info:
        read_documents(path, strict=True)
    assert "expected the mention column to equal the text at its offsets" in str(info.value)


@pytest.mark.parametrize("content, kind, line", [
    ("1|t|A b\n1|a|c d\n1\t0\t1\tA\tX\t\n\n", "1 mention lines ending in spaces or tabs", 3),
    ("1|t|A b\n1|a|c d\n1\t0\t1\tA\tX\tD1 \n\n", "1 mention lines ending in spaces or tabs", 3),
    ("1|t|A b\n1|a|c d\n1\t0\t1\tA\tX\n", "1 documents without a blank line after them", 3),
    ("1|t|A b\n1|a|c d\n\n\n\n2|t|E\n2|a|F\n\n", "2 extra blank lines", 4),
    ("\n1|t|A b\n1|a|c d\n\n", "1 extra blank lines", 1),
    ("1|t|A b\n1|a|c d\n2|t|E\n2|a|F\n\n", "1 documents without a blank line before them", 3),
])
def test_pubtator_layout_quirks_are_counted_and_refused_when_strict(tmp_path, caplog, content, kind, line):
    path = write_bytes(tmp_path / "q.pubtator", content)
    with caplog.at_level(logging.WARNING):
        docs = read_documents(path)
    assert docs[0].text == "A b c d" and all(s.kb_id in (None, "D1") for s in docs[0].spans("gold"))
    (message,) = warnings(caplog)
    assert kind in message
    with pytest.raises(DistantError) as info:
        read_documents(path, strict=True)
    assert info.value.line == line and "strict reading" in str(info.value)


@pytest.mark.parametrize("line, message", [
    ("1\t0\t7\tAspirin", "found a mention line with 4 columns, expected at least 5"),
    ("1\t20\t99\tbad\tChemical", "found offsets 20-99, expected 0 <= start < end <= 17"),
    ("1\t-1\t3\tbad\tChemical", "found offsets -1-3, expected 0 <= start < end"),
    ("1\t0\t" + "9" * 5000 + "\tbad\tChemical", "expected 0 <= start < end <= 17"),
    ("1\tl0\t9\tAspirin\tChemical", "found offsets 'l0' '9', expected two integers"),
    ("1\t0\t7\tAspirin\t\tD1", "found an empty type column"),
    ("1\t0\t7\tAspirin\tChem\x0bical", "type column: found label"),
])
def test_pubtator_malformed_lines_stay_errors_even_when_lenient(tmp_path, line, message):
    path = write_bytes(tmp_path / "bad.pubtator", f"1|t|Aspirin and\n1|a|colds\n{line}\n\n")
    with pytest.raises(DistantError) as info:
        read_documents(path)
    assert info.value.line == 3 and message in str(info.value) and len(str(info.value)) < 400


def test_pubtator_cr_only_line_endings_keep_every_document_and_mention(tmp_path, caplog):
    content = "1|t|Aspirin\r1|a|helps\r1\t0\t7\tAspirin\tChemical\r\r2|t|Fever\r2|a|hurts\r2\t0\t5\tFever\tDisease\r\r"
    with caplog.at_level(logging.WARNING):
        docs = read_documents(write_bytes(tmp_path / "mac.pubtator", content))
    assert [(d.id, d.text, spans(d)) for d in docs] == [("1", "Aspirin helps", [(0, 7, "Chemical", None)]),
                                                        ("2", "Fever hurts", [(0, 5, "Disease", None)])]
    assert "8 lines ending in CR alone" in warnings(caplog)[0]


def test_pubtator_relation_lines_are_told_from_mention_lines(tmp_path):
    content = ("1|t|Aspirin and\n1|a|colds\n1\t0\t7\tAspirin\tChemical\tD1\n1\tCID\tD1\tD2\n"
               "1\tAssociation\t7157\t10594\tNovel\n1\tx1\tD1\tD2\n\n")
    (doc,) = read_documents(write_bytes(tmp_path / "r.pubtator", content))
    assert spans(doc) == [(0, 7, "Chemical", "D1")]
    assert doc.meta["relations"] == [["CID", "D1", "D2"], ["Association", "7157", "10594", "Novel"], ["x1", "D1", "D2"]]
    write_documents([doc], tmp_path / "back.pubtator", layer="gold")
    assert (tmp_path / "back.pubtator").read_text() == content


def test_text_to_pubtator_and_back_gives_the_same_text(tmp_path):
    docs = [Document("1", "Some text here"), Document("2", "A title"), Document("3", "Ends in a space ")]
    docs[1].meta = {"title_length": 7, "abstract_line": False}  # a title without an abstract line
    docs[2].meta = {"title_length": 15}  # no abstract after the space: the title holds it
    write_documents(docs, tmp_path / "p.pubtator", layer="gold")
    written = (tmp_path / "p.pubtator").read_text()
    assert written == "1|t|Some text here\n1|a|\n\n2|t|A title\n\n3|t|Ends in a space \n3|a|\n\n"
    again = read_documents(tmp_path / "p.pubtator")
    assert [d.text for d in again] == [d.text for d in docs]
    write_documents(again, tmp_path / "q.pubtator", layer="gold")
    assert (tmp_path / "q.pubtator").read_text() == written


def test_docbin_to_pubtator_keeps_title_abstract_and_relations(tmp_path):
    content = ("7|t|Famotidine delirium.\n7|a|Famotidine is given.\n7\t0\t10\tFamotidine\tChemical\tD1\n"
               "7\tCID\tD1\tD2\n\n")
    src = write_bytes(tmp_path / "a.pubtator", content)
    convert(src, tmp_path / "a.spacy")
    convert(tmp_path / "a.spacy", tmp_path / "b.pubtator")
    assert (tmp_path / "b.pubtator").read_text() == content


def test_pubtator_writer_counts_unknown_spans_it_cannot_write(tmp_path, caplog):
    doc = Document("7", "Some text here")
    doc.set_spans("pred", [Span(0, 4, "Chemical"), Span(5, 9, UNKNOWN), Span(10, 14, UNKNOWN)])
    with caplog.at_level(logging.WARNING):
        write_documents([doc], tmp_path / "p.pubtator")
    (message,) = warnings(caplog)
    assert "2 spans labeled '-' (unknown) in layer 'pred' not written" in message


@pytest.mark.parametrize("doc, message", [
    (Document("a b", "x"), "cannot be a PubTator id"),
    (Document("7", "x", meta={"relations": [["5", "x"]]}), "expected a relation type"),
    (Document("7", "x", meta={"relations": [["CID", "D1 "]]}), "would end its line in spaces"),
])
def test_pubtator_writer_refuses_what_would_not_read_back(tmp_path, doc, message):
    with pytest.raises(DistantError, match=message):
        write_documents([doc], tmp_path / "p.pubtator")
    assert not (tmp_path / "p.pubtator").exists()


# -- CoNLL: schemes, detected or given; no entity lost ------------------------------------------------------
def test_conll_iob1_is_detected_and_said(tmp_path, caplog):
    content = "a\tI-X\nb\tI-X\nc\tB-X\nd\tO\ne\tI-Y\n"
    with caplog.at_level(logging.INFO):
        (doc,) = read_documents(write_bytes(tmp_path / "t.conll", content))
    assert token_spans(doc) == [(0, 2, "X"), (2, 3, "X"), (4, 5, "Y")]
    (message,) = warnings(caplog)
    assert message.endswith("t.conll: read as IOB1 (detected from its tags; pass the scheme to override)")
    with pytest.raises(DistantError, match=r"t\.conll:3: invalid tag 'B-X' for scheme IO"):  # a given scheme is used
        read_documents(tmp_path / "t.conll", scheme="IO")


@pytest.mark.parametrize("sequences, scheme", [
    ([["B-X", "I-X", "O", "B-Y"]], "IOB2"), ([["I-X", "B-X"], ["I-Y"]], "IOB1"), ([["I-X", "O", "B-X"]], "IOB2"),
    ([["B-X", "E-X"]], "IOBES"), ([["U-X"]], "IOBES"), ([["I-X", "I-Y"]], "IO"), ([["O", "-"]], "IOB2"),
])
def test_detect_scheme(sequences, scheme):
    assert detect_scheme(sequences) == scheme


def test_conll_info_for_iob2_detection(tmp_path, caplog):
    with caplog.at_level(logging.INFO):
        read_documents(write_bytes(tmp_path / "t.conll", "a\tB-X\nb\tI-X\n"))
    assert any("read as IOB2" in r.getMessage() and r.levelno == logging.INFO for r in caplog.records)
    assert warnings(caplog) == []


def test_conll_iob1_round_trip_keeps_every_entity(tmp_path):
    doc = Document("d", "a b c d e f")
    doc.set_spans("gold", [Span(0, 3, "X"), Span(4, 5, "X"), Span(6, 7, "Y"), Span(10, 11, "X")])
    write_documents([doc], tmp_path / "t.conll", layer="gold", scheme="IOB1")
    (again,) = read_documents(tmp_path / "t.conll")
    assert spans(again) == spans(doc)


@pytest.mark.parametrize("tags, scheme, expected, lines", [
    (["O", "I-X", "I-X", "O"], "IOB2", [(1, 3, "X")], [2]),  # a lone I-X starts an entity (conlleval)
    (["B-X", "I-X", "O"], "IOBES", [(0, 2, "X")], [2]),  # no E-X: ends at its last I-
    (["O", "I-X", "E-X"], "IOBES", [(1, 3, "X")], [2]),  # no B-X
    (["E-X", "S-Y"], "IOBES", [(0, 1, "X"), (1, 2, "Y")], [1]),
    (["B-X", "E-Y"], "IOBES", [(0, 1, "X"), (1, 2, "Y")], [1, 2]),
])
def test_conll_tags_the_scheme_cannot_honour_are_repaired_counted_and_refused_when_strict(
        tmp_path, caplog, tags, scheme, expected, lines):
    content = "".join(f"w{k}\t{tag}\n" for k, tag in enumerate(tags))
    path = write_bytes(tmp_path / "r.conll", content)
    with caplog.at_level(logging.WARNING):
        (doc,) = read_documents(path, scheme=scheme)
    assert token_spans(doc) == expected
    (message,) = warnings(caplog)
    assert f"{len(lines)} tags that {scheme} does not allow where they stand" in message
    assert f"line {lines[0]}: " in message
    with pytest.raises(DistantError) as info:
        read_documents(path, scheme=scheme, strict=True)
    assert info.value.line == lines[0] and "strict reading" in str(info.value)


def test_conll_mixed_iobes_and_iob2_tags_lose_no_entity(tmp_path, caplog):
    content = "a\tB-X\nb\tI-X\nc\tO\nd\tS-Y\ne\tB-X\nf\tE-X\ng\tI-Y\n"
    with caplog.at_level(logging.WARNING):
        (doc,) = read_documents(write_bytes(tmp_path / "m.conll", content))
    assert token_spans(doc) == [(0, 2, "X"), (3, 4, "Y"), (4, 6, "X"), (6, 7, "Y")]
    assert any("read as IOBES" in m for m in warnings(caplog))
    assert any("2 tags that IOBES does not allow" in m for m in warnings(caplog))


def test_tags_to_spans_keeps_seqeval_strict_semantics():
    assert tags_to_spans(["O", "I-X", "I-X"], "IOB2") == []
    assert decode_tags(["O", "I-X", "I-X"], "IOB2")[0] == [(1, 3, "X")]


def test_conll_io_writer_counts_adjacent_entities_that_merge(tmp_path, caplog):
    doc = Document("d", "a b c d")
    doc.set_spans("gold", [Span(0, 1, "X"), Span(2, 3, "X"), Span(4, 5, "X"), Span(6, 7, "Y")])
    with caplog.at_level(logging.WARNING):
        write_documents([doc], tmp_path / "io.conll", layer="gold", scheme="IO")
    (message,) = warnings(caplog)
    assert "2 pairs of adjacent entities of one type in layer 'gold' merge into one entity in IO" in message
    with caplog.at_level(logging.WARNING):
        write_documents([doc], tmp_path / "b.conll", layer="gold", scheme="IOB2")
    assert len(warnings(caplog)) == 1


@pytest.mark.parametrize("n_docs", [1, 2])
def test_conll_document_without_tokens_reads_back_as_an_empty_document(tmp_path, n_docs):
    docs = [Document("empty", "   "), Document("full", "Aspirin")][:n_docs]
    write_documents(docs, tmp_path / "e.conll", layer="gold")
    again = read_documents(tmp_path / "e.conll")
    assert [(d.id, d.text, d.tokens) for d in again] == [("empty", "", []), ("full", "Aspirin", [(0, 7)])][:n_docs]


def test_conll_writer_refuses_tokens_and_ids_that_would_not_read_back(tmp_path):
    doc = Document("d", "a -DOCSTART-x")
    doc.set_tokens([(0, 1), (2, 13)])
    with pytest.raises(DistantError, match="does not start with -DOCSTART-"):
        write_documents([doc], tmp_path / "t.conll")
    with pytest.raises(DistantError, match="cannot name a CoNLL document"):
        write_documents([Document("-X- O", "a"), Document("b", "b")], tmp_path / "t.conll")


# -- labels and texts a format cannot hold --------------------------------------------------------------------
@pytest.mark.parametrize("label", ["", "a\tb", "a\nb", "a\rb", " a", "a\u2028b"])
def test_bad_labels_are_refused_at_every_boundary(tmp_path, label):
    doc = Document("d1", "Aspirin")
    with pytest.raises(DistantError, match="document d1: layer 'gold': found label"):
        doc.set_spans("gold", [Span(0, 7, label)])
    doc.layers["gold"] = [Span(0, 7, label)]  # built without set_spans
    for fmt in ("pubtator", "conll", "jsonl", "docbin"):
        with pytest.raises(DistantError, match="document d1: layer 'gold': found label"):
            write_documents([doc], tmp_path / f"out{SUFFIX[fmt]}", layer="gold")
    line = json.dumps({"id": "d1", "text": "Aspirin", "spans": {"g": [{"start": 0, "end": 7, "label": label}]}})
    with pytest.raises(DistantError, match=r"j\.jsonl:1: spans\.g\[0\]\.label: found label"):
        read_documents(write_bytes(tmp_path / "j.jsonl", line + "\n"))


@pytest.mark.parametrize("line, where", [
    ('{"id": "a", "text": "ab\\ud800c"}', "in text,"),
    ('{"id": "a\\udc00", "text": "abc"}', "in id,"),
    ('{"id": "a", "text": "abc", "meta": {"k": ["\\ud800"]}}', "in meta.k[0],"),
    ('{"id": "a", "text": "abc", "meta": {"\\ud800": 1}}', "in a key of meta,"),
    ('{"id": "a", "text": "abc", "spans": {"g": [{"start": 0, "end": 1, "label": "X", "kb_id": "\\udfff"}]}}',
     "in spans.g[0].kb_id,"),
])
def test_jsonl_lone_surrogate_is_an_error_naming_the_line(tmp_path, line, where):
    path = write_bytes(tmp_path / "s.jsonl", '{"id": "ok", "text": "a \\ud83d\\ude00 pair is fine"}\n' + line + "\n")
    with pytest.raises(DistantError, match="found a lone surrogate") as info:
        read_documents(path)
    assert info.value.line == 2 and where in str(info.value) and "expected valid Unicode" in str(info.value)
    str(info.value).encode("utf-8")  # the message itself can be printed


@pytest.mark.parametrize("fmt", ["text", "pubtator", "conll", "jsonl", "docbin"])
def test_writers_refuse_a_lone_surrogate_naming_the_document(tmp_path, fmt):
    with pytest.raises(DistantError, match=r"document 'd1': found a lone surrogate '\\ud800' in its text"):
        write_documents([Document("d1", "ab\ud800c")], tmp_path / f"out{SUFFIX[fmt]}")


@pytest.mark.parametrize("key, value", [
    ("title_length", "3"), ("title_length", 99), ("breaks", 5), ("breaks", ["a"]), ("relations", "CID"),
    ("relations", [[1, 2]]), ("mention_columns", []), ("mention_columns", {"gold": [[0, 1, "X"]]}),
    ("columns", [["a", None]]), ("columns", "NN"), ("abstract_line", "no"),
])
def test_malformed_meta_is_an_error_at_the_jsonl_boundary_and_in_writers(tmp_path, key, value):
    line = json.dumps({"id": "a", "text": "abc", "meta": {key: value}})
    with pytest.raises(DistantError, match=rf"m\.jsonl:1: found meta\.{key} = .*, expected"):
        read_documents(write_bytes(tmp_path / "m.jsonl", line + "\n"))
    for fmt in ("pubtator", "conll", "jsonl", "docbin"):
        with pytest.raises(DistantError, match=rf"document a: found meta\.{key} = "):
            write_documents([Document("a", "abc", meta={key: value})], tmp_path / f"o{SUFFIX[fmt]}")


def test_deeply_nested_json_is_an_error(tmp_path):
    nested = "[" * 100000 + "]" * 100000
    path = write_bytes(tmp_path / "deep.jsonl", '{"id": "a", "text": "b", "meta": {"x": ' + nested + "}}\n")
    with pytest.raises(DistantError, match=r"deep\.jsonl:1: found JSON nested too deeply"):
        read_documents(path)


def test_huge_json_integer_is_an_error(tmp_path):
    path = write_bytes(tmp_path / "big.jsonl", '{"id": "a", "text": "b", "meta": {"x": ' + "9" * 5000 + "}}\n")
    with pytest.raises(DistantError, match=r"big\.jsonl:1: found an unreadable JSON value"):
        read_documents(path)


@pytest.mark.parametrize("name", ["out.txt", "out"])
def test_plain_text_chosen_by_name_refuses_to_drop_spans(tmp_path, name):
    doc = Document("d1", "Aspirin cures fever.")
    doc.set_spans("pred", [Span(0, 7, "Chemical"), Span(14, 19, "Disease")])
    with pytest.raises(DistantError, match=r"found 2 spans in layer 'pred' .*expected a format that holds them "
                                           r"\(pubtator, conll, jsonl, docbin, wrench, bioc, bioc-json, brat\)"):
        write_documents([doc], tmp_path / name)
    assert not (tmp_path / name).exists()
    write_documents([Document("d2", "No spans.")], tmp_path / name)  # nothing to lose


def test_plain_text_named_explicitly_writes_and_counts_the_spans_left_out(tmp_path, caplog):
    doc = Document("d1", "Aspirin cures fever.")
    doc.set_spans("pred", [Span(0, 7, "Chemical"), Span(14, 19, "Disease")])
    with caplog.at_level(logging.WARNING):
        write_documents([doc], tmp_path / "out.txt", "text")
    assert (tmp_path / "out.txt").read_text() == "Aspirin cures fever.\n"
    assert "2 spans in layer 'pred' not written: text holds no spans" in warnings(caplog)[0]


# -- DocBin keeps everything ----------------------------------------------------------------------------------
def test_docbin_keeps_meta_scores_sources_and_every_layer(tmp_path):
    from spacy.tokens import DocBin
    from spacy.vocab import Vocab

    doc = Document("p1", "Aspirin cures fever.", meta={"title_length": 7, "relations": [["CID", "D1", "D2"]]})
    doc.set_tokens([(0, 7), (8, 13), (14, 19), (19, 20)], [(0, 4)])
    doc.set_spans("pred", [Span(0, 7, "Chemical", "model", "D1", 0.25), Span(14, 19, "Disease", "", None, 0.9)])
    doc.set_spans("dict", [Span(0, 7, "Chemical", "dict"), Span(1, 7, "Chemical|Disease", "dict", kb_id=""),
                           Span(8, 13, UNKNOWN, "dict")])
    write_documents([doc], tmp_path / "a.spacy")
    (again,) = read_documents(tmp_path / "a.spacy")
    assert (again.id, again.text, again.tokens, again.sentences, again.layers, again.meta) == \
           (doc.id, doc.text, doc.tokens, doc.sentences, doc.layers, doc.meta)

    sdoc = next(DocBin().from_disk(tmp_path / "a.spacy").get_docs(Vocab()))  # what spaCy users see
    assert [(e.text, e.label_) for e in sdoc.ents] == [("Aspirin", "Chemical"), ("fever", "Disease")]
    assert sorted(sdoc.spans) == ["dict", "pred"] and sdoc.user_data["distant_id"] == "p1"


def test_docbin_spans_changed_by_spacy_code_are_read_from_doc_spans(tmp_path, caplog):
    from spacy.tokens import DocBin
    from spacy.vocab import Vocab

    doc = Document("p1", "Aspirin cures fever.")
    doc.set_spans("pred", [Span(0, 7, "Chemical", "model", score=0.5)])
    write_documents([doc], tmp_path / "a.spacy")
    vocab = Vocab()
    sdoc = next(DocBin().from_disk(tmp_path / "a.spacy").get_docs(vocab))
    sdoc.spans["pred"] = [sdoc.char_span(14, 19, label="Disease")]
    DocBin(docs=[sdoc], store_user_data=True).to_disk(tmp_path / "b.spacy")
    with caplog.at_level(logging.WARNING):
        (again,) = read_documents(tmp_path / "b.spacy")
    assert again.spans("pred") == [Span(14, 19, "Disease", "pred")]
    assert "1 documents have doc.spans groups changed since distant wrote them" in warnings(caplog)[0]


# -- standard input and output --------------------------------------------------------------------------------
def stdin(monkeypatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


@pytest.mark.parametrize("fmt", sorted(GOOD))
def test_dash_reads_standard_input(tmp_path, monkeypatch, fmt):
    expected = read_same(tmp_path, fmt, GOOD[fmt])
    stdin(monkeypatch, GOOD[fmt].encode())
    assert [(d.text, spans(d)) for d in read_documents("-", fmt)] == expected


def test_dash_reads_a_docbin_from_standard_input(tmp_path, monkeypatch):
    doc = Document("p1", "Aspirin")
    doc.set_spans("gold", [Span(0, 7, "Chemical", "gold")])
    write_documents([doc], tmp_path / "a.spacy")
    stdin(monkeypatch, (tmp_path / "a.spacy").read_bytes())
    assert read_documents("-", "docbin")[0].layers == doc.layers


def test_errors_on_standard_input_name_it(monkeypatch):
    stdin(monkeypatch, b"1|t|Title\n1\tx\n")
    with pytest.raises(DistantError, match=r"^<stdin>:2: found"):
        read_documents("-", "pubtator")
    stdin(monkeypatch, b"")
    with pytest.raises(DistantError, match=r"^<stdin>: empty input"):
        read_documents("-", "jsonl")


def test_text_from_standard_input_is_named_stdin(monkeypatch):
    stdin(monkeypatch, b"one\ntwo\n")
    assert [d.id for d in read_documents("-", "text")] == ["stdin:1", "stdin:2"]


def test_dash_needs_a_named_format():
    with pytest.raises(DistantError, match=r"cannot tell the format of standard input .*--from jsonl"):
        detect_format("-")
    with pytest.raises(DistantError, match=r"standard output .*--to jsonl"):
        write_documents([Document("a", "b")], "-")


@pytest.mark.parametrize("fmt", ["text", "pubtator", "conll", "jsonl", "docbin"])
def test_dash_writes_standard_output_and_never_a_folder(tmp_path, monkeypatch, fmt):
    out = io.TextIOWrapper(io.BytesIO())
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.chdir(tmp_path)
    doc = Document("d1", "Aspirin cures.")
    if fmt != "text":
        doc.set_spans("pred", [Span(0, 7, "Chemical")])
    write_documents([doc], "-", fmt)
    out.flush()
    data = out.buffer.getvalue()
    assert data and not (tmp_path / "-").exists()
    write_bytes(tmp_path / f"back{SUFFIX[fmt]}", data)
    (again,) = read_documents(tmp_path / f"back{SUFFIX[fmt]}", fmt, layer="pred")
    assert again.text.replace(" .", ".") == doc.text and spans(again, "pred") == spans(doc, "pred")
