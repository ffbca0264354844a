"""Training: pseudo-label the text, (pre-train the char LM,) fit the tagger, select on dev, report on test.

:func:`run_training` is the whole job behind ``distant train``, a sequence of stages with typed inputs and
outputs: :func:`prepare_data` (label the text, choose the dev documents), :func:`build_model` (pre-train
or load the char LM, build or restore the tagger), :func:`encode` (once), the shift correction, the fit and
self-training (:func:`train_rounds`, over :func:`distant.loop.train_while_improving`), and :func:`finalize`
(the decoding bias on dev, the test score). It writes into the run folder

* ``config.toml`` — the resolved config (every default filled in, every path absolute), to repeat the run;
* ``pseudo.jsonl`` — the pseudo-labeled training documents (``pseudo.roundN.jsonl`` after self-training);
* ``charlm.pt`` — the pre-trained character LM (when configured);
* ``last.pt`` — model, optimiser and :class:`~distant.loop.TrainState` after every epoch (``--resume``);
* ``model.pt`` — the best model on the dev set (what ``distant predict`` loads);
* ``metrics.jsonl`` — one line per epoch; ``debias.json`` — the shift-correction report;
* ``combine.json`` — the label model over the labelers and the tagger (``[combine]``, :mod:`distant.combine`);
* ``report.json`` — timings, throughput, warnings and the dev/test evaluation.
"""

from __future__ import annotations

import contextlib
import copy
import glob
import dataclasses
import json
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from distant.atomic import write_text
from distant.checkpoints import load_checkpoint, save_checkpoint
from distant.combine import TAGGER, Combination, check_sources, fit_combination
from distant.config import dump_toml, to_dict
from distant.config.labelers import LABELER_OPTIONS
from distant.config.run import MIN_SCORE_GRID, RunConfig, TrainConfig, load_config
from distant.corpus import Encoded, chunk_words, chunks, encode_documents, read_corpus, set_allowed, split_documents
from distant.debias.crossweigh import crossweigh, summarize_weights
from distant.debias.training import ShiftCorrection
from distant.device import setup
from distant.docs import GOLD, PRED, PSEUDO, Document, label_types
from distant.errors import DistantError
from distant.evaluate import evaluate
from distant.formats import iter_documents, read_documents, write_documents
from distant.loop import TrainState, make_optimizer, train_while_improving
from distant.models.charlm import CharLM
from distant.models.tagger import Tagger, build_tagger
from distant.predict import MODEL_FILE, decode, drop_unconfident, posteriors, predict_documents, store_predictions
from distant.pretrain import CHARLM_FILE, load_charlm, pretrain_lm
from distant.selftrain import relabel
from distant.tokenize import default_tokenizer
from distant.tracking import Tracker, check_targets

log = logging.getLogger(__name__)

LAST_FILE = "last.pt"
PSEUDO_FILE = "pseudo.jsonl"
CROSSWEIGH_FILE = "crossweigh.pt"
EM_SENTENCES = 3000  # training sentences whose posteriors EM re-estimates the target prior from

Emit = Callable[[dict[str, Any]], None]

__all__ = ["CHARLM_FILE", "LAST_FILE", "MODEL_FILE", "RunConfig", "check_inputs", "load_config", "run_training"]


