"""A training run (``configs/*.toml``): the tree of tables and the keys that moved.

========================  ==================================================================================
table                     what
========================  ==================================================================================
``[data]``                the training text, the gold development and test documents, the entity types
``[[labelers]]``          the labelers, in priority order (:mod:`distant.config.labelers`)
``[aggregate]``           how their layers become the pseudo-labels
``[model]``               the tagger's inputs, encoder and CRF (:mod:`distant.config.model`)
``[pretrain]``            pre-training the character LM (or a pre-trained one to use)
``[train]``               the optimisation, early stopping and self-training
``[predict]``             decoding and the document rules applied to predictions
``[debias]``              the shift correction (:mod:`distant.config.debias`)
``[combine]``             a label model over the labelers and the trained tagger: the run's output from both
========================  ==================================================================================

Keys of older configs that moved are read where they went, with a warning that says so (:data:`MOVED`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distant.combine import TAGGER
from distant.config.core import apply_overrides, build, check_range, load_toml
from distant.config.debias import DebiasConfig
from distant.config.labelers import AggregateConfig, LabelerConfig, check_labeler_names
from distant.config.model import TaggerConfig
from distant.device import check_device_name
from distant.docs import GOLD, PRED, PSEUDO, is_type_name
from distant.errors import DistantError

log = logging.getLogger(__name__)

OPTIMIZERS = ("radam", "adam", "adamw", "sgd")
FEATURE_CACHES = ("auto", "memory", "disk")
LOG_TARGETS = ("csv", "tensorboard")  # train.log_to: where training events are logged besides metrics.jsonl

# Old dotted key -> where it is now. Reading an old config moves the value and says so.
MOVED = {
    "train.pretrain_epochs": "pretrain.epochs",
    "train.charlm": "pretrain.charlm",
    "model.charlm.lr": "pretrain.lr",
    "model.charlm.batch_size": "pretrain.batch_size",
    "model.charlm.clip": "pretrain.clip",
    "train.eval_batch_size": "predict.batch_size",
    "model.propagate_abbreviations": "predict.propagate_abbreviations",
    "model.consistency_min_score": "predict.consistency_min_score",
    "debias.gold_budget": "data.dev_budget",
}


@dataclass
class DataConfig:
    """Where the text, the gold dev set and the gold test set come from (``[data]``)."""

    train: list[Path] = field(default_factory=list)  # unlabeled training text (annotations are ignored)
    train_format: str | None = None
    # documents labeled already (distant label's output: files, folders of shards, globs): their pseudo layer
    # is what the tagger learns from, as it is (no labelers run); instead of, or as well as, data.train
    train_labeled: list[Path] = field(default_factory=list)
    extra_text: list[Path] = field(default_factory=list)  # more raw text for char-LM pre-training
    dev: Path | None = None  # gold development documents (model selection, shift estimation)
    dev_budget: int | None = None  # the only gold a run uses: the first N development documents
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
class PretrainConfig:
    """Pre-training the character LM on the raw text (``[pretrain]``), before the tagger trains."""

    epochs: int = 0  # passes over the training (and extra) text; 0: no pre-training
    charlm: Path | None = None  # a pre-trained char LM (``distant pretrain-lm``) to use instead
    lr: float = 2e-3
    batch_size: int = 32
    clip: float = 5.0

    def __post_init__(self) -> None:
        check_range("pretrain.epochs", self.epochs, low=0)
        check_range("pretrain.batch_size", self.batch_size, low=1)
        check_range("pretrain.lr", self.lr, low=0.0, low_open=True)
        check_range("pretrain.clip", self.clip, low=0.0)


@dataclass
class TrainConfig:
    """The optimisation, early stopping and self-training (``[train]``)."""

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
    threads: int = 0  # 0: one torch thread and independent branches in parallel (distant.models.parallel)
    # where the frozen inputs' cached features live: memory, disk (memory-mapped files in the run folder), or
    # auto (disk when they would take over a quarter of the memory available)
    feature_cache: str = "auto"
    self_training: int = 0  # rounds of self-training after the first fit (see distant.selftrain)
    self_training_epochs: int = 4  # epochs per self-training round (early stopping applies)
    self_training_min_score: float = 0.9  # confidence a predicted span needs to join the pseudo-labels
    # also log the training events to RUN_DIR/metrics.csv and/or TensorBoard (RUN_DIR/tensorboard); a name or a list
    log_to: list[str] | str = field(default_factory=list)

    def __post_init__(self) -> None:
        self.log_to = [self.log_to] if isinstance(self.log_to, str) else list(self.log_to)
        for target in self.log_to:
            if target not in LOG_TARGETS:
                raise ValueError(f"train.log_to: expected one of {', '.join(LOG_TARGETS)} (or a list of them), "
                                 f"found {target!r}")
        if self.feature_cache not in FEATURE_CACHES:
            raise ValueError(f"train.feature_cache: expected one of {', '.join(FEATURE_CACHES)}, found "
                             f"{self.feature_cache!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"train.optimizer: expected one of {', '.join(OPTIMIZERS)}, found {self.optimizer!r}")
        check_device_name(self.device, "train.device")
        for key in ("epochs", "batch_size", "patience", "self_training_epochs"):
            check_range(f"train.{key}", getattr(self, key), low=1)
        for key in ("threads", "self_training"):
            check_range(f"train.{key}", getattr(self, key), low=0)
        check_range("train.lr", self.lr, low=0.0, low_open=True)
        for key in ("weight_decay", "clip", "max_minutes"):
            check_range(f"train.{key}", getattr(self, key), low=0.0)
        check_range("train.self_training_min_score", self.self_training_min_score, low=0.0, high=1.0)


MIN_SCORE_GRID = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)  # predict.min_score = "auto" chooses among these


@dataclass
class PredictConfig:
    """Decoding, and the document rules applied to predictions (``[predict]``; a model keeps its own).

    The model tags one sentence at a time; the rules make its predictions agree within a document: a short
    form defined in it ("long form (SF)") takes its long form's predicted type at every occurrence, and a
    surface predicted with at least ``consistency_min_score`` confidence is labeled so at its other
    occurrences (0: off). They apply in dev selection, self-training and ``distant predict`` alike.

    ``min_score`` drops predicted spans whose confidence (the smallest tag marginal of their tokens) is below it,
    after the document rules (0: keep all). ``"auto"``: chosen after training from :data:`MIN_SCORE_GRID` as the
    threshold with the best dev F1 (ties: the lowest, so no threshold unless one helps); the model keeps the
    chosen number, and the report says it. Self-training's relabeling decodes without it.
    """

    batch_size: int = 128  # sentences per batch when decoding (dev, test, prediction)
    propagate_abbreviations: bool = True
    consistency_min_score: float = 0.0
    min_score: float | str = 0.0

    def __post_init__(self) -> None:
        check_range("predict.batch_size", self.batch_size, low=1)
        check_range("predict.consistency_min_score", self.consistency_min_score, low=0.0, high=1.0)
        if isinstance(self.min_score, str):
            if self.min_score != "auto":
                raise ValueError(f"predict.min_score: expected a number in [0, 1] or \"auto\", found {self.min_score!r}")
        else:
            check_range("predict.min_score", self.min_score, low=0.0, high=1.0)

    @property
    def span_threshold(self) -> float:
        """The confidence below which predicted spans are dropped (``"auto"`` not yet chosen: 0)."""
        return 0.0 if isinstance(self.min_score, str) else float(self.min_score)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "predict") -> PredictConfig:
        """Build from a dict; unknown keys are errors."""
        return build(cls, dict(data), prefix=f"{where}.")


COMBINE_METHODS = ("none", "hmm", "dawid-skene")


@dataclass
class CombineConfig:
    """The labelers and the trained tagger combined by a label model (``[combine]``, :mod:`distant.combine`).

    After training, the tagger tags the training text, the labelers label it again, and a label model
    (:mod:`distant.labelers.labelmodel`) learns without gold how far to trust each of them, the tagger being one
    source among them. The run then predicts with all of them: the labelers run on new text, the tagger tags
    it, and the label model decides. With ``select`` the combination is dropped when the gold dev documents
    whose text is not in the training text show the tagger alone better beyond their sampling noise
    (``confidence``); dev text the tagger was trained on cannot show what the labelers add on new text, and
    when all of dev is such text the combination is kept unchecked. The report gives both scores.

    Attributes:
        method: ``none`` (the tagger's spans are the output), ``hmm`` or ``dawid-skene``.
        sources: The layers the label model weighs next to the tagger's: labelers' and ``inputs`` (default: all).
        inputs: Layers the documents carry themselves, weighed as sources beside the labelers' (a WRENCH
            file's labelling functions, ``distant label``'s layers): the training text, dev, test and every
            text the run predicts must carry each of them (an empty layer: the source fires nowhere there).
        iterations: Most EM iterations (EM over correlated sources drifts from the sources' own vote).
        prior_weight: Dirichlet pseudo-counts per firing for the tag a source claims.
        select: Drop the combination when the tagger alone is better on the gold dev documents not trained on.
        confidence: How sure those documents must be that the tagger alone is better before ``select`` drops the
            combination: the share of their paired bootstrap resamples in which the tagger's F1 is the higher
            (0.5: whenever it is higher on them as they are; near 1: only when they show it beyond doubt).
        fit_documents: The label model is fitted on at most this many training documents (the first ones of
            ``data.train``, then of ``data.train_labeled``): it has few parameters, and memory stays bounded.
    """

    method: str = "none"
    sources: list[str] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    iterations: int = 1
    prior_weight: float = 0.5
    select: bool = True
    confidence: float = 0.95
    fit_documents: int = 20000

    def __post_init__(self) -> None:
        if self.method not in COMBINE_METHODS:
            raise ValueError(f"combine.method: expected one of {', '.join(COMBINE_METHODS)}, found {self.method!r}")
        check_range("combine.iterations", self.iterations, low=1)
        check_range("combine.prior_weight", self.prior_weight, low=0.0)
        check_range("combine.fit_documents", self.fit_documents, low=1)
        check_range("combine.confidence", self.confidence, low=0.5, high=1.0, high_open=True)
        for name in self.inputs:
            if name in (GOLD, PSEUDO, PRED, TAGGER):
                raise ValueError(f"combine.inputs: {name!r} is not a weak source (gold, pseudo, pred and tagger are "
                                 "layers of their own); expected the names of the input's labelling layers")
        if len(set(self.inputs)) < len(self.inputs):
            raise ValueError(f"combine.inputs: found a name twice in {self.inputs}, expected distinct layers")


@dataclass
class RunConfig:
    """A whole training run, as written in ``configs/*.toml``."""

    data: DataConfig = field(default_factory=DataConfig)
    labelers: list[LabelerConfig] = field(default_factory=list)
    aggregate: AggregateConfig = field(default_factory=AggregateConfig)
    model: TaggerConfig = field(default_factory=TaggerConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    predict: PredictConfig = field(default_factory=PredictConfig)
    debias: DebiasConfig = field(default_factory=DebiasConfig)
    combine: CombineConfig = field(default_factory=CombineConfig)


def move_old_keys(data: dict[str, Any], path: Path | None = None) -> dict[str, Any]:
    """Move the keys of :data:`MOVED` to where they are now (in place), with one warning per key.

    Raises:
        DistantError: a config that sets both the old key and the new one.
    """
    for old, new in MOVED.items():
        *old_tables, old_key = old.split(".")
        table = data
        for name in old_tables:
            table = table.get(name) if isinstance(table, dict) else None
        if not isinstance(table, dict) or old_key not in table:
            continue
        value = table.pop(old_key)
        *new_tables, new_key = new.split(".")
        target = data
        for name in new_tables:
            target = target.setdefault(name, {})
        if new_key in target:
            raise DistantError(f"{old} and {new} are both set; {old} is now {new}: keep that one", path)
        target[new_key] = value
        log.warning("%s: %s is now %s (read as such; update the config)", path or "config", old, new)
    return data


def moved_override(item: str) -> str:
    """Return a ``--set key=value`` override with an old key (:data:`MOVED`) written as the new one."""
    key, sep, value = item.partition("=")
    new = MOVED.get(key.strip())
    if not sep or new is None:
        return item
    log.warning("--set %s: %s is now %s (read as such)", item, key.strip(), new)
    return f"{new}={value}"


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """Read a run config: every table typed and checked, every path absolute.

    Relative paths in the file resolve against its folder; those given with ``--set`` against the current
    one. The labelers' options are checked here too, so a run folder's ``config.toml`` reruns from anywhere.

    Raises:
        DistantError: a syntax error, an unknown key (with the closest one), a bad value, or a moved key set
            twice, naming the file and the dotted key.
    """
    path = Path(path)
    data = apply_overrides(move_old_keys(load_toml(path), path), [moved_override(o) for o in overrides])
    config = build(RunConfig, data, path=path, base=path.resolve().parent)
    check_labeler_names(config.labelers, path)
    return config
