"""spaCy DocBin (``.spacy``): documents as spaCy ``Doc`` objects, for training or inspecting with spaCy.

Each ``Doc`` has our tokens as its words (whitespace that is not one trailing space becomes a whitespace token,
so ``doc.text`` is our text exactly), our sentences as sentence starts, the spans of one layer as ``doc.ents``
and every layer as ``doc.spans[layer]`` (label and kb_id). The document id is kept in
``doc.user_data["distant_id"]``, and the whole document as distant holds it (tokens, sentences, every layer
with each span's source, kb_id and score, even spans that fit no token boundary, and ``doc.meta``) as JSON in
``doc.user_data["distant_doc"]``, so that reading the DocBin back gives the same document. The entities'
confidences are also spaCy extension values, ``ent._.distant_confidence`` (registered by
:mod:`distant.spacy_pipes`). A layer whose
``doc.spans`` group was changed after distant wrote it (by spaCy code) is read from ``doc.spans``, with a
warning; a DocBin that spaCy wrote is read from ``doc.spans`` (or ``doc.ents``), each span's source being its
layer's name.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from distant.atomic import write_bytes
from distant.docs import GOLD, O, PRED, UNKNOWN, Document, Span, label_problem
from distant.errors import DistantError
from distant.formats import jsonl
from distant.formats.align import drop_overlaps, warn_dropped
from distant.formats.lines import read_bytes, source_name, source_stem
from distant.tokenize import default_tokenizer

if TYPE_CHECKING:
    from spacy.tokens import Doc as SpacyDoc
    from spacy.vocab import Vocab

log = logging.getLogger(__name__)

EXPECTED = "a spaCy DocBin file (.spacy)"
ID_KEY = "distant_id"
DOC_KEY = "distant_doc"  # JSON: what a JSONL line holds but the id and the text
CONFIDENCE = "distant_confidence"  # the Span extension of distant.spacy_pipes, set on doc.ents


def write(docs: Iterable[Document], path: Path, *, layer: str = PRED, scheme: str = "IOB2") -> None:
    """Write documents as a DocBin, with ``layer`` as ``doc.ents`` (``scheme``: unused).

    Documents without tokens are tokenized with :func:`~distant.tokenize.default_tokenizer`. Spans that do not
    align with token boundaries are left out of ``doc.spans`` (one warning per document and layer, with the
    counts; distant keeps them in ``doc.user_data``); spans labeled ``O`` or ``-`` and overlapping spans are
    left out of ``doc.ents`` (they stay in ``doc.spans``).

    Raises:
        DistantError: a document whose ``meta`` or scores cannot be stored as JSON.
    """
    from spacy.tokens import DocBin
    from spacy.vocab import Vocab

    path = Path(path)
    vocab = Vocab()
    docbin = DocBin(store_user_data=True)
    tokenizer = default_tokenizer()
    for doc in docs:
        docbin.add(to_spacy(doc if doc.is_tokenized else tokenizer(doc.copy()), vocab, layer, path))
    write_bytes(path, docbin.to_bytes())


def to_spacy(doc: Document, vocab: Vocab, layer: str, path: Path) -> SpacyDoc:
    """Return a spaCy ``Doc`` of a tokenized document (``path`` names the output in warnings)."""
    from spacy.tokens import Doc as SpacyDoc
    from spacy.tokens import Span as SpacySpan

    words, spaces, index = _words(doc)
    starts = [False] * len(words)
    for k, (a, b) in enumerate(doc.sentences or []):
        if a < b:
            starts[0 if k == 0 else index[a]] = True  # leading whitespace belongs to the first sentence
    if words:
        starts[0] = True
    sdoc = SpacyDoc(vocab, words=words, spaces=spaces, sent_starts=starts)
    sdoc.user_data[ID_KEY] = doc.id
    payload = jsonl.to_json(doc)
    del payload["id"], payload["text"]
    try:
        sdoc.user_data[DOC_KEY] = json.dumps(payload, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as e:
        raise DistantError(f"document {doc.id}: cannot store as JSON ({e}); expected JSON values in meta and "
                           "finite scores", path) from None

    def spacy_span(i: int, j: int, span: Span) -> SpacySpan:
        return SpacySpan(sdoc, index[i], index[j - 1] + 1, label=span.label, kb_id=span.kb_id or "")

    for name, spans in doc.layers.items():
        aligned, off = doc.align(spans)
        warn_dropped(doc, name, path, len(spans), len(off), lost="left out of doc.spans (kept for distant)")
        sdoc.spans[name] = [spacy_span(i, j, span) for i, j, span in aligned]
        if name == layer:
            entities, overlapping = drop_overlaps(r for r in aligned if r[2].label not in (O, UNKNOWN))
            if overlapping:
                log.warning("%s: document %s: %d spans of layer %r overlap a longer span; left out of doc.ents "
                            "(kept in doc.spans)", path, doc.id, overlapping, name)
            sdoc.set_ents([spacy_span(i, j, span) for i, j, span in entities], default="outside")
            for i, j, span in entities:  # span._.distant_confidence (distant.spacy_pipes), as spaCy keys it
                if span.score is not None:
                    sdoc.user_data[("._.", CONFIDENCE, *doc.char_span(i, j))] = span.score
    return sdoc


def _words(doc: Document) -> tuple[list[str], list[bool], list[int]]:
    """Return spaCy words and trailing spaces for ``doc.text``, and the word index of each of our tokens."""
    text = doc.text
    words: list[str] = []
    spaces: list[bool] = []
    index: list[int] = []

    def gap(chars: str) -> None:
        if chars and words and not spaces[-1] and chars[0] == " ":
            spaces[-1] = True
            chars = chars[1:]
        if chars:
            words.append(chars)
            spaces.append(False)

    pos = 0
    for s, e in doc.tokens or []:
        gap(text[pos:s])
        index.append(len(words))
        words.append(text[s:e])
        spaces.append(False)
        pos = e
    gap(text[pos:])
    return words, spaces, index


def read(path: Path, *, layer: str = GOLD, scheme: str | None = None, strict: bool = False) -> list[Document]:
    """Read a DocBin (``-``: from standard input); ``layer``: where ``doc.ents`` go in a DocBin without spans.

    Documents that distant wrote come back as they were; see the module for DocBins from elsewhere
    (``scheme``, ``strict``: unused, a DocBin has no quirks to be lenient about).

    Raises:
        DistantError: the file is missing, empty or not a DocBin, or a document in it is malformed (a label no
            format can write, a malformed ``distant_doc``).
    """
    from spacy.tokens import DocBin
    from spacy.vocab import Vocab

    path = Path(path)
    name = source_name(path)
    data = read_bytes(path, EXPECTED)
    if not data.strip():
        raise DistantError(f"empty input: expected {EXPECTED}", name)
    try:
        sdocs = list(DocBin(store_user_data=True).from_bytes(data).get_docs(Vocab()))
    except Exception as e:  # zlib, msgpack and spaCy raise many types for bytes that are no DocBin
        message = f"{type(e).__name__}: {e}".replace("\n", " ").replace("\r", " ")
        raise DistantError(f"found no DocBin ({message[:200]}), expected {EXPECTED}", name) from None
    docs = []
    edited = []  # documents with a layer changed in doc.spans since distant wrote them
    for n, sdoc in enumerate(sdocs, 1):
        try:
            doc, changed = _read_doc(sdoc, f"{source_stem(path)}:{n}", layer)
        except jsonl.FieldError as e:
            raise DistantError(f"document {n}: {e}", name) from None
        docs.append(doc)
        if changed:
            edited.append(f"{doc.id} ({', '.join(changed)})")
    if edited:
        log.warning("%s: %d documents have doc.spans groups changed since distant wrote them; those layers are read "
                    "from doc.spans, without scores (%s)", name, len(edited),
                    ", ".join(edited[:3]) + (", ..." if len(edited) > 3 else ""))
    return docs


def from_spacy(sdoc: SpacyDoc, default_id: str, layer: str = GOLD) -> Document:
    """Return our document for a spaCy ``Doc``: whitespace tokens are not tokens.

    Raises:
        FieldError: a malformed ``distant_doc`` or an invalid span label (:mod:`distant.formats.jsonl`).
    """
    return _read_doc(sdoc, default_id, layer)[0]


def _read_doc(sdoc: SpacyDoc, default_id: str, layer: str) -> tuple[Document, list[str]]:
    """Return the document, and the layers read from ``doc.spans`` because they changed since distant wrote them."""
    doc_id = str(sdoc.user_data.get(ID_KEY, default_id))
    payload = sdoc.user_data.get(DOC_KEY)
    groups = {name: list(group) for name, group in sdoc.spans.items()}
    if payload is None:
        if not groups and sdoc.ents:
            groups = {layer: list(sdoc.ents)}
        return _spacy_document(sdoc, doc_id, groups), []
    try:
        obj = json.loads(payload) if isinstance(payload, str) else None
    except (ValueError, RecursionError):
        obj = None
    if not isinstance(obj, dict) or "tokens" not in obj:
        raise jsonl.FieldError(f"found {DOC_KEY} = {str(payload)[:40]!r}, expected a JSON object with tokens")
    doc = jsonl.from_json({**obj, "id": doc_id, "text": sdoc.text})
    changed = []
    for name in sorted(set(groups) | set(doc.layers)):
        written, _ = doc.align(doc.spans(name))
        if [(s.start_char, s.end_char, s.label_) for s in groups.get(name, [])] != \
                [(doc.tokens[i][0], doc.tokens[j - 1][1], span.label) for i, j, span in written]:
            changed.append(name)
    if changed:
        spacy_doc = _spacy_document(sdoc, doc_id, {name: groups[name] for name in changed if name in groups})
        for name in changed:
            if name in spacy_doc.layers:
                doc.layers[name] = spacy_doc.layers[name]
            else:
                del doc.layers[name]
    return doc, changed


def _spacy_document(sdoc: SpacyDoc, doc_id: str, groups: dict[str, list]) -> Document:
    """Return the document of a ``Doc`` that distant did not write, its spans from ``groups``."""
    ours = {}  # spaCy token index -> our token index
    tokens = []
    for t in sdoc:
        if not t.text.isspace():  # not t.is_space: that lexeme flag is unset in a bare Vocab
            ours[t.i] = len(tokens)
            tokens.append((t.idx, t.idx + len(t.text)))
    sentences = None
    if sdoc.has_annotation("SENT_START"):
        sentences = []
        for sent in sdoc.sents:
            inside = [ours[t.i] for t in sent if t.i in ours]
            if inside:
                sentences.append((inside[0], inside[-1] + 1))
    doc = Document(doc_id, sdoc.text)
    doc.set_tokens(tokens, sentences)
    for name, spans in groups.items():
        for s in spans:
            problem = label_problem(s.label_)
            if problem:
                raise jsonl.FieldError(f"doc.spans[{name!r}]: {problem}")
        doc.layers[name] = sorted((Span(s.start_char, s.end_char, s.label_, source=name, kb_id=s.kb_id_ or None)
                                   for s in spans), key=Span.key)
    return doc
