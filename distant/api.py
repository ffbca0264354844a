"""The Python API: what the commands do, as functions and two small classes (see ``docs/api.md``).

* :func:`load` a trained run folder into a :class:`Tagger`: ``tagger("text")`` gives :class:`Entity` objects
  (character offsets, type, text, confidence); ``tagger.pipe(texts_or_documents)`` streams.
* :class:`Labelers` from a labeling config (``Labelers.from_config("configs/labelers_bc5cdr.toml")``) or the
  ``distant label`` flags, to pseudo-label strings or documents.
* :func:`read` and :func:`write` for every format, :func:`evaluate` for strict scores.

``distant predict``, ``distant label`` and ``distant evaluate`` are thin calls of these.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from distant.docs import GOLD, PRED, PSEUDO, Document, Span

if TYPE_CHECKING:
    import torch

    from distant.evaluate import Evaluation
    from distant.labelers.pipeline import LabelStats

PathLike = str | os.PathLike


@dataclass(frozen=True)
class Entity:
    """A predicted or labeled mention: ``text == source_text[start:end]``.

    Attributes:
        start: First character (inclusive).
        end: Last character (exclusive).
        type: The entity type (``Chemical``).
        text: The mention's text.
        confidence: The model's confidence in [0, 1] (``None`` for a labeler's span).
    """

    start: int
    end: int
    type: str
    text: str
    confidence: float | None = None

    @classmethod
    def of(cls, doc: Document, span: Span) -> Entity:
        return cls(span.start, span.end, span.label, doc.span_text(span), span.score)


def _as_document(item: str | Document, n: int) -> Document:
    if isinstance(item, Document):
        return item
    if isinstance(item, str):
        return Document(str(n), item)
    raise TypeError(f"expected a str or a distant Document, found {type(item).__name__}")


# -- tagging ------------------------------------------------------------------------------------------------
class Tagger:
    """A trained tagger (:func:`load`): tags strings or documents, in batches.

    Strings come back as lists of :class:`Entity`; documents come back as the same documents, tagged (their
    ``layer``, ``pred`` by default, replaced), with the document rules of the model applied. A run trained with
    ``[combine]`` has a :attr:`combination`: its labelers and a label model decide over the tagger's spans
    (:mod:`distant.combine`).
    """

    def __init__(self, model: Any, device: torch.device, *, batch_size: int | None = None, layer: str = PRED,
                 combination: Any = None):
        self.model, self.device, self.batch_size, self.layer = model, device, batch_size, layer
        self.combination = combination
        self.stats: dict[str, float] = {}  # documents, sentences, words, spans, seconds, over every call

    @property
    def types(self) -> list[str]:
        """The entity types the model predicts."""
        return sorted({t.split("-", 1)[1] for t in self.model.tags if "-" in t})

    def __call__(self, item: str | Document) -> list[Entity] | Document:
        """Tag one string (a list of entities) or one document (the document, tagged)."""
        return next(self.pipe([item]))

    def pipe(self, items: Iterable[str | Document], batch_size: int | None = None) -> Iterator[list[Entity] | Document]:
        """Tag strings or documents as they come, in input order (each in kind: see :meth:`__call__`).

        Args:
            items: Strings and/or documents (an iterator is consumed as the results are taken).
            batch_size: Sentences per batch (default: the one given to :func:`load`, else the model's
                ``predict.batch_size``). Documents are tagged in parts of
                :data:`distant.predict.DOCS_PER_PART`, as ``distant predict`` tags them.
        """
        kinds: list[bool] = []  # whether each item was a string

        def documents() -> Iterator[Document]:
            for n, item in enumerate(items):
                kinds.append(isinstance(item, str))
                yield _as_document(item, n)

        for k, doc in enumerate(self.tag_documents(documents(), batch_size=batch_size)):
            yield [Entity.of(doc, s) for s in doc.spans(self.layer)] if kinds[k] else doc

    def tag_documents(self, docs: Iterable[Document], *, batch_size: int | None = None,
                      progress: Callable[[int], None] | None = None) -> Iterator[Document]:
        """Tag documents as they come (in place) and yield them; the counts add up in :attr:`stats`."""
        import itertools

        from distant.combine import TAGGER
        from distant.predict import DOCS_PER_PART, predict_stream

        tagged = predict_stream(self.model, docs, batch_size=batch_size or self.batch_size, device=self.device,
                                layer=self.layer if self.combination is None else TAGGER, stats=self.stats,
                                progress=progress)
        if self.combination is None:
            yield from tagged
            return
        while part := list(itertools.islice(tagged, DOCS_PER_PART)):
            self.combination.apply(part, self.layer)
            self.stats["combined_spans"] = self.stats.get("combined_spans", 0) + sum(len(d.spans(self.layer))
                                                                                     for d in part)
            yield from part


def load(run_dir: PathLike, device: str = "auto", *, threads: int | None = None, batch_size: int | None = None,
         layer: str = PRED, combine: bool = True) -> Tagger:
    """Load a trained tagger from a run folder (its ``model.pt``, and ``combine.json`` when it has one) or a
    checkpoint file.

    Args:
        run_dir: The run folder (``distant train -o``) or a checkpoint file.
        device: ``auto`` (CUDA when present), ``cpu``, ``cuda`` or ``cuda:N``.
        threads: ``None``: leave torch's CPU threads as they are; 0: one torch thread and parallel branches (what
            ``distant predict`` does); N: N torch threads.
        batch_size: Sentences per batch (default: the model's ``predict.batch_size``).
        layer: The layer documents receive the predictions in.
        combine: With a run trained with ``[combine]``: its labelers and label model decide over the tagger's
            spans (``False``: the tagger's spans alone).

    Raises:
        DistantError: no model there, a device this machine does not have, or a combination whose labelers'
            files are missing.
    """
    from distant.combine import load_combination
    from distant.device import resolve_device, setup
    from distant.predict import load_model

    dev = resolve_device(device) if threads is None else setup(device, threads)[0]
    model = load_model(run_dir, dev)
    tagger = Tagger(model, dev, batch_size=batch_size, layer=layer)
    if combine and Path(run_dir).is_dir():
        tagger.combination = load_combination(Path(run_dir), tagger.types)
    return tagger


# -- labeling -----------------------------------------------------------------------------------------------
class Labelers:
    """Labelers and their aggregator: pseudo-labels for strings or documents (``distant label``).

    Each labeler writes its own layer (its name); the aggregated pseudo-labels go to ``pseudo``.
    """

    def __init__(self, labelers: Sequence[Any], aggregator: Any) -> None:
        self.labelers, self.aggregator = list(labelers), aggregator
        self.stats: LabelStats | None = None  # what the last pipe() did

    @property
    def names(self) -> list[str]:
        """The labelers' names, in priority order (their layers)."""
        return [lab.name for lab in self.labelers]

    @property
    def layer(self) -> str:
        """The aggregated layer (``pseudo``)."""
        return getattr(self.aggregator, "output", PSEUDO)

    @classmethod
    def from_config(cls, path: PathLike, *, types: Sequence[str] | None = None) -> Labelers:
        """Build them from a labeling config (``[[labelers]]`` and ``[aggregate]`` tables, TOML).

        Raises:
            DistantError: a missing or malformed config, an unknown key or labeler type.
        """
        from distant.labelers.pipeline import load_labeling_config

        return cls(*load_labeling_config(path, types=types))

    @classmethod
    def from_args(cls, dicts: Sequence[PathLike] = (), unknown: Sequence[PathLike] = (),
                  stopwords: PathLike | None = None, patterns: Sequence[PathLike] = (),
                  config: PathLike | None = None, *, abbreviations: bool = True, unmatched: str = "O") -> Labelers:
        """Build them as the ``distant label`` flags do (``--dict``, ``--unknown``, ``--config``, ...)."""
        from distant.labelers.pipeline import labelers_from_args

        path = (lambda p: None if p is None else Path(p))
        return cls(*labelers_from_args([Path(p) for p in dicts], [Path(p) for p in unknown], path(stopwords),
                                       [Path(p) for p in patterns], path(config), abbreviations=abbreviations,
                                       unmatched=unmatched))

    def __call__(self, item: str | Document) -> list[Entity] | Document:
        """Label one string (its pseudo-label entities, ``O`` and unknown marks left out) or one document."""
        return next(self.pipe([item]))

    def pipe(self, items: Iterable[str | Document], *, workers: int = 1,
             progress: Callable[[int], None] | None = None) -> Iterator[list[Entity] | Document]:
        """Label strings or documents as they come, in input order (``workers`` > 1: forked processes)."""
        from distant.evaluate import IGNORED_LABELS

        kinds: list[bool] = []

        def documents() -> Iterator[Document]:
            for n, item in enumerate(items):
                kinds.append(isinstance(item, str))
                yield _as_document(item, n)

        for k, doc in enumerate(self.label_documents(documents(), workers=workers, progress=progress)):
            if kinds[k]:
                yield [Entity.of(doc, s) for s in doc.spans(self.layer) if s.label not in IGNORED_LABELS]
            else:
                yield doc

    def label_documents(self, docs: Iterable[Document], *, workers: int = 1,
                        progress: Callable[[int], None] | None = None) -> Iterator[Document]:
        """Label documents as they come (in place) and yield them; the counts go to :attr:`stats`."""
        from distant.labelers.pipeline import Labeling

        with Labeling(self.labelers, self.aggregator, workers=workers, progress=progress) as run:
            yield from run(docs)
        self.stats = run.stats


# -- formats and scores -------------------------------------------------------------------------------------
def read(path: PathLike, format: str | None = None, *, layer: str = GOLD, scheme: str | None = None,
         strict: bool = False, stream: bool = False) -> list[Document] | Iterator[Document]:
    """Read the documents of a file (any format; ``format=None``: from the name), a list or, with ``stream``, an
    iterator that reads as it goes (see :func:`distant.formats.iter_documents`)."""
    from distant.formats import iter_documents, read_documents

    if stream:
        return iter_documents(path, format, layer=layer, scheme=scheme, strict=strict)
    return read_documents(path, format, layer=layer, scheme=scheme, strict=strict)


def write(docs: Iterable[Document], path: PathLike, format: str | None = None, *, layer: str = PRED,
          scheme: str = "IOB2") -> int:
    """Write documents atomically (``format=None``: from the name; ``layer``: the spans written); return how many."""
    from distant.formats import write_documents

    return write_documents(docs, path, format, layer=layer, scheme=scheme)


def evaluate(gold: PathLike | Iterable[Document], pred: PathLike | Iterable[Document], *, gold_layer: str = GOLD,
             pred_layer: str | None = None, gold_format: str | None = None, pred_format: str | None = None,
             scheme: str | None = None, strict: bool = False, errors: PathLike | None = None,
             progress: Callable[[int], None] | None = None) -> Evaluation:
    """Score predictions against gold, strictly (the scores of ``distant evaluate``).

    ``gold`` and ``pred`` are files (read as :func:`read` reads them) or documents. ``pred_layer=None``: ``pred``,
    else ``pseudo``, else ``gold``, the first the predictions hold. ``result.as_dict()`` is what ``distant
    evaluate --json`` prints; ``errors``: write the false positives and negatives (TSV) there.

    Raises:
        DistantError: bad input, documents that do not pair up, or a layer no document has.
    """
    from distant.evaluate import evaluate_documents, evaluate_files

    if isinstance(gold, (str, os.PathLike)) and isinstance(pred, (str, os.PathLike)):
        return evaluate_files(gold, pred, gold_format=gold_format, pred_format=pred_format, gold_layer=gold_layer,
                              pred_layer=pred_layer, scheme=scheme, strict=strict, errors=errors, progress=progress)
    golds = read(gold, gold_format, scheme=scheme, strict=strict, stream=True) \
        if isinstance(gold, (str, os.PathLike)) else gold
    preds = read(pred, pred_format, layer=PRED, scheme=scheme, strict=strict, stream=True) \
        if isinstance(pred, (str, os.PathLike)) else pred
    return evaluate_documents(golds, preds, gold_layer=gold_layer, pred_layer=pred_layer, errors=errors,
                              progress=progress)


__all__ = ["Entity", "Labelers", "Tagger", "evaluate", "load", "read", "write"]
