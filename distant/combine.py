"""The labelers and the trained tagger combined by a label model (``[combine]``): a run's output from both.

A tagger trained on pseudo-labels generalises beyond the dictionaries but also forgets some of what they know
for certain; the labelers are precise where they fire. After training, :func:`fit_combination` tags the
training text (at most ``combine.fit_documents``) with the tagger (layer :data:`TAGGER`), labels it again with
the run's labelers (a layer each) and fits a label model (:mod:`distant.labelers.labelmodel`) over them without
gold, the tagger one source among the labelers. Layers the text carries itself (``combine.inputs``: a WRENCH
file's labelling functions) are sources too; then every text the run predicts must carry them. With gold dev documents it scores the combination against the tagger alone and, under
``combine.select``, drops it when the dev documents whose text is not in the training text show the tagger
alone better beyond their sampling noise (a paired bootstrap over them, ``combine.confidence``). Dev text the
tagger trained on cannot judge it: there the tagger reproduces its labelers' spans almost all, and what the
combination adds on new text (the labelers' spans the tagger misses) does not show. It is saved as
``combine.json`` in the run folder.

:class:`Combination` is what prediction then does (``distant predict``, :func:`distant.api.load`, the spaCy
component): the tagger tags new text into :data:`TAGGER`, the labelers of the run's ``config.toml`` label it,
and the label model writes the output layer; the intermediate layers are removed again (a layer of the same
name the input had is put back).
"""

from __future__ import annotations

import logging
import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from distant.docs import GOLD, PRED, Document
from distant.errors import DistantError

log = logging.getLogger(__name__)

COMBINE_FILE = "combine.json"  # the fitted label model in a run folder
TAGGER = "tagger"  # the layer the tagger's own spans go to before they are combined


class Combination:
    """The run's labelers and a fitted label model over their layers, the input's own (``combine.inputs``) and
    the tagger's (:data:`TAGGER`).

    Args:
        labelers: The labelers, in the run's order (each writes the layer of its name).
        model: A fitted :class:`~distant.labelers.labelmodel.LabelModelAggregator` whose sources are labelers'
            layers, input layers and :data:`TAGGER`.
        inputs: The layers the documents must carry themselves (a WRENCH file's labelling functions).
    """

    def __init__(self, labelers: Sequence[Any], model: Any, inputs: Sequence[str] = ()) -> None:
        self.labelers, self.model, self.inputs = list(labelers), model, list(inputs)
        self.names = [lab.name for lab in self.labelers]  # the labelers' layers: steps, removed after

    @property
    def sources(self) -> list[str]:
        return list(self.model.layers)

    def apply(self, docs: Sequence[Document], output: str = PRED) -> None:
        """Label ``docs`` (tagged already into :data:`TAGGER`) and write the combination into ``output``.

        Raises:
            DistantError: a document without one of :attr:`inputs` (its text was not labeled by that source).
        """
        check_inputs(docs, self.inputs)
        held = [{n: doc.layers[n] for n in self.names if n in doc.layers} for doc in docs]
        for doc in docs:
            for labeler in self.labelers:
                labeler(doc)
        self.model.output = output
        self.model.apply(docs)
        for doc, kept in zip(docs, held):
            for name in [*self.names, TAGGER]:
                if name != output:
                    doc.layers.pop(name, None)
            doc.layers.update(kept)


def check_inputs(docs: Sequence[Document], inputs: Sequence[str], path: Path | None = None,
                 expected: str = "as the training text did (a WRENCH file's labelling functions), or the tagger "
                                 "alone (predict --tagger-only)") -> None:
    """Check that every document carries the layers ``inputs`` (an empty one: the source fired nowhere there).

    A missing layer is not read as abstaining: text that no such source labeled would be combined as if every
    one of them had abstained on it, silently.

    Raises:
        DistantError: the first document without one, naming it, the layers it has and what was ``expected``.
    """
    for doc in docs:
        missing = [name for name in inputs if name not in doc.layers]
        if missing:
            held = ", ".join(name for name in doc.layers if name not in (GOLD, TAGGER)) or "none"
            raise DistantError(f"document {doc.id}: found no layer {', '.join(map(repr, missing))} (its layers: "
                               f"{held}); the run's label model combines the input's own layers "
                               f"{', '.join(inputs)} (combine.inputs), expected documents that carry them "
                               f"{expected}", path)


def run_labelers(config: Any, types: Sequence[str], path: Path | None = None) -> list[Any]:
    """Build the labelers of a run config (its ``[[labelers]]``) for the run's ``types``."""
    from distant.labelers.pipeline import build_pipeline

    if not config.labelers:  # a combination over the input's own layers (combine.inputs) and the tagger
        return []
    labelers, _ = build_pipeline(config.labelers, config.aggregate, path=path, types=list(types))
    return labelers


