"""Training: pseudo-label the text, (pre-train the char LM,) fit the tagger, select on dev, report on test.

:func:`fit` is the training loop as a generator: it yields an event after every step and every epoch, and the
caller logs, draws progress and checkpoints. :func:`run_training` is the whole job behind ``distant train``:
it writes into the run folder

* ``config.toml`` — the resolved config (every default filled in), to repeat the run;
* ``pseudo.jsonl`` — the pseudo-labeled training documents;
* ``charlm.pt`` — the pre-trained character LM (when configured);
* ``last.pt`` — model, optimiser, epoch and history after every epoch (``--resume`` continues from it);
* ``model.pt`` — the best model on the dev set (what ``distant predict`` loads);
* ``metrics.jsonl`` — one line per epoch; ``debias.json`` — the shift-correction report;
* ``report.json`` — timings, throughput and the dev/test evaluation.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from distant.atomic import write_text
from distant.checkpoints import load_checkpoint, save_checkpoint
from distant.config import apply_overrides, build, check_range, dump_toml, load_toml, to_dict
from distant.corpus import chunk_words, chunks, read_corpus, split_documents
from distant.debias import DebiasConfig
from distant.debias.corrections import instance_weighted
from distant.debias.crossweigh import crossweigh, summarize_weights
from distant.debias.training import ShiftCorrection
from distant.docs import GOLD, PSEUDO, PRED, Document
from distant.errors import DistantError
from distant.evaluate import evaluate
from distant.formats import read_documents, write_documents
from distant.labelers.base import is_type_name
from distant.models import parallel
from distant.models.charlm import CharLM, build_charlm, pretrain_charlm
from distant.models.tagger import Tagger, TaggerConfig, TaggerExample, build_tagger, collate
from distant.predict import MODEL_FILE, Encoded, decode, encode_documents, store_predictions
from distant.selftrain import relabel

log = logging.getLogger(__name__)

LAST_FILE = "last.pt"
CROSSWEIGH_FILE = "crossweigh.pt"
EM_SENTENCES = 3000  # training sentences whose posteriors EM re-estimates the target prior from
CHARLM_FILE = "charlm.pt"


# -- configuration ------------------------------------------------------------------------------------------
@dataclass
class DataConfig:
    """Where the text, the gold dev set and the gold test set come from (``[data]``)."""

    train: list[Path] = field(default_factory=list)  # unlabeled training text (annotations are ignored)
    train_format: str | None = None
    extra_text: list[Path] = field(default_factory=list)  # more raw text for char-LM pre-training
    dev: Path | None = None  # gold development documents (model selection, shift estimation)
    dev_budget: int | None = None  # use only the first N gold dev documents
    test: Path | None = None  # gold test documents, scored after training
    types: list[str] = field(default_factory=list)  # entity types (default: those the labelers emit)
    heldout_fraction: float = 0.1  # pseudo-labeled held-out split for model selection without gold dev
    # (0: select on the training documents' own pseudo-labels)
    max_tokens: int = 100  # longer sentences are cut into chunks of this many tokens

    def __post_init__(self) -> None:
        check_range("data.heldout_fraction", self.heldout_fraction, low=0.0, high=1.0, high_open=True)
        check_range("data.max_tokens", self.max_tokens, low=1)
        if self.dev_budget is not None:
            check_range("data.dev_budget", self.dev_budget, low=1)
        for k, name in enumerate(self.types):
            if not is_type_name(name):
                raise ValueError(f"data.types[{k}]: expected an entity type (a letter, then letters, digits, '_' "
                                 f"or '.'; not O), found {name!r}")
        if len(set(self.types)) != len(self.types):
            raise ValueError(f"data.types: expected each type once, found {self.types!r}")


@dataclass
class TrainSettings:
    """The optimisation (``[train]``)."""

    epochs: int = 20
    batch_size: int = 32
    lr: float = 1e-3
    optimizer: str = "radam"
    weight_decay: float = 0.0
    clip: float = 5.0
    patience: int = 5  # epochs without dev improvement before stopping
    seed: int = 13
    device: str = "auto"  # auto: CUDA when present, else CPU
    mixed_precision: bool = True  # on CUDA only
    max_minutes: float = 0.0  # stop after this long (0: no limit); the best model so far is kept
    eval_batch_size: int = 128
    pretrain_epochs: int = 0  # char-LM pre-training passes over the training (and extra) text
    charlm: Path | None = None  # a pre-trained char LM (``distant pretrain-lm``) instead of pre-training here
    threads: int = 0  # 0: one torch thread and independent branches in parallel (distant.models.parallel); N: N torch threads
    self_training: int = 0  # rounds of self-training after the first fit (see distant.selftrain)
    self_training_epochs: int = 4  # epochs per self-training round (early stopping applies)
    self_training_min_score: float = 0.9  # confidence a predicted span needs to join the pseudo-labels

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"train.optimizer: expected one of {', '.join(OPTIMIZERS)}, found {self.optimizer!r}")
        check_device_name(self.device, "train.device")
        for key in ("epochs", "batch_size", "patience", "eval_batch_size", "self_training_epochs"):
            check_range(f"train.{key}", getattr(self, key), low=1)
        for key in ("pretrain_epochs", "threads", "self_training"):
            check_range(f"train.{key}", getattr(self, key), low=0)
        check_range("train.lr", self.lr, low=0.0, low_open=True)
        for key in ("weight_decay", "clip", "max_minutes"):
            check_range(f"train.{key}", getattr(self, key), low=0.0)
        check_range("train.self_training_min_score", self.self_training_min_score, low=0.0, high=1.0)


@dataclass
class RunConfig:
    """A whole training run, as written in ``configs/*.toml``."""

    data: DataConfig = field(default_factory=DataConfig)
    labelers: list[dict] = field(default_factory=list)  # [[labelers]] tables (see distant.labelers)
    aggregate: dict = field(default_factory=dict)  # [aggregate] table
    model: TaggerConfig = field(default_factory=TaggerConfig)
    train: TrainSettings = field(default_factory=TrainSettings)
    debias: DebiasConfig = field(default_factory=DebiasConfig)


OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "radam": torch.optim.RAdam,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": lambda params, lr, weight_decay: torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay),
}


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> RunConfig:
    """Read a run config; relative paths resolve against the config's folder (``--set`` ones: the current one).

    The labelers' options are checked and their paths made absolute here too, so that a run folder's
    ``config.toml`` reruns from anywhere.
    """
    path = Path(path)
    data = apply_overrides(load_toml(path), list(overrides))
    base = path.resolve().parent
    config = build(RunConfig, data, path=path, base=base)
    config.labelers = resolve_labeler_specs(config.labelers, path, base)
    return config


def resolve_labeler_specs(specs: Sequence[dict[str, Any]], path: Path | None, base: Path | None) -> list[dict]:
    """Return the ``[[labelers]]`` tables with every option filled in and every path absolute.

    Raises:
        DistantError: an unknown labeler type or option, or a bad value (naming the dotted key).
    """
    from distant.labelers import LABELERS

    resolved = []
    for k, spec in enumerate(specs):
        options = dict(spec)
        kind, name = options.pop("type", None), options.pop("name", None)
        cls = LABELERS.get(kind) if isinstance(kind, str) else None
        if cls is None:  # build_labelers says what is wrong, with the list of types
            resolved.append(dict(spec))
            continue
        built = build(cls.Options, options, path=path, prefix=f"labelers[{k}].", base=base)
        table = {"type": kind, **({} if name is None else {"name": name}), **to_dict(built)}
        resolved.append(table)
    return resolved


def input_paths(config: RunConfig) -> list[tuple[str, Path]]:
    """Return every file or folder a run reads, with its dotted key."""
    from distant.labelers import LABELERS

    data = config.data
    paths = [(f"data.train[{k}]", p) for k, p in enumerate(data.train)]
    paths += [(f"data.extra_text[{k}]", p) for k, p in enumerate(data.extra_text)]
    paths += [(f"data.{key}", getattr(data, key)) for key in ("dev", "test") if getattr(data, key) is not None]
    if config.train.charlm is not None:
        paths.append(("train.charlm", config.train.charlm))
    for k, spec in enumerate(config.labelers):
        cls = LABELERS.get(spec.get("type"))
        if cls is None:
            continue
        for f in dataclasses.fields(cls.Options):
            value = spec.get(f.name)
            values = value if isinstance(value, list) else [value]
            for j, item in enumerate(values):
                if isinstance(item, str) and "Path" in str(f.type):
                    key = f"labelers[{k}].{f.name}" + (f"[{j}]" if isinstance(value, list) else "")
                    paths.append((key, Path(item)))
    return paths


def check_inputs(config: RunConfig, config_path: Path | None = None) -> None:
    """Check, before any work starts, that the run has training text and that everything it reads exists.

    Raises:
        DistantError: naming the dotted key and the missing path.
    """
    if not config.data.train:
        raise DistantError("data.train is empty: expected the unlabeled training text files", config_path)
    for key, path in input_paths(config):
        if not path.exists():
            raise DistantError(f"{key}: not found: {path}", config_path)


DEVICE_NAMES = "auto, cpu, cuda or cuda:N"


def check_device_name(name: str, key: str = "--device") -> None:
    """Raise ``ValueError`` unless ``name`` is ``auto``, ``cpu``, ``cuda`` or ``cuda:N``."""
    if name not in ("auto", "cpu", "cuda") and not (name.startswith("cuda:") and name[5:].isdigit()):
        raise ValueError(f"{key}: expected {DEVICE_NAMES}, found {name!r}")


def resolve_device(name: str) -> torch.device:
    """Turn ``auto`` into CUDA when available, else the CPU; refuse a device this machine does not have.

    Raises:
        DistantError: an unknown device name, or CUDA (or a GPU index) that is not there.
    """
    try:
        check_device_name(name)
    except ValueError as e:
        raise DistantError(str(e)) from None
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DistantError(f"--device {name}: CUDA is not available on this machine; expected --device cpu "
                               "or auto")
        index = int(name[5:]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise DistantError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s); "
                               f"expected cuda:0 to cuda:{torch.cuda.device_count() - 1}")
    return torch.device(name)


# -- the training loop --------------------------------------------------------------------------------------
def length_batches(lengths: Sequence[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Bucket example indices by length (little padding) and shuffle the batch order."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], rng.random()))
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


def fit(model: Tagger, examples: Sequence[TaggerExample], optimizer: torch.optim.Optimizer, *,
        settings: TrainSettings, device: torch.device, score_dev: Callable[[], dict],
        start_epoch: int = 1, last_epoch: int | None = None, instance_weights: Sequence[float] | None = None,
        correction: ShiftCorrection | None = None) -> Iterator[dict[str, Any]]:
    """Train ``model`` epoch after epoch, yielding ``step`` and ``epoch`` events.

    Every epoch is seeded from ``settings.seed`` and its number, so a resumed run repeats exactly what an
    uninterrupted one does. Closing the generator stops training.

    Yields:
        ``{"event": "step", "epoch", "step", "steps", "loss", "words_per_s"}`` after each batch and
        ``{"event": "epoch", "epoch", "loss", "words", "seconds", "words_per_s", "dev": {...}}`` after each
        epoch, where ``dev`` is ``score_dev()``.
    """
    lengths = [len(e.words) for e in examples]
    params = model.trainable_parameters()
    use_amp = settings.mixed_precision and device.type == "cuda"
    train_bias = None if correction is None else correction.train_bias()
    bias = None if train_bias is None else train_bias.to(device)
    for epoch in range(start_epoch, (settings.epochs if last_epoch is None else last_epoch) + 1):
        rng = random.Random(settings.seed * 1000 + epoch)
        torch.manual_seed(settings.seed * 1000 + epoch)
        model.train()
        batches = length_batches(lengths, settings.batch_size, rng)
        start, words, total = time.perf_counter(), 0, 0.0
        for step, ids in enumerate(batches, 1):
            batch = collate([examples[i] for i in ids]).to(device)
            weights = None if instance_weights is None else torch.tensor(
                [instance_weights[i] for i in ids], device=device, dtype=torch.float32)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                crf, lm, emissions = model.loss_terms(batch, bias)  # [B], scalar | None, [B, T, K]
            loss = crf.mean() if weights is None else instance_weighted(crf, weights)
            if lm is not None:
                loss = loss + model.config.lm_weight * lm
            if correction is not None and correction.reweights:
                marginals = model.crf.marginals(emissions.float(), batch.mask, bias)  # [B, T, K]
                loss = loss + correction.token_loss(marginals, batch.allowed, batch.mask, weights)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if settings.clip > 0:
                nn.utils.clip_grad_norm_(params, settings.clip)
            optimizer.step()
            words += batch.num_words
            total += float(loss.detach())
            yield {"event": "step", "epoch": epoch, "step": step, "steps": len(batches),
                   "loss": float(loss.detach()), "words_per_s": words / max(time.perf_counter() - start, 1e-9)}
        seconds = time.perf_counter() - start
        dev = score_dev()
        yield {"event": "epoch", "epoch": epoch, "loss": total / max(len(batches), 1), "words": words,
               "seconds": seconds, "words_per_s": words / max(seconds, 1e-9), "dev": dev}


# -- the whole job ------------------------------------------------------------------------------------------
def pseudo_label(docs: list[Document], config: RunConfig, config_path: Path | None,
                 workers: int = 1) -> tuple[dict, list[str]]:
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


def set_allowed(train_set: Encoded, tags: Sequence[str], unmatched: str = "O") -> None:
    """Give every encoded training chunk its tokens' allowed tag sets, from the pseudo layer as it stands."""
    from distant.labelers.aggregate import allowed_tags

    per_doc: dict[int, list] = {}
    for chunk, example in zip(train_set.chunks, train_set.examples):
        if chunk.doc not in per_doc:
            per_doc[chunk.doc] = allowed_tags(train_set.docs[chunk.doc], list(tags), PSEUDO, unmatched)
        example.allowed = torch.tensor(per_doc[chunk.doc][chunk.first:chunk.last], dtype=torch.bool)


class DevScorer:
    """Scores the model on the dev documents: gold when configured, else the held-out pseudo-labels."""

    def __init__(self, model: Tagger, docs: Sequence[Document], layer: str, settings: TrainSettings,
                 max_tokens: int, device: torch.device) -> None:
        self.model, self.layer, self.settings, self.device = model, layer, settings, device
        self.encoded: Encoded = encode_documents(model, docs, max_tokens=max_tokens, device=device,
                                                 batch_size=settings.eval_batch_size)
        self.tag_bias: torch.Tensor | None = None

    def decode(self, tag_bias: torch.Tensor | None = None) -> tuple[list, list]:
        return decode(self.model, self.encoded.examples, batch_size=self.settings.eval_batch_size,
                      device=self.device, tag_bias=tag_bias)

    def score(self, tag_bias: torch.Tensor | None = None) -> dict[str, Any]:
        """Decode the dev documents and return the strict micro scores (and per type)."""
        if not self.encoded.chunks:
            return {"f1": 0.0, "precision": 0.0, "recall": 0.0, "support": 0}
        tags, conf = self.decode(tag_bias if tag_bias is not None else self.tag_bias)
        store_predictions(self.encoded, tags, conf, PRED, rules=self.model.config)
        result = evaluate(self.encoded.docs, self.encoded.docs, gold_layer=self.layer, pred_layer=PRED)
        out = {k: v for k, v in result.micro.as_dict().items() if k in ("precision", "recall", "f1", "support")}
        out["per_type"] = {t: round(s.f1, 4) for t, s in result.per_type.items()}
        return out


@dataclass
class Progress:
    """A callback for stage and training events (the CLI draws them; tests ignore them)."""

    callback: Callable[[dict[str, Any]], None] | None = None

    def __call__(self, event: dict[str, Any]) -> None:
        if self.callback is not None:
            self.callback(event)
        if event.get("event") == "stage":
            log.info("%s", event.get("message", event.get("stage")))


def crossweigh_weights(model: Tagger, train_set: Encoded, settings: TrainSettings, config: RunConfig,
                       device: torch.device, emit: Callable[[dict], None]) -> list[float]:
    """Return CrossWeigh weights for the training sentences (Wang et al., EMNLP 2019).

    Each fold trains a fresh tagger of the same architecture (on the same cached features) for
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
                         if lo <= s.start and s.end <= hi and s.label not in ("O", "-")})
    fold_settings = TrainSettings(**{**vars(settings), "epochs": cfg.crossweigh_epochs})
    index = model.vocabs.tag_index()

    def train_and_predict(train_idx: list[int], test_idx: list[int]) -> list[bool]:
        fold = Tagger(model.config, model.vocabs, model.charlm).to(device)
        fold.load_state_dict(model.state_dict())  # the untrained initial weights, seeded
        optimizer = make_optimizer(fold, fold_settings)
        subset = [examples[i] for i in train_idx]
        for event in fit(fold, subset, optimizer, settings=fold_settings, device=device, score_dev=dict):
            if event["event"] == "epoch":
                emit({"event": "stage", "stage": "crossweigh",
                      "message": f"  crossweigh fold: epoch {event['epoch']}, {len(subset)} sentences"})
        held = [examples[i] for i in test_idx]
        tags, _ = decode(fold, held, batch_size=settings.eval_batch_size, device=device)
        return [any(not ex.allowed[t, index[tag]] for t, tag in enumerate(seq)) for ex, seq in zip(held, tags)]

    emit({"event": "stage", "stage": "crossweigh", "message": f"CrossWeigh: {cfg.crossweigh_iterations} x "
          f"{cfg.crossweigh_folds} folds"})
    weights = crossweigh(surfaces, train_and_predict, k=cfg.crossweigh_folds, iterations=cfg.crossweigh_iterations,
                         epsilon=cfg.crossweigh_epsilon, seed=settings.seed)
    return [float(w) for w in weights]


def make_optimizer(model: Tagger, settings: TrainSettings) -> torch.optim.Optimizer:
    """Build the configured optimiser over the model's parameter groups."""
    return OPTIMIZERS[settings.optimizer](model.parameter_groups(settings.lr), lr=settings.lr,
                                          weight_decay=settings.weight_decay)


def read_round_labels(docs: Sequence[Document], run_dir: Path, round_: int) -> None:
    """Restore a self-training round's pseudo-labels (when resuming inside that round)."""
    saved = read_documents(run_dir / f"pseudo.round{round_}.jsonl", "jsonl")
    for doc, again in zip(docs, saved):
        doc.layers[PSEUDO] = again.spans(PSEUDO)


class Phase:
    """Runs :func:`fit` over a range of epochs with checkpoints, early stopping and the time limit."""

    def __init__(self, model: Tagger, train_set: Encoded, scorer: DevScorer, correction: ShiftCorrection,
                 settings: TrainSettings, run_dir: Path, device: torch.device, emit: Progress, deadline: float,
                 instance_weights: Sequence[float] | None = None):
        self.model, self.train_set, self.scorer, self.correction = model, train_set, scorer, correction
        self.instance_weights = instance_weights
        self.settings, self.run_dir, self.device, self.emit, self.deadline = settings, run_dir, device, emit, deadline
        self.out_of_time = False

    def run(self, optimizer: torch.optim.Optimizer, state: dict[str, Any], last_epoch: int,
            patience_from: int = 0) -> dict[str, float]:
        """Train epochs ``state["epoch"] + 1 .. last_epoch``, updating ``state``; return words and seconds."""
        settings = self.settings
        if state["stopped"]:  # a resumed run that had already stopped this phase
            return {"words": 0, "seconds": 0.0}
        events = fit(self.model, self.train_set.examples, optimizer, settings=settings, device=self.device,
                     score_dev=self.scorer.score, start_epoch=state["epoch"] + 1, last_epoch=last_epoch,
                     instance_weights=self.instance_weights, correction=self.correction)
        words, seconds = 0, 0.0
        for event in events:
            self.emit(event)
            if event["event"] != "epoch":
                continue
            words += event["words"]
            seconds += event["seconds"]
            state["epoch"] = epoch = event["epoch"]
            state["history"].append({k: v for k, v in event.items() if k != "event"} | {"round": state["round"]})
            if event["dev"]["f1"] > state["best"]["f1"]:
                state["best"] = {"epoch": epoch, "f1": event["dev"]["f1"]}
                save_checkpoint(self.model.to_checkpoint(), self.run_dir / MODEL_FILE)
            if epoch - max(state["best"]["epoch"], patience_from) >= settings.patience:
                state["stopped"] = True
                message = f"early stop: no dev gain for {settings.patience} epochs"
            elif time.perf_counter() > self.deadline:
                self.out_of_time = state["stopped"] = True
                message = f"time limit of {settings.max_minutes} min reached"
            save_checkpoint({"model": self.model.to_checkpoint(), "optimizer": optimizer.state_dict(), **state},
                            self.run_dir / LAST_FILE)
            write_text(self.run_dir / "metrics.jsonl", "".join(json.dumps(h) + "\n" for h in state["history"]))
            if state["stopped"]:
                self.emit({"event": "stage", "stage": "stop", "message": message})
                events.close()
        return {"words": words, "seconds": seconds}


def run_training(config: RunConfig, run_dir: Path, *, config_path: Path | None = None, resume: bool = False,
                 device: str | None = None, workers: int = 1,
                 progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Run ``distant train``: label, (pre-train,) train with early stopping, correct the shift, evaluate.

    Returns:
        The report written to ``run_dir/report.json``.
    """
    emit = Progress(progress)
    settings = config.train
    run_dir = Path(run_dir)
    last_path = run_dir / LAST_FILE
    if resume and not last_path.is_file():
        raise DistantError(f"nothing to resume: no {LAST_FILE} in the run folder", run_dir)
    if not resume and last_path.is_file():
        raise DistantError("the run folder holds a training run already; use --resume to continue it or "
                           "another -o folder", run_dir)
    check_inputs(config, config_path)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text(run_dir / "config.toml", dump_toml(to_dict(config)))
    dev_device = resolve_device(device or settings.device)
    timings: dict[str, float] = {}
    report: dict[str, Any] = {"device": str(dev_device), "threads": parallel.configure(settings.threads, dev_device)}

    # 1. pseudo-labels (cached in the run folder, so a resumed run trains on the same ones)
    t0 = time.perf_counter()
    pseudo_file = run_dir / "pseudo.jsonl"
    checkpoint = load_checkpoint(last_path) if resume else None
    if checkpoint is not None and pseudo_file.is_file():
        docs = read_documents(pseudo_file, "jsonl")
        tags = list(checkpoint["model"]["vocabs"]["tags"])  # the tags the run was started with
    else:
        emit({"event": "stage", "stage": "label", "message": "labeling the training text"})
        docs = read_corpus(config.data.train, config.data.train_format)
        for doc in docs:
            doc.layers.pop(GOLD, None)  # the training text is unlabeled: never learn from its annotations
        report["labeling"], types = pseudo_label(docs, config, config_path, workers)
        write_documents(docs, pseudo_file, "jsonl", layer=PSEUDO)
        tags = tag_names(types)
    timings["label"] = time.perf_counter() - t0

    # 2. dev documents: gold when configured (optionally a budget), else a held-out pseudo-labeled split
    if config.data.dev is not None:
        dev_docs = read_corpus([config.data.dev])
        if config.data.dev_budget is not None:
            dev_docs = dev_docs[:config.data.dev_budget]
        dev_layer = GOLD
        train_docs = docs
    else:
        keep, held = split_documents(len(docs), config.data.heldout_fraction, settings.seed)
        train_docs, dev_docs = [docs[i] for i in keep], [docs[i] for i in held]
        if not dev_docs:  # heldout_fraction = 0: select on how well the model fits its pseudo-labels
            dev_docs = train_docs
        dev_layer = PSEUDO
    report["dev"] = {"source": "gold" if dev_layer == GOLD else "held-out pseudo-labels",
                     "documents": len(dev_docs)}

    # 3. model (and the char LM, pre-trained once and reused)
    train_chunks = [c for c in chunks(train_docs, config.data.max_tokens) if c.last > c.first]
    train_words = chunk_words(train_docs, train_chunks)
    t0 = time.perf_counter()
    if checkpoint is not None:
        model = Tagger.from_checkpoint(checkpoint["model"], where=str(last_path))
    else:
        charlm = _charlm(config, train_words, run_dir, dev_device, emit)
        model = build_tagger(train_words, tags, config.model, charlm=charlm, seed=settings.seed)
    timings["pretrain_lm"] = time.perf_counter() - t0
    model.to(dev_device)

    # 4. encode once (frozen char-LM features are computed here and cached)
    t0 = time.perf_counter()
    emit({"event": "stage", "stage": "encode", "message": f"encoding {len(train_chunks)} training sentences"})
    unmatched = config.aggregate.get("unmatched", "O")
    train_set = encode_documents(model, train_docs, max_tokens=config.data.max_tokens, device=dev_device,
                                 batch_size=settings.eval_batch_size)
    set_allowed(train_set, tags, unmatched)
    scorer = DevScorer(model, dev_docs, dev_layer, settings, config.data.max_tokens, dev_device)
    timings["encode"] = time.perf_counter() - t0

    correction = ShiftCorrection(config.debias, tags, [e.allowed for e in train_set.examples],
                                 scorer.encoded.docs if dev_layer == GOLD else None)
    scorer.tag_bias = correction.selection_bias()

    instance_weights = None
    if config.debias.crossweigh and checkpoint is None:
        instance_weights = crossweigh_weights(model, train_set, settings, config, dev_device, emit)
        correction.report.crossweigh = summarize_weights(instance_weights, config.debias.crossweigh_epsilon,
                                                         config.debias.crossweigh_iterations)
        save_checkpoint({"weights": torch.tensor(instance_weights)}, run_dir / CROSSWEIGH_FILE)
    elif config.debias.crossweigh:
        instance_weights = load_checkpoint(run_dir / CROSSWEIGH_FILE)["weights"].tolist()

    # 5. train with early stopping, then self-train; checkpoint every epoch
    state = {"history": [], "best": {"epoch": 0, "f1": -1.0}, "epoch": 0, "round": 0, "round_start": 1,
             "stopped": False}
    optimizer = make_optimizer(model, settings)
    if checkpoint is not None:
        optimizer.load_state_dict(checkpoint["optimizer"])
        state = {k: checkpoint[k] for k in state}
        if state["round"] > 0:
            read_round_labels(train_docs, run_dir, state["round"])
            set_allowed(train_set, tags, unmatched)
        emit({"event": "stage", "stage": "resume", "message": f"resuming after epoch {state['epoch']}"})
    deadline = time.perf_counter() + settings.max_minutes * 60 if settings.max_minutes > 0 else math.inf
    t0 = time.perf_counter()
    emit({"event": "stage", "stage": "train", "message": f"training on {len(train_set.examples)} sentences "
          f"({train_set.num_words} words), {len(tags)} tags, device {dev_device}"})
    phase = Phase(model, train_set, scorer, correction, settings, run_dir, dev_device, emit, deadline,
                  instance_weights)
    speed = phase.run(optimizer, state, last_epoch=settings.epochs if state["round"] == 0
                      else state["round_start"] + settings.self_training_epochs - 1)
    report["self_training"] = []
    while state["round"] < settings.self_training and not phase.out_of_time:
        state["round"] += 1
        emit({"event": "stage", "stage": "self-train", "message": f"self-training round {state['round']}"})
        model.load_state_dict(load_checkpoint(run_dir / MODEL_FILE)["state_dict"])
        tags_, conf = decode(model, train_set.examples, batch_size=settings.eval_batch_size, device=dev_device,
                             tag_bias=correction.labeling_bias())
        store_predictions(train_set, tags_, conf, PRED, rules=model.config)
        counts = relabel(train_docs, PSEUDO, PRED, settings.self_training_min_score, PSEUDO)
        report["self_training"].append({"round": state["round"], **counts})
        write_documents(train_docs, run_dir / f"pseudo.round{state['round']}.jsonl", "jsonl", layer=PSEUDO)
        set_allowed(train_set, tags, unmatched)
        state["round_start"], state["stopped"] = state["epoch"] + 1, False
        optimizer = make_optimizer(model, settings)
        more = phase.run(optimizer, state, last_epoch=state["epoch"] + settings.self_training_epochs,
                         patience_from=state["epoch"])
        speed = {k: speed[k] + more[k] for k in speed}
    timings["train"] = time.perf_counter() - t0
    history, best = state["history"], state["best"]
    report["train"] = {"epochs": len(history), "best_epoch": best["epoch"], "best_dev_f1": best["f1"],
                       "sentences": len(train_set.examples), "words_per_epoch": train_set.num_words,
                       "words_per_s": speed["words"] / max(speed["seconds"], 1e-9)}

    # 6. the best model, shift-corrected on dev, then scored on the test set
    best_model = Tagger.from_checkpoint(load_checkpoint(run_dir / MODEL_FILE)).to(dev_device)
    scorer.model = best_model
    t0 = time.perf_counter()
    report["dev"]["before_correction"] = scorer.score()
    unlabeled = train_set.examples[:EM_SENTENCES]
    best_model.tag_bias.copy_(correction.fit(
        dev_f1=lambda bias: scorer.score(bias)["f1"],
        train_marginals=lambda bias: marginals(best_model, unlabeled, settings.eval_batch_size, dev_device, bias),
        emit=emit))
    save_checkpoint(best_model.to_checkpoint(), run_dir / MODEL_FILE)
    report["dev"]["scores"] = scorer.score()
    correction.write(run_dir)
    report["debias"] = correction.summary()
    timings["debias"] = time.perf_counter() - t0
    if config.data.test is not None:
        t0 = time.perf_counter()
        report["test"] = score_test(best_model, config.data.test, settings, config.data.max_tokens, dev_device)
        timings["test"] = time.perf_counter() - t0
    report["seconds"] = timings
    write_text(run_dir / "report.json", json.dumps(report, indent=2) + "\n")
    return report


@torch.no_grad()
def marginals(model: Tagger, examples: Sequence[TaggerExample], batch_size: int, device: torch.device,
              tag_bias: torch.Tensor | None = None) -> list:
    """Return the model's tag posteriors ``[n, K]`` (numpy) for each example."""
    model.eval()
    out = []
    bias = None if tag_bias is None else tag_bias.to(device)
    for k in range(0, len(examples), batch_size):
        batch = collate(examples[k:k + batch_size]).to(device)
        post = model.crf.marginals(model.emissions(batch).float(), batch.mask, bias)  # [B, T, K]
        out.extend(post[b, :n].cpu().numpy() for b, n in enumerate(batch.lengths.tolist()))
    return out


def score_test(model: Tagger, path: Path, settings: TrainSettings, max_tokens: int,
               device: torch.device) -> dict[str, Any]:
    """Predict the gold test documents from their raw text and score them strictly."""
    from distant.predict import predict_documents

    gold = read_corpus([path])
    pred = [doc.copy(layers=()) for doc in gold]
    speed = predict_documents(model, pred, batch_size=settings.eval_batch_size, device=device,
                              max_tokens=max_tokens)
    result = evaluate(gold, pred, gold_name=str(path))
    return {**result.as_dict(), "prediction": speed}


def _charlm(config: RunConfig, sentences: list[list[str]], run_dir: Path, device: torch.device,
            emit: Progress) -> CharLM | None:
    """Load or pre-train the character LM, when the model uses one."""
    if not config.model.use_charlm:
        return None
    settings = config.train
    if settings.charlm is not None:
        return load_charlm(settings.charlm)
    if settings.pretrain_epochs <= 0:
        return None  # build_tagger makes a fresh one, trained with the tagger
    text = list(sentences)
    if config.data.extra_text:
        extra = read_corpus(config.data.extra_text)
        text += chunk_words(extra, chunks(extra, config.data.max_tokens))
    return pretrain_lm(text, config, run_dir / CHARLM_FILE, device, emit)


def pretrain_lm(sentences: list[list[str]], config: RunConfig, out: Path, device: torch.device,
                emit: Callable[[dict], None]) -> CharLM:
    """Pre-train the char LM on ``sentences`` and save it to ``out``."""
    settings = config.train
    emit({"event": "stage", "stage": "pretrain", "message": f"pre-training the char LM on {len(sentences)} sentences"})
    model = None
    for event in pretrain_charlm(sentences, config.model.charlm, epochs=settings.pretrain_epochs, device=device,
                                 seed=settings.seed):
        model = event.pop("model")
        emit({"event": "lm_step", **event})
    if model is None:
        model = build_charlm(sentences, config.model.charlm)
    save_checkpoint(model.to_checkpoint(), out)
    return model


def load_charlm(path: Path) -> CharLM:
    """Load a pre-trained char LM from a file or a run folder (its ``charlm.pt``)."""
    path = Path(path)
    file = path / CHARLM_FILE if path.is_dir() else path
    if not file.is_file():
        raise DistantError("no pre-trained char LM found", file)
    return CharLM.from_checkpoint(load_checkpoint(file), where=str(file))
