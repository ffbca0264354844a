"""Shift correction (``[debias]``): which target distribution, and which corrections (see :mod:`distant.debias`).

The gold documents a ``gold`` target is estimated from are the run's development documents, budget included
(``data.dev_budget``): one knob says how much gold a run may use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


TARGETS = ("none", "gold", "prior", "em")
BIAS_MODES = ("none", "set", "fix")


def _choice(key: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"debias.{key}: expected one of {', '.join(allowed)}; found {value!r}")


@dataclass
class DebiasConfig:
    """The ``[debias]`` table: which target estimate, and which corrections to apply.

    Attributes:
        target: Where the target tag distribution comes from: ``none``, ``gold`` (gold dev annotations),
            ``prior`` (``prior`` below) or ``em`` (EM on the model's posteriors over unlabeled text,
            after training).
        prior: With ``prior``, probabilities per type or per tag, e.g. ``{O = 0.85, Chemical = 0.08,
            Disease = 0.07}``.
        bias: Emission bias adjustment: ``none``, ``set`` (BA-Set: add ``tau * log(target / pseudo)`` at
            inference) or ``fix`` (BA-Fix: add ``log pseudo`` in training, ``log target`` at inference).
        tau: Strength of BA-Set.
        reweight: Add the per-tag importance-weighted token loss (weights ``target / pseudo``).
        reweight_clip: ``[low, high]`` bounds of the importance weights.
        token_loss_weight: Scale of the token loss added to the CRF loss when ``reweight`` is on.
        threshold: Tune a bias on the O emission on the dev set after training.
        crossweigh: Down-weight sentences flagged by CrossWeigh.
        crossweigh_folds: Folds per CrossWeigh iteration.
        crossweigh_iterations: CrossWeigh iterations (independent splits).
        crossweigh_epsilon: Weight factor per flag, in ``(0, 1]``.
        crossweigh_epochs: Training epochs of each fold's model.
    """

    target: str = "none"
    prior: dict[str, float] = field(default_factory=dict)
    bias: str = "none"
    tau: float = 1.0
    reweight: bool = False
    reweight_clip: list[float] = field(default_factory=lambda: [0.1, 10.0])
    token_loss_weight: float = 1.0
    threshold: bool = False
    crossweigh: bool = False
    crossweigh_folds: int = 10
    crossweigh_iterations: int = 3
    crossweigh_epsilon: float = 0.7
    crossweigh_epochs: int = 2

    def __post_init__(self) -> None:
        _choice("target", self.target, TARGETS)
        _choice("bias", self.bias, BIAS_MODES)
        for key, value in self.prior.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ValueError(f"debias.prior.{key}: expected a non-negative number; found {value!r}")
        if self.target == "prior" and not self.prior:
            raise ValueError("debias.prior: target = \"prior\" needs a prior, e.g. "
                             "prior = { O = 0.85, Chemical = 0.08, Disease = 0.07 }")
        needs_target = [name for name, on in (("bias", self.bias != "none"), ("reweight", self.reweight)) if on]
        if needs_target and self.target == "none":
            raise ValueError(f"debias.{needs_target[0]} needs a target distribution; set debias.target to one of "
                             f"{', '.join(TARGETS[1:])}")
        if self.reweight and self.target == "em":
            raise ValueError("debias.reweight needs the target before training, but em estimates it from the "
                             "trained model; use target = \"gold\" or \"prior\"")
        if not (math.isfinite(self.tau) and self.tau > 0):
            raise ValueError(f"debias.tau: expected a positive number; found {self.tau!r}")
        clip = self.reweight_clip
        if len(clip) != 2 or not 0 < clip[0] <= 1 <= clip[1] or not math.isfinite(clip[1]):
            raise ValueError(f"debias.reweight_clip: expected [low, high] with 0 < low <= 1 <= high; "
                             f"found {clip!r}")
        if not (math.isfinite(self.token_loss_weight) and self.token_loss_weight >= 0):
            raise ValueError(f"debias.token_loss_weight: expected a non-negative number; "
                             f"found {self.token_loss_weight!r}")
        if self.reweight and self.token_loss_weight == 0:
            raise ValueError("debias.token_loss_weight: must be positive when debias.reweight is on "
                             "(the weights act through the token loss)")
        if self.crossweigh_folds < 2:
            raise ValueError(f"debias.crossweigh_folds: expected at least 2; found {self.crossweigh_folds}")
        if self.crossweigh_iterations < 1:
            raise ValueError(f"debias.crossweigh_iterations: expected at least 1; "
                             f"found {self.crossweigh_iterations}")
        if self.crossweigh_epochs < 1:
            raise ValueError(f"debias.crossweigh_epochs: expected at least 1; found {self.crossweigh_epochs}")
        if not 0 < self.crossweigh_epsilon <= 1:
            raise ValueError(f"debias.crossweigh_epsilon: expected a number in (0, 1]; "
                             f"found {self.crossweigh_epsilon!r}")
