"""Reading inputs line by line, with the errors and the benign quirks every reader shares.

Every reader reports the same kinds of bad input the same way: a missing file, an empty input (no bytes or
only whitespace) and bytes that are not UTF-8 (naming the line of the first bad byte). ``-`` as a path is
standard input (read as bytes, named ``<stdin>`` in messages).

A benign quirk of a real corpus (CR LF or CR line endings, a byte order mark, a mention column that differs
from the text at its offsets, ...) is read, counted in a :class:`Quirks` and reported in one warning per
file with the first few cases; a strict reader refuses it instead, naming the file and line.
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from distant.atomic import is_stdio
from distant.errors import DistantError

log = logging.getLogger(__name__)

BOM = "\ufeff"
STDIN = "<stdin>"
EXAMPLES = 3  # cases a warning shows of each kind of quirk


def source_name(path: str | os.PathLike) -> str:
    """Return how messages name an input: its path, or ``<stdin>`` for ``-``."""
    return STDIN if is_stdio(path) else os.fspath(path)


def source_stem(path: str | os.PathLike) -> str:
    """Return the stem that document ids are made of: the file's stem, or ``stdin`` for ``-``."""
    return "stdin" if is_stdio(path) else Path(path).stem


class Quirks:
    """The benign departures from a format found in one input: counted, then reported in one warning.

    Use it as a context manager around the reading: the warning is logged when the block ends without error.

    Args:
        path: The input (for messages).
        strict: Refuse each quirk with a :class:`DistantError` instead of counting it.
    """

    def __init__(self, path: str | os.PathLike, *, strict: bool = False) -> None:
        self.name = source_name(path)
        self.strict = strict
        self._found: dict[str, list] = {}  # kind -> [count, [(line, detail), ...] of the first cases]

    def note(self, kind: str, line: int | None, *, found: str, expected: str, detail: str = "") -> None:
        """Count one case of ``kind`` (a plural noun phrase for the warning) on ``line``.

        Raises:
            DistantError: when strict, ``found ...; expected ...`` naming the file and line.
        """
        if self.strict:
            raise DistantError(f"found {found}, expected {expected} (strict reading)", self.name, line)
        entry = self._found.setdefault(kind, [0, []])
        entry[0] += 1
        if len(entry[1]) < EXAMPLES:
            entry[1].append((line, detail))

    def report(self) -> None:
        """Log one warning with the count and first cases of each kind noted, then forget them."""
        if not self._found:
            return
        parts = []
        for kind, (n, examples) in self._found.items():
            more = ", ..." if n > len(examples) else ""
            if any(detail for _, detail in examples):
                shown = "; ".join(f"line {line}: {detail}" if line is not None else detail
                                  for line, detail in examples) + more
            else:
                numbers = [str(line) for line, _ in examples if line is not None]
                shown = f"line{'s' if n > 1 else ''} {', '.join(numbers)}{more}" if numbers else ""
            parts.append(f"{n} {kind} ({shown})" if shown else f"{n} {kind}")
        log.warning("%s: read leniently (a strict reading refuses these): %s", self.name, "; ".join(parts))
        self._found.clear()

    def __enter__(self) -> Quirks:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if kind is None:
            self.report()


def check_file(path: str | os.PathLike, expected: str) -> None:
    """Raise :class:`DistantError` unless ``path`` is an existing file (or ``-``, standard input)."""
    if is_stdio(path):
        return
    path = Path(path)
    if not path.exists():
        raise DistantError(f"file not found: expected {expected}", path)
    if path.is_dir():
        raise DistantError(f"found a folder, expected {expected}", path)


def read_bytes(path: str | os.PathLike, expected: str) -> bytes:
    """Return every byte of ``path`` (standard input for ``-``; decompressed for ``.gz``)."""
    check_file(path, expected)
    if is_stdio(path):
        return sys.stdin.buffer.read()
    try:
        if is_gzip(path):
            with gzip.open(path, "rb") as f:
                return f.read()
        return Path(path).read_bytes()
    except (EOFError, gzip.BadGzipFile) as e:  # a truncated or foreign gzip file
        raise DistantError(f"found a damaged gzip file ({e or 'it ends early'}), expected {expected} compressed "
                           "with gzip", path) from None
    except OSError as e:
        raise DistantError(f"cannot read the input: {e.strerror or type(e).__name__}", path) from None


