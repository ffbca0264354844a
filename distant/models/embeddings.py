"""Word vocabulary and word embeddings (random or loaded from a word2vec / GloVe text file)."""

from __future__ import annotations

import logging
import math
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import nn

from distant.errors import DistantError

logger = logging.getLogger(__name__)

PAD = "<pad>"
UNK = "<unk>"
PAD_ID = 0
UNK_ID = 1
_DIGITS = re.compile(r"\d")


class WordVocab:
    """Map words to ids; index 0 is padding, 1 is unknown; the rest are sorted by decreasing frequency.

    Args:
        words: the known words (already normalised), in id order after the two specials.
        lower: lower-case words before lookup.
        digits_to_zero: replace every digit by ``0`` before lookup (``"5mg"`` and ``"10mg"`` -> ``"0mg"``, ``"00mg"``).
    """

    def __init__(self, words: Sequence[str], lower: bool = True, digits_to_zero: bool = True) -> None:
        self.lower = lower
        self.digits_to_zero = digits_to_zero
        self.itos: list[str] = [PAD, UNK, *words]
        self.stoi: dict[str, int] = {w: i for i, w in enumerate(self.itos)}

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], min_count: int = 1, max_size: int | None = None,
              lower: bool = True, digits_to_zero: bool = True) -> WordVocab:
        """Count normalised words and keep those seen ``min_count`` times, at most ``max_size`` of them."""
        probe = cls([], lower, digits_to_zero)
        counts = Counter(probe.normalise(w) for sent in sentences for w in sent)
        # Frequency order (ties alphabetical) keeps the build deterministic and suits an adaptive softmax.
        kept = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        return cls(kept[:max_size] if max_size is not None else kept, lower, digits_to_zero)

    def normalise(self, word: str) -> str:
        """Return the form of ``word`` that the vocabulary stores."""
        if self.lower:
            word = word.lower()
        if self.digits_to_zero:
            word = _DIGITS.sub("0", word)
        return word

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, word: str) -> bool:
        return self.normalise(word) in self.stoi

    def index(self, word: str) -> int:
        """Return the id of ``word`` (``UNK_ID`` if unknown)."""
        return self.stoi.get(self.normalise(word), UNK_ID)

    def encode(self, words: Sequence[str]) -> list[int]:
        """Return the ids of ``words``."""
        get, norm = self.stoi.get, self.normalise
        return [get(norm(w), UNK_ID) for w in words]

    def to_state(self) -> dict[str, Any]:
        """Return plain types that :meth:`from_state` rebuilds the vocabulary from."""
        return {"words": self.itos[2:], "lower": self.lower, "digits_to_zero": self.digits_to_zero}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> WordVocab:
        """Rebuild a vocabulary from :meth:`to_state`'s output."""
        words = state["words"]
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise TypeError("word vocabulary: expected a list of strings")
        if not all(isinstance(state[k], bool) for k in ("lower", "digits_to_zero")):
            raise TypeError("word vocabulary: expected true/false for lower and digits_to_zero")
        return cls(words, state["lower"], state["digits_to_zero"])


def load_word_vectors(path: str | os.PathLike, vocab: WordVocab, dim: int | None = None,
                      seed: int = 0) -> torch.Tensor:
    """Read a word2vec / GloVe text file into an embedding matrix for ``vocab``.

    A first line of two integers (word2vec's ``count dim`` header) is skipped. File words are normalised
    like the vocabulary; when several file words share a normalised form, an exact match (the file word is
    already normalised) wins, otherwise the first one. Vocabulary words missing from the file get
    ``N(0, 1/dim)`` vectors drawn with ``seed``; the padding row is zero.

    Args:
        path: the text file, one ``word v1 v2 ...`` per line, separated by spaces.
        vocab: the vocabulary to fill.
        dim: expected dimension; None takes it from the first vector line.
        seed: seed for the vectors of missing words.

    Returns:
        ``[len(vocab), dim]`` float tensor.

    Raises:
        DistantError: a line has the wrong number of fields or a value that is not a number, or the file
            holds no vectors.
    """
    found: dict[int, list[float]] = {}
    exact: set[int] = set()
    with open(path, encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            fields = line.rstrip("\n\r").rstrip(" ").split(" ")
            if lineno == 1 and len(fields) == 2 and all(x.isdigit() for x in fields):
                continue  # word2vec header
            if not line.strip():
                continue
            if dim is None:
                dim = len(fields) - 1
                if dim < 1:
                    raise DistantError(f"expected a word followed by its vector values, found {line.strip()!r}",
                                       path, lineno)
            if len(fields) != dim + 1:
                raise DistantError(f"expected a word and {dim} values, found {len(fields) - 1} values",
                                   path, lineno)
            word = fields[0]
            idx = vocab.stoi.get(vocab.normalise(word))
            if idx is None or (idx in found and (idx in exact or vocab.normalise(word) != word)):
                continue
            try:
                found[idx] = [float(x) for x in fields[1:]]
            except ValueError:
                bad = next(x for x in fields[1:] if not _is_float(x))
                raise DistantError(f"expected a number in the vector of {word!r}, found {bad!r}",
                                   path, lineno) from None
            if vocab.normalise(word) == word:
                exact.add(idx)
    if dim is None:
        raise DistantError("the word-vector file holds no vectors", path)
    gen = torch.Generator().manual_seed(seed)
    weights = torch.randn(len(vocab), dim, generator=gen) / math.sqrt(dim)  # [V, D]
    if found:
        ids = torch.tensor(list(found))
        weights[ids] = torch.tensor(list(found.values()), dtype=torch.float)
    weights[PAD_ID] = 0.0
    logger.info("word vectors from %s cover %d of %d vocabulary words", path, len(found), len(vocab) - 2)
    return weights


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class WordEmbedding(nn.Module):
    """Word embedding table, randomly initialised or copied from pre-trained vectors.

    Args:
        vocab_size: number of rows (``len(vocab)``).
        dim: embedding size.
        pretrained: optional ``[vocab_size, dim]`` initial weights (see :func:`load_word_vectors`).
        freeze: keep the table fixed during training.
    """

    def __init__(self, vocab_size: int, dim: int, pretrained: torch.Tensor | None = None,
                 freeze: bool = False) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, dim, padding_idx=PAD_ID)
        nn.init.uniform_(self.embedding.weight, -math.sqrt(3.0 / dim), math.sqrt(3.0 / dim))
        with torch.no_grad():
            if pretrained is not None:
                if tuple(pretrained.shape) != (vocab_size, dim):
                    raise ValueError(f"pretrained vectors have shape {tuple(pretrained.shape)}, "
                                     f"expected {(vocab_size, dim)}")
                self.embedding.weight.copy_(pretrained)
            self.embedding.weight[PAD_ID].zero_()
        self.embedding.weight.requires_grad_(not freeze)

    @property
    def dim(self) -> int:
        """The embedding size."""
        return self.embedding.embedding_dim

    def forward(self, words: torch.Tensor) -> torch.Tensor:
        """Embed word ids ``[B, T]`` into ``[B, T, D]``."""
        return self.embedding(words)
