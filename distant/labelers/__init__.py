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

from distant.config.labelers import LABELER_OPTIONS, RESERVED_NAMES, LabelerConfig, labeler_configs
from distant.errors import DistantError
from distant.labelers.abbreviation import AbbreviationLabeler
from distant.labelers.aggregate import Aggregator, PriorityAggregator, VoteAggregator, allowed_tags, build_aggregator
from distant.labelers.base import Labeler
from distant.labelers.consistency import ConsistencyLabeler
from distant.labelers.dictionary import DictionaryLabeler, PhraseMatcher
from distant.labelers.function import FunctionLabeler
from distant.labelers.pattern import PatternLabeler

LABELERS: dict[str, type[Labeler]] = {
    "dictionary": DictionaryLabeler,
    "abbreviation": AbbreviationLabeler,
    "pattern": PatternLabeler,
    "consistency": ConsistencyLabeler,
    "function": FunctionLabeler,
}


def build_labelers(configs: Sequence[LabelerConfig | dict[str, Any]], path: str | Path | None = None) -> list[Labeler]:
    """Build the labelers of ``[[labelers]]`` tables (typed by :mod:`distant.config.labelers`), in order.

    Args:
        configs: The tables, in priority order: :class:`~distant.config.labelers.LabelerConfig` objects, or
            plain tables ``{"type": ..., "name": ..., **options}`` (checked as a config file's would be).
        path: The config file, named in error messages.

    Raises:
        DistantError: a bad table or option, a name used twice, or a layer to read that no earlier labeler
            writes (``gold``, ``pred`` and ``pseudo`` may come with the documents and are not checked).
    """
    configs = labeler_configs(list(configs), None if path is None else Path(path))
    labelers: list[Labeler] = []
    names: set[str] = set()
    for k, config in enumerate(configs):
        labeler = LABELERS[config.type](config.name, config.options)
        for layer in labeler.reads():
            if layer not in names and layer not in RESERVED_NAMES:
                later = {c.name for c in configs[k + 1:]}
                close = difflib.get_close_matches(layer, sorted(names), n=1)
                hint = (f"; labeler {layer!r} runs after it: put it first (labelers run in file order)"
                        if layer in later else f"; did you mean {close[0]!r}?" if close else "")
                raise DistantError(f"labelers[{k}]: the {config.type} labeler reads layer {layer!r}, which no "
                                   f"labeler before it writes{hint} (layers before it: "
                                   f"{', '.join(sorted(names)) or 'none'})", path)
        names.add(config.name)
        labelers.append(labeler)
    return labelers


assert LABELERS.keys() == LABELER_OPTIONS.keys(), "every labeler type declares its options in distant.config"

__all__ = [
    "LABELERS", "Labeler", "build_labelers", "DictionaryLabeler", "PhraseMatcher", "AbbreviationLabeler",
    "PatternLabeler", "ConsistencyLabeler", "FunctionLabeler", "Aggregator", "PriorityAggregator", "VoteAggregator", "allowed_tags",
    "build_aggregator",
]
