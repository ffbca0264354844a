"""Pattern labeling: regular expressions, token affixes and exclusion term lists.

Regex tables are tab-separated with a header naming the columns; ``label`` and ``regex`` are required,
``name`` and ``ignore_case`` optional, any other column (Trove's ``TIER``, ``NOTES``) is ignored, so Trove's
``LABEL NAME TIER IGNORE_CASE REGEX NOTES`` tables read as they are. A label is an entity type, a key of
the ``labels`` option (``{1 = "Chemical"}`` for Trove's numeric labels), or one of ``exclude_labels``
(``0``, ``O``, ``EXCLUDE``): text it matches must not be labeled, and it is emitted as an ``O`` span.

A regex anchored at both ends (``^...$``) is matched against each token; any other regex runs over the whole
text. A match is snapped to token boundaries: ``snap = "expand"`` widens it to the tokens it touches,
``snap = "drop"`` skips it (counted and logged once per document).

Affix rules label single tokens by their ending (``-mycin``, ``-azole``) or beginning; exclusion term
lists (one term a line) label their matches ``O``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from distant.docs import O, Document, Span
from distant.errors import DistantError
from distant.labelers.base import Labeler, is_type_name
from distant.labelers.dictionary import PhraseMatcher, read_lines, read_phrases
from distant.labelers.normalize import Normalizer

logger = logging.getLogger(__name__)

SNAP_RULES = ("expand", "drop")
_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f", ""}


@dataclass(frozen=True)
class Pattern:
    """One compiled regex with its label (a type, or ``O`` for an exclusion)."""

    label: str
    name: str
    regex: re.Pattern
    per_token: bool
    where: str  # file:line, for messages


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
            regex = re.compile(source, re.IGNORECASE if flag in _TRUE else 0)
        except re.error as e:
            raise DistantError(f"invalid regex {source!r}: {e}", path, number) from None
        name = fields[col["name"]].strip() if "name" in col and col["name"] < len(fields) else ""
        per_token = source.startswith("^") and source.endswith("$") and not source.endswith("\\$")
        patterns.append(Pattern(label, name or f"line{number}", regex, per_token, f"{path}:{number}"))
    return patterns


@dataclass
class PatternOptions:
    """Options of a ``pattern`` labeler.

    Attributes:
        tables: Regex tables (TSV with a header; Trove's format is accepted).
        labels: Map table labels to types (``{1 = "Chemical"}``).
        exclude_labels: Table labels that mark exclusions (emitted as ``O`` spans).
        snap: ``expand`` a match to the tokens it touches, or ``drop`` it (counted).
        suffixes: Type -> token endings (``{Chemical = ["mycin", "azole"]}``).
        prefixes: Type -> token beginnings.
        min_affix_length: Shortest token an affix rule labels.
        exclude_terms: Term lists (one a line) whose matches are labeled ``O``.
        terms_lowercase: Match exclusion terms ignoring case.
    """

    tables: list[Path] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    exclude_labels: list[str] = field(default_factory=lambda: ["0", "O", "EXCLUDE"])
    snap: str = "expand"
    suffixes: dict[str, list[str]] = field(default_factory=dict)
    prefixes: dict[str, list[str]] = field(default_factory=dict)
    min_affix_length: int = 6
    exclude_terms: list[Path] = field(default_factory=list)
    terms_lowercase: bool = True

    def __post_init__(self) -> None:
        if self.snap not in SNAP_RULES:
            raise ValueError(f"snap: expected one of {', '.join(SNAP_RULES)}, found {self.snap!r}")
        for key, value in self.labels.items():
            if not isinstance(value, str) or not is_type_name(value):
                raise ValueError(f"labels.{key}: expected a type name, found {value!r}")
        for what, table in (("suffixes", self.suffixes), ("prefixes", self.prefixes)):
            for key, value in table.items():
                if not is_type_name(key) or not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ValueError(f"{what}.{key}: expected a type name mapped to a list of strings")


class PatternLabeler(Labeler):
    """Label regex matches, affix matches and exclusion terms."""

    type_name = "pattern"
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

    def _regex_spans(self, doc: Document) -> Iterator[tuple[int, int, str]]:
        text = doc.text
        words = None
        for pattern in self.patterns:
            if pattern.per_token:
                words = words or doc.words()
                for (s, e), w in zip(doc.tokens, words):
                    if pattern.regex.search(w):
                        yield s, e, pattern.label
                continue
            for m in pattern.regex.finditer(text):
                s, e = m.span()
                while s < e and text[s].isspace():
                    s += 1
                while e > s and text[e - 1].isspace():
                    e -= 1
                if s < e:
                    yield s, e, pattern.label

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
