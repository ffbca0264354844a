"""The one document model shared by every stage.

A :class:`Document` keeps its id and original text. Tokens and sentences are character offsets into that
text; token indices are derived from them. Spans live in named layers: one per labeler, ``pseudo`` for the
aggregated pseudo-labels, ``pred`` for predictions, ``gold`` for gold annotations.

Tags are three-valued: an entity tag (``B-Chemical``), :data:`O`, or :data:`UNKNOWN` ("no label": the token
may take any tag). A labeler that did not fire says nothing; only an explicit ``O`` says "not an entity".

Span labels: an entity type (``Chemical``, :func:`is_type_name`), several types joined by ``|``
(``Chemical|Disease``: an entity of one of these types, never O; :func:`label_types`, :func:`join_types`),
:data:`O` (explicitly not an entity) or :data:`UNKNOWN` (the tokens may take any tag).
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from operator import itemgetter
from typing import Any, NamedTuple

from distant.errors import DistantError

O = "O"
UNKNOWN = "-"  # spaCy's marker for a missing tag: the token may take any tag

GOLD = "gold"
PSEUDO = "pseudo"
PRED = "pred"

ANY_TYPE = "*"  # in a config: "an entity of any of the run's types", resolved to join_types(run types)
TYPE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.]*")  # an entity type such as Chemical or Gene_or_protein

LABEL_EXPECTED = "a non-empty label without tabs, line breaks, control characters or surrounding spaces"
_CONTROL = {"Cc", "Cs", "Zl", "Zp"}  # tabs and line breaks, lone surrogates, line and paragraph separators


def label_problem(label: Any) -> str | None:
    """Return what makes ``label`` unusable as a span label (every format must write it back), or ``None``.

    A label is a non-empty string with no tab, line break or other control character and no surrounding
    whitespace: the tab-separated formats (PubTator, CoNLL) could not read such a label back unchanged.
    """
    if not isinstance(label, str):
        return f"found label {label!r} of type {type(label).__name__}, expected a string"
    return _string_label_problem(label)


@lru_cache(maxsize=4096)
def _string_label_problem(label: str) -> str | None:
    if not label or label != label.strip() or any(unicodedata.category(c) in _CONTROL for c in label):
        return f"found label {label!r}, expected {LABEL_EXPECTED}"
    return None


def is_type_name(label: str) -> bool:
    """Return whether ``label`` is a valid entity type name (not ``O``, not ``-``)."""
    return label != O and TYPE_NAME.fullmatch(label) is not None


def label_types(label: str) -> list[str]:
    """Return the entity types a span label allows: ``[]`` for O and unknown, ``["A", "B"]`` for ``A|B``."""
    if label == O or label == UNKNOWN:
        return []
    return label.split("|")


def is_typed(label: str) -> bool:
    """Return whether ``label`` is a single entity type (not ``O``, ``-`` or ``A|B``)."""
    return label != UNKNOWN and is_type_name(label)


def join_types(types: Iterable[str]) -> str:
    """Return the label for a span of any of ``types`` (sorted, ``|``-joined)."""
    return "|".join(sorted(set(types)))


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """A labeled character span ``text[start:end]``.

    Attributes:
        start: First character (inclusive).
        end: Last character (exclusive).
        label: Entity type (``Chemical``), or :data:`O` for an explicit "not an entity" span.
        source: What produced it (a labeler's name, ``gold``, ``model``).
        kb_id: Knowledge-base identifier, when known.
        score: Confidence in [0, 1], when known.
    """

    start: int
    end: int
    label: str
    source: str = ""
    kb_id: str | None = None
    score: float | None = None

    def key(self) -> tuple[int, int, str]:
        """Return what strict matching compares: start, end and type."""
        return (self.start, self.end, self.label)

    def with_(self, **changes: Any) -> Span:
        """Return a copy with some fields changed."""
        return replace(self, **changes)


class TokenSpan(NamedTuple):
    """A span with the token range ``[first, last)`` whose characters it covers exactly."""

    first: int
    last: int
    span: Span


def _exact_range(starts: list[int], ends: list[int], start: int, end: int) -> tuple[int, int] | None:
    """The token range ``[i, j)`` of the tokens starting at ``starts`` and ending at ``ends`` whose characters
    are exactly ``[start, end)``, or ``None``."""
    i = bisect.bisect_left(starts, start)
    j = bisect.bisect_left(ends, end)
    if i < len(starts) and starts[i] == start and j < len(ends) and ends[j] == end and i <= j:
        return i, j + 1
    return None


@dataclass(slots=True)
class Document:
    """A text with its tokens, sentences and span layers.

    Attributes:
        id: Document identifier (a PMID, a file name, a line number).
        text: The original text; never changed.
        tokens: ``(start, end)`` character offsets of each token, or ``None`` before tokenization.
        sentences: ``(first_token, last_token + 1)`` token ranges, covering every token in order.
        layers: Span layers by name.
        meta: Format-specific extras kept for round trips (PubTator title length, relation lines, ...).
    """

    id: str
    text: str
    tokens: list[tuple[int, int]] | None = None
    sentences: list[tuple[int, int]] | None = None
    layers: dict[str, list[Span]] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    _starts: list[int] | None = field(default=None, repr=False, compare=False)
    _ends: list[int] | None = field(default=None, repr=False, compare=False)
    _words: list[str] | None = field(default=None, repr=False, compare=False)

    # -- tokens ---------------------------------------------------------------------------------------------
    @property
    def is_tokenized(self) -> bool:
        return self.tokens is not None

    def set_tokens(self, tokens: list[tuple[int, int]], sentences: list[tuple[int, int]] | None = None) -> None:
        """Set token offsets (and sentence ranges; one sentence over all tokens when ``None``)."""
        self.tokens = tokens
        self.sentences = sentences if sentences is not None else ([(0, len(tokens))] if tokens else [])
        self._starts = self._ends = self._words = None

    def words(self) -> list[str]:
        """Return the token strings (computed once; the list is shared: do not change it)."""
        if self._words is None:
            text = self.text
            self._words = [text[s:e] for s, e in self._require_tokens()]
        return self._words

    def _require_tokens(self) -> list[tuple[int, int]]:
        if self.tokens is None:
            raise ValueError(f"document {self.id} is not tokenized")
        return self.tokens

    def _index(self) -> tuple[list[int], list[int]]:
        if self._starts is None or self._ends is None:
            tokens = self._require_tokens()
            self._starts = list(map(itemgetter(0), tokens))
            self._ends = list(map(itemgetter(1), tokens))
        return self._starts, self._ends

    def token_range(self, start: int, end: int) -> tuple[int, int] | None:
        """Return the token range ``[i, j)`` whose characters are exactly ``[start, end)``, or ``None``."""
        return _exact_range(*self._index(), start, end)

    def covering_token_range(self, start: int, end: int) -> tuple[int, int] | None:
        """Return the smallest token range ``[i, j)`` that covers ``[start, end)``, or ``None`` if none does."""
        starts, ends = self._index()
        i = bisect.bisect_right(ends, start)  # first token ending after `start`
        j = bisect.bisect_left(starts, end)  # first token starting at or after `end`
        return (i, j) if i < j else None

    def align(self, spans: Iterable[Span], *, within_sentence: bool = False) -> tuple[list[TokenSpan], list[Span]]:
        """Return the spans whose ends fall on token boundaries, with their token ranges, and the others.

        The one way character spans become token ranges: exactly, or not at all. What cannot be aligned is
        returned, for the caller to count and report (never dropped without a word).

        Args:
            spans: Character spans of this (tokenized) document.
            within_sentence: Also leave out a span that crosses a sentence boundary.
        """
        sentence_of = self.sentence_of_token() if within_sentence else None
        aligned: list[TokenSpan] = []
        unaligned: list[Span] = []
        starts, ends = self._index()  # once for all the spans
        for span in spans:
            found = _exact_range(starts, ends, span.start, span.end)
            if found is None or (sentence_of is not None and sentence_of[found[0]] != sentence_of[found[1] - 1]):
                unaligned.append(span)
            else:
                aligned.append(TokenSpan(found[0], found[1], span))
        return aligned, unaligned

    def char_span(self, i: int, j: int) -> tuple[int, int]:
        """Return the character offsets of the token range ``[i, j)``."""
        tokens = self._require_tokens()
        return tokens[i][0], tokens[j - 1][1]

    def sentence_of_token(self) -> list[int]:
        """Return, for each token, the index of its sentence."""
        out = [0] * len(self._require_tokens())
        for k, (a, b) in enumerate(self.sentences or []):
            out[a:b] = [k] * (b - a)
        return out

    # -- layers ---------------------------------------------------------------------------------------------
    def spans(self, layer: str) -> list[Span]:
        """Return the spans of ``layer`` (empty when the layer does not exist)."""
        return self.layers.get(layer, [])

    def set_spans(self, layer: str, spans: Iterable[Span]) -> None:
        """Replace ``layer`` with ``spans``, sorted by offsets, after checking they lie inside the text.

        Raises:
            DistantError: a label that no format could write back (:func:`label_problem`).
            ValueError: a span outside the text or empty.
        """
        spans = sorted(spans, key=Span.key)
        for label in {span.label for span in spans}:
            problem = label_problem(label)
            if problem:
                raise DistantError(f"document {self.id}: layer {layer!r}: {problem}")
        n = len(self.text)
        for span in spans:
            if not 0 <= span.start < span.end <= n:
                raise ValueError(
                    f"document {self.id}: span {span.start}-{span.end} ({span.label}) is outside the text "
                    f"(0-{n}) or empty"
                )
        self.layers[layer] = spans

    def span_text(self, span: Span) -> str:
        return self.text[span.start : span.end]

    def copy(self, layers: Sequence[str] | None = None) -> Document:
        """Return a copy that shares the text and tokens, keeping only ``layers`` (all when ``None``)."""
        kept = {k: list(v) for k, v in self.layers.items() if layers is None or k in layers}
        return Document(self.id, self.text, self.tokens, self.sentences, kept, dict(self.meta))
