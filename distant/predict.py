"""Prediction: tag documents with a trained tagger and store character spans with confidences.

Confidences come from the CRF's forward-backward marginals: a span's score is the smallest marginal
probability of the tags Viterbi chose for its tokens. After decoding, the document rules of
:class:`~distant.config.run.PredictConfig` make the predictions agree within each document.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from distant.checkpoints import load_checkpoint
from distant.config.run import PredictConfig
from distant.corpus import Encoded, encode_documents, tags_to_doc_spans
from distant.docs import PRED, Document
from distant.errors import DistantError
from distant.labelers import AbbreviationLabeler, ConsistencyLabeler, Labeler, PriorityAggregator
from distant.config.labelers import AbbreviationOptions, ConsistencyOptions
from distant.models.batching import map_in_length_order
from distant.models.tagger import Tagger, TaggerExample

log = logging.getLogger(__name__)

MODEL_FILE = "model.pt"
DOCS_PER_PART = 1000  # documents encoded and decoded together (bounds the cached features' memory)


@torch.no_grad()
def decode(model: Tagger, examples: Sequence[TaggerExample], *, batch_size: int = 128,
           device: torch.device | str = "cpu", tag_bias: torch.Tensor | None = None
           ) -> tuple[list[list[str]], list[list[float]]]:
    """Viterbi-decode encoded examples in length-sorted batches; results in input order."""
    bias = None if tag_bias is None else tag_bias.to(device)

    def run(ids: list[int]) -> list[tuple[list[str], list[float]]]:
        tags, conf = model.decode(model.collate([examples[i] for i in ids]).to(device), bias)
        return list(zip(tags, conf))

    results = map_in_length_order(run, [e.length for e in examples], batch_size)
    return [t for t, _ in results], [c for _, c in results]


@torch.no_grad()
def posteriors(model: Tagger, examples: Sequence[TaggerExample], *, batch_size: int = 128,
               device: torch.device | str = "cpu", tag_bias: torch.Tensor | None = None) -> list[np.ndarray]:
    """Return the model's tag posteriors ``[n, K]`` for each example (in input order)."""
    model.eval()
    bias = None if tag_bias is None else tag_bias.to(device)

    def run(ids: list[int]) -> list[np.ndarray]:
        batch = model.collate([examples[i] for i in ids]).to(device)
        post = model.posteriors(batch, bias)  # [B, T, K]
        return [post[b, :n].cpu().numpy() for b, n in enumerate(batch.lengths.tolist())]

    return map_in_length_order(run, [e.length for e in examples], batch_size)


def store_predictions(encoded: Encoded, tags: Sequence[Sequence[str]], confidences: Sequence[Sequence[float]],
                      layer: str = PRED, *, rules: PredictConfig | None = None,
                      min_score: float | None = None) -> tuple[int, int]:
    """Write predicted spans into ``layer`` of every document; return (spans kept, spans below ``min_score``).

    ``rules``: the document rules to apply then (:func:`apply_document_rules`); ``None``: none.
    ``min_score``: drop the spans less confident than this after the rules; ``None``: the rules' threshold.
    """
    per_doc: dict[int, list] = {d: [] for d in range(len(encoded.docs))}
    for chunk, t, c in zip(encoded.chunks, tags, confidences):
        per_doc[chunk.doc].extend(tags_to_doc_spans(encoded.docs[chunk.doc], chunk, t, c, "model"))
    for d, spans in per_doc.items():
        encoded.docs[d].set_spans(layer, spans)
    if rules is not None:
        apply_document_rules(encoded.docs, layer, rules)
    threshold = min_score if min_score is not None else rules.span_threshold if rules is not None else 0.0
    dropped = drop_unconfident(encoded.docs, layer, threshold)
    return sum(len(d.spans(layer)) for d in encoded.docs), dropped


def drop_unconfident(docs: Sequence[Document], layer: str, min_score: float) -> int:
    """Remove the spans of ``layer`` whose confidence is below ``min_score``; return how many went.

    Spans without a confidence are kept.
    """
    if min_score <= 0:
        return 0
    dropped = 0
    for doc in docs:
        spans = doc.spans(layer)
        kept = [s for s in spans if s.score is None or s.score >= min_score]
        if len(kept) < len(spans):
            dropped += len(spans) - len(kept)
            doc.set_spans(layer, kept)
    return dropped


def apply_document_rules(docs: Sequence[Document], layer: str, rules: PredictConfig) -> None:
    """Make the predictions in ``layer`` agree within each document (the model sees one sentence at a time).

    * ``propagate_abbreviations``: "... levodopa-induced dyskinesia (LID) ...": when ``layer`` labels the long
      form (or a span that ends where it ends), every ``LID`` of the document gets that label and the long
      form's confidence, replacing the spans it overlaps.
    * ``consistency_min_score`` > 0: a surface predicted with one type and at least this confidence is labeled
      so at its other occurrences in the document too (the case-folded token sequence must match), over what
      the model said there.
    """
    if rules.propagate_abbreviations:
        _override(docs, AbbreviationLabeler("abbreviation", AbbreviationOptions(layer=layer)), layer)
    if rules.consistency_min_score > 0:
        confident = "confident"
        with _aside(docs, confident):
            for doc in docs:
                doc.set_spans(confident, [s for s in doc.spans(layer)
                                          if (s.score or 0.0) >= rules.consistency_min_score])
            _override(docs, ConsistencyLabeler("consistency", ConsistencyOptions(layers=[confident])), layer)


