"""PubTator: a title line, an abstract line, one line per mention and per relation, a blank line per document.

::

    8701013|t|Famotidine-associated delirium.
    8701013|a|Famotidine is a histamine H2-receptor antagonist ...
    8701013<TAB>0<TAB>10<TAB>Famotidine<TAB>Chemical<TAB>D015738
    8701013<TAB>CID<TAB>D015738<TAB>D003693

The document text is ``title + " " + abstract`` (the title alone when the abstract is empty or missing), which
is what the mention offsets count in. The title length is kept in ``doc.meta["title_length"]``, the abstract
start in ``doc.meta["breaks"]`` (so the tokenizer starts a sentence there) and a missing abstract line as
``doc.meta["abstract_line"] = False``; relation lines and columns after the knowledge-base id are kept in
``doc.meta`` so that writing the document back reproduces them.

A line is a relation line when its second column is a relation type (letters and underscores: ``CID``,
``Association``) or when it has exactly four columns and no integer second column; any other line of five or
more columns is a mention line, whose offsets must be integers.

Offsets are the ground truth. Benign quirks of published corpora are read and counted (one warning per file;
a strict reading refuses them): a mention column that differs from the text at its offsets (the span keeps
its offsets), spaces or tabs at the end of a mention line, blank lines missing or doubled between documents,
and the line-ending quirks of :func:`~distant.formats.lines.iter_lines`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from distant.atomic import atomic_open
from distant.docs import GOLD, PRED, UNKNOWN, Document, O, Span, label_problem
from distant.errors import DistantError
from distant.formats.lines import Quirks, iter_lines, source_name

log = logging.getLogger(__name__)

EXPECTED = "a PubTator file (PMID|t|title, PMID|a|abstract, mention lines, a blank line between documents)"
EXPECTED_LINE = ("PMID|t|title, PMID|a|abstract, a mention line PMID<TAB>start<TAB>end<TAB>text<TAB>type[<TAB>id] "
                 "or a relation line PMID<TAB>type<TAB>id<TAB>id")
SNIFF = re.compile(r"^[^|\s]+\|[ta]\|")
_TEXT_LINE = re.compile(r"^([^|\s]+)\|([ta])\|(.*)$", re.DOTALL)
_RELATION_TYPE = re.compile(r"[A-Za-z][A-Za-z_]*")
_INTEGER = re.compile(r"-?[0-9]+")
_MAX_DIGITS = 18  # a longer offset lies outside any text


def is_relation(fields: Sequence[str]) -> bool:
    """Return whether the columns of a tab-separated line (PMID first) are a relation line, not a mention line."""
    if len(fields) < 3 or _INTEGER.fullmatch(fields[1]):
        return False
    return len(fields) == 4 or _RELATION_TYPE.fullmatch(fields[1]) is not None


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
        if self.abstract is None:
            meta["abstract_line"] = False
        elif self.abstract:
            meta["breaks"] = [len(self.title) + 1]
        if self.relations:
            meta["relations"] = self.relations
        if self.extra:
            meta["mention_columns"] = {layer: self.extra}
        doc = Document(self.pmid, self.text, meta=meta)
        doc.layers[layer] = sorted(self.spans, key=Span.key)  # already checked against the text
        return doc


def read(path: Path, *, layer: str = GOLD, scheme: str | None = None, strict: bool = False) -> Iterator[Document]:
    """Yield the PubTator documents of ``path`` as they are read, mentions in ``layer`` (``scheme``: unused).

    Args:
        path: The file, or ``-`` for standard input.
        layer: The layer that receives the mentions.
        scheme: Unused.
        strict: Refuse the benign quirks (see the module) instead of counting them in one warning.

    Raises:
        DistantError: a malformed line (wrong column count, offsets that are not integers or lie outside the
            text, an empty or invalid type), a quirk when ``strict``, or any error of
            :func:`~distant.formats.lines.iter_lines`.
    """
    path = Path(path)
    name = source_name(path)
    block: _Block | None = None
    blank_before = True  # the line before was blank (or there was none)
    with Quirks(path, strict=strict) as quirks:
        number = 0
        for number, line in iter_lines(path, EXPECTED, quirks):
            if not line.strip():
                if blank_before:
                    quirks.note("extra blank lines", number,
                                found="a second blank line" if number > 1 else "a blank line first",
                                expected="one blank line between documents")
                blank_before = True
                if block is not None:
                    yield block.document(layer)
                    block = None
                continue
            blank_before = False
            match = _TEXT_LINE.match(line)
            if match:
                pmid, kind, text = match.groups()
                if kind == "t":
                    if block is not None:
                        quirks.note("documents without a blank line before them", number,
                                    found=f"the title of document {pmid} right after document {block.pmid}",
                                    expected="a blank line between documents")
                        yield block.document(layer)
                    block = _Block(pmid, text)
                else:
                    _check_block(block, pmid, name, number, "an abstract line")
                    if block.abstract is not None or block.spans or block.relations:
                        raise DistantError(f"found a second abstract line for document {pmid}, expected one "
                                           "abstract line after the title", name, number)
                    block.abstract = text
                    block.text = f"{block.title} {text}" if text else block.title
                continue
            stripped = line.rstrip(" \t")
            if stripped != line:
                quirks.note("mention lines ending in spaces or tabs", number,
                            found="spaces or tabs at the end of a mention or relation line",
                            expected="the last column right before the line break")
            fields = stripped.split("\t")
            if len(fields) < 3:
                raise DistantError(f"found {_clip(line)!r}, expected {EXPECTED_LINE}", name, number)
            _check_block(block, fields[0], name, number, "a mention or relation line")
            if is_relation(fields):
                block.relations.append(fields[1:])
            else:
                block.spans.append(_mention(fields, block, layer, name, number, quirks))
        if block is not None:
            quirks.note("documents without a blank line after them", number,
                        found=f"the end of the input right after document {block.pmid}",
                        expected="a blank line after the last document")
            yield block.document(layer)


def _check_block(block: _Block | None, pmid: str, name: str, number: int, what: str) -> None:
    if block is None:
        raise DistantError(f"found {what} before any title line, expected PMID|t|title first", name, number)
    if pmid != block.pmid:
        raise DistantError(f"found {what} for document {pmid}, expected document {block.pmid} (the title above; "
                           "is a blank line missing?)", name, number)


def _offset(text: str) -> int | None:
    if not _INTEGER.fullmatch(text):
        return None
    digits = text.lstrip("-")
    if len(digits) > _MAX_DIGITS:
        return -1 if text.startswith("-") else 10**_MAX_DIGITS  # outside any text, whatever its value
    return int(text)


def _mention(fields: list[str], block: _Block, layer: str, name: str, number: int, quirks: Quirks) -> Span:
    if len(fields) < 5:
        raise DistantError(f"found a mention line with {len(fields)} columns, expected at least 5: "
                           "PMID<TAB>start<TAB>end<TAB>text<TAB>type[<TAB>id]", name, number)
    _, start_s, end_s, mention, label = fields[:5]
    start, end = _offset(start_s), _offset(end_s)
    if start is None or end is None:
        raise DistantError(f"found offsets {_clip(start_s)!r} {_clip(end_s)!r}, expected two integers", name,
                           number)
    text = block.text
    if not 0 <= start < end <= len(text):
        raise DistantError(f"found offsets {_clip(start_s)}-{_clip(end_s)}, expected 0 <= start < end <= "
                           f"{len(text)} (the length of the text of document {block.pmid})", name, number)
    if not label:
        raise DistantError("found an empty type column, expected an entity type", name, number)
    problem = label_problem(label)
    if problem:
        raise DistantError(f"type column: {problem}", name, number)
    actual = text[start:end]
    if actual != mention:
        quirks.note("mention columns that differ from the text at their offsets (kept as the offsets say)", number,
                    found=f"the mention column {_clip(mention)!r} where the text of document {block.pmid} at "
                          f"{start}-{end} is {_clip(actual)!r}",
                    expected="the mention column to equal the text at its offsets",
                    detail=f"document {block.pmid} {start}-{end}: column {_clip(mention)!r}, text {_clip(actual)!r}")
    kb_id = fields[5] if len(fields) > 5 and fields[5] else None
    if len(fields) > 6:
        block.extra.append([start, end, label, fields[6:]])
    return Span(start, end, label, source=layer, kb_id=kb_id)


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def write(docs: Iterable[Document], path: Path, *, layer: str = PRED, scheme: str = "IOB2") -> None:
    """Write documents with the mentions of ``layer`` (``scheme``: unused).

    The title and abstract come from ``doc.meta["title_length"]``; a document without it (or whose text has no
    space there) is written with its whole text as the title and an empty abstract line, which reads back as
    the same text. Spans labeled ``O`` ("outside") are not mentions and need no line; spans labeled ``-``
    ("unknown") cannot be written in PubTator: they are counted in one warning.

    Raises:
        DistantError: what PubTator cannot read back: an id with ``|``, whitespace or an unprintable
            character; a line break in a text; a tab in a mention, kb_id or extra column; a line that would
            end in spaces or tabs; a relation row that would not read back as a relation.
    """
    path = Path(path)
    unknown = 0
    with atomic_open(path) as f:
        for doc in docs:
            block, skipped = _format(doc, layer, path)
            f.write(block + "\n")  # a blank line after each document
            unknown += skipped
    if unknown:
        log.warning("%s: %d spans labeled %r (unknown) in layer %r not written: PubTator holds mentions only "
                    "(write jsonl, conll or docbin to keep them)", source_name(path), unknown, UNKNOWN, layer)


def _format(doc: Document, layer: str, path: Path) -> tuple[str, int]:
    if not doc.id or any(c == "|" or c.isspace() or not c.isprintable() for c in doc.id):
        raise DistantError(f"document id {doc.id!r} cannot be a PubTator id, expected a non-empty id without "
                           "'|', whitespace or unprintable characters", path)
    text = doc.text
    if "\n" in text or "\r" in text:
        raise DistantError(f"document {doc.id}: found a line break in the text, expected none (PubTator holds "
                           "the title and the abstract on one line each)", path)
    n = doc.meta.get("title_length")
    if isinstance(n, int) and 0 <= n < len(text) - 1 and text[n] == " ":
        title, abstract = text[:n], text[n + 1 :]
    else:
        title, abstract = text, ""
    lines = [f"{doc.id}|t|{title}"]
    if abstract or doc.meta.get("abstract_line", True):
        lines.append(f"{doc.id}|a|{abstract}")
    extra = {(s, e, label): columns for s, e, label, columns in doc.meta.get("mention_columns", {}).get(layer, [])}
    unknown = 0
    for span in doc.spans(layer):
        if span.label == UNKNOWN:
            unknown += 1
            continue
        if span.label == O:
            continue
        row = [doc.id, str(span.start), str(span.end), text[span.start : span.end], span.label]
        columns = extra.get(span.key())
        if span.kb_id or columns:
            row.append(span.kb_id or "")
        if columns:
            row.extend(columns)
        lines.append(_row(row, doc, path, f"the mention {text[span.start:span.end]!r} ({span.label})"))
    for relation in doc.meta.get("relations", []):
        row = [doc.id, *relation]
        if not is_relation(row):
            raise DistantError(f"document {doc.id}: found the relation row {relation!r}, expected a relation type "
                               "(letters and underscores) first, or three columns", path)
        lines.append(_row(row, doc, path, f"the relation {relation!r}"))
    return "\n".join(lines) + "\n", unknown


def _row(fields: list[str], doc: Document, path: Path, what: str) -> str:
    """Join the columns of a mention or relation line, refusing one that would not read back unchanged."""
    if any(c in field for field in fields for c in "\t\r\n"):
        raise DistantError(f"document {doc.id}: found a tab or line break in {what}, expected none (PubTator "
                           "columns are tab-separated)", path)
    line = "\t".join(fields)
    if line.endswith((" ", "\t")):
        raise DistantError(f"document {doc.id}: {what} would end its line in spaces or a tab, expected a last "
                           "column without trailing whitespace (a reader strips it)", path)
    return line
