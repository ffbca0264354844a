"""Token tag sequences <-> token-range spans, in the BIO (IOB2), IOB1, IOBES and IO schemes.

:func:`tags_to_spans` follows seqeval's strict mode: in IOB2 an entity is a ``B-X`` followed by the longest
run of ``I-X``; an ``I-X`` that no ``B-X`` opens is not an entity. The tagger and the scorer rely on that.
:func:`decode_tags` reads a file's tags the way conlleval (and seqeval's default mode) does, which loses no
tag: an ``I-X`` that continues nothing starts an entity, an IOBES entity without its ``E-X`` ends at its last
tag; it also returns each tag that the scheme does not allow where it stands, so that a reader can count
them. :func:`detect_scheme` tells a file's scheme from its tags. The :data:`~distant.docs.UNKNOWN` tag decodes
as outside.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from distant.docs import O, UNKNOWN

SCHEMES = ("IOB2", "IOB1", "IOBES", "IO")
SCHEME_ALIASES = {"BIO": "IOB2", "IOB2": "IOB2", "IOB1": "IOB1", "IOB": "IOB1", "IOBES": "IOBES",
                  "BIOES": "IOBES", "BILOU": "IOBES", "IO": "IO"}
PREFIXES = {"IOB2": "BI", "IOB1": "BI", "IOBES": "BIES", "IO": "I"}
_BILOU = {"L": "E", "U": "S"}


class TagError(ValueError):
    """A tag string that is not valid in its scheme (the caller adds file and line)."""


def scheme_name(name: str) -> str:
    """Return the canonical name of a tag scheme, accepting common aliases (BIO, BIOES, BILOU)."""
    try:
        return SCHEME_ALIASES[name.upper()]
    except KeyError:
        raise TagError(f"unknown tag scheme {name!r}; expected one of {', '.join(SCHEME_ALIASES)}") from None


def split_tag(tag: str, scheme: str = "IOB2") -> tuple[str, str | None]:
    """Split ``B-Chemical`` into ``("B", "Chemical")``; ``O`` and ``-`` into ``(tag, None)``.

    Raises:
        TagError: the prefix is not allowed in ``scheme`` or the type is empty.
    """
    if tag == O or tag == UNKNOWN:
        return tag, None
    prefix, sep, label = tag.partition("-")
    prefix = _BILOU.get(prefix, prefix) if scheme == "IOBES" else prefix
    if not sep or not label or prefix not in PREFIXES[scheme]:
        allowed = ", ".join(f"{p}-TYPE" for p in PREFIXES[scheme])
        raise TagError(f"invalid tag {tag!r} for scheme {scheme}; expected O or {allowed}")
    return prefix, label


def tags_to_spans(tags: Sequence[str], scheme: str = "IOB2") -> list[tuple[int, int, str]]:
    """Decode tags into ``(first_token, last_token + 1, type)`` spans (seqeval strict semantics)."""
    parts = [split_tag(t, scheme) for t in tags]
    spans: list[tuple[int, int, str]] = []
    n = len(parts)
    i = 0
    while i < n:
        prefix, label = parts[i]
        if label is None:
            i += 1
            continue
        if scheme == "IO" or scheme == "IOB1":
            # IOB1 and IO: a run of the same type; in IOB1 a B- splits two adjacent runs of one type.
            j = i + 1
            while j < n and parts[j][1] == label and (scheme == "IO" or parts[j][0] == "I"):
                j += 1
            spans.append((i, j, label))
            i = j
        elif scheme == "IOB2":
            if prefix != "B":
                i += 1
                continue
            j = i + 1
            while j < n and parts[j] == ("I", label):
                j += 1
            spans.append((i, j, label))
            i = j
        else:  # IOBES
            if prefix == "S":
                spans.append((i, i + 1, label))
                i += 1
            elif prefix == "B":
                j = i + 1
                while j < n and parts[j] == ("I", label):
                    j += 1
                if j < n and parts[j] == ("E", label):
                    spans.append((i, j + 1, label))
                    i = j + 1
                else:
                    i = j
            else:
                i += 1
    return spans


class Repair(NamedTuple):
    """A tag that its scheme does not allow where it stands, and how :func:`decode_tags` read it."""

    index: int
    found: str  # what was found, and how it was read
    expected: str
    short: str  # the tag and its neighbour, for a warning: "I-X after O"


def decode_tags(tags: Sequence[str], scheme: str = "IOB2") -> tuple[list[tuple[int, int, str]], list[Repair]]:
    """Decode tags as conlleval does, losing none; return the spans and the tags that needed a repair.

    An entity starts at ``B-``/``S-``, at a change of type, or at any entity tag after ``O``, ``-``, an ``E-``
    or an ``S-``; it ends before ``O``, ``-``, ``B-``, ``S-`` or a change of type, and after ``E-``/``S-``
    (seqeval's ``get_entities``, which accepts every scheme). The repairs are what the scheme does not allow:
    in IOB2 an ``I-X`` that continues no ``X``; in IOBES also an ``E-X`` that closes nothing and a ``B-X`` or
    ``I-X`` that no ``I-X``/``E-X`` follows. IOB1 and IO need none.

    Raises:
        TagError: a tag that is not valid in ``scheme``.
    """
    parts = [split_tag(t, scheme) for t in tags]
    n = len(parts)
    spans: list[tuple[int, int, str]] = []
    start: int | None = None
    prev_prefix, prev_label = O, None
    for i in range(n + 1):
        prefix, label = parts[i] if i < n else (O, None)
        if start is not None and (prev_prefix in "ES" or prefix in "BS" or label != prev_label):
            spans.append((start, i, prev_label))
            start = None
        if label is not None and start is None:
            start = i
        prev_prefix, prev_label = (prefix, label) if label is not None else (O, None)
    return spans, _repairs(tags, parts, scheme)


def _repairs(tags: Sequence[str], parts: list[tuple[str, str | None]], scheme: str) -> list[Repair]:
    if scheme not in ("IOB2", "IOBES"):
        return []
    out = []
    n = len(parts)
    for i, (prefix, label) in enumerate(parts):
        if label is None:
            continue
        before = tags[i - 1] if i else "the start of the sentence"
        continues = i > 0 and parts[i - 1][1] == label and parts[i - 1][0] in "BI"
        if prefix in "IE" and not continues:
            starts = f"B-{label}" if scheme == "IOB2" else f"B-{label} or S-{label}"
            out.append(Repair(i, f"{tags[i]} after {before}, which continues no entity (read as its start)",
                              f"{starts} to start an entity in {scheme}", f"{tags[i]} after {before}"))
        elif scheme == "IOBES" and prefix in "BI" and not (i + 1 < n and parts[i + 1][1] == label
                                                           and parts[i + 1][0] in "IE"):
            after = tags[i + 1] if i + 1 < n else "the end of the sentence"
            out.append(Repair(i, f"{tags[i]} before {after}, which leaves its entity open (read as its end)",
                              f"I-{label} or E-{label} next in IOBES", f"{tags[i]} before {after}"))
    return out


def detect_scheme(sequences: Iterable[Sequence[str]]) -> str:
    """Return the scheme that the tag sequences (one per sentence) are written in.

    IOBES when a tag starts with ``S-``, ``E-``, ``U-`` or ``L-``; IO when some start with ``I-`` and none
    with ``B-``; IOB1 when some entity starts with ``I-`` and every ``B-X`` directly follows an ``I-X`` or
    ``B-X``; IOB2 otherwise (also when there is no entity tag).
    """
    has_b = has_i = starts_with_i = b_opens = False
    for tags in sequences:
        previous = O
        for tag in tags:
            head = tag[:2]
            if head in ("S-", "E-", "U-", "L-"):
                return "IOBES"
            same = previous[2:] == tag[2:] and previous[:2] in ("B-", "I-")
            if head == "B-":
                has_b = True
                b_opens = b_opens or not same
            elif head == "I-":
                has_i = True
                starts_with_i = starts_with_i or not same
            previous = tag
    if not has_b:
        return "IO" if has_i else "IOB2"
    return "IOB1" if starts_with_i and not b_opens else "IOB2"


def spans_to_tags(n: int, spans: Sequence[tuple[int, int, str]], scheme: str = "IOB2",
                  fill: str = O) -> list[str]:
    """Encode non-overlapping token-range spans as ``n`` tags; tokens outside every span get ``fill``."""
    tags = [fill] * n
    for i, j, label in spans:
        if scheme == "IO":
            tags[i:j] = [f"I-{label}"] * (j - i)
        elif scheme == "IOBES" and j - i == 1:
            tags[i] = f"S-{label}"
        else:
            tags[i:j] = [f"I-{label}"] * (j - i)
            first_is_b = scheme in ("IOB2", "IOBES") or (i > 0 and tags[i - 1] in (f"I-{label}", f"B-{label}"))
            if first_is_b:
                tags[i] = f"B-{label}"
            if scheme == "IOBES":
                tags[j - 1] = f"E-{label}"
    return tags
