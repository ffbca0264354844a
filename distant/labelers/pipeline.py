"""Run labelers and an aggregator over documents, in one process or several, and count what they did.

A labeling config is TOML: one ``[[labelers]]`` table per labeler, in priority order, and an optional
``[aggregate]`` table::

    [[labelers]]
    type = "dictionary"
    name = "dictionary"
    dicts = ["${DISTANT_DATA}/BC5CDR/autoner/dict_core.txt"]
    stopwords = "${DISTANT_DATA}/BC5CDR/autoner/stopwords.txt"

    [[labelers]]
    type = "abbreviation"
    layer = "dictionary"

    [aggregate]
    method = "priority"      # or "vote"
    unmatched = "O"          # or "unknown"

:func:`labelers_from_args` builds the same from command-line flags, so ``distant label`` is a thin call.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing as mp
import time
from array import array
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distant.config import build, load_toml
from distant.config.labelers import (AbbreviationOptions, AggregateConfig, DictionaryOptions, LabelerConfig,
                                     LabelingConfig, PatternOptions)
from distant.docs import Document, Span, is_type_name
from distant.errors import DistantError
from distant.labelers import build_labelers
from distant.labelers.aggregate import Aggregator, build_aggregator
from distant.labelers.base import Labeler

logger = logging.getLogger(__name__)


@dataclass
class LabelStats:
    """What a labeling run did.

    Attributes:
        documents: Documents labeled (all are kept, with or without matches).
        tokens: Tokens in them.
        spans_per_type: Spans of the aggregated layer by label (types, ``A|B``, ``O``, ``-``).
        spans_per_labeler: Spans each labeler's layer holds.
        misaligned: Spans each labeler produced off token boundaries (skipped and logged).
        timeouts: Work each labeler stopped by a time budget and skipped (a pattern labeler: regex-document
            pairs; which regexes is in ``labeler.timeouts``).
        seconds: Wall time.
    """

    documents: int = 0
    tokens: int = 0
    spans_per_type: Counter = field(default_factory=Counter)
    spans_per_labeler: Counter = field(default_factory=Counter)
    misaligned: Counter = field(default_factory=Counter)
    timeouts: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    def merge(self, other: LabelStats) -> None:
        """Add ``other``'s counts and time to these."""
        for name in ("documents", "tokens", "seconds"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("spans_per_type", "spans_per_labeler", "misaligned", "timeouts"):
            getattr(self, name).update(getattr(other, name))

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"documents": self.documents, "tokens": self.tokens, "seconds": self.seconds,
                "tokens_per_second": self.tokens_per_second, "spans_per_type": dict(self.spans_per_type),
                "spans_per_labeler": dict(self.spans_per_labeler), "misaligned": dict(self.misaligned),
                "timeouts": dict(self.timeouts)}


def summary_table(stats: LabelStats) -> str:
    """Return the statistics as a plain-text table."""
    lines = [
        f"{'documents':<24}{stats.documents:>12,}",
        f"{'tokens':<24}{stats.tokens:>12,}",
        f"{'seconds':<24}{stats.seconds:>12.2f}",
        f"{'tokens/s':<24}{stats.tokens_per_second:>12,.0f}",
        "",
        f"{'labeler':<24}{'spans':>12}{'misaligned':>12}{'timeouts':>12}",
    ]
    for name, count in stats.spans_per_labeler.items():
        lines.append(f"{name:<24}{count:>12,}{stats.misaligned.get(name, 0):>12,}{stats.timeouts.get(name, 0):>12,}")
    lines += ["", f"{'pseudo label':<24}{'spans':>12}"]
    for label, count in sorted(stats.spans_per_type.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"{label:<24}{count:>12,}")
    return "\n".join(lines)


# -- running ------------------------------------------------------------------------------------------------
_WORKER: tuple[list[Labeler], Aggregator] | None = None


def _init_worker(labelers: list[Labeler], aggregator: Aggregator) -> None:
    global _WORKER
    _WORKER = (labelers, aggregator)


def _label(docs: Sequence[Document], labelers: Sequence[Labeler], aggregator: Aggregator) -> None:
    for doc in docs:
        for labeler in labelers:
            labeler(doc)
        aggregator(doc)


