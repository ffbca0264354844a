"""Reading input files line by line, with the errors every reader shares.

Every reader reports the same three kinds of bad input the same way: a missing file, an empty file (no bytes
or only whitespace) and bytes that are not UTF-8 (naming the line of the first bad byte).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from distant.errors import DistantError

BOM = "\ufeff"


def check_file(path: Path, expected: str) -> None:
    """Raise :class:`DistantError` unless ``path`` is an existing file."""
    if not path.exists():
        raise DistantError(f"file not found: expected {expected}", path)
    if path.is_dir():
        raise DistantError(f"found a folder, expected {expected}", path)


def iter_lines(path: Path, expected: str) -> Iterator[tuple[int, str]]:
    """Yield ``(line number, line)`` for each line of a UTF-8 file, without its line ending.

    The checks for an empty file run when the iteration ends, so a caller must consume every line.

    Args:
        path: The file.
        expected: What the file should hold, for error messages ("a PubTator file").

    Raises:
        DistantError: the file is missing, empty or only whitespace, or not UTF-8.
    """
    check_file(path, expected)
    has_text = False
    with path.open("rb") as f:
        for number, raw in enumerate(f, 1):
            line = decode_line(raw, path, number)
            if number == 1 and line.startswith(BOM):
                line = line[1:]
            line = line.rstrip("\r\n")
            if not has_text and line.strip():
                has_text = True
            yield number, line
    if not has_text:
        raise DistantError(f"empty input: expected {expected}", path)


def decode_line(raw: bytes, path: Path, number: int) -> str:
    """Decode one line of UTF-8, or raise :class:`DistantError` naming the line and the bad byte."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _not_utf8(raw, e.start, e.start + 1, path, number) from None


def read_text(path: Path, expected: str) -> str:
    """Return the whole UTF-8 text of ``path`` (for formats that hold one text per file)."""
    check_file(path, expected)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise _not_utf8(data, e.start, column, path, data.count(b"\n", 0, e.start) + 1) from None
    return text[1:] if text.startswith(BOM) else text


def _not_utf8(data: bytes, offset: int, column: int, path: Path, number: int) -> DistantError:
    return DistantError(
        f"found byte 0x{data[offset]:02x} at column {column} that is not valid UTF-8; expected UTF-8 text",
        path, number,
    )