def check_sources(config: Any, path: Path | None = None) -> None:
    """Check that ``combine.sources`` names labelers of the run or ``combine.inputs``.

    Raises:
        DistantError: a source that is neither, an input layer that a labeler writes too, or ``[combine]``
            with neither labelers nor inputs.
    """
    if config.combine.method == "none":
        return
    names = [lab.name for lab in config.labelers]
    inputs = list(config.combine.inputs)
    if not names and not inputs:
        raise DistantError("combine.method: a combination needs the run's [[labelers]] or input layers "
                           "(combine.inputs); found neither", path)
    both = sorted(set(names) & set(inputs))
    if both:
        raise DistantError(f"combine.inputs: {', '.join(both)} is also a labeler's layer; expected the input's own "
                           "layers, distinct from the labelers'", path)
    for name in config.combine.sources:
        if name not in names and name not in inputs:
            raise DistantError(f"combine.sources: no labeler or input layer is named {name!r} (labelers: "
                               f"{', '.join(names) or 'none'}; combine.inputs: {', '.join(inputs) or 'none'})", path)
    if inputs:  # before training: the first document of each training file
        from distant.formats import iter_documents
        from distant.jobs import expand_inputs

        files = [(p, config.data.train_format) for p in config.data.train]
        files += [(p, None) for p in expand_inputs(config.data.train_labeled)] if config.data.train_labeled else []
        for file, fmt in files:
            check_inputs(list(itertools.islice(iter_documents(file, fmt), 1)), inputs, file,
                         "in the training text (text labeled by those sources, with their layers kept)")


def fit_combination(config: Any, run_dir: Path, tagger: Any, device: Any, dev_docs: Sequence[Document] | None,
                    config_path: Path | None = None) -> tuple[Combination | None, dict[str, Any]]:
    """Fit the label model over the labelers and ``tagger`` on the training text; choose it on dev; save it.

    Args:
        config: The run config (its ``[data]``, ``[[labelers]]`` and ``[combine]``).
        tagger: The trained :class:`~distant.models.tagger.Tagger` (its decoding bias and rules set).
        dev_docs: Gold dev documents (``None``: there are none, and the combination is kept unchecked).

    Returns:
        The combination (``None`` when dev chose the tagger alone) and the report's ``combine`` part.
    """
    from distant.evaluate import bootstrap_better
    from distant.labelers.labelmodel import LabelModelAggregator, save_label_model
    from distant.predict import predict_documents

    settings = config.combine
    types = sorted({t.split("-", 1)[1] for t in tagger.tags if "-" in t})
    labelers = run_labelers(config, types, config_path)
    sources = list(settings.sources) or [*(lab.name for lab in labelers), *settings.inputs]
    docs, fresh = read_training_text(config, settings.fit_documents, dev_docs or (), keep=settings.inputs)
    if not docs:
        raise DistantError("combine.method: the label model is fitted on the training text; found none",
                           config_path)
    predict_documents(tagger, docs, device=device, max_tokens=config.data.max_tokens, layer=TAGGER)
    for doc in docs:
        for labeler in labelers:
            labeler(doc)
    model = LabelModelAggregator([*sources, TAGGER], transitions=settings.method == "hmm",
                                 iterations=settings.iterations, prior_weight=settings.prior_weight, output=PRED,
                                 types=types)
    fit = model.fit(docs)
    combination = Combination(labelers, model, [name for name in sources if name in settings.inputs])
    report: dict[str, Any] = {"method": settings.method, "sources": model.layers, "documents": len(docs),
                              "iterations": fit.iterations, "seconds": fit.seconds,
                              "accuracies": model.model.accuracies()}
    keep = True
    if dev_docs is not None:
        scores = score(tagger, combination, dev_docs, device, config.data.max_tokens)
        report["dev_f1_tagger"], report["dev_f1_combined"] = scores["tagger"]["f1"], scores["combined"]["f1"]
        report["dev_checked"] = len(fresh)
        if fresh:
            tagger_counts, combined_counts = scores["counts"]
            report["dev_tagger_better"] = bootstrap_better(tagger_counts[fresh], combined_counts[fresh])
            keep = not settings.select or report["dev_tagger_better"] < settings.confidence
        elif settings.select:
            log.warning("combine.select: the text of every gold dev document is in the training text, where the "
                        "tagger has learned to reproduce its labelers' spans, so dev cannot show what the "
                        "combination adds on new text; it is kept unchecked")
    report["kept"] = keep
    target = run_dir / COMBINE_FILE
    if keep:
        save_label_model(model, target)
    else:
        target.unlink(missing_ok=True)
        log.warning("combine: on the %d dev documents not in the training text the tagger alone is better in %.0f "
                    "%% of their bootstrap resamples: the run keeps the tagger alone (combine.select, "
                    "combine.confidence = %g)", report["dev_checked"], 100 * report["dev_tagger_better"],
                    settings.confidence)
    return (combination if keep else None), report