def _counts(labelers: Sequence[Labeler]) -> dict[str, tuple[int, Counter]]:
    """Return what each labeler has counted so far: spans off token boundaries, work stopped by a time budget."""
    return {lab.name: (lab.misaligned, lab.timeouts.copy()) for lab in labelers}


def _since(labelers: Sequence[Labeler], before: dict[str, tuple[int, Counter]]) -> dict[str, tuple[int, Counter]]:
    """Return what each labeler counted since ``before``."""
    return {lab.name: (lab.misaligned - before[lab.name][0], lab.timeouts - before[lab.name][1]) for lab in labelers}


def _label_chunk(items: list[tuple]) -> tuple[list[tuple], dict[str, tuple[int, Counter]]]:
    """Label a chunk in a worker; return each document's tokens and new layers as plain tuples, and the counts.

    Plain tuples and flat offset arrays pickle several times faster than documents and spans.
    """
    assert _WORKER is not None, "worker not initialised"
    labelers, aggregator = _WORKER
    docs = [Document(i, text, tokens, sentences, {}, meta) for i, text, tokens, sentences, meta in items]
    before = _counts(labelers)
    _label(docs, labelers, aggregator)
    names = [lab.name for lab in labelers] + [aggregator.output]
    results = []
    for doc, item in zip(docs, items):
        flat = None if item[2] is not None else array("i", [x for t in doc.tokens for x in t])
        sentences = None if item[2] is not None else doc.sentences
        layers = {n: [(s.start, s.end, s.label, s.source, s.kb_id, s.score) for s in doc.layers[n]] for n in names}
        results.append((flat, sentences, layers))
    return results, _since(labelers, before)


class Labeling:
    """Labelers and an aggregator at work on a stream of documents, here or in a pool of worker processes.

    ``with Labeling(labelers, aggregator, workers=2) as run: for doc in run(docs): ...`` yields each document
    labeled, in input order, while at most a few chunks are in flight: memory does not grow with the corpus.
    The labelers' counts (``misaligned``, ``timeouts``) grow by what they counted here, also when the work is
    done in other processes (each of which warns once about each regex it stops); :attr:`stats` sums up.

    Args:
        labelers: Labelers in priority order.
        aggregator: Combines their layers (usually into ``pseudo``).
        workers: Processes (forked, so they share the built labelers, automata included, without pickling).
        chunk_size: Documents per chunk sent to a worker.
        progress: Called with the number of documents after each chunk (to advance a progress bar).
    """

    def __init__(self, labelers: Sequence[Labeler], aggregator: Aggregator, *, workers: int = 1,
                 chunk_size: int = 64, progress: Callable[[int], None] | None = None) -> None:
        self.labelers, self.aggregator = list(labelers), aggregator
        self.workers, self.chunk_size, self.progress = workers, chunk_size, progress
        self.stats = LabelStats()
        self._pool = None
        self._start = time.perf_counter()

    def __enter__(self) -> Labeling:
        if self.workers > 1:
            methods = mp.get_all_start_methods()
            ctx = mp.get_context("fork" if "fork" in methods else methods[0])
            self._pool = ctx.Pool(self.workers, initializer=_init_worker, initargs=(self.labelers, self.aggregator))
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._pool is not None:
            self._pool.terminate() if exc[0] is not None else self._pool.close()
            self._pool.join()
            self._pool = None
        self.stats.seconds = time.perf_counter() - self._start

    def __call__(self, docs: Iterable[Document]) -> Iterator[Document]:
        """Yield ``docs`` labeled (in place), in order."""
        chunks = _chunks(docs, self.chunk_size)
        if self._pool is None:
            for chunk in chunks:
                before = _counts(self.labelers)
                _label(chunk, self.labelers, self.aggregator)
                yield from self._done(chunk, _since(self.labelers, before), here=True)
            return
        window: deque = deque()  # (chunk, pending result): the chunks in flight, at most two per worker
        for chunk in chunks:
            items = [(d.id, d.text, d.tokens, d.sentences, d.meta) for d in chunk]
            window.append((chunk, self._pool.apply_async(_label_chunk, (items,))))
            if len(window) >= 2 * self.workers:
                yield from self._collect(*window.popleft())
        while window:
            yield from self._collect(*window.popleft())

    def _collect(self, chunk: list[Document], pending: Any) -> Iterator[Document]:
        results, counts = pending.get()
        for doc, (flat, sentences, layers) in zip(chunk, results):
            if flat is not None:
                doc.set_tokens(list(zip(flat[::2], flat[1::2])), sentences)
            for name, spans in layers.items():
                doc.layers[name] = [Span(*t) for t in spans]
        yield from self._done(chunk, counts, here=False)

    def _done(self, chunk: list[Document], counts: dict[str, tuple[int, Counter]], here: bool) -> list[Document]:
        stats = self.stats
        for lab in self.labelers:
            misaligned, timeouts = counts[lab.name]
            if not here:  # the workers' labelers counted, not these
                lab.misaligned += misaligned
                lab.timeouts.update(timeouts)
            if misaligned:
                stats.misaligned[lab.name] += misaligned
            if timeouts:
                stats.timeouts[lab.name] += sum(timeouts.values())
        for doc in chunk:
            stats.documents += 1
            stats.tokens += len(doc.tokens or ())
            for lab in self.labelers:
                stats.spans_per_labeler[lab.name] += len(doc.spans(lab.name))
            stats.spans_per_type.update(s.label for s in doc.spans(self.aggregator.output))
        if self.progress:
            self.progress(len(chunk))
        return chunk


