"""Document-level consistency: a surface labeled with one type is labeled so at its other occurrences.

Within one document a name usually keeps its meaning. This labeler collects the surfaces (token sequences,
case-folded unless ``lowercase = false``) that the layers it reads label with exactly one label, and labels
every occurrence of each in that document. A surface labeled two different ways in a document is left alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from distant.docs import Document, Span
from distant.labelers.base import Labeler, label_types


@dataclass
class ConsistencyOptions:
    """Options of a ``consistency`` labeler.

    Attributes:
        layers: Layers whose entity spans are propagated (run this labeler after them).
        lowercase: Compare surfaces ignoring case.
        min_chars: Shortest surface (in characters) that is propagated.
    """

    layers: list[str] = field(default_factory=lambda: ["dictionary"])
    lowercase: bool = True
    min_chars: int = 3

    def __post_init__(self) -> None:
        if not self.layers:
            raise ValueError("layers: expected at least one layer to read (a labeler's name), found []")
        for k, layer in enumerate(self.layers):
            if not isinstance(layer, str) or not layer.strip():
                raise ValueError(f"layers[{k}]: expected the name of a layer to read (a labeler's name), "
                                 f"found {layer!r}")
        if self.min_chars < 0:
            raise ValueError(f"min_chars: expected 0 or more, found {self.min_chars}")


class ConsistencyLabeler(Labeler):
    """Propagate each surface's single label to its other occurrences in the document."""

    type_name = "consistency"
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
            for span in doc.spans(layer):
                if not label_types(span.label) or span.end - span.start < self.options.min_chars:
                    continue
                rng = doc.token_range(span.start, span.end)
                if rng is not None:
                    labels.setdefault(tuple(words[rng[0]:rng[1]]), set()).add(span.label)
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
