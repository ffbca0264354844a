"""What every reader checks at its boundary and every writer before it writes: Unicode, spans and meta.

A document built from Python, or read from JSON, can hold what no file can: a lone surrogate (``"\\ud800"``,
which ``json.loads`` accepts but UTF-8 cannot encode), a label with a tab or a line break, or a ``meta`` key
that a reader or writer reads (``title_length``, ``breaks``, ...) with the wrong structure. These checks turn
each into a :class:`~distant.errors.DistantError` that says where, what was found and what was expected.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from typing import Any

from distant.docs import Document, label_problem
from distant.errors import DistantError


def show(value: Any, limit: int = 40) -> str:
    """Return a short printable rendering of a value for a message (JSON when it is JSON)."""
    try:
        text = json.dumps(value, ensure_ascii=False)
        text.encode("utf-8")
    except (TypeError, ValueError, RecursionError):  # not JSON, a lone surrogate, too deep
        text = ascii(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _lone_surrogate(text: str) -> int | None:
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        return e.start
    return None


def find_lone_surrogate(value: Any, where: str = "") -> tuple[str, str] | None:
    """Return ``(where, character)`` for a lone surrogate in a string, list or dict (keys too), or ``None``.

    ``where`` is a path like ``meta.k[0]`` below the given one (``a key of meta`` for a key).
    """
    stack = [(where, value)]
    while stack:  # not recursive: a value read from JSON may be nested deeply
        where, value = stack.pop()
        if isinstance(value, str):
            k = _lone_surrogate(value)
            if k is not None:
                return where, value[k]
        elif isinstance(value, dict):
            for key, item in value.items():
                k = _lone_surrogate(key) if isinstance(key, str) else None
                if k is not None:
                    return f"a key of {where or 'the object'}", key[k]
                stack.append((f"{where}.{key}" if where else str(key), item))
        elif isinstance(value, (list, tuple)):
            stack.extend((f"{where}[{k}]", item) for k, item in enumerate(value))
    return None


def surrogate_message(where: str, char: str) -> str:
    return (f"found a lone surrogate {ascii(char)} in {where}, expected valid Unicode (a surrogate pair, or "
            "another character: UTF-8 cannot encode a lone surrogate)")


def parse_json(text: str, expected: str, name: str, line: int | None = None) -> Any:
    """Parse one JSON value: invalid, too deep or unconvertible JSON and lone surrogates are one-line errors.

    Args:
        expected: What the file should hold, for the message.
        name: The file, for the message.
        line: The line ``text`` is (JSON Lines); ``None``: ``text`` is the whole file, and an error names the
            line the parser stopped at.
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise DistantError(f"found invalid JSON ({e.msg} at column {e.colno}), expected {expected}", name,
                           e.lineno if line is None else line) from None
    except (RecursionError, ValueError) as e:  # nested too deeply; an integer of more digits than Python converts
        raise DistantError(f"found unreadable JSON ({type(e).__name__}), expected {expected}", name, line) from None
    found = find_lone_surrogate(value)
    if found:
        raise DistantError(surrogate_message(*found), name, line)
    return value


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _strings(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)


def _mention_columns(value: Any, text: str) -> bool:
    return isinstance(value, dict) and all(
        isinstance(rows, (list, tuple)) and all(
            isinstance(row, (list, tuple)) and len(row) == 4 and _whole(row[0]) and _whole(row[1])
            and isinstance(row[2], str) and _strings(row[3]) for row in rows)
        for rows in value.values())


def _columns(value: Any, text: str) -> bool:
    return isinstance(value, (list, tuple)) and all(
        isinstance(row, (list, tuple)) and all(isinstance(v, (str, int, float)) and not isinstance(v, bool)
                                                for v in row) for row in value)


def _infons(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())


def _bioc(value: Any, text: str) -> bool:
    """``meta["bioc"]``: what a BioC reader keeps for its writer (see :mod:`distant.formats.bioc_format`)."""
    if not isinstance(value, dict):
        return False
    collection = value.get("collection", {})
    ok = isinstance(collection, dict) and all(isinstance(collection.get(k, ""), str) for k in ("source", "date", "key"))
    ok = ok and _infons(collection.get("infons", {})) and _infons(value.get("infons", {}))
    passages = value.get("passages", [])
    ok = ok and isinstance(passages, list) and all(
        isinstance(p, (list, tuple)) and len(p) == 3 and _whole(p[0]) and _whole(p[1]) and p[0] >= 0 and p[1] >= 0
        and _infons(p[2]) for p in passages)
    annotations = value.get("annotations", {})
    ok = ok and isinstance(annotations, dict) and all(
        isinstance(rows, list) and all(isinstance(r, (list, tuple)) and len(r) == 5 and _whole(r[0]) and _whole(r[1])
                                       and isinstance(r[2], str) and isinstance(r[3], str) and _infons(r[4])
                                       for r in rows) for rows in annotations.values())
    discontinuous = value.get("discontinuous", [])
    ok = ok and isinstance(discontinuous, list) and all(
        isinstance(a, dict) and isinstance(a.get("id", ""), str) and _infons(a.get("infons", {}))
        and isinstance(a.get("text", ""), str) and isinstance(a.get("locations", []), list)
        and all(isinstance(loc, (list, tuple)) and len(loc) == 2 and _whole(loc[0]) and _whole(loc[1])
                for loc in a.get("locations", [])) for a in discontinuous)
    relations = value.get("relations", [])
    return ok and isinstance(relations, list) and all(
        isinstance(r, dict) and isinstance(r.get("id", ""), str) and _infons(r.get("infons", {}))
        and isinstance(r.get("nodes", []), list)
        and all(isinstance(n, (list, tuple)) and len(n) == 2 and _strings(n) for n in r.get("nodes", []))
        for r in relations)


