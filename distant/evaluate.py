"""Strict entity-level evaluation: precision, recall and F1, micro and per type, with error listings.

A predicted span counts only if its start, end and type all equal a gold span's. Spans are compared on
character offsets into each document's text, so PubTator/JSONL predictions are scored as a user sees them;
CoNLL files are scored on the character spans of their tokens, which gives exactly seqeval's strict IOB2
result. Documents are paired by id, and a pair whose texts differ is an error, never skipped.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from distant.docs import O, UNKNOWN, Document, Span
from distant.errors import DistantError

IGNORED_LABELS = {O, UNKNOWN}  # markers of "not an entity" / "no label", never mentions


@dataclass
class Scores:
    """Counts and scores for one type (or all types together)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def support(self) -> int:
        return self.tp + self.fn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1, "support": self.support,
                "tp": self.tp, "fp": self.fp, "fn": self.fn}


@dataclass
class ErrorCase:
    """A false positive or false negative, with the span it overlaps on the other side (if any)."""

    doc_id: str
    kind: str  # "FP" or "FN"
    span: Span
    text: str
    context: str
    other: Span | None = None

    @property
    def category(self) -> str:
        """Why it is wrong: a missed or spurious mention, a wrong type, or wrong boundaries."""
        if self.other is None:
            return "missed" if self.kind == "FN" else "spurious"
        if (self.other.start, self.other.end) == (self.span.start, self.span.end):
            return "type"
        return "boundary"


@dataclass
class Evaluation:
    """The result of :func:`evaluate`."""

    micro: Scores
    per_type: dict[str, Scores]
    documents: int
    errors: list[ErrorCase] = field(default_factory=list)
    categories: Counter = field(default_factory=Counter)  # error category -> count (kept when errors are not)

    def as_dict(self) -> dict:
        return {
            "micro": self.micro.as_dict(),
            "per_type": {t: s.as_dict() for t, s in sorted(self.per_type.items())},
            "documents": self.documents,
            "errors": dict(self.categories or Counter(e.category for e in self.errors)),
        }


def mentions(doc: Document, layer: str) -> set[tuple[int, int, str]]:
    """Return the strict keys of the mentions in ``layer`` (markers such as ``O`` and ``-`` excluded)."""
    return {s.key() for s in doc.spans(layer) if s.label not in IGNORED_LABELS}


def document_counts(gold: Sequence[Document], pred: Sequence[Document], gold_layer: str,
                    pred_layer: str) -> np.ndarray:
    """Return each document's strict (true positives, false positives, false negatives), one row per pair."""
    rows = []
    for g, p in zip(gold, pred, strict=True):
        truth, guess = mentions(g, gold_layer), mentions(p, pred_layer)
        rows.append((len(truth & guess), len(guess - truth), len(truth - guess)))
    return np.array(rows, dtype=np.int64).reshape(-1, 3)


def bootstrap_better(a: np.ndarray, b: np.ndarray, resamples: int = 1000, seed: int = 0) -> float:
    """Paired bootstrap over documents: the share of resamples in which ``a``'s micro F1 is higher than ``b``'s.

    ``a`` and ``b`` are :func:`document_counts` of two systems on the same documents; each resample draws the
    documents with replacement (``seed`` fixed, so the answer is reproducible) and scores both on the same draw.
    """
    if len(a) != len(b):
        raise ValueError(f"bootstrap_better: {len(a)} documents against {len(b)}")
    if len(a) == 0:
        return 0.0
    draws = np.random.default_rng(seed).integers(0, len(a), size=(resamples, len(a)))
    counts = np.bincount(draws.ravel() + np.repeat(np.arange(resamples) * len(a), len(a)),
                         minlength=resamples * len(a)).reshape(resamples, len(a))

    def f1(c: np.ndarray) -> np.ndarray:
        tp, fp, fn = (counts @ c).T
        return np.divide(2 * tp, 2 * tp + fp + fn, out=np.zeros(resamples), where=(2 * tp + fp + fn) > 0)

    return float(np.mean(f1(a) > f1(b)))


def pair_documents(gold: Iterable[Document], pred: Iterable[Document], gold_name: str = "gold",
                   pred_name: str = "prediction") -> Iterator[tuple[Document, Document]]:
    """Pair gold and predicted documents by id, as they come; differing id sets or texts raise :class:`DistantError`.

    Documents in the same order pair up one by one (memory stays flat); a document whose partner has not come
    yet waits for it. Every id is remembered, to refuse one that occurs twice.
    """
    seen: tuple[set[str], set[str]] = (set(), set())
    waiting: tuple[dict[str, Document], dict[str, Document]] = ({}, {})  # gold, pred documents without a partner
    for g, p in itertools.zip_longest(gold, pred):
        for k, doc in enumerate((g, p)):
            if doc is None:
                continue
            if doc.id in seen[k]:
                raise DistantError(f"document id {doc.id!r} occurs twice", (gold_name, pred_name)[k])
            seen[k].add(doc.id)
        if g is not None and p is not None and g.id == p.id:
            yield _same_text(g, p, pred_name)
            continue
        if g is not None:
            if g.id in waiting[1]:
                yield _same_text(g, waiting[1].pop(g.id), pred_name)
            else:
                waiting[0][g.id] = g
        if p is not None:
            if p.id in waiting[0]:
                yield _same_text(waiting[0].pop(p.id), p, pred_name)
            else:
                waiting[1][p.id] = p
    missing, extra = list(waiting[0]), list(waiting[1])
    if missing or extra:
        what = (f"{len(missing)} gold documents have no prediction (first: {missing[0]!r})" if missing
                else f"{len(extra)} predicted documents are not in the gold set (first: {extra[0]!r})")
        raise DistantError(f"documents do not match: {what}; expected the same document ids", pred_name)


