"""The exchange formats: BioC XML and JSON, brat standoff, and the annotation tools' exports.

Round trips with hypothesis (what a writer writes its reader reads back unchanged), files as other tools
write them, what cannot be held counted, and malformed input refused with one line naming file and line.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from distant.cli import app
from distant.docs import UNKNOWN, Document, O, Span
from distant.errors import DistantError
from distant.formats import convert, detect_format, read_documents, write_documents
from distant.formats.validate import check_document
from distant.jobs import expand_inputs

EXAMPLES = int(os.environ.get("DISTANT_FUZZ_EXAMPLES", "30"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))

# XML 1.0 holds no C0 control character but tab and line breaks, no lone surrogate, no U+FFFE/U+FFFF.
XML_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="".join(
    chr(c) for c in range(32) if chr(c) not in "\t\n\r") + "\ufffe\uffff")
LABEL = st.one_of(st.sampled_from(("Chemical", "Disease", "Chemical|Disease", "Gene_or_protein")),
                  st.from_regex(r"[A-Za-z][A-Za-z0-9_.|-]{0,5}", fullmatch=True).filter(lambda s: s != O))
KB = st.none() | st.from_regex(r"[A-Za-z0-9:_-]{1,8}", fullmatch=True)


def warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def keys(spans, score: bool = True) -> list[tuple]:
    return sorted((s.start, s.end, s.label, s.kb_id or "", -1.0 if s.score is None or not score else s.score)
                  for s in spans)


@st.composite
def documents(draw, chars=XML_CHARS, max_docs: int = 3) -> list[Document]:
    docs = []
    for k in range(draw(st.integers(1, max_docs))):
        title = draw(st.text(chars, max_size=12))
        abstract = draw(st.text(chars, max_size=20))
        text = f"{title} {abstract}" if abstract and draw(st.booleans()) else title + abstract
        meta = {"title_length": len(title)} if text.startswith(title + " ") else {}
        if draw(st.booleans()):
            meta["relations"] = [["CID", "D1", draw(st.from_regex(r"[A-Z][0-9]{1,3}", fullmatch=True))]]
        doc = Document(f"d{k}", text, meta=meta)
        spans = []
        for _ in range(draw(st.integers(0, 5)) if text else 0):
            start = draw(st.integers(0, len(text) - 1))
            end = draw(st.integers(start + 1, len(text)))
            spans.append(Span(start, end, draw(st.one_of(LABEL, st.just(UNKNOWN), st.just(O))), "gold", draw(KB),
                              draw(st.none() | st.floats(0, 1))))
        doc.layers["gold"] = sorted(spans, key=Span.key)
        docs.append(doc)
    return docs


def entities(doc: Document) -> list[Span]:
    return [s for s in doc.spans("gold") if s.label not in (O, UNKNOWN)]


@FUZZ
@given(docs=documents(), fmt=st.sampled_from(("bioc", "bioc-json")))
def test_bioc_round_trip_keeps_text_spans_relations_and_bytes(tmp_path, caplog, docs, fmt):
    path = tmp_path / ("f.bioc.xml" if fmt == "bioc" else "f.bioc.json")
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        write_documents(docs, path, layer="gold")
    unknown = sum(s.label == UNKNOWN for d in docs for s in d.spans("gold"))
    assert bool(unknown) == any(f"{unknown} spans labeled '-'" in m for m in warnings(caplog))
    again = read_documents(path, strict=True)
    assert detect_format(path) == fmt
    assert [(d.id, d.text, d.meta.get("relations")) for d in again] == \
           [(d.id, d.text, d.meta.get("relations")) for d in docs]
    assert [d.meta.get("title_length") for d in again] == \
           [d.meta.get("title_length") if len(d.text) > d.meta.get("title_length", len(d.text)) + 1 else None
            for d in docs]
    assert [keys(d.spans("gold")) for d in again] == [keys(entities(d)) for d in docs]
    write_documents(again, tmp_path / path.name.replace("f.", "g."), layer="gold")
    assert (tmp_path / path.name.replace("f.", "g.")).read_bytes() == path.read_bytes()


BRAT_CHARS = st.characters(blacklist_categories=("Cs",))


@FUZZ
@given(docs=documents(BRAT_CHARS), single=st.booleans())
def test_brat_round_trip_keeps_text_and_spans(tmp_path, caplog, docs, single):
    docs = docs[:1] if single else docs
    tmp_path = Path(tempfile.mkdtemp(dir=tmp_path))  # one folder per example
    out = tmp_path / ("one.ann" if single else "out")
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        write_documents(docs, out, "brat", layer="gold")
    scored = sum(s.score is not None for d in docs for s in entities(d))
    assert bool(scored) == any(f"the scores of {scored} spans" in m for m in warnings(caplog))
    again = read_documents(out, "brat" if single else None, strict=True)
    expected_ids = ["one"] if single else [d.id for d in docs]
    assert [(d.id, d.text) for d in again] == list(zip(expected_ids, [d.text for d in docs]))
    assert [keys(d.spans("gold"), score=False) for d in again] == [keys(entities(d), score=False) for d in docs]
    second = tmp_path / ("two.ann" if single else "out2")
    write_documents(again, second, "brat", layer="gold")
    first_files = sorted(out.glob("*")) if not single else [out, out.with_suffix(".txt")]
    second_files = sorted(second.glob("*")) if not single else [second, second.with_suffix(".txt")]
    assert [p.read_bytes() for p in first_files] == [p.read_bytes() for p in second_files]


BIOC_FROM_ANOTHER_TOOL = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE collection SYSTEM "BioC.dtd">
<collection><source>PubTator</source><date>2024-01-01</date><key>BioC.key</key>
<document><id>227508</id>
<infon key="journal">Lancet</infon>
<passage><infon key="type">title</infon><offset>0</offset><text>Naloxone reverses clonidine.</text>
<annotation id="0"><infon key="type">Chemical</infon><infon key="MESH">D009270</infon>
<location offset="0" length="8"/><text>Naloxone</text></annotation></passage>
<passage><infon key="type">abstract</infon><offset>29</offset>
<sentence><offset>29</offset><text>Clonidine lowers blood pressure.</text>
<annotation id="1"><infon key="type">Chemical</infon><infon key="identifier">D003000</infon>
<location offset="29" length="9"/><text>Clonidine</text></annotation></sentence>
<sentence><offset>62</offset><text>Hypotension followed.</text>
<annotation id="2"><infon key="type">Disease</infon><location offset="62" length="11"/><text>Hypotension</text>
</annotation>
<annotation id="3"><infon key="type">Disease</infon><location offset="46" length="5"/><location offset="56" length="4"/>
<text>blood sure</text></annotation></sentence></passage>
<relation id="R0"><infon key="relation">CID</infon><node refid="1" role="Chemical"/><node refid="2" role="Disease"/>
</relation>
</document></collection>
"""