def _brat(value: Any, text: str) -> bool:
    """``meta["brat"]``: T ids by layer and the other ``.ann`` lines (see :mod:`distant.formats.brat`)."""
    if not isinstance(value, dict):
        return False
    ids, lines = value.get("ids", {}), value.get("lines", [])
    return isinstance(ids, dict) and all(
        isinstance(rows, list) and all(isinstance(r, (list, tuple)) and len(r) == 4 and _whole(r[0]) and _whole(r[1])
                                       and _strings(r[2:]) and r[3][:1] == "T" and "\t" not in r[3]
                                       and not any(c.isspace() for c in r[3]) for r in rows)
        for rows in ids.values()) and _strings(lines) and all(
        line[:1] in "TREAMN#*" and "\t" in line and "\n" not in line and "\r" not in line for line in lines)


# The meta keys that a reader, a writer or the tokenizer reads: (check(value, text), what is expected).
META: dict[str, tuple[Callable[[Any, str], bool], str]] = {
    "title_length": (lambda v, text: _whole(v) and 0 <= v <= len(text),
                     "a whole number from 0 to the length of the text (PubTator title length)"),
    "breaks": (lambda v, text: isinstance(v, (list, tuple)) and all(_whole(b) and 0 <= b <= len(text) for b in v),
               "a list of character offsets into the text (sentence breaks)"),
    "abstract_line": (lambda v, text: isinstance(v, bool),
                      "true or false (PubTator: whether there is an abstract line)"),
    "relations": (lambda v, text: isinstance(v, (list, tuple)) and all(_strings(r) and r for r in v),
                  "a list of relation rows, each a non-empty list of strings"),
    "mention_columns": (_mention_columns, "an object {layer: [[start, end, type, [column, ...]], ...]}"),
    "columns": (_columns, "a list of column lists (one per token) of strings or numbers"),
    "bioc": (_bioc, ("an object with the BioC collection, infons, passages [[offset, length, infons]], "
                     "annotations, discontinuous annotations and relations as a BioC reader writes them")),
    "brat": (_brat, "an object {\"ids\": {layer: [[start, end, type, T id]]}, \"lines\": [.ann line, ...]}"),
}


def meta_problem(meta: dict, text: str) -> tuple[str, str] | None:
    """Return ``(key, "found ..., expected ...")`` for the first meta key read by this package that is malformed."""
    for key, (check, expected) in META.items():
        if key in meta and not check(meta[key], text):
            return key, f"found meta.{key} = {show(meta[key])}, expected {expected}"
    return None


def span_problem(span: Any, length: int) -> str | None:
    """Return what is wrong with a span of a text of ``length`` characters, or ``None``."""
    label = getattr(span, "label", None)
    problem = label_problem(label)
    if problem:
        return problem
    if not (_whole(span.start) and _whole(span.end) and 0 <= span.start < span.end <= length):
        return f"found a span at {span.start!r}-{span.end!r} ({label}), expected 0 <= start < end <= {length}"
    if not isinstance(span.source, str) or not (span.kb_id is None or isinstance(span.kb_id, str)):
        return f"found span {span.start}-{span.end} ({label}) with a source or kb_id that is not a string"
    if span.score is not None and (not isinstance(span.score, (int, float)) or isinstance(span.score, bool)
                                   or not math.isfinite(span.score)):
        return f"found span {span.start}-{span.end} ({label}) with score {span.score!r}, expected a finite number"
    return None


def check_document(doc: Document, path: str | os.PathLike) -> None:
    """Raise :class:`DistantError` naming ``doc`` (and the output ``path``) unless every format can hold it.

    Checked: id and text are strings without lone surrogates, every span of every layer is inside the text
    with a valid label, and the meta keys this package reads have their structure.
    """
    if not isinstance(doc.id, str) or not isinstance(doc.text, str):
        raise DistantError(f"document {doc.id!r}: found an id or text that is not a string, expected strings", path)
    for where, value in (("its id", doc.id), ("its text", doc.text)):
        k = _lone_surrogate(value)
        if k is not None:
            raise DistantError(f"document {ascii(doc.id)}: {surrogate_message(where, value[k])}", path)
    n = len(doc.text)
    for name, spans in doc.layers.items():
        for span in spans:  # the common case in one cheap test; the message says what is wrong
            start, end, score = span.start, span.end, span.score
            if not (type(start) is int and type(end) is int and 0 <= start < end <= n
                    and (score is None or type(score) is float and math.isfinite(score))):
                problem = span_problem(span, n)
                if problem:
                    raise DistantError(f"document {doc.id}: layer {name!r}: {problem}", path)
        strings = {name} | {x for s in spans for x in (s.label, s.source, s.kb_id) if x is not None}
        for label in {s.label for s in spans}:
            problem = label_problem(label)
            if problem:
                raise DistantError(f"document {doc.id}: layer {name!r}: {problem}", path)
        found = find_lone_surrogate(sorted(x for x in strings if isinstance(x, str)), f"layer {name!r}")
        bad = [x for x in strings if not isinstance(x, str)]
        if bad or found:
            problem = next((p for p in (span_problem(s, n) for s in spans) if p),
                           f"found a layer name {name!r} that is not a string") if bad else \
                surrogate_message(found[0], found[1])
            raise DistantError(f"document {doc.id}: {problem}", path)
    if not isinstance(doc.meta, dict):
        raise DistantError(f"document {doc.id}: found meta = {show(doc.meta)}, expected a dict", path)
    found = find_lone_surrogate(doc.meta, "meta")
    if found:
        raise DistantError(f"document {doc.id}: {surrogate_message(*found)}", path)
    problem = meta_problem(doc.meta, doc.text)
    if problem:
        raise DistantError(f"document {doc.id}: {problem[1]}", path)
