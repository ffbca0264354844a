"""Token tag sequences <-> token-range spans, in the BIO (IOB2), IOB1, IOBES and IO schemes.

Decoding follows seqeval's strict mode: in IOB2 an entity is a ``B-X`` followed by the longest run of
``I-X``; an ``I-X`` that no ``B-X`` opens is not an entity. The :data:`~distant.docs.UNKNOWN` tag decodes as
outside.
"""

from __future__ import annotations

from collections.abc import Sequence

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


def validate_tags(tags: Sequence[str], scheme: str = "IOB2") -> None:
    """Raise :class:`TagError` for the first tag that is not valid in ``scheme``."""
    for tag in tags:
        split_tag(tag, scheme)


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


def entity_types(tags: Sequence[str], scheme: str = "IOB2") -> set[str]:
    """Return the entity types used in ``tags``."""
    return {label for _, label in map(lambda t: split_tag(t, scheme), tags) if label}
