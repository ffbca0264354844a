r"""Tokenization and sentence splitting for biomedical text, with exact character offsets.

Every punctuation mark is a token of its own, so that entity boundaries inside hyphenated and parenthesised
words ("cisplatin-induced", "5-FU/LV", "(R)-alpha-methylhistamine") fall on token boundaries, and a
dictionary entry is tokenized the same way whatever its spacing. Numbers keep their decimal point and
digit-group commas ("0.5", "1,2"), and dotted abbreviations ("i.v.", "e.g.", "et al.") stay whole so they
do not end sentences.

The rules are those of a blank spaCy English tokenizer whose prefix, suffix and infix patterns split off
every punctuation mark (``[^\w\s]|_``) except a ``.`` or ``,`` between two digits, with the abbreviations
as special cases and no other exceptions. They are written here as one regular expression, which gives the
same tokens (``tests/test_core.py`` checks this against spaCy itself) at several times spaCy's speed.

Sentences end after ``.``, ``!`` or ``?`` (with any closing brackets or quotes that follow), at line breaks,
and at the section breaks a reader records (a PubTator title and its abstract).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from functools import lru_cache

from distant.docs import Document

ABBREVIATIONS = (
    "e.g.", "i.e.", "i.v.", "i.p.", "i.m.", "i.c.v.", "s.c.", "p.o.", "b.i.d.", "t.i.d.", "q.i.d.", "q.d.",
    "vs.", "approx.", "ca.", "cf.", "Fig.", "Figs.", "fig.", "Dr.", "Drs.", "Prof.", "No.", "no.", "Ref.",
    "Refs.", "Eq.", "Vol.", "Suppl.", "resp.", "al.", "etc.", "Inc.", "Ltd.", "Co.", "Corp.", "St.", "Jr.",
    "spp.", "sp.", "var.", "subsp.", "min.", "max.", "mol.", "wt.", "E.C.", "U.S.", "U.K.", "a.m.", "p.m.",
)
_SENTENCE_END = re.compile(r"[.!?]")
_CLOSERS = {")", "]", "}", '"', "'", "\u201d", "\u2019"}

# A token is, tried in this order: an abbreviation (the longest first); a run of letters and digits, with a
# '.' or ',' allowed between two digits ("0.5", "1,2", "5mg"); one punctuation or symbol character. Every
# abbreviation starts with a few ASCII letters and a period, so the abbreviations are tried only where such a
# run starts (a lookahead that fails within a few characters on almost every token): 1.5x faster than trying
# the fifty of them at each token (docs/benchmarks.md), the same tokens.
_ABBREVIATION_START = re.compile(r"[A-Za-z]+\.")
assert all(_ABBREVIATION_START.match(a) for a in ABBREVIATIONS)
_TOKEN = re.compile(
    r"(?=[A-Za-z]{1,%d}\.)(?:" % max(len(_ABBREVIATION_START.match(a)[0]) - 1 for a in ABBREVIATIONS)
    + "|".join(re.escape(a) for a in sorted(ABBREVIATIONS, key=len, reverse=True))
    + r")|[^\W_]+(?:(?<=\d)[.,](?=\d)[^\W_]+)*"
    + r"|[^\w\s]|_"
)


class Tokenizer:
    """Split text into tokens and sentences, returning character offsets into the original text."""

    def words(self, text: str) -> list[str]:
        """Return the token strings of ``text`` (used for dictionary entries and patterns)."""
        return _TOKEN.findall(text)

    def tokenize(self, text: str, breaks: Sequence[int] = ()) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Return ``(tokens, sentences)``: token character offsets and sentence token ranges.

        Args:
            text: The text.
            breaks: Character offsets where a new sentence must start (section boundaries).
        """
        tokens = [m.span() for m in _TOKEN.finditer(text)]
        return tokens, split_sentences(text, tokens, breaks)

    def __call__(self, doc: Document) -> Document:
        """Tokenize ``doc`` in place (unless it already has tokens) and return it."""
        if not doc.is_tokenized:
            doc.set_tokens(*self.tokenize(doc.text, doc.meta.get("breaks", ())))
        return doc

    def pipe(self, docs: Iterable[Document]) -> Iterable[Document]:
        """Tokenize each document that has no tokens yet."""
        for doc in docs:
            yield self(doc)


def split_sentences(text: str, tokens: Sequence[tuple[int, int]], breaks: Sequence[int] = ()) -> list[tuple[int, int]]:
    """Group tokens into sentences: after sentence-final punctuation, at line breaks and at ``breaks``.

    A sentence ends after a ``.``, ``!`` or ``?`` token and the closing brackets and quotes that follow it,
    except a period after an initial ("T. chebula"). Only those tokens, the line breaks and ``breaks`` are
    visited, not every token.

    Args:
        text: The text.
        tokens: The token offsets, in order.
        breaks: Character offsets where a new sentence must start (where a token starts there).
    """
    n = len(tokens)
    if not n:
        return []
    forced = set()  # tokens that start a sentence whatever precedes them
    newline = text.find("\n")
    while newline >= 0:
        forced.add(bisect_left(tokens, (newline, 0)))  # the first token after the line break
        newline = text.find("\n", newline + 1)
    for b in breaks:
        i = bisect_left(tokens, (b, 0))
        if i < n and tokens[i][0] == b:
            forced.add(i)
    cuts = {k for k in forced if 0 < k < n}
    for m in _SENTENCE_END.finditer(text):
        p = m.start()
        i = bisect_left(tokens, (p, 0))
        if i == n or tokens[i][0] != p:  # inside a token ("0.5", "e.g.")
            continue
        if text[p] == "." and i > 0 and tokens[i - 1][1] == p and _is_initial(text, tokens[i - 1]):
            continue  # "T. chebula", "J. Smith": a period after a single capital letter is an initial
        j = i + 1
        while j < n and j not in forced and text[tokens[j][0]:tokens[j][1]] in _CLOSERS:
            j += 1
        if j < n:
            cuts.add(j)
    bounds = [0, *sorted(cuts), n]
    return list(zip(bounds, bounds[1:]))


def _is_initial(text: str, token: tuple[int, int]) -> bool:
    s, e = token
    return e - s == 1 and text[s].isupper() and (s == 0 or not text[s - 1].isalnum())


@lru_cache(maxsize=1)
def default_tokenizer() -> Tokenizer:
    """Return the shared tokenizer."""
    return Tokenizer()
