"""Shift correction inside a training run: estimate the target once, correct training and decoding.

:class:`ShiftCorrection` is what :func:`distant.train.run_training` talks to. It measures the pseudo-label
distribution of the training sentences, estimates the target distribution as configured (gold dev documents,
a prior, or EM after training), and provides

* the bias added to the emissions during training (BA-Fix: ``log p_pseudo``),
* the extra, per-tag reweighted token loss (``reweight``),
* the decoding bias after training (BA-Set, BA-Fix, EM), plus a bias on the O emission tuned on dev.

It records everything in a :class:`~distant.debias.report.DebiasReport` (``RUN_DIR/debias.json``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from distant.debias import DebiasConfig
from distant.debias.corrections import (bias_adjustment, fixed_training_bias, importance_weights, inference_bias,
                                        o_bias, tune_o_bias, weighted_partial_token_loss)
from distant.debias.estimate import (TagDistribution, b_shares, em_prior, gold_distribution, mean_posterior,
                                     prior_distribution, pseudo_distribution)
from distant.debias.report import DebiasReport, Estimate, save_report
from distant.docs import Document
from distant.errors import DistantError

log = logging.getLogger(__name__)


class ShiftCorrection:
    """The configured shift correction for one training run.

    Args:
        config: The ``[debias]`` table.
        tags: The tagger's tags in index order.
        train_allowed: Per training sentence, its ``[n, K]`` allowed tag sets.
        gold_docs: Tokenized gold dev documents (for ``target = "gold"``), or ``None``.
    """

    def __init__(self, config: DebiasConfig, tags: Sequence[str], train_allowed: Sequence[torch.Tensor],
                 gold_docs: Sequence[Document] | None = None) -> None:
        self.config = config
        self.tags = list(tags)
        pseudo, counts = pseudo_distribution(train_allowed, self.tags)
        self.pseudo = pseudo
        self.report = DebiasReport(pseudo, counts, bias_mode=config.bias,
                                   tau=config.tau if config.bias == "set" else None)
        self.target: TagDistribution | None = None
        if config.target == "gold":
            if not gold_docs:
                raise DistantError("debias.target = \"gold\" needs gold dev documents: set data.dev")
            self.target, details = gold_distribution(gold_docs, self.tags)
            self._estimate("gold", f"gold-dev ({len(gold_docs)} docs)", self.target, details)
        elif config.target == "prior":
            self.target = prior_distribution(config.prior, self.tags, b_share=b_shares(pseudo))
            self._estimate("prior", "prior (config)", self.target, {})
        self.weights: torch.Tensor | None = None
        if config.reweight and self.target is not None:
            self.weights = importance_weights(self.target, pseudo, tuple(config.reweight_clip))
            self.report.weights = self.weights.tolist()
        # BA-Fix: log p_pseudo next to the emissions in training (a constant of the pseudo-labels)
        self._training_bias = fixed_training_bias(pseudo) if config.bias == "fix" else None
        if self._training_bias is not None:
            self.report.training_bias = self._training_bias.tolist()

    def _estimate(self, method: str, source: str, dist: TagDistribution, details: dict) -> None:
        self.report.estimates.append(Estimate(method, source, dist, details))
        self.report.target = method

    # -- training ---------------------------------------------------------------------------------------------
    def train_bias(self) -> torch.Tensor | None:
        """Return the emission bias used during training (BA-Fix: ``log p_pseudo``), or ``None``."""
        return self._training_bias

    def selection_bias(self) -> torch.Tensor | None:
        """Return the decoding bias for model selection on dev while training (before any tuning).

        A BA-Fix model learnt its emissions next to ``log p_pseudo`` and is never decoded without a bias: with
        the target, ``log p_target``; before the target is known (EM estimates it after training), its
        training bias.
        """
        if self.config.bias == "fix":
            return self._training_bias if self.target is None else inference_bias(self.target)
        if self.target is None or self.config.bias == "none":
            return None
        return bias_adjustment(self.target, self.pseudo, self.config.tau)

    def labeling_bias(self) -> torch.Tensor | None:
        """Return the decoding bias for self-training's new pseudo-labels: the training condition, uncorrected
        (BA-Fix: its training bias; otherwise none), so every correction self-trains on the same kind of labels."""
        return self._training_bias

    @property
    def reweights(self) -> bool:
        """Whether training adds the reweighted token loss (which needs the CRF marginals every step)."""
        return self.weights is not None

    def token_loss(self, marginals: torch.Tensor, allowed: torch.Tensor, mask: torch.Tensor,
                   instance_weights: torch.Tensor | None = None) -> torch.Tensor | None:
        """Return the reweighted token loss to add to the CRF loss, or ``None`` when not reweighting."""
        if self.weights is None:
            return None
        loss = weighted_partial_token_loss(marginals, allowed, mask, self.weights, instance_weights)
        return self.config.token_loss_weight * loss

    # -- after training -----------------------------------------------------------------------------------
    def fit(self, dev_f1: Callable[[torch.Tensor], float],
            train_marginals: Callable[[torch.Tensor | None], list[np.ndarray]] | None = None,
            emit: Callable[[dict], None] | None = None) -> torch.Tensor:
        """Return the decoding bias ``[K]``: the configured adjustment plus a tuned O-bias.

        Args:
            dev_f1: Decodes the dev set with a given ``[K]`` bias and returns its F1.
            train_marginals: Returns the trained model's tag posteriors on unlabeled (training) text when
                decoded with a given bias (for ``target = "em"``).
            emit: Progress callback.
        """
        k = len(self.tags)
        base = torch.zeros(k)
        train_bias = self.train_bias()
        if self.config.target == "em":
            if train_marginals is None:
                raise ValueError("target = em needs the model's marginals on unlabeled text")
            current = train_bias if train_bias is not None else torch.zeros(k)
            marginals = train_marginals(current)
            train_prior = mean_posterior(marginals, self.tags)
            target, rounds = em_prior(marginals, train_prior)
            self.target = target
            self._estimate("em", f"em ({rounds} rounds)", target, {"rounds": rounds, "model_prior": train_prior.to_dict()})
            base = current + bias_adjustment(target, train_prior, self.config.tau) if self.config.bias != "none" \
                else base
        elif self.config.bias != "none" and self.target is not None:
            base = self.selection_bias()
        if self.config.bias != "none":
            self.report.bias = base.tolist()
        if self.config.threshold:
            if emit is not None:
                emit({"event": "stage", "stage": "debias", "message": "tuning the O-bias on dev"})
            best, table = tune_o_bias(lambda b: dev_f1(base + o_bias(self.tags, b)))
            self.report.o_bias, self.report.o_bias_table = best, table
            base = base + o_bias(self.tags, best)
        return base

    def write(self, run_dir: Path) -> Path:
        """Save the report as ``run_dir/debias.json``."""
        return save_report(self.report, run_dir)

    def summary(self) -> dict[str, Any]:
        """Return the report as JSON-able data."""
        return self.report.to_dict()
