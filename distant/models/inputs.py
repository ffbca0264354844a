"""The tagger's inputs: each kind of per-word feature is a module of its own, with its width and its data.

The tagger concatenates what its inputs give for each word and feeds it to the encoder and the CRF
(:mod:`distant.models.tagger`). An input knows how to turn sentences into its per-sentence examples, how to
pad them into a batch, and how to compute ``[B, T, dim]`` features from a batch. A frozen input (a frozen
char LM, a frozen transformer) can also compute its features once (:meth:`TaggerInput.cache`); a batch then
carries those features and the input only reads them. Live or cached, the same method computes the output:
training, prediction and the tests call the same code.

============  =========================================  ==============================================
name          what                                       cached when
============  =========================================  ==============================================
words         word embeddings (``model.word_dim``)       never (a lookup)
charlm        char-LM states -> highway                  the LM is frozen (``freeze_charlm``)
transformer   a transformer's sub-word states, pooled    the transformer is frozen (``fine_tune = false``)
extra         features the caller supplies               always (they come cached)
============  =========================================  ==============================================
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn
from torch.nn.utils.rnn import pad_sequence

from distant.config.model import TaggerConfig
from distant.errors import DistantError
from distant.models.charlm import (CharLM, CharVocab, Highway, build_charlm, collate_chars,
                                   compute_charlm_features)
from distant.models.embeddings import PAD_ID, WordEmbedding, WordVocab, load_word_vectors
from distant.models.transformer import TransformerEncoder, collate_subwords, load_transformer


class Features(NamedTuple):
    """What an input gives for a batch: features ``[B, T, dim]`` and an auxiliary loss to add (or None)."""

    values: torch.Tensor
    aux_loss: torch.Tensor | None = None


class TaggerInput(nn.Module):
    """Base class of an input: subclasses set :attr:`name` and :attr:`dim` and implement the data methods.

    Attributes:
        name: Its key in the tagger's inputs, in batches and in checkpoints.
        dim: Width of its features.
    """

    name: str = ""
    dim: int = 0

    @property
    def frozen(self) -> bool:
        """Whether its features stay fixed in training (they may then be computed once and cached)."""
        return False

    def examples(self, sentences: Sequence[Sequence[str]]) -> list[Any]:
        """Return what a batch needs to compute the features live, one item per sentence."""
        raise NotImplementedError

    def cache(self, sentences: Sequence[Sequence[str]], *, batch_size: int, device: torch.device | str,
              store: Path | None = None) -> list[torch.Tensor]:
        """Return the features ``[n_i, dim]`` of each sentence (a frozen input only), in input order, on the CPU
        (memory-mapped from the file ``store`` when given)."""
        raise DistantError(f"input {self.name!r} is not frozen: its features cannot be cached")

    def collate(self, items: Sequence[Any], steps: int) -> Any:
        """Pad the items of a batch: cached ``[n_i, dim]`` tensors into ``[B, T, dim]``, live items as needed."""
        if isinstance(items[0], torch.Tensor):
            return pad_sequence(list(items), batch_first=True).float()  # [B, T, dim]
        return self.collate_live(items, steps)

    def collate_live(self, items: Sequence[Any], steps: int) -> Any:
        raise NotImplementedError

    def forward(self, part: Any) -> Features:
        """Return the features of a batch: read the cached ones, or compute them from the live items."""
        if isinstance(part, torch.Tensor):
            return Features(self.read(part))
        return self.compute(part)

    def read(self, cached: torch.Tensor) -> torch.Tensor:
        """Map cached features ``[B, T, F]`` to this input's output ``[B, T, dim]`` (identity by default)."""
        return cached

    def compute(self, part: Any) -> Features:
        raise NotImplementedError

    def to_state(self) -> dict[str, Any]:
        """Return the plain data (vocabularies, files) a checkpoint needs to rebuild this input."""
        return {}

    def check(self, cached: torch.Tensor, n: int, i: int) -> torch.Tensor:
        """Return cached features of sentence ``i`` after checking their shape ``[n, F]``."""
        width = self.cached_dim
        if tuple(cached.shape) != (n, width):
            raise DistantError(f"sentence {i}: {self.name} features of shape {tuple(cached.shape)}, expected "
                               f"{(n, width)}")
        return cached

    @property
    def cached_dim(self) -> int:
        """Width of the cached features (before :meth:`read`)."""
        return self.dim


