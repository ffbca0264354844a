"""Prediction: tag documents with a trained tagger and store character spans with confidences.

Confidences come from the CRF's forward-backward marginals: a span's score is the smallest marginal
probability of the tags Viterbi chose for its tokens.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from distant.checkpoints import load_checkpoint
from distant.corpus import Chunk, chunk_words, chunks, tags_to_doc_spans
from distant.docs import PRED, Document
from distant.errors import DistantError
from distant.labelers import (AbbreviationLabeler, AbbreviationOptions, ConsistencyLabeler, ConsistencyOptions,
                              Labeler, PriorityAggregator)
from distant.models.tagger import Tagger, TaggerConfig, TaggerExample, collate
from distant.tokenize import default_tokenizer

log = logging.getLogger(__name__)

MODEL_FILE = "model.pt"


@dataclass
class Encoded:
    """Documents cut into chunks and encoded once for the tagger (dev sets are decoded every epoch)."""

    docs: Sequence[Document]
    chunks: list[Chunk]
    examples: list[TaggerExample]

    @property
    def num_words(self) -> int:
        return sum(c.last - c.first for c in self.chunks)


def encode_documents(model: Tagger, docs: Sequence[Document], *, max_tokens: int = 100,
                     device: torch.device | str = "cpu", batch_size: int = 64) -> Encoded:
    """Tokenize ``docs`` if needed, cut them into chunks and encode the chunks for ``model``.

    The frozen parts' features (a frozen char LM's, a frozen transformer's) are computed here once (on
    ``device``) and cached in the examples.
    """
    tokenizer = default_tokenizer()
    for doc in docs:
        tokenizer(doc)
    units = [c for c in chunks(docs, max_tokens) if c.last > c.first]
    words = chunk_words(docs, units)
    features = model.cached_features(words, batch_size=batch_size, device=device)
    return Encoded(docs, units, model.encode(words, **features))


@torch.no_grad()
def decode(model: Tagger, examples: Sequence[TaggerExample], *, batch_size: int = 128,
           device: torch.device | str = "cpu", tag_bias: torch.Tensor | None = None
           ) -> tuple[list[list[str]], list[list[float]]]:
    """Viterbi-decode encoded examples in length-sorted batches; results in input order."""
    order = sorted(range(len(examples)), key=lambda i: len(examples[i].words))
    tags: list[list[str]] = [[] for _ in examples]
    conf: list[list[float]] = [[] for _ in examples]
    bias = None if tag_bias is None else tag_bias.to(device)
    for k in range(0, len(order), batch_size):
        ids = order[k:k + batch_size]
        batch_tags, batch_conf = model.decode(collate([examples[i] for i in ids]).to(device), bias)
        for i, t, c in zip(ids, batch_tags, batch_conf):
            tags[i], conf[i] = t, c
    return tags, conf


def store_predictions(encoded: Encoded, tags: Sequence[Sequence[str]], confidences: Sequence[Sequence[float]],
                      layer: str = PRED, *, rules: TaggerConfig | None = None) -> int:
    """Write predicted spans into ``layer`` of every document; return the number of spans.

    ``rules``: a tagger config whose document-level rules then apply (:func:`apply_document_rules`).
    """
    per_doc: dict[int, list] = {d: [] for d in range(len(encoded.docs))}
    for chunk, t, c in zip(encoded.chunks, tags, confidences):
        per_doc[chunk.doc].extend(tags_to_doc_spans(encoded.docs[chunk.doc], chunk, t, c, "model"))
    for d, spans in per_doc.items():
        encoded.docs[d].set_spans(layer, spans)
    if rules is not None:
        apply_document_rules(encoded.docs, layer, abbreviations=rules.propagate_abbreviations,
                             consistency_min_score=rules.consistency_min_score)
    return sum(len(d.spans(layer)) for d in encoded.docs)


def apply_document_rules(docs: Sequence[Document], layer: str = PRED, *, abbreviations: bool = True,
                         consistency_min_score: float = 0.0) -> None:
    """Make the predictions in ``layer`` agree within each document (the model sees one sentence at a time).

    * ``abbreviations``: "... levodopa-induced dyskinesia (LID) ...": when ``layer`` labels the long form (or a
      span that ends where it ends), every ``LID`` of the document gets that label and the long form's
      confidence, replacing the spans it overlaps.
    * ``consistency_min_score`` > 0: a surface predicted with one type and at least this confidence is labeled
      so at its other occurrences in the document too (the case-folded token sequence must match), over what
      the model said there.
    """
    if abbreviations:
        _override(docs, AbbreviationLabeler("abbreviation", AbbreviationOptions(layer=layer)), layer)
    if consistency_min_score > 0:
        confident = "confident"
        for doc in docs:
            doc.set_spans(confident, [s for s in doc.spans(layer) if (s.score or 0.0) >= consistency_min_score])
        _override(docs, ConsistencyLabeler("consistency", ConsistencyOptions(layers=[confident])), layer)
        for doc in docs:
            del doc.layers[confident]


def _override(docs: Sequence[Document], labeler: Labeler, layer: str) -> None:
    """Run ``labeler`` on every document; its spans replace the ``layer`` spans they overlap."""
    aggregator = PriorityAggregator([labeler.name, layer], output=layer)
    for doc in docs:
        labeler(doc)
        aggregator(doc)
        del doc.layers[labeler.name]


DOCS_PER_PART = 1000  # documents encoded and decoded together (bounds the cached features' memory)


def predict_documents(model: Tagger, docs: Sequence[Document], *, batch_size: int = 128,
                      device: torch.device | str = "cpu", max_tokens: int = 100, layer: str = PRED,
                      tag_bias: torch.Tensor | None = None,
                      progress: Callable[[int], None] | None = None) -> dict[str, float]:
    """Tag ``docs`` in place (spans in ``layer``); return throughput figures.

    Documents are tagged in parts of :data:`DOCS_PER_PART`, always the same way, so a document's spans do not
    depend on how many documents come with it beyond its part; ``progress`` is called with each part's size.
    """
    model.to(device)
    model.eval()
    start = time.perf_counter()
    sentences = words = spans = 0
    for first in range(0, len(docs), DOCS_PER_PART):
        part = docs[first:first + DOCS_PER_PART]
        encoded = encode_documents(model, part, max_tokens=max_tokens, device=device, batch_size=batch_size)
        tags, conf = decode(model, encoded.examples, batch_size=batch_size, device=device, tag_bias=tag_bias)
        spans += store_predictions(encoded, tags, conf, layer, rules=model.config)
        sentences += len(encoded.chunks)
        words += encoded.num_words
        if progress is not None:
            progress(len(part))
    seconds = time.perf_counter() - start
    return {"documents": len(docs), "sentences": sentences, "words": words, "spans": spans, "seconds": seconds,
            "sentences_per_s": sentences / max(seconds, 1e-9), "words_per_s": words / max(seconds, 1e-9)}


def load_model(path: str | Path, device: torch.device | str = "cpu") -> Tagger:
    """Load a tagger from a run folder (its ``model.pt``) or a checkpoint file, on any device."""
    path = Path(path)
    file = path / MODEL_FILE if path.is_dir() else path
    if not file.is_file():
        raise DistantError(f"no trained model found (expected {MODEL_FILE} in a run folder, or a checkpoint file)",
                           file)
    model = Tagger.from_checkpoint(load_checkpoint(file), where=str(file))
    return model.to(device).eval()
