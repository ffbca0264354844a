"""Cached features of frozen encoders: run once over every sentence, stored per sentence on the CPU."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from distant.models.batching import map_in_length_order


@torch.no_grad()
def cache_features(module: nn.Module, sentences: Sequence[Sequence[str]], sizes: Sequence[int],
                   run: Callable[[list[int]], torch.Tensor], feature_dim: int, *, batch_size: int = 64,
                   dtype: torch.dtype = torch.float16) -> list[torch.Tensor]:
    """Run a frozen feature extractor over ``sentences`` in size-sorted batches.

    Args:
        module: the extractor; it is put in eval mode and restored afterwards.
        sentences: tokenized sentences.
        sizes: a cost per sentence to sort by (characters, sub-word pieces), so batches pad little.
        run: computes ``[b, T, F]`` features for the sentences with the given indices (on any device).
        feature_dim: ``F``, for the empty tensors of empty sentences.
        batch_size: sentences per call of ``run``.
        dtype: storage type (float16 halves memory: BC5CDR's ~230k words x 512 take ~235 MB).

    Returns:
        one ``[n_i, F]`` tensor per sentence, in input order, on the CPU.
    """
    was_training = module.training
    module.eval()

    def compute(ids: list[int]) -> list[torch.Tensor]:
        feats = run(ids).to("cpu", dtype)  # [b, T, F]
        return [feats[row, :len(sentences[i])].clone() for row, i in enumerate(ids)]

    try:
        out = map_in_length_order(compute, sizes, batch_size, keep=lambda i: len(sentences[i]) > 0)
    finally:
        module.train(was_training)
    return [t if t is not None else torch.zeros(0, feature_dim, dtype=dtype) for t in out]
