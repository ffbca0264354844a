"""Pattern labeling: regular expressions, token affixes and exclusion term lists.

Regex tables are tab-separated with a header naming the columns; ``label`` and ``regex`` are required,
``name`` and ``ignore_case`` optional, any other column (Trove's ``TIER``, ``NOTES``) is ignored, so Trove's
``LABEL NAME TIER IGNORE_CASE REGEX NOTES`` tables read as they are. A label is an entity type, a key of
the ``labels`` option (``{1 = "Chemical"}`` for Trove's numeric labels), or one of ``exclude_labels``
(``0``, ``O``, ``EXCLUDE``): text it matches must not be labeled, and it is emitted as an ``O`` span.

A regex anchored at both ends (``^...$``) is matched against each token; any other regex runs over the whole
text. A match is snapped to token boundaries: ``snap = "expand"`` widens it to the tokens it touches,
``snap = "drop"`` skips it (counted and logged once per document).

Regexes are compiled with the ``regex`` module (its ``V0`` mode, which reads them as ``re`` does) because it
can stop a match: each regex gets ``regex_timeout`` seconds per document (over the whole text, or over all
the tokens of a per-token regex). One that runs past it (``(a|aa)+$`` on ``aaaa...!`` takes exponential
time) is skipped on that document, with none of its matches there, counted in ``labeler.timeouts`` and
reported with a warning the first time for each regex. A regex that repeats a group that can end in an
unbounded repeat (``(a+)+``, ``([a-z]+ ?)*``), the usual cause, is reported when the table is read.

Affix rules label single tokens by their ending (``-mycin``, ``-azole``) or beginning; exclusion term
lists (one term a line) label their matches ``O``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import regex

from distant.config.labelers import PatternOptions
from distant.docs import O, Document, Span, is_type_name
from distant.errors import DistantError
from distant.labelers.base import Labeler
from distant.labelers.dictionary import PhraseMatcher, read_lines, read_phrases
from distant.labelers.normalize import Normalizer

logger = logging.getLogger(__name__)

_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f", ""}


@dataclass(frozen=True)
class Pattern:
    """One compiled regex with its label (a type, or ``O`` for an exclusion)."""

    label: str
    name: str
    regex: regex.Pattern
    per_token: bool
    where: str  # file:line, for messages

    def __str__(self) -> str:
        return f"{self.name} ({self.where})"


def nested_quantifier(source: str) -> bool:
    """Return whether the regex ``source`` repeats a group that can end in an unbounded repeat: ``(a+)+``.

    Such a group can split one run of text between its iterations in exponentially many ways, which a near
    miss (``aaaa...!``) tries one by one. A group whose iterations end with something required
    (``([a-z]+ )*``, ``(x+y)+``) cannot, and is not reported. A scan of the regex's text, not a proof:
    ``(a|aa)+`` is as slow and is not found.
    """
    groups = [[False, False]]  # per open group: [its branch so far ends in an unbounded repeat, an earlier one did]
    i, n = 0, len(source)
    while i < n:
        c = source[i]
        i += 1
        if c == "(":
            groups.append([False, False])
            continue
        if c == "|":
            groups[-1] = [False, groups[-1][0] or groups[-1][1]]
            continue
        if c == "\\":
            i += 1
        elif c == "[":  # a class: skip to its end (a ']' first, or after '^', is a member)
            i += i < n and source[i] == "^"
            i += i < n and source[i] == "]"
            while i < n and source[i] != "]":
                i += 2 if source[i] == "\\" else 1
            i += 1
        ends = c == ")" and len(groups) > 1 and any(groups.pop())  # a group that can end in an unbounded repeat
        q = _QUANTIFIER.match(source, i)
        low, high = (1, 1) if q is None else _bounds(q)
        i = i if q is None else q.end()
        if high is None:
            if ends:
                return True
            groups[-1][0] = True
        elif low > 0:
            groups[-1][0] = ends
        else:  # an optional item keeps what the branch ended in, or ends it in a repeat
            groups[-1][0] = groups[-1][0] or ends
    return False


_QUANTIFIER = regex.compile(r"(?:([+*?])|\{(\d*)(,?)(\d*)\})[?+]?")


def _bounds(q: regex.Match) -> tuple[int, int | None]:
    """Return the least and most repeats of a quantifier (``None``: unbounded)."""
    if q.group(1):
        return {"+": (1, None), "*": (0, None), "?": (0, 1)}[q.group(1)]
    low = int(q.group(2) or 0)
    return (low, low) if not q.group(3) else (low, int(q.group(4)) if q.group(4) else None)


def read_pattern_table(path: str | Path, labels: dict[str, str] | None = None,
                       exclude_labels: tuple[str, ...] | list[str] = ("0", "O", "EXCLUDE")) -> list[Pattern]:
    """Read a regex table (header with ``label`` and ``regex`` columns; see the module docstring).

    Raises:
        DistantError: a missing column, an unmapped label, a bad ``ignore_case`` value or a broken regex,
            naming the file and line.
    """
    labels = labels or {}
    exclude = {x.upper() for x in exclude_labels}
    lines = iter(read_lines(path, "pattern table"))
    header_line, header = next(lines)
    columns = [c.strip().lower() for c in header.split("\t")]
    for required in ("label", "regex"):
        if required not in columns:
            raise DistantError(f"expected a header with a '{required}' column (label, name, ignore_case, regex), "
                               f"found {header.strip()!r}", path, header_line)
    col = {c: k for k, c in enumerate(columns)}
    patterns = []
    for number, line in lines:
        fields = line.split("\t")
        if len(fields) <= max(col["label"], col["regex"]):
            raise DistantError(f"expected {len(columns)} tab-separated columns ({', '.join(columns)}), "
                               f"found {len(fields)}", path, number)
        raw_label = fields[col["label"]].strip()
        if raw_label.upper() in exclude:
            label = O
        elif raw_label in labels:
            label = labels[raw_label]
        elif is_type_name(raw_label):
            label = raw_label
        else:
            raise DistantError(
                f"label {raw_label!r} is neither a type name nor an exclusion label ({', '.join(exclude_labels)}); "
                f"map it to a type with the labels option, e.g. labels = {{ \"{raw_label}\" = \"Chemical\" }}",
                path, number)
        flag = fields[col["ignore_case"]].strip().lower() if "ignore_case" in col and col["ignore_case"] < len(fields) else ""
        if flag not in _TRUE | _FALSE:
            raise DistantError(f"ignore_case: expected 1/0 or true/false, found {flag!r}", path, number)
        source = fields[col["regex"]].strip()
        if not source:
            raise DistantError("expected a regex, found an empty column", path, number)
        try:
            compiled = regex.compile(source, regex.V0 | (regex.IGNORECASE if flag in _TRUE else 0))
        except regex.error as e:
            raise DistantError(f"invalid regex {source!r}: {e}", path, number) from None
        name = fields[col["name"]].strip() if "name" in col and col["name"] < len(fields) else ""
        per_token = source.startswith("^") and source.endswith("$") and not source.endswith("\\$")
        patterns.append(Pattern(label, name or f"line{number}", compiled, per_token, f"{path}:{number}"))
    return patterns


class PatternLabeler(Labeler):
    """Label regex matches, affix matches and exclusion terms.

    Attributes:
        dropped: Regex matches skipped because ``snap = "drop"`` and they were not on token boundaries.
        timeouts: Regexes stopped by ``regex_timeout`` (``"name (file:line)"``): documents they were skipped on.
    """

    Options = PatternOptions

    def __init__(self, name: str = "pattern", options: PatternOptions | None = None) -> None:
        super().__init__(name)
        self.options = options = options or PatternOptions()
        self.patterns = [p for path in options.tables
                         for p in read_pattern_table(path, options.labels, options.exclude_labels)]
        self._suffixes = [(s.lower(), t) for t, items in options.suffixes.items() for s in items]
        self._prefixes = [(s.lower(), t) for t, items in options.prefixes.items() for s in items]
        self.terms: PhraseMatcher | None = None
        if options.exclude_terms:
            terms = [t for path in options.exclude_terms for t in read_phrases(path, "term list")]
            normalizer = Normalizer(lowercase=options.terms_lowercase, keep_case_max_len=0)
            self.terms = PhraseMatcher(normalizer, hyphens=False)
            self.terms.add_surfaces(terms, [O] * len(terms))
            self.terms.build()
        self.dropped = 0
        nested = [f"{p} {p.regex.pattern!r}" for p in self.patterns if nested_quantifier(p.regex.pattern)]
        if nested:
            logger.warning("labeler %s: %d regex(es) repeat a group that can end in an unbounded repeat, which can "
                           "take exponential time (each is stopped after regex_timeout = %g s a document): %s%s",
                           name, len(nested), options.regex_timeout, ", ".join(nested[:5]),
                           ", ..." if len(nested) > 5 else "")

    def types(self) -> set[str]:
        """Return the types of the table rows and affix rules (not ``O``)."""
        return ({p.label for p in self.patterns if p.label != O}
                | set(self.options.suffixes) | set(self.options.prefixes))

    def _regex_spans(self, doc: Document) -> Iterator[tuple[int, int, str]]:
        budget = self.options.regex_timeout
        words = doc.words() if any(p.per_token for p in self.patterns) else []
        for pattern in self.patterns:
            try:
                if pattern.per_token:
                    found = _token_matches(pattern, doc.tokens, words, budget)
                else:
                    found = _text_matches(pattern, doc.text, budget)
            except TimeoutError:
                self._stopped(pattern, doc)
                continue
            yield from found

    def _stopped(self, pattern: Pattern, doc: Document) -> None:
        key = str(pattern)
        self.timeouts[key] += 1
        if self.timeouts[key] == 1:
            logger.warning("labeler %s: regex %s ran past regex_timeout = %g s on document %s and is skipped there "
                           "(%d regex stop(s) in this labeler so far; later stops of this regex are counted in "
                           "the labeling summary, without a warning)", self.name, key, self.options.regex_timeout,
                           doc.id, sum(self.timeouts.values()))

    def find_spans(self, doc: Document) -> Iterator[Span]:
        tokens = doc.tokens
        dropped = 0
        seen = set()
        for s, e, label in self._regex_spans(doc):
            if doc.token_range(s, e) is None:
                covering = doc.covering_token_range(s, e) if self.options.snap == "expand" else None
                if covering is None:
                    dropped += 1
                    continue
                s, e = doc.char_span(*covering)
            if (s, e, label) not in seen:
                seen.add((s, e, label))
                yield Span(s, e, label, self.name)
        if dropped:
            self.dropped += dropped
            logger.info("document %s: labeler %s dropped %d regex match(es) not on token boundaries",
                        doc.id, self.name, dropped)
        if self._suffixes or self._prefixes:
            min_len = self.options.min_affix_length
            for (s, e), w in zip(tokens, doc.words()):
                if len(w) < min_len or not w.isalnum():
                    continue
                low = w.lower()
                label = next((t for x, t in self._suffixes if low.endswith(x)), None) or next(
                    (t for x, t in self._prefixes if low.startswith(x)), None)
                if label and (s, e, label) not in seen:
                    yield Span(s, e, label, self.name)
        if self.terms is not None:
            for i, j, _ in self.terms.match(doc.words()):
                if (tokens[i][0], tokens[j - 1][1], O) not in seen:
                    yield Span(tokens[i][0], tokens[j - 1][1], O, self.name)


def _text_matches(pattern: Pattern, text: str, budget: float) -> list[tuple[int, int, str]]:
    """Return the matches of ``pattern`` over ``text``, whitespace trimmed; TimeoutError after ``budget`` s."""
    out = []
    for m in pattern.regex.finditer(text, timeout=budget):
        s, e = m.span()
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if s < e:
            out.append((s, e, pattern.label))
    return out


def _token_matches(pattern: Pattern, tokens: list[tuple[int, int]], words: list[str],
                   budget: float) -> list[tuple[int, int, str]]:
    """Return the tokens ``pattern`` matches; TimeoutError once all of them took ``budget`` s."""
    deadline = time.perf_counter() + budget
    search = pattern.regex.search
    out = []
    for (s, e), w in zip(tokens, words):
        left = deadline - time.perf_counter()
        if left <= 0:
            raise TimeoutError
        if search(w, timeout=left):
            out.append((s, e, pattern.label))
    return out
