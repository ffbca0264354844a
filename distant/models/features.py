"""Cached features of frozen encoders: run once over every sentence, stored per sentence on the CPU."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import itertools
from pathlib import Path

import numpy as np
import torch
from torch import nn

from distant.models.batching import map_in_length_order


@torch.no_grad()
def cache_features(module: nn.Module, sentences: Sequence[Sequence[str]], sizes: Sequence[int],
                   run: Callable[[list[int]], torch.Tensor], feature_dim: int, *, batch_size: int = 64,
                   dtype: torch.dtype = torch.float16, store: Path | None = None) -> list[torch.Tensor]:
    """Run a frozen feature extractor over ``sentences`` in size-sorted batches.

    Args:
        module: the extractor; it is put in eval mode and restored afterwards.
        sentences: tokenized sentences.
        sizes: a cost per sentence to sort by (characters, sub-word pieces), so batches pad little.
        run: computes ``[b, T, F]`` features for the sentences with the given indices (on any device).
        feature_dim: ``F``, for the empty tensors of empty sentences.
        batch_size: sentences per call of ``run``.
        dtype: storage type (float16 halves memory: BC5CDR's ~230k words x 512 take ~235 MB).
        store: A file to keep the features in (float16, memory-mapped) instead of memory: training text whose
            features do not fit in memory is read from disk as batches need it.

    Returns:
        one ``[n_i, F]`` tensor per sentence, in input order, on the CPU (views of ``store`` when given).
    """
    was_training = module.training
    module.eval()
    disk = None
    if store is not None:
        offsets = [0, *itertools.accumulate(len(s) for s in sentences)]
        store.parent.mkdir(parents=True, exist_ok=True)
        disk = np.memmap(store, dtype=np.float16, mode="w+", shape=(max(offsets[-1], 1), feature_dim))

    def compute(ids: list[int]) -> list[torch.Tensor]:
        feats = run(ids).to("cpu", dtype)  # [b, T, F]
        if disk is None:
            return [feats[row, :len(sentences[i])].clone() for row, i in enumerate(ids)]
        views = []
        for row, i in enumerate(ids):
            a, b = offsets[i], offsets[i + 1]
            disk[a:b] = feats[row, :b - a].to(torch.float16).numpy()
            views.append(torch.from_numpy(disk[a:b]))
        return views

    try:
        out = map_in_length_order(compute, sizes, batch_size, keep=lambda i: len(sentences[i]) > 0)
    finally:
        module.train(was_training)
    return [t if t is not None else torch.zeros(0, feature_dim, dtype=dtype) for t in out]
