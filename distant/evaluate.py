"""Strict entity-level evaluation: precision, recall and F1, micro and per type, with error listings.

A predicted span counts only if its start, end and type all equal a gold span's. Spans are compared on
character offsets into each document's text, so PubTator/JSONL predictions are scored as a user sees them;
CoNLL files are scored on the character spans of their tokens, which gives exactly seqeval's strict IOB2
result. Documents are paired by id, and a pair whose texts differ is an error, never skipped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

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

    def as_dict(self) -> dict:
        return {
            "micro": self.micro.as_dict(),
            "per_type": {t: s.as_dict() for t, s in sorted(self.per_type.items())},
            "documents": self.documents,
            "errors": dict(Counter(e.category for e in self.errors)),
        }


def mentions(doc: Document, layer: str) -> set[tuple[int, int, str]]:
    """Return the strict keys of the mentions in ``layer`` (markers such as ``O`` and ``-`` excluded)."""
    return {s.key() for s in doc.spans(layer) if s.label not in IGNORED_LABELS}


def pair_documents(gold: Sequence[Document], pred: Sequence[Document], gold_name: str = "gold",
                   pred_name: str = "prediction") -> list[tuple[Document, Document]]:
    """Pair gold and predicted documents by id; differing id sets or texts raise :class:`DistantError`."""
    by_id = {}
    for doc in pred:
        if doc.id in by_id:
            raise DistantError(f"document id {doc.id!r} occurs twice", pred_name)
        by_id[doc.id] = doc
    gold_ids = {doc.id for doc in gold}
    if len(gold_ids) != len(gold):
        dup = next(i for i, c in Counter(d.id for d in gold).items() if c > 1)
        raise DistantError(f"document id {dup!r} occurs twice", gold_name)
    missing = [d.id for d in gold if d.id not in by_id]
    extra = [i for i in by_id if i not in gold_ids]
    if missing or extra:
        what = (f"{len(missing)} gold documents have no prediction (first: {missing[0]!r})" if missing
                else f"{len(extra)} predicted documents are not in the gold set (first: {extra[0]!r})")
        raise DistantError(f"documents do not match: {what}; expected the same document ids", pred_name)
    pairs = []
    for g in gold:
        p = by_id[g.id]
        if g.text != p.text:
            at = next((i for i, (a, b) in enumerate(zip(g.text, p.text)) if a != b), min(len(g.text), len(p.text)))
            raise DistantError(
                f"document {g.id!r}: text differs from the gold text at character {at}; "
                "expected predictions on the same text", pred_name)
        pairs.append((g, p))
    return pairs


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


def evaluate(gold: Sequence[Document], pred: Sequence[Document], *, gold_layer: str = "gold",
             pred_layer: str = "pred", context: int = 40, gold_name: str = "gold",
             pred_name: str = "prediction", progress: Callable[[int], None] | None = None) -> Evaluation:
    """Score ``pred_layer`` of ``pred`` against ``gold_layer`` of ``gold`` with strict span matching.

    Args:
        gold: Gold documents.
        pred: Predicted documents (same ids and texts).
        gold_layer: Layer of the gold spans.
        pred_layer: Layer of the predicted spans.
        context: Characters of context either side in the error listing.
        gold_name: Name of the gold source for error messages (a file path).
        pred_name: Name of the prediction source for error messages.
        progress: Called with 1 after each document pair (to advance a progress bar).
    """
    micro = Scores()
    per_type: dict[str, Scores] = {}
    errors: list[ErrorCase] = []
    pairs = pair_documents(gold, pred, gold_name, pred_name)
    for g, p in pairs:
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
        errors.extend(_errors(g, gold_keys, pred_keys, context))
        if progress is not None:
            progress(1)
    return Evaluation(micro, per_type, len(pairs), errors)


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


def format_errors(result: Evaluation) -> str:
    """Return the false positives and negatives as TSV: doc, kind, category, start, end, type, text, other, context."""
    lines = ["doc\tkind\tcategory\tstart\tend\ttype\ttext\tother\tcontext"]
    for e in result.errors:
        other = f"{e.other.start}-{e.other.end}:{e.other.label}" if e.other else ""
        lines.append(f"{e.doc_id}\t{e.kind}\t{e.category}\t{e.span.start}\t{e.span.end}\t{e.span.label}\t"
                     f"{e.text}\t{other}\t{e.context}")
    return "\n".join(lines) + "\n"
