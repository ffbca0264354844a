"""What the writers that work on tokens (CoNLL, spaCy DocBin) do with spans that tags cannot hold.

Spans become token ranges through :meth:`~distant.docs.Document.align`; here: overlapping ranges and the warning.

A span whose ends do not fall on token boundaries cannot be written as tags. It is not dropped silently: the
writer counts such spans and logs one warning per document, naming it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from distant.docs import Document, TokenSpan
from distant.formats.lines import source_name

log = logging.getLogger(__name__)

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
