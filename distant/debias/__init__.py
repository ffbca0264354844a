"""Shift correction: estimate the real tag distribution and correct a tagger trained on pseudo-labels.

Dictionary pseudo-labels are not only noisy, their label distribution is shifted: entity tags are far
rarer in them than in real text, and a tagger trained on them under-predicts entities (Ye, Liu et al.,
EMNLP 2019). ``estimate`` measures the pseudo-label distribution and estimates the target one (gold dev,
a prior from the config, or EM without labels); ``corrections`` turns the two into emission biases,
per-tag loss weights and a tuned entity-vs-O threshold; ``crossweigh`` down-weights sentences whose
pseudo-labels look wrong; ``report`` records what was done in ``RUN_DIR/debias.json``.

The ``[debias]`` config table maps onto :class:`DebiasConfig`::

    [debias]
    target = "gold"        # none | gold (the development documents, data.dev_budget of them) | prior | em
    bias = "set"           # none | set (BA-Set) | fix (BA-Fix)
    tau = 1.0
    reweight = true        # per-tag importance weights on a token-level partial-label loss
    threshold = true       # tune a bias on the O emission on dev
"""

from __future__ import annotations

from distant.config.debias import BIAS_MODES, TARGETS, DebiasConfig

__all__ = ["BIAS_MODES", "TARGETS", "DebiasConfig"]
