"""PubTator: a title line, an abstract line, one line per mention and per relation, a blank line per document.

::

    8701013|t|Famotidine-associated delirium.
    8701013|a|Famotidine is a histamine H2-receptor antagonist ...
    8701013<TAB>0<TAB>10<TAB>Famotidine<TAB>Chemical<TAB>D015738
    8701013<TAB>CID<TAB>D015738<TAB>D003693

The document text is ``title + " " + abstract``, which is what the mention offsets count in. The title length
is kept in ``doc.meta["title_length"]`` and the abstract start in ``doc.meta["breaks"]`` (so the tokenizer starts
a sentence there); relation lines and columns after the knowledge-base id are kept in ``doc.meta`` so that
writing the document back reproduces them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from distant.atomic import atomic_open
from distant.docs import GOLD, O, PRED, UNKNOWN, Document, Span
from distant.errors import DistantError
from distant.formats.lines import iter_lines

EXPECTED = "a PubTator file (PMID|t|title, PMID|a|abstract, mention lines, a blank line between documents)"
EXPECTED_LINE = ("PMID|t|title, PMID|a|abstract, a mention line PMID<TAB>start<TAB>end<TAB>text<TAB>type[<TAB>id] "
                 "or a relation line PMID<TAB>type<TAB>id<TAB>id")
SNIFF = re.compile(r"^[^|\s]+\|[ta]\|")
_TEXT_LINE = re.compile(r"^([^|\s]+)\|([ta])\|(.*)$", re.DOTALL)


class _Block:
    """The lines of one document, gathered until its blank line."""

    def __init__(self, pmid: str, title: str) -> None:
        self.pmid = pmid
        self.title = title
        self.abstract: str | None = None
        self.text = title
        self.spans: list[Span] = []
        self.extra: list[list] = []
        self.relations: list[list[str]] = []

    def document(self, layer: str) -> Document:
        meta: dict = {"title_length": len(self.title)}
        if self.abstract is not None:
            meta["breaks"] = [len(self.title) + 1]
        if self.relations:
            meta["relations"] = self.relations
        if self.extra:
            meta["mention_columns"] = {layer: self.extra}
        doc = Document(self.pmid, self.text, meta=meta)
        doc.layers[layer] = sorted(self.spans, key=Span.key)  # already checked against the text
        return doc


def read(path: Path, *, layer: str = GOLD, scheme: str | None = None) -> list[Document]:
    """Read PubTator documents, their mentions going to ``layer`` (``scheme``: unused).

    Raises:
        DistantError: a malformed line, a mention whose offsets or text do not match the document, or any
            error of :func:`~distant.formats.lines.iter_lines`.
    """
    path = Path(path)
    docs: list[Document] = []
    block: _Block | None = None
    for number, line in iter_lines(path, EXPECTED):
        if not line.strip():
            if block is not None:
                docs.append(block.document(layer))
                block = None
            continue
        match = _TEXT_LINE.match(line)
        if match:
            pmid, kind, text = match.groups()
            if kind == "t":
                if block is not None:  # no blank line before this document: be lenient
                    docs.append(block.document(layer))
                block = _Block(pmid, text)
            else:
                _check_block(block, pmid, path, number, "an abstract line")
                if block.abstract is not None or block.spans or block.relations:
                    raise DistantError(f"found a second abstract line for document {pmid}, expected one abstract "
                                       "line after the title", path, number)
                block.abstract = text
                block.text = f"{block.title} {text}"
            continue
        fields = line.split("\t")
        if len(fields) < 3:
            raise DistantError(f"found {_clip(line)!r}, expected {EXPECTED_LINE}", path, number)
        _check_block(block, fields[0], path, number, "a mention or relation line")
        if fields[1][:1].isalpha():  # a relation type, not an offset: PMID<TAB>CID<TAB>D1<TAB>D2
            block.relations.append(fields[1:])
            continue
        block.spans.append(_mention(fields, block, layer, path, number))
    if block is not None:
        docs.append(block.document(layer))
    return docs


def _check_block(block: _Block | None, pmid: str, path: Path, number: int, what: str) -> None:
    if block is None:
        raise DistantError(f"found {what} before any title line, expected PMID|t|title first", path, number)
    if pmid != block.pmid:
        raise DistantError(f"found {what} for document {pmid}, expected document {block.pmid} (the title above; "
                           "is a blank line missing?)", path, number)


def _mention(fields: list[str], block: _Block, layer: str, path: Path, number: int) -> Span:
    if len(fields) < 5:
        raise DistantError(f"found a mention line with {len(fields)} columns, expected at least 5: "
                           "PMID<TAB>start<TAB>end<TAB>text<TAB>type[<TAB>id]", path, number)
    _, start_s, end_s, mention, label = fields[:5]
    try:
        start, end = int(start_s), int(end_s)
    except ValueError:
        raise DistantError(f"found offsets {start_s!r} {end_s!r}, expected two integers", path, number) from None
    text = block.text
    if not 0 <= start < end <= len(text):
        raise DistantError(f"found offsets {start}-{end}, expected 0 <= start < end <= {len(text)} (the length of "
                           f"title + ' ' + abstract of document {block.pmid})", path, number)
    if text[start:end] != mention:
        raise DistantError(f"found {_clip(text[start:end])!r} at {start}-{end} in the text, expected "
                           f"{_clip(mention)!r} (the mention column)", path, number)
    if not label:
        raise DistantError("found an empty type column, expected an entity type", path, number)
    kb_id = fields[5] if len(fields) > 5 and fields[5] else None
    if len(fields) > 6:
        block.extra.append([start, end, label, fields[6:]])
    return Span(start, end, label, source=layer, kb_id=kb_id)


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def write(docs: Sequence[Document], path: Path, *, layer: str = PRED, scheme: str = "IOB2") -> None:
    """Write documents with the mentions of ``layer`` (``scheme``: unused).

    A document that did not come from PubTator is written with its whole text as the title and an empty
    abstract. Spans labeled ``O`` or ``-`` mark "outside" and "unknown", not mentions, and are not written.

    Raises:
        DistantError: an id or a text that PubTator cannot hold (a ``|``, a tab or a line break in an id,
            a line break in a text).
    """
    path = Path(path)
    blocks = [_format(doc, layer, path) for doc in docs]
    with atomic_open(path) as f:
        f.writelines(block + "\n" for block in blocks)  # a blank line after each document


def _format(doc: Document, layer: str, path: Path) -> str:
    if not doc.id or any(c in doc.id for c in "|\t\r\n "):
        raise DistantError(f"document id {doc.id!r} cannot be a PubTator id, expected a non-empty id without "
                           "'|' or whitespace", path)
    text = doc.text
    if "\n" in text or "\r" in text:
        raise DistantError(f"document {doc.id}: found a line break in the text, expected none (PubTator holds "
                           "the title and the abstract on one line each)", path)
    n = doc.meta.get("title_length")
    if isinstance(n, int) and 0 <= n <= len(text) and (n == len(text) or text[n] == " "):
        title, abstract = text[:n], text[n + 1 :]
    else:
        title, abstract = text, ""
    lines = [f"{doc.id}|t|{title}", f"{doc.id}|a|{abstract}"]
    extra = {(s, e, label): columns for s, e, label, columns in doc.meta.get("mention_columns", {}).get(layer, [])}
    for span in doc.spans(layer):
        if span.label in (O, UNKNOWN):
            continue
        mention = text[span.start : span.end]
        if "\t" in mention or "\t" in span.label or "\t" in (span.kb_id or ""):
            raise DistantError(f"document {doc.id}: found a tab in the mention {mention!r} ({span.label}), expected "
                               "none (PubTator columns are tab-separated)", path)
        row = [doc.id, str(span.start), str(span.end), mention, span.label]
        columns = extra.get(span.key())
        if span.kb_id is not None or columns:
            row.append(span.kb_id or "")
        if columns:
            row.extend(columns)
        lines.append("\t".join(row))
    lines.extend("\t".join([doc.id, *relation]) for relation in doc.meta.get("relations", []))
    return "\n".join(lines) + "\n"
