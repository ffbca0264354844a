"""Dictionary labeling: typed entries and untyped phrases matched on token boundaries.

Files:
    * typed dictionaries, one entry a line: ``Type<TAB>surface[<TAB>kb_id]``; a surface listed with several
      types gets the label ``A|B`` (an entity of one of these types, never O);
    * untyped phrase lists ("unknown", like AutoNER's ``dict_full``), one phrase a line: a match is labeled
      :data:`~distant.docs.UNKNOWN` (its tokens may take any tag, O included), or ``unknown_label``;
    * stop words, one a line: single-token matches of these are skipped.

Blank lines and lines starting with ``#`` are ignored. An entry or phrase with no letter or digit (``.``,
``%``) is skipped, and one of a single character (``K``) kept, each kind with one warning that counts them.

How matching works: entries are tokenized with the project tokenizer (so ``( R)-alpha - methylhistamine``
and ``(R)-alpha-methylhistamine`` are the same entry) and each token normalised
(:class:`~distant.labelers.normalize.Normalizer`); a key is the normalised tokens joined by single spaces,
with a space either side. A document's tokens are normalised the same way and joined the same way, and one
Aho-Corasick pass (pyahocorasick) over that string finds every key. A text token that is in no entry is
written as the empty string, so that two spaces meet, which no key has: the automaton goes straight back to
its root instead of walking the token's characters down the trie (most of running text, and most of the
time with a large dictionary, whose trie does not fit in the cache). Because keys begin and end with a
space, and spaces only separate tokens, every match starts and ends on a token boundary: a match inside a
word is impossible. Offsets in the joined string map back to token indices through the array of token
start positions.

Overlaps: ``longest`` keeps the non-overlapping set of matches with the largest sum of squared lengths
(in tokens), AutoNER-style, by weighted interval scheduling; ``all`` keeps every match. Typed matches are
chosen first; an untyped match is kept only where it overlaps no chosen typed match. An untyped match that
contains typed matches of one type only takes that type and competes with the typed ones (``inner_type``).
"""

from __future__ import annotations

import logging
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from itertools import accumulate
from operator import add, itemgetter
from pathlib import Path
from typing import TypeVar

import ahocorasick

from distant.config.labelers import DictionaryOptions
from distant.docs import ANY_TYPE, UNKNOWN, Document, Span, is_type_name, join_types, label_types
from distant.errors import DistantError
from distant.formats.lines import read_text
from distant.labelers.base import Labeler
from distant.labelers.normalize import Normalizer, hyphen_variants, plural_variant
from distant.tokenize import Tokenizer, default_tokenizer

logger = logging.getLogger(__name__)

Match = tuple[int, int, int]  # (first token, last token + 1, entry id)
Selected = tuple[int, int, int, str | None]  # a Match with its label (None: an untyped phrase)
M = TypeVar("M", Match, Selected)
T = TypeVar("T", bound=tuple)
_NOT_IN_KEYS = ""  # a text token that is in no key: two spaces in a row, which no key has (tokens are not empty)


# -- reading files ------------------------------------------------------------------------------------------
def read_lines(path: str | Path, what: str = "file") -> Iterator[tuple[int, str]]:
    """Yield ``(line number, line)`` for each non-blank, non-comment line of a UTF-8 file.

    Raises:
        DistantError: the file is missing, is not UTF-8 (naming the line) or has no entry.
    """
    path = Path(path)
    found = False
    for number, line in enumerate(read_text(path, f"a {what}").split("\n"), 1):
        line = line.rstrip("\r")
        if not line.strip() or line.startswith("#"):
            continue
        found = True
        yield number, line
    if not found:
        raise DistantError(f"empty {what}: expected at least one entry", path)


