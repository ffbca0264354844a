"""The labeler contract: a small named class with one method that yields spans.

A labeler finds spans in a tokenized document; the base class tokenizes the document when needed, checks
every span (inside the text, on token boundaries) and stores the valid ones in ``doc.layers[name]``. A span
that is not on token boundaries is counted and reported once per document, never dropped without a word.

Span labels follow :mod:`distant.docs`: an entity type (``Chemical``), several types joined by ``|``
(``Chemical|Disease``: an entity of one of these types, never O), :data:`~distant.docs.O` (explicitly not
an entity) or :data:`~distant.docs.UNKNOWN` (the tokens may take any tag).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import ClassVar

from distant.docs import Document, Span
from distant.tokenize import default_tokenizer

logger = logging.getLogger(__name__)

class Labeler:
    """Base class: subclasses set :attr:`name` and implement :meth:`find_spans`.

    Attributes:
        name: The layer this labeler writes and the ``source`` of its spans.
        misaligned: Spans rejected so far because they were not on token boundaries (or outside the text).
        timeouts: Work stopped by a time budget and skipped, by what was stopped: documents (a pattern
            labeler counts each regex that ran past ``regex_timeout``, as ``"name (file:line)"``).
    """

    Options: ClassVar[type | None] = None  # the options dataclass a config table is built into
    # True where find_spans builds every span from the document's own token offsets (aligned by construction),
    # so that __call__ need not align them again; a subclass whose find_spans may not, sets it back to False.
    spans_on_tokens: ClassVar[bool] = False

    def __init__(self, name: str) -> None:
        self.name = name
        self.misaligned = 0
        self.timeouts: Counter[str] = Counter()

    def find_spans(self, doc: Document) -> Iterable[Span]:
        """Yield the spans this labeler finds in the tokenized ``doc``."""
        raise NotImplementedError

    def types(self) -> set[str]:
        """Return the entity types this labeler emits of its own (not copied from the layers it reads)."""
        return set()

    def reads(self) -> list[str]:
        """Return the layers this labeler reads (they must be written before it runs)."""
        return []

    def resolve_types(self, types: Sequence[str]) -> None:
        """Take the run's entity types, for labels that stand for "any of them" (``*``); called before labeling.

        Raises:
            DistantError: the labeler needs the run's types and ``types`` is empty.
        """

    def __call__(self, doc: Document) -> Document:
        """Tokenize ``doc`` if needed, find, check and store spans in ``doc.layers[self.name]``."""
        if not doc.is_tokenized:
            default_tokenizer()(doc)
        found = list(self.find_spans(doc))
        if self.spans_on_tokens:
            kept = found
        else:
            n = len(doc.text)
            inside = [s for s in found if 0 <= s.start < s.end <= n]
            aligned, unaligned = doc.align(inside)
            kept = [s for _, _, s in aligned]
            bad = len(unaligned) + len(found) - len(inside)
            if bad:
                self.misaligned += bad
                logger.warning("document %s: labeler %s produced %d span(s) not on token boundaries; skipped",
                               doc.id, self.name, bad)
        doc.set_spans(self.name, [s if s.source == self.name else s.with_(source=self.name) for s in kept])
        return doc

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