def _same_text(g: Document, p: Document, pred_name: str) -> tuple[Document, Document]:
    if g.text != p.text:
        at = next((i for i, (a, b) in enumerate(zip(g.text, p.text)) if a != b), min(len(g.text), len(p.text)))
        raise DistantError(f"document {g.id!r}: text differs from the gold text at character {at}; expected "
                           "predictions on the same text", pred_name)
    return g, p


def pick_layer(docs: Sequence[Document], requested: str | None, fallbacks: Sequence[str] = (),
               name: str = "documents") -> str:
    """Return the span layer to score: ``requested`` if some document has it, else the first of ``fallbacks``.

    Raises:
        DistantError: no document has the layer (a typo would otherwise score 0.0 without a word), naming the
            layers that are there.
    """
    found = sorted({layer for doc in docs for layer in doc.layers})
    for layer in [requested] if requested is not None else fallbacks:
        if layer in found:
            return layer
    wanted = repr(requested) if requested is not None else " or ".join(map(repr, fallbacks))
    there = f"the layers found are {', '.join(found)}" if found else "the documents hold no span layer at all"
    raise DistantError(f"no document has the span layer {wanted}; {there}", name)


def evaluate(gold: Iterable[Document], pred: Iterable[Document], *, gold_layer: str = "gold",
             pred_layer: str = "pred", context: int = 40, gold_name: str = "gold",
             pred_name: str = "prediction", progress: Callable[[int], None] | None = None,
             on_error: Callable[[ErrorCase], None] | None = None) -> Evaluation:
    """Score ``pred_layer`` of ``pred`` against ``gold_layer`` of ``gold`` with strict span matching.

    Documents are read as they come (:func:`pair_documents`), so two streams in the same order are scored in
    flat memory.

    Args:
        gold: Gold documents.
        pred: Predicted documents (same ids and texts).
        gold_layer: Layer of the gold spans.
        pred_layer: Layer of the predicted spans.
        context: Characters of context either side in the error listing.
        gold_name: Name of the gold source for error messages (a file path).
        pred_name: Name of the prediction source for error messages.
        progress: Called with 1 after each document pair (to advance a progress bar).
        on_error: Called with each false positive and negative instead of keeping them in ``errors`` (their
            categories are counted either way).
    """
    micro = Scores()
    per_type: dict[str, Scores] = {}
    errors: list[ErrorCase] = []
    categories: Counter[str] = Counter()
    documents = 0
    for g, p in pair_documents(gold, pred, gold_name, pred_name):
        documents += 1
        gold_keys = mentions(g, gold_layer)
        pred_keys = mentions(p, pred_layer)
        for key in gold_keys | pred_keys:
            scores = per_type.setdefault(key[2], Scores())
            if key in gold_keys and key in pred_keys:
                scores.tp += 1
                micro.tp += 1
            elif key in pred_keys:
                scores.fp += 1
                micro.fp += 1
            else:
                scores.fn += 1
                micro.fn += 1
        for case in _errors(g, gold_keys, pred_keys, context):
            categories[case.category] += 1
            if on_error is not None:
                on_error(case)
            else:
                errors.append(case)
        if progress is not None:
            progress(1)
    return Evaluation(micro, per_type, documents, errors, categories)


def _errors(doc: Document, gold_keys: set, pred_keys: set, context: int) -> list[ErrorCase]:
    text = doc.text
    out = []
    for kind, mine, theirs in (("FN", gold_keys - pred_keys, pred_keys), ("FP", pred_keys - gold_keys, gold_keys)):
        for start, end, label in sorted(mine):
            overlap = [k for k in sorted(theirs) if k[0] < end and start < k[1]]
            other = Span(*overlap[0]) if overlap else None
            ctx = (text[max(0, start - context):start] + "[[" + text[start:end] + "]]"
                   + text[end:end + context]).replace("\n", " ")
            out.append(ErrorCase(doc.id, kind, Span(start, end, label), text[start:end], ctx, other))
    return sorted(out, key=lambda e: (e.doc_id, e.span.start, e.kind))