def _clip(text: str, limit: int = 50) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def dictionary_lines(path: str | Path) -> Iterator[tuple[int, str, str, str | None]]:
    """Yield ``(line number, type, surface, kb_id)`` for each ``Type<TAB>surface[<TAB>kb_id]`` line.

    Raises:
        DistantError: a line without a tab, with too many columns, an empty or invalid type, an empty surface.
    """
    expected = "expected Type<TAB>surface[<TAB>kb_id]"
    for number, line in read_lines(path, "dictionary"):
        fields = line.split("\t")
        if len(fields) < 2:
            raise DistantError(f"{expected}, found {_clip(line)!r} (no tab)", path, number)
        if len(fields) > 3:
            raise DistantError(f"{expected}, found {len(fields)} tab-separated columns", path, number)
        label, surface = fields[0].strip(), fields[1].strip()
        if not label:
            raise DistantError(f"{expected}, found an empty type column", path, number)
        if not is_type_name(label):
            raise DistantError(
                f"{expected}, found type {_clip(label)!r}: a type starts with a letter and has only letters, "
                "digits, '_' and '.' (and is not O)", path, number)
        if not surface:
            raise DistantError(f"{expected}, found an empty surface", path, number)
        kb_id = fields[2].strip() or None if len(fields) == 3 else None
        yield number, label, surface, kb_id


def read_dictionary(path: str | Path) -> list[tuple[str, str, str | None]]:
    """Read a typed dictionary: ``Type<TAB>surface[<TAB>kb_id]`` lines -> ``(type, surface, kb_id)``."""
    return [entry for _, *entry in dictionary_lines(path)]


def read_phrases(path: str | Path, what: str = "phrase list") -> list[str]:
    """Read one phrase (or term, or stop word) a line."""
    return [line.strip() for _, line in read_lines(path, what)]


def tokenize_surfaces(surfaces: Sequence[str], tokenizer: Tokenizer | None = None,
                      chunk: int = 20_000) -> list[list[str]]:
    """Tokenize many short strings quickly: one tokenizer call per ``chunk`` lines, not per string."""
    tokenizer = tokenizer or default_tokenizer()
    out: list[list[str]] = []
    for first in range(0, len(surfaces), chunk):
        part = [" ".join(s.split()) for s in surfaces[first:first + chunk]]
        text = "\n".join(part)
        tokens, _ = tokenizer.tokenize(text)
        line_ends = list(accumulate(len(s) + 1 for s in part))  # offset just past each line's newline
        words: list[list[str]] = [[] for _ in part]
        line = 0
        for s, e in tokens:
            while s >= line_ends[line]:
                line += 1
            words[line].append(text[s:e])
        out.extend(words)
    return out


