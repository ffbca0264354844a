"""CoNLL: one token per line with its tag in the last column, a blank line after each sentence.

::

    -DOCSTART- 8701013
    Famotidine<TAB>B-Chemical
    -<TAB>O
    associated<TAB>O

Columns are separated by tabs (when the first token line has one) or by any whitespace. A ``-DOCSTART-`` line
starts a document, named by the text after it (``doc-N`` when there is none); a file without one is one
document named ``doc-1`` (so two files of the same sentences pair up in evaluation). The text is rebuilt from the tokens: single spaces between the tokens of a
sentence, a line break between sentences. Columns between the token and the tag are kept in
``doc.meta["columns"]`` (one list per token) and written back. The tag ``-`` (unknown) is read as a span
labeled ``-`` and written back as ``-``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from distant.atomic import atomic_open
from distant.docs import GOLD, O, PRED, UNKNOWN, Document, Span
from distant.errors import DistantError
from distant.formats.align import align_spans, drop_overlaps, warn_dropped
from distant.formats.lines import iter_lines
from distant.tags import TagError, scheme_name, spans_to_tags, split_tag, tags_to_spans
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


def read(path: Path, *, layer: str = GOLD, scheme: str | None = None) -> list[Document]:
    """Read CoNLL documents, their tags decoded into spans of ``layer``.

    Args:
        path: The file.
        layer: The layer that receives the spans.
        scheme: The tag scheme (IOB2, IOB1, IOBES, IO or an alias); ``None`` guesses it from the tags: IOBES if
            a tag starts with ``S-`` or ``E-``, IO if no tag starts with ``B-``, IOB2 otherwise.

    Raises:
        DistantError: a line with a different number of columns than the first, a tag that is not valid in the
            scheme, or any error of :func:`~distant.formats.lines.iter_lines`.
    """
    path = Path(path)
    raw_docs = _read_lines(path)
    given = scheme is not None
    scheme = _canonical_scheme(scheme, path) if given else _guess_scheme(raw_docs)
    _check_tags(raw_docs, scheme, path)
    if not given and scheme == "IOB2":
        _warn_orphans(raw_docs, path)
    return [_document(raw.id if raw.id is not None else "doc-1", raw.sentences, layer, scheme)
            for raw in raw_docs]


def _read_lines(path: Path) -> list[_RawDocument]:
    docs: list[_RawDocument] = []
    current = _RawDocument(None)
    sentence: _Sentence | None = None
    tab: bool | None = None  # tab-separated, decided by the first token line
    columns = first_line = 0
    n_docstart = 0
    for number, line in iter_lines(path, EXPECTED):
        stripped = line.strip()
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
                raise DistantError(f"found {len(fields)} column, expected at least 2 (token and tag)", path, number)
            columns, first_line = len(fields), number
        elif len(fields) != columns:
            raise DistantError(f"found {len(fields)} columns, expected {columns} (as on line {first_line})",
                               path, number)
        if tab and not all(fields):
            raise DistantError(f"found an empty column {fields.index('') + 1}, expected a value", path, number)
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
        raise DistantError(str(e), path) from None


def _guess_scheme(raw_docs: list[_RawDocument]) -> str:
    prefixes = {tag[:2] for raw in raw_docs for s in raw.sentences for tag in s.tags}
    if prefixes & {"S-", "E-", "U-", "L-"}:
        return "IOBES"
    if "B-" not in prefixes and "I-" in prefixes:
        return "IO"
    return "IOB2"


def _check_tags(raw_docs: list[_RawDocument], scheme: str, path: Path) -> None:
    """Check each distinct tag once; report the first line of a bad one."""
    bad = {}
    for tag in {tag for raw in raw_docs for s in raw.sentences for tag in s.tags}:
        try:
            split_tag(tag, scheme)
        except TagError as e:
            bad[tag] = str(e)
    if not bad:
        return
    for raw in raw_docs:
        for s in raw.sentences:
            for k, tag in enumerate(s.tags):
                if tag in bad:
                    raise DistantError(bad[tag], path, s.first_line + k)


def _warn_orphans(raw_docs: list[_RawDocument], path: Path) -> None:
    """Warn when a guessed IOB2 file has entities that start with I- (they decode as no entity)."""
    orphans = 0
    for raw in raw_docs:
        for s in raw.sentences:
            previous = O
            for tag in s.tags:
                if tag.startswith("I-") and previous[2:] != tag[2:]:
                    orphans += 1
                previous = tag
    if orphans:
        log.warning("%s: %d runs of I- tags have no B- tag before them and are not entities in IOB2; if the file "
                    "is IOB1, pass its scheme", path, orphans)


def _document(doc_id: str, sentences: list[_Sentence], layer: str, scheme: str) -> Document:
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
        for i, j, label in tags_to_spans(s.tags, scheme):
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


def write(docs: Sequence[Document], path: Path, *, layer: str = PRED, scheme: str = "IOB2") -> None:
    """Write the spans of ``layer`` as tags in ``scheme``, one token per line.

    Documents without tokens are tokenized with :func:`~distant.tokenize.default_tokenizer`. Spans labeled ``-``
    are written as the tag ``-``; spans labeled ``O`` as ``O``. Spans that do not align with token boundaries,
    cross a sentence boundary or overlap a longer span cannot be written as tags: each document that has some
    gets one warning with the counts.

    Raises:
        DistantError: an unknown scheme, or a token or id with a line break or tab.
    """
    path = Path(path)
    scheme = _canonical_scheme(scheme, path)
    tokenizer = default_tokenizer()
    docs = [doc if doc.is_tokenized else tokenizer(doc.copy()) for doc in docs]
    extras = [_extra_columns(doc, path) for doc in docs]
    width = max((len(extra[0]) for extra in extras if extra), default=0)
    with atomic_open(path) as f:
        for doc, extra in zip(docs, extras):
            if len(docs) > 1:
                if any(c in doc.id for c in "\r\n"):
                    raise DistantError(f"document id {doc.id!r} has a line break, expected none", path)
                f.write(f"{DOCSTART} {doc.id}\n\n")
            f.write(_format(doc, layer, scheme, extra, width, path))


def _format(doc: Document, layer: str, scheme: str, extra: list[list[str]] | None, width: int, path: Path) -> str:
    words = doc.words()
    tags = _tags(doc, layer, scheme, path)
    extra = extra or [[]] * len(words)
    lines = []
    for a, b in doc.sentences or [(0, len(words))]:
        if a == b:
            continue
        for k in range(a, b):
            word = words[k]
            if any(c in word for c in "\t\r\n"):
                raise DistantError(f"document {doc.id}: token {word!r} has a tab or a line break, expected none",
                                   path)
            row = extra[k] + ["_"] * (width - len(extra[k]))
            lines.append("\t".join([word, *row, tags[k]]))
        lines.append("")
    return "".join(line + "\n" for line in lines)


def _tags(doc: Document, layer: str, scheme: str, path: Path) -> list[str]:
    spans = [s for s in doc.spans(layer) if s.label != O]
    aligned, unaligned = align_spans(doc, spans, within_sentence=True)
    kept, overlapping = drop_overlaps(aligned)
    warn_dropped(doc, layer, path, len(spans), unaligned, overlapping)
    tags = [O] * len(doc.words())
    sentence_of = doc.sentence_of_token()
    by_sentence: dict[int, list[tuple[int, int, str]]] = {}
    for i, j, span in kept:
        if span.label == UNKNOWN:
            tags[i:j] = [UNKNOWN] * (j - i)
        else:
            by_sentence.setdefault(sentence_of[i], []).append((i, j, span.label))
    for k, entities in by_sentence.items():
        a, b = doc.sentences[k] if doc.sentences else (0, len(tags))
        local = spans_to_tags(b - a, [(i - a, j - a, label) for i, j, label in entities], scheme)
        for t, tag in enumerate(local, a):
            if tag != O:
                tags[t] = tag
    return tags


def _extra_columns(doc: Document, path: Path) -> list[list[str]] | None:
    """Return the kept extra columns when they still match the tokens (one list per token)."""
    columns = doc.meta.get("columns")
    if not columns:
        return None
    if len(columns) != len(doc.tokens or ()) or len({len(c) for c in columns}) != 1:
        log.warning("%s: document %s: the kept extra columns do not match its %d tokens; writing token and tag "
                    "only", path, doc.id, len(doc.tokens or ()))
        return None
    return [[str(v) for v in c] for c in columns]
