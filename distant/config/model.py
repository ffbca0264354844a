"""What the tagger is made of (``[model]``) and its character LM (``[model.charlm]``).

These tables describe the network only; how it is trained is in ``[pretrain]`` and ``[train]``, and what
happens to its predictions in ``[predict]`` (:mod:`distant.config.run`). A checkpoint stores this part.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from distant.config.core import build, check_range

ENCODERS = ("lstm", "transformer")  # what reads the words (model.encoder)
POOLINGS = ("first", "mean")  # a word's transformer feature: its first sub-word's state, or the mean


@dataclass
class CharLMConfig:
    """Sizes of the character LM (``[model.charlm]``); its pre-training settings are in ``[pretrain]``."""

    char_dim: int = 30
    hidden_size: int = 256  # per direction; features are 2 * hidden_size wide
    num_layers: int = 1
    dropout: float = 0.2
    lm_vocab_size: int = 10000  # most frequent words predicted by the LM; the rest are <unk>
    lm_cutoffs: tuple[int, ...] = (200, 2000)  # adaptive-softmax cluster boundaries
    min_char_count: int = 1

    def __post_init__(self) -> None:
        for key in ("char_dim", "hidden_size", "num_layers", "min_char_count"):
            check_range(f"model.charlm.{key}", getattr(self, key), low=1)
        check_range("model.charlm.lm_vocab_size", self.lm_vocab_size, low=2)
        check_range("model.charlm.dropout", self.dropout, low=0.0, high=1.0, high_open=True)
        cutoffs = list(self.lm_cutoffs)
        if any(c < 1 for c in cutoffs) or cutoffs != sorted(set(cutoffs)):
            raise ValueError(f"model.charlm.lm_cutoffs: expected increasing positive integers, found {cutoffs!r}")
        self.lm_cutoffs = tuple(cutoffs)

    def to_dict(self) -> dict[str, Any]:
        """Return the config as plain types."""
        d = dataclasses.asdict(self)
        d["lm_cutoffs"] = list(self.lm_cutoffs)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "model.charlm") -> CharLMConfig:
        """Rebuild from :meth:`to_dict`'s output; unknown keys are errors."""
        return build(cls, dict(data), prefix=f"{where}.")


@dataclass
class TaggerConfig:
    """The tagger's inputs, encoder and CRF (``[model]``).

    Inputs, concatenated per word: word embeddings (``word_dim`` > 0), char-LM features (``use_charlm``), a
    transformer's features (``encoder = "transformer"``) and extra features a caller supplies
    (``extra_dim`` > 0). Then a BiLSTM (``hidden_size`` per direction; 0, with a transformer only: a linear
    layer over the features) and the CRF.
    """

    word_dim: int = 100  # 0: no word embeddings (features only)
    freeze_word_embeddings: bool = False
    min_word_count: int = 1
    lower: bool = True
    digits_to_zero: bool = True
    encoder: str = "lstm"  # lstm: embeddings / char LM into the BiLSTM; transformer: a transformer's features too
    transformer: str = ""  # encoder = transformer: a local model directory (or a name in the local HF cache)
    pooling: str = "first"  # a word's transformer feature: its first sub-word's state, or the mean (mean)
    fine_tune: bool = False  # train the transformer (false: frozen, its features computed once and cached)
    encoder_lr: float = 2e-5  # learning rate of the transformer's weights when fine-tuning
    window: int = 0  # sub-words per transformer window, specials included (0: the model's maximum)
    hidden_size: int = 200  # BiLSTM size per direction (0: no BiLSTM, a linear layer over the features)
    num_layers: int = 1
    dropout: float = 0.5
    use_charlm: bool = False
    charlm: CharLMConfig = field(default_factory=CharLMConfig)
    freeze_charlm: bool = True  # frozen: features can be cached, and lm_weight is unused
    highway_layers: int = 1
    char_proj_dim: int = 0  # > 0: project the 2H char features to this width before the highway (faster)
    lm_weight: float = 0.0  # weight of the char-LM loss when co-training (freeze_charlm = false)
    extra_dim: int = 0  # width of extra frozen per-word features in the batch
    constraints: bool = True  # forbid invalid transitions (O -> I-X, B-X -> I-Y) in the CRF
    scheme: str = "IOB2"

    def __post_init__(self) -> None:
        if self.encoder not in ENCODERS:
            raise ValueError(f"model.encoder: expected one of {', '.join(ENCODERS)}, found {self.encoder!r}")
        if self.encoder == "transformer" and not self.transformer:
            raise ValueError("model.transformer: model.encoder is 'transformer', expected a local model directory, "
                             "found none")
        if self.pooling not in POOLINGS:
            raise ValueError(f"model.pooling: expected one of {', '.join(POOLINGS)}, found {self.pooling!r}")
        if self.encoder == "lstm":
            check_range("model.hidden_size", self.hidden_size, low=1)  # 0 (no BiLSTM) is for a transformer
        for key in ("word_dim", "window", "hidden_size", "char_proj_dim", "extra_dim", "highway_layers"):
            check_range(f"model.{key}", getattr(self, key), low=0)
        for key in ("min_word_count", "num_layers"):
            check_range(f"model.{key}", getattr(self, key), low=1)
        check_range("model.dropout", self.dropout, low=0.0, high=1.0, high_open=True)
        check_range("model.encoder_lr", self.encoder_lr, low=0.0, low_open=True)
        check_range("model.lm_weight", self.lm_weight, low=0.0)
        if self.scheme not in ("IOB2", "IOBES"):
            raise ValueError(f"model.scheme: expected IOB2 or IOBES, found {self.scheme!r}")
        if not (self.word_dim or self.use_charlm or self.encoder == "transformer" or self.extra_dim):
            raise ValueError("model: the tagger has no input; expected model.word_dim > 0, model.use_charlm, "
                             "model.encoder = 'transformer' or model.extra_dim > 0")

    def to_dict(self) -> dict[str, Any]:
        """Return the config as plain types."""
        d = dataclasses.asdict(self)
        d["charlm"] = self.charlm.to_dict()
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "model") -> TaggerConfig:
        """Build from a dict (nested ``charlm`` dict allowed); unknown keys are errors."""
        return build(cls, dict(data), prefix=f"{where}.")