def run_training(config: RunConfig, run_dir: Path, *, config_path: Path | None = None, resume: bool = False,
                 device: str | None = None, workers: int = 1,
                 progress: Emit | None = None) -> dict[str, Any]:
    """Run ``distant train``: label, (pre-train,) train with early stopping, correct the shift, evaluate.

    Returns:
        The report written to ``run_dir/report.json``.
    """
    emit = Progress(progress)
    check_targets(config.train.log_to)  # a missing tracking library is an error before any work
    dev, threads = setup(device or config.train.device, config.train.threads)
    run_dir = open_run_folder(Path(run_dir), resume, config, config_path)
    report: dict[str, Any] = {"device": str(dev), "threads": threads, "warnings": []}
    timer = Timer()
    saved = TrainState.load(run_dir / LAST_FILE) if resume else None
    with timer("label"):
        data = prepare_data(config, run_dir, saved, workers, emit, config_path)
    with timer("pretrain_lm"):
        model = build_model(config, data, run_dir, dev, emit, saved)
    with timer("encode"):
        train_set, scorer = encode(model, data, config, dev, emit, run_dir)
    correction = ShiftCorrection(config.debias, data.tags, [e.allowed for e in train_set.examples],
                                 scorer.encoded.docs if data.dev_layer == GOLD else None)
    weights = instance_weights(model, train_set, config, run_dir, dev, emit, fresh=saved is None)
    if weights is not None:
        correction.report.crossweigh = summarize_weights(weights, config.debias.crossweigh_epsilon,
                                                         config.debias.crossweigh_iterations)
    with timer("train"):
        state, speed = train_rounds(model, train_set, scorer, correction, config, run_dir, dev, emit, saved, weights)
    with timer("debias"):
        best = finalize(config, run_dir, dev, scorer, correction, train_set, emit, report)
    combination = None
    if config.combine.method != "none":
        with timer("combine"):
            emit({"event": "stage", "stage": "combine", "message": "fitting the label model over the weak sources "
                  "and the tagger on the training text"})
            combination, report["combine"] = fit_combination(
                config, run_dir, best, dev, scorer.encoded.docs if data.dev_layer == GOLD else None, config_path)
            emit({"event": "stage", "stage": "combine", "message": combine_summary(report["combine"])})
    if config.data.test is not None:
        with timer("test"):
            report["test"] = score_test(best, config.data.test, config.data.max_tokens, dev, combination)
    report["labeling"] = data.labeling
    report["train"] = training_summary(state, train_set, speed, config.train)
    if state.stop_reason == "time":
        report["warnings"].append(f"training stopped at the time limit (train.max_minutes = "
                                  f"{config.train.max_minutes}) after {state.epoch} epochs: the result depends on "
                                  "the machine's speed")
        log.warning("%s", report["warnings"][-1])
    report["seconds"] = timer.seconds
    write_text(run_dir / "report.json", json.dumps(report, indent=2) + "\n")
    return report


# -- stages ---------------------------------------------------------------------------------------------------
@dataclass
class TrainingData:
    """What the tagger learns from and is selected on.

    Attributes:
        train_docs: The pseudo-labeled training documents.
        dev_docs: The documents dev F1 is measured on: gold development documents, or held-out training ones.
        dev_layer: ``gold``, or ``pseudo`` (held-out pseudo-labels).
        tags: The tagger's tags, ``O`` first.
        labeling: The labeling summary (``None`` when a resumed run read its pseudo-labels back).
    """

    train_docs: list[Document]
    dev_docs: list[Document]
    dev_layer: str
    tags: list[str]
    labeling: dict[str, Any] | None = None


def prepare_data(config: RunConfig, run_dir: Path, saved: tuple | None, workers: int, emit: Emit,
                 config_path: Path | None = None) -> TrainingData:
    """Pseudo-label the training text (or read it back when resuming) and choose the dev documents."""
    pseudo_file = run_dir / PSEUDO_FILE
    labeling = None
    if saved is not None and pseudo_file.is_file():
        docs = read_documents(pseudo_file, "jsonl")
        tags = list(saved[1]["tags"])  # the tags the run was started with
    else:
        docs, types = [], list(config.data.types)
        if config.data.train:
            emit({"event": "stage", "stage": "label", "message": "labeling the training text"})
            docs = read_corpus(config.data.train, config.data.train_format)
            for doc in docs:
                doc.layers.pop(GOLD, None)  # the training text is unlabeled: never learn from its annotations
            labeling, types = pseudo_label(docs, config, config_path, workers)
        if config.data.train_labeled:
            labeled, found = read_labeled(config.data.train_labeled, config_path)
            docs += labeled
            types = list(config.data.types) or sorted(set(types) | set(found))
        write_documents(docs, pseudo_file, "jsonl", layer=PSEUDO)
        tags = tag_names(types)
    if config.data.dev is not None:
        dev_docs = read_corpus([config.data.dev])[:config.data.dev_budget]
        return TrainingData(docs, dev_docs, GOLD, tags, labeling)
    keep, held = split_documents(len(docs), config.data.heldout_fraction, config.train.seed)
    train_docs, dev_docs = [docs[i] for i in keep], [docs[i] for i in held]
    # heldout_fraction = 0: select on how well the model fits its own pseudo-labels
    return TrainingData(train_docs, dev_docs or train_docs, PSEUDO, tags, labeling)


