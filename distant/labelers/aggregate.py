"""Aggregation: several labelers' layers -> one ``pseudo`` layer, and the tags each token may take.

An aggregator is a class with one method, :meth:`Aggregator.combine`; the label models (``hmm``,
``dawid-skene``, :mod:`distant.labelers.labelmodel`) are fitted on a corpus first. The two here:

* :class:`PriorityAggregator`: layers in priority order, the first labeler that covers a token wins; an
  ``O`` span (an exclusion) vetoes lower-priority entity spans over its tokens.
* :class:`VoteAggregator`: token-level majority vote over IOB2 tags (ties go to the higher-priority layer);
  ``-`` spans abstain.

The pseudo layer holds entity spans (a type, or ``A|B``), ``O`` spans (explicit "not an entity") and ``-``
spans (any tag). Tokens no span covers are O, or unknown when ``unmatched = "unknown"`` (then ``-`` spans are
written over them so the layer says so itself). :func:`allowed_tags` turns this into the per-token tag
masks the partial-label CRF consumes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from distant.config.labelers import LABEL_MODELS, UNMATCHED, AggregateConfig
from distant.docs import GOLD, O, PSEUDO, UNKNOWN, Document, Span, TokenSpan
from distant.tags import split_tag, tags_to_spans
from distant.tokenize import default_tokenizer

log = logging.getLogger(__name__)



def _token_ranges(doc: Document, spans: Sequence[Span], layer: str) -> list[TokenSpan]:
    """Return the token ranges of ``spans`` (a layer of ``doc``); spans off token boundaries are reported."""
    aligned, unaligned = doc.align(spans)
    if unaligned:
        log.warning("document %s: %d span(s) of layer %r are not on token boundaries and are left out (first: "
                    "%d-%d %s)", doc.id, len(unaligned), layer, unaligned[0].start, unaligned[0].end,
                    unaligned[0].label)
    return aligned


class Aggregator:
    """Combine ``layers`` of a document into ``output``; subclasses implement :meth:`combine`.

    Args:
        layers: Layer names, highest priority first.
        unmatched: ``O`` or ``unknown`` for tokens no span covers.
        output: The layer written.
        types: The run's entity types, which the output's entity spans are drawn from (what the tagger
            learns): ``data.types``, or every type the labelers emit (set by ``build_pipeline``).
    """

    def __init__(self, layers: Sequence[str], *, unmatched: str = "O", output: str = PSEUDO,
                 types: Sequence[str] = ()) -> None:
        if unmatched not in UNMATCHED:
            raise ValueError(f"unmatched: expected one of {', '.join(UNMATCHED)}, found {unmatched!r}")
        self.layers = list(layers)
        self.unmatched = unmatched
        self.output = output
        self.types = list(types)

    def combine(self, doc: Document) -> list[Span]:
        """Return the non-overlapping spans of the aggregated layer of the tokenized ``doc``."""
        raise NotImplementedError

    def __call__(self, doc: Document) -> Document:
        """Write the aggregated layer into ``doc`` and return it."""
        if not doc.is_tokenized:
            default_tokenizer()(doc)
        spans = self.combine(doc)
        if self.unmatched == "unknown":
            spans = spans + _gaps(doc, spans, self.output)
        doc.set_spans(self.output, spans)
        return doc

    def __repr__(self) -> str:
        return f"{type(self).__name__}(layers={self.layers!r}, unmatched={self.unmatched!r})"


def _gaps(doc: Document, spans: Sequence[Span], source: str) -> list[Span]:
    """Return ``-`` spans over the runs of tokens (within a sentence) that no span covers."""
    covered = bytearray(len(doc.tokens))
    for i, j, _ in _token_ranges(doc, spans, source):
        covered[i:j] = b"\x01" * (j - i)
    out = []
    for a, b in doc.sentences or []:
        i = a
        while i < b:
            if covered[i]:
                i += 1
                continue
            j = i
            while j < b and not covered[j]:
                j += 1
            out.append(Span(*doc.char_span(i, j), UNKNOWN, source))
            i = j
    return out


class PriorityAggregator(Aggregator):
    """The first layer (in priority order) that covers a token decides it.

    Within a layer, ``O`` spans come first, then longer spans before shorter ones.
    """

    def combine(self, doc: Document) -> list[Span]:
        taken = bytearray(len(doc.tokens))
        out = []
        for layer in self.layers:
            ranges = _token_ranges(doc, doc.spans(layer), layer)
            ranges.sort(key=lambda r: (r[2].label != O, r[0] - r[1], r[0]))
            for i, j, span in ranges:
                if not any(taken[i:j]):
                    taken[i:j] = b"\x01" * (j - i)
                    out.append(span)
        return out


class VoteAggregator(Aggregator):
    """Token-level majority vote over IOB2 tags; ``-`` spans abstain; ties go to the higher priority."""

    def combine(self, doc: Document) -> list[Span]:
        n = len(doc.tokens)
        votes: list[dict[str, list[int]]] = [{} for _ in range(n)]  # tag -> [count, -first layer rank]
        unknown = bytearray(n)
        for rank, layer in enumerate(self.layers):
            taken = bytearray(n)
            ranges = _token_ranges(doc, doc.spans(layer), layer)
            ranges.sort(key=lambda r: (r[2].label != O, r[0] - r[1], r[0]))
            for i, j, span in ranges:
                if any(taken[i:j]):
                    continue
                taken[i:j] = b"\x01" * (j - i)
                if span.label == UNKNOWN:
                    unknown[i:j] = b"\x01" * (j - i)
                    continue
                for k in range(i, j):
                    tag = O if span.label == O else f"{'B' if k == i else 'I'}-{span.label}"
                    vote = votes[k].setdefault(tag, [0, -rank])
                    vote[0] += 1
        tags = [max(v.items(), key=lambda kv: kv[1])[0] if v else None for v in votes]
        # An I-X that does not continue an X entity starts one.
        for k, tag in enumerate(tags):
            if tag and tag.startswith("I-") and (k == 0 or tags[k - 1] is None or tags[k - 1][2:] != tag[2:]):
                tags[k] = "B-" + tag[2:]
        source = self.output
        out = [Span(*doc.char_span(i, j), label, source)
               for i, j, label in tags_to_spans([t if t and t != O else O for t in tags])]
        for state, label in ((O, O), (None, UNKNOWN)):
            k = 0
            while k < n:
                is_run = tags[k] == state and (state == O or unknown[k])
                if not is_run:
                    k += 1
                    continue
                j = k
                while j < n and tags[j] == state and (state == O or unknown[j]):
                    j += 1
                out.append(Span(*doc.char_span(k, j), label, source))
                k = j
        return out


AGGREGATORS: dict[str, type[Aggregator]] = {"priority": PriorityAggregator, "vote": VoteAggregator}


def build_aggregator(options: AggregateConfig, default_layers: Sequence[str], types: Sequence[str] = ()) -> Aggregator:
    """Build the aggregator an ``[aggregate]`` table describes (``types``: the run's entity types)."""
    layers = options.layers if options.layers is not None else default_layers
    if options.method in LABEL_MODELS:
        from distant.labelers.labelmodel import LabelModelAggregator

        return LabelModelAggregator(layers, transitions=options.method == "hmm", decode=options.decode,
                                    posterior_threshold=options.posterior_threshold,
                                    prior_weight=options.prior_weight, restrict=options.restrict,
                                    iterations=options.iterations, tolerance=options.tolerance,
                                    unmatched=options.unmatched, output=options.output, types=types)
    return AGGREGATORS[options.method](layers, unmatched=options.unmatched, output=options.output, types=types)


def allowed_tags(doc: Document, tag_names: Sequence[str], layer: str = PSEUDO,
                 unmatched: str = "O") -> np.ndarray:
    """Return, for each token of ``doc``, which of ``tag_names`` it may take under ``layer``: bool ``[n, K]``.

    A typed span allows exactly its own tags (``B-X`` then ``I-X``; ``S-``/``E-`` too when the tag set is
    IOBES); ``A|B`` allows the tags of any of its types; ``-`` allows every tag; ``O`` spans and uncovered
    tokens allow only ``O`` (every tag when ``unmatched = "unknown"``).

    Args:
        doc: A tokenized document.
        tag_names: The tag set, e.g. ``["O", "B-Chemical", "I-Chemical", "B-Disease", "I-Disease"]``.
        layer: The layer read.
        unmatched: ``O`` or ``unknown`` for tokens no span covers.
    """
    if unmatched not in UNMATCHED:
        raise ValueError(f"unmatched: expected one of {', '.join(UNMATCHED)}, found {unmatched!r}")
    names = list(tag_names)
    if O not in names:
        raise ValueError(f"tag_names must contain {O!r}, found {names}")
    scheme = "IOBES" if any(t[:2] in ("S-", "E-") for t in names) else "IOB2"
    role_of: dict[str, dict[str, list[int]]] = {}  # type -> role -> tag indices
    for k, t in enumerate(names):
        prefix, label = split_tag(t, scheme)
        if label is not None:
            role_of.setdefault(label, {}).setdefault(prefix, []).append(k)
    n = len(doc.tokens or [])
    only_o = np.zeros(len(names), dtype=bool)
    only_o[names.index(O)] = True
    rows = np.ones((n, len(names)), dtype=bool) if unmatched == "unknown" else np.tile(only_o, (n, 1))  # [n, K]
    for i, j, span in _token_ranges(doc, doc.spans(layer), layer):
        if span.label == UNKNOWN:
            rows[i:j] = True
            continue
        if span.label == O:
            rows[i:j] = only_o
            continue
        for k in range(i, j):
            if j - i == 1:
                roles = ("S",) if scheme == "IOBES" else ("B",)
            elif k == i:
                roles = ("B",)
            elif k == j - 1:
                roles = ("E",) if scheme == "IOBES" else ("I",)
            else:
                roles = ("I",)
            row = np.zeros(len(names), dtype=bool)
            for label in span.label.split("|"):
                for role in roles:
                    row[role_of.get(label, {}).get(role, [])] = True
            rows[k] = row if row.any() else only_o  # a type outside the tag set: the tagger cannot tag it anyway
    return rows


def parse_sources(text: str, available: Sequence[str]) -> list[str]:
    """Return the source names of a comma-separated list; a name holding commas is matched whole.

    Raises:
        DistantError: a name that is not among ``available`` (naming the closest).
    """
    import difflib

    from distant.errors import DistantError

    known, out, pending = set(available), [], ""
    for piece in text.split(","):
        pending = f"{pending},{piece}" if pending else piece
        if pending.strip() in known:
            out.append(pending.strip())
            pending = ""
        elif not any(name.startswith(pending.strip()) for name in known):
            close = difflib.get_close_matches(pending.strip(), sorted(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise DistantError(f"--sources: found {pending.strip()!r}, which no document holds as a layer{hint} "
                               f"(layers: {', '.join(available)})")
    if pending.strip():
        raise DistantError(f"--sources: found {pending.strip()!r}, which no document holds as a layer "
                           f"(layers: {', '.join(available)})")
    return list(dict.fromkeys(out))


SELECT_ITERATIONS = (1, 2, 4, 8, 16, 32)  # the EM iteration counts that --select-on tries (up to --iterations)


def aggregate_files(paths: Sequence, out_dir, *, fmt: str | None = None, sources: str | None = None,
                    options: AggregateConfig | None = None, apply_to: Sequence = (), model=None,
                    save_model=None, select_on=None) -> dict:
    """Aggregate the labelers' layers of the documents of ``paths`` into ``OUT_DIR/<stem>.jsonl`` each.

    A label model is fitted on all the files' documents (their layers only: gold is never read), then each
    file is written with its ``pseudo`` layer (every layer kept), atomically. The files of ``apply_to`` are
    labeled by the fitted model too, without being fitted on (new text, or a test set kept out of the fit).

    Args:
        paths: The inputs (any readable format; WRENCH splits with ``fmt="wrench"``).
        apply_to: More inputs, labeled but not fitted on (their stems distinct from the others').
        model: A label model saved by ``save_model`` (``--model``): it labels every input, nothing is fitted
            (its sources are its own; ``sources`` and ``options`` are not used).
        save_model: Where to save the fitted label model (``--save-model``), for ``model`` later.
        select_on: Gold documents (a file of any format, detected; one of the inputs or not) on which the EM
            iteration count is chosen: each count of :data:`SELECT_ITERATIONS` up to ``options.iterations`` is
            fitted, and the one whose output scores the best strict F1 against this file's gold (the first of a
            tie) labels the inputs. Only this file's gold is read, and only for the choice.
        out_dir: The output folder.
        fmt: Their format (``None``: detected).
        sources: The layers to combine, comma-separated (``None``: every layer but gold, pred and pseudo; pred,
            a tagger's predictions, when named).
        options: The ``[aggregate]`` table (method, decoding, EM settings).

    Returns:
        What was done: documents per file, the label model's fit (iterations, seconds, documents/s) and what it
        learned of each source.

    Raises:
        DistantError: bad input, two inputs with one stem, an unknown source, no source at all, or a
            ``select_on`` file without gold spans or for a method that fits nothing.
    """
    from distant.docs import PRED
    from distant.errors import DistantError
    from distant.formats import read_documents, write_documents

    options = options or AggregateConfig()
    if select_on is not None and model is not None:
        raise DistantError("--select-on chooses how a label model is fitted; --model fits nothing: expected one "
                           "of them")
    if select_on is not None and options.method not in LABEL_MODELS:
        raise DistantError(f"--select-on chooses a label model's EM iterations; the {options.method} method fits "
                           "none: expected --method hmm or dawid-skene", select_on)
    out_dir = Path(out_dir)
    stems: dict[str, Path] = {}
    for path in map(Path, [*paths, *apply_to]):
        if path.stem in stems:
            raise DistantError(f"found two inputs with the stem {path.stem!r} ({stems[path.stem]} and {path}), "
                               "expected distinct stems: each is written to OUT_DIR/<stem>.jsonl", path)
        stems[path.stem] = path
    if model is not None:
        return _apply_saved(model, stems, out_dir, fmt)
    corpora = {stem: read_documents(path, fmt) for stem, path in stems.items()}
    held_out = {Path(path).stem for path in apply_to}
    fitted = [doc for stem, docs in corpora.items() if stem not in held_out for doc in docs]
    every = [doc for docs in corpora.values() for doc in docs]
    layers = list(dict.fromkeys(name for doc in every for name in doc.layers if name not in (GOLD, options.output)))
    # a tagger's predictions (pred) are a source only when named: the label model and the tagger can then
    # alternate, the tagger's output one more weak source (as CHMM-ALT does)
    available = [name for name in layers if name != PRED]
    chosen = parse_sources(sources, layers) if sources else available
    if not chosen:
        raise DistantError(f"found no layer to aggregate in {', '.join(map(str, stems.values()))}: expected labelers' "
                           "layers (a WRENCH file's labelling functions, or distant label's output)")
    aggregator = build_aggregator(AggregateConfig(**{**options.__dict__, "layers": chosen}), chosen)
    summary: dict = {"method": options.method, "sources": chosen,
                     "documents": {stem: len(docs) for stem, docs in corpora.items()}, "not_fitted": sorted(held_out)}
    if getattr(aggregator, "needs_fit", False):
        if select_on is not None:
            same = [docs for stem, docs in corpora.items() if stems[stem].resolve() == Path(select_on).resolve()]
            gold = same[0] if same else read_documents(select_on)  # an input's documents are not read again
            fit, summary["selection"] = _select_iterations(aggregator, fitted, gold, options.iterations, select_on)
        else:
            fit = aggregator.fit(fitted)
        summary["fit"] = {"iterations": fit.iterations, "seconds": fit.seconds, "tokens": fit.tokens,
                          "documents_per_second": fit.documents_per_second,
                          "log_likelihood": fit.log_likelihood}
        summary["learned"] = aggregator.model.accuracies()
        if save_model is not None:
            from distant.labelers.labelmodel import save_label_model

            save_label_model(aggregator, save_model)
            summary["saved"] = str(save_model)
        aggregator.apply(every)
    else:
        for doc in every:
            aggregator(doc)
    for stem, docs in corpora.items():
        write_documents(docs, out_dir / f"{stem}.jsonl", "jsonl", layer=options.output)
    return summary


def _select_iterations(aggregator, fitted: Sequence[Document], gold: Sequence[Document], most: int,
                       path) -> tuple:
    """Leave ``aggregator`` with the EM iteration count whose output scores best on ``gold``; say what each did.

    One fit runs to the largest count, keeping the parameters after each count tried (EM is deterministic, so
    they are what a fit of that many iterations gives; a fit that converged earlier gives its last step); each
    labels a copy of the gold documents' layers, and ties go to the fewest iterations. Returns the fit's report
    as a fit of the chosen count would give it (its seconds those of the whole selection) and the choice.
    """
    from distant.errors import DistantError
    from distant.evaluate import evaluate
    from distant.labelers.labelmodel import Fit

    if not any(doc.spans(GOLD) for doc in gold):
        raise DistantError("found no gold span in the --select-on file, expected gold documents (a WRENCH split's "
                           "label, or a gold layer) to choose the label model's iterations on", path)
    counts = [k for k in SELECT_ITERATIONS if k <= most] or [most]
    if most not in counts and most < SELECT_ITERATIONS[-1]:
        counts.append(most)
    kept: dict[int, dict] = {}

    def keep(k: int) -> None:
        if k in counts:
            kept[k] = aggregator.model.parameters()

    aggregator.options["iterations"] = max(counts)
    fit = aggregator.fit(fitted, on_iteration=keep)
    last = aggregator.model.parameters()
    scores: dict[int, float] = {}
    for k in counts:
        aggregator.model.set_parameters(kept.get(k, last))
        copies = [doc.copy() for doc in gold]
        aggregator.apply(copies)
        scores[k] = evaluate(copies, copies, gold_layer=GOLD, pred_layer=aggregator.output).micro.f1
        log.info("label model, %d EM iteration(s): F1 %.4f on %s", k, scores[k], Path(path).name)
    best = max(counts, key=lambda k: (scores[k], -k))
    aggregator.model.set_parameters(kept.get(best, last))
    aggregator.options["iterations"] = best
    chosen = Fit(iterations=min(best, fit.iterations), log_likelihood=fit.log_likelihood[:best],
                 seconds=fit.seconds, documents=fit.documents, tokens=fit.tokens)
    return chosen, {"file": str(path), "f1_by_iterations": scores, "iterations": best}


def _apply_saved(model, stems: dict, out_dir: Path, fmt: str | None) -> dict:
    """Label each input with a saved label model, streaming: batches of documents, each output atomic."""
    from distant.errors import DistantError
    from distant.formats import iter_documents, write_documents
    from distant.labelers.labelmodel import load_label_model
    from distant.labelers.pipeline import _chunks

    aggregator = load_label_model(model)

    def labeled(path):
        for k, chunk in enumerate(_chunks(iter_documents(path, fmt), 2048)):
            if k == 0:  # its sources must be layers of the input (checked on the first batch)
                held = {name for doc in chunk for name in doc.layers}
                missing = [name for name in aggregator.layers if name not in held]
                if missing:
                    raise DistantError(f"the label model combines {', '.join(aggregator.layers)}, but no document "
                                       f"holds {', '.join(missing)} (layers: {', '.join(sorted(held))}); expected "
                                       f"the layers it was fitted on (model {model})", path)
            aggregator.apply(chunk)
            yield from chunk

    documents = {stem: write_documents(labeled(path), out_dir / f"{stem}.jsonl", "jsonl",
                                       layer=aggregator.output) for stem, path in stems.items()}
    return {"method": "hmm" if aggregator.transitions else "dawid-skene", "sources": aggregator.layers,
            "documents": documents, "not_fitted": sorted(stems), "model": str(model)}
