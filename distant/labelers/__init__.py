"""Labelers: dictionaries, abbreviations, patterns and consistency, aggregated into pseudo-labels.

Each labeler writes its own layer; an aggregator combines the layers into ``pseudo``. Labelers a config
names are registered here, by explicit import, under a stable type name::

    [[labelers]]
    type = "dictionary"
    name = "core"
    dicts = ["${DISTANT_DATA}/BC5CDR/autoner/dict_core.txt"]
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from distant.config import build
from distant.docs import GOLD, PRED, PSEUDO
from distant.errors import DistantError
from distant.labelers.abbreviation import AbbreviationLabeler, AbbreviationOptions
from distant.labelers.aggregate import (
    AggregateOptions, Aggregator, PriorityAggregator, VoteAggregator, allowed_tags, build_aggregator,
)
from distant.labelers.base import Labeler
from distant.labelers.consistency import ConsistencyLabeler, ConsistencyOptions
from distant.labelers.dictionary import DictionaryLabeler, DictionaryOptions, PhraseMatcher
from distant.labelers.pattern import PatternLabeler, PatternOptions

LABELERS: dict[str, type[Labeler]] = {
    "dictionary": DictionaryLabeler,
    "abbreviation": AbbreviationLabeler,
    "pattern": PatternLabeler,
    "consistency": ConsistencyLabeler,
}
RESERVED_NAMES = {GOLD, PSEUDO, PRED}


def build_labelers(specs: Sequence[dict[str, Any]], path: str | Path | None = None,
                   base: Path | None = None) -> list[Labeler]:
    """Build labelers from ``[[labelers]]`` tables: ``{type = "...", name = "...", ...options}``.

    Args:
        specs: The tables, in priority order.
        path: The config file, named in error messages.
        base: Folder that relative paths are resolved against.

    Raises:
        DistantError: an unknown type (listing the available ones), a duplicate or reserved name, a bad
            option (naming the dotted key), or a layer to read that no earlier labeler writes (``gold``,
            ``pred`` and ``pseudo`` may come with the documents and are not checked).
    """
    labelers: list[Labeler] = []
    names: set[str] = set()
    available = ", ".join(sorted(LABELERS))
    for k, spec in enumerate(specs):
        where = f"labelers[{k}]"
        if not isinstance(spec, dict):
            raise DistantError(f"{where}: expected a table, found {spec!r}", path)
        options = dict(spec)
        kind = options.pop("type", None)
        if kind is None:
            raise DistantError(f"{where}: missing key 'type' (one of {available})", path)
        cls = LABELERS.get(kind)
        if cls is None:
            close = difflib.get_close_matches(str(kind), list(LABELERS), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise DistantError(f"{where}.type: unknown labeler {kind!r}{hint} (available: {available})", path)
        name = options.pop("name", kind)
        if not isinstance(name, str) or not name:
            raise DistantError(f"{where}.name: expected a non-empty string, found {name!r}", path)
        if name in names or name in RESERVED_NAMES:
            what = "is used by another labeler" if name in names else "is reserved for another layer"
            raise DistantError(f"{where}.name: {name!r} {what}; give each labeler its own name", path)
        labeler = cls(name, build(cls.Options, options, path=path, prefix=f"{where}.", base=base))
        for layer in labeler.reads():
            if layer not in names and layer not in RESERVED_NAMES:
                later = {s.get("name", s.get("type")) for s in specs[k + 1:] if isinstance(s, dict)}
                close = difflib.get_close_matches(layer, sorted(names), n=1)
                hint = (f"; labeler {layer!r} runs after it: put it first (labelers run in file order)"
                        if layer in later else f"; did you mean {close[0]!r}?" if close else "")
                raise DistantError(f"{where}: the {kind} labeler reads layer {layer!r}, which no labeler before it "
                                   f"writes{hint} (layers before it: {', '.join(sorted(names)) or 'none'})", path)
        names.add(name)
        labelers.append(labeler)
    return labelers


__all__ = [
    "LABELERS", "Labeler", "build_labelers", "DictionaryLabeler", "DictionaryOptions", "PhraseMatcher",
    "AbbreviationLabeler", "AbbreviationOptions", "PatternLabeler", "PatternOptions", "ConsistencyLabeler",
    "ConsistencyOptions", "Aggregator", "AggregateOptions", "PriorityAggregator", "VoteAggregator",
    "allowed_tags", "build_aggregator",
]
