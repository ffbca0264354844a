"""The training loop as a generator, and the state a run resumes from.

:func:`train_while_improving` trains epoch after epoch, scores the dev set after each, and stops when it has
not improved for ``patience`` epochs or the time limit is reached; it yields an event after every step and
every epoch (with ``is_best``), and the caller logs, draws progress and checkpoints (spaCy's
``train_while_improving`` works the same way). :class:`TrainState` is everything a run needs to go on where
it stopped; with the model and the optimiser it is the payload of ``last.pt``, so resuming is one load.
"""

from __future__ import annotations

import dataclasses
import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from distant.checkpoints import checkpoint_errors, load_checkpoint, require_keys, save_checkpoint
from distant.config.run import TrainConfig
from distant.debias.training import ShiftCorrection
from distant.models.batching import length_batches
from distant.models.tagger import Tagger, TaggerExample, upgrade_v1

OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "radam": torch.optim.RAdam,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": lambda params, lr, weight_decay: torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay),
}


def make_optimizer(model: Tagger, settings: TrainConfig) -> torch.optim.Optimizer:
    """Build the configured optimiser over the model's parameter groups."""
    return OPTIMIZERS[settings.optimizer](model.parameter_groups(settings.lr), lr=settings.lr,
                                          weight_decay=settings.weight_decay)


@dataclass
class TrainState:
    """Where a run stands: epochs done, the best dev score so far, the history, the self-training round.

    Attributes:
        epoch: Epochs trained (over all rounds).
        best_epoch: The epoch of the best dev F1 (0: none yet).
        best_f1: That F1 (-1 before the first epoch).
        history: One entry per epoch (loss, throughput, dev scores, round).
        round: The self-training round (0: the first fit).
        round_start: The first epoch of the current round.
        stopped: The current round has stopped (patience or time).
        stop_reason: Why the last round stopped: ``patience``, ``time``, or ``""`` (ran all its epochs).
        rounds: What each self-training round added to the pseudo-labels.
    """

    epoch: int = 0
    best_epoch: int = 0
    best_f1: float = -1.0
    history: list[dict[str, Any]] = field(default_factory=list)
    round: int = 0
    round_start: int = 1
    stopped: bool = False
    stop_reason: str = ""
    rounds: list[dict[str, Any]] = field(default_factory=list)

    def save(self, path: Path, model: Tagger, optimizer: torch.optim.Optimizer) -> None:
        """Write the state, the model and the optimiser to ``path`` (atomically)."""
        save_checkpoint({"state": dataclasses.asdict(self), "model": model.to_checkpoint(),
                         "optimizer": optimizer.state_dict()}, path)

    @classmethod
    def load(cls, path: Path) -> tuple[TrainState, dict[str, Any], dict[str, Any]]:
        """Read ``last.pt``: return the state, the model checkpoint and the optimiser state.

        Raises:
            DistantError: the file is damaged or not a training checkpoint.
        """
        where = str(path)
        payload = require_keys(load_checkpoint(path), ("model", "optimizer"), where)
        with checkpoint_errors(where, "a training checkpoint (last.pt) written by distant train"):
            state = payload.get("state")
            if state is None:  # written before TrainState: the fields sat at the top level
                best = payload["best"]
                state = {"epoch": payload["epoch"], "best_epoch": best["epoch"], "best_f1": best["f1"],
                         "history": payload["history"], "round": payload["round"],
                         "round_start": payload["round_start"], "stopped": payload["stopped"]}
            model = payload["model"]
            if isinstance(model, dict) and model.get("format_version") == 1:
                model = upgrade_v1(model)
            return cls(**state), model, payload["optimizer"]


def train_while_improving(model: Tagger, examples: Sequence[TaggerExample], optimizer: torch.optim.Optimizer, *,
                          settings: TrainConfig, device: torch.device, score: Callable[[], dict[str, Any]],
                          state: TrainState, last_epoch: int, patience_from: int = 0,
                          deadline: float = math.inf, instance_weights: Sequence[float] | None = None,
                          correction: ShiftCorrection | None = None) -> Iterator[dict[str, Any]]:
    """Train epochs ``state.epoch + 1 .. last_epoch`` while the dev score improves; update ``state``.

    Every epoch is seeded from ``settings.seed`` and its number, so a resumed run repeats exactly what an
    uninterrupted one does. The round stops after ``settings.patience`` epochs without a better dev F1
    (counted from ``patience_from`` at the earliest) or once ``deadline`` (``time.perf_counter()``) has passed.

    Yields:
        ``{"event": "step", "epoch", "step", "steps", "loss", "words_per_s"}`` after each batch and
        ``{"event": "epoch", "epoch", "loss", "words", "seconds", "words_per_s", "dev", "is_best"}`` after each
        epoch, where ``dev`` is ``score()``; ``state`` is up to date when an epoch event is yielded.
    """
    lengths = [e.length for e in examples]
    params = model.trainable_parameters()
    use_amp = settings.mixed_precision and device.type == "cuda"
    train_bias = None if correction is None else correction.train_bias()
    bias = None if train_bias is None else train_bias.to(device)
    epoch = state.epoch
    while not state.stopped and epoch < last_epoch:
        epoch += 1
        rng = random.Random(settings.seed * 1000 + epoch)
        torch.manual_seed(settings.seed * 1000 + epoch)
        model.train()
        batches = length_batches(lengths, settings.batch_size, rng)
        start, words, total = time.perf_counter(), 0, 0.0
        for step, ids in enumerate(batches, 1):
            batch = model.collate([examples[i] for i in ids]).to(device)
            weights = None if instance_weights is None else torch.tensor(
                [instance_weights[i] for i in ids], device=device, dtype=torch.float32)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                terms = model.loss(batch, bias)  # crf [B], aux, emissions [B, T, K]
            loss = terms.total(weights)
            if correction is not None and correction.reweights:
                marginals = model.crf.marginals(terms.emissions.float(), batch.mask, bias)  # [B, T, K]
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
        dev = score()
        event = {"event": "epoch", "epoch": epoch, "loss": total / max(len(batches), 1), "words": words,
                 "seconds": seconds, "words_per_s": words / max(seconds, 1e-9), "dev": dev}
        is_best = dev["f1"] > state.best_f1
        _record(state, event, is_best, settings, patience_from, deadline)
        yield {**event, "is_best": is_best}


def _record(state: TrainState, event: dict[str, Any], is_best: bool, settings: TrainConfig, patience_from: int,
            deadline: float) -> None:
    """Update ``state`` after an epoch: history, best score, and whether the round stops."""
    state.epoch = event["epoch"]
    state.history.append({k: v for k, v in event.items() if k != "event"} | {"round": state.round})
    if is_best:
        state.best_epoch, state.best_f1 = state.epoch, event["dev"]["f1"]
    if state.epoch - max(state.best_epoch, patience_from) >= settings.patience:
        state.stopped, state.stop_reason = True, "patience"
    elif time.perf_counter() > deadline:
        state.stopped, state.stop_reason = True, "time"
