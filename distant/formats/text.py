"""Plain text: a ``.txt`` file with one document per line, or a folder of ``.txt`` files, one document each.

A line's document id is ``{file stem}:{line number}``; a file's is its stem. Plain text carries no spans.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from distant.atomic import atomic_open, write_text
from distant.docs import GOLD, PRED, Document
from distant.errors import DistantError
from distant.formats.lines import iter_lines, read_text

EXPECTED_FILE = "a text file with one document per line"
EXPECTED_FOLDER = "a folder of .txt files, one document per file"
_UNSAFE_ID = set('/\\:*?"<>|\0')


def read(path: Path, *, layer: str = GOLD, scheme: str | None = None) -> list[Document]:
    """Read a one-document-per-line file or a folder of ``.txt`` files (``layer``, ``scheme``: unused)."""
    path = Path(path)
    if path.is_dir():
        return _read_folder(path)
    docs = []
    for number, line in iter_lines(path, EXPECTED_FILE):
        if line.strip():
            docs.append(Document(f"{path.stem}:{number}", line))
    return docs


def _read_folder(path: Path) -> list[Document]:
    files = sorted(p for p in path.glob("*.txt") if p.is_file())
    if not files:
        raise DistantError(f"empty input: found no .txt file, expected {EXPECTED_FOLDER}", path)
    return [Document(p.stem, read_text(p, "a UTF-8 text file")) for p in files]


def write(docs: Sequence[Document], path: Path, *, layer: str = PRED, scheme: str = "IOB2") -> None:
    """Write each text on its own line, or one file per document when ``path`` is a folder or has no suffix.

    Raises:
        DistantError: a text has a line break or is blank (it would not read back as one document), or, when
            writing a folder, an id is not a safe file name.
    """
    path = Path(path)
    if path.is_dir() or not path.suffix:
        _write_folder(docs, path)
        return
    for doc in docs:
        if "\n" in doc.text or "\r" in doc.text:
            raise DistantError(f"document {doc.id}: found a line break in the text, expected one line per document "
                               "(write a folder or another format instead)", path)
        if not doc.text.strip():
            raise DistantError(f"document {doc.id}: found a blank text, expected text (a blank line is skipped "
                               "on reading)", path)
    with atomic_open(path) as f:
        for doc in docs:
            f.write(doc.text)
            f.write("\n")


def _write_folder(docs: Sequence[Document], path: Path) -> None:
    seen = set()
    for doc in docs:
        if not doc.id or doc.id.startswith(".") or _UNSAFE_ID & set(doc.id) or doc.id in seen:
            raise DistantError(f"document id {doc.id!r} is empty, repeated or not a safe file name; expected "
                               "unique ids without / \\ : * ? \" < > |", path)
        seen.add(doc.id)
    path.mkdir(parents=True, exist_ok=True)
    for doc in docs:
        write_text(path / f"{doc.id}.txt", doc.text)
