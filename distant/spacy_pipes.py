"""spaCy components: a trained distant tagger and a labeler config as pipes of any spaCy pipeline.

Registered through the ``spacy_factories`` entry point (``pyproject.toml``), so no import is needed::

    nlp = spacy.blank("en")
    nlp.add_pipe("distant_tagger", config={"model": "runs/bc5cdr"})
    nlp.add_pipe("distant_labelers", config={"config": "configs/labelers_bc5cdr.toml"})

The model tokenizes the text its own way; spaCy's tokens may differ, so spans travel as character offsets and
become spaCy spans with ``doc.char_span``. ``alignment_mode`` says what happens when a span's offsets fall
inside a spaCy token: ``split`` (the default) splits that token there (``doc.retokenize``), so every span keeps
its exact offsets (and the scores of ``distant predict``; counted in ``pipe.counts["split_tokens"]``);
``expand`` / ``contract`` keep spaCy's tokens and move the span to the smallest token range covering it / the
largest inside it (counted as *realigned*); ``strict`` writes only the spans that fit. A span that cannot be
placed (a boundary in whitespace, no token inside it, or overlapping another in ``doc.ents``) is *unaligned*
and not written. The counts are on the component (``pipe.counts``), per document in
``doc._.distant_unaligned``, and logged as a warning per batch.

A run trained with ``combine.inputs`` (its label model weighs labelling layers the text carries) reads them
from the doc's span groups of those names, as ``distant_labelers`` (``spans_prefix=""``) writes them; a doc
without them is an error, as in ``distant predict``.

A predicted span's confidence is ``span._.distant_confidence``; spaCy keeps extension values in
``doc.user_data``, so a ``DocBin(store_user_data=True)`` keeps them.
"""

from __future__ import annotations

import itertools
import logging
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import minibatch

from distant.docs import Document, Span as TextSpan
from distant.errors import DistantError

log = logging.getLogger(__name__)

CONFIDENCE = "distant_confidence"
UNALIGNED = "distant_unaligned"
ALIGNMENT_MODES = ("split", "strict", "expand", "contract")


def register_extensions() -> None:
    """Register ``Span._.distant_confidence`` and ``Doc._.distant_unaligned`` (once)."""
    if not Span.has_extension(CONFIDENCE):
        Span.set_extension(CONFIDENCE, default=None)
    if not Doc.has_extension(UNALIGNED):
        Doc.set_extension(UNALIGNED, default=0)


def to_spacy_spans(doc: Doc, spans: Sequence[Any], mode: str, counts: Counter, *, scores: bool = False
                   ) -> tuple[list[Span], int]:
    """Turn distant spans into spans of ``doc`` (see the module); return them and how many could not be placed."""
    if mode == "split":
        split_at_boundaries(doc, [b for span in spans for b in (span.start, span.end)], counts)
    out: list[Span] = []
    lost = 0
    for span in spans:
        placed = doc.char_span(span.start, span.end, label=span.label, kb_id=span.kb_id or "")
        if placed is None and mode in ("expand", "contract"):
            placed = doc.char_span(span.start, span.end, label=span.label, kb_id=span.kb_id or "",
                                   alignment_mode=mode)
            if placed is not None:
                counts["realigned"] += 1
        if placed is None or len(placed) == 0:
            lost += 1
            continue
        if scores:
            placed._.set(CONFIDENCE, span.score)
        out.append(placed)
    return out, lost


def split_at_boundaries(doc: Doc, offsets: Iterable[int], counts: Counter) -> None:
    """Split the tokens of ``doc`` that a span boundary falls inside of, there (``retokenize().split``).

    A boundary inside whitespace cannot be a token boundary and is left as it is (its span is then unaligned).
    """
    cuts: dict[int, set[int]] = {}
    for offset in offsets:
        token = doc.char_span(offset, offset + 1, alignment_mode="expand") if offset < len(doc.text) else None
        if token is None or len(token) != 1 or token[0].idx == offset:
            continue
        cuts.setdefault(token[0].i, set()).add(offset - token[0].idx)
    if not cuts:
        return
    with doc.retokenize() as retokenizer:
        for i, inside in cuts.items():
            token = doc[i]
            points = [0, *sorted(inside), len(token.text)]
            orths = [token.text[a:b] for a, b in itertools.pairwise(points)]
            retokenizer.split(token, orths, heads=[(token, k) for k in range(len(orths))])
            counts["split_tokens"] += 1


def _check_mode(mode: str) -> None:
    if mode not in ALIGNMENT_MODES:
        raise DistantError(f"alignment_mode: expected one of {', '.join(ALIGNMENT_MODES)}, found {mode!r}")