# -- matching -----------------------------------------------------------------------------------------------
class PhraseMatcher:
    """Token-boundary phrase matching with one Aho-Corasick automaton.

    Build with :meth:`add` (tokenized) or :meth:`add_surfaces` (raw strings), then :meth:`build`; then
    :meth:`match` token lists. Each key (a normalised token sequence) is one entry with a label
    (``None`` for an untyped phrase) and a knowledge-base id.

    Args:
        normalizer: Token normalisation, applied to entries and text alike.
        hyphens: Also add hyphen/space/no-space variants of each entry.
        plurals: Also add each entry with its last word in the plural (``headache`` matches ``headaches``
            but ``cholinergics`` does not match ``cholinergic``).
        stopwords: Single-token entries equal to one of these (after normalisation) are not added.
    """

    def __init__(self, normalizer: Normalizer | None = None, *, hyphens: bool = True, plurals: bool = False,
                 stopwords: Iterable[str] = ()) -> None:
        self.normalizer = normalizer or Normalizer()
        self.hyphens = hyphens
        self.plurals = plurals
        self.stopwords = {self.normalizer(w) for w in stopwords}
        self._keys: dict[str, int] | None = {}
        self.vocabulary: set[str] = set()  # the normalised tokens of all keys
        self._text_tokens: dict[str, str] = {}  # memo: text token -> its normal form, or _NOT_IN_KEYS
        self.ntok = array("H")  # tokens of each entry
        self.klen = array("I")  # characters of each key, spaces included
        self.label_ids = array("i")  # index into self.labels; -1: untyped
        self.original = array("b")  # 1: the entry as written; 0: a generated variant
        self.kb_ids: list[str | None] = []
        self.labels: list[str] = []
        self._label_index: dict[str, int] = {}
        self.skipped_stopwords = 0
        self._automaton: ahocorasick.Automaton | None = None

    def __len__(self) -> int:
        return len(self.ntok)

    def _label_id(self, label: str) -> int:
        lid = self._label_index.get(label)
        if lid is None:
            lid = self._label_index[label] = len(self.labels)
            self.labels.append(label)
        return lid

    def add(self, words: Sequence[str], label: str | None, kb_id: str | None = None) -> None:
        """Add a tokenized entry (and its variants); ``label=None`` marks an untyped phrase."""
        if self._keys is None:
            raise RuntimeError("PhraseMatcher.add after build()")
        variants = list(hyphen_variants(words)) if self.hyphens else [tuple(words)]
        if self.plurals:  # the plural of the entry as written (not of every spelling variant)
            plural = plural_variant(variants[0])
            if plural is not None:
                variants.append(plural)
        for k, variant in enumerate(variants):
            norm = self.normalizer.tokens(variant)
            if len(norm) == 1 and norm[0] in self.stopwords:
                self.skipped_stopwords += k == 0
                continue
            if not norm:
                continue
            self.vocabulary.update(norm)
            self._add_key(" " + " ".join(norm) + " ", len(norm), label, kb_id, k == 0)

    def _add_key(self, key: str, n: int, label: str | None, kb_id: str | None, original: bool) -> None:
        keys = self._keys
        lid = -1 if label is None else self._label_id(label)
        eid = keys.get(key)
        if eid is None:
            keys[key] = len(self.ntok)
            self.ntok.append(min(n, 65535))
            self.klen.append(len(key))
            self.label_ids.append(lid)
            self.original.append(original)
            self.kb_ids.append(kb_id)
            return
        if lid == -1:
            return  # an untyped phrase adds nothing to an existing entry
        old = self.label_ids[eid]
        if original and not self.original[eid] or old == -1:
            # An entry as written beats a generated variant; a typed entry beats an untyped phrase.
            self.label_ids[eid], self.kb_ids[eid], self.original[eid] = lid, kb_id, original
        elif original or not self.original[eid]:
            merged = join_types(self.labels[old].split("|") + label.split("|"))
            self.label_ids[eid] = self._label_id(merged)
            if kb_id and kb_id != self.kb_ids[eid]:
                ids = set((self.kb_ids[eid] or "").split("|")) | {kb_id}
                self.kb_ids[eid] = "|".join(sorted(i for i in ids if i))

    def add_surfaces(self, surfaces: Sequence[str], labels: Sequence[str | None],
                     kb_ids: Sequence[str | None] | None = None, tokenizer: Tokenizer | None = None) -> None:
        """Tokenize and add raw surface strings."""
        kb_ids = kb_ids if kb_ids is not None else [None] * len(surfaces)
        for words, label, kb_id in zip(tokenize_surfaces(surfaces, tokenizer), labels, kb_ids):
            if words:
                self.add(words, label, kb_id)

    def build(self) -> PhraseMatcher:
        """Compile the automaton; no entries can be added afterwards."""
        automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
        for key, eid in (self._keys or {}).items():
            automaton.add_word(key, eid)
        automaton.make_automaton()
        self._automaton = automaton
        self._keys = None  # the automaton holds the keys now
        return self

    def label(self, eid: int) -> str | None:
        """Return an entry's label (``None`` for an untyped phrase)."""
        lid = self.label_ids[eid]
        return None if lid < 0 else self.labels[lid]

    def match(self, words: Sequence[str]) -> list[Match]:
        """Return every ``(i, j, entry)`` whose key equals the normalised tokens ``words[i:j]``."""
        if self._automaton is None:
            self.build()
        if not words:
            return []
        memo = self._text_tokens
        norm = list(map(memo.get, words))
        if None in norm:
            norm = [t if t is not None else self._text_token(w) for t, w in zip(norm, words)]
        joined = " " + " ".join(norm) + " "
        # starts[i]: offset of the space before token i in `joined` (token lengths plus one space each).
        starts = list(map(add, accumulate(map(len, norm), initial=0), range(len(norm) + 1)))
        ntok, klen = self.ntok, self.klen
        out = []
        for end, eid in self._automaton.iter(joined):
            i = bisect_left(starts, end - klen[eid] + 1)
            out.append((i, i + ntok[eid], eid))
        return out

    def _text_token(self, word: str) -> str:
        memo = self._text_tokens
        if len(memo) > 2_000_000:  # bound the memo on huge vocabularies
            memo.clear()
        norm = self.normalizer(word)
        out = memo[word] = norm if norm in self.vocabulary else _NOT_IN_KEYS
        return out

    def __getstate__(self) -> dict:
        if self._automaton is None and self._keys is not None:
            self.build()
        return {**self.__dict__, "_text_tokens": {}}