def unseen(dev_docs: Sequence[Document], config: Any) -> list[int]:
    """Return the indices of the dev documents whose text is not the text of a training document
    (:func:`read_training_text`, reading nothing but that)."""
    return read_training_text(config, 0, dev_docs)[1]


def read_training_text(config: Any, limit: int, dev_docs: Sequence[Document] = (), keep: Sequence[str] = ()
                       ) -> tuple[list[Document], list[int]]:
    """Read the run's training text once (``data.train``, then ``data.train_labeled``); return its first ``limit``
    documents, tokenized, with no layer but ``keep`` (which each must carry: :func:`check_inputs`), and the
    indices of the ``dev_docs`` whose text is not among the training documents'.

    On its own training text the tagger reproduces its labelers' spans almost all (it was taught them there), so
    a dev document in the training text cannot show what the labelers add to the tagger on new text. The pass
    stops once it holds ``limit`` documents and has found every dev text; memory holds those only.
    """
    from distant.formats import iter_documents
    from distant.jobs import expand_inputs
    from distant.tokenize import default_tokenizer

    tokenizer = default_tokenizer()
    files = [(p, config.data.train_format) for p in config.data.train]
    if config.data.train_labeled:
        files += [(p, None) for p in expand_inputs(config.data.train_labeled)]
    waiting: dict[str, list[int]] = {}  # a dev text not met yet -> its dev documents
    for i, doc in enumerate(dev_docs):
        waiting.setdefault(doc.text, []).append(i)
    docs: list[Document] = []
    for path, fmt in files:
        for doc in iter_documents(path, fmt):
            if len(docs) >= limit and not waiting:
                break
            waiting.pop(doc.text, None)
            if len(docs) < limit:
                check_inputs([doc], keep, path, "in the training text (text labeled by those sources, with "
                             "their layers kept)")
                docs.append(tokenizer(doc.copy(layers=keep)))
        if len(docs) >= limit and not waiting:
            break
    return docs, sorted(i for indices in waiting.values() for i in indices)


def score(tagger: Any, combination: Combination, gold_docs: Sequence[Document], device: Any,
          max_tokens: int) -> dict[str, Any]:
    """Tag copies of ``gold_docs`` from their text; return the strict scores of the tagger and of the combination,
    and ``counts``: both systems' per-document :func:`~distant.evaluate.document_counts` (for a bootstrap)."""
    from distant.evaluate import document_counts, evaluate
    from distant.predict import predict_documents

    pred = [doc.copy(layers=combination.inputs) for doc in gold_docs]
    predict_documents(tagger, pred, device=device, max_tokens=max_tokens, layer=TAGGER)
    alone = evaluate(gold_docs, pred, gold_layer=GOLD, pred_layer=TAGGER).as_dict()
    alone_counts = document_counts(gold_docs, pred, GOLD, TAGGER)
    combination.apply(pred, PRED)
    combined_counts = document_counts(gold_docs, pred, GOLD, PRED)
    return {"tagger": alone["micro"], "combined": evaluate(gold_docs, pred, gold_layer=GOLD).as_dict()["micro"],
            "counts": (alone_counts, combined_counts)}


def load_combination(run_dir: Path, types: Sequence[str]) -> Combination | None:
    """Return the combination a run folder holds (``combine.json`` and its ``config.toml``), or ``None``.

    Raises:
        DistantError: a malformed label model, or labelers whose files are missing here (naming them).
    """
    from distant.config.run import load_config
    from distant.labelers.labelmodel import load_label_model

    file = Path(run_dir) / COMBINE_FILE
    if not file.is_file():
        return None
    config_file = Path(run_dir) / "config.toml"
    if not config_file.is_file():
        raise DistantError(f"found {COMBINE_FILE} but no config.toml beside it, expected the run folder of "
                           "distant train (its labelers run before the label model)", run_dir)
    config = load_config(config_file)
    model = load_label_model(file)
    labelers = run_labelers(config, types, config_file)
    inputs = [s for s in model.layers if s in config.combine.inputs]
    missing = [s for s in model.layers if s != TAGGER and s not in {lab.name for lab in labelers} and s not in inputs]
    if missing:
        raise DistantError(f"the label model combines {', '.join(missing)}, which no labeler of config.toml "
                           "writes and combine.inputs does not name; expected the config the run was trained with",
                           file)
    return Combination(labelers, model, inputs)
