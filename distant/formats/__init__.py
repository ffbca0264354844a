"""Readers and writers of corpus formats, one module per format, in one registry.

Every reader returns :class:`~distant.docs.Document` objects; every writer takes them. A format is named
explicitly or guessed from the file name (a ``.txt`` file is sniffed: PubTator or plain text). ``-`` reads
standard input or writes standard output; its format must be named.

Readers are lenient by default: a benign quirk of a real corpus (CR LF line endings, a mention column that
differs from the text at its offsets, a repaired CoNLL tag, ...) is read and counted in one warning per file;
``strict=True`` refuses it. Malformed input is always a :class:`~distant.errors.DistantError`. Writers refuse
what their format cannot read back, and count in a warning what it cannot hold.

==========  ======  =====  ================================================================
name        read    write  holds
==========  ======  =====  ================================================================
text        yes     yes    one document per line, or a folder of ``.txt`` files
pubtator    yes     yes    title, abstract and mention lines (BioCreative, PubTator)
conll       yes     yes    one token and tag per line (IOB2, IOB1, IOBES, IO)
jsonl       yes     yes    one JSON document per line with every span layer (lossless)
docbin      yes     yes    spaCy DocBin (``.spacy``), the whole document kept in ``user_data``
ck          yes     no     AutoNER Tie-or-Break chunks
pubmed      yes     no     PubMed baseline/update XML (``.xml``, ``.xml.gz``): PMID, title, abstract
wrench      yes     yes    WRENCH/CHMM ``.json`` splits: tokens, gold, a layer per labelling function
bioc        yes     yes    BioC XML (``.bioc.xml``, or ``.xml`` with a ``<collection>``): passages, annotations
bioc-json   yes     yes    BioC JSON (``.bioc.json``, or a ``.json`` object): the same
brat        yes     yes    brat standoff: ``.txt`` + ``.ann`` pairs, a folder of them
prodigy     yes     no     Prodigy JSONL (``spans``), named with ``--from prodigy``
doccano     yes     no     doccano JSONL (``label``: [[start, end, type]]), named with ``--from doccano``
labelstudio yes     no     Label Studio JSON export (``.json`` array of tasks)
==========  ======  =====  ================================================================

Any input ending in ``.gz`` is read as it decompresses (``corpus.jsonl.gz``, ``pubmed26n0001.xml.gz``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

from distant.atomic import is_stdio
from distant.docs import GOLD, PRED, Document
from distant.errors import DistantError
from distant.formats import bioc_format, brat, ck, conll, docbin, exports, jsonl, pubmed, pubtator, text, wrench
from distant.formats.lines import open_input, source_name
from distant.formats.validate import check_document

log = logging.getLogger(__name__)

Reader = Callable[..., Iterable[Document]]  # (path, *, layer, scheme, strict) -> documents, as read
Writer = Callable[..., None]  # (docs, path, *, layer, scheme) -> None


@dataclass(frozen=True)
class Format:
    """A registered format.

    Attributes:
        name: The name a config or the CLI uses.
        read: ``read(path, *, layer, scheme, strict) -> Iterable[Document]`` (a generator where it streams).
        write: ``write(docs, path, *, layer, scheme)``, or ``None`` for a read-only format.
        extensions: File name endings that select it (lower case, with the dot).
        description: One line for help texts.
        spans: Whether it holds spans (plain text does not).
        folder: Whether a folder is one input of it (a corpus of files), not a folder of shards.
    """

    name: str
    read: Reader
    write: Writer | None
    extensions: tuple[str, ...]
    description: str
    spans: bool = True
    folder: bool = False


FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("text", text.read, text.write, (".txt",), "plain text: one document per line, or a folder of .txt files",
           spans=False),
    Format("pubtator", pubtator.read, pubtator.write, (".pubtator", ".pubtator.txt"),
           "PubTator: PMID|t|title, PMID|a|abstract, tab-separated mention lines"),
    Format("conll", conll.read, conll.write, (".conll", ".tsv", ".bio", ".iob", ".iob2", ".iobes"),
           "CoNLL: token and tag columns, a blank line between sentences"),
    Format("jsonl", jsonl.read, jsonl.write, (".jsonl", ".ndjson"),
           "JSON Lines: one document per line with every span layer"),
    Format("docbin", docbin.read, docbin.write, (".spacy", ".docbin"), "spaCy DocBin"),
    Format("ck", ck.read, None, (".ck",), "AutoNER Tie-or-Break chunks (read only)"),
    Format("pubmed", pubmed.read, None, (".xml",), "PubMed baseline/update XML, .xml.gz too (read only)"),
    Format("wrench", wrench.read, wrench.write, (".json",),
           "WRENCH/CHMM JSON: tokens, gold, one layer per labelling function (meta.json beside)"),
    Format("bioc", bioc_format.read_xml, bioc_format.write_xml, (".bioc.xml", ".bioc"), "BioC XML"),
    Format("bioc-json", bioc_format.read_json, bioc_format.write_json, (".bioc.json",), "BioC JSON"),
    Format("brat", brat.read, brat.write, (".ann",), "brat standoff: .txt and .ann pairs, or a folder of them",
           folder=True),
    Format("prodigy", exports.read_prodigy, None, (), "Prodigy JSONL with spans (read only; --from prodigy)"),
    Format("doccano", exports.read_doccano, None, (), "doccano JSONL with label (read only; --from doccano)"),
    Format("labelstudio", exports.read_labelstudio, None, (".json",), "Label Studio JSON export (read only)"),
)}


def _format(name: str) -> Format:
    try:
        return FORMATS[name]
    except KeyError:
        raise DistantError(f"unknown format {name!r}; expected one of {', '.join(FORMATS)}") from None


def detect_format(path: str | PathLike, *, output: bool = False) -> str:
    """Return the format of ``path`` from its name; a folder is ``text``; an existing ``.txt`` file is sniffed.

    A ``.txt`` file is PubTator when its first non-empty line looks like ``PMID|t|`` or ``PMID|a|``.

    Args:
        path: The input or output.
        output: ``path`` is to be written (for the message about ``-``).

    Raises:
        DistantError: the name ends with no known extension, or is ``-`` (standard input or output).
    """
    if is_stdio(path):
        stream, option = ("standard output", "--to") if output else ("standard input", "--from")
        raise DistantError(f"cannot tell the format of {stream} ('-') from a name; expected the format named "
                           f"({option} {' | '.join(FORMATS)}, e.g. {option} jsonl)")
    path = Path(path)
    if path.is_dir():
        return "brat" if brat.is_brat_folder(path) else "text"
    name = path.name.lower().removesuffix(".gz")  # compression is no format: a.jsonl.gz is JSON Lines
    endings = sorted(((ext, f.name) for f in FORMATS.values() for ext in f.extensions), key=lambda e: -len(e[0]))
    for ext, fmt in endings:
        if name.endswith(ext):
            if fmt == "text" and path.is_file() and _looks_like_pubtator(path):
                return "pubtator"
            if ext in (".xml", ".json") and path.is_file():
                return _sniff_markup(path, fmt)
            return fmt
    if not path.suffix and not path.exists():
        return "text"  # a folder to be written
    known = ", ".join(ext for ext, _ in sorted(endings))
    raise DistantError(f"cannot tell the format from the name {path.name!r}; expected a folder or a name ending in "
                       f"{known} (or name the format: {', '.join(FORMATS)})", path)


def _sniff_markup(path: Path, fmt: str) -> str:
    """Tell BioC from PubMed XML (``<collection>``), and among ``.json``: a Label Studio export (an array), WRENCH
    (an object of examples with ``data`` / ``weak_labels``) and BioC JSON (another object)."""
    try:
        with open_input(path) as f:
            head = f.read(4096).decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    except (OSError, EOFError, DistantError):  # unreadable or damaged: the reader says so
        return fmt
    if fmt == "pubmed":
        return "bioc" if re.search(r"<collection[\s>]", head) else fmt
    if head.startswith("["):
        return "labelstudio"  # an export is an array of tasks
    if re.match(r'\{\s*"[^"]*"\s*:\s*\{\s*"(data|label|weak_labels)"', head) or '"weak_labels"' in head:
        return "wrench"  # {"0": {"data": ..., "label": ..., "weak_labels": ...}, ...}
    return "bioc-json" if head.startswith("{") else fmt


def _looks_like_pubtator(path: Path) -> bool:
    with open_input(path) as f:
        for raw in f:
            line = raw.decode("utf-8", errors="replace").lstrip("\ufeff")
            if line.strip():
                return re.match(pubtator.SNIFF, line) is not None
    return False


def iter_documents(path: str | PathLike, fmt: str | None = None, *, layer: str = GOLD,
                   scheme: str | None = None, strict: bool = False) -> Iterator[Document]:
    """Yield the documents of ``path`` as they are read (PubTator, JSONL, text and PubMed XML stream; CoNLL,
    DocBin and .ck files are read whole, one file at a time).

    Args:
        path: A file (``.gz`` read transparently), a folder of ``.txt`` files, or ``-`` for standard input
            (``fmt`` is then needed).
        fmt: The format's name; ``None`` detects it (:func:`detect_format`).
        layer: The layer that receives the file's spans (JSONL and DocBin files name their own layers).
        scheme: The tag scheme of a CoNLL file; ``None`` detects it (and logs which).
        strict: Refuse the benign quirks that are otherwise read and counted in one warning per file.

    Raises:
        DistantError: an unknown format, or bad input (the message names the file and line).
    """
    path = Path(path)
    yield from _format(fmt or detect_format(path)).read(path, layer=layer, scheme=scheme, strict=strict)


def read_documents(path: str | PathLike, fmt: str | None = None, *, layer: str = GOLD,
                   scheme: str | None = None, strict: bool = False) -> list[Document]:
    """Read every document of ``path`` into a list (:func:`iter_documents` says how)."""
    return list(iter_documents(path, fmt, layer=layer, scheme=scheme, strict=strict))


def write_documents(docs: Iterable[Document], path: str | PathLike, fmt: str | None = None, *, layer: str = PRED,
                    scheme: str = "IOB2") -> int:
    """Write documents to ``path`` atomically, as they come (a generator is consumed once); return how many.

    Every document is checked before it is written (:func:`~distant.formats.validate.check_document`: no lone
    surrogate, valid labels, well-formed meta); a bad one stops the writing and nothing is left. Plain text holds
    no spans: when the format was guessed from the name (``out.txt`` or a folder) and ``layer`` has spans, that
    is an error; when ``text`` is named, the texts are written with one warning that counts the spans left out.

    Args:
        docs: The documents.
        path: The output file (a folder for ``text`` with one file per document), or ``-`` for standard output
            (``fmt`` is then needed).
        fmt: The format's name; ``None`` detects it from the name.
        layer: The layer to write (JSONL writes every layer; DocBin writes every layer and makes this one the
            entities).
        scheme: The tag scheme of a CoNLL file.

    Raises:
        DistantError: an unknown or read-only format, or documents the format cannot hold.
    """
    path = Path(path)
    f = _format(fmt or detect_format(path, output=True))
    if f.write is None:
        writable = ", ".join(name for name, g in FORMATS.items() if g.write is not None)
        raise DistantError(f"format {f.name!r} is read only; expected one of {writable}", path)
    counts = {"documents": 0, "spans": 0}
    checked = _checked(docs, path, f, layer, named=fmt is not None, counts=counts)
    # A list is checked whole before anything is written; an iterator streams, each document checked as it comes.
    f.write(list(checked) if isinstance(docs, Sequence) else checked, path, layer=layer, scheme=scheme)
    if counts["spans"]:
        log.warning("%s: %d spans in layer %r not written: %s holds no spans (%s do)", source_name(path),
                    counts["spans"], layer, f.name, _holding())
    return counts["documents"]


def _holding() -> str:
    return ", ".join(name for name, g in FORMATS.items() if g.spans and g.write is not None)


def _checked(docs: Iterable[Document], path: Path, f: Format, layer: str, *, named: bool,
             counts: dict[str, int]) -> Iterator[Document]:
    """Yield ``docs`` to a writer, each checked first; count them, and the spans a format without spans drops."""
    for doc in docs:
        check_document(doc, source_name(path))
        n = 0 if f.spans else len(doc.spans(layer))
        if n and not named:
            raise DistantError(f"found {n} spans in layer {layer!r} (document {doc.id}) and a name that means {f.name} "
                               f"({path.name or path}), which holds no spans; expected a format that holds them "
                               f"({_holding()}), or the format {f.name} named explicitly to write the texts alone",
                               source_name(path))
        counts["documents"] += 1
        counts["spans"] += n
        yield doc


def convert(src: str | PathLike, dst: str | PathLike, src_fmt: str | None = None, dst_fmt: str | None = None, *,
            layer: str = GOLD, scheme: str = "IOB2", src_scheme: str | None = None, strict: bool = False) -> int:
    """Read ``src`` and write it to ``dst``, keeping ``layer``; return the number of documents.

    ``scheme`` is the tag scheme of a CoNLL output, ``src_scheme`` that of a CoNLL input (``None``: detected
    from its tags); ``strict`` makes the reading strict (:func:`read_documents`).
    """
    docs = iter_documents(src, src_fmt, layer=layer, scheme=src_scheme, strict=strict)
    return write_documents(docs, dst, dst_fmt, layer=layer, scheme=scheme)


__all__ = ["FORMATS", "Format", "convert", "detect_format", "iter_documents", "read_documents", "write_documents"]
