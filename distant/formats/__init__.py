"""Readers and writers of corpus formats, one module per format, in one registry.

Every reader returns :class:`~distant.docs.Document` objects; every writer takes them. A format is named
explicitly or guessed from the file name (a ``.txt`` file is sniffed: PubTator or plain text).

==========  ======  =====  ================================================================
name        read    write  holds
==========  ======  =====  ================================================================
text        yes     yes    one document per line, or a folder of ``.txt`` files
pubtator    yes     yes    title, abstract and mention lines (BioCreative, PubTator)
conll       yes     yes    one token and tag per line (IOB2, IOB1, IOBES, IO)
jsonl       yes     yes    one JSON document per line with every span layer (lossless)
docbin      yes     yes    spaCy DocBin (``.spacy``)
ck          yes     no     AutoNER Tie-or-Break chunks
==========  ======  =====  ================================================================
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

from distant.docs import GOLD, PRED, Document
from distant.errors import DistantError
from distant.formats import ck, conll, docbin, jsonl, pubtator, text

Reader = Callable[..., list[Document]]  # (path, *, layer, scheme) -> documents
Writer = Callable[..., None]  # (docs, path, *, layer, scheme) -> None


@dataclass(frozen=True)
class Format:
    """A registered format.

    Attributes:
        name: The name a config or the CLI uses.
        read: ``read(path, *, layer, scheme) -> list[Document]``.
        write: ``write(docs, path, *, layer, scheme)``, or ``None`` for a read-only format.
        extensions: File name endings that select it (lower case, with the dot).
        description: One line for help texts.
    """

    name: str
    read: Reader
    write: Writer | None
    extensions: tuple[str, ...]
    description: str


FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("text", text.read, text.write, (".txt",), "plain text: one document per line, or a folder of .txt files"),
    Format("pubtator", pubtator.read, pubtator.write, (".pubtator", ".pubtator.txt"),
           "PubTator: PMID|t|title, PMID|a|abstract, tab-separated mention lines"),
    Format("conll", conll.read, conll.write, (".conll", ".tsv", ".bio", ".iob", ".iob2", ".iobes"),
           "CoNLL: token and tag columns, a blank line between sentences"),
    Format("jsonl", jsonl.read, jsonl.write, (".jsonl", ".ndjson"),
           "JSON Lines: one document per line with every span layer"),
    Format("docbin", docbin.read, docbin.write, (".spacy", ".docbin"), "spaCy DocBin"),
    Format("ck", ck.read, None, (".ck",), "AutoNER Tie-or-Break chunks (read only)"),
)}


def _format(name: str) -> Format:
    try:
        return FORMATS[name]
    except KeyError:
        raise DistantError(f"unknown format {name!r}; expected one of {', '.join(FORMATS)}") from None


def detect_format(path: str | PathLike) -> str:
    """Return the format of ``path`` from its name; a folder is ``text``; an existing ``.txt`` file is sniffed.

    A ``.txt`` file is PubTator when its first non-empty line looks like ``PMID|t|`` or ``PMID|a|``.

    Raises:
        DistantError: the name ends with no known extension.
    """
    path = Path(path)
    if path.is_dir():
        return "text"
    name = path.name.lower()
    endings = sorted(((ext, f.name) for f in FORMATS.values() for ext in f.extensions), key=lambda e: -len(e[0]))
    for ext, fmt in endings:
        if name.endswith(ext):
            if fmt == "text" and path.is_file() and _looks_like_pubtator(path):
                return "pubtator"
            return fmt
    if not path.suffix and not path.exists():
        return "text"  # a folder to be written
    known = ", ".join(ext for ext, _ in sorted(endings))
    raise DistantError(f"cannot tell the format from the name {path.name!r}; expected a folder or a name ending in "
                       f"{known} (or name the format: {', '.join(FORMATS)})", path)


def _looks_like_pubtator(path: Path) -> bool:
    with path.open("rb") as f:
        for raw in f:
            line = raw.decode("utf-8", errors="replace").lstrip("\ufeff")
            if line.strip():
                return re.match(pubtator.SNIFF, line) is not None
    return False


def read_documents(path: str | PathLike, fmt: str | None = None, *, layer: str = GOLD,
                   scheme: str | None = None) -> list[Document]:
    """Read documents from ``path``.

    Args:
        path: A file, or a folder of ``.txt`` files.
        fmt: The format's name; ``None`` detects it (:func:`detect_format`).
        layer: The layer that receives the file's spans (JSONL and DocBin files name their own layers).
        scheme: The tag scheme of a CoNLL file; ``None`` guesses it.

    Raises:
        DistantError: an unknown format, or bad input (the message names the file and line).
    """
    path = Path(path)
    return _format(fmt or detect_format(path)).read(path, layer=layer, scheme=scheme)


def write_documents(docs: Iterable[Document], path: str | PathLike, fmt: str | None = None, *, layer: str = PRED,
                    scheme: str = "IOB2") -> None:
    """Write documents to ``path`` atomically.

    Args:
        docs: The documents.
        path: The output file (a folder for ``text`` with one file per document).
        fmt: The format's name; ``None`` detects it from the name.
        layer: The layer to write (JSONL writes every layer; DocBin writes every layer and makes this one the
            entities).
        scheme: The tag scheme of a CoNLL file.

    Raises:
        DistantError: an unknown or read-only format, or documents the format cannot hold.
    """
    path = Path(path)
    f = _format(fmt or detect_format(path))
    if f.write is None:
        writable = ", ".join(name for name, g in FORMATS.items() if g.write is not None)
        raise DistantError(f"format {f.name!r} is read only; expected one of {writable}", path)
    docs = docs if isinstance(docs, Sequence) else list(docs)
    f.write(docs, path, layer=layer, scheme=scheme)


def convert(src: str | PathLike, dst: str | PathLike, src_fmt: str | None = None, dst_fmt: str | None = None, *,
            layer: str = GOLD, scheme: str = "IOB2") -> int:
    """Read ``src`` and write it to ``dst``, keeping ``layer``; return the number of documents.

    ``scheme`` is the tag scheme of a CoNLL output (a CoNLL input's scheme is guessed from its tags).
    """
    docs = read_documents(src, src_fmt, layer=layer)
    write_documents(docs, dst, dst_fmt, layer=layer, scheme=scheme)
    return len(docs)


__all__ = ["FORMATS", "Format", "convert", "detect_format", "read_documents", "write_documents"]