def select_longest(matches: Sequence[M]) -> list[M]:
    """Choose non-overlapping matches maximising the sum of squared lengths (ties: the leftmost).

    A match is any tuple that starts with ``(first token, last token + 1)``."""
    if len(matches) <= 1:
        return list(matches)
    ms = sorted(matches, key=itemgetter(1, 0))
    if all(ms[k][0] >= ms[k - 1][1] for k in range(1, len(ms))):
        return ms  # nothing overlaps: the common case
    ends = [m[1] for m in ms]
    best = [0] * (len(ms) + 1)  # best[k]: best total weight using the first k matches (by end)
    prev = [-1] * len(ms)  # where to continue after taking match k; -1: not taken
    for k, m in enumerate(ms):
        i, j = m[0], m[1]
        p = bisect_right(ends, i, 0, k)  # matches ending at or before i
        w = (j - i) ** 2 + best[p]
        if w > best[k]:
            best[k + 1] = w
            prev[k] = p
        else:
            best[k + 1] = best[k]
    out = []
    k = len(ms)
    while k > 0:
        if prev[k - 1] >= 0:
            out.append(ms[k - 1])
            k = prev[k - 1]
        else:
            k -= 1
    return out[::-1]


def _drop_covered(matches: list[Selected], chosen: Sequence[Selected], n: int) -> list[Selected]:
    """Return the matches that overlap none of ``chosen``."""
    taken = bytearray(n)
    for i, j, _, _ in chosen:
        taken[i:j] = b"\x01" * (j - i)
    return [m for m in matches if not any(taken[m[0]:m[1]])]


# -- the labeler --------------------------------------------------------------------------------------------
def normalizer_of(options: DictionaryOptions) -> Normalizer:
    """Return the token normaliser a dictionary labeler's options describe."""
    return Normalizer(lowercase=options.lowercase, keep_case_max_len=options.keep_case_max_len, nfkc=options.nfkc,
                      greek=options.greek, plurals=options.plurals == "fold")


