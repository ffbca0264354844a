"""From documents to the tagger's units: sentence chunks with their words and allowed tag sets.

A training or prediction unit is one sentence of a document, cut into chunks of at most ``max_tokens``
tokens so that a run-on "sentence" (a table, a list of compounds) does not dominate a batch. Chunks keep
their document and token range, so predicted tags map back to character spans of the original text.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from distant.docs import Document, Span
from distant.tags import tags_to_spans
from distant.tokenize import default_tokenizer


@dataclass(frozen=True, slots=True)
class Chunk:
    """Tokens ``[first, last)`` of document ``doc`` (an index into the corpus's document list)."""

    doc: int
    first: int
    last: int


def read_corpus(paths: Sequence[Path], fmt: str | None = None, layer: str = "gold") -> list[Document]:
    """Read and tokenize every document of ``paths``."""
    from distant.formats import read_documents

    docs: list[Document] = []
    for path in paths:
        docs.extend(read_documents(path, fmt, layer=layer))
    tokenizer = default_tokenizer()
    for doc in docs:
        tokenizer(doc)
    return docs


def chunks(docs: Sequence[Document], max_tokens: int = 100) -> list[Chunk]:
    """Return every sentence of ``docs`` as chunks of at most ``max_tokens`` tokens."""
    out = []
    for d, doc in enumerate(docs):
        for a, b in doc.sentences or []:
            for start in range(a, b, max_tokens):
                out.append(Chunk(d, start, min(b, start + max_tokens)))
    return out


def chunk_words(docs: Sequence[Document], units: Iterable[Chunk]) -> list[list[str]]:
    """Return the words of each chunk."""
    words_of = {}
    out = []
    for c in units:
        if c.doc not in words_of:
            words_of[c.doc] = docs[c.doc].words()
        out.append(words_of[c.doc][c.first:c.last])
    return out


def tags_to_doc_spans(doc: Document, chunk: Chunk, tags: Sequence[str], confidences: Sequence[float] | None,
                      source: str) -> list[Span]:
    """Turn a chunk's predicted IOB2 tags into character spans, scored by their least confident token."""
    spans = []
    for i, j, label in tags_to_spans(tags):
        start, end = doc.char_span(chunk.first + i, chunk.first + j)
        score = None if confidences is None else float(min(confidences[i:j]))
        spans.append(Span(start, end, label, source, score=score))
    return spans


def split_documents(n: int, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Split document indices into (train, held-out) with ``fraction`` held out, reproducibly."""
    if n < 2 or fraction <= 0:
        return list(range(n)), []
    order = list(range(n))
    random.Random(seed).shuffle(order)
    k = min(max(1, round(n * fraction)), n - 1)  # at least one held out, at least one kept
    return sorted(order[k:]), sorted(order[:k])
