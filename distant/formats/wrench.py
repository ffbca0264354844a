"""WRENCH / CHMM weak-supervision JSON: tokens, gold spans and one list of spans per labelling function.

A split (``train.json``, ``valid.json``, ``test.json``) is one JSON object of documents by id; ``meta.json``
beside it names the labelling functions (``lf``) in the order of ``weak_labels``, and the entity types::

    {"0": {"data": {"text": ["Naloxone", "reverses", ...]},
           "label": [[0, 1, "Chemical"], ...],                  # gold: [first token, last token + 1, type]
           "weak_labels": [[[0, 1, "Chemical"], ...], [], ...]}} # one span list per labelling function

This is CHMM's span form. WRENCH's tag form is read too: ``label`` a list of IOB2 tags (one per token) and
``weak_labels`` one list of IOB2 tags per token (one per function), where a function's ``O`` means that it
did not fire (WRENCH does not tell the two apart; here it is read as abstaining, no span). A tag may also be
an integer id, which maps to a tag as WRENCH maps them: ``["O"] + [f"{bi}-{t}" for t in entity_types for bi
in "BI"]`` with ``entity_types`` from ``meta.json``.

Each document's text is its tokens joined by single spaces; the gold spans go to ``layer`` (``gold``) and
each labelling function's spans to a layer of its own, named as ``meta.json`` names it, so that the functions
can be aggregated (``distant aggregate``) or scored (``distant labelers report``) as they are. Sentences end
after a ``.``, ``?`` or ``!`` token that the next token does not continue in lower case, where no span crosses.

The writer writes the span form (the ``layer`` spans as ``label``, every other layer as a function, in the
order the documents first hold them) and ``meta.json`` beside the file, or checks the one there.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from distant.atomic import atomic_open, is_stdio, write_text
from distant.docs import GOLD, PRED, PSEUDO, UNKNOWN, Document, O, Span, is_typed
from distant.errors import DistantError
from distant.formats.lines import Quirks, read_text, source_name
from distant.formats.validate import parse_json
from distant.tags import Repair, TagError, decode_tags

log = logging.getLogger(__name__)

EXPECTED = ("a WRENCH/CHMM JSON file (an object of documents by id, each with data.text, a list of tokens, label "
            "and weak_labels) with meta.json beside it")
META = "meta.json"
_ENDS = {".", "?", "!"}


def meta_path(path: str | Path) -> Path:
    """Return where the ``meta.json`` of a split lies: beside it."""
    return Path(path).parent / META


def read_meta(path: str | Path) -> dict[str, Any]:
    """Return the ``meta.json`` beside the split ``path``, checked: ``lf`` (names), ``lf_rec``, ``entity_types``.

    Raises:
        DistantError: no meta.json, one without a list of distinct function names, or entity_types that are no
            list of distinct type names.
    """
    if is_stdio(path):
        raise DistantError("a WRENCH split read from standard input has no meta.json beside it; expected a file")
    where = meta_path(path)
    if not where.is_file():
        raise DistantError(f"found no {META} beside {Path(path).name}, expected one naming the labelling "
                           "functions (\"lf\": [...])", where)
    try:
        meta = json.loads(read_text(where, f"a {META} object"))
    except json.JSONDecodeError as e:
        raise DistantError(f"found invalid JSON ({e.msg}), expected a {META} object", where, e.lineno) from None
    lfs = meta.get("lf") if isinstance(meta, dict) else None
    if not (isinstance(lfs, list) and lfs and all(isinstance(x, str) and x for x in lfs)):
        raise DistantError("found no \"lf\" list of labelling function names, expected \"lf\": [\"name\", ...]",
                           where)
    if len(set(lfs)) != len(lfs):
        raise DistantError("found a labelling function named twice in \"lf\", expected distinct names", where)
    reserved = {GOLD, PRED, PSEUDO} & set(lfs)
    if reserved:
        raise DistantError(f"found a labelling function named {min(reserved)!r}, a layer name reserved "
                           "for other spans; expected other names", where)
    types = meta.get("entity_types", [])
    if not (isinstance(types, list) and all(isinstance(t, str) and is_typed(t) for t in types)
            and len(set(types)) == len(types)):
        raise DistantError(f"found \"entity_types\": {json.dumps(types)[:80]}, expected a list of distinct entity "
                           "types (a letter, then letters, digits, '_' or '.')", where)
    rec = meta.get("lf_rec", [])
    if not (isinstance(rec, list) and all(x in lfs for x in rec)):
        raise DistantError("found \"lf_rec\" naming functions that \"lf\" does not, expected a sublist of \"lf\"",
                           where)
    return meta


def read(path: Path, *, layer: str = GOLD, scheme: str | None = None, strict: bool = False) -> list[Document]:
    """Read a WRENCH/CHMM split: gold spans into ``layer``, each labelling function into its own layer.

    Read leniently and counted in one warning (refused when ``strict``): an ``I-X`` that continues no entity
    (read as its start, as conlleval does: IOB1-style tags), a document without tokens (read as an empty
    document), and a blank token (an empty string or only whitespace: left out, the spans over it kept
    without it, a span over blank tokens only left out).

    Raises:
        DistantError: not JSON, not an object of documents, a document without a list of token strings, a
            span outside the tokens or with a label that is no entity type, a wrong number of functions or of
            tags, an invalid tag or tag id, or a missing or malformed ``meta.json``.
    """
    name = source_name(path)
    with Quirks(path, strict=strict) as quirks:
        text = read_text(path, EXPECTED, quirks)
        if not text.strip():
            raise DistantError(f"empty input: expected {EXPECTED}", name)
        meta = read_meta(path)
        data = parse_json(text, EXPECTED, name)
        if not isinstance(data, dict):
            raise DistantError(f"found a JSON {type(data).__name__}, expected {EXPECTED}", name)
        types = meta.get("entity_types")
        ids = None if types is None else [O] + [f"{bi}-{t}" for t in types for bi in "BI"]  # as WRENCH maps them
        return [_document(str(key), value, meta["lf"], layer, name, ids, quirks) for key, value in data.items()]


def _document(key: str, value: Any, lfs: list[str], layer: str, name: str, ids: list[str] | None,
              quirks: Quirks) -> Document:
    def bad(what: str) -> DistantError:
        return DistantError(f"document {key}: {what}", name)

    def repaired(what: str, repair: Repair) -> None:
        quirks.note("tags that IOB2 does not allow where they stand (read as conlleval does)", None,
                    found=f"{repair.found} (document {key}, {what})", expected=repair.expected,
                    detail=f"document {key} {what}: {repair.short}")

    if not isinstance(value, dict):
        raise bad(f"found {type(value).__name__}, expected an object with data, label and weak_labels")
    words = value.get("data", {}).get("text") if isinstance(value.get("data"), dict) else None
    if not (isinstance(words, list) and all(isinstance(w, str) for w in words)):
        raise bad("found no data.text list of token strings, expected {\"data\": {\"text\": [...]}}")
    n = len(words)
    gold = _spans(value.get("label", []), n, "label", bad, ids, repaired)
    weak = value.get("weak_labels", [])
    if _is_tag_rows(weak):  # WRENCH tag form: one row of tags per token, one tag per function
        if len(weak) != n:
            raise bad(f"found weak_labels rows for {len(weak)} tokens, expected one row of tags for each of the "
                      f"{n} tokens")
        row = next((row for row in weak if not (isinstance(row, list) and len(row) == len(lfs))), None)
        if row is not None:
            found = f"{len(row)} tags" if isinstance(row, list) else type(row).__name__
            raise bad(f"found a weak_labels row of {found}, expected one tag for each of the {len(lfs)} functions "
                      "meta.json names")
        per_lf = [_spans(list(tags), n, f"weak_labels (function {lf!r})", bad, ids, repaired)
                  for lf, tags in zip(lfs, zip(*weak))]
    elif n == 0 and weak == []:  # no token: no row of tags
        per_lf = [[] for _ in lfs]
    else:
        if not isinstance(weak, list) or len(weak) != len(lfs):
            found = len(weak) if isinstance(weak, list) else type(weak).__name__
            raise bad(f"found weak_labels for {found} functions, expected one span list for each of the "
                      f"{len(lfs)} functions meta.json names")
        per_lf = [_spans(spans, n, f"weak_labels (function {lfs[j]!r})", bad, ids, repaired)
                  for j, spans in enumerate(weak)]
    layers = [gold, *per_lf]
    if any(not w.strip() for w in words):
        words, layers = _without_blanks(key, words, layers, quirks)
    if not words:
        quirks.note("documents without tokens (read as empty documents)", None, found=f"document {key} with no "
                    "tokens", expected="a data.text list of one or more tokens", detail=f"document {key}")
    tokens, pos = [], 0
    for w in words:
        tokens.append((pos, pos + len(w)))
        pos += len(w) + 1
    doc = Document(key, " ".join(words))
    doc.set_tokens(tokens, _sentences(words, layers))

    def char_spans(spans: list[tuple[int, int, str]], source: str) -> list[Span]:
        return [Span(tokens[i][0], tokens[j - 1][1], label, source) for i, j, label in spans]

    doc.set_spans(layer, char_spans(layers[0], layer))
    for lf, spans in zip(lfs, layers[1:]):
        doc.set_spans(lf, char_spans(spans, lf))
    return doc


def _without_blanks(key: str, words: list[str], layers: list[list[tuple[int, int, str]]], quirks: Quirks
                    ) -> tuple[list[str], list[list[tuple[int, int, str]]]]:
    """Leave out the blank tokens (no characters to hold a span) and move every span onto the tokens left."""
    before = [0]  # before[i]: the tokens kept before token i
    for k, w in enumerate(words):
        if not w.strip():
            quirks.note("blank tokens (left out, the spans over them kept without them)", None,
                        found=f"token {k} {w!r} of document {key}", expected="tokens that are not blank",
                        detail=f"document {key} token {k} {w!r}")
        before.append(before[-1] + bool(w.strip()))
    moved = []
    for spans in layers:
        kept = [(before[i], before[j], label) for i, j, label in spans if before[j] > before[i]]
        for i, j, label in spans:
            if before[j] == before[i]:
                quirks.note("spans over blank tokens only (left out)", None,
                            found=f"span [{i}, {j}, {label!r}] of document {key} over blank tokens only",
                            expected="spans over tokens that are not blank", detail=f"document {key} [{i}, {j}]")
        moved.append(kept)
    return [w for w in words if w.strip()], moved


def _is_tag_rows(value: Any) -> bool:
    """Whether ``weak_labels`` is in the tag form: rows of tags (strings or ids), not lists of spans."""
    return (isinstance(value, list) and bool(value) and isinstance(value[0], list) and bool(value[0])
            and not any(isinstance(t, list) for t in value[0]))


def _spans(value: Any, n: int, what: str, bad: Callable[[str], DistantError], ids: list[str] | None,
           repaired: Callable[[str, Repair], None]) -> list[tuple[int, int, str]]:
    """Return token-range spans from a span list ``[[i, j, type], ...]`` or a list of ``n`` IOB2 tags.

    A tag is a string or, as WRENCH numbers them, an id into ``ids`` (O, then B- and I- of each entity type
    of meta.json). Each tag that IOB2 does not allow where it stands goes to ``repaired``.
    """
    if isinstance(value, list) and value and not isinstance(value[0], list):
        if len(value) != n:
            raise bad(f"{what}: found {len(value)} tags for {n} tokens, expected one IOB2 tag per token")
        if value.count(O) == n:  # the common case of a function that did not fire: nothing to decode
            return []
        tags = value if all(type(t) is str for t in value) else [_tag(t, what, bad, ids) for t in value]
        try:
            spans, repairs = decode_tags(tags, "IOB2")
        except TagError as e:
            raise bad(f"{what}: {e}") from None
        if what == "label" and UNKNOWN in tags:  # read as O it would drop gold; a function's "-" reads as O does
            raise bad(f"{what}: found tag {UNKNOWN!r} at token {tags.index(UNKNOWN)}, expected O, B-TYPE or I-TYPE")
        untyped = next((i for i, _, label in spans if not is_typed(label)), None)
        if untyped is not None:
            raise bad(f"{what}: found tag {tags[untyped]!r}, expected O, or B- or I- and an entity type (a letter, "
                      "then letters, digits, '_' or '.')")
        for repair in repairs:
            repaired(what, repair)
        return spans
    if not isinstance(value, list):
        raise bad(f"{what}: found {type(value).__name__}, expected a list of [first, last + 1, type] spans")
    out = []
    for s in value:
        ok = (isinstance(s, list) and len(s) == 3 and all(type(x) is int for x in s[:2]) and isinstance(s[2], str))
        if not ok or not 0 <= s[0] < s[1] <= n or not is_typed(s[2]):
            raise bad(f"{what}: found span {json.dumps(s)[:60]}, expected [first, last + 1, type] with 0 <= first "
                      f"< last + 1 <= {n} tokens and an entity type name")
        out.append((s[0], s[1], s[2]))
    return out


def _tag(value: str | int, what: str, bad: Callable[[str], DistantError], ids: list[str] | None) -> str:
    """Return a tag string, mapping an id through ``ids`` as WRENCH does."""
    if isinstance(value, str):
        return value
    if type(value) is not int:
        raise bad(f"{what}: found {json.dumps(value)[:60]} among the tags, expected IOB2 tag strings or tag ids")
    if ids is None:
        raise bad(f"{what}: found tag id {value} and no \"entity_types\" in {META} to map it to a tag, expected "
                  "tag strings (B-PER) or entity_types in meta.json")
    if not 0 <= value < len(ids):
        raise bad(f"{what}: found tag id {value}, expected 0 to {len(ids) - 1} (O, then B- and I- of each of the "
                  f"{len(ids) // 2} entity_types of {META})")
    return ids[value]


def _sentences(words: list[str], layers: list[list[tuple[int, int, str]]]) -> list[tuple[int, int]]:
    if not words:
        return []
    crossed = bytearray(len(words) + 1)  # crossed[k]: a span covers tokens k - 1 and k
    for spans in layers:
        for i, j, _ in spans:
            crossed[i + 1:j] = b"\x01" * (j - i - 1)
    out, start = [], 0
    for k in range(1, len(words)):
        if words[k - 1] in _ENDS and not words[k][0].islower() and not crossed[k]:
            out.append((start, k))
            start = k
    out.append((start, len(words)))
    return out


# -- writing ------------------------------------------------------------------------------------------------
def write(docs: Iterable[Document], path: Path, *, layer: str = GOLD, scheme: str = "IOB2") -> None:
    """Write the span form: ``layer`` as ``label``, every other layer as a labelling function; ``meta.json`` too.

    ``O`` and ``-`` spans, which the format cannot hold, are left out and counted in one warning.

    Raises:
        DistantError: a document whose text is not its tokens joined by single spaces, a span off token
            boundaries or with a multi-type label, standard output, or a meta.json beside that names other
            functions.
    """
    if is_stdio(path):
        raise DistantError("the wrench format is written with a meta.json beside it; expected a file, not -")
    out: dict[str, Any] = {}
    lfs: list[str] = []
    left_out = 0
    rows = []
    for doc in docs:
        if not doc.is_tokenized or doc.text != " ".join(doc.words()) or any(not w for w in doc.words()):
            raise DistantError(f"document {doc.id}: found a text that is not its tokens joined by single spaces, "
                               "expected one (the wrench format holds tokens only)", path)
        if doc.id in out:
            raise DistantError(f"document {doc.id}: found the id twice, expected distinct ids", path)
        lfs.extend(name for name in doc.layers if name != layer and name not in lfs)
        out[doc.id] = None
        rows.append(doc)
    def ranges(doc: Document, name: str) -> list[list]:
        nonlocal left_out
        kept = [s for s in doc.spans(name) if s.label not in (O, UNKNOWN)]
        left_out += len(doc.spans(name)) - len(kept)
        aligned, unaligned = doc.align(kept)
        bad = unaligned[0] if unaligned else next((s for _, _, s in aligned if not is_typed(s.label)), None)
        if bad is not None:
            raise DistantError(f"document {doc.id}: layer {name!r}: found span {bad.start}-{bad.end} "
                               f"({bad.label}), expected spans of one entity type on token boundaries", path)
        return [[i, j, s.label] for i, j, s in aligned]

    for doc in rows:
        out[doc.id] = {"label": ranges(doc, layer), "data": {"text": doc.words()},
                       "weak_labels": [ranges(doc, name) for name in lfs]}
    types = sorted({s[2] for d in out.values() for spans in [d["label"], *d["weak_labels"]] for s in spans})
    where = meta_path(path)
    if where.is_file():
        if read_meta(path)["lf"] != lfs:
            raise DistantError(f"found a {META} beside the output naming other labelling functions than the "
                               f"documents' layers ({', '.join(lfs) or 'none'}); expected the same, in order", where)
    else:
        write_text(where, json.dumps({"lf": lfs, "entity_types": types, "num_lf": len(lfs)}, indent=1) + "\n")
    with atomic_open(path) as f:
        json.dump(out, f, ensure_ascii=False)
        f.write("\n")
    if left_out:
        log.warning("%s: %d O or '-' span(s) not written: the wrench format holds entity spans only", path, left_out)
