"""Plain text: a ``.txt`` file with one document per line, or a folder of ``.txt`` files, one document each.

A line's document id is ``{file stem}:{line number}`` (``stdin:N`` for standard input); a file's is its stem.
Plain text carries no spans. A line ends at LF, CR LF or CR (the last two are quirks: one warning per file, an
error when strict); blank lines are not documents.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from distant.atomic import atomic_open, is_stdio, write_text
from distant.docs import GOLD, PRED, Document
from distant.errors import DistantError
from distant.formats.lines import BOM, Quirks, iter_lines, read_text, source_stem

EXPECTED_FILE = "a text file with one document per line"
EXPECTED_FOLDER = "a folder of .txt files, one document per file"
_UNSAFE_ID = set('/\\:*?"<>|\0')


def read(path: Path, *, layer: str = GOLD, scheme: str | None = None, strict: bool = False) -> Iterator[Document]:
    """Yield the documents of a one-document-per-line file (``-``: standard input) or a folder of ``.txt`` files.

    Args:
        path: The file, ``-``, or a folder.
        layer: Unused.
        scheme: Unused.
        strict: Refuse CR LF or CR line endings and byte order marks instead of counting them.
    """
    path = Path(path)
    if not is_stdio(path) and path.is_dir():
        yield from _read_folder(path, strict)
        return
    stem = source_stem(path)
    with Quirks(path, strict=strict) as quirks:
        for number, line in iter_lines(path, EXPECTED_FILE, quirks):
            if line.strip():
                yield Document(f"{stem}:{number}", line)


def _read_folder(path: Path, strict: bool) -> Iterator[Document]:
    files = sorted(p for p in path.glob("*.txt") if p.is_file())
    if not files:
        raise DistantError(f"empty input: found no .txt file, expected {EXPECTED_FOLDER}", path)
    for p in files:
        with Quirks(p, strict=strict) as quirks:
            text = read_text(p, "a UTF-8 text file", quirks)
        yield Document(p.stem, text)


def writes_folder(path: Path) -> bool:
    """Whether writing ``path`` writes a folder: an existing folder, or a name with no suffix (``-`` is stdout)."""
    return not is_stdio(path) and (path.is_dir() or not path.suffix)


def write(docs: Iterable[Document], path: Path, *, layer: str = PRED, scheme: str = "IOB2") -> None:
    """Write each text on its own line, or one file per document when ``path`` is a folder or has no suffix.

    Spans are not written (plain text holds none; :func:`~distant.formats.write_documents` says so).

    Raises:
        DistantError: a text would not read back as one document (a line break, a blank text, a byte order
            mark at the start), or, when writing a folder, an id is not a safe file name.
    """
    path = Path(path)
    if writes_folder(path):
        _write_folder(docs, path)
        return
    with atomic_open(path) as f:
        for k, doc in enumerate(docs):
            if "\n" in doc.text or "\r" in doc.text:
                raise DistantError(f"document {doc.id}: found a line break in the text, expected one line per "
                                   "document (write a folder or another format instead)", path)
            if not doc.text.strip():
                raise DistantError(f"document {doc.id}: found a blank text, expected text (a blank line is "
                                   "skipped on reading)", path)
            if k == 0:
                _check_bom(doc, path)
            f.write(doc.text)
            f.write("\n")


def _check_bom(doc: Document, path: Path) -> None:
    if doc.text.startswith(BOM):
        raise DistantError(f"document {doc.id}: found a byte order mark at the start of the text, expected none "
                           "(a reader takes it for the file's byte order mark)", path)


def _write_folder(docs: Iterable[Document], path: Path) -> None:
    seen = set()
    for doc in docs:
        if not doc.id or doc.id.startswith(".") or _UNSAFE_ID & set(doc.id) or doc.id in seen:
            raise DistantError(f"document id {doc.id!r} is empty, repeated or not a safe file name; expected "
                               "unique ids without / \\ : * ? \" < > |", path)
        seen.add(doc.id)
        _check_bom(doc, path)
        path.mkdir(parents=True, exist_ok=True)
        write_text(path / f"{doc.id}.txt", doc.text)
