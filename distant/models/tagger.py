"""The sequence tagger: word features (embeddings, transformer, char LM, extra) -> BiLSTM -> emissions -> CRF.

Optional parts are sub-modules that exist or not according to :class:`TaggerConfig`:

* ``words``: trainable (or frozen) word embeddings, absent when ``word_dim == 0``;
* ``transformer`` (``encoder = "transformer"``): a Hugging Face encoder's sub-word states pooled per word
  (:mod:`distant.models.transformer`), fine-tuned with its own learning rate, or frozen and read from the
  batch's cached ``transformer_features``;
* ``charlm`` + ``char_highway``: LM-LSTM-CRF character features, either computed live from the char LM
  (co-training, or prediction) or read from the batch's cached ``char_features`` (frozen, pre-trained LM);
* ``extra_dim``: any other frozen per-word features the batch carries;
* ``encoder``: a BiLSTM over the concatenated features, or, with ``hidden_size == 0``, none (the emissions are a
  linear layer over the features: the usual head for a fine-tuned transformer).

Training uses the partial-label CRF loss over the batch's allowed tag sets. The data flow for training is::

    examples = tagger.encode(sentences, allowed=..., char_features=...)   # once
    batch = collate(examples[i:j]).to(device)                                 # per step
    loss, parts = tagger.loss(batch)

A checkpoint is ``{format_version, config, vocabs, state_dict}`` with only tensors and plain types; a
transformer's weights are in the state dict and its tokenizer and config files (bytes) in ``vocabs``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pad_sequence

from distant.docs import UNKNOWN
from distant.checkpoints import checkpoint_errors, require_keys
from distant.config import build, check_range
from distant.errors import DistantError
from distant.models.charlm import (CharBatch, CharExample, CharLM, CharLMConfig, CharVocab, Highway,
                                   build_charlm, collate_chars, compute_charlm_features)
from distant.models.crf import CRF, bio_constraints
from distant.models.embeddings import PAD_ID, WordEmbedding, WordVocab, load_word_vectors
from distant.models.encoder import BiLSTMEncoder, PassThrough
from distant.models.parallel import run_all
from distant.models.transformer import (POOLINGS, SubwordBatch, SubwordExample, TransformerEncoder,
                                        collate_subwords, load_transformer)

FORMAT_VERSION = 1

# A token's tags: a tag name, UNKNOWN ("-": any tag), or a collection of tag names.
TokenTags = str | Collection[str]

ENCODERS = ("lstm", "transformer")  # what reads the words (model.encoder)


@dataclass
class TaggerConfig:
    """What the tagger is made of (maps 1:1 to the ``[model]`` config table)."""

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
    # Document-level rules after decoding (distant.predict.apply_document_rules): a short form defined in a
    # document ("long form (SF)") takes its long form's predicted type at every occurrence; a surface predicted
    # with at least consistency_min_score confidence is labeled so at its other occurrences (0: off).
    propagate_abbreviations: bool = True
    consistency_min_score: float = 0.0
    constraints: bool = True  # forbid invalid transitions (O -> I-X, B-X -> I-Y) in the CRF
    scheme: str = "IOB2"

    def __post_init__(self) -> None:
        if self.encoder not in ENCODERS:
            raise ValueError(f"model.encoder is {self.encoder!r}; expected one of {', '.join(ENCODERS)}")
        if self.encoder == "transformer" and not self.transformer:
            raise ValueError("model.encoder is 'transformer' but model.transformer is empty; expected a local "
                             "model directory")
        if self.pooling not in POOLINGS:
            raise ValueError(f"model.pooling is {self.pooling!r}; expected one of {', '.join(POOLINGS)}")
        if self.encoder == "lstm":
            check_range("model.hidden_size", self.hidden_size, low=1)  # 0 (no BiLSTM) is for a transformer
        for key in ("word_dim", "window", "hidden_size", "char_proj_dim", "extra_dim", "highway_layers"):
            check_range(f"model.{key}", getattr(self, key), low=0)
        for key in ("min_word_count", "num_layers"):
            check_range(f"model.{key}", getattr(self, key), low=1)
        check_range("model.dropout", self.dropout, low=0.0, high=1.0, high_open=True)
        check_range("model.encoder_lr", self.encoder_lr, low=0.0, low_open=True)
        check_range("model.lm_weight", self.lm_weight, low=0.0)
        check_range("model.consistency_min_score", self.consistency_min_score, low=0.0, high=1.0)
        if self.scheme not in ("IOB2", "IOBES"):
            raise ValueError(f"model.scheme: expected IOB2 or IOBES, found {self.scheme!r}")

    def to_dict(self) -> dict[str, Any]:
        """Return the config as plain types."""
        d = dataclasses.asdict(self)
        d["charlm"] = self.charlm.to_dict()
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "model") -> TaggerConfig:
        """Build from a dict (nested ``charlm`` dict allowed); unknown keys are errors."""
        data = dict(data)
        charlm = CharLMConfig.from_dict(data.pop("charlm", {}), f"{where}.charlm")
        cfg = build(cls, data, prefix=f"{where}.")
        cfg.charlm = charlm
        return cfg


@dataclass
class TaggerVocabs:
    """The tagger's word vocabulary and tag names (the char LM keeps its own vocabularies)."""

    words: WordVocab
    tags: list[str]

    def tag_index(self) -> dict[str, int]:
        """Return ``{tag name: index}``."""
        return {t: i for i, t in enumerate(self.tags)}


