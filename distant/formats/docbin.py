"""spaCy DocBin (``.spacy``): documents as spaCy ``Doc`` objects, for training or inspecting with spaCy.

Each ``Doc`` has our tokens as its words (whitespace that is not one trailing space becomes a whitespace token,
so ``doc.text`` is our text exactly), our sentences as sentence starts, the spans of one layer as ``doc.ents``
and every layer as ``doc.spans[layer]`` (label and kb_id). The document id is kept in
``doc.user_data["distant_id"]``. Reading a DocBin back restores tokens, sentences and layers; a span's score
and source are not stored (read spans get their layer's name as source).
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from distant.atomic import write_bytes
from distant.docs import GOLD, O, PRED, UNKNOWN, Document, Span
from distant.errors import DistantError
from distant.formats.align import align_spans, drop_overlaps, warn_dropped
from distant.formats.lines import check_file
from distant.tokenize import default_tokenizer

if TYPE_CHECKING:
    from spacy.tokens import Doc as SpacyDoc
    from spacy.vocab import Vocab

log = logging.getLogger(__name__)

EXPECTED = "a spaCy DocBin file (.spacy)"
ID_KEY = "distant_id"


def write(docs: Sequence[Document], path: Path, *, layer: str = PRED, scheme: str = "IOB2") -> None:
    """Write documents as a DocBin, with ``layer`` as ``doc.ents`` (``scheme``: unused).

    Documents without tokens are tokenized with :func:`~distant.tokenize.default_tokenizer`. Spans that do not
    align with token boundaries are left out (one warning per document and layer, with the counts); so are
    spans labeled ``O`` or ``-`` and overlapping spans from ``doc.ents`` (they stay in ``doc.spans``).
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

    def spacy_span(i: int, j: int, span: Span) -> SpacySpan:
        return SpacySpan(sdoc, index[i], index[j - 1] + 1, label=span.label, kb_id=span.kb_id or "")

    for name, spans in doc.layers.items():
        aligned, unaligned = align_spans(doc, spans, within_sentence=False)
        warn_dropped(doc, name, path, len(spans), unaligned)
        sdoc.spans[name] = [spacy_span(i, j, span) for i, j, span in aligned]
        if name == layer:
            entities, overlapping = drop_overlaps(r for r in aligned if r[2].label not in (O, UNKNOWN))
            if overlapping:
                log.warning("%s: document %s: %d spans of layer %r overlap a longer span; left out of doc.ents "
                            "(kept in doc.spans)", path, doc.id, overlapping, name)
            sdoc.set_ents([spacy_span(i, j, span) for i, j, span in entities], default="outside")
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


def read(path: Path, *, layer: str = GOLD, scheme: str | None = None) -> list[Document]:
    """Read a DocBin: every ``doc.spans`` group becomes a layer; ``doc.ents`` go to ``layer`` when there is none.

    Raises:
        DistantError: the file is missing, empty or not a DocBin.
    """
    from spacy.tokens import DocBin
    from spacy.vocab import Vocab

    path = Path(path)
    check_file(path, EXPECTED)
    data = path.read_bytes()
    if not data.strip():
        raise DistantError(f"empty input: expected {EXPECTED}", path)
    try:
        docbin = DocBin(store_user_data=True).from_bytes(data)
    except (zlib.error, ValueError, KeyError, TypeError) as e:
        raise DistantError(f"found no DocBin ({type(e).__name__}: {e}), expected {EXPECTED}".replace("\n", " "),
                           path) from None
    return [from_spacy(sdoc, f"{path.stem}:{n}", layer) for n, sdoc in enumerate(docbin.get_docs(Vocab()), 1)]


def from_spacy(sdoc: SpacyDoc, default_id: str, layer: str = GOLD) -> Document:
    """Return our document for a spaCy ``Doc``: whitespace tokens are not tokens."""
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
    doc = Document(str(sdoc.user_data.get(ID_KEY, default_id)), sdoc.text)
    doc.set_tokens(tokens, sentences)
    groups = {name: list(group) for name, group in sdoc.spans.items()} or ({layer: list(sdoc.ents)} if sdoc.ents
                                                                             else {})
    for name, spans in groups.items():
        doc.layers[name] = sorted((Span(s.start_char, s.end_char, s.label_, source=name, kb_id=s.kb_id_ or None)
                                   for s in spans), key=Span.key)
    return doc
