"""From documents to the tagger's units: sentence chunks, their words and allowed tag sets, encoded.

A training or prediction unit is one sentence of a document, cut into chunks of at most ``max_tokens``
tokens so that a run-on "sentence" (a table, a list of compounds) does not dominate a batch. Chunks keep
their document and token range, so predicted tags map back to character spans of the original text.
:func:`encode_documents` turns documents into the tagger's examples once (frozen features computed and
cached then); training, dev scoring and prediction all start from it.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from distant.docs import PSEUDO, Document, Span
from distant.tags import tags_to_spans
from distant.tokenize import default_tokenizer

if TYPE_CHECKING:
    from distant.models.tagger import Tagger, TaggerExample


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


@dataclass
class Encoded:
    """Documents cut into chunks and encoded once for a tagger (dev sets are decoded every epoch)."""

    docs: Sequence[Document]
    chunks: list[Chunk]
    examples: list[TaggerExample]

    @property
    def num_words(self) -> int:
        return sum(c.last - c.first for c in self.chunks)


def encode_documents(model: Tagger, docs: Sequence[Document], *, max_tokens: int = 100,
                     device: torch.device | str = "cpu", batch_size: int = 64,
                     allowed_from: str | None = None, unmatched: str = "O",
                     feature_dir: Path | None = None) -> Encoded:
    """Tokenize ``docs`` if needed, cut them into chunks and encode the chunks for ``model``.

    The frozen inputs' features (a frozen char LM's, a frozen transformer's) are computed here once (on
    ``device``) and cached in the examples.

    Args:
        model: The tagger.
        docs: The documents.
        max_tokens: Longest chunk.
        device: Where frozen features are computed.
        batch_size: Sentences per batch for them.
        allowed_from: A layer to take every chunk's allowed tag sets from (training: ``pseudo``).
        unmatched: What tokens no span of that layer covers may be: ``O`` or ``unknown``.
        feature_dir: Keep the cached features in memory-mapped files in this folder instead of memory.
    """
    tokenizer = default_tokenizer()
    for doc in docs:
        tokenizer(doc)
    units = [c for c in chunks(docs, max_tokens) if c.last > c.first]
    words = chunk_words(docs, units)
    cached = model.cache(words, batch_size=batch_size, device=device, folder=feature_dir)
    encoded = Encoded(docs, units, model.encode(words, cached=cached))
    if allowed_from is not None:
        set_allowed(encoded, model.tags, allowed_from, unmatched)
    return encoded


def set_allowed(encoded: Encoded, tags: Sequence[str], layer: str = PSEUDO, unmatched: str = "O") -> None:
    """Give every encoded chunk its tokens' allowed tag sets from ``layer`` as it stands (self-training changes it)."""
    from distant.labelers.aggregate import allowed_tags

    per_doc: dict[int, torch.Tensor] = {}
    for chunk, example in zip(encoded.chunks, encoded.examples):
        if chunk.doc not in per_doc:
            per_doc[chunk.doc] = torch.from_numpy(allowed_tags(encoded.docs[chunk.doc], list(tags), layer, unmatched))
        example.allowed = per_doc[chunk.doc][chunk.first:chunk.last]  # [n, K] bool
