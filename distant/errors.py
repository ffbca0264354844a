"""The project's error type for bad user input.

Every error a user can cause (a malformed file, an unknown config key, a missing model) is raised as a
:class:`DistantError`. The CLI turns it into one line on stderr and exit code 2; a traceback means a bug.
"""

from __future__ import annotations

from os import PathLike


class DistantError(Exception):
    """Bad input: says where (file and line, or document id), what was found and what was expected."""

    def __init__(self, message: str, path: str | PathLike | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = None if path is None else str(path)
        self.line = line

    def __str__(self) -> str:
        where = self.path or ""
        if self.line is not None:
            where = f"{where}:{self.line}" if where else f"line {self.line}"
        return f"{where}: {self.message}" if where else self.message
