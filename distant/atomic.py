"""Writing outputs: atomically to regular files, straight through to everything else.

A regular file is written to a temporary file beside it and renamed over it when the block ends without
error, so an interrupted run leaves either the old file or the new one, never half of one. What is not a
regular file is never replaced: ``-`` is standard output, a FIFO or a device (``/dev/stdout``) is written
through, and a symlink keeps pointing where it did (its target is written atomically). A new file gets the
mode the umask gives (as ``open`` would), a replaced one keeps its mode. A temporary file left behind by a
killed process is removed the next time its folder is written to.
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import stat
import sys
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import IO

from distant.errors import DistantError

STDIO = "-"  # as an input: standard input; as an output: standard output
_TMP_SUFFIX = ".tmp"
_cleaned: set[str] = set()  # folders whose stale temporary files this process has removed


def is_stdio(path: str | os.PathLike) -> bool:
    """Return whether ``path`` is ``-`` (standard input or output)."""
    return os.fspath(path) == STDIO


@lru_cache(maxsize=1)
def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _writable_error(path: Path, e: OSError) -> DistantError:
    reason = e.strerror or type(e).__name__
    return DistantError(f"cannot write the output: {reason}", path)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open ``path`` for writing; a regular file is replaced only when the block ends without error.

    Args:
        path: The output: a file (new or existing), a symlink, a FIFO or device, or ``-`` for standard output.
        mode: ``"w"`` (text, UTF-8, newlines written as given) or ``"wb"``.
        encoding: The text encoding.

    Raises:
        DistantError: the output cannot be created or written (naming the output, not a temporary file).
    """
    binary = "b" in mode
    if is_stdio(path):
        yield from _stdout(binary, encoding)
        return
    path = Path(path)
    try:
        info = path.stat()  # of what a symlink points to
    except (FileNotFoundError, NotADirectoryError):
        info = None
    if info is not None and not stat.S_ISREG(info.st_mode):  # a FIFO, a device (/dev/stdout): write through
        if stat.S_ISDIR(info.st_mode):
            raise DistantError("found a folder, expected a file to write", path)
        try:
            f = open(path, mode, encoding=None if binary else encoding, newline=None if binary else "")
        except OSError as e:
            raise _writable_error(path, e) from None
        with f:
            yield f
        return
    if path.is_symlink():  # replace the file it points to, not the link
        path = Path(os.path.realpath(path))
    yield from _replace(path, mode, encoding)


def _stdout(binary: bool, encoding: str | None) -> Iterator[IO]:
    sys.stdout.flush()
    if binary:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    stream = io.TextIOWrapper(sys.stdout.buffer, encoding=encoding or "utf-8", newline="")
    try:
        yield stream
        stream.flush()
    finally:
        stream.detach()  # leave sys.stdout open


def _replace(path: Path, mode: str, encoding: str | None) -> Iterator[IO]:
    binary = "b" in mode
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(path.parent)
        tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{_TMP_SUFFIX}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as e:
        raise _writable_error(path, e) from None
    try:
        with os.fdopen(fd, mode, encoding=None if binary else encoding, newline=None if binary else "") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        try:
            old_mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            old_mode = 0o666 & ~_umask()
        os.chmod(tmp, old_mode)
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(e, OSError) and not isinstance(e, BrokenPipeError):
            raise _writable_error(path, e) from None
        raise


def remove_stale_temporaries(folder: Path) -> int:
    """Remove the temporary files in ``folder`` that a process no longer running left behind; return how many.

    A folder is looked at once per process (writing many files into one folder stays linear).
    """
    key = os.fspath(folder.resolve())
    if key in _cleaned:
        return 0
    _cleaned.add(key)
    removed = 0
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            name = entry.name
            if not (name.startswith(".") and name.endswith(_TMP_SUFFIX)):
                continue
            parts = name[: -len(_TMP_SUFFIX)].rsplit(".", 2)
            if len(parts) != 3 or not parts[1].isdigit() or _alive(int(parts[1])):
                continue
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed += 1
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_open(path) as f:
        f.write(text)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, "wb") as f:
        f.write(data)