def test_bioc_from_another_tool_reads_sentences_infons_relations_and_counts_discontinuous(tmp_path, caplog):
    path = tmp_path / "c.xml"
    path.write_text(BIOC_FROM_ANOTHER_TOOL, encoding="utf-8")
    assert detect_format(path) == "bioc"  # a <collection>, not PubMed XML
    with caplog.at_level(logging.WARNING):
        (doc,) = read_documents(path)
    assert doc.text == "Naloxone reverses clonidine. Clonidine lowers blood pressure. Hypotension followed."
    assert doc.meta["title_length"] == 28 and doc.meta["breaks"] == [29]
    assert [(doc.span_text(s), s.label, s.kb_id) for s in doc.spans("gold")] == [
        ("Naloxone", "Chemical", None), ("Clonidine", "Chemical", "D003000"), ("Hypotension", "Disease", None)]
    assert any("1 annotations with several locations or none" in m for m in warnings(caplog))
    with pytest.raises(DistantError, match="with 2 locations, expected one location"):
        read_documents(path, strict=True)
    out = tmp_path / "out.bioc.xml"
    write_documents([doc], out, layer="gold")
    (again,) = read_documents(out)
    assert (again.text, again.layers, again.meta) == (doc.text, doc.layers, doc.meta)
    text = out.read_text(encoding="utf-8")
    for kept in ('<node refid="1" role="Chemical"/>', '<infon key="MESH">D009270</infon>', "<source>PubTator</source>",
                 '<location offset="56" length="4"/>', '<infon key="journal">Lancet</infon>'):
        assert kept in text


