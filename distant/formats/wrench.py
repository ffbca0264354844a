"""WRENCH / CHMM weak-supervision JSON: tokens, gold spans and one list of spans per labelling function.

A split (``train.json``, ``valid.json``, ``test.json``) is one JSON object of documents by id; ``meta.json``
beside it names the labelling functions (``lf``) in the order of ``weak_labels``, and the entity types::

    {"0": {"data": {"text": ["Naloxone", "reverses", ...]},
           "label": [[0, 1, "Chemical"], ...],                  # gold: [first token, last token + 1, type]
           "weak_labels": [[[0, 1, "Chemical"], ...], [], ...]}} # one span list per labelling function

This is CHMM's span form. WRENCH's tag form is read too: ``label`` a list of BIO tags (one per token) and
``weak_labels`` one list of BIO tags per token (one per function), where a function's ``O`` means that it
did not fire (WRENCH does not tell the two apart; here it is read as abstaining, no span).

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
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from distant.atomic import atomic_open, is_stdio, write_text
from distant.docs import GOLD, PRED, PSEUDO, UNKNOWN, Document, O, Span, is_typed
from distant.errors import DistantError
from distant.formats.lines import Quirks, read_text, source_name
from distant.formats.validate import parse_json
from distant.tags import TagError, decode_tags

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
        DistantError: no meta.json, or one without a list of distinct function names.
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
    rec = meta.get("lf_rec", [])
    if not (isinstance(rec, list) and all(x in lfs for x in rec)):
        raise DistantError("found \"lf_rec\" naming functions that \"lf\" does not, expected a sublist of \"lf\"",
                           where)
    return meta


def read(path: Path, *, layer: str = GOLD, scheme: str | None = None, strict: bool = False) -> list[Document]:
    """Read a WRENCH/CHMM split: gold spans into ``layer``, each labelling function into its own layer.

    Raises:
        DistantError: not JSON, not an object of documents, a document without a list of non-empty tokens, a
            span outside the tokens or with a label that is no entity type, a wrong number of functions, an
            invalid tag, or a missing or malformed ``meta.json``.
    """
    name = source_name(path)
    with Quirks(path, strict=strict) as quirks:
        text = read_text(path, EXPECTED, quirks)
    if not text.strip():
        raise DistantError(f"empty input: expected {EXPECTED}", name)
    lfs = read_meta(path)["lf"]
    data = parse_json(text, EXPECTED, name)
    if not isinstance(data, dict):
        raise DistantError(f"found a JSON {type(data).__name__}, expected {EXPECTED}", name)
    return [_document(str(key), value, lfs, layer, name) for key, value in data.items()]


def _document(key: str, value: Any, lfs: list[str], layer: str, name: str) -> Document:
    def bad(what: str) -> DistantError:
        return DistantError(f"document {key}: {what}", name)

    if not isinstance(value, dict):
        raise bad(f"found {type(value).__name__}, expected an object with data, label and weak_labels")
    words = value.get("data", {}).get("text") if isinstance(value.get("data"), dict) else None
    if not (isinstance(words, list) and words and all(isinstance(w, str) and w for w in words)):
        raise bad("found no data.text list of non-empty token strings, expected {\"data\": {\"text\": [...]}}")
    tokens, pos = [], 0
    for w in words:
        tokens.append((pos, pos + len(w)))
        pos += len(w) + 1
    n = len(words)
    gold = _spans(value.get("label", []), n, "label", bad)
    weak = value.get("weak_labels", [])
    if _is_tag_list(weak, n):  # WRENCH tag form: one list of tags per token
        if not all(isinstance(row, list) and len(row) == len(lfs) for row in weak):
            raise bad(f"found weak_labels rows of another length than the {len(lfs)} functions meta.json names")
        per_lf = [_spans([row[j] for row in weak], n, f"weak_labels (function {lfs[j]!r})", bad) for j in range(len(lfs))]
    else:
        if not isinstance(weak, list) or len(weak) != len(lfs):
            found = len(weak) if isinstance(weak, list) else type(weak).__name__
            raise bad(f"found weak_labels for {found} functions, expected one span list for each of the "
                      f"{len(lfs)} functions meta.json names")
        per_lf = [_spans(spans, n, f"weak_labels (function {lfs[j]!r})", bad) for j, spans in enumerate(weak)]
    doc = Document(key, " ".join(words))
    doc.set_tokens(tokens, _sentences(words, [gold, *per_lf]))

    def char_spans(spans: list[tuple[int, int, str]], source: str) -> list[Span]:
        return [Span(tokens[i][0], tokens[j - 1][1], label, source) for i, j, label in spans]

    doc.set_spans(layer, char_spans(gold, layer))
    for lf, spans in zip(lfs, per_lf):
        doc.set_spans(lf, char_spans(spans, lf))
    return doc


def _is_tag_list(value: Any, n: int) -> bool:
    return isinstance(value, list) and len(value) == n > 0 and all(isinstance(v, (str, list)) for v in value) and (
        isinstance(value[0], str) or (isinstance(value[0], list) and value[0] and all(
            isinstance(t, str) for t in value[0])))


def _spans(value: Any, n: int, what: str, bad) -> list[tuple[int, int, str]]:
    """Return token-range spans from a span list ``[[i, j, type], ...]`` or a list of ``n`` BIO tags."""
    if isinstance(value, list) and len(value) == n and all(isinstance(t, str) for t in value) and value:
        try:
            spans, _ = decode_tags(value, "IOB2")
        except TagError as e:
            raise bad(f"{what}: {e}") from None
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


def _sentences(words: list[str], layers: list[list[tuple[int, int, str]]]) -> list[tuple[int, int]]:
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
