"""CoNLL: one token per line with its tag in the last column, a blank line after each sentence.

::

    -DOCSTART- 8701013
    Famotidine<TAB>B-Chemical
    -<TAB>O
    associated<TAB>O

Columns are separated by tabs (when the first token line has one) or by any whitespace. A ``-DOCSTART-`` line
starts a document, named by the text after it (``doc-N`` when there is none); a file without one is one
document named ``doc-1`` (so two files of the same sentences pair up in evaluation). A ``-DOCSTART-`` with no
sentence after it is a document with an empty text. The text is rebuilt from the tokens: single spaces
between the tokens of a sentence, a line break between sentences. Columns between the token and the tag are
kept in ``doc.meta["columns"]`` (one list per token) and written back. The tag ``-`` (unknown) is read as a
span labeled ``-`` and written back as ``-``.

The tag scheme is given or detected (:func:`~distant.tags.detect_scheme`, logged). Tags are decoded as
conlleval reads them (:func:`~distant.tags.decode_tags`), so no tag is lost: a tag that the scheme does not
allow where it stands (an ``I-X`` that continues nothing in IOB2, an IOBES entity without its ``E-X``) is
repaired and counted, with the other quirks, in one warning per file; a strict reading refuses it.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from distant.atomic import atomic_open
from distant.docs import GOLD, O, PRED, UNKNOWN, Document, Span, label_problem
from distant.errors import DistantError
from distant.formats.align import drop_overlaps, warn_dropped
from distant.formats.lines import BOM, Quirks, iter_lines, source_name
from distant.tags import TagError, decode_tags, detect_scheme, scheme_name, spans_to_tags, split_tag
from distant.tokenize import default_tokenizer

log = logging.getLogger(__name__)

EXPECTED = "a CoNLL file (token and tag columns, a blank line after each sentence)"
DOCSTART = "-DOCSTART-"
_FILLER = {"-X-", O}  # CoNLL-2003 writes "-DOCSTART- -X- -X- O": columns, not a name


@dataclass
class _Sentence:
    first_line: int  # the line of its first token; token k is on line first_line + k
    words: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    extra: list[list[str]] = field(default_factory=list)


@dataclass
class _RawDocument:
    id: str | None
    sentences: list[_Sentence] = field(default_factory=list)


def read(path: Path, *, layer: str = GOLD, scheme: str | None = None, strict: bool = False) -> list[Document]:
    """Read CoNLL documents, their tags decoded into spans of ``layer``.

    Args:
        path: The file, or ``-`` for standard input.
        layer: The layer that receives the spans.
        scheme: The tag scheme (IOB2, IOB1, IOBES, IO or an alias); ``None`` detects it from the tags and logs
            which (a warning unless it is IOB2).
        strict: Refuse repaired tags and the other quirks instead of counting them in one warning.

    Raises:
        DistantError: a line with a different number of columns than the first, a tag that is not valid in the
            scheme, a quirk or a repaired tag when ``strict``, or any error of
            :func:`~distant.formats.lines.iter_lines`.
    """
    path = Path(path)
    with Quirks(path, strict=strict) as quirks:
        raw_docs = _read_lines(path, quirks)
        if scheme is None:
            scheme = detect_scheme(s.tags for raw in raw_docs for s in raw.sentences)
            (log.info if scheme == "IOB2" else log.warning)(
                "%s: read as %s (detected from its tags; pass the scheme to override)", source_name(path), scheme)
        else:
            scheme = _canonical_scheme(scheme, path)
        _check_tags(raw_docs, scheme, path)
        return [_document(raw.id if raw.id is not None else "doc-1", raw.sentences, layer, scheme, quirks)
                for raw in raw_docs]


def _read_lines(path: Path, quirks: Quirks) -> list[_RawDocument]:
    name = source_name(path)
    docs: list[_RawDocument] = []
    current = _RawDocument(None)
    sentence: _Sentence | None = None
    tab: bool | None = None  # tab-separated, decided by the first token line
    columns = first_line = 0
    n_docstart = 0
    blank_before = True  # the line before was blank (or there was none)
    for number, line in iter_lines(path, EXPECTED, quirks):
        stripped = line.strip()
        if not stripped:
            if blank_before:
                quirks.note("extra blank lines", number,
                            found="a second blank line" if number > 1 else "a blank line first",
                            expected="one blank line after each sentence")
            blank_before = True
        else:
            blank_before = False
            if line != line.rstrip(" \t"):
                quirks.note("lines ending in spaces or tabs", number, found="spaces or tabs at the end of a line",
                            expected="the last column right before the line break")
        if not stripped or stripped.startswith(DOCSTART):
            if sentence is not None:
                current.sentences.append(sentence)
                sentence = None
            if stripped:
                if current.id is not None or current.sentences:
                    docs.append(current)
                n_docstart += 1
                name = stripped[len(DOCSTART) :].strip()
                current = _RawDocument(f"doc-{n_docstart}" if _FILLER.issuperset(name.split()) else name)
            continue
        if tab is None:
            tab = "\t" in line
        fields = [f.strip() for f in stripped.split("\t")] if tab else stripped.split()
        if not columns:
            if len(fields) < 2:
                raise DistantError(f"found {len(fields)} column, expected at least 2 (token and tag)", name, number)
            columns, first_line = len(fields), number
        elif len(fields) != columns:
            raise DistantError(f"found {len(fields)} columns, expected {columns} (as on line {first_line})",
                               name, number)
        if tab and not all(fields):
            raise DistantError(f"found an empty column {fields.index('') + 1}, expected a value", name, number)
        if sentence is None:
            sentence = _Sentence(number)
        sentence.words.append(fields[0])
        sentence.tags.append(fields[-1])
        if columns > 2:
            sentence.extra.append(fields[1:-1])
    if sentence is not None:
        current.sentences.append(sentence)
    if current.id is not None or current.sentences:
        docs.append(current)
    return docs


def _canonical_scheme(scheme: str, path: Path) -> str:
    try:
        return scheme_name(scheme)
    except TagError as e:
        raise DistantError(str(e), source_name(path)) from None


def _check_tags(raw_docs: list[_RawDocument], scheme: str, path: Path) -> None:
    """Check each distinct tag once (its prefix in the scheme, its type as a label); report its first line."""
    bad = {}
    for tag in {tag for raw in raw_docs for s in raw.sentences for tag in s.tags}:
        try:
            _, label = split_tag(tag, scheme)
        except TagError as e:
            bad[tag] = str(e)
            continue
        problem = label and label_problem(label)
        if problem:
            bad[tag] = f"tag {tag!r}: {problem}"
    if not bad:
        return
    for raw in raw_docs:
        for s in raw.sentences:
            for k, tag in enumerate(s.tags):
                if tag in bad:
                    raise DistantError(bad[tag], source_name(path), s.first_line + k)


def _document(doc_id: str, sentences: list[_Sentence], layer: str, scheme: str, quirks: Quirks) -> Document:
    tokens: list[tuple[int, int]] = []
    ranges: list[tuple[int, int]] = []
    spans: list[Span] = []
    extra: list[list[str]] = []
    pos = 0
    for s in sentences:
        first = len(tokens)
        for word in s.words:
            tokens.append((pos, pos + len(word)))
            pos += len(word) + 1  # a space, or the line break after the sentence
        ranges.append((first, len(tokens)))
        entities, repairs = decode_tags(s.tags, scheme)
        for repair in repairs:
            quirks.note(f"tags that {scheme} does not allow where they stand (read as conlleval does)",
                        s.first_line + repair.index, found=repair.found, expected=repair.expected,
                        detail=repair.short)
        for i, j, label in entities:
            spans.append(Span(tokens[first + i][0], tokens[first + j - 1][1], label, source=layer))
        spans.extend(Span(tokens[first + i][0], tokens[first + j - 1][1], UNKNOWN, source=layer)
                     for i, j in _unknown_runs(s.tags))
        extra.extend(s.extra)
    text = "\n".join(" ".join(s.words) for s in sentences)
    doc = Document(doc_id, text, meta={"columns": extra} if extra else {})
    doc.set_tokens(tokens, ranges)
    doc.layers[layer] = sorted(spans, key=Span.key)
    return doc


def _unknown_runs(tags: list[str]) -> list[tuple[int, int]]:
    runs = []
    i, n = 0, len(tags)
    while i < n:
        if tags[i] == UNKNOWN:
            j = i + 1
            while j < n and tags[j] == UNKNOWN:
                j += 1
            runs.append((i, j))
            i = j
        else:
            i += 1
    return runs


def write(docs: Iterable[Document], path: Path, *, layer: str = PRED, scheme: str = "IOB2") -> None:
    """Write the spans of ``layer`` as tags in ``scheme``, one token per line.

    Documents without tokens are tokenized with :func:`~distant.tokenize.default_tokenizer`. Spans labeled ``-``
    are written as the tag ``-``; spans labeled ``O`` as ``O``. A ``-DOCSTART-`` line names each document,
    except a lone document named ``doc-1`` (what a file without one reads as); a document without tokens is
    its ``-DOCSTART-`` line alone. What tags cannot hold is counted, never dropped silently: spans that do
    not align with token boundaries, cross a sentence boundary or overlap a longer span (one warning per
    document), and in IO adjacent entities of one type, which merge (one warning per file).

    Raises:
        DistantError: an unknown scheme, or what would not read back: a token or extra column with a tab, a
            line break or surrounding whitespace, a token that starts with ``-DOCSTART-``, an id that is
            empty, has a line break or surrounding whitespace, or reads as no name (``-X- O``).
    """
    path = Path(path)
    scheme = _canonical_scheme(scheme, path)
    tokenizer = default_tokenizer()
    # Extra columns: as wide as the widest document's (a list), or as the first document with some (a stream).
    width = max((len(c[0]) for c in map(_columns_of, docs) if c), default=0) if isinstance(docs, Sequence) else None
    stream = iter(docs)
    ahead = list(itertools.islice(stream, 2))  # a lone document named doc-1 needs no -DOCSTART- line
    merged: list[tuple[str, int]] = []  # (document, adjacent same-type pairs that IO merges)
    with atomic_open(path) as f:
        for k, doc in enumerate(itertools.chain(ahead, stream)):
            doc = doc if doc.is_tokenized else tokenizer(doc.copy())
            extra = _extra_columns(doc, path)
            n = len(extra[0]) if extra else 0
            if width is None and doc.tokens:
                width = n
            elif extra and n > (width or 0):
                raise DistantError(f"document {doc.id}: found {n} extra columns, expected {width} as in the "
                                   "documents before it (write jsonl to keep different columns)", path)
            part = f"{DOCSTART} {_doc_name(doc, path)}\n\n" if len(ahead) > 1 or doc.id != "doc-1" or not doc.tokens else ""
            text, merges = _format(doc, layer, scheme, extra, width or 0, path)
            if k == 0 and (part + text).startswith(BOM):
                raise DistantError(f"document {doc.id}: found a byte order mark at the start of the first token, "
                                   "expected none (a reader takes it for the file's byte order mark)", path)
            f.write(part + text)
            if merges:
                merged.append((doc.id, merges))
    if merged:
        shown = ", ".join(f"{d} ({n})" for d, n in merged[:3]) + (", ..." if len(merged) > 3 else "")
        log.warning("%s: %d pairs of adjacent entities of one type in layer %r merge into one entity in IO (documents "
                    "%s); write IOB2, IOB1 or IOBES to keep them apart", source_name(path),
                    sum(n for _, n in merged), layer, shown)


def _columns_of(doc: Document) -> list | None:
    columns = doc.meta.get("columns")
    return columns if columns and len(columns) == len(doc.tokens or ()) else None


def _doc_name(doc: Document, path: Path) -> str:
    name = doc.id
    if not name or name != name.strip() or any(c in name for c in "\r\n") or _FILLER.issuperset(name.split()):
        raise DistantError(f"document id {name!r} cannot name a CoNLL document, expected a non-empty id without "
                           "line breaks or surrounding whitespace, other than -X- and O", path)
    return name


def _format(doc: Document, layer: str, scheme: str, extra: list[list[str]] | None, width: int,
            path: Path) -> tuple[str, int]:
    words = doc.words()
    tags, merges = _tags(doc, layer, scheme, path)
    extra = extra or [[]] * len(words)
    lines = []
    for a, b in doc.sentences or [(0, len(words))]:
        if a == b:
            continue
        for k in range(a, b):
            word = words[k]
            if not _is_column(word) or word.startswith(DOCSTART):
                raise DistantError(f"document {doc.id}: found the token {word!r}, expected a token without tabs, "
                                   f"line breaks or surrounding whitespace that does not start with {DOCSTART}",
                                   path)
            row = extra[k] + ["_"] * (width - len(extra[k]))
            lines.append("\t".join([word, *row, tags[k]]))
        lines.append("")
    return "".join(line + "\n" for line in lines), merges


def _is_column(value: str) -> bool:
    """Whether ``value`` reads back unchanged as a column of a tab-separated line."""
    return bool(value) and value == value.strip() and not any(c in value for c in "\t\r\n")


def _tags(doc: Document, layer: str, scheme: str, path: Path) -> tuple[list[str], int]:
    """Return the tag of each token, and how many pairs of adjacent entities of one type the scheme merges."""
    spans = [s for s in doc.spans(layer) if s.label != O]
    aligned, unaligned = doc.align(spans, within_sentence=True)
    kept, overlapping = drop_overlaps(aligned)
    warn_dropped(doc, layer, path, len(spans), len(unaligned), overlapping)
    tags = [O] * len(doc.words())
    sentence_of = doc.sentence_of_token()
    by_sentence: dict[int, list[tuple[int, int, str]]] = {}
    for i, j, span in kept:
        if span.label == UNKNOWN:
            tags[i:j] = [UNKNOWN] * (j - i)
        else:
            by_sentence.setdefault(sentence_of[i], []).append((i, j, span.label))
    merges = 0
    for k, entities in by_sentence.items():
        a, b = doc.sentences[k] if doc.sentences else (0, len(tags))
        if scheme == "IO":
            merges += sum(1 for x, y in zip(entities, entities[1:]) if x[1] == y[0] and x[2] == y[2])
        local = spans_to_tags(b - a, [(i - a, j - a, label) for i, j, label in entities], scheme)
        for t, tag in enumerate(local, a):
            if tag != O:
                tags[t] = tag
    return tags, merges


def _extra_columns(doc: Document, path: Path) -> list[list[str]] | None:
    """Return the kept extra columns when they still match the tokens (one list per token)."""
    columns = doc.meta.get("columns")
    if not columns:
        return None
    if len(columns) != len(doc.tokens or ()) or len({len(c) for c in columns}) != 1:
        log.warning("%s: document %s: the kept extra columns do not match its %d tokens; writing token and tag "
                    "only", path, doc.id, len(doc.tokens or ()))
        return None
    rows = [[str(v) for v in c] for c in columns]
    for row in rows:
        for value in row:
            if not _is_column(value):
                raise DistantError(f"document {doc.id}: found the extra column {value!r}, expected a value without "
                                   "tabs, line breaks or surrounding whitespace", path)
    return rows
