"""What the annotation tools export, read: Prodigy JSONL, doccano JSONL, Label Studio JSON (read only).

::

    prodigy      {"text": "Aspirin cures fever.", "spans": [{"start": 0, "end": 7, "label": "Chemical"}],
                  "meta": {"id": "p1"}, "answer": "accept"}
    doccano      {"id": 1, "text": "Aspirin cures fever.", "label": [[0, 7, "Chemical"]]}
                 (``labels`` too, and the newer ``entities`` [{"start_offset", "end_offset", "label"}])
    labelstudio  [{"id": 1, "data": {"text": "..."}, "annotations": [{"result": [{"type": "labels",
                  "value": {"start": 0, "end": 7, "labels": ["Chemical"]}}]}], "predictions": [...]}]

Ids: Prodigy's ``meta.id`` (else ``FILE:LINE``), doccano's and Label Studio's ``id``. The spans go to the
layer; Label Studio's predictions go to ``pred`` with their scores. Prodigy examples answered ``reject`` or
``ignore``, and Label Studio annotations cancelled or beyond the first of a task, are not read as spans:
counted in one warning per file, and so are Label Studio results that are not text spans (choices,
relations). A span with several labels is one span per label. Everything else
is an error naming the file and line (the task, for Label Studio's one JSON array).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from distant.docs import GOLD, PRED, Document, Span, label_problem
from distant.errors import DistantError
from distant.formats.lines import (
    Quirks,
    iter_lines,
    read_text,
    source_name,
    source_stem,
)
from distant.formats.validate import parse_json, show

log = logging.getLogger(__name__)

EXPECTED_PRODIGY = "Prodigy JSONL (one object per line with \"text\" and \"spans\")"
EXPECTED_DOCCANO = "doccano JSONL (one object per line with \"text\" and \"label\": [[start, end, type], ...])"
EXPECTED_LABELSTUDIO = "a Label Studio JSON export (an array of tasks with \"data\" and \"annotations\")"


class _Skipped:
    """What an export holds that is not read as spans (rejected examples, cancelled annotations, choices), by kind:
    counted and reported in one warning per file, whether or not the reading is strict (they are not quirks)."""

    def __init__(self, path: Path) -> None:
        self.name = source_name(path)
        self.found: dict[str, list] = {}

    def note(self, kind: str, where: str) -> None:
        entry = self.found.setdefault(kind, [0, []])
        entry[0] += 1
        if len(entry[1]) < 3:
            entry[1].append(where)

    def report(self) -> None:
        if self.found:
            log.warning("%s: not read as spans: %s", self.name, "; ".join(
                f"{n} {kind} ({', '.join(where)}{', ...' if n > len(where) else ''})"
                for kind, (n, where) in self.found.items()))


class _Bad(ValueError):
    """A field with the wrong type or value (the reader adds file and line)."""


def _objects(path: Path, expected: str, quirks: Quirks) -> Iterator[tuple[int, dict]]:
    name = source_name(path)
    for number, line in iter_lines(path, expected, quirks):
        if not line.strip():
            continue
        obj = parse_json(line, expected, name, number)
        if not isinstance(obj, dict):
            raise DistantError(f"found {show(obj)}, expected {expected}", name, number)
        yield number, obj


def _text(obj: dict, key: str = "text") -> str:
    text = obj.get(key)
    if not isinstance(text, str):
        raise _Bad(f"found {key} = {show(text)}, expected a string")
    return text


def _span(text: str, start: Any, end: Any, label: Any, source: str, score: Any = None) -> Span:
    for value in (start, end):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Bad(f"found offsets {show(start)}, {show(end)}, expected integers")
    if not 0 <= start < end <= len(text):
        raise _Bad(f"found offsets {start}-{end}, expected 0 <= start < end <= {len(text)} (the length of the text)")
    if not isinstance(label, str):
        raise _Bad(f"found label {show(label)}, expected a string")
    problem = label_problem(label)
    if problem:
        raise _Bad(problem)
    if score is not None and (isinstance(score, bool) or not isinstance(score, (int, float))
                              or not math.isfinite(score)):
        raise _Bad(f"found score {show(score)}, expected a number")
    return Span(start, end, label, source, None, None if score is None else float(score))


def _doc_id(value: Any, fallback: str) -> str:
    if value is None:
        return fallback
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _Bad(f"found id {show(value)}, expected a string or an integer")
    return str(value)


def read_prodigy(path: Path, *, layer: str = GOLD, scheme: str | None = None, strict: bool = False
                 ) -> Iterator[Document]:
    """Yield the documents of a Prodigy JSONL export, spans in ``layer`` (``scheme``: unused)."""
    path = Path(path)
    name, stem = source_name(path), source_stem(path)
    skipped = _Skipped(path)
    with Quirks(path, strict=strict) as quirks:
        for number, obj in _objects(path, EXPECTED_PRODIGY, quirks):
            try:
                text = _text(obj)
                meta = obj.get("meta") if isinstance(obj.get("meta"), dict) else {}
                doc = Document(_doc_id(meta.get("id"), f"{stem}:{number}"), text)
                answer = obj.get("answer", "accept")
                spans = obj.get("spans", [])
                if not isinstance(spans, list) or not all(isinstance(s, dict) for s in spans):
                    raise _Bad(f"found spans = {show(spans)}, expected a list of objects with start, end, label")
                if answer != "accept":
                    if spans:
                        skipped.note("examples answered other than accept", f"line {number}: {answer}")
                    spans = []
                doc.layers[layer] = sorted((_span(text, s.get("start"), s.get("end"), s.get("label"), layer)
                                            for s in spans), key=Span.key)
            except _Bad as e:
                raise DistantError(str(e), name, number) from None
            yield doc
    skipped.report()


def read_doccano(path: Path, *, layer: str = GOLD, scheme: str | None = None, strict: bool = False
                 ) -> Iterator[Document]:
    """Yield the documents of a doccano JSONL export, spans in ``layer`` (``scheme``: unused)."""
    path = Path(path)
    name, stem = source_name(path), source_stem(path)
    with Quirks(path, strict=strict) as quirks:
        for number, obj in _objects(path, EXPECTED_DOCCANO, quirks):
            try:
                text = _text(obj)
                doc = Document(_doc_id(obj.get("id"), f"{stem}:{number}"), text)
                spans = []
                if "entities" in obj:
                    items = obj["entities"]
                    if not isinstance(items, list) or not all(isinstance(s, dict) for s in items):
                        raise _Bad(f"found entities = {show(items)}, expected a list of objects with start_offset, "
                                   "end_offset, label")
                    spans = [_span(text, s.get("start_offset"), s.get("end_offset"), s.get("label"), layer)
                             for s in items]
                else:
                    items = obj.get("label", obj.get("labels", []))
                    if not isinstance(items, list) or not all(isinstance(s, list) and len(s) == 3 for s in items):
                        raise _Bad(f"found label = {show(items)}, expected a list of [start, end, type]")
                    spans = [_span(text, s, e, label, layer) for s, e, label in items]
                doc.layers[layer] = sorted(spans, key=Span.key)
            except _Bad as e:
                raise DistantError(str(e), name, number) from None
            yield doc


def read_labelstudio(path: Path, *, layer: str = GOLD, scheme: str | None = None, strict: bool = False
                     ) -> Iterator[Document]:
    """Yield the tasks of a Label Studio JSON export: the first annotation in ``layer``, predictions in ``pred``."""
    path = Path(path)
    name = source_name(path)
    with Quirks(path, strict=strict) as quirks:
        raw = read_text(path, EXPECTED_LABELSTUDIO, quirks)
        if not raw.strip():
            raise DistantError(f"empty input: expected {EXPECTED_LABELSTUDIO}", name)
        tasks = parse_json(raw, EXPECTED_LABELSTUDIO, name)
        if isinstance(tasks, dict):
            tasks = [tasks]
        if not isinstance(tasks, list):
            raise DistantError(f"found {show(tasks)}, expected {EXPECTED_LABELSTUDIO}", name)
        skipped = _Skipped(path)
        for k, task in enumerate(tasks):
            try:
                doc = _task(task, k, layer, skipped)
            except _Bad as e:
                raise DistantError(f"task {k + 1}: {e}", name) from None
            yield doc
        skipped.report()


def _task(task: Any, k: int, layer: str, skipped: _Skipped) -> Document:
    if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
        raise _Bad(f"found {show(task)}, expected an object with \"data\": {{\"text\": ...}}")
    data = task["data"]
    key = "text" if "text" in data else next((k for k, v in data.items() if isinstance(v, str)), "text")
    text = _text(data, key)
    doc = Document(_doc_id(task.get("id"), f"task{k + 1}"), text)
    annotations = task.get("annotations", task.get("completions", []))
    if not isinstance(annotations, list) or not all(isinstance(a, dict) for a in annotations):
        raise _Bad(f"found annotations = {show(annotations)}, expected a list of objects with \"result\"")
    live = [a for a in annotations if not a.get("was_cancelled")]
    if len(live) < len(annotations) or len(live) > 1:
        skipped.note("annotations cancelled or beyond the first of a task", f"task {doc.id}")
    doc.layers[layer] = _results(live[0].get("result", []) if live else [], text, layer, skipped, doc.id)
    predictions = task.get("predictions", [])
    if not isinstance(predictions, list) or not all(isinstance(p, dict) for p in predictions):
        raise _Bad(f"found predictions = {show(predictions)}, expected a list of objects with \"result\"")
    if predictions and layer != PRED:
        doc.layers[PRED] = _results(predictions[0].get("result", []), text, PRED, skipped, doc.id,
                                    predictions[0].get("score"))
    return doc


def _results(results: Any, text: str, layer: str, skipped: _Skipped, doc_id: str, task_score: Any = None
             ) -> list[Span]:
    if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
        raise _Bad(f"found result = {show(results)}, expected a list of objects with \"value\"")
    spans = []
    for r in results:
        value = r.get("value")
        if not isinstance(value, dict) or "start" not in value:
            skipped.note("results that are not text spans (choices, ratings, relations)",
                         f"task {doc_id}: {r.get('type', 'result')}")
            continue
        labels = next((value[k] for k in ("labels", "hypertextlabels") if k in value), None)
        if not isinstance(labels, list) or not labels:
            raise _Bad(f"found value = {show(value)}, expected \"labels\": [type, ...]")
        score = r.get("score", task_score)
        spans.extend(_span(text, value.get("start"), value.get("end"), label, layer, score) for label in labels)
    return sorted(spans, key=Span.key)