def read_labeled(paths: Sequence[Path], config_path: Path | None = None) -> tuple[list[Document], list[str]]:
    """Read pseudo-labeled documents (``data.train_labeled``) as they are; return them and the types they hold.

    Raises:
        DistantError: a document without a pseudo layer (it would teach every token O), or no type at all.
    """
    from distant.jobs import expand_inputs

    docs, types = [], set()
    tokenizer = default_tokenizer()
    for path in expand_inputs(paths):
        for doc in iter_documents(path):
            if PSEUDO not in doc.layers:
                raise DistantError(f"document {doc.id}: found no {PSEUDO!r} layer, expected documents labeled by "
                                   "distant label (data.train_labeled)", path)
            doc.layers.pop(GOLD, None)  # never learn from gold annotations
            types.update(t for s in doc.spans(PSEUDO) for t in label_types(s.label))
            docs.append(tokenizer(doc))
    if not types:
        raise DistantError("data.train_labeled: the documents' pseudo layers hold no entity type", config_path)
    return docs, sorted(types)


def pseudo_label(docs: list[Document], config: RunConfig, config_path: Path | None,
                 workers: int = 1) -> tuple[dict[str, Any], list[str]]:
    """Run the configured labelers and aggregation over ``docs`` (in place).

    Returns:
        The labeling summary and the run's entity types: ``data.types``, or when it is empty every type the
        labelers can emit (``unknown_label = "*"`` stands for these).
    """
    from distant.labelers.pipeline import build_pipeline, label_documents

    labelers, aggregator = build_pipeline(config.labelers, config.aggregate, path=config_path,
                                          types=config.data.types or None)
    if not aggregator.types:
        raise DistantError("the labelers can emit no entity type; set data.types or give a typed dictionary",
                           config_path)
    stats = label_documents(docs, labelers, aggregator, workers=workers)
    return stats.as_dict(), list(aggregator.types)


def tag_names(types: Sequence[str]) -> list[str]:
    """Return the IOB2 tags of ``types``, ``O`` first."""
    return ["O", *(f"{p}-{t}" for t in types for p in "BI")]


def build_model(config: RunConfig, data: TrainingData, run_dir: Path, device: torch.device, emit: Emit,
                saved: tuple | None) -> Tagger:
    """Restore the tagger of a resumed run, or build a new one (pre-training or loading its char LM)."""
    if saved is not None:
        model = Tagger.from_checkpoint(saved[1], where=str(run_dir / LAST_FILE))
    else:
        words = chunk_words(data.train_docs, training_chunks(data.train_docs, config.data.max_tokens))
        charlm = char_lm(config, words, run_dir, device, emit)
        model = build_tagger(words, data.tags, config.model, charlm=charlm, seed=config.train.seed,
                             rules=config.predict)
    return model.to(device)


def training_chunks(docs: Sequence[Document], max_tokens: int) -> list:
    """Return the non-empty sentence chunks the tagger trains on."""
    return [c for c in chunks(docs, max_tokens) if c.last > c.first]


def char_lm(config: RunConfig, sentences: list[list[str]], run_dir: Path, device: torch.device,
            emit: Emit) -> CharLM | None:
    """Return the char LM the tagger starts from: loaded, pre-trained here, or ``None`` (a fresh one)."""
    if not config.model.use_charlm:
        return None
    if config.pretrain.charlm is not None:
        return load_charlm(config.pretrain.charlm)
    if config.pretrain.epochs <= 0:
        return None  # build_tagger makes a fresh one, trained with the tagger
    text = list(sentences)
    if config.data.extra_text:
        extra = read_corpus(config.data.extra_text)
        text += chunk_words(extra, chunks(extra, config.data.max_tokens))
    return pretrain_lm(text, config.model.charlm, config.pretrain, run_dir / CHARLM_FILE, device, emit,
                       seed=config.train.seed)


