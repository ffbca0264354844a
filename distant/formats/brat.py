"""brat standoff: a ``.txt`` text and a ``.ann`` annotation file per document, usually a folder of such pairs.

::

    T1<TAB>Chemical 0 10<TAB>Famotidine
    T2<TAB>Disease 22 30<TAB>delirium
    N1<TAB>Reference T1 MESH:D015738
    R1<TAB>CID Arg1:T1 Arg2:T2

A document's id is the file stem, its text the ``.txt`` file exactly as it is (offsets count its characters,
line breaks and a byte order mark included: brat reads it so). Each text-bound annotation (``T`` line) with
one fragment is a span of the layer; a ``Reference`` normalization (``N`` line) of it gives its kb_id.
Everything else, and ``T`` lines with several fragments (``T3<TAB>Disease 0 5;9 15``: discontinuous, counted
in one warning per file), is kept verbatim in ``doc.meta["brat"]["lines"]`` and written back after the
spans; the ``T`` ids are kept in ``doc.meta["brat"]["ids"]`` so that relations and events still point at
them. A ``.txt`` without its ``.ann`` is a document without spans.

The parser is written here rather than taken from ``bioc.brat``: that decoder checks lines with ``assert``
(gone under ``python -O``), strips the text column and names no line, which this project's errors must do.

Writing: a folder (a name without suffix, or an existing folder) with ``ID.txt`` and ``ID.ann`` per
document, or one ``.ann`` path for a single document (its ``.txt`` beside it). A label with whitespace
cannot be a brat type (refused); spans labeled ``O`` are not annotations; spans labeled ``-`` and scores
(brat has no place for them) are counted in a warning. A line break inside a span is written as a space in
the text column (brat does the same) and read back as the text at the offsets.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from distant.atomic import is_stdio, write_text
from distant.docs import GOLD, PRED, UNKNOWN, Document, O, Span, label_problem
from distant.errors import DistantError
from distant.formats.lines import (
    Quirks,
    check_file,
    iter_lines,
    read_bytes,
    source_name,
)

log = logging.getLogger(__name__)

EXPECTED_ANN = "a brat .ann file (T, R, E, A, M, N, # or * lines)"
EXPECTED_FOLDER = "a folder of brat .txt and .ann pairs"
_T_LINE = re.compile(r"^(T\S*)\t(\S+) ([0-9]+ [0-9]+(?:;[0-9]+ [0-9]+)*)\t(.*)$", re.DOTALL)
_N_LINE = re.compile(r"^(N[^\t]*)\tReference (T\S*) (\S+)(?:\t.*)?$", re.DOTALL)
_KINDS = "TREAMN#*"
_UNSAFE_ID = set('/\\:*?"<>|\0')


def is_brat_folder(path: Path) -> bool:
    """Whether ``path`` is a folder holding at least one ``.ann`` file."""
    return path.is_dir() and any(p.suffix == ".ann" and p.is_file() for p in path.iterdir())


def read(path: Path, *, layer: str = GOLD, scheme: str | None = None, strict: bool = False) -> Iterator[Document]:
    """Yield the documents of a folder of ``.txt``/``.ann`` pairs (in name order), or of one ``.ann`` or ``.txt``.

    Raises:
        DistantError: a missing ``.txt``, a malformed ``.ann`` line (naming the file and line), offsets outside
            the text, a label no format can write, a repeated ``T`` id.
    """
    path = Path(path)
    if is_stdio(path):
        raise DistantError("brat standoff is a .txt and a .ann file per document; expected a folder or a .ann file, "
                           "not standard input")
    if path.is_dir():
        stems = sorted({p.stem for p in path.iterdir() if p.is_file() and p.suffix in (".ann", ".txt")
                        and not p.name.startswith(".")})
        if not stems:
            raise DistantError(f"empty input: found no .ann or .txt file, expected {EXPECTED_FOLDER}", path)
        for stem in stems:
            yield _read_pair(path / f"{stem}.txt", path / f"{stem}.ann", layer, strict)
        return
    if path.suffix == ".txt":
        yield _read_pair(path, path.with_suffix(".ann"), layer, strict)
    else:
        yield _read_pair(path.with_suffix(".txt"), path, layer, strict)


def _read_pair(txt: Path, ann: Path, layer: str, strict: bool) -> Document:
    if not txt.is_file():
        check_file(ann, EXPECTED_ANN)
        if not ann.read_bytes().strip():
            raise DistantError(f"empty input: expected {EXPECTED_ANN} with its .txt beside it", ann)
        raise DistantError(f"found no text file {txt.name} beside the annotations, expected a .txt for every .ann",
                           ann)
    data = read_bytes(txt, "a UTF-8 text file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DistantError(f"found byte 0x{data[e.start]:02x} that is not valid UTF-8; expected UTF-8 text", txt,
                           data.count(b"\n", 0, e.start) + 1) from None
    doc = Document(txt.stem, text)
    spans: list[Span] = []
    ids: list[list] = []
    kept: list[str] = []
    seen: dict[str, int] = {}  # T id -> index in spans
    references: list[tuple[int, str, str, str]] = []  # (line, N line, T id, kb_id)
    if ann.is_file() and ann.stat().st_size:
        name = source_name(ann)
        with Quirks(ann, strict=strict) as quirks:
            try:
                lines = list(iter_lines(ann, EXPECTED_ANN, quirks))
            except DistantError as e:
                if not e.message.startswith("empty input"):
                    raise
                lines = []  # an .ann of blank lines: no annotations
            for number, line in lines:
                if not line.strip():
                    continue
                if line[0] not in _KINDS or "\t" not in line:
                    raise DistantError(f"found {_clip(line)!r}, expected {EXPECTED_ANN}", name, number)
                if line[0] == "N":
                    match = _N_LINE.match(line)
                    if match:
                        references.append((number, line, match.group(2), match.group(3)))
                        continue
                if line[0] != "T":
                    kept.append(line)
                    continue
                match = _T_LINE.match(line)
                if not match:
                    raise DistantError(f"found {_clip(line)!r}, expected a text-bound annotation "
                                       "ID<TAB>TYPE START END[;START END]...<TAB>TEXT", name, number)
                tid, label, fragments, column = match.groups()
                if tid in seen or any(k.split("\t", 1)[0] == tid for k in kept if k.startswith("T")):
                    raise DistantError(f"found the id {tid} a second time, expected unique annotation ids", name,
                                       number)
                problem = label_problem(label)
                if problem:
                    raise DistantError(f"type: {problem}", name, number)
                pairs = [tuple(int(v) for v in f.split(" ")) for f in fragments.split(";")]
                for start, end in pairs:
                    if not 0 <= start < end <= len(text):
                        raise DistantError(f"found offsets {start} {end}, expected 0 <= start < end <= {len(text)} "
                                           f"(the length of {txt.name})", name, number)
                if len(pairs) > 1:
                    quirks.note("discontinuous annotations (kept in meta, not as spans)", number,
                                found=f"annotation {tid} with {len(pairs)} fragments",
                                expected="one fragment per text-bound annotation")
                    kept.append(line)
                    continue
                start, end = pairs[0]
                if _flat(text[start:end]) != _flat(column):
                    quirks.note("annotation texts that differ from the text at their offsets (kept as the offsets "
                                "say)", number, found=f"the text column {_clip(column)!r} where {txt.name} at "
                                f"{start}-{end} is {_clip(text[start:end])!r}",
                                expected="the text column to equal the text at its offsets")
                seen[tid] = len(spans)
                spans.append(Span(start, end, label, layer))
                ids.append([start, end, label, tid])
            for number, line, tid, kb_id in references:
                k = seen.get(tid)
                if k is None or spans[k].kb_id is not None:
                    kept.append(line)  # a reference to a relation, an event or a discontinuous entity, or a second one
                else:
                    spans[k] = spans[k].with_(kb_id=kb_id)
    doc.layers[layer] = sorted(spans, key=Span.key)
    if ids or kept:
        doc.meta["brat"] = {"ids": {layer: ids}, "lines": kept}
    return doc


def _flat(text: str) -> str:
    return text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def writes_folder(path: Path) -> bool:
    """Whether writing ``path`` writes a folder of pairs: anything but a name ending in ``.ann``."""
    return path.suffix != ".ann"


def write(docs: Iterable[Document], path: Path, *, layer: str = PRED, scheme: str = "IOB2") -> None:
    """Write ``ID.txt`` and ``ID.ann`` per document into the folder ``path``, or one pair for a ``.ann`` path.

    Raises:
        DistantError: an id that is not a safe file name or repeats, a label with whitespace, a kb_id with
            whitespace, more than one document for a ``.ann`` path, or standard output.
    """
    path = Path(path)
    if is_stdio(path):
        raise DistantError("brat standoff is a .txt and a .ann file per document; expected a folder or a .ann "
                           "path, not standard output")
    counts = {"unknown": 0, "scores": 0}
    seen: set[str] = set()
    single = not writes_folder(path)
    for doc in docs:
        if single:
            if seen:
                raise DistantError("found a second document for one .ann file, expected one document (write a folder "
                                   "of pairs instead: a name without suffix)", path)
            txt, ann = path.with_suffix(".txt"), path
            seen.add(doc.id)
        else:
            if not doc.id or doc.id.startswith(".") or _UNSAFE_ID & set(doc.id) or doc.id in seen \
                    or any(c.isspace() for c in doc.id):
                raise DistantError(f"document id {doc.id!r} is empty, repeated or not a safe file name; expected "
                                   "unique ids without whitespace or / \\ : * ? \" < > |", path)
            seen.add(doc.id)
            path.mkdir(parents=True, exist_ok=True)
            txt, ann = path / f"{doc.id}.txt", path / f"{doc.id}.ann"
        body = _ann(doc, layer, path, counts)
        write_text(txt, doc.text)
        write_text(ann, body)
    if counts["unknown"]:
        log.warning("%s: %d spans labeled %r (unknown) in layer %r not written: brat holds entities only "
                    "(write jsonl, conll or docbin to keep them)", source_name(path), counts["unknown"], UNKNOWN,
                    layer)
    if counts["scores"]:
        log.warning("%s: the scores of %d spans in layer %r not written: brat has no place for them (write jsonl "
                    "or docbin to keep them)", source_name(path), counts["scores"], layer)


def _ann(doc: Document, layer: str, path: Path, counts: dict[str, int]) -> str:
    keep: dict[str, Any] = doc.meta.get("brat", {})
    kept = list(keep.get("lines", []))
    taken_ids = {line.split("\t", 1)[0] for line in kept}
    known: dict[tuple, list[str]] = {}  # span key -> T ids in the order read (equal spans keep theirs)
    for s, e, label, tid in keep.get("ids", {}).get(layer, []):
        known.setdefault((s, e, label), []).append(tid)
    known_ids = {tid for tids in known.values() for tid in tids}
    lines, refs = [], []
    used: set[str] = set()
    t, n = 1, 1
    for span in doc.spans(layer):
        if span.label == UNKNOWN:
            counts["unknown"] += 1
            continue
        if span.label == O:
            continue
        if any(c.isspace() for c in span.label):
            raise DistantError(f"document {doc.id}: found label {span.label!r} with whitespace, expected a brat type "
                               "without spaces", path)
        tids = known.get(span.key())
        tid = tids.pop(0) if tids else None
        if tid is None or tid in used or tid in taken_ids:
            while f"T{t}" in taken_ids or f"T{t}" in used or f"T{t}" in known_ids:
                t += 1
            tid = f"T{t}"
        used.add(tid)
        lines.append(f"{tid}\t{span.label} {span.start} {span.end}\t{_flat(doc.text[span.start:span.end])}")
        if span.kb_id is not None:
            if not span.kb_id or any(c.isspace() for c in span.kb_id):
                raise DistantError(f"document {doc.id}: found kb_id {span.kb_id!r}, expected an identifier without "
                                   "whitespace (a brat normalization)", path)
            while f"N{n}" in taken_ids:
                n += 1
            refs.append(f"N{n}\tReference {tid} {span.kb_id}")
            n += 1
        if span.score is not None:
            counts["scores"] += 1
    return "".join(line + "\n" for line in lines + refs + kept)