class WordInput(TaggerInput):
    """Word embeddings over a vocabulary built from the training text."""

    name = "words"

    def __init__(self, vocab: WordVocab, dim: int, vectors: torch.Tensor | None = None, freeze: bool = False):
        super().__init__()
        self.vocab = vocab
        self.dim = dim
        self.embedding = WordEmbedding(len(vocab), dim, vectors, freeze)

    def examples(self, sentences: Sequence[Sequence[str]]) -> list[torch.Tensor]:
        return [torch.tensor(self.vocab.encode(s), dtype=torch.long) for s in sentences]

    def collate(self, items: Sequence[torch.Tensor], steps: int) -> torch.Tensor:
        return pad_sequence(list(items), batch_first=True, padding_value=PAD_ID)  # [B, T]

    def forward(self, part: torch.Tensor) -> Features:
        return Features(self.embedding(part))  # [B, T, dim]

    def to_state(self) -> dict[str, Any]:
        return {"words": self.vocab.to_state()}


class CharLMInput(TaggerInput):
    """LM-LSTM-CRF char features: the char LM's boundary states through a highway (and a projection).

    Frozen (``freeze_charlm``), the LM's states can be cached; co-trained, its LM loss (``lm_weight``) is
    the auxiliary loss.
    """

    name = "charlm"

    def __init__(self, charlm: CharLM, config: TaggerConfig):
        super().__init__()
        self.lm = charlm
        self.freeze = config.freeze_charlm
        self.lm_weight = 0.0 if config.freeze_charlm else config.lm_weight
        if config.char_proj_dim > 0:
            self.highway = nn.Sequential(nn.Linear(charlm.feature_dim, config.char_proj_dim),
                                         Highway(config.char_proj_dim, config.highway_layers))
            self.dim = config.char_proj_dim
        else:
            self.highway = Highway(charlm.feature_dim, config.highway_layers)
            self.dim = charlm.feature_dim
        if self.freeze:
            charlm.requires_grad_(False)

    @property
    def frozen(self) -> bool:
        return self.freeze

    @property
    def cached_dim(self) -> int:
        return self.lm.feature_dim

    def examples(self, sentences: Sequence[Sequence[str]]) -> list[Any]:
        return [self.lm.encode(s) for s in sentences]

    def cache(self, sentences, *, batch_size, device, store=None):
        self.lm.to(device)
        return compute_charlm_features(self.lm, sentences, batch_size=batch_size, device=device, store=store)

    def collate_live(self, items, steps):
        return collate_chars(items)

    def read(self, cached: torch.Tensor) -> torch.Tensor:
        return self.highway(cached)  # [B, T, dim]

    def compute(self, part: Any) -> Features:
        if self.freeze:
            with torch.no_grad():
                char = self.lm.features(part)  # [B, T, 2H]
            return Features(self.highway(char))
        states = self.lm.states(part)  # 2 x [B, T, H]
        aux = self.lm_weight * self.lm.lm_loss(part, states) if self.lm_weight > 0 else None
        return Features(self.highway(torch.cat(states, dim=-1)), aux)  # [B, T, dim]

    def to_state(self) -> dict[str, Any]:
        return {"chars": self.lm.chars.to_state(), "lm_words": self.lm.lm_words.to_state(),
                "charlm": self.lm.config.to_dict()}