def _chunks(docs: Iterable[Document], size: int) -> Iterator[list[Document]]:
    it = iter(docs)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def label_documents(docs: Sequence[Document], labelers: Sequence[Labeler], aggregator: Aggregator, *,
                    workers: int = 1, progress: Callable[[int], None] | None = None,
                    chunk_size: int = 64) -> LabelStats:
    """Label ``docs`` in place with each labeler, then aggregate; return what was done (see :class:`Labeling`).

    A label model (``needs_fit``) is fitted on all of ``docs`` once the labelers have run, then applied.
    """
    fit_first = getattr(aggregator, "needs_fit", False)
    first = _Unaggregated(aggregator.output) if fit_first else aggregator
    with Labeling(labelers, first, workers=workers, chunk_size=chunk_size, progress=progress) as run:
        for _ in run(docs):
            pass
    if fit_first:
        aggregator.fit(docs)
        aggregator.apply(docs)
        run.stats.spans_per_type = Counter(s.label for doc in docs for s in doc.spans(aggregator.output))
    return run.stats


class _Unaggregated(Aggregator):
    """Leave the output layer empty: a label model fills it once it has seen the whole corpus."""

    def __init__(self, output: str) -> None:
        super().__init__([], output=output)

    def combine(self, doc: Document) -> list[Span]:
        return []


# -- building from a config or from flags -------------------------------------------------------------------
def default_types(labelers: Sequence[Labeler]) -> list[str]:
    """Return the entity types a pipeline emits by default: the sorted union of its labelers' types."""
    return sorted(set().union(*(lab.types() for lab in labelers)))


def resolve_types(labelers: Sequence[Labeler], types: Sequence[str] | None = None,
                  path: str | Path | None = None) -> list[str]:
    """Return the run's entity types, and give them to each labeler (``unknown_label = "*"`` resolves to them).

    Args:
        labelers: The built labelers.
        types: The run's types, in the order the caller uses them (the training config's ``data.types``);
            ``None`` or empty: :func:`default_types`.
        path: The config file, named in errors.

    Raises:
        DistantError: a type that is not a type name, or ``*`` with no type to stand for.
    """
    if types:
        bad = [t for t in types if not isinstance(t, str) or not is_type_name(t)]
        if bad:
            raise DistantError(f"types: expected entity type names (a letter, then letters, digits, '_' or '.'), "
                               f"found {bad[0]!r}", path)
        run = list(dict.fromkeys(types))
        extra = {lab.name: sorted(lab.types() - set(run)) for lab in labelers}
        extra = {name: found for name, found in extra.items() if found}
        if extra:
            logger.warning("labelers emit types that are not among the run's (%s), which the tagger cannot learn: %s",
                           ", ".join(run), "; ".join(f"{name}: {', '.join(found)}" for name, found in extra.items()))
    else:
        run = default_types(labelers)
    for lab in labelers:
        try:
            lab.resolve_types(run)
        except DistantError as e:
            raise DistantError(e.message, e.path or path, e.line) from None
    return run