def iter_lines(path: str | os.PathLike, expected: str, quirks: Quirks | None = None) -> Iterator[tuple[int, str]]:
    """Yield ``(line number, line)`` for each line of a UTF-8 input, without its line ending.

    A line ends at LF, CR LF or CR alone (old Mac files); CR LF, CR and a byte order mark are quirks. The check
    for an empty input runs when the iteration ends, so a caller must consume every line.

    Args:
        path: The file, or ``-`` for standard input.
        expected: What the input should hold, for error messages ("a PubTator file").
        quirks: Where quirks are counted (a strict one refuses them); ``None``: counted and reported here.

    Raises:
        DistantError: the file is missing, empty or only whitespace, or not UTF-8; a quirk when strict.
    """
    check_file(path, expected)
    own = quirks is None
    quirks = quirks if quirks is not None else Quirks(path)
    name = source_name(path)
    has_text = False
    number = 0
    with open_input(path) as f:
        for raw in _checked(f, path):
            crlf = raw.endswith(b"\r\n")
            body = raw[: -2 if crlf else -1] if raw.endswith(b"\n") else raw
            pieces = [body]
            if b"\r" in body:  # each CR left ends a line
                for k in range(1, body.count(b"\r") + 1):
                    quirks.note("lines ending in CR alone", number + k, found="a line ending in CR alone",
                                expected="LF line endings")
                pieces = body.split(b"\r")
                if not raw.endswith(b"\n") and pieces[-1] == b"":
                    pieces.pop()  # the CR that ends the last line of the input
            if crlf:
                quirks.note("lines ending in CR LF", number + len(pieces), found="a CR LF line ending",
                            expected="LF line endings")
            for piece in pieces:
                number += 1
                line = decode_line(piece, name, number)
                if number == 1 and line.startswith(BOM):
                    line = line[1:]
                    quirks.note("byte order marks", 1, found="a UTF-8 byte order mark",
                                expected="UTF-8 text without one")
                if not has_text and line.strip():
                    has_text = True
                yield number, line
    if not has_text:
        raise DistantError(f"empty input: expected {expected}", name)
    if own:
        quirks.report()


def is_gzip(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a gzip-compressed file (``.gz``), read as its decompressed bytes."""
    return not is_stdio(path) and os.fspath(path).lower().endswith(".gz")


def open_input(path: str | os.PathLike) -> contextlib.AbstractContextManager:
    """Open an input for reading bytes: standard input for ``-``, gzip-decompressed for ``.gz``."""
    if is_stdio(path):
        return contextlib.nullcontext(sys.stdin.buffer)  # read, never closed
    try:
        if is_gzip(path):
            return _GzipLines(path)
        return Path(path).open("rb")
    except OSError as e:
        raise DistantError(f"cannot read the input: {e.strerror or type(e).__name__}", path) from None


class _GzipLines(gzip.GzipFile):
    """A gzip file opened for reading (the name, not a file object, is what a message shows)."""

    def __init__(self, path: str | os.PathLike) -> None:
        super().__init__(os.fspath(path), "rb")


def _checked(f, path: str | os.PathLike) -> Iterator[bytes]:
    """Yield the lines of ``f``; a damaged gzip stream is one error naming the file."""
    try:
        yield from f
    except (EOFError, gzip.BadGzipFile) as e:
        raise DistantError(f"found a damaged gzip file ({e or 'it ends early'}), expected gzip-compressed text",
                           path) from None


def decode_line(raw: bytes, path: str | os.PathLike, number: int) -> str:
    """Decode one line of UTF-8, or raise :class:`DistantError` naming the line and the bad byte."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _not_utf8(raw, e.start, e.start + 1, path, number) from None


def read_text(path: str | os.PathLike, expected: str, quirks: Quirks | None = None) -> str:
    """Return the whole UTF-8 text of ``path`` (for formats that hold one text per file).

    A byte order mark is removed (a quirk when ``quirks`` is given); line endings are kept as they are.
    """
    data = read_bytes(path, expected)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise _not_utf8(data, e.start, column, source_name(path), data.count(b"\n", 0, e.start) + 1) from None
    if text.startswith(BOM):
        text = text[1:]
        if quirks is not None:
            quirks.note("byte order marks", 1, found="a UTF-8 byte order mark", expected="UTF-8 text without one")
    return text


def _not_utf8(data: bytes, offset: int, column: int, path: str | os.PathLike, number: int) -> DistantError:
    return DistantError(
        f"found byte 0x{data[offset]:02x} at column {column} that is not valid UTF-8; expected UTF-8 text",
        path, number,
    )