class TransformerInput(TaggerInput):
    """A transformer's per-word features, fine-tuned with their own learning rate or frozen and cached."""

    name = "transformer"

    def __init__(self, transformer: TransformerEncoder, fine_tune: bool):
        super().__init__()
        self.encoder = transformer
        self.fine_tune = fine_tune
        self.dim = transformer.feature_dim
        if not fine_tune:
            transformer.requires_grad_(False)

    @property
    def frozen(self) -> bool:
        return not self.fine_tune

    def examples(self, sentences):
        return self.encoder.encode(sentences)  # all sentences at once: the tokenizer batches them

    def cache(self, sentences, *, batch_size, device, store=None):
        self.encoder.to(device)
        return self.encoder.features(sentences, batch_size=batch_size, device=device, store=store)

    def collate_live(self, items, steps):
        return collate_subwords(items, steps)

    def compute(self, part: Any) -> Features:
        if self.fine_tune:
            return Features(self.encoder(part))  # [B, T, dim]
        with torch.no_grad():
            return Features(self.encoder(part))

    def to_state(self) -> dict[str, Any]:
        return {"files": dict(self.encoder.files())}  # tokenizer + model config files


class ExtraInput(TaggerInput):
    """Per-word features a caller computes elsewhere and supplies with the sentences (``extra_dim`` wide)."""

    name = "extra"

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    @property
    def frozen(self) -> bool:
        return True

    def examples(self, sentences):
        raise DistantError(f"model.extra_dim is {self.dim}: the extra features must be given with the sentences")

    def cache(self, sentences, *, batch_size, device, store=None):
        return self.examples(sentences)


def build_inputs(config: TaggerConfig, sentences: Sequence[Sequence[str]], *, charlm: CharLM | None = None,
                 word_vectors: str | None = None, seed: int = 0) -> list[TaggerInput]:
    """Build untrained inputs whose vocabularies come from the training ``sentences``.

    Args:
        config: The model config.
        sentences: The training sentences.
        charlm: A (pre-trained) char LM; ``None`` builds a fresh one when ``config.use_charlm``.
        word_vectors: A word2vec / GloVe text file to initialise the word embeddings.
        seed: Seeds the word vectors of words the file does not have.
    """
    inputs: list[TaggerInput] = []
    if config.word_dim > 0:
        vocab = WordVocab.build(sentences, config.min_word_count, lower=config.lower,
                                digits_to_zero=config.digits_to_zero)
        vectors = None if word_vectors is None else load_word_vectors(word_vectors, vocab, config.word_dim, seed)
        inputs.append(WordInput(vocab, config.word_dim, vectors, config.freeze_word_embeddings))
    if config.encoder == "transformer":
        transformer = load_transformer(config.transformer, pooling=config.pooling, window=config.window)
        inputs.append(TransformerInput(transformer, config.fine_tune))
    if config.use_charlm:
        inputs.append(CharLMInput(charlm if charlm is not None else build_charlm(sentences, config.charlm), config))
    if config.extra_dim > 0:
        inputs.append(ExtraInput(config.extra_dim))
    return inputs


def inputs_from_state(config: TaggerConfig, state: dict[str, Any], where: str) -> list[TaggerInput]:
    """Rebuild the inputs of a checkpoint (weights come with the tagger's state dict)."""
    from distant.config.model import CharLMConfig

    inputs: list[TaggerInput] = []
    if config.word_dim > 0:
        inputs.append(WordInput(WordVocab.from_state(state["words"]["words"]), config.word_dim,
                                freeze=config.freeze_word_embeddings))
    if config.encoder == "transformer":
        transformer = TransformerEncoder.from_files(state["transformer"]["files"], pooling=config.pooling,
                                                    window=config.window, where=where)
        inputs.append(TransformerInput(transformer, config.fine_tune))
    if config.use_charlm:
        s = state["charlm"]
        lm = CharLM(CharLMConfig.from_dict(s["charlm"]), CharVocab.from_state(s["chars"]),
                    WordVocab.from_state(s["lm_words"]))
        inputs.append(CharLMInput(lm, config))
    if config.extra_dim > 0:
        inputs.append(ExtraInput(config.extra_dim))
    return inputs