class DictionaryLabeler(Labeler):
    """Label typed dictionary matches with their type, untyped phrase matches with ``-``.

    Args:
        name: Layer name.
        options: Files and matching options.
        entries: Extra typed entries ``(type, surface, kb_id)``, added after the files.
        phrases: Extra untyped phrases.
        stopwords: Extra stop words.
    """

    Options = DictionaryOptions

    def __init__(self, name: str = "dictionary", options: DictionaryOptions | None = None, *,
                 entries: Iterable[tuple[str, str, str | None]] = (), phrases: Iterable[str] = (),
                 stopwords: Iterable[str] = ()) -> None:
        super().__init__(name)
        self.options = options = options or DictionaryOptions()
        stop = list(stopwords)
        if options.stopwords is not None:
            stop += read_phrases(options.stopwords, "stop-word list")
        self.matcher = PhraseMatcher(normalizer_of(options), hyphens=options.hyphens,
                                     plurals=options.plurals == "add", stopwords=stop)
        typed = [(f"{path}:{n}", s, t, k) for path in options.dicts for n, t, s, k in dictionary_lines(path)]
        typed += [(f"entries[{n}]", s, t, k) for n, (t, s, k) in enumerate(entries)]
        untyped = [(f"{path}:{n}", line.strip()) for path in options.unknown
                   for n, line in read_lines(path, "phrase list")]
        untyped += [(f"phrases[{n}]", p) for n, p in enumerate(phrases)]
        self.symbol_only = 0  # entries skipped: no letter or digit
        self.one_character = 0  # entries kept, with a warning
        typed = self._screen(typed, "typed entries")
        untyped = self._screen(untyped, "untyped phrases")
        self._types = {x for _, _, t, _ in typed for x in label_types(t)}
        self.matcher.add_surfaces([e[1] for e in typed], [e[2] for e in typed], [e[3] for e in typed])
        self.matcher.add_surfaces([p for _, p in untyped], [None] * len(untyped))
        self.matcher.build()
        # The label of untyped matches; ANY_TYPE stands for the run's types (resolve_types), its own until then.
        self.unknown_label: str | None = options.unknown_label
        if options.unknown_label == ANY_TYPE:
            self.unknown_label = join_types(self._types) or None
        logger.info("dictionary %s: %d typed entries, %d untyped phrases, %d keys with variants",
                    name, len(typed), len(untyped), len(self.matcher))

    def _screen(self, entries: list[T], what: str, first: int = 5) -> list[T]:
        """Drop entries whose surface has no letter or digit; warn once about those and one-character ones.

        A surface such as ``.``, ``%`` or ``+/-`` would label every such mark in the text: it is skipped.
        A one-character surface (``K``, ``H``) labels every token that is that character: it is kept (a stop
        word drops it, and silences the warning). ``entries`` are tuples ``(where, surface, ...)``.
        """
        kept, symbols, single = [], [], []
        stopwords = self.matcher.stopwords
        for entry in entries:
            where, surface = entry[0], entry[1]
            if not any(c.isalnum() for c in surface):
                symbols.append(f"{where} {surface!r}")
                continue
            if len(surface) == 1 and self.matcher.normalizer(surface) not in stopwords:
                single.append(f"{where} {surface!r}")
            kept.append(entry)
        for found, how in ((symbols, "skipped {n} with no letter or digit (each would label every such mark)"),
                           (single, "kept {n} of one character (each labels every token that is that "
                                    "character; list it as a stop word to drop it)")):
            if found:
                more = ", ..." if len(found) > first else ""
                logger.warning("dictionary %s, %s: %s: %s%s", self.name, what, how.format(n=len(found)),
                               ", ".join(found[:first]), more)
        self.symbol_only += len(symbols)
        self.one_character += len(single)
        return kept

    def types(self) -> set[str]:
        """Return the types of the typed entries, and those of an explicit ``unknown_label`` (``A|B``)."""
        own = label_types(self.options.unknown_label) if self.options.unknown_label != ANY_TYPE else []
        return self._types | set(own)

    def resolve_types(self, types: Sequence[str]) -> None:
        """Label untyped matches ``join_types(types)`` when ``unknown_label = "*"``."""
        if self.options.unknown_label != ANY_TYPE:
            return
        if not types:
            raise DistantError(f"labeler {self.name!r}: unknown_label = '*' stands for the run's entity types, but "
                               "there are none (no types given and no labeler has typed entries); name them "
                               "(data.types) or set unknown_label to '-' or to types joined by '|'")
        self.unknown_label = join_types(types)

    def select(self, matches: list[Match], n: int) -> list[Selected]:
        """Apply the overlap policy: typed matches first, then untyped ones where no typed match is.

        Returns ``(first token, last token + 1, entry, label)``; the label is ``None`` for an untyped match.
        """
        label = self.matcher.label
        typed = []
        untyped = []
        for i, j, eid in matches:
            lab = label(eid)
            (untyped if lab is None else typed).append((i, j, eid, lab))
        if self.options.inner_type and typed and untyped:
            plain = []
            for m in untyped:
                inner = {t[3] for t in typed if m[0] <= t[0] and t[1] <= m[1]}
                if len(inner) == 1:
                    typed.append((m[0], m[1], m[2], inner.pop()))
                else:
                    plain.append(m)
            untyped = plain
        longest = self.options.overlap == "longest"
        if longest:
            typed = select_longest(typed)
        if untyped:
            if typed:
                untyped = _drop_covered(untyped, typed, n)
            if longest:
                untyped = select_longest(untyped)
        return typed + untyped

    spans_on_tokens = True  # find_spans: from the document's token offsets

    def find_spans(self, doc: Document) -> Iterator[Span]:
        words = doc.words()
        tokens = doc.tokens
        matcher = self.matcher
        for i, j, eid, label in self.select(matcher.match(words), len(words)):
            if label is None:
                short = tokens[j - 1][1] - tokens[i][0] < self.options.unknown_min_chars
                label = UNKNOWN if short else self.unknown_label or self._unresolved()
            yield Span(tokens[i][0], tokens[j - 1][1], label, self.name,
                       matcher.kb_ids[eid])

    def _unresolved(self) -> str:
        raise DistantError(f"labeler {self.name!r}: unknown_label = '*' stands for the run's entity types, but it "
                           "has no typed entries and was given no types: call resolve_types(types) before labeling")