def format_table(result: Evaluation) -> str:
    """Return the scores as a plain-text table."""
    rows = [("type", "precision", "recall", "f1", "support", "tp", "fp", "fn")]
    for name, s in [*sorted(result.per_type.items()), ("micro", result.micro)]:
        rows.append((name, f"{s.precision:.4f}", f"{s.recall:.4f}", f"{s.f1:.4f}", str(s.support),
                     str(s.tp), str(s.fp), str(s.fn)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
                     for r in rows)


ERRORS_HEADER = "doc\tkind\tcategory\tstart\tend\ttype\ttext\tother\tcontext"


def error_line(e: ErrorCase) -> str:
    """Return one row of the error listing (see :data:`ERRORS_HEADER`), tabs and line breaks in text as spaces."""
    other = f"{e.other.start}-{e.other.end}:{e.other.label}" if e.other else ""
    fields = [e.doc_id, e.kind, e.category, str(e.span.start), str(e.span.end), e.span.label, e.text, other,
              e.context]
    return "\t".join(" ".join(f.split("\t")).replace("\n", " ").replace("\r", " ") for f in fields)


def format_errors(result: Evaluation) -> str:
    """Return the false positives and negatives as TSV: doc, kind, category, start, end, type, text, other, context."""
    return "\n".join([ERRORS_HEADER, *map(error_line, result.errors)]) + "\n"


PEEK = 1000  # documents looked at to choose the predicted layer when none is named


def evaluate_files(gold: str | os.PathLike, pred: str | os.PathLike, *, gold_format: str | None = None,
                   pred_format: str | None = None, gold_layer: str = "gold", pred_layer: str | None = None,
                   scheme: str | None = None, strict: bool = False, errors: str | os.PathLike | None = None,
                   progress: Callable[[int], None] | None = None) -> Evaluation:
    """Score the predictions in file ``pred`` against the gold file ``gold``, both read as they come.

    Args:
        gold, pred: The files (any readable format; ``-`` for standard input, one of them at most).
        gold_format, pred_format: Their formats (``None``: detected).
        gold_layer: The gold spans' layer.
        pred_layer: The predictions' layer; ``None``: ``pred``, else ``pseudo``, else ``gold`` (the first the
            first documents hold).
        scheme: The tag scheme of CoNLL inputs (``None``: detected).
        strict: Refuse the inputs' benign quirks.
        errors: Write the false positives and negatives here (TSV), as they are found.
        progress: Called with 1 after each document pair.

    Raises:
        DistantError: bad input, documents that do not pair up, or a layer no document has.
    """
    from distant.formats import iter_documents

    golds = iter_documents(gold, gold_format, layer="gold", scheme=scheme, strict=strict)
    preds = iter_documents(pred, pred_format, layer="pred", scheme=scheme, strict=strict)
    return evaluate_documents(golds, preds, gold_layer=gold_layer, pred_layer=pred_layer, errors=errors,
                              progress=progress, gold_name=os.fspath(gold), pred_name=os.fspath(pred))


def evaluate_documents(gold: Iterable[Document], pred: Iterable[Document], *, gold_layer: str = "gold",
                       pred_layer: str | None = None, errors: str | os.PathLike | None = None,
                       progress: Callable[[int], None] | None = None, gold_name: str = "gold",
                       pred_name: str = "prediction") -> Evaluation:
    """Score two streams of documents as :func:`evaluate_files` scores two files (the same checks and choices).

    ``pred_layer=None`` picks ``pred``, else ``pseudo``, else ``gold`` from the first documents; a layer that
    no document holds is an error naming the layers there.
    """
    from distant.atomic import atomic_open

    golds = _LayerCount(gold, gold_layer)
    preds = iter(pred)
    head = list(itertools.islice(preds, PEEK))
    if pred_layer is None:
        pred_layer = pick_layer(head, None, ("pred", "pseudo", "gold"), pred_name)
    counted = _LayerCount(itertools.chain(head, preds), pred_layer)
    with contextlib.ExitStack() as stack:
        sink = None
        if errors is not None:
            out = stack.enter_context(atomic_open(errors))
            out.write(ERRORS_HEADER + "\n")
            sink = lambda case: out.write(error_line(case) + "\n")  # noqa: E731
        result = evaluate(golds, counted, gold_layer=gold_layer, pred_layer=pred_layer, gold_name=gold_name,
                          pred_name=pred_name, progress=progress, on_error=sink)
        for stream, name in ((golds, gold_name), (counted, pred_name)):
            if result.documents and not stream.holding:
                pick_layer(stream.sample, stream.layer, (), name)  # raises, naming the layers there
    return result


class _LayerCount:
    """Pass documents through, counting those that have ``layer`` (and keeping a few, for messages)."""

    def __init__(self, docs: Iterable[Document], layer: str) -> None:
        self.docs, self.layer = docs, layer
        self.holding = 0
        self.sample: list[Document] = []

    def __iter__(self) -> Iterator[Document]:
        for doc in self.docs:
            self.holding += self.layer in doc.layers
            if len(self.sample) < 100:
                self.sample.append(doc)
            yield doc
