"""CrossWeigh (Wang et al., EMNLP 2019): down-weight sentences whose pseudo-labels look wrong.

Split the sentences into ``k`` folds; for each fold train on the others and predict the held-out one. A
held-out sentence whose prediction disagrees with its pseudo-labels is flagged. Training sentences that
mention any entity surface of the held-out fold are dropped, so the model cannot simply memorise the
dictionary's (possibly wrong) label for that surface. Repeat with ``iterations`` different splits; a
sentence flagged ``c`` times gets weight ``epsilon ** c``.

This module is only the driver: the trainer supplies ``train_and_predict`` and uses the weights with
:func:`distant.debias.corrections.instance_weighted`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


def entity_disjoint_folds(sentence_entities: Sequence[set[str]], k: int, seed: int = 0
                          ) -> list[tuple[list[int], list[int]]]:
    """Split sentences into ``k`` folds whose training parts share no entity surface with the held-out part.

    Args:
        sentence_entities: Entity surface strings of each sentence (compared lower-cased).
        k: Number of folds, at least 2 and at most the number of sentences.
        seed: Seed of the shuffle.

    Returns:
        ``k`` pairs ``(train_idx, test_idx)`` of sorted sentence indices. The test parts partition all
        sentences; a training part holds every other sentence except those containing a surface that occurs
        in the test part.
    """
    n = len(sentence_entities)
    if not 2 <= k <= n:
        raise ValueError(f"crossweigh folds must be between 2 and the number of sentences ({n}), found {k}")
    lowered = [{s.lower() for s in ents} for ents in sentence_entities]
    order = np.random.default_rng(seed).permutation(n)
    folds = []
    for part in np.array_split(order, k):
        test = sorted(int(i) for i in part)
        held = set().union(*(lowered[i] for i in test))
        in_test = set(test)
        train = [i for i in range(n) if i not in in_test and not (lowered[i] & held)]
        log.debug("crossweigh fold: %d held out, %d training, %d dropped for shared surfaces",
                  len(test), len(train), n - len(test) - len(train))
        folds.append((train, test))
    return folds


def crossweigh(sentences_entities: Sequence[set[str]],
               train_and_predict: Callable[[list[int], list[int]], Sequence[bool]], k: int = 10,
               iterations: int = 3, epsilon: float = 0.7, seed: int = 0) -> np.ndarray:
    """Return CrossWeigh instance weights ``epsilon ** (times flagged)``, one per sentence.

    Args:
        sentences_entities: Entity surfaces of each sentence (from its pseudo-labels).
        train_and_predict: ``(train_idx, test_idx) -> flags``: train a fresh model on the training sentences,
            predict the test sentences and return, for each test sentence in order, whether the prediction
            disagrees with its pseudo-labels.
        k: Folds per iteration.
        iterations: Independent splits (seeds ``seed``, ``seed + 1``, ...).
        epsilon: Weight factor per flag, in ``(0, 1]``.
        seed: Seed of the first split.

    Returns:
        ``[N]`` float64 weights in ``(0, 1]``.
    """
    if not 0 < epsilon <= 1:
        raise ValueError(f"crossweigh epsilon must be in (0, 1], found {epsilon}")
    if iterations < 1:
        raise ValueError(f"crossweigh iterations must be at least 1, found {iterations}")
    flagged = np.zeros(len(sentences_entities), dtype=np.int64)
    for it in range(iterations):
        for train, test in entity_disjoint_folds(sentences_entities, k, seed + it):
            flags = list(train_and_predict(train, test))
            if len(flags) != len(test):
                raise ValueError(f"train_and_predict returned {len(flags)} flags for {len(test)} test sentences")
            flagged[[i for i, f in zip(test, flags) if f]] += 1
        log.info("crossweigh iteration %d/%d: %d sentences flagged at least once",
                 it + 1, iterations, int((flagged > 0).sum()))
    return epsilon ** flagged.astype(np.float64)


def summarize_weights(weights: np.ndarray, epsilon: float, iterations: int) -> dict[str, Any]:
    """Summarise CrossWeigh weights for the report: sentences per number of flags, and the mean weight."""
    weights = np.asarray(weights, dtype=np.float64)
    if epsilon < 1:
        flags = np.rint(np.log(np.clip(weights, 1e-300, 1.0)) / np.log(epsilon)).astype(int)
    else:
        flags = np.zeros(len(weights), dtype=int)
    hist = Counter(flags.tolist())
    return {"sentences": len(weights), "epsilon": epsilon, "iterations": iterations,
            "flagged": {str(c): hist.get(c, 0) for c in range(iterations + 1)},
            "mean_weight": float(weights.mean()) if len(weights) else 1.0}
