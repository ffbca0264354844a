"""Abbreviations: a short form takes the type of its long form, everywhere in the document.

Definitions are found with the Schwartz-Hearst algorithm (Schwartz & Hearst, PSB 2003) in both orders,
``long form (SF)`` and ``SF (long form)``. When the long form is labeled with an entity type in the layer
this labeler reads (the dictionary's, or the pseudo layer as it stands), every occurrence of the short form
in that document (the same tokens, case-sensitive) is labeled with that type. So it runs after the labeler
whose layer it reads.
"""

from __future__ import annotations

from collections.abc import Iterator

from distant.config.labelers import AbbreviationOptions
from distant.docs import Document, Span, label_types
from distant.labelers.base import Labeler
from distant.tokenize import default_tokenizer



def best_long_form(short: str, long: str) -> int | None:
    """Return where the long form of ``short`` starts in ``long`` (Schwartz-Hearst), or ``None``.

    Characters of the short form are matched right to left in the candidate; the first one must start
    a word. The long form then begins at the start of that word.
    """
    s = len(short) - 1
    i = len(long) - 1
    while s >= 0:
        c = short[s].lower()
        if not c.isalnum():
            s -= 1
            continue
        while i >= 0 and (long[i].lower() != c or (s == 0 and i > 0 and long[i - 1].isalnum())):
            i -= 1
        if i < 0:
            return None
        i -= 1
        s -= 1
    return long.rfind(" ", 0, i + 1) + 1


def is_short_form(text: str) -> bool:
    """Return whether ``text`` can be a short form: 2-10 characters, one or two words, a letter, alnum first."""
    return (2 <= len(text) <= 10 and len(text.split()) <= 2 and text[0].isalnum()
            and any(c.isalpha() for c in text))


class AbbreviationLabeler(Labeler):
    """Label short forms whose long form is labeled (Schwartz-Hearst definitions, both orders)."""

    Options = AbbreviationOptions

    spans_on_tokens = True  # find_spans: from the document's token offsets

    def __init__(self, name: str = "abbreviation", options: AbbreviationOptions | None = None) -> None:
        super().__init__(name)
        self.options = options or AbbreviationOptions()

    def reads(self) -> list[str]:
        return [self.options.layer]

    def definitions(self, doc: Document) -> Iterator[tuple[tuple[int, int], tuple[int, int]]]:
        """Yield ``((sf_start, sf_end), (lf_start, lf_end))`` character spans of each definition in ``doc``."""
        text, tokens = doc.text, doc.tokens
        words = doc.words()
        for first, last in doc.sentences or []:
            k = first
            while k < last:
                try:
                    k = words.index("(", k, last)  # the next opening parenthesis (in C, not a loop here)
                except ValueError:
                    break
                m = k + 1
                while m < last and words[m] not in ("(", ")"):
                    m += 1
                if m >= last or words[m] != ")" or m == k + 1 or k == first:
                    k = m if m > k else k + 1
                    continue
                inner_first, inner_last = k + 1, m
                # "SF; other" and "SF, other": the short form is the part before the first ; or ,
                for q in range(inner_first, inner_last):
                    if words[q] in (";", ","):
                        inner_last = q
                        break
                if inner_last > inner_first:
                    found = self._definition(text, tokens, words, first, k, inner_first, inner_last)
                    if found:
                        yield found
                k = m + 1

    def _definition(self, text, tokens, words, first, k, a, b):
        inner = text[tokens[a][0]:tokens[b - 1][1]]
        before_end = tokens[k - 1][1]
        if is_short_form(inner):  # long form (SF)
            n_words = min(len(inner) + 5, 2 * len(inner))
            window = text[tokens[first][0]:before_end]
            cut = len(window)
            for _ in range(n_words):
                cut = window.rfind(" ", 0, cut)
                if cut < 0:
                    break
            start = max(cut, -1) + 1
            candidate = window[start:]
            at = best_long_form(inner, candidate)
            if at is None or len(candidate) - at <= len(inner):
                return None
            lf_start = tokens[first][0] + start + at
            if doc_token_start(tokens, lf_start, first, k) is None:
                return None
            return (tokens[a][0], tokens[b - 1][1]), (lf_start, before_end)
        # SF (long form): the short form is the whitespace-delimited word before the parenthesis
        word_start = text.rfind(" ", tokens[first][0], before_end) + 1
        word_start = max(word_start, tokens[first][0])
        short = text[word_start:before_end]
        if not is_short_form(short):
            return None
        at = best_long_form(short, inner)
        if at is None or at != 0 or len(inner) <= len(short):
            return None
        if doc_token_start(tokens, word_start, first, k) is None:
            return None
        return (word_start, before_end), (tokens[a][0], tokens[b - 1][1])

    def _long_form_span(self, spans: list[Span], start: int, end: int) -> Span | None:
        best = None
        for span in spans:
            if not label_types(span.label):
                continue
            if span.start == start and span.end == end:
                return span
            if self.options.match == "end" and span.end == end and span.start >= start:
                if best is None or span.start < best.start:
                    best = span
        return best

    def find_spans(self, doc: Document) -> Iterator[Span]:
        spans = doc.spans(self.options.layer)
        if not spans:
            return
        long_forms: dict[str, list[Span]] = {}
        for (s0, s1), (l0, l1) in self.definitions(doc):
            span = self._long_form_span(spans, l0, l1)
            if span is not None:
                long_forms.setdefault(doc.text[s0:s1], []).append(span)
        if not long_forms:
            return
        words = doc.words()
        tokens = doc.tokens
        tokenizer = default_tokenizer()
        for short, found in long_forms.items():
            if len({span.label for span in found}) != 1:
                continue  # the document defines one short form two ways: say nothing
            label = found[0].label
            scores = [span.score for span in found if span.score is not None]
            score = min(scores) if scores else None  # a short form is as sure as its long form
            target = tokenizer.words(short)
            for i in _occurrences(words, target):
                yield Span(tokens[i][0], tokens[i + len(target) - 1][1], label, self.name, score=score)


def _occurrences(words: list[str], target: list[str]) -> Iterator[int]:
    """Yield each ``i`` where ``words[i:i + len(target)] == target`` (a non-empty target), in order."""
    n = len(target)
    last = len(words) - n + 1
    i = 0
    while i < last:
        try:
            i = words.index(target[0], i, last)
        except ValueError:
            return
        if words[i:i + n] == target:
            yield i
        i += 1


def doc_token_start(tokens: list[tuple[int, int]], offset: int, lo: int, hi: int) -> int | None:
    """Return the index of the token in ``[lo, hi)`` that starts at ``offset``, or ``None``."""
    for i in range(lo, hi):
        if tokens[i][0] == offset:
            return i
        if tokens[i][0] > offset:
            return None
    return None
