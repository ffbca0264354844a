"""BioC XML and BioC JSON, read and written with the ``bioc`` package (its data model, reader and encoders).

::

    <collection><source>PubTator</source><date/><key/>
      <document><id>8701013</id>
        <passage><infon key="type">title</infon><offset>0</offset><text>Famotidine-associated delirium.</text>
          <annotation id="0"><infon key="type">Chemical</infon><infon key="identifier">D015738</infon>
            <location offset="0" length="10"/><text>Famotidine</text></annotation>
        </passage>
        <passage><infon key="type">abstract</infon><offset>32</offset><text>Famotidine is ...</text></passage>
      </document>
    </collection>

A document's text is its passages placed at their offsets (characters from the start of the document), the
gaps between them filled with spaces: the title and abstract passages of a PubTator-derived file give the
PubTator text, and ``meta["title_length"]`` is set when the first passage is a title followed one space later
by the next. A passage without text is read from its sentences, placed the same way. Every annotation (of the
document, its passages or their sentences) is a span of the layer: its ``type`` infon is the label, its
``identifier`` infon the kb_id, ``score`` and ``source`` infons the span's. What a span cannot hold is kept in
``doc.meta["bioc"]`` and written back: the passages' offsets, lengths and infons, the document's infons, the
collection's source, date, key and infons, annotation ids and other infons, relations (written back at the
document level), and annotations with several locations or none (discontinuous: counted in one warning per
file, kept in meta, not as spans). PubTator relation rows (``doc.meta["relations"]``) are written as BioC
relations with ``type``, ``arg1``... infons and read back as rows.

Malformed input (not XML or JSON, a missing required element or key, an offset that is not an integer,
passages that overlap, an annotation outside the text or without a type) is an error naming the file and the
line (XML syntax) or the document. An annotation text that differs from the text at its location is a quirk
(counted; refused when strict); the location is kept.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import bioc
import bioc.biocjson
from bioc.biocxml.decoder import BioCXMLDocumentReader
from bioc.biocxml.encoder import BioCXMLDocumentWriter
from lxml import etree

from distant.atomic import atomic_open
from distant.docs import GOLD, PRED, UNKNOWN, Document, O, Span, label_problem
from distant.errors import DistantError
from distant.formats.lines import Quirks, check_file, open_input, read_text, source_name
from distant.formats.validate import parse_json

log = logging.getLogger(__name__)

EXPECTED_XML = "a BioC XML file (<collection> of <document>s with <passage>s and <annotation>s)"
EXPECTED_JSON = "a BioC JSON file (an object with source, date, key, infons and documents)"
_SPAN_INFONS = ("type", "identifier", "score", "source")
_ARG = "arg"


# -- reading ---------------------------------------------------------------------------------------------------
def read_xml(path: Path, *, layer: str = GOLD, scheme: str | None = None, strict: bool = False
             ) -> Iterator[Document]:
    """Yield the documents of a BioC XML file as they are parsed (``scheme``: unused).

    Raises:
        DistantError: not well-formed XML (naming the line), or a malformed document (naming it).
    """
    path = Path(path)
    name = source_name(path)
    check_file(path, EXPECTED_XML)
    if _blank(path):
        raise DistantError(f"empty input: expected {EXPECTED_XML}", name)
    with Quirks(path, strict=strict) as quirks, open_input(path) as f:
        reader = None
        previous = None
        count = 0
        try:
            reader = BioCXMLDocumentReader(f)
            for document in reader:
                count += 1
                previous = document.id
                yield _document(document, _collection_info(reader.get_collection_info()), layer, name, quirks)
        except etree.XMLSyntaxError as e:
            raise DistantError(f"found XML that is not well-formed ({' '.join(e.msg.split())}), expected {EXPECTED_XML}", name,
                               e.lineno or None) from None
        except (ValueError, TypeError, AttributeError, KeyError) as e:
            where = f"after document {previous}" if previous is not None else "in the first document"
            raise DistantError(f"found a malformed BioC element {where} ({type(e).__name__}: {e}), expected "
                               "integer offsets and lengths, and a refid and role on every node", name) from None
        if not count:
            raise DistantError(f"empty input: found no <document>, expected {EXPECTED_XML}", name)


def _blank(path: Path) -> bool:
    """Whether an input holds nothing but whitespace (read until the first other byte)."""
    with open_input(path) as f:
        while block := f.read(1 << 16):
            if block.strip():
                return False
    return True


def read_json(path: Path, *, layer: str = GOLD, scheme: str | None = None, strict: bool = False
              ) -> Iterator[Document]:
    """Yield the documents of a BioC JSON collection (read whole; ``scheme``: unused).

    Raises:
        DistantError: not JSON (naming the line), or a malformed collection or document (naming it).
    """
    path = Path(path)
    name = source_name(path)
    with Quirks(path, strict=strict) as quirks:
        text = read_text(path, EXPECTED_JSON, quirks)
        if not text.strip():
            raise DistantError(f"empty input: expected {EXPECTED_JSON}", name)
        obj = parse_json(text, EXPECTED_JSON, name)
        if not isinstance(obj, dict) or not isinstance(obj.get("documents"), list):
            raise DistantError(f"found no \"documents\" list at the top, expected {EXPECTED_JSON}", name)
        header = {k: obj.get(k, "") for k in ("source", "date", "key")}
        header["infons"] = obj.get("infons", {})
        try:
            collection = bioc.biocjson.decoder.parse_collection({**header, "documents": []})
        except (KeyError, TypeError, AttributeError) as e:
            raise DistantError(f"found a malformed collection header ({e}), expected {EXPECTED_JSON}", name) from None
        info = _collection_info(collection)
        for k, raw in enumerate(obj["documents"]):
            try:
                document = bioc.biocjson.decoder.parse_doc(_json_defaults(raw))
            except (KeyError, TypeError, AttributeError, ValueError) as e:
                raise DistantError(f"found a malformed document {k + 1} ({type(e).__name__}: {e}), expected id, "
                                   "infons, passages (offset, text, annotations) and relations", name) from None
            yield _document(document, info, layer, name, quirks)


def _json_defaults(obj: Any) -> Any:
    """Fill in the keys that BioC JSON writers often leave out when empty (infons, relations, ...)."""
    if not isinstance(obj, dict):
        raise TypeError(f"found {type(obj).__name__}, expected an object")
    doc = {"infons": {}, "relations": [], **obj}
    doc["passages"] = [{"infons": {}, "sentences": [], "annotations": [], "relations": [], **p}
                       if isinstance(p, dict) else p for p in doc.get("passages", [])]
    for p in doc["passages"]:
        if isinstance(p, dict):
            p["sentences"] = [{"infons": {}, "annotations": [], "relations": [], "text": None, **s}
                              if isinstance(s, dict) else s for s in p["sentences"]]
    return doc


def _collection_info(collection: bioc.BioCCollection) -> dict[str, Any]:
    return {"source": collection.source or "", "date": collection.date or "", "key": collection.key or "",
            "infons": _infons(collection.infons)}


def _infons(infons: dict) -> dict[str, str]:
    """Infons as strings (an empty XML element reads as None)."""
    if not isinstance(infons, dict):
        raise TypeError(f"found infons {infons!r}, expected an object")
    return {str(k): "" if v is None else str(v) for k, v in infons.items()}


def _integer(value: Any, what: str, doc_id: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DistantError(f"document {doc_id}: found {what} {value!r}, expected an integer")
    return value


def _document(document: bioc.BioCDocument, collection: dict, layer: str, name: str, quirks: Quirks) -> Document:
    doc_id = document.id
    if not isinstance(doc_id, str) or not doc_id:
        raise DistantError(f"found a document without an id (its {len(document.passages)} passages follow), "
                           "expected a non-empty <id>", name)
    pieces: list[str] = []
    end = 0
    passages = []
    annotations: list[bioc.BioCAnnotation] = list(document.annotations)
    relations: list[bioc.BioCRelation] = list(document.relations)
    for passage in document.passages:
        offset = _integer(passage.offset, "a passage offset", doc_id)
        text = passage.text
        if not text and passage.sentences:  # a passage of sentences
            text = _sentences_text(passage, offset, doc_id, name)
        if not isinstance(text, str):
            raise DistantError(f"document {doc_id}: found passage text {text!r}, expected a string", name)
        if offset < end:
            raise DistantError(f"document {doc_id}: found a passage at offset {offset}, before the end of the one "
                               f"before it ({end}); expected passages in order, not overlapping", name)
        pieces.append(" " * (offset - end))
        pieces.append(text)
        end = offset + len(text)
        passages.append([offset, len(text), _infons(passage.infons)])
        annotations.extend(passage.annotations)
        relations.extend(passage.relations)
        for sentence in passage.sentences:
            annotations.extend(sentence.annotations)
            relations.extend(sentence.relations)
    text = "".join(pieces)
    meta: dict[str, Any] = {}
    if len(passages) > 1:
        if passages[0][0] == 0 and passages[0][2].get("type", "").lower() in ("title", "front") \
                and passages[1][0] == passages[0][1] + 1:
            meta["title_length"] = passages[0][1]
        meta["breaks"] = [p[0] for p in passages[1:] if 0 < p[0] <= len(text)]
    keep: dict[str, Any] = {"collection": collection, "infons": _infons(document.infons), "passages": passages}
    spans, ids, discontinuous = [], [], []
    for ann in annotations:
        span, extra = _span(ann, text, layer, doc_id, name, quirks)
        if span is None:
            discontinuous.append(extra)
            quirks.note("annotations with several locations or none (kept in meta, not as spans)", None,
                        found=f"annotation {ann.id} of document {doc_id} with {len(ann.locations)} locations",
                        expected="one location per annotation",
                        detail=f"document {doc_id} annotation {ann.id}")
            continue
        spans.append(span)
        ids.append([span.start, span.end, span.label, *extra])
    rows, other = [], []
    for rel in relations:
        row = _pubtator_row(rel)
        if row is not None:
            rows.append(row)
        else:
            other.append({"id": rel.id or "", "infons": _infons(rel.infons),
                          "nodes": [[n.refid, n.role] for n in rel.nodes]})
    if rows:
        meta["relations"] = rows
    if ids:
        keep["annotations"] = {layer: ids}
    if discontinuous:
        keep["discontinuous"] = discontinuous
    if other:
        keep["relations"] = other
    meta["bioc"] = keep
    doc = Document(doc_id, text, meta=meta)
    doc.layers[layer] = sorted(spans, key=Span.key)
    return doc


def _sentences_text(passage: bioc.BioCPassage, offset: int, doc_id: str, name: str) -> str:
    pieces, end = [], offset
    for sentence in passage.sentences:
        start = _integer(sentence.offset, "a sentence offset", doc_id)
        text = sentence.text or ""
        if start < end:
            raise DistantError(f"document {doc_id}: found a sentence at offset {start}, before the end of the one "
                               f"before it ({end}); expected sentences in order, not overlapping", name)
        pieces.append(" " * (start - end) + text)
        end = start + len(text)
    return "".join(pieces)


def _span(ann: bioc.BioCAnnotation, text: str, layer: str, doc_id: str, name: str, quirks: Quirks
          ) -> tuple[Span | None, Any]:
    infons = _infons(ann.infons)
    if len(ann.locations) != 1:
        return None, {"id": ann.id or "", "infons": infons, "text": ann.text or "",
                      "locations": [[loc.offset, loc.length] for loc in ann.locations]}
    loc = ann.locations[0]
    start = _integer(loc.offset, "a location offset", doc_id)
    length = _integer(loc.length, "a location length", doc_id)
    end = start + length
    if not 0 <= start < end <= len(text):
        raise DistantError(f"document {doc_id}: found annotation {ann.id} at {start}-{end}, expected 0 <= start < "
                           f"end <= {len(text)} (the length of the document's text)", name)
    label = infons.get("type")
    if not label:
        raise DistantError(f"document {doc_id}: found annotation {ann.id} without a \"type\" infon, expected the "
                           "entity type there", name)
    problem = label_problem(label)
    if problem:
        raise DistantError(f"document {doc_id}: annotation {ann.id}: {problem}", name)
    if ann.text is not None and ann.text != text[start:end]:
        quirks.note("annotation texts that differ from the text at their location (kept as the location says)",
                    None, found=f"annotation {ann.id} of document {doc_id} with text {ann.text!r} where the text "
                                f"at {start}-{end} is {text[start:end]!r}",
                    expected="the annotation text to equal the document text at its location",
                    detail=f"document {doc_id} annotation {ann.id}")
    score = None
    if "score" in infons:
        try:
            score = float(infons["score"])
        except ValueError:
            score = None
    if score is not None and not 0 <= score <= 1:
        score = None
    if score is None and "score" in infons:
        raise DistantError(f"document {doc_id}: annotation {ann.id}: found score {infons['score']!r}, expected a "
                           "number from 0 to 1", name)
    span = Span(start, end, label, infons.get("source", layer), infons.get("identifier") or None, score)
    rest = {k: v for k, v in infons.items() if k not in _SPAN_INFONS}
    return span, [ann.id or "", rest]


def _pubtator_row(rel: bioc.BioCRelation) -> list[str] | None:
    """The PubTator relation row this writer made of a BioC relation, or ``None`` for any other relation."""
    infons = _infons(rel.infons)
    if rel.nodes or rel.id or "type" not in infons or len(infons) < 2:
        return None
    args = [f"{_ARG}{k}" for k in range(1, len(infons))]
    if sorted(infons) != sorted(["type", *args]):
        return None
    return [infons["type"], *(infons[a] for a in args)]


# -- writing ---------------------------------------------------------------------------------------------------
def write_xml(docs: Iterable[Document], path: Path, *, layer: str = PRED, scheme: str = "IOB2") -> None:
    """Write documents as a BioC XML collection, streamed, with the spans of ``layer`` (``scheme``: unused).

    Spans labeled ``O`` are not annotations and are not written; spans labeled ``-`` are counted in a warning.

    Raises:
        DistantError: a text, id or label that XML cannot hold (control characters other than tab, line feed
            and carriage return).
    """
    path = Path(path)
    unknown = 0
    with atomic_open(path, "wb", encoding=None) as f:
        writer = None
        for doc in docs:
            document, skipped, collection = _bioc_document(doc, layer)
            unknown += skipped
            try:
                if writer is None:
                    writer = BioCXMLDocumentWriter(f, "utf8", True)
                    writer.write_collection_info(collection)
                writer.write_document(document)
            except ValueError as e:  # lxml: "All strings must be XML compatible"
                raise DistantError(f"document {doc.id}: cannot write as XML ({e}); expected text without NUL or "
                                   "other control characters except tab and line breaks", path) from None
        if writer is None:
            writer = BioCXMLDocumentWriter(f, "utf8", True)
            writer.write_collection_info(_bioc_collection({}))
        writer.close()
    _warn_unknown(unknown, layer, path)


def write_json(docs: Iterable[Document], path: Path, *, layer: str = PRED, scheme: str = "IOB2") -> None:
    """Write documents as one BioC JSON collection with the spans of ``layer`` (``scheme``: unused)."""
    path = Path(path)
    unknown = 0
    documents, collection = [], None
    for doc in docs:
        document, skipped, info = _bioc_document(doc, layer)
        unknown += skipped
        collection = collection or info
        documents.append(document)
    collection = collection or _bioc_collection({})
    for document in documents:
        collection.add_document(document)
    with atomic_open(path) as f:
        try:
            f.write(bioc.biocjson.dumps(collection, ensure_ascii=False, indent=1))
        except UnicodeEncodeError:
            raise DistantError("cannot write a lone surrogate as UTF-8, expected valid Unicode", path) from None
        f.write("\n")
    _warn_unknown(unknown, layer, path)


def _warn_unknown(unknown: int, layer: str, path: Path) -> None:
    if unknown:
        log.warning("%s: %d spans labeled %r (unknown) in layer %r not written: BioC annotations are entities "
                    "(write jsonl, conll or docbin to keep them)", source_name(path), unknown, UNKNOWN, layer)


def _bioc_collection(info: dict) -> bioc.BioCCollection:
    collection = bioc.BioCCollection()
    collection.source = info.get("source", "")
    collection.date = info.get("date", "")
    collection.key = info.get("key", "")
    collection.infons = dict(info.get("infons", {}))
    return collection


def _passages(doc: Document) -> list[tuple[int, int, dict]]:
    """The passages to write: as read (when they still fit the text), the PubTator title and abstract, or one."""
    text = doc.text
    kept = doc.meta.get("bioc", {}).get("passages")
    if kept:
        end, fits = 0, True
        for offset, length, _ in kept:
            if offset < end or offset + length > len(text) or text[end:offset].strip(" "):
                fits = False
                break
            end = offset + length
        if fits and not text[end:].strip(" ") and end == len(text):
            return [(o, n, dict(i)) for o, n, i in kept]
    n = doc.meta.get("title_length")
    if isinstance(n, int) and 0 <= n < len(text) - 1 and text[n] == " ":
        return [(0, n, {"type": "title"}), (n + 1, len(text) - n - 1, {"type": "abstract"})]
    return [(0, len(text), {})]


def _bioc_document(doc: Document, layer: str) -> tuple[bioc.BioCDocument, int, bioc.BioCCollection]:
    keep = doc.meta.get("bioc", {})
    document = bioc.BioCDocument()
    document.id = doc.id
    document.infons = dict(keep.get("infons", {}))
    passages = []
    for offset, length, infons in _passages(doc):
        passage = bioc.BioCPassage()
        passage.offset = offset
        passage.text = doc.text[offset : offset + length]
        passage.infons = infons
        passages.append(passage)
        document.add_passage(passage)
    known: dict[tuple, list] = {}  # span key -> [[id, infons], ...] in the order read (equal spans keep theirs)
    for s, e, label, *rest in keep.get("annotations", {}).get(layer, []):
        known.setdefault((s, e, label), []).append(rest)
    used = {str(rest[0]) for rows in known.values() for rest in rows} | \
        {str(a.get("id", "")) for a in keep.get("discontinuous", [])}
    unknown, number, taken = 0, 0, set()
    for span in doc.spans(layer):
        if span.label == UNKNOWN:
            unknown += 1
            continue
        if span.label == O:
            continue
        rows = known.get(span.key())
        ann_id, rest = rows.pop(0) if rows else ["", {}]
        if not ann_id or ann_id in taken:  # a span from elsewhere, or a second span with the same key
            while f"T{number}" in used or f"T{number}" in taken:
                number += 1
            ann_id = f"T{number}"
        taken.add(ann_id)
        ann = bioc.BioCAnnotation()
        ann.id = ann_id
        ann.infons = {"type": span.label, **dict(rest)}
        if span.kb_id is not None:
            ann.infons["identifier"] = span.kb_id
        if span.score is not None:
            ann.infons["score"] = repr(span.score)
        if span.source and span.source != layer:
            ann.infons["source"] = span.source
        ann.add_location(bioc.BioCLocation(span.start, span.end - span.start))
        ann.text = doc.text[span.start : span.end]
        _passage_of(passages, span.start).add_annotation(ann)
    for raw in keep.get("discontinuous", []):
        ann = bioc.BioCAnnotation()
        ann.id = raw.get("id", "")
        ann.infons = dict(raw.get("infons", {}))
        ann.text = raw.get("text", "")
        for offset, length in raw.get("locations", []):
            ann.add_location(bioc.BioCLocation(offset, length))
        document.add_annotation(ann)
    for row in doc.meta.get("relations", []):
        rel = bioc.BioCRelation()
        rel.id = ""
        rel.infons = {"type": row[0], **{f"{_ARG}{k}": v for k, v in enumerate(row[1:], 1)}}
        document.add_relation(rel)
    for raw in keep.get("relations", []):
        rel = bioc.BioCRelation()
        rel.id = raw.get("id", "")
        rel.infons = dict(raw.get("infons", {}))
        for refid, role in raw.get("nodes", []):
            rel.add_node(bioc.BioCNode(refid, role))
        document.add_relation(rel)
    return document, unknown, _bioc_collection(keep.get("collection", {}))


def _passage_of(passages: list[bioc.BioCPassage], start: int) -> bioc.BioCPassage:
    found = passages[0]
    for passage in passages:
        if passage.offset <= start:
            found = passage
    return found