def _override(docs: Sequence[Document], labeler: Labeler, layer: str) -> None:
    """Run ``labeler`` on every document; its spans replace the ``layer`` spans they overlap."""
    aggregator = PriorityAggregator([labeler.name, layer], output=layer)
    with _aside(docs, labeler.name):
        for doc in docs:
            labeler(doc)
            aggregator(doc)


@contextmanager
def _aside(docs: Sequence[Document], name: str) -> Iterator[None]:
    """Lend the layer ``name`` to a rule's working spans: a layer of that name the documents already hold (a
    labeler's ``abbreviation`` layer in a labeled file) is set aside and put back, not overwritten or lost."""
    held = {k: (list(doc.layers), doc.layers.pop(name)) for k, doc in enumerate(docs) if name in doc.layers}
    try:
        yield
    finally:
        for k, doc in enumerate(docs):
            doc.layers.pop(name, None)
            if k in held:  # back in its place among the layers
                order, spans = held[k]
                rest = dict(doc.layers, **{name: spans})
                doc.layers.clear()
                doc.layers.update((n, rest[n]) for n in [*order, *(n for n in rest if n not in order)] if n in rest)


def predict_stream(model: Tagger, docs: Iterable[Document], *, batch_size: int | None = None,
                   device: torch.device | str = "cpu", max_tokens: int = 100, layer: str = PRED,
                   tag_bias: torch.Tensor | None = None, stats: dict[str, float] | None = None,
                   progress: Callable[[int], None] | None = None) -> Iterator[Document]:
    """Tag documents as they come (spans in ``layer``, the model's document rules applied) and yield them.

    Documents are tagged in parts of :data:`DOCS_PER_PART`, always the same way, so a document's spans do not
    depend on how many documents come with it beyond its part, and memory holds one part at a time.

    Args:
        batch_size: Sentences per batch; ``None``: the model's ``predict.batch_size``.
        stats: Where the counts go (documents, sentences, words, spans, spans dropped by the model's
            ``min_score``, seconds), when given.
        progress: Called with each part's number of documents.
    """
    model.to(device)
    model.eval()
    batch_size = batch_size or model.rules.batch_size
    counts = stats if stats is not None else {}
    for key in ("documents", "sentences", "words", "spans", "below_min_score", "seconds"):
        counts.setdefault(key, 0)
    it = iter(docs)
    while part := list(itertools.islice(it, DOCS_PER_PART)):
        start = time.perf_counter()
        encoded = encode_documents(model, part, max_tokens=max_tokens, device=device, batch_size=batch_size)
        tags, conf = decode(model, encoded.examples, batch_size=batch_size, device=device, tag_bias=tag_bias)
        kept, dropped = store_predictions(encoded, tags, conf, layer, rules=model.rules)
        counts["spans"] += kept
        counts["below_min_score"] += dropped
        counts["documents"] += len(part)
        counts["sentences"] += len(encoded.chunks)
        counts["words"] += encoded.num_words
        counts["seconds"] += time.perf_counter() - start
        if progress is not None:
            progress(len(part))
        yield from part


def predict_documents(model: Tagger, docs: Sequence[Document], *, batch_size: int | None = None,
                      device: torch.device | str = "cpu", max_tokens: int = 100, layer: str = PRED,
                      tag_bias: torch.Tensor | None = None,
                      progress: Callable[[int], None] | None = None) -> dict[str, float]:
    """Tag ``docs`` in place (:func:`predict_stream`); return throughput figures."""
    stats: dict[str, float] = {}
    for _ in predict_stream(model, docs, batch_size=batch_size, device=device, max_tokens=max_tokens, layer=layer,
                            tag_bias=tag_bias, stats=stats, progress=progress):
        pass
    return with_rates(stats)


def with_rates(stats: dict[str, float]) -> dict[str, float]:
    """Return prediction counts with their rates (sentences and words per second)."""
    seconds = max(stats.get("seconds", 0.0), 1e-9)
    return {**stats, "sentences_per_s": stats.get("sentences", 0) / seconds,
            "words_per_s": stats.get("words", 0) / seconds}


def load_model(path: str | Path, device: torch.device | str = "cpu") -> Tagger:
    """Load a tagger from a run folder (its ``model.pt``) or a checkpoint file, on any device."""
    path = Path(path)
    file = path / MODEL_FILE if path.is_dir() else path
    if not file.is_file():
        raise DistantError(f"no trained model found (expected {MODEL_FILE} in a run folder, or a checkpoint file)",
                           file)
    model = Tagger.from_checkpoint(load_checkpoint(file), where=str(file))
    return model.to(device).eval()