class DistantTagger:
    """The ``distant_tagger`` pipe: predictions of a trained tagger as ``doc.ents`` or a span group."""

    def __init__(self, nlp: Language, name: str, model: str, spans_key: str | None = None, device: str = "cpu",
                 batch_size: int | None = None, alignment_mode: str = "split") -> None:
        from distant.api import load

        _check_mode(alignment_mode)
        register_extensions()
        self.name, self.spans_key, self.alignment_mode = name, spans_key, alignment_mode
        self.tagger = load(model, device, batch_size=batch_size)
        self.counts: Counter = Counter()  # spans written, realigned, unaligned

    def __call__(self, doc: Doc) -> Doc:
        return next(self.pipe([doc]))

    def pipe(self, docs: Iterable[Doc], batch_size: int = 128) -> Iterator[Doc]:
        """Tag spaCy docs as they come, in input order.

        The model tags documents in parts of :data:`distant.predict.DOCS_PER_PART`, whatever spaCy's
        ``batch_size``, as ``distant predict`` does: the decoder's floating-point sums depend on which sentences
        share a batch, so another grouping could turn a near-tie the other way and a document's spans would
        depend on spaCy's batch size.
        """
        waiting: deque[Doc] = deque()  # spaCy docs whose text the tagger has taken, in order
        combination = self.tagger.combination
        inputs = combination.inputs if combination is not None else []  # its sources the text carries itself

        def ours() -> Iterator[Document]:
            for k, sdoc in enumerate(docs):
                waiting.append(sdoc)
                doc = Document(str(k), sdoc.text)
                for name in inputs:  # combine.inputs: the span group of that name (distant_labelers writes them)
                    if name in sdoc.spans:
                        doc.set_spans(name, [TextSpan(s.start_char, s.end_char, s.label_, name)
                                             for s in sdoc.spans[name]])
                yield doc

        before = self.counts["unaligned"]
        for doc in self.tagger.tag_documents(ours()):
            sdoc = waiting.popleft()
            self._write(sdoc, doc.spans(self.tagger.layer))
            if not waiting:  # the end of a part
                self._warn(before)
                before = self.counts["unaligned"]
            yield sdoc

    def _warn(self, before: int) -> None:
        if self.counts["unaligned"] > before:
            log.warning("%s: %d predicted spans fit no spaCy token range and were not written (%d in all; "
                        "see doc._.%s)", self.name, self.counts["unaligned"] - before, self.counts["unaligned"],
                        UNALIGNED)

    def _write(self, sdoc: Doc, spans: Sequence[Any]) -> None:
        placed, lost = to_spacy_spans(sdoc, spans, self.alignment_mode, self.counts, scores=True)
        if self.spans_key is None:
            kept: list[Span] = []
            end = -1
            for span in sorted(placed, key=lambda s: (s.start, -s.end)):
                if span.start >= end:  # realigned spans may overlap: doc.ents cannot hold both
                    kept.append(span)
                    end = span.end
                else:
                    lost += 1
            sdoc.ents = kept  # replaces doc.ents, as spaCy's ner does
            placed = kept
        else:
            sdoc.spans[self.spans_key] = placed
        sdoc._.set(UNALIGNED, sdoc._.get(UNALIGNED) + lost)
        self.counts["written"] += len(placed)
        self.counts["unaligned"] += lost


class DistantLabelers:
    """The ``distant_labelers`` pipe: one span group per labeler, and the aggregated pseudo-labels.

    Each labeler's spans go to ``doc.spans[prefix + name]`` (like skweak), the aggregator's to
    ``doc.spans[prefix + "pseudo"]``, with their labels as the labelers give them (``O`` spans included:
    "not an entity" is a labeler's vote too).
    """

    def __init__(self, nlp: Language, name: str, config: str, spans_prefix: str = "",
                 alignment_mode: str = "split") -> None:
        from distant.api import Labelers

        _check_mode(alignment_mode)
        register_extensions()
        self.name, self.prefix, self.alignment_mode = name, spans_prefix, alignment_mode
        self.labelers = Labelers.from_config(config)
        self.counts: Counter = Counter()

    def __call__(self, doc: Doc) -> Doc:
        return next(self.pipe([doc]))

    def pipe(self, docs: Iterable[Doc], batch_size: int = 128) -> Iterator[Doc]:
        """Label ``batch_size`` spaCy docs at a time."""
        layers = [*self.labelers.names, self.labelers.layer]
        for batch in minibatch(docs, size=batch_size):
            ours = [Document(str(k), d.text) for k, d in enumerate(batch)]
            before = self.counts["unaligned"]
            for sdoc, doc in zip(batch, self.labelers.label_documents(ours)):
                lost_here = 0
                for layer in layers:
                    placed, lost = to_spacy_spans(sdoc, doc.spans(layer), self.alignment_mode, self.counts)
                    sdoc.spans[self.prefix + layer] = placed
                    self.counts["written"] += len(placed)
                    lost_here += lost
                sdoc._.set(UNALIGNED, sdoc._.get(UNALIGNED) + lost_here)
                self.counts["unaligned"] += lost_here
            if self.counts["unaligned"] > before:
                log.warning("%s: %d labeled spans fit no spaCy token range and were not written (%d in all)",
                            self.name, self.counts["unaligned"] - before, self.counts["unaligned"])
            yield from batch


@Language.factory("distant_tagger", default_config={"model": None, "spans_key": None, "device": "cpu",
                                                    "batch_size": None, "alignment_mode": "split"})
def make_tagger(nlp: Language, name: str, model: str | None, spans_key: str | None, device: str,
                batch_size: int | None, alignment_mode: str) -> DistantTagger:
    """Build the ``distant_tagger`` pipe (``model``: a run folder or checkpoint; ``spans_key``: a span group
    instead of ``doc.ents``; ``batch_size``: sentences per batch, default the model's)."""
    if model is None:
        raise DistantError('distant_tagger: expected config={"model": RUN_DIR}')
    return DistantTagger(nlp, name, str(model), spans_key, device, batch_size, alignment_mode)


@Language.factory("distant_labelers", default_config={"config": None, "spans_prefix": "",
                                                      "alignment_mode": "split"})
def make_labelers(nlp: Language, name: str, config: str | None, spans_prefix: str, alignment_mode: str) -> DistantLabelers:
    """Build the ``distant_labelers`` pipe (``config``: a labeling config, TOML)."""
    if config is None:
        raise DistantError('distant_labelers: expected config={"config": LABELERS_TOML}')
    return DistantLabelers(nlp, name, str(config), spans_prefix, alignment_mode)