BRAT_ANN = ("T1\tChemical 0 7\tAspirin\nT2\tDisease 14 19\tfever\nT3\tDisease 0 3;4 7\tAsp rin\n"
            "N1\tReference T1 MESH:D001241\tAspirin\nR1\tTreats Arg1:T1 Arg2:T2\nA1\tNegated T2\n#1\tAnnotatorNotes T2\tok\n")


def test_brat_folder_keeps_relations_notes_ids_and_counts_discontinuous(tmp_path, caplog):
    folder = tmp_path / "brat"
    folder.mkdir()
    (folder / "a.txt").write_text("Aspirin cures fever.\nOn two lines.", encoding="utf-8")
    (folder / "a.ann").write_text(BRAT_ANN, encoding="utf-8")
    (folder / "b.txt").write_text("No annotations here.", encoding="utf-8")
    assert detect_format(folder) == "brat" and expand_inputs([folder]) == [folder]
    with caplog.at_level(logging.WARNING):
        a, b = read_documents(folder)
    assert any("1 discontinuous annotations" in m for m in warnings(caplog))
    assert [(a.span_text(s), s.label, s.kb_id) for s in a.spans("gold")] == [("Aspirin", "Chemical", "MESH:D001241"),
                                                                             ("fever", "Disease", None)]
    assert b.id == "b" and b.spans("gold") == []
    write_documents([a, b], tmp_path / "out", "brat", layer="gold")
    written = (tmp_path / "out" / "a.ann").read_text(encoding="utf-8").splitlines()
    assert sorted(written) == sorted(BRAT_ANN.replace("\tAspirin\nR1", "\nR1").splitlines())
    assert (tmp_path / "out" / "a.txt").read_text(encoding="utf-8") == a.text
    assert (tmp_path / "out" / "b.ann").read_text(encoding="utf-8") == ""


def test_pubtator_relations_survive_pubtator_jsonl_pubtator(tmp_path):
    src = tmp_path / "r.pubtator"
    src.write_text("7|t|Aspirin cures fever.\n7|a|It does.\n7\t0\t7\tAspirin\tChemical\tD1\n"
                   "7\t14\t19\tfever\tDisease\tD2\n7\tCID\tD1\tD2\n\n", encoding="utf-8")
    for middle in ("m.jsonl", "m.bioc.xml", "m.bioc.json"):
        convert(src, tmp_path / middle)
        convert(tmp_path / middle, tmp_path / "back.pubtator")
        assert (tmp_path / "back.pubtator").read_bytes() == src.read_bytes(), middle


def test_annotation_tool_exports_are_read(tmp_path, caplog):
    prodigy = tmp_path / "p.jsonl"
    prodigy.write_text(json.dumps({"text": "Aspirin cures fever.", "meta": {"id": "p1"}, "answer": "accept",
                                   "spans": [{"start": 0, "end": 7, "label": "Chemical", "token_start": 0}]}) + "\n"
                       + json.dumps({"text": "No.", "answer": "reject", "spans": [{"start": 0, "end": 2,
                                                                                  "label": "X"}]}) + "\n")
    with caplog.at_level(logging.WARNING):
        p1, p2 = read_documents(prodigy, "prodigy")
    assert (p1.id, [s.key() for s in p1.spans("gold")]) == ("p1", [(0, 7, "Chemical")])
    assert (p2.id, p2.spans("gold")) == ("p:2", [])
    assert any("not read as spans: 1 examples answered other than accept (line 2: reject)" in m
               for m in warnings(caplog))
    assert len(read_documents(prodigy, "prodigy", strict=True)) == 2  # not a quirk: strict reads it too
    doccano = tmp_path / "d.jsonl"
    doccano.write_text(json.dumps({"id": 3, "text": "Aspirin cures fever.", "label": [[14, 19, "Disease"]]}) + "\n"
                       + json.dumps({"id": 4, "text": "Aspirin.", "entities": [
                           {"id": 1, "label": "Chemical", "start_offset": 0, "end_offset": 7}]}) + "\n")
    d3, d4 = read_documents(doccano, "doccano")
    assert [(d.id, [s.key() for s in d.spans("gold")]) for d in (d3, d4)] == [("3", [(14, 19, "Disease")]),
                                                                             ("4", [(0, 7, "Chemical")])]
    studio = tmp_path / "export.json"
    studio.write_text(json.dumps([{"id": 9, "data": {"text": "Aspirin cures fever."}, "annotations": [
        {"was_cancelled": False, "result": [
            {"type": "labels", "value": {"start": 0, "end": 7, "text": "Aspirin", "labels": ["Chemical"]}},
            {"type": "choices", "value": {"choices": ["good"]}}]}],
        "predictions": [{"score": 0.5, "result": [{"type": "labels", "value": {"start": 14, "end": 19,
                                                                                "labels": ["Disease"]}}]}]}]))
    assert detect_format(studio) == "labelstudio"
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        (task,) = read_documents(studio)
    assert any("1 results that are not text spans (choices, ratings, relations) (task 9: choices)" in m
               for m in warnings(caplog))
    assert [s.key() for s in task.spans("gold")] == [(0, 7, "Chemical")]
    assert [(s.key(), s.score) for s in task.spans("pred")] == [((14, 19, "Disease"), 0.5)]


