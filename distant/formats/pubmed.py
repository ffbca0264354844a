"""PubMed baseline and update XML (``pubmed26n0001.xml.gz``), read only, streaming.

::

    <PubmedArticleSet>
      <PubmedArticle><MedlineCitation><PMID>12345</PMID><Article>
        <ArticleTitle>Famotidine-associated <i>delirium</i>.</ArticleTitle>
        <Abstract>
          <AbstractText Label="BACKGROUND">Famotidine is ...</AbstractText>
          <AbstractText Label="METHODS">We ...</AbstractText>
        </Abstract>
      </Article></MedlineCitation></PubmedArticle>
      <DeleteCitation><PMID>23456</PMID></DeleteCitation>
    </PubmedArticleSet>

A record becomes a document whose id is its PMID and whose text is the title, a space and the abstract, as in
PubTator (``meta["title_length"]``, and the abstract starts a sentence). A structured abstract is joined as
PubMed shows it, ``BACKGROUND: ... METHODS: ...``; inline markup (``<i>``, ``<sup>``, ``<sub>``) is kept as its
text, and runs of white space (line breaks included) become one space. Book records (``PubmedBookArticle``)
are read the same way. What a record lacks is counted in one warning per file: records with no abstract (read
with their title alone), records with no text at all (not read), and the deletions of an update file.

The file is parsed with ``iterparse`` and every record is cleared once read, so memory stays flat however
large the file; a ``.gz`` file is read as it decompresses.
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from distant.docs import GOLD, Document
from distant.errors import DistantError
from distant.formats.lines import check_file, open_input, source_name

log = logging.getLogger(__name__)

EXPECTED = "a PubMed XML file (<PubmedArticleSet> with <PubmedArticle> records)"
RECORDS = ("PubmedArticle", "PubmedBookArticle")
_SPACE = re.compile(r"\s+")


def read(path: Path, *, layer: str = GOLD, scheme: str | None = None, strict: bool = False) -> Iterator[Document]:
    """Yield one document per PubMed record of ``path``, as they are parsed (``layer``, ``scheme``: unused).

    ``strict``: unused (a record with no abstract is no quirk: PubMed holds millions; they are counted).

    Raises:
        DistantError: XML that does not parse (naming the line and column), a root that is not
            ``PubmedArticleSet``, a record with no PMID, or no record at all.
    """
    path = Path(path)
    name = source_name(path)
    check_file(path, EXPECTED)
    records = deleted = 0
    skipped = Counter()  # what was not read as a whole document: kind -> records
    first: dict[str, str] = {}  # kind -> the first PMID of that kind
    root = None
    with open_input(path) as f:
        try:
            for event, elem in ET.iterparse(f, events=("start", "end")):
                if root is None:
                    root = elem
                    if _local(elem.tag) != "PubmedArticleSet":
                        raise DistantError(f"found the root element <{_local(elem.tag)}>, expected "
                                           "<PubmedArticleSet>", name)
                    continue
                if event != "end":
                    continue
                tag = _local(elem.tag)
                if tag in RECORDS:
                    records += 1
                    doc, kind = _document(elem, records, name)
                    if kind:
                        skipped[kind] += 1
                        first.setdefault(kind, doc.id if doc is not None else _text(elem.find(".//PMID")))
                    root.clear()  # what was read is not kept: memory stays flat
                    if doc is not None:
                        yield doc
                elif tag == "DeleteCitation":
                    deleted += len(elem.findall("PMID"))
                    root.clear()
        except ET.ParseError as e:
            if root is None and e.code == 3:  # expat's "no element found": no XML at all
                raise DistantError(f"empty input: expected {EXPECTED}", name) from None
            line, column = e.position
            raise DistantError(f"found XML that does not parse ({_SPACE.sub(' ', str(e))}) at column {column}, "
                               f"expected {EXPECTED}", name, line) from None
        except EOFError:
            raise DistantError("found a damaged gzip file (it ends early), expected gzip-compressed XML", name) \
                from None
    if root is None or records == 0 and not deleted:
        raise DistantError(f"empty input: found no PubmedArticle record, expected {EXPECTED}", name)
    notes = [f"{n} {kind} (first: PMID {first[kind]})" for kind, n in skipped.items()]
    if deleted:
        notes.append(f"{deleted} deleted citations (DeleteCitation; no document)")
    if notes:
        log.warning("%s: %d records: %s", name, records, "; ".join(notes))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _text(elem: ET.Element | None) -> str:
    """Return the text of ``elem`` with its inline markup as text and white space runs as one space."""
    return "" if elem is None else " ".join("".join(elem.itertext()).split())  # str.split: the white space of \s


def _document(record: ET.Element, number: int, name: str) -> tuple[Document | None, str]:
    """Return the record's document (``None``: it has no text) and what it lacks (``""``: nothing)."""
    pmid = _text(record.find(".//PMID"))
    if not pmid:
        raise DistantError(f"record {number}: found no PMID, expected <PMID> in every record", name)
    title = _text(record.find(".//ArticleTitle")) or _text(record.find(".//BookTitle"))
    parts = []
    for part in record.findall(".//Abstract/AbstractText"):
        text = _text(part)
        label = (part.get("Label") or "").strip()
        if text:
            parts.append(f"{label}: {text}" if label else text)
    abstract = " ".join(parts)
    if not title and not abstract:
        return None, "records with no title and no abstract (not read)"
    if not abstract:
        return Document(pmid, title, meta={"title_length": len(title)}), "records with no abstract (title alone)"
    if not title:
        return Document(pmid, abstract), "records with no title (abstract alone)"
    return Document(pmid, f"{title} {abstract}", meta={"title_length": len(title), "breaks": [len(title) + 1]}), ""
