"""Batches of similar length: little padding for LSTMs, which pay for every padded step.

Training shuffles the order of length-bucketed batches (a new order every epoch, from a seeded generator);
inference goes through them in length order and puts the results back in input order.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import TypeVar

R = TypeVar("R")


def length_batches(lengths: Sequence[int], batch_size: int, rng: random.Random | None = None) -> list[list[int]]:
    """Group item indices into batches of similar length.

    Args:
        lengths: A cost per item (words, characters, sub-word pieces).
        batch_size: Items per batch.
        rng: Training: ties in length are broken at random and the batch order is shuffled. ``None``:
            length order, ties in input order.
    """
    if rng is None:
        order = sorted(range(len(lengths)), key=lengths.__getitem__)
    else:
        order = sorted(range(len(lengths)), key=lambda i: (lengths[i], rng.random()))
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if rng is not None:
        rng.shuffle(batches)
    return batches


def map_in_length_order(run: Callable[[list[int]], Sequence[R]], lengths: Sequence[int], batch_size: int,
                        keep: Callable[[int], bool] | None = None) -> list[R | None]:
    """Call ``run`` on length-sorted batches of indices; return its per-item results in input order.

    Args:
        run: Computes one result per index of a batch.
        lengths: A cost per item, to sort by.
        batch_size: Items per batch (before ``keep``).
        keep: Which items to compute (the others' result is ``None``); ``None``: all.
    """
    out: list[R | None] = [None] * len(lengths)
    for ids in length_batches(lengths, batch_size):
        if keep is not None:
            ids = [i for i in ids if keep(i)]
        if ids:
            for i, result in zip(ids, run(ids)):
                out[i] = result
    return out