@dataclass
class TaggerExample:
    """One encoded sentence of ``n`` words (built once, padded per batch by :func:`collate`)."""

    words: torch.Tensor  # [n] word ids
    allowed: torch.Tensor | None = None  # [n, K] bool allowed tags
    chars: CharExample | None = None  # char streams, when the char LM runs live
    char_features: torch.Tensor | None = None  # [n, 2H] cached frozen char-LM features
    extra: torch.Tensor | None = None  # [n, E] extra frozen features
    subwords: SubwordExample | None = None  # transformer windows, when the transformer runs live
    transformer_features: torch.Tensor | None = None  # [n, H] cached frozen transformer features


@dataclass
class TaggerBatch:
    """A padded batch (``B`` sentences, ``T`` = longest)."""

    words: torch.Tensor  # [B, T] word ids (0 = padding)
    mask: torch.Tensor  # [B, T] bool, true for real words (a prefix)
    lengths: torch.Tensor  # [B] long, on the CPU (packing needs it there)
    allowed: torch.Tensor | None = None  # [B, T, K] bool (true on padding)
    chars: CharBatch | None = None
    char_features: torch.Tensor | None = None  # [B, T, 2H] float32
    extra: torch.Tensor | None = None  # [B, T, E] float32
    subwords: SubwordBatch | None = None
    transformer_features: torch.Tensor | None = None  # [B, T, H] float32

    def to(self, device: torch.device | str) -> TaggerBatch:
        """Return a copy on ``device`` (``lengths`` stays on the CPU)."""
        def move(t: Any) -> Any:
            return None if t is None else t.to(device)

        return TaggerBatch(move(self.words), move(self.mask), self.lengths, move(self.allowed),
                           move(self.chars), move(self.char_features), move(self.extra), move(self.subwords),
                           move(self.transformer_features))

    @property
    def num_words(self) -> int:
        """The number of real words."""
        return int(self.lengths.sum())


def allowed_matrix(token_tags: Sequence[TokenTags], tag_names: Sequence[str]) -> torch.Tensor:
    """Turn per-token tag sets into a bool ``[n, K]`` matrix.

    Args:
        token_tags: per token a tag name, :data:`~distant.docs.UNKNOWN` (any tag), or a collection of names.
        tag_names: the tagger's tags in index order.

    Raises:
        DistantError: a tag is not among ``tag_names`` or a token's set is empty.
    """
    index = {t: i for i, t in enumerate(tag_names)}
    out = np.zeros((len(token_tags), len(tag_names)), dtype=bool)
    for i, tags in enumerate(token_tags):
        if isinstance(tags, str):
            tags = (tags,)
        for tag in tags:
            if tag == UNKNOWN:
                out[i] = True
            elif tag in index:
                out[i, index[tag]] = True
            else:
                raise DistantError(f"token {i} has tag {tag!r}; expected one of {', '.join(tag_names)} "
                                   f"or {UNKNOWN!r}")
        if not out[i].any():
            raise DistantError(f"token {i} has an empty set of allowed tags")
    return torch.from_numpy(out)


