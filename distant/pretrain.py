"""Pre-training the character LM on raw text (``[pretrain]``; ``distant pretrain-lm``), once, for reuse.

The LM reads each sentence's characters in both directions; pre-trained and frozen, its per-word features
are computed once and cached, so the tagger trains several times faster than when co-training it
(:mod:`distant.models.charlm`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from distant.checkpoints import load_checkpoint, save_checkpoint
from distant.config.model import CharLMConfig
from distant.config.run import PretrainConfig
from distant.errors import DistantError
from distant.models.charlm import CharLM, build_charlm, pretrain_charlm

CHARLM_FILE = "charlm.pt"


def pretrain_lm(sentences: Sequence[Sequence[str]], config: CharLMConfig, settings: PretrainConfig, out: Path,
                device: torch.device, emit: Callable[[dict[str, Any]], None], seed: int = 0) -> CharLM:
    """Pre-train a char LM on ``sentences`` for ``settings.epochs`` and save it to ``out``.

    Emits a ``stage`` event, then an ``lm_step`` event per step.
    """
    emit({"event": "stage", "stage": "pretrain", "message": f"pre-training the char LM on {len(sentences)} sentences"})
    model = None
    for event in pretrain_charlm(sentences, config, settings, device=device, seed=seed):
        model = event.pop("model")
        emit({"event": "lm_step", **event})
    if model is None:
        model = build_charlm(sentences, config)
    save_checkpoint(model.to_checkpoint(), out)
    return model


def load_charlm(path: Path) -> CharLM:
    """Load a pre-trained char LM from a file or a run folder (its ``charlm.pt``).

    Raises:
        DistantError: no such file, or a damaged one.
    """
    path = Path(path)
    file = path / CHARLM_FILE if path.is_dir() else path
    if not file.is_file():
        raise DistantError("no pre-trained char LM found", file)
    return CharLM.from_checkpoint(load_checkpoint(file), where=str(file))