def load_labeling_config(path: str | Path, *, types: Sequence[str] | None = None) -> tuple[list[Labeler], Aggregator]:
    """Build labelers and the aggregator from a labeling config (``[[labelers]]`` + ``[aggregate]``).

    ``types``: the run's entity types, as in :func:`build_pipeline`.
    """
    path = Path(path)
    config = build(LabelingConfig, load_toml(path), path=path, base=path.resolve().parent)
    return build_pipeline(config.labelers, config.aggregate, path=path, types=types)


def build_pipeline(labelers: Sequence[LabelerConfig | dict[str, Any]], aggregate: AggregateConfig | dict[str, Any],
                   path: str | Path | None = None, *, types: Sequence[str] | None = None
                   ) -> tuple[list[Labeler], Aggregator]:
    """Build labelers and the aggregator from the ``[[labelers]]`` and ``[aggregate]`` tables.

    Args:
        labelers: The ``[[labelers]]`` tables, in priority order (typed, or plain tables from Python).
        aggregate: The ``[aggregate]`` table (typed, or a plain table).
        path: The config file they come from, named in errors.
        types: The run's entity types (the training config's ``data.types``); ``None`` or empty: every type
            the labelers emit (:func:`default_types`). ``unknown_label = "*"`` is resolved to them here,
            before any labeling, and ``aggregator.types`` holds them.

    Raises:
        DistantError: no labeler, a layer the aggregation names that no labeler writes, or ``*`` with no type
            to stand for.
    """
    if not labelers:
        raise DistantError("expected at least one [[labelers]] table", path)
    if isinstance(aggregate, dict):
        aggregate = build(AggregateConfig, aggregate, path=path, prefix="aggregate.")
    built = build_labelers(labelers, path=path)
    names = [lab.name for lab in built]
    for layer in aggregate.layers or ():
        if layer not in names:
            raise DistantError(f"aggregate.layers: no labeler is named {layer!r} (labelers: {', '.join(names)})", path)
    return built, build_aggregator(aggregate, names, resolve_types(built, types, path))


def labelers_from_args(dicts: Sequence[Path] = (), unknown: Sequence[Path] = (), stopwords: Path | None = None,
                       patterns: Sequence[Path] = (), config: Path | None = None, *,
                       abbreviations: bool = True, unmatched: str = "O", method: str = "priority",
                       types: Sequence[str] | None = None) -> tuple[list[Labeler], Aggregator]:
    """Build labelers and an aggregator from ``distant label`` flags, or from ``--config``.

    With flags: a ``dictionary`` labeler (typed ``dicts``, untyped ``unknown``, ``stopwords``), an
    ``abbreviation`` labeler reading it (unless ``abbreviations`` is false), and a ``pattern`` labeler for
    the regex tables ``patterns`` (labels in the tables must be type names or exclusions), aggregated by
    ``method`` in that priority order. ``types``: the run's entity types, as in :func:`build_pipeline`.

    Raises:
        DistantError: both a config and labeling flags, nothing to label with, or a bad ``unmatched`` or
            ``method``.
    """
    if config is not None:
        if dicts or unknown or stopwords or patterns:
            raise DistantError("give either --config or --dict/--unknown/--stopwords/--patterns, not both")
        return load_labeling_config(config, types=types)
    if not (dicts or unknown or patterns):
        raise DistantError("nothing to label with: give --dict, --unknown, --patterns or --config")
    if stopwords is not None and not (dicts or unknown):
        raise DistantError("--stopwords needs --dict or --unknown")
    try:
        aggregate = AggregateConfig(method=method, unmatched=unmatched)
    except ValueError as e:  # its message names the option and the valid values
        raise DistantError(str(e)) from None
    configs: list[LabelerConfig] = []
    if dicts or unknown:
        options = DictionaryOptions(dicts=list(dicts), unknown=list(unknown), stopwords=stopwords)
        configs.append(LabelerConfig("dictionary", "dictionary", options))
        if dicts and abbreviations:
            configs.append(LabelerConfig("abbreviation", "abbreviation", AbbreviationOptions(layer="dictionary")))
    if patterns:
        configs.append(LabelerConfig("pattern", "pattern", PatternOptions(tables=list(patterns))))
    return build_pipeline(configs, aggregate, types=types)
