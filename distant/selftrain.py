"""Self-training: fold a trained tagger's confident predictions back into the pseudo-labels.

The dictionaries miss mentions, and every token they leave uncovered is taught as O (or as unknown). After a
first fit, the tagger finds some of those mentions in the training text itself. A new pseudo layer keeps
every typed dictionary span (the precise part of the supervision) and adds the predicted spans that are
confident enough and overlap no typed span; a predicted span also replaces the untyped (``-``, ``A|B``) spans
it overlaps, which it resolves. The tagger then trains again on the new layer.
"""

from __future__ import annotations

from collections.abc import Sequence

from distant.docs import O, UNKNOWN, Document, Span, is_type_name


def _typed(span: Span) -> bool:
    return span.label != O and span.label != UNKNOWN and is_type_name(span.label)


def merge_predictions(doc: Document, pseudo: str, pred: str, min_score: float, out: str) -> tuple[int, int]:
    """Write ``pseudo`` plus the confident spans of ``pred`` into layer ``out``.

    Returns:
        ``(added, resolved)``: predicted spans added, and untyped pseudo spans they replaced.
    """
    kept = list(doc.spans(pseudo))
    typed = [s for s in kept if _typed(s) or s.label == O]
    added: list[Span] = []
    for span in doc.spans(pred):
        if span.score is not None and span.score < min_score:
            continue
        if any(s.start < span.end and span.start < s.end for s in typed):
            continue
        added.append(span.with_(source="self-training"))
    resolved = [s for s in kept if not (_typed(s) or s.label == O)
                and any(a.start < s.end and s.start < a.end for a in added)]
    layer = [s for s in kept if s not in resolved] + added
    doc.set_spans(out, layer)
    return len(added), len(resolved)


def relabel(docs: Sequence[Document], pseudo: str, pred: str, min_score: float, out: str) -> dict[str, int]:
    """Merge predictions into a new pseudo layer for every document; return counts."""
    added = resolved = 0
    for doc in docs:
        a, r = merge_predictions(doc, pseudo, pred, min_score, out)
        added += a
        resolved += r
    return {"added": added, "resolved_untyped": resolved}