def _as_allowed(value: Any, tag_names: Sequence[str], n: int) -> torch.Tensor:
    if isinstance(value, torch.Tensor | np.ndarray):
        m = torch.as_tensor(value, dtype=torch.bool)
    else:
        m = allowed_matrix(value, tag_names)
    if tuple(m.shape) != (n, len(tag_names)):
        raise DistantError(f"allowed tags have shape {tuple(m.shape)}, expected {(n, len(tag_names))}")
    return m


def collate(examples: Sequence[TaggerExample]) -> TaggerBatch:
    """Pad encoded sentences into a :class:`TaggerBatch` (only tensor copies; no Python loop over words)."""
    lengths = torch.tensor([len(e.words) for e in examples], dtype=torch.long)  # [B]
    words = pad_sequence([e.words for e in examples], batch_first=True, padding_value=PAD_ID)  # [B, T]
    mask = torch.arange(words.shape[1]).unsqueeze(0) < lengths.unsqueeze(1)  # [B, T]
    first = examples[0]
    allowed = chars = char_features = extra = subwords = transformer_features = None
    if first.allowed is not None:
        allowed = pad_sequence([e.allowed for e in examples], batch_first=True, padding_value=True)
    if first.chars is not None:
        chars = collate_chars([e.chars for e in examples])
    if first.char_features is not None:
        char_features = pad_sequence([e.char_features for e in examples], batch_first=True).float()
    if first.extra is not None:
        extra = pad_sequence([e.extra for e in examples], batch_first=True).float()
    if first.subwords is not None:
        subwords = collate_subwords([e.subwords for e in examples], words.shape[1])
    if first.transformer_features is not None:
        transformer_features = pad_sequence([e.transformer_features for e in examples], batch_first=True).float()
    return TaggerBatch(words, mask, lengths, allowed, chars, char_features, extra, subwords, transformer_features)


