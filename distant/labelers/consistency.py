"""Document-level consistency: a surface labeled with one type is labeled so at its other occurrences.

Within one document a name usually keeps its meaning. This labeler collects the surfaces (token sequences,
case-folded unless ``lowercase = false``) that the layers it reads label with exactly one label, and labels
every occurrence of each in that document. A surface labeled two different ways in a document is left alone.
"""

from __future__ import annotations

from collections.abc import Iterator

from distant.config.labelers import ConsistencyOptions
from distant.docs import Document, Span, label_types
from distant.labelers.base import Labeler


class ConsistencyLabeler(Labeler):
    """Propagate each surface's single label to its other occurrences in the document."""

    Options = ConsistencyOptions

    def __init__(self, name: str = "consistency", options: ConsistencyOptions | None = None) -> None:
        super().__init__(name)
        self.options = options or ConsistencyOptions()

    def reads(self) -> list[str]:
        return list(self.options.layers)

    def find_spans(self, doc: Document) -> Iterator[Span]:
        words = doc.words()
        if self.options.lowercase:
            words = [w.lower() for w in words]
        labels: dict[tuple[str, ...], set[str]] = {}
        for layer in self.options.layers:
            spans = [s for s in doc.spans(layer) if label_types(s.label) and s.end - s.start >= self.options.min_chars]
            for i, j, span in doc.align(spans)[0]:  # labelers write aligned spans only
                labels.setdefault(tuple(words[i:j]), set()).add(span.label)
        by_first: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        for surface, found in labels.items():
            if len(found) == 1:
                by_first.setdefault(surface[0], []).append((surface, next(iter(found))))
        if not by_first:
            return
        tokens = doc.tokens
        for i, w in enumerate(words):
            for surface, label in by_first.get(w, ()):
                j = i + len(surface)
                if tuple(words[i:j]) == surface:
                    yield Span(tokens[i][0], tokens[j - 1][1], label, self.name)
