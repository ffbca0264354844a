"""Character spans -> token ranges, for the writers that work on tokens (CoNLL, spaCy DocBin).

A span whose ends do not fall on token boundaries cannot be written as tags. It is not dropped silently: the
writer counts such spans and logs one warning per document, naming it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from distant.docs import Document, Span
from distant.formats.lines import source_name

log = logging.getLogger(__name__)

TokenSpan = tuple[int, int, Span]  # (first token, last token + 1, span)


def align_spans(doc: Document, spans: Iterable[Span], *, within_sentence: bool) -> tuple[list[TokenSpan], int]:
    """Return the token ranges of the spans that align with token boundaries, and how many did not.

    Args:
        doc: A tokenized document.
        spans: Character spans of ``doc``.
        within_sentence: Also count as unaligned a span that crosses a sentence boundary.
    """
    sentence_of = doc.sentence_of_token() if within_sentence else None
    aligned: list[TokenSpan] = []
    unaligned = 0
    for span in spans:
        found = doc.token_range(span.start, span.end)
        if found is None or (sentence_of is not None and sentence_of[found[0]] != sentence_of[found[1] - 1]):
            unaligned += 1
        else:
            aligned.append((found[0], found[1], span))
    return aligned, unaligned


def drop_overlaps(ranges: Iterable[TokenSpan]) -> tuple[list[TokenSpan], int]:
    """Keep the longest of overlapping token ranges (the first on ties); return them in order and the count dropped."""
    kept: list[TokenSpan] = []
    taken: set[int] = set()
    dropped = 0
    for i, j, span in sorted(ranges, key=lambda r: (r[0] - r[1], r[0])):
        if taken.isdisjoint(range(i, j)):
            kept.append((i, j, span))
            taken.update(range(i, j))
        else:
            dropped += 1
    kept.sort(key=lambda r: (r[0], r[1]))
    return kept, dropped


def warn_dropped(doc: Document, layer: str, path: Path, total: int, unaligned: int, overlapping: int = 0, *,
                 lost: str = "not written") -> None:
    """Log one warning for a document whose spans could not all be written (``lost``: what became of them)."""
    if unaligned or overlapping:
        reasons = []
        if unaligned:
            reasons.append(f"{unaligned} not aligned to token boundaries")
        if overlapping:
            reasons.append(f"{overlapping} overlapping a longer span")
        log.warning("%s: document %s: %d of %d spans in layer %r %s: %s", source_name(path), doc.id,
                    unaligned + overlapping, total, layer, lost, ", ".join(reasons))
