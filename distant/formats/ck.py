"""AutoNER's ``.ck`` (Tie or Break) files, read only.

::

    <s> O None
    Famotidine I Chemical
    -associated I None
    congestive I Disease
    heart O Disease
    <eof> I None

One token per line with a Tie-or-Break mark and a type. ``I`` (Break) starts a new chunk at this token; ``O``
(Tie) ties it to the chunk before. A chunk's type is on each of its tokens; ``None`` means "not an entity".
``<s>`` and ``<eof>`` mark the start and end of a sentence and are not tokens. The whole file is one document:
tokens joined by single spaces, sentences by line breaks.
"""

from __future__ import annotations

from pathlib import Path

from distant.docs import GOLD, Document, Span, label_problem
from distant.errors import DistantError
from distant.formats.lines import Quirks, iter_lines, source_name

EXPECTED = "an AutoNER .ck file (lines 'token I|O type', sentences between <s> and <eof>)"
START, END = "<s>", "<eof>"
BREAK, TIE = "I", "O"
NOT_ENTITY = "None"


def read(path: Path, *, layer: str = GOLD, scheme: str | None = None, strict: bool = False) -> list[Document]:
    """Read the file as one document, the typed chunks going to ``layer`` (``scheme``: unused).

    ``strict`` refuses the line-ending quirks of :func:`~distant.formats.lines.iter_lines` (counted in one
    warning otherwise).

    Raises:
        DistantError: a line without three columns, a mark other than I or O, a type that is no valid label, a
            tie with nothing to tie to or with another type than its chunk, a token outside ``<s>`` ...
            ``<eof>``, or any error of :func:`~distant.formats.lines.iter_lines`.
    """
    path = Path(path)
    with Quirks(path, strict=strict) as quirks:
        return _read(path, layer, quirks)


def _read(path: Path, layer: str, quirks: Quirks) -> list[Document]:
    name = source_name(path)
    parts: list[str] = []  # the text, token by token with the separators
    tokens: list[tuple[int, int]] = []
    sentences: list[tuple[int, int]] = []
    spans: list[Span] = []
    pos = 0
    first: int | None = None  # first token of the open sentence; None outside a sentence
    chunk: tuple[int, str] | None = None  # (first token, type) of the open chunk

    def close_chunk() -> None:
        if chunk is not None and chunk[1] != NOT_ENTITY:
            spans.append(Span(tokens[chunk[0]][0], tokens[-1][1], chunk[1], source=layer))

    for number, line in iter_lines(path, EXPECTED, quirks):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 3:
            raise DistantError(f"found {len(fields)} columns, expected 3: token, I (break) or O (tie), type",
                               name, number)
        word, mark, label = fields
        if mark not in (BREAK, TIE):
            raise DistantError(f"found the mark {mark!r}, expected I (break) or O (tie)", name, number)
        problem = label_problem(label)
        if problem:
            raise DistantError(f"type column: {problem}", name, number)
        if word == START:
            if first is not None:
                raise DistantError(f"found {START} inside a sentence, expected {END} first", name, number)
            first, chunk = len(tokens), None
            continue
        if first is None:
            raise DistantError(f"found {word!r} outside a sentence, expected {START} first", name, number)
        if word == END:
            close_chunk()
            if len(tokens) > first:
                sentences.append((first, len(tokens)))
            first, chunk = None, None
            continue
        if mark == BREAK:
            close_chunk()
            chunk = (len(tokens), label)
        elif chunk is None:
            raise DistantError("found a tie (O) on the first token of a sentence, expected a break (I)", name, number)
        elif label != chunk[1]:
            raise DistantError(f"found type {label!r} on a tie (O), expected {chunk[1]!r} (the type of its chunk)",
                               name, number)
        if tokens:
            parts.append(" " if first < len(tokens) else "\n")
            pos += 1
        parts.append(word)
        tokens.append((pos, pos + len(word)))
        pos += len(word)
    if first is not None:
        raise DistantError(f"found the end of the file inside a sentence, expected {END}", name)
    doc = Document("doc-1", "".join(parts))
    doc.set_tokens(tokens, sentences)
    doc.layers[layer] = spans
    return [doc]
