"""Labelers and aggregation (``[[labelers]]`` and ``[aggregate]``): each labeler type's options, typed.

A ``[[labelers]]`` table names its ``type`` and ``name``; its other keys are the options of that type
(:data:`LABELER_OPTIONS`), checked like every other table: an unknown key or a bad value is an error naming
the dotted key. The labelers themselves are in :mod:`distant.labelers`; a labeler type registered there
declares its options class here.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distant.config.core import build, to_dict
from distant.docs import ANY_TYPE, GOLD, PRED, PSEUDO, UNKNOWN, is_type_name
from distant.errors import DistantError

OVERLAP_POLICIES = ("longest", "all")
PLURAL_POLICIES = ("add", "fold", "off")
SNAP_RULES = ("expand", "drop")
MATCH_RULES = ("exact", "end")
METHODS = ("priority", "vote", "hmm", "dawid-skene")
LABEL_MODELS = ("hmm", "dawid-skene")  # fitted on the corpus (distant.labelers.labelmodel)
DECODINGS = ("viterbi", "marginal")
UNMATCHED = ("O", "unknown")
RESERVED_NAMES = {GOLD, PSEUDO, PRED}  # layers a labeler may not write


@dataclass
class DictionaryOptions:
    """Options of a ``dictionary`` labeler (a ``[[labelers]]`` table with ``type = "dictionary"``).

    Attributes:
        dicts: Typed dictionaries (``Type<TAB>surface[<TAB>kb_id]``).
        unknown: Untyped phrase lists; their matches are labeled ``-`` (unknown).
        stopwords: Stop-word list; single-token matches of these are skipped.
        overlap: ``longest`` (non-overlapping, maximal sum of squared lengths) or ``all``.
        lowercase: Fold case (see ``keep_case_max_len``).
        keep_case_max_len: All-caps tokens up to this length stay case-sensitive (``PD`` is not ``pd``).
        nfkc: Unicode NFKC and dash unification.
        greek: ``α`` matches ``alpha``.
        plurals: ``add``: an entry's plural matches too (``headache`` -> ``headaches``), not the other way;
            ``fold``: both sides are reduced to a simple singular (``cholinergic`` then matches
            ``cholinergics``); ``off``.
        hyphens: ``anti-inflammatory``, ``anti inflammatory`` and ``antiinflammatory`` match each other.
        unknown_label: Label of untyped phrase matches: ``-`` (no label: any tag, O included), ``A|B`` (an
            entity of one of these types, never O), or ``*``: an entity of any of the run's types (the
            training config's ``data.types``, by default every type the labelers emit), resolved to ``A|B``
            before labeling, so that a config names its types once.
        unknown_min_chars: Untyped matches shorter than this many characters stay ``-`` whatever
            ``unknown_label`` says: a lone letter ("P" in "P < 0.05") is too ambiguous to force.
        inner_type: An untyped match that contains typed matches of a single type takes that type, and
            being longer wins the overlap: ``nephrogenic diabetes insipidus`` (untyped) contains the Disease
            ``diabetes insipidus``, so the whole phrase is a Disease. Contained matches of two types
            (``cisplatin nephrotoxicity``) leave the typed matches as they are.
    """

    dicts: list[Path] = field(default_factory=list)
    unknown: list[Path] = field(default_factory=list)
    stopwords: Path | None = None
    overlap: str = "longest"
    lowercase: bool = True
    keep_case_max_len: int = 4
    nfkc: bool = True
    greek: bool = True
    plurals: str = "add"
    hyphens: bool = True
    unknown_label: str = UNKNOWN
    unknown_min_chars: int = 2
    inner_type: bool = True

    def __post_init__(self) -> None:
        if self.unknown_label not in (UNKNOWN, ANY_TYPE) and not all(
                is_type_name(t) for t in self.unknown_label.split("|")):
            raise ValueError(f"unknown_label: expected '-', '*' (any of the run's types) or entity types joined "
                             f"by '|', found {self.unknown_label!r}")
        if self.unknown_min_chars < 0:
            raise ValueError(f"unknown_min_chars: expected 0 or more, found {self.unknown_min_chars}")
        if self.plurals not in PLURAL_POLICIES:
            raise ValueError(f"plurals: expected one of {', '.join(PLURAL_POLICIES)}, found {self.plurals!r}")
        if self.overlap not in OVERLAP_POLICIES:
            raise ValueError(f"overlap: expected one of {', '.join(OVERLAP_POLICIES)}, found {self.overlap!r}")
        if self.keep_case_max_len < 0:
            raise ValueError(f"keep_case_max_len: expected 0 or more, found {self.keep_case_max_len}")



@dataclass
class PatternOptions:
    """Options of a ``pattern`` labeler.

    Attributes:
        tables: Regex tables (TSV with a header; Trove's format is accepted).
        labels: Map table labels to types (``{1 = "Chemical"}``).
        exclude_labels: Table labels that mark exclusions (emitted as ``O`` spans).
        snap: ``expand`` a match to the tokens it touches, or ``drop`` it (counted).
        regex_timeout: Seconds each regex may take on one document (over the text, or over all its tokens);
            one that runs past it is skipped on that document, counted and reported.
        suffixes: Type -> token endings (``{Chemical = ["mycin", "azole"]}``).
        prefixes: Type -> token beginnings.
        min_affix_length: Shortest token an affix rule labels.
        exclude_terms: Term lists (one a line) whose matches are labeled ``O``.
        terms_lowercase: Match exclusion terms ignoring case.
    """

    tables: list[Path] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    exclude_labels: list[str] = field(default_factory=lambda: ["0", "O", "EXCLUDE"])
    snap: str = "expand"
    regex_timeout: float = 1.0
    suffixes: dict[str, list[str]] = field(default_factory=dict)
    prefixes: dict[str, list[str]] = field(default_factory=dict)
    min_affix_length: int = 6
    exclude_terms: list[Path] = field(default_factory=list)
    terms_lowercase: bool = True

    def __post_init__(self) -> None:
        if self.snap not in SNAP_RULES:
            raise ValueError(f"snap: expected one of {', '.join(SNAP_RULES)}, found {self.snap!r}")
        if not (self.regex_timeout > 0 and math.isfinite(self.regex_timeout)):
            raise ValueError(f"regex_timeout: expected a number of seconds above 0, found {self.regex_timeout!r}")
        if self.min_affix_length < 0:
            raise ValueError(f"min_affix_length: expected 0 or more, found {self.min_affix_length}")
        for key, value in self.labels.items():
            if not isinstance(value, str) or not is_type_name(value):
                raise ValueError(f"labels.{key}: expected a type name, found {value!r}")
        for k, value in enumerate(self.exclude_labels):
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"exclude_labels[{k}]: expected a table label such as '0' or 'O', found {value!r}")
        for what, table in (("suffixes", self.suffixes), ("prefixes", self.prefixes)):
            for key, value in table.items():
                if not is_type_name(key) or not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ValueError(f"{what}.{key}: expected a type name mapped to a list of strings")
                if not all(value):
                    raise ValueError(f"{what}.{key}: expected non-empty strings, found {value!r} (an empty one "
                                     "would label every token)")



@dataclass
class AbbreviationOptions:
    """Options of an ``abbreviation`` labeler.

    Attributes:
        layer: The layer whose labels long forms take (run this labeler after the one that writes it).
        match: ``exact``: a span must cover exactly the long form; ``end``: a span that ends where the long
            form ends and lies inside it also counts (``levodopa-induced dyskinesia (LID)`` -> Disease).
    """

    layer: str = "dictionary"
    match: str = "end"

    def __post_init__(self) -> None:
        if not isinstance(self.layer, str) or not self.layer.strip():
            raise ValueError(f"layer: expected the name of the layer to read (a labeler's name), found {self.layer!r}")
        if self.match not in MATCH_RULES:
            raise ValueError(f"match: expected one of {', '.join(MATCH_RULES)}, found {self.match!r}")



@dataclass
class ConsistencyOptions:
    """Options of a ``consistency`` labeler.

    Attributes:
        layers: Layers whose entity spans are propagated (run this labeler after them).
        lowercase: Compare surfaces ignoring case.
        min_chars: Shortest surface (in characters) that is propagated.
    """

    layers: list[str] = field(default_factory=lambda: ["dictionary"])
    lowercase: bool = True
    min_chars: int = 3

    def __post_init__(self) -> None:
        if not self.layers:
            raise ValueError("layers: expected at least one layer to read (a labeler's name), found []")
        for k, layer in enumerate(self.layers):
            if not isinstance(layer, str) or not layer.strip():
                raise ValueError(f"layers[{k}]: expected the name of a layer to read (a labeler's name), "
                                 f"found {layer!r}")
        if self.min_chars < 0:
            raise ValueError(f"min_chars: expected 0 or more, found {self.min_chars}")



@dataclass
class AggregateConfig:
    """The ``[aggregate]`` table of a labeling config.

    Attributes:
        method: ``priority``, ``vote``, or a label model fitted on the corpus: ``hmm`` (tag transitions) or
            ``dawid-skene`` (none); see :mod:`distant.labelers.labelmodel`.
        layers: Layers to combine, highest priority first (default: every labeler, in config order).
        unmatched: What tokens no labeler covers are: ``O`` or ``unknown``.
        output: The layer written.
        decode: Label models: ``viterbi`` (best sequence) or ``marginal`` (best tag of each token).
        posterior_threshold: Label models: a token with more than one tag at or above this posterior is
            written as ``-`` (with its entity), so the tagger trains on it as a partial label; unset: the
            decoding alone.
        prior_weight: Label models: Dirichlet pseudo-counts per firing for the tag a labeler claims.
        iterations: Label models: most EM iterations (EM over correlated labelers drifts: choose on dev).
        tolerance: Label models: stop when the log-likelihood per token improves by less.
        restrict: Label models: an entity tag of type X only where some labeler says X.
    """

    method: str = "priority"
    layers: list[str] | None = None
    unmatched: str = "O"
    output: str = PSEUDO
    decode: str = "viterbi"
    posterior_threshold: float | None = None
    prior_weight: float = 0.5
    iterations: int = 2
    tolerance: float = 1e-4
    restrict: bool = True

    def __post_init__(self) -> None:
        if self.decode not in DECODINGS:
            raise ValueError(f"aggregate.decode: expected one of {', '.join(DECODINGS)}, found {self.decode!r}")
        if self.posterior_threshold is not None and not 0 < self.posterior_threshold <= 1:
            raise ValueError(f"aggregate.posterior_threshold: expected a number in (0, 1], found "
                             f"{self.posterior_threshold!r}")
        if not (self.prior_weight >= 0 and math.isfinite(self.prior_weight)):
            raise ValueError(f"aggregate.prior_weight: expected 0 or more, found {self.prior_weight!r}")
        if self.iterations < 1:
            raise ValueError(f"aggregate.iterations: expected 1 or more, found {self.iterations}")
        if self.method not in METHODS:
            raise ValueError(f"aggregate.method: expected one of {', '.join(METHODS)}, found {self.method!r}")
        if self.unmatched not in UNMATCHED:
            raise ValueError(f"aggregate.unmatched: expected one of {', '.join(UNMATCHED)}, found {self.unmatched!r}")


@dataclass
class FunctionOptions:
    """Options of a ``function`` labeler (a Python labelling function, as skweak's ``FunctionAnnotator``).

    Attributes:
        function: ``module:function``: a callable taking a tokenized document and returning spans.
        types: The entity types it emits (for the run's default types; the spans say them anyway).
    """

    function: str = ""
    types: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        module, sep, attribute = self.function.partition(":")
        if not (sep and module.strip() and attribute.strip()):
            raise ValueError(f"function: expected 'module:function', found {self.function!r}")
        for k, t in enumerate(self.types):
            if not isinstance(t, str) or not is_type_name(t):
                raise ValueError(f"types[{k}]: expected an entity type name, found {t!r}")


LABELER_OPTIONS: dict[str, type] = {
    "dictionary": DictionaryOptions,
    "pattern": PatternOptions,
    "abbreviation": AbbreviationOptions,
    "consistency": ConsistencyOptions,
    "function": FunctionOptions,
}


@dataclass
class LabelerConfig:
    """One ``[[labelers]]`` table: a labeler's type, its name (the layer it writes) and its typed options."""

    type: str
    name: str
    options: Any

    @classmethod
    def from_table(cls, table: dict[str, Any], *, where: str = "labelers", path: Path | None = None,
                   base: Path | None = None) -> LabelerConfig:
        """Build from a TOML table ``{type = ..., name = ..., **options}``.

        Raises:
            DistantError: an unknown type (listing the available ones, with the closest), a bad name or a bad
                option (naming the dotted key).
        """
        options = dict(table)
        kind = options.pop("type", None)
        available = ", ".join(sorted(LABELER_OPTIONS))
        if kind is None:
            raise DistantError(f"{where}: missing key 'type' (one of {available})", path)
        if kind not in LABELER_OPTIONS:
            close = difflib.get_close_matches(str(kind), list(LABELER_OPTIONS), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise DistantError(f"{where}.type: unknown labeler {kind!r}{hint} (available: {available})", path)
        name = options.pop("name", kind)
        if not isinstance(name, str) or not name.strip():
            raise DistantError(f"{where}.name: expected a non-empty string, found {name!r}", path)
        if name in RESERVED_NAMES:
            raise DistantError(f"{where}.name: {name!r} is reserved for another layer; give the labeler its own "
                               "name", path)
        built = build(LABELER_OPTIONS[kind], options, path=path, prefix=f"{where}.", base=base)
        return cls(kind, name, built)

    def to_table(self) -> dict[str, Any]:
        """Return the flat TOML table (every option filled in)."""
        return {"type": self.type, "name": self.name, **to_dict(self.options)}


@dataclass
class LabelingConfig:
    """A labeling config (``distant label --config``): the labelers and how they are aggregated."""

    labelers: list[LabelerConfig] = field(default_factory=list)
    aggregate: AggregateConfig = field(default_factory=AggregateConfig)

    def __post_init__(self) -> None:
        check_labeler_names(self.labelers)


def labeler_configs(items: Any, path: Path | None = None, base: Path | None = None) -> list[LabelerConfig]:
    """Return ``[[labelers]]`` tables as :class:`LabelerConfig` (tables from Python are built here too).

    Raises:
        DistantError: a table that is not one, a bad type or option, or a name used twice.
    """
    if not isinstance(items, (list, tuple)):
        raise DistantError(f"labelers: expected a list of [[labelers]] tables, found {items!r}", path)
    out = []
    for k, item in enumerate(items):
        if not isinstance(item, (dict, LabelerConfig)):
            raise DistantError(f"labelers[{k}]: expected a table, found {item!r}", path)
        out.append(item if isinstance(item, LabelerConfig)
                   else LabelerConfig.from_table(item, where=f"labelers[{k}]", path=path, base=base))
    check_labeler_names(out, path)
    return out


def check_labeler_names(labelers: list[LabelerConfig], path: Path | None = None) -> None:
    """Raise :class:`DistantError` when two labelers have one name (they would write one layer)."""
    seen: set[str] = set()
    for k, labeler in enumerate(labelers):
        if labeler.name in seen:
            raise DistantError(f"labelers[{k}].name: {labeler.name!r} is used by another labeler; give each "
                               "labeler its own name", path)
        seen.add(labeler.name)