class Tagger(nn.Module):
    """BiLSTM-CRF tagger over word embeddings and optional transformer, char-LM and extra features.

    Args:
        config: which parts and sizes.
        vocabs: word vocabulary and tag names.
        charlm: the character LM, required when ``config.use_charlm`` (see :func:`build_tagger`).
        word_vectors: optional ``[len(vocabs.words), word_dim]`` initial word embeddings.
        transformer: the transformer, required when ``config.encoder == "transformer"`` (see :func:`build_tagger`).
    """

    def __init__(self, config: TaggerConfig, vocabs: TaggerVocabs, charlm: CharLM | None = None,
                 word_vectors: torch.Tensor | None = None, transformer: TransformerEncoder | None = None) -> None:
        super().__init__()
        self.config = config
        self.vocabs = vocabs
        num_tags = len(vocabs.tags)
        in_dim = config.extra_dim
        self.words: WordEmbedding | None = None
        if config.word_dim > 0:
            self.words = WordEmbedding(len(vocabs.words), config.word_dim, word_vectors,
                                       config.freeze_word_embeddings)
            in_dim += config.word_dim
        self.transformer: TransformerEncoder | None = None
        if config.encoder == "transformer":
            if transformer is None:
                raise ValueError("config.encoder is 'transformer': pass the TransformerEncoder "
                                 "(build_tagger loads one)")
            self.transformer = transformer
            in_dim += transformer.feature_dim
            if not config.fine_tune:
                transformer.requires_grad_(False)
        self.charlm: CharLM | None = None
        self.char_highway: nn.Module | None = None
        if config.use_charlm:
            if charlm is None:
                raise ValueError("config.use_charlm is set: pass the CharLM (build_tagger builds one)")
            self.charlm = charlm
            if config.char_proj_dim > 0:
                self.char_highway = nn.Sequential(nn.Linear(charlm.feature_dim, config.char_proj_dim),
                                                  Highway(config.char_proj_dim, config.highway_layers))
                in_dim += config.char_proj_dim
            else:
                self.char_highway = Highway(charlm.feature_dim, config.highway_layers)
                in_dim += charlm.feature_dim
            if config.freeze_charlm:
                charlm.requires_grad_(False)
        if in_dim == 0:
            raise DistantError("the tagger has no input: set model.word_dim, model.use_charlm, model.encoder or "
                               "model.extra_dim")
        if config.hidden_size > 0:
            self.encoder: nn.Module = BiLSTMEncoder(in_dim, config.hidden_size, config.num_layers, config.dropout)
        else:
            self.encoder = PassThrough(in_dim, config.dropout)
        self.out = nn.Linear(self.encoder.output_dim, num_tags)
        if config.constraints:
            self.crf = CRF(num_tags, *bio_constraints(vocabs.tags, config.scheme))
        else:
            self.crf = CRF(num_tags)
        # Emission bias applied at decoding (shift correction); zero until set.
        self.register_buffer("tag_bias", torch.zeros(num_tags))

    # -- modes -----------------------------------------------------------------------------------------------

    @property
    def charlm_frozen(self) -> bool:
        """Whether the char LM is present and frozen (its features may then be cached)."""
        return self.charlm is not None and self.config.freeze_charlm

    @property
    def transformer_frozen(self) -> bool:
        """Whether the transformer is present and frozen (its features may then be cached)."""
        return self.transformer is not None and not self.config.fine_tune

    def train(self, mode: bool = True) -> Tagger:
        """Set training mode; frozen parts stay in eval mode so that their features match cached ones."""
        super().train(mode)
        if self.charlm_frozen:
            self.charlm.eval()
        if self.transformer_frozen:
            self.transformer.eval()
        return self

    def trainable_parameters(self) -> list[nn.Parameter]:
        """Return the parameters the optimiser should update (frozen parts excluded)."""
        return [p for p in self.parameters() if p.requires_grad]

    def parameter_groups(self, lr: float) -> list[dict[str, Any]]:
        """Return optimiser parameter groups: the head at ``lr``, a fine-tuned transformer at ``config.encoder_lr``."""
        inside = set() if self.transformer is None else {id(p) for p in self.transformer.parameters()}
        trainable = self.trainable_parameters()
        groups = [{"params": [p for p in trainable if id(p) not in inside], "lr": lr}]
        encoder = [p for p in trainable if id(p) in inside]
        if encoder:
            groups.append({"params": encoder, "lr": self.config.encoder_lr})
        return groups

    @torch.no_grad()
    def cached_features(self, sentences: Sequence[Sequence[str]], *, batch_size: int = 64,
                        device: torch.device | str = "cpu") -> dict[str, list[torch.Tensor]]:
        """Compute the frozen parts' features once (char LM, transformer), as keyword arguments for :meth:`encode`."""
        out: dict[str, list[torch.Tensor]] = {}
        if self.charlm_frozen:
            self.charlm.to(device)
            out["char_features"] = compute_charlm_features(self.charlm, sentences, batch_size=batch_size,
                                                           device=device)
        if self.transformer_frozen:
            self.transformer.to(device)
            out["transformer_features"] = self.transformer.features(sentences, batch_size=batch_size, device=device)
        return out

    # -- data ------------------------------------------------------------------------------------------------

    def encode(self, sentences: Sequence[Sequence[str]], *, allowed: Sequence[Any] | None = None,
               char_features: Sequence[torch.Tensor] | None = None,
               extra: Sequence[torch.Tensor] | None = None,
               transformer_features: Sequence[torch.Tensor] | None = None) -> list[TaggerExample]:
        """Encode sentences once into examples for :func:`collate`.

        Char streams are encoded only when the tagger has a char LM and no cached ``char_features`` are given,
        transformer windows only when it has a transformer and no cached ``transformer_features``
        (:meth:`cached_features` computes both for the frozen parts).

        Args:
            sentences: tokenized sentences.
            allowed: per sentence a bool ``[n, K]`` tensor / array, or per-token tags (see :func:`allowed_matrix`).
            char_features: per sentence ``[n, 2H]`` cached features from :func:`compute_charlm_features`
                (only valid for a frozen char LM).
            extra: per sentence ``[n, E]`` extra features (``config.extra_dim`` wide).
            transformer_features: per sentence ``[n, H]`` cached features of a frozen transformer.

        Raises:
            DistantError: allowed sets or features that do not fit the sentences or the model.
        """
        if char_features is not None and not self.charlm_frozen:
            raise DistantError("cached char-LM features need model.use_charlm and model.freeze_charlm")
        if transformer_features is not None and not self.transformer_frozen:
            raise DistantError("cached transformer features need model.encoder = 'transformer' and "
                               "model.fine_tune = false")
        if self.config.extra_dim and extra is None:
            raise DistantError(f"model.extra_dim is {self.config.extra_dim}: extra features are required")
        live_chars = self.charlm is not None and char_features is None
        subwords = None
        if self.transformer is not None and transformer_features is None:
            subwords = self.transformer.encode(sentences)  # all sentences at once: the tokenizer batches them
        examples = []
        for i, sent in enumerate(sentences):
            n = len(sent)
            ex = TaggerExample(torch.tensor(self.vocabs.words.encode(sent), dtype=torch.long))
            if allowed is not None:
                ex.allowed = _as_allowed(allowed[i], self.vocabs.tags, n)
            if live_chars:
                ex.chars = self.charlm.encode(sent)
            if char_features is not None:
                ex.char_features = self._check_features(char_features[i], n, self.charlm.feature_dim, i)
            if extra is not None:
                ex.extra = self._check_features(extra[i], n, self.config.extra_dim, i)
            if subwords is not None:
                ex.subwords = subwords[i]
            if transformer_features is not None:
                ex.transformer_features = self._check_features(transformer_features[i], n,
                                                               self.transformer.feature_dim, i)
            examples.append(ex)
        return examples

    @staticmethod
    def _check_features(feats: torch.Tensor, n: int, dim: int, i: int) -> torch.Tensor:
        if tuple(feats.shape) != (n, dim):
            raise DistantError(f"sentence {i}: features of shape {tuple(feats.shape)}, expected {(n, dim)}")
        return feats

    def make_batch(self, sentences: Sequence[Sequence[str]], **kwargs: Any) -> TaggerBatch:
        """Encode and collate in one go (``kwargs`` as for :meth:`encode`)."""
        return collate(self.encode(sentences, **kwargs))

    # -- model -----------------------------------------------------------------------------------------------

    def _inputs(self, batch: TaggerBatch) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor] | None]:
        """Return the encoder input ``[B, T, D]`` and the live char-LM states (for the LM loss) if any."""
        parts = []
        states = None
        if self.words is not None:
            parts.append(self.words(batch.words))  # [B, T, word_dim]
        if self.transformer is not None:
            if batch.transformer_features is not None:
                parts.append(batch.transformer_features)  # [B, T, H], cached
            elif batch.subwords is None:
                raise DistantError("the model uses a transformer: the batch needs sub-words or cached features")
            elif self.config.fine_tune:
                parts.append(self.transformer(batch.subwords))  # [B, T, H]
            else:
                with torch.no_grad():
                    parts.append(self.transformer(batch.subwords))  # [B, T, H]
        if self.charlm is not None:
            if batch.char_features is not None:
                char = batch.char_features  # [B, T, 2H], cached
            elif batch.chars is not None:
                if self.config.freeze_charlm:
                    with torch.no_grad():
                        char = self.charlm.features(batch.chars)  # [B, T, 2H]
                else:
                    states = self.charlm.states(batch.chars)  # 2 x [B, T, H]
                    char = torch.cat(states, dim=-1)  # [B, T, 2H]
            else:
                raise DistantError("the model uses a char LM: the batch needs char streams or cached features")
            parts.append(self.char_highway(char))  # [B, T, 2H or char_proj_dim]
        if self.config.extra_dim:
            if batch.extra is None:
                raise DistantError(f"model.extra_dim is {self.config.extra_dim}: the batch has no extra features")
            parts.append(batch.extra)  # [B, T, E]
        return torch.cat(parts, dim=-1), states

    def emissions(self, batch: TaggerBatch) -> torch.Tensor:
        """Return emission scores ``[B, T, K]``."""
        return self._emissions(batch)[0]

    def _emissions(self, batch: TaggerBatch) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor] | None]:
        inputs, states = self._inputs(batch)  # [B, T, D]
        hidden = self.encoder(inputs, batch.lengths)  # [B, T, 2H]
        return self.out(hidden), states  # [B, T, K]

    def loss_terms(self, batch: TaggerBatch, tag_bias: torch.Tensor | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """Return the parts of the training loss, for callers that weight or extend them.

        Args:
            batch: a batch with ``allowed`` sets.
            tag_bias: optional ``[K]`` emission bias during training (BA-Fix).

        Returns:
            ``(crf [B], lm, emissions [B, T, K])``: the partial-label CRF loss of each sentence, the char-LM
            loss (a scalar, or None unless the char LM is co-trained with ``lm_weight > 0``), and the emissions.
        """
        if batch.allowed is None:
            raise DistantError("the batch has no allowed tag sets to learn from")
        emissions, states = self._emissions(batch)  # [B, T, K]
        crf = self.crf.partial_nll(emissions.float(), batch.allowed, batch.mask, tag_bias)  # [B]
        lm = None
        if states is not None and self.config.lm_weight > 0:
            lm = self.charlm.lm_loss(batch.chars, states)
        return crf, lm, emissions

    def loss(self, batch: TaggerBatch, tag_bias: torch.Tensor | None = None
             ) -> tuple[torch.Tensor, dict[str, float]]:
        """Return the training loss (mean over sentences) and its parts.

        The CRF part is the partial-label loss over ``batch.allowed``; when the char LM is co-trained and
        ``lm_weight > 0``, ``lm_weight * lm_loss`` is added.

        Args:
            batch: a batch with ``allowed`` sets.
            tag_bias: optional ``[K]`` emission bias during training (none by default; ``self.tag_bias`` is
                for decoding only).

        Returns:
            ``(loss, {"crf": float, "lm": float})``.
        """
        crf, lm, _ = self.loss_terms(batch, tag_bias)
        loss = crf.mean()
        parts = {"crf": float(loss.detach())}
        if lm is not None:
            loss = loss + self.config.lm_weight * lm
            parts["lm"] = float(lm.detach())
        return loss, parts

    @torch.no_grad()
    def decode(self, batch: TaggerBatch, tag_bias: torch.Tensor | None = None
               ) -> tuple[list[list[str]], list[list[float]]]:
        """Return the Viterbi tags and each chosen tag's marginal probability, per sentence.

        Runs in eval mode (restored afterwards).

        Args:
            batch: the batch to tag.
            tag_bias: ``[K]`` emission bias; None uses ``self.tag_bias``.
        """
        was_training = self.training
        self.eval()
        try:
            bias = self.tag_bias if tag_bias is None else tag_bias
            emissions = self.emissions(batch)  # [B, T, K]
            paths, post = run_all([lambda: self.crf.viterbi(emissions, batch.mask, bias),
                                   lambda: self.crf.marginals(emissions, batch.mask, bias)])  # post: [B, T, K]
        finally:
            self.train(was_training)
        names = self.vocabs.tags
        tags, confidences = [], []
        for b, path in enumerate(paths):
            idx = torch.tensor(path, dtype=torch.long)
            confidences.append(post[b, torch.arange(len(path)), idx].tolist())
            tags.append([names[i] for i in path])
        return tags, confidences

    def predict(self, sentences: Sequence[Sequence[str]], *, batch_size: int = 64,
                device: torch.device | str = "cpu", char_features: Sequence[torch.Tensor] | None = None,
                extra: Sequence[torch.Tensor] | None = None,
                transformer_features: Sequence[torch.Tensor] | None = None
                ) -> tuple[list[list[str]], list[list[float]]]:
        """Tag sentences in length-sorted batches; results are in input order (see :meth:`decode`)."""
        examples = self.encode(sentences, char_features=char_features, extra=extra,
                               transformer_features=transformer_features)
        order = sorted(range(len(examples)), key=lambda i: len(examples[i].words))
        tags: list[list[str]] = [[] for _ in examples]
        conf: list[list[float]] = [[] for _ in examples]
        for k in range(0, len(order), batch_size):
            ids = [i for i in order[k:k + batch_size] if len(examples[i].words) > 0]
            if not ids:
                continue
            t, c = self.decode(collate([examples[i] for i in ids]).to(device))
            for i, ti, ci in zip(ids, t, c):
                tags[i], conf[i] = ti, ci
        return tags, conf

    # -- checkpoints -----------------------------------------------------------------------------------------

    def to_checkpoint(self) -> dict[str, Any]:
        """Return ``{format_version, config, vocabs, state_dict}`` holding only tensors and plain types."""
        vocabs: dict[str, Any] = {"words": self.vocabs.words.to_state(), "tags": list(self.vocabs.tags)}
        if self.charlm is not None:
            vocabs["chars"] = self.charlm.chars.to_state()
            vocabs["lm_words"] = self.charlm.lm_words.to_state()
        if self.transformer is not None:
            vocabs["transformer"] = dict(self.transformer.files())  # tokenizer + model config files
        return {"format_version": FORMAT_VERSION, "config": self.config.to_dict(), "vocabs": vocabs,
                "state_dict": self.state_dict()}

    @classmethod
    def from_checkpoint(cls, checkpoint: dict[str, Any], where: str = "model checkpoint") -> Tagger:
        """Rebuild a tagger from :meth:`to_checkpoint`'s output (as loaded with ``weights_only=True``).

        Raises:
            DistantError: the checkpoint is of another format version.
        """
        require_keys(checkpoint, ("format_version", "config", "vocabs", "state_dict"), where)
        version = checkpoint.get("format_version")
        if version != FORMAT_VERSION:
            raise DistantError(f"{where}: format version {version!r}, expected {FORMAT_VERSION}")
        with checkpoint_errors(where, "a tagger checkpoint written by distant"):
            config = TaggerConfig.from_dict(checkpoint["config"])
            v = checkpoint["vocabs"]
            vocabs = TaggerVocabs(WordVocab.from_state(v["words"]), _strings(v["tags"], "tags"))
            charlm = None
            if config.use_charlm:
                charlm = CharLM(config.charlm, CharVocab.from_state(v["chars"]), WordVocab.from_state(v["lm_words"]))
            transformer = None
            if config.encoder == "transformer":
                transformer = TransformerEncoder.from_files(v["transformer"], pooling=config.pooling,
                                                            window=config.window, where=where)
            model = cls(config, vocabs, charlm, transformer=transformer)
            model.load_state_dict(checkpoint["state_dict"])
        return model


def _strings(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise TypeError(f"{what}: expected a list of strings")
    return list(value)


def build_tagger(sentences: Sequence[Sequence[str]], tag_names: Sequence[str], config: TaggerConfig, *,
                 charlm: CharLM | None = None, word_vectors: str | None = None, seed: int = 0) -> Tagger:
    """Build an untrained tagger whose vocabularies come from the training ``sentences``.

    Args:
        sentences: the training sentences (the word vocabulary is built from them).
        tag_names: tags in index order, ``"O"`` first by convention.
        config: the model config; when ``use_charlm`` and ``charlm`` is None, a fresh char LM is built; when
            ``encoder == "transformer"``, the transformer is loaded from ``config.transformer`` (offline).
        charlm: a (pre-trained) char LM to use; its ``config`` replaces ``config.charlm``.
        word_vectors: optional word2vec / GloVe text file to initialise the word embeddings.
        seed: seeds the parameter initialisation.
    """
    torch.manual_seed(seed)
    words = WordVocab.build(sentences, config.min_word_count, lower=config.lower,
                            digits_to_zero=config.digits_to_zero)
    if config.use_charlm:
        if charlm is None:
            charlm = build_charlm(sentences, config.charlm)
        config = dataclasses.replace(config, charlm=charlm.config)
    vectors = None
    if word_vectors is not None and config.word_dim > 0:
        vectors = load_word_vectors(word_vectors, words, config.word_dim, seed)
    transformer = None
    if config.encoder == "transformer":
        transformer = load_transformer(config.transformer, pooling=config.pooling, window=config.window)
    return Tagger(config, TaggerVocabs(words, list(tag_names)), charlm if config.use_charlm else None, vectors,
                  transformer)