@pytest.mark.parametrize("fmt, name, content, message", [
    ("bioc", "x.bioc.xml", ("<collection><document><id>1</id><passage><offset>zero</offset></passage></document>"
     "</collection>"), "malformed BioC element in the first document"),
    ("bioc", "x.bioc.xml", "<collection>\n<document>\n</collection>", r"x.bioc.xml:3: found XML that is not well-formed"),
    ("bioc", "x.bioc.xml", ("<collection><document><id>1</id><passage><offset>0</offset><text>abc</text>"
     "<annotation id='a'><location offset='1' length='9'/></annotation></passage></document></collection>"),
     "document 1: found annotation a at 1-10, expected 0 <= start < end <= 3"),
    ("bioc", "x.bioc.xml", ("<collection><document><id>1</id><passage><offset>0</offset><text>abc</text>"
     "<annotation id='a'><location offset='1' length='1'/></annotation></passage></document></collection>"),
     "without a \"type\" infon"),
    ("bioc-json", "x.bioc.json", '{"source": "", "date": "", "key": "", "infons": {},\n "documents": [1]}',
     "found a malformed document 1"),
    ("bioc-json", "x.bioc.json", '{"documents": [\n}', r"x.bioc.json:2: found invalid JSON"),
    ("brat", "x.ann", "T1\tChemical 0 99\tAspirin\n", r"x.ann:1: found offsets 0 99"),
    ("brat", "x.ann", "T1\tChemical 0 7\tAspirin\nT1\tChemical 0 7\tAspirin\n", r"x.ann:2: found the id T1"),
    ("brat", "x.ann", "T1 Chemical 0 7 Aspirin\n", r"x.ann:1: found 'T1 Chemical 0 7 Aspirin', expected a brat .ann file"),
    ("brat", "x.ann", "T1\tChemical 0 7\tAspirin\nT 2\tDisease 14 19\tfever\n",  # an id with a space (found by fuzzing)
     r"x.ann:2: found 'T 2\\tDisease 14 19\\tfever', expected a text-bound annotation"),
    ("prodigy", "x.jsonl", '{"text": "abc", "spans": [{"start": 0, "end": "1", "label": "X"}]}\n',
     r"x.jsonl:1: found offsets 0, \"1\", expected integers"),
    ("doccano", "x.jsonl", '{"text": "abc"}\n{"text": "abc", "label": [[0, 1]]}\n', r"x.jsonl:2: found label ="),
    ("labelstudio", "x.json", ('[{"data": {"text": "abc"}, "annotations": [{"result": [{"value": {"start": 0, '
     '"end": 1, "labels": []}}]}]}]'), r"task 1: found value"),
])
def test_malformed_input_is_one_line_and_exit_2(tmp_path, fmt, name, content, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    if fmt == "brat":
        path.with_suffix(".txt").write_text("Aspirin cures fever.", encoding="utf-8")
    with pytest.raises(DistantError, match=message):
        read_documents(path, fmt)
    result = CliRunner().invoke(app, ["convert", str(path), str(tmp_path / "o.jsonl"), "--from", fmt])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and result.output.startswith("distant: error: ")


@pytest.mark.parametrize("doc, message", [
    (Document("a", "x y", layers={"gold": [Span(0, 1, "has space")]}), "with whitespace, expected a brat type"),
    (Document("a/b", "x"), "not a safe file name"),
])
def test_brat_writer_refuses_what_it_cannot_read_back(tmp_path, doc, message):
    with pytest.raises(DistantError, match=message):
        write_documents([doc], tmp_path / "out", "brat", layer="gold")


def test_bioc_xml_writer_refuses_control_characters(tmp_path):
    with pytest.raises(DistantError, match="cannot write as XML"):
        write_documents([Document("a", "x\x01y")], tmp_path / "o.bioc.xml")


def test_malformed_bioc_meta_is_refused_before_writing(tmp_path):
    doc = Document("a", "abc", meta={"bioc": {"passages": [["0", 3, {}]]}})
    with pytest.raises(DistantError, match="meta.bioc"):
        write_documents([doc], tmp_path / "o.bioc.xml")


def test_cli_converts_between_the_exchange_formats(tmp_path):
    runner = CliRunner()
    gold = "data/sample/gold.pubtator"
    assert runner.invoke(app, ["convert", gold, str(tmp_path / "g.bioc.xml")]).exit_code == 0
    assert runner.invoke(app, ["convert", str(tmp_path / "g.bioc.xml"), str(tmp_path / "brat"), "--to", "brat"]
                         ).exit_code == 0
    assert runner.invoke(app, ["convert", str(tmp_path / "brat"), str(tmp_path / "g.bioc.json")]).exit_code == 0
    assert runner.invoke(app, ["convert", str(tmp_path / "g.bioc.json"), str(tmp_path / "g.jsonl")]).exit_code == 0
    result = runner.invoke(app, ["evaluate", gold, str(tmp_path / "g.jsonl"), "--pred-layer", "gold", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["micro"]["f1"] == 1.0


@settings(FUZZ, max_examples=EXAMPLES * 2)
@given(fmt=st.sampled_from(("bioc", "bioc-json", "brat", "prodigy", "doccano", "labelstudio")), data=st.data(),
       strict=st.booleans())
def test_readers_raise_nothing_but_distant_error(tmp_path, fmt, data, strict):
    valid = {"bioc": BIOC_FROM_ANOTHER_TOOL, "brat": BRAT_ANN,
             "bioc-json": '{"source": "", "date": "", "key": "", "infons": {}, "documents": [{"id": "1", "infons": {}, '
                          '"passages": [{"offset": 0, "text": "abc", "infons": {}, "annotations": [{"id": "a", "infons": '
                          '{"type": "X"}, "text": "ab", "locations": [{"offset": 0, "length": 2}]}]}]}]}',
             "prodigy": '{"text": "abc", "spans": [{"start": 0, "end": 2, "label": "X"}]}\n',
             "doccano": '{"id": 1, "text": "abc", "label": [[0, 2, "X"]]}\n',
             "labelstudio": '[{"id": 1, "data": {"text": "abc"}, "annotations": [{"result": [{"value": {"start": 0, '
                            '"end": 2, "labels": ["X"]}}]}]}]'}[fmt]
    raw = bytearray(valid.encode("utf-8"))
    for _ in range(data.draw(st.integers(0, 4))):
        k = data.draw(st.integers(0, len(raw) - 1))
        if data.draw(st.booleans()):
            raw[k] = data.draw(st.sampled_from(b"0123456789{}[]<>\"/:;, \t\n\rTNR#-x\x00\xff"))
        else:
            del raw[k]
    name = {"bioc": "x.bioc.xml", "bioc-json": "x.bioc.json", "brat": "x.ann", "labelstudio": "x.json"}.get(fmt,
                                                                                                          "x.jsonl")
    path = tmp_path / name
    path.write_bytes(bytes(raw))
    if fmt == "brat":
        path.with_suffix(".txt").write_text("Aspirin cures fever.\nOn two lines.", encoding="utf-8")
    try:
        docs = read_documents(path, fmt, strict=strict)
    except DistantError as e:
        assert "\n" not in str(e)
        return
    for doc in docs:
        check_document(doc, path)


def test_a_shard_folder_lists_json_shards_but_not_its_manifest(tmp_path):
    (tmp_path / "a.json").write_text("[]")
    (tmp_path / "manifest.json").write_text("{}")
    assert [p.name for p in expand_inputs([tmp_path])] == ["a.json"]  # a Label Studio export is a shard