def feature_folder(choice: str, size: int, run_dir: Path) -> Path | None:
    """Return where the training features are cached: ``None`` (memory) or a folder of memory-mapped files.

    ``auto`` puts them on disk when ``size`` bytes would take over a quarter of the memory available.
    """
    if choice == "memory" or choice == "auto" and size <= available_memory() / 4:
        return None
    return run_dir / "features"


def available_memory() -> int:
    """Return the memory available to new allocations, in bytes (``MemAvailable``; no limit where unknown)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 2**62


def encode(model: Tagger, data: TrainingData, config: RunConfig, device: torch.device, emit: Emit,
           run_dir: Path) -> tuple[Encoded, DevScorer]:
    """Encode the training documents (with their allowed tag sets) and the dev documents, once."""
    units = training_chunks(data.train_docs, config.data.max_tokens)
    words = sum(c.last - c.first for c in units)
    folder = feature_folder(config.train.feature_cache, words * model.cached_width() * 2, run_dir)
    where = f", features on disk in {folder}" if folder is not None else ""
    emit({"event": "stage", "stage": "encode", "message": f"encoding {len(units)} training sentences{where}"})
    train_set = encode_documents(model, data.train_docs, max_tokens=config.data.max_tokens, device=device,
                                 batch_size=config.predict.batch_size, allowed_from=PSEUDO,
                                 unmatched=config.aggregate.unmatched, feature_dir=folder)
    dev_set = encode_documents(model, data.dev_docs, max_tokens=config.data.max_tokens, device=device,
                               batch_size=config.predict.batch_size)
    return train_set, DevScorer(dev_set, data.dev_layer, config, device)


class DevScorer:
    """Scores a model on the encoded dev documents: against gold when there is, else the held-out pseudo-labels."""

    def __init__(self, encoded: Encoded, layer: str, config: RunConfig, device: torch.device) -> None:
        self.encoded, self.layer, self.device = encoded, layer, device
        self.rules = config.predict

    def score(self, model: Tagger, tag_bias: torch.Tensor | None, min_score: float | None = None) -> dict[str, Any]:
        """Decode the dev documents with ``tag_bias`` and return the strict micro scores (and per type).

        ``min_score``: the span threshold (``None``: the config's; ``"auto"`` counts as none until chosen).
        """
        if not self.encoded.chunks:
            return {"f1": 0.0, "precision": 0.0, "recall": 0.0, "support": 0}
        tags, conf = decode(model, self.encoded.examples, batch_size=self.rules.batch_size, device=self.device,
                            tag_bias=tag_bias)
        store_predictions(self.encoded, tags, conf, PRED, rules=self.rules, min_score=min_score)
        return self.scores()

    def scores(self, min_score: float = 0.0) -> dict[str, Any]:
        """Score the stored dev predictions, those below ``min_score`` left out."""
        docs = self.encoded.docs
        if min_score > 0:
            docs = [doc.copy(layers=(self.layer, PRED)) for doc in docs]
            drop_unconfident(docs, PRED, min_score)
        result = evaluate(docs, docs, gold_layer=self.layer, pred_layer=PRED)
        out = {k: v for k, v in result.micro.as_dict().items() if k in ("precision", "recall", "f1", "support")}
        out["per_type"] = {t: round(s.f1, 4) for t, s in result.per_type.items()}
        return out

    def choose_min_score(self, model: Tagger, grid: Sequence[float]) -> tuple[float, dict[str, float]]:
        """Return the span threshold of ``grid`` with the best dev F1 (ties: the lowest) and every one's F1."""
        self.score(model, None, min_score=0.0)
        curve = {f"{t:g}": self.scores(t)["f1"] for t in sorted(grid)}
        best = max(curve.values())
        return min(t for t in grid if curve[f"{t:g}"] >= best - 1e-12), curve


def instance_weights(model: Tagger, train_set: Encoded, config: RunConfig, run_dir: Path, device: torch.device,
                     emit: Emit, fresh: bool) -> list[float] | None:
    """Return CrossWeigh's sentence weights when configured (computed once, read back when resuming)."""
    if not config.debias.crossweigh:
        return None
    if not fresh:
        return load_checkpoint(run_dir / CROSSWEIGH_FILE)["weights"].tolist()
    weights = crossweigh_weights(model, train_set, config, device, emit)
    save_checkpoint({"weights": torch.tensor(weights)}, run_dir / CROSSWEIGH_FILE)
    return weights


def crossweigh_weights(model: Tagger, train_set: Encoded, config: RunConfig, device: torch.device,
                       emit: Emit) -> list[float]:
    """Return CrossWeigh weights for the training sentences (Wang et al., EMNLP 2019).

    Each fold trains a copy of the untrained tagger (on the same cached features) for
    ``debias.crossweigh_epochs`` epochs on the sentences that share no entity surface with the held-out fold,
    and flags the held-out sentences whose decoded tags leave their pseudo-labels' allowed sets.
    """
    cfg = config.debias
    examples = train_set.examples
    surfaces = []
    for chunk in train_set.chunks:
        doc = train_set.docs[chunk.doc]
        lo, hi = doc.char_span(chunk.first, chunk.last)
        surfaces.append({doc.text[s.start:s.end].lower() for s in doc.spans(PSEUDO)
                         if lo <= s.start and s.end <= hi and label_types(s.label)})
    # every fold trains its epochs: no dev set, so no early stop
    settings = dataclasses.replace(config.train, epochs=cfg.crossweigh_epochs, patience=cfg.crossweigh_epochs + 1)
    index = model.tag_index()

    def train_and_predict(train_idx: list[int], test_idx: list[int]) -> list[bool]:
        fold = copy.deepcopy(model)  # the untrained initial weights, seeded
        optimizer = make_optimizer(fold, settings)
        subset = [examples[i] for i in train_idx]
        for event in train_while_improving(fold, subset, optimizer, settings=settings, device=device,
                                           score=lambda: {"f1": 0.0}, state=TrainState(), last_epoch=settings.epochs):
            if event["event"] == "epoch":
                emit({"event": "stage", "stage": "crossweigh",
                      "message": f"  crossweigh fold: epoch {event['epoch']}, {len(subset)} sentences"})
        held = [examples[i] for i in test_idx]
        tags, _ = decode(fold, held, batch_size=config.predict.batch_size, device=device)
        return [any(not ex.allowed[t, index[tag]] for t, tag in enumerate(seq)) for ex, seq in zip(held, tags)]

    emit({"event": "stage", "stage": "crossweigh", "message": f"CrossWeigh: {cfg.crossweigh_iterations} x "
          f"{cfg.crossweigh_folds} folds"})
    weights = crossweigh(surfaces, train_and_predict, k=cfg.crossweigh_folds, iterations=cfg.crossweigh_iterations,
                         epsilon=cfg.crossweigh_epsilon, seed=config.train.seed)
    return [float(w) for w in weights]


# -- the fit and self-training ------------------------------------------------------------------------------------
def train_rounds(model: Tagger, train_set: Encoded, scorer: DevScorer, correction: ShiftCorrection,
                 config: RunConfig, run_dir: Path, device: torch.device, emit: Emit, saved: tuple | None,
                 weights: Sequence[float] | None) -> tuple[TrainState, dict[str, float]]:
    """Fit the tagger with early stopping, then self-train ``train.self_training`` rounds; checkpoint every epoch.

    Returns:
        The final state and the words and seconds spent training.
    """
    settings = config.train
    state, optimizer = TrainState(), make_optimizer(model, settings)
    if saved is not None:
        state = saved[0]
        optimizer.load_state_dict(saved[2])
        if state.round > 0:
            read_round_labels(train_set.docs, run_dir, state.round)
            set_allowed(train_set, model.tags, PSEUDO, config.aggregate.unmatched)
        emit({"event": "stage", "stage": "resume", "message": f"resuming after epoch {state.epoch}"})
    deadline = time.perf_counter() + settings.max_minutes * 60 if settings.max_minutes > 0 else math.inf
    emit({"event": "stage", "stage": "train", "message": f"training on {len(train_set.examples)} sentences "
          f"({train_set.num_words} words), {len(model.tags)} tags, device {device}"})
    phase = Phase(model, train_set, scorer, correction, settings, run_dir, device, emit, deadline, weights)
    last = settings.epochs if state.round == 0 else state.round_start + settings.self_training_epochs - 1
    speed = phase.run(optimizer, state, last, patience_from=0 if state.round == 0 else state.round_start - 1)
    while state.round < settings.self_training and state.stop_reason != "time":
        relabel_round(model, train_set, state, correction, config, run_dir, device, emit)
        more = phase.run(make_optimizer(model, settings), state, state.epoch + settings.self_training_epochs,
                         patience_from=state.epoch)
        speed = {k: speed[k] + more[k] for k in speed}
    return state, speed


def relabel_round(model: Tagger, train_set: Encoded, state: TrainState, correction: ShiftCorrection,
                  config: RunConfig, run_dir: Path, device: torch.device, emit: Emit) -> None:
    """Start a self-training round: the best model's confident predictions join the pseudo-labels."""
    state.round += 1
    emit({"event": "stage", "stage": "self-train", "message": f"self-training round {state.round}"})
    model.load_state_dict(load_checkpoint(run_dir / MODEL_FILE)["state_dict"])
    tags, conf = decode(model, train_set.examples, batch_size=config.predict.batch_size, device=device,
                        tag_bias=correction.labeling_bias())
    store_predictions(train_set, tags, conf, PRED, rules=config.predict, min_score=0.0)
    counts = relabel(train_set.docs, PSEUDO, PRED, config.train.self_training_min_score, PSEUDO)
    state.rounds.append({"round": state.round, **counts})
    write_documents(train_set.docs, run_dir / f"pseudo.round{state.round}.jsonl", "jsonl", layer=PSEUDO)
    set_allowed(train_set, model.tags, PSEUDO, config.aggregate.unmatched)
    state.round_start, state.stopped, state.stop_reason = state.epoch + 1, False, ""


def read_round_labels(docs: Sequence[Document], run_dir: Path, round_: int) -> None:
    """Restore a self-training round's pseudo-labels (when resuming inside that round)."""
    saved = read_documents(run_dir / f"pseudo.round{round_}.jsonl", "jsonl")
    for doc, again in zip(docs, saved):
        doc.layers[PSEUDO] = again.spans(PSEUDO)


class Phase:
    """Runs :func:`~distant.loop.train_while_improving` over a range of epochs, checkpointing each epoch."""

    def __init__(self, model: Tagger, train_set: Encoded, scorer: DevScorer, correction: ShiftCorrection,
                 settings: TrainConfig, run_dir: Path, device: torch.device, emit: Emit, deadline: float,
                 weights: Sequence[float] | None = None):
        self.model, self.train_set, self.scorer, self.correction = model, train_set, scorer, correction
        self.settings, self.run_dir, self.device, self.emit = settings, run_dir, device, emit
        self.deadline, self.weights = deadline, weights
        self.selection_bias = correction.selection_bias()

    def run(self, optimizer: torch.optim.Optimizer, state: TrainState, last_epoch: int,
            patience_from: int = 0) -> dict[str, float]:
        """Train up to ``last_epoch`` (or until the round stops); return the words and seconds trained."""
        events = train_while_improving(self.model, self.train_set.examples, optimizer, settings=self.settings,
                                       device=self.device, score=lambda: self.scorer.score(self.model,
                                                                                           self.selection_bias),
                                       state=state, last_epoch=last_epoch, patience_from=patience_from,
                                       deadline=self.deadline, instance_weights=self.weights,
                                       correction=self.correction)
        words, seconds = 0, 0.0
        tracker = Tracker(self.run_dir, self.settings.log_to)
        with contextlib.closing(tracker):
            for event in events:
                self.emit(event)
                tracker.event(event)
                if event["event"] != "epoch":
                    continue
                words += event["words"]
                seconds += event["seconds"]
                if event["is_best"]:
                    save_checkpoint(self.model.to_checkpoint(), self.run_dir / MODEL_FILE)
                state.save(self.run_dir / LAST_FILE, self.model, optimizer)
                write_text(self.run_dir / "metrics.jsonl", "".join(json.dumps(h) + "\n" for h in state.history))
                tracker.epoch(state.history)
                if state.stopped:
                    why = (f"early stop: no dev gain for {self.settings.patience} epochs"
                           if state.stop_reason == "patience" else f"time limit of {self.settings.max_minutes} min reached")
                    self.emit({"event": "stage", "stage": "stop", "message": why})
        return {"words": words, "seconds": seconds}


# -- after training ------------------------------------------------------------------------------------------------
def finalize(config: RunConfig, run_dir: Path, device: torch.device, scorer: DevScorer,
             correction: ShiftCorrection, train_set: Encoded, emit: Emit, report: dict[str, Any]) -> Tagger:
    """Load the best model, fit its decoding bias on dev (the shift correction), save it; return it."""
    best = Tagger.from_checkpoint(load_checkpoint(run_dir / MODEL_FILE)).to(device)
    dev: dict[str, Any] = {"source": "gold" if scorer.layer == GOLD else "held-out pseudo-labels",
                           "documents": len(scorer.encoded.docs)}
    dev["before_correction"] = scorer.score(best, None)
    unlabeled = train_set.examples[:EM_SENTENCES]
    best.tag_bias.copy_(correction.fit(
        dev_f1=lambda bias: scorer.score(best, bias)["f1"],
        train_marginals=lambda bias: posteriors(best, unlabeled, batch_size=config.predict.batch_size,
                                                device=device, tag_bias=bias),
        emit=emit))
    if config.predict.min_score == "auto":
        chosen, curve = scorer.choose_min_score(best, MIN_SCORE_GRID)
        best.rules = dataclasses.replace(best.rules, min_score=chosen)
        dev["min_score"] = {"chosen": chosen, "dev_f1": curve}
        emit({"event": "stage", "stage": "min-score",
              "message": f"span confidence threshold chosen on dev: {chosen:g} (dev F1 {curve[f'{chosen:g}']:.4f},"
                         f" without: {curve['0']:.4f})"})
    save_checkpoint(best.to_checkpoint(), run_dir / MODEL_FILE)
    dev["scores"] = scorer.score(best, None, min_score=best.rules.span_threshold)
    correction.write(run_dir)
    report["dev"], report["debias"] = dev, correction.summary()
    return best


def score_test(model: Tagger, path: Path, max_tokens: int, device: torch.device,
               combination: Combination | None = None) -> dict[str, Any]:
    """Predict the gold test documents from their raw text (with the combination, when the run has one) and score
    them strictly; with a combination, ``tagger`` holds the tagger's own micro scores."""
    gold = read_corpus([path])
    pred = [doc.copy(layers=() if combination is None else combination.inputs) for doc in gold]
    speed = predict_documents(model, pred, device=device, max_tokens=max_tokens,
                              layer=PRED if combination is None else TAGGER)
    if combination is None:
        return {**evaluate(gold, pred, gold_name=str(path)).as_dict(), "prediction": speed}
    alone = evaluate(gold, pred, pred_layer=TAGGER, gold_name=str(path)).as_dict()["micro"]
    combination.apply(pred, PRED)
    return {**evaluate(gold, pred, gold_name=str(path)).as_dict(), "prediction": speed, "tagger": alone}


def combine_summary(part: dict[str, Any]) -> str:
    """One line on the fitted combination: its sources, its dev F1 against the tagger's, whether it was kept."""
    head = f"label model over {', '.join(part['sources'])}"
    if "dev_f1_tagger" not in part:
        return f"{head}: kept (no gold dev documents to check it on)"
    if "dev_tagger_better" in part:
        check = (f"the tagger alone the higher in {100 * part['dev_tagger_better']:.0f} % of the bootstrap "
                 f"resamples of the {part['dev_checked']} dev documents not in the training text")
    else:
        check = "every dev document is in the training text: unchecked"
    return (f"{head}: dev F1 {part['dev_f1_combined']:.4f} (tagger alone {part['dev_f1_tagger']:.4f}; {check}), "
            f"{'kept' if part['kept'] else 'not kept'}")


def training_summary(state: TrainState, train_set: Encoded, speed: dict[str, float],
                     settings: TrainConfig) -> dict[str, Any]:
    """Return the ``train`` part of the report."""
    return {"epochs": len(state.history), "best_epoch": state.best_epoch, "best_dev_f1": state.best_f1,
            "stopped_by": state.stop_reason or "epochs", "sentences": len(train_set.examples),
            "words_per_epoch": train_set.num_words, "words_per_s": speed["words"] / max(speed["seconds"], 1e-9),
            "self_training": state.rounds, "max_minutes": settings.max_minutes}


# -- the run folder and the bookkeeping ----------------------------------------------------------------------------
def open_run_folder(run_dir: Path, resume: bool, config: RunConfig, config_path: Path | None) -> Path:
    """Check the run folder suits the request and the run's inputs exist; write the resolved config.

    Raises:
        DistantError: nothing to resume, a folder that holds a run already, or a missing input.
    """
    last = run_dir / LAST_FILE
    if resume and not last.is_file():
        raise DistantError(f"nothing to resume: no {LAST_FILE} in the run folder", run_dir)
    if not resume and last.is_file():
        raise DistantError("the run folder holds a training run already; use --resume to continue it or "
                           "another -o folder", run_dir)
    check_inputs(config, config_path)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text(run_dir / "config.toml", dump_toml(to_dict(config)))
    return run_dir


def input_paths(config: RunConfig) -> list[tuple[str, Path]]:
    """Return every file or folder a run reads, with its dotted key."""
    data = config.data
    paths = [(f"data.train[{k}]", p) for k, p in enumerate(data.train)]
    paths += [(f"data.train_labeled[{k}]", p) for k, p in enumerate(data.train_labeled) if not glob.has_magic(str(p))]
    paths += [(f"data.extra_text[{k}]", p) for k, p in enumerate(data.extra_text)]
    paths += [(f"data.{key}", getattr(data, key)) for key in ("dev", "test") if getattr(data, key) is not None]
    if config.pretrain.charlm is not None:
        paths.append(("pretrain.charlm", config.pretrain.charlm))
    for k, labeler in enumerate(config.labelers):
        for f in dataclasses.fields(LABELER_OPTIONS[labeler.type]):
            value = getattr(labeler.options, f.name)
            values = value if isinstance(value, list) else [value]
            for j, item in enumerate(values):
                if isinstance(item, Path):
                    key = f"labelers[{k}].{f.name}" + (f"[{j}]" if isinstance(value, list) else "")
                    paths.append((key, item))
    return paths


def check_inputs(config: RunConfig, config_path: Path | None = None) -> None:
    """Check, before any work starts, that the run has labelers and training text and that its inputs exist.

    Raises:
        DistantError: naming the dotted key and the missing path.
    """
    if not config.data.train and not config.data.train_labeled:
        raise DistantError("data.train is empty: expected the unlabeled training text files (or data.train_labeled: "
                           "documents labeled already)", config_path)
    if config.data.train and not config.labelers:
        raise DistantError("expected at least one [[labelers]] table to label data.train", config_path)
    for key, path in input_paths(config):
        if not path.exists():
            raise DistantError(f"{key}: not found: {path}", config_path)
    check_sources(config, config_path)


@dataclass
class Progress:
    """A callback for stage and training events (the CLI draws them; tests ignore them)."""

    callback: Emit | None = None

    def __call__(self, event: dict[str, Any]) -> None:
        if self.callback is not None:
            self.callback(event)
        if event.get("event") == "stage":
            log.info("%s", event.get("message", event.get("stage")))


@dataclass
class Timer:
    """Wall time per stage: ``with timer("train"): ...`` adds to ``timer.seconds["train"]``."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - start
