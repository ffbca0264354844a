"""Corrections for the shifted label distribution: pure functions the trainer calls.

Which correction acts where, and how the trainer applies it:

* BA-Set, :func:`bias_adjustment`: inference only, ``crf.viterbi(em, mask, tag_bias=b)``; training unchanged.
* BA-Fix, :func:`fixed_training_bias` in training, ``crf.partial_nll(em, allowed, mask, tag_bias=log p_pseudo)``,
  then :func:`inference_bias` at inference, ``crf.viterbi(em, mask, tag_bias=log p_target)``.
* :func:`importance_weights`: training, per-tag weights for :func:`weighted_partial_token_loss`.
* :func:`instance_weighted`: training, CrossWeigh sentence weights on the CRF loss.
* :func:`tune_o_bias`: after training, one bias on the O emission chosen on dev, added to ``tag_bias``.

The bias adjustments follow Ye, Liu et al. (EMNLP 2019): a model trained on labels with prior
``p_pseudo`` has emissions that carry ``log p_pseudo``; swapping it for ``log p_target`` is Bayes' rule
under a pure prior shift.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from distant.debias.estimate import EPS, TagDistribution
from distant.docs import O

DEFAULT_CLIP = (0.1, 10.0)
# Bias on the O emission: negative values make entities more likely. Fine steps near 0, where it matters.
DEFAULT_O_BIAS_GRID = (-4.0, -3.0, -2.5, -2.0, -1.75, -1.5, -1.25, -1.0, -0.75, -0.5, -0.25, 0.0,
                       0.25, 0.5, 0.75, 1.0, 1.5, 2.0)


def _vector(values: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(values, dtype=torch.float32)


# -- bias adjustment of emissions (Ye, Liu et al., 2019) ---------------------------------------------------

def bias_adjustment(target: TagDistribution, pseudo: TagDistribution, tau: float = 1.0,
                    eps: float = EPS) -> torch.Tensor:
    """Return the BA-Set bias ``tau * (log p_target - log p_pseudo)`` as ``[K]``.

    BA-Set: train as usual on the pseudo-labels, then add this vector to the emissions at inference
    (``crf.viterbi(em, mask, tag_bias=bias)``). Under a pure prior shift, the posterior under the target
    prior is the training posterior times ``p_target / p_pseudo``; in a CRF the per-tag log-ratio goes on
    the emissions. ``tau`` scales the correction (1 is Bayes' rule; less trusts the estimate less). Equal
    distributions give a zero vector, which changes nothing.

    Args:
        target: The estimated real-text distribution.
        pseudo: The distribution the model was trained under, over the same tags.
        tau: Strength of the correction.
        eps: Smoothing of the log-probabilities (see :meth:`TagDistribution.log`).
    """
    target.same_tags(pseudo)
    return _vector(tau * (target.log(eps) - pseudo.log(eps)))


def fixed_training_bias(pseudo: TagDistribution, eps: float = EPS) -> torch.Tensor:
    """Return the BA-Fix training bias ``log p_pseudo`` as ``[K]``.

    BA-Fix: add this fixed (not learned) vector to the emissions during training, in
    ``crf.partial_nll(em, allowed, mask, tag_bias=...)``. The pseudo-labels' prior is then explained by the
    fixed bias, so the network's own emissions need not learn it; at inference the bias is replaced by
    :func:`inference_bias` of the target, which puts the target prior in its place.
    """
    return _vector(pseudo.log(eps))


def inference_bias(target: TagDistribution, eps: float = EPS) -> torch.Tensor:
    """Return the BA-Fix inference bias ``log p_target`` as ``[K]`` (see :func:`fixed_training_bias`).

    Use it in place of the training bias at inference: ``crf.viterbi(em, mask, tag_bias=...)`` and
    ``crf.marginals(...)``. With ``target == pseudo`` the model decodes exactly as it was trained.
    """
    return _vector(target.log(eps))


def o_bias(tag_names: Sequence[str], value: float) -> torch.Tensor:
    """Return a ``[K]`` vector with ``value`` on the O tag and 0 elsewhere (add it to any other ``tag_bias``)."""
    out = torch.zeros(len(tag_names))
    out[list(tag_names).index(O)] = value
    return out


# -- importance reweighting -------------------------------------------------------------------------------

def importance_weights(target: TagDistribution, pseudo: TagDistribution,
                       clip: tuple[float, float] | Sequence[float] = DEFAULT_CLIP,
                       eps: float = EPS) -> torch.Tensor:
    """Return per-tag importance weights ``p_target / p_pseudo`` clipped to ``clip``, as ``[K]``.

    Weighting each training token's loss by the weight of its tag turns the expectation over the
    pseudo-label distribution into one over the target distribution (the classic label-shift correction of
    the training loss). Both probabilities are smoothed by ``eps``, so a tag absent from both gets weight 1;
    clipping bounds the variance that a tag rare in the pseudo-labels would bring.
    """
    target.same_tags(pseudo)
    lo, hi = clip
    if not 0 < lo <= hi:
        raise ValueError(f"clip must satisfy 0 < low <= high, found {tuple(clip)}")
    ratio = (target.array() + eps) / (pseudo.array() + eps)
    return _vector(np.clip(ratio, lo, hi))


def weighted_partial_token_loss(marginals: torch.Tensor, allowed: torch.Tensor, mask: torch.Tensor,
                                tag_weights: torch.Tensor,
                                instance_weights: torch.Tensor | None = None) -> torch.Tensor:
    """Return a per-tag-weighted token-level partial-label loss (a scalar).

    For each real token ``t`` with allowed set ``A_t``::

        loss_t = -w_t * log sum_{y in A_t} p(y_t = y | x)
        w_t    = sum_{y in A_t} weight[y] p(y_t = y | x) / sum_{y in A_t} p(y_t = y | x)    (detached)

    The partial-label CRF loss is one number per sentence (``-log`` of the mass of all paths inside the
    sets), so it cannot be weighted per tag: a sentence mixes many tags. This loss decomposes over tokens
    and so can: a singleton set gets exactly its tag's weight, an ambiguous set the weight of the tag the
    model currently expects inside it. Add it to the sequence loss (scaled by ``token_loss_weight``) so the
    per-tag reweighting acts on the partial-label CRF: ``crf.partial_nll(...).mean() + lam * this``. Tokens
    whose set is every tag carry no evidence (``log 1 = 0``) and are skipped, as is padding.

    Reduction: the sum over each sentence's tokens, times the sentence's instance weight, averaged over the
    ``B`` sentences, i.e. on the same scale as ``partial_nll(...).mean()``.

    Args:
        marginals: ``[B, T, K]`` tag posteriors with gradients (``crf.marginals(em, mask)``).
        allowed: ``[B, T, K]`` bool allowed sets.
        mask: ``[B, T]`` bool, true for real tokens.
        tag_weights: ``[K]`` per-tag weights (:func:`importance_weights`).
        instance_weights: optional ``[B]`` sentence weights (CrossWeigh).
    """
    allowed = allowed.bool()
    tag_weights = tag_weights.to(marginals)
    inside = marginals * allowed  # [B, T, K]
    mass = inside.sum(-1)  # [B, T]
    counted = mask.bool() & ~allowed.all(-1)  # [B, T]
    safe = torch.where(counted, mass, torch.ones_like(mass)).clamp_min(1e-12)  # [B, T]
    w = ((inside * tag_weights).sum(-1) / safe).detach()  # [B, T]
    per_token = torch.where(counted, -w * torch.log(safe), torch.zeros_like(mass))  # [B, T]
    per_sentence = per_token.sum(1)  # [B]
    if instance_weights is not None:
        return instance_weighted(per_sentence, instance_weights)
    return per_sentence.mean()


def instance_weighted(loss_per_sentence: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Return ``sum_b weights[b] * loss[b] / B``: sentence-weighted loss on the scale of ``loss.mean()``.

    Dividing by ``B`` rather than by the weights' sum keeps a down-weighted (likely mislabeled) sentence's
    influence lower instead of renormalising it back.
    """
    if loss_per_sentence.shape != weights.shape:
        raise ValueError(f"loss {list(loss_per_sentence.shape)} and weights {list(weights.shape)} differ in shape")
    return (loss_per_sentence * weights.to(loss_per_sentence)).sum() / max(len(loss_per_sentence), 1)


# -- decision threshold tuned on dev ------------------------------------------------------------------------

def _tune(decode_f1: Callable[[float], float], grid: Sequence[float], neutral: float
          ) -> tuple[float, list[tuple[float, float]]]:
    if not grid:
        raise ValueError("empty grid")
    table = [(float(v), float(decode_f1(float(v)))) for v in grid]
    best = max(table, key=lambda row: (row[1], -abs(row[0] - neutral), -row[0]))
    return best[0], table


def tune_o_bias(decode_f1: Callable[[float], float], grid: Sequence[float] = DEFAULT_O_BIAS_GRID
                ) -> tuple[float, list[tuple[float, float]]]:
    """Choose the bias on the O emission that maximises dev F1 (the entity-vs-O decision threshold).

    The trainer passes ``decode_f1(b)``: decode dev with ``tag_bias = other_bias + o_bias(tags, b)`` and
    return its F1. A negative bias makes entities more likely. Ties go to the bias closest to 0 (no change),
    so the grid should include 0.

    Returns:
        ``(best bias, [(bias, f1), ...] in grid order)``.
    """
    return _tune(decode_f1, grid, 0.0)


__all__ = [
    "DEFAULT_CLIP", "DEFAULT_O_BIAS_GRID", "bias_adjustment", "fixed_training_bias",
    "importance_weights", "inference_bias", "instance_weighted", "o_bias", "tune_o_bias",
    "weighted_partial_token_loss",
]
