"""JSON Lines: one document per line, with every span layer. The lossless format between stages.

::

    {"id": "8701013", "text": "Famotidine-associated delirium.",
     "tokens": [[0, 10], [10, 11], ...], "sentences": [[0, 5]],
     "spans": {"gold": [{"start": 0, "end": 10, "label": "Chemical", "source": "gold", "kb_id": "D015738"}]},
     "meta": {"title_length": 31}}

``tokens``, ``sentences`` and ``meta`` are optional; so are a span's ``source``, ``kb_id`` and ``score``.
Everything is checked at reading: a lone surrogate (``"\\ud800"``, valid JSON but not Unicode), a label no
format can write, and the structure of the meta keys that other formats read (``title_length``, ``breaks``,
``relations``, ``mention_columns``, ``columns``, ...) are errors naming the line.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from distant.atomic import atomic_open
from distant.docs import GOLD, PRED, Document, Span, label_problem
from distant.errors import DistantError
from distant.formats.lines import Quirks, iter_lines, source_name
from distant.formats.validate import find_lone_surrogate, meta_problem, show, surrogate_message

EXPECTED = "a JSON Lines file (one JSON object per line with \"id\" and \"text\")"
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def read(path: Path, *, layer: str = GOLD, scheme: str | None = None, strict: bool = False) -> Iterator[Document]:
    """Yield the documents of ``path`` as they are read, with all their layers (``layer``, ``scheme``: unused).

    Args:
        path: The file, or ``-`` for standard input.
        layer: Unused.
        scheme: Unused.
        strict: Refuse the line-ending quirks of :func:`~distant.formats.lines.iter_lines`.

    Raises:
        DistantError: a line that is not a JSON object (or is nested too deeply), a field of the wrong type, a
            lone surrogate, an invalid label, offsets outside the text, a malformed meta key, or any error of
            :func:`~distant.formats.lines.iter_lines`.
    """
    path = Path(path)
    name = source_name(path)
    with Quirks(path, strict=strict) as quirks:
        for number, line in iter_lines(path, EXPECTED, quirks):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise DistantError(f"found invalid JSON ({e.msg} at column {e.colno}), expected one JSON object "
                                   "per line", name, number) from None
            except RecursionError:
                raise DistantError("found JSON nested too deeply to read, expected one JSON document per line",
                                   name, number) from None
            except ValueError as e:  # an integer of more digits than Python converts
                raise DistantError(f"found an unreadable JSON value ({e}), expected one JSON object per line",
                                   name, number) from None
            try:
                if _SURROGATE_ESCAPE.search(line):
                    found = find_lone_surrogate(obj)
                    if found:
                        raise FieldError(surrogate_message(*found))
                doc = from_json(obj)
            except FieldError as e:
                raise DistantError(str(e), name, number) from None
            yield doc


class FieldError(ValueError):
    """A field with the wrong type or value (the reader adds file and line)."""


def _expect(value: Any, kind: type | tuple[type, ...], where: str, expected: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, kind):  # JSON true/false are never a valid value here
        raise FieldError(f"found {where} = {show(value)}, expected {expected}")
    return value


def _offsets(value: Any, where: str, limit: int, what: str) -> tuple[int, int]:
    """Check a ``[a, b]`` pair with ``0 <= a < b <= limit`` (``a <= b`` for sentences)."""
    pair = _expect(value, list, where, f"a pair [start, end] of {what}")
    if len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair):
        raise FieldError(f"found {where} = {show(value)}, expected a pair [start, end] of {what}")
    a, b = pair
    if not 0 <= a < b <= limit:
        raise FieldError(f"found {where} = {show(value)}, expected 0 <= start < end <= {limit}")
    return a, b


def from_json(obj: Any) -> Document:
    """Return the document of a JSON object (what one line holds); the inverse of :func:`to_json`.

    Raises:
        FieldError: a field with the wrong type or value (the caller adds the file and line).
    """
    _expect(obj, dict, "the line", "a JSON object")
    unknown = set(obj) - {"id", "text", "tokens", "sentences", "spans", "meta"}
    if unknown:
        raise FieldError(f"found key {sorted(unknown)[0]!r}, expected only id, text, tokens, sentences, spans, meta")
    if "id" not in obj or "text" not in obj:
        raise FieldError(f"found no {'id' if 'id' not in obj else 'text'!r} key, expected \"id\" and \"text\"")
    doc_id = _expect(obj["id"], str, "id", "a string")
    text = _expect(obj["text"], str, "text", "a string")
    meta = _expect(obj.get("meta", {}), dict, "meta", "an object")
    problem = meta_problem(meta, text)
    if problem:
        raise FieldError(problem[1])
    doc = Document(doc_id, text, meta=meta)
    if "tokens" in obj:
        tokens = [_offsets(t, f"tokens[{k}]", len(text), "character offsets")
                  for k, t in enumerate(_expect(obj["tokens"], list, "tokens", "a list of [start, end]"))]
        for k in range(1, len(tokens)):
            if tokens[k][0] < tokens[k - 1][1]:
                raise FieldError(f"found tokens[{k}] = {list(tokens[k])} starting before the end of the token "
                                  "before it, expected tokens in order, not overlapping")
        sentences = None
        if "sentences" in obj:
            raw = _expect(obj["sentences"], list, "sentences", "a list of [first_token, last_token + 1]")
            sentences = [_offsets(s, f"sentences[{k}]", len(tokens), "token indices") for k, s in enumerate(raw)]
            covered = [i for a, b in sentences for i in range(a, b)]
            if covered != list(range(len(tokens))):
                raise FieldError(f"found sentences that do not cover the {len(tokens)} tokens once each in order, "
                                  "expected consecutive token ranges from 0")
        doc.set_tokens(tokens, sentences)
    elif "sentences" in obj:
        raise FieldError("found sentences without tokens, expected tokens too (sentences are token ranges)")
    layers = _expect(obj.get("spans", {}), dict, "spans", "an object {layer: [span, ...]}")
    for name, spans in layers.items():
        where = f"spans.{name}"
        items = _expect(spans, list, where, "a list of spans")
        doc.layers[name] = sorted((_span(s, f"{where}[{k}]", len(text)) for k, s in enumerate(items)),
                                  key=Span.key)
    return doc


def _span(obj: Any, where: str, limit: int) -> Span:
    _expect(obj, dict, where, "an object with start, end and label")
    for key in ("start", "end", "label"):
        if key not in obj:
            raise FieldError(f"found no {key!r} in {where}, expected start, end and label")
    unknown = set(obj) - {"start", "end", "label", "source", "kb_id", "score"}
    if unknown:
        raise FieldError(f"found key {sorted(unknown)[0]!r} in {where}, expected only start, end, label, source, "
                          "kb_id, score")
    start, end = _offsets([obj["start"], obj["end"]], f"{where}.start/end", limit, "character offsets")
    label = _expect(obj["label"], str, f"{where}.label", "a string")
    problem = label_problem(label)
    if problem:
        raise FieldError(f"{where}.label: {problem}")
    source = _expect(obj.get("source", ""), str, f"{where}.source", "a string")
    kb_id = _expect(obj.get("kb_id"), (str, type(None)), f"{where}.kb_id", "a string or null")
    score = _expect(obj.get("score"), (int, float, type(None)), f"{where}.score", "a number or null")
    if score is not None and not math.isfinite(score):
        raise FieldError(f"found {where}.score = {score}, expected a finite number")
    return Span(start, end, label, source, kb_id, None if score is None else float(score))


def write(docs: Iterable[Document], path: Path, *, layer: str = PRED, scheme: str = "IOB2") -> None:
    """Write documents with all their layers (``layer``, ``scheme``: unused).

    Raises:
        DistantError: a document whose ``meta`` cannot be written as JSON.
    """
    path = Path(path)
    with atomic_open(path, "wb") as f:
        for doc in docs:
            f.write(dump_line(doc, path))


def dump_line(doc: Document, path: Path | str = "-") -> bytes:
    """Return the UTF-8 line (newline included) that holds ``doc``.

    orjson writes it; a document orjson refuses (an integer beyond 64 bits, a non-string meta key) goes through
    :func:`json.dumps`, which writes the same JSON value. Either way a NaN or an infinity is an error, not
    ``null``.

    Raises:
        DistantError: a document whose ``meta`` cannot be written as JSON, or a score that is not finite.
    """
    obj = to_json(doc, tuples=True)
    try:
        if not _finite(obj.get("meta")):  # span scores: _span_json
            raise ValueError("Out of range float values are not JSON compliant")
        try:
            return orjson.dumps(obj, option=orjson.OPT_APPEND_NEWLINE)
        except orjson.JSONEncodeError:
            line = json.dumps(obj, ensure_ascii=False, allow_nan=False)
            return line.encode("utf-8") + b"\n"
    except (TypeError, ValueError, RecursionError) as e:
        raise DistantError(f"document {doc.id}: cannot write as JSON ({e}); expected JSON values in meta "
                           "and finite scores", path) from None


def _finite(value: Any, depth: int = 0) -> bool:
    """Return whether ``value`` holds no NaN or infinity (orjson would write them as ``null``)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if depth > 200:
        raise RecursionError("maximum recursion depth exceeded while checking the values")
    if isinstance(value, dict):
        return all(_finite(v, depth + 1) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(_finite(v, depth + 1) for v in value)
    return True


def to_json(doc: Document, *, tuples: bool = False) -> dict[str, Any]:
    """Return the JSON object of a document (what one line of the file holds).

    Args:
        doc: The document.
        tuples: Give the token and sentence offsets as the document's own ``(start, end)`` tuples (the same
            JSON), not as new lists.
    """
    obj: dict[str, Any] = {"id": doc.id, "text": doc.text}
    if doc.tokens is not None:
        if tuples:
            obj["tokens"] = doc.tokens
            obj["sentences"] = doc.sentences or []
        else:
            obj["tokens"] = [[s, e] for s, e in doc.tokens]
            obj["sentences"] = [[a, b] for a, b in doc.sentences or []]
    obj["spans"] = {name: [_span_json(s) for s in spans] for name, spans in doc.layers.items()}
    if doc.meta:
        obj["meta"] = doc.meta
    return obj


def _span_json(span: Span) -> dict[str, Any]:
    obj: dict[str, Any] = {"start": span.start, "end": span.end, "label": span.label}
    if span.source:
        obj["source"] = span.source
    if span.kb_id is not None:
        obj["kb_id"] = span.kb_id
    if span.score is not None:
        if not math.isfinite(span.score):
            raise ValueError(f"found span {span.start}-{span.end} with score {span.score}")
        obj["score"] = span.score
    return obj
