"""Transformer encoder: a local Hugging Face model's sub-word states pooled into one feature vector per word.

The project's tokens stay the unit that everything else counts in (allowed tag sets, the CRF, spans), so the
transformer is aligned to them, not the other way round::

    words     cisplatin            -    induced   nephrotoxicity
    pieces    cis ##pl ##atin      -    induced   ne ##ph ##rot ##ox ##ici ##ty
    windows   [CLS] cis ##pl ##atin - induced ne ... [SEP]      (at most ``window`` pieces, specials included)

A sentence whose pieces do not fit one window is cut into windows that overlap by half; each piece takes its
state from the window where it has the most context on both sides. Piece states are pooled per word: the
first piece's state, or the mean over the word's pieces. A word the tokenizer drops entirely (a zero-width
character, say) is read as the unknown piece, so every word gets a vector.

Loading never touches the network: a local model directory (``local_files_only``), or a name already in the
local Hugging Face cache. The weights are part of the tagger's state dict; the tokenizer and model config files
travel inside the checkpoint too (:meth:`TransformerEncoder.files`), so a run folder, or one ``model.pt`` on its
own, rebuilds the model without the original directory.

``transformers`` is imported only when a transformer is loaded: it is an optional extra.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from distant.config.model import POOLINGS
from distant.errors import DistantError
from distant.models.features import cache_features

_NO_LIMIT = 10**6  # tokenizers without a maximum length report a huge sentinel (int(1e30))


@dataclass
class SubwordExample:
    """One sentence's pieces cut into windows (``W`` windows, ``S`` pieces, ``n`` words).

    A piece's state is read at row ``win`` and column ``pos`` of ``ids`` (``pos`` counts the leading specials).
    """

    ids: torch.Tensor  # [W, L] piece ids of each window, specials included, padded with the pad id
    lengths: torch.Tensor  # [W] real length of each window
    win: torch.Tensor  # [S] window each piece takes its state from
    pos: torch.Tensor  # [S] position of the piece in that window
    word: torch.Tensor  # [S] word each piece belongs to
    first: torch.Tensor  # [S] bool, the piece is its word's first

    @property
    def num_pieces(self) -> int:
        """The number of content pieces (specials excluded)."""
        return len(self.word)


@dataclass
class SubwordBatch:
    """The windows of a batch of ``B`` sentences (``T`` = longest, in words), and where each word reads from.

    ``src`` indexes the flattened ``[N * L]`` window states and ``dst`` the flattened ``[B * T]`` word
    features; ``first_src``/``first_dst`` are the same restricted to each word's first piece.
    """

    ids: torch.Tensor  # [N, L] piece ids of all windows
    mask: torch.Tensor  # [N, L] long attention mask
    src: torch.Tensor  # [S] long
    dst: torch.Tensor  # [S] long
    first_src: torch.Tensor  # [n_words] long
    first_dst: torch.Tensor  # [n_words] long
    counts: torch.Tensor  # [B * T] float, pieces per word (1 on padding, to divide safely)
    shape: tuple[int, int]  # (B, T)

    def to(self, device: torch.device | str) -> SubwordBatch:
        """Return a copy on ``device``."""
        return SubwordBatch(self.ids.to(device), self.mask.to(device), self.src.to(device), self.dst.to(device),
                            self.first_src.to(device), self.first_dst.to(device), self.counts.to(device),
                            self.shape)


def plan_windows(num_pieces: int, capacity: int) -> tuple[list[int], np.ndarray, np.ndarray]:
    """Cut ``num_pieces`` pieces into windows of at most ``capacity`` that overlap by half.

    Returns:
        ``(starts, win, offset)``: the first piece of each window, and per piece the window it reads its state
        from (the one where it has the most context on both sides; the earlier on ties) and its offset in it.
    """
    if num_pieces <= capacity:
        return [0], np.zeros(num_pieces, dtype=np.int64), np.arange(num_pieces, dtype=np.int64)
    stride = max(capacity // 2, 1)
    starts = [*range(0, num_pieces - capacity, stride), num_pieces - capacity]
    st = np.asarray(starts, dtype=np.int64)[:, None]  # [W, 1]
    p = np.arange(num_pieces, dtype=np.int64)[None, :]  # [1, S]
    context = np.minimum(p - st, st + capacity - 1 - p)  # [W, S], negative outside the window
    win = context.argmax(axis=0)  # [S]
    return starts, win, p[0] - st[win, 0]


def collate_subwords(examples: Sequence[SubwordExample], num_words: int) -> SubwordBatch:
    """Stack the windows of ``examples`` into one batch whose word features are ``num_words`` (``T``) long."""
    total = sum(e.ids.shape[0] for e in examples)
    width = max(e.ids.shape[1] for e in examples)
    ids = torch.zeros(total, width, dtype=torch.long)  # [N, L]; padding is masked, its id does not matter
    mask = torch.zeros(total, width, dtype=torch.long)  # [N, L]
    src, dst, first = [], [], []
    row = 0
    for b, e in enumerate(examples):
        w, length = e.ids.shape
        ids[row:row + w, :length] = e.ids
        mask[row:row + w] = (torch.arange(width).unsqueeze(0) < e.lengths.unsqueeze(1)).long()
        src.append((row + e.win) * width + e.pos)  # [S_b]
        dst.append(b * num_words + e.word)  # [S_b]
        first.append(e.first)
        row += w
    src_t, dst_t, first_t = torch.cat(src), torch.cat(dst), torch.cat(first)
    counts = torch.bincount(dst_t, minlength=len(examples) * num_words).clamp(min=1).float()  # [B * T]
    return SubwordBatch(ids, mask, src_t, dst_t, src_t[first_t], dst_t[first_t], counts, (len(examples), num_words))


class TransformerEncoder(nn.Module):
    """A Hugging Face encoder that turns sentences of words into per-word features ``[B, T, H]``.

    Build it with :func:`load_transformer` (a model directory) or :meth:`from_files` (a checkpoint).

    Args:
        model: the encoder (``AutoModel``), in float32.
        tokenizer: its fast tokenizer.
        pooling: ``"first"`` (the word's first piece) or ``"mean"`` (the mean over its pieces).
        window: pieces per window, specials included; 0 takes the model's maximum.
        files: the tokenizer and config files (name -> bytes) when already known (from a checkpoint).

    Raises:
        DistantError: an unknown pooling, a slow tokenizer, or a window the model cannot take.
    """

    def __init__(self, model: nn.Module, tokenizer: Any, *, pooling: str = "first", window: int = 0,
                 files: dict[str, bytes] | None = None) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise DistantError(f"model.pooling is {pooling!r}; expected one of {', '.join(POOLINGS)}")
        if not getattr(tokenizer, "is_fast", False):
            raise DistantError("the transformer's tokenizer is not a fast tokenizer (no tokenizer.json); "
                               "expected one that maps pieces to words")
        from tokenizers import Tokenizer

        self.model = model
        self.tokenizer = tokenizer
        self.pooling = pooling
        self._files = files
        # A private copy of the Rust tokenizer with truncation and padding off: a tokenizer.json may carry both
        # (all-MiniLM-L6-v2's truncates at 128), and windows, not truncation, handle long sentences here.
        self._backend = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
        self._backend.no_truncation()
        self._backend.no_padding()
        # The special pieces around a sequence, read off a one-word probe: those before its word and after it.
        probe = self._backend.encode(["a"], is_pretokenized=True, add_special_tokens=True)
        inside = [i for i, w in enumerate(probe.word_ids) if w is not None] or [len(probe.ids)]
        self.prefix: list[int] = probe.ids[:inside[0]]  # e.g. [CLS]
        self.suffix: list[int] = probe.ids[inside[-1] + 1:]  # e.g. [SEP]
        self.unk_id = tokenizer.unk_token_id if tokenizer.unk_token_id is not None else 0
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        limit = self.max_window
        self.window = window or limit
        if self.window > limit:
            raise DistantError(f"model.window is {window}, but the transformer takes at most {limit} pieces")
        self.capacity = self.window - len(self.prefix) - len(self.suffix)
        if self.capacity < 2:
            raise DistantError(f"model.window is {window}: too small for {len(self.prefix) + len(self.suffix)} "
                               "special pieces and at least 2 content pieces")

    @property
    def max_window(self) -> int:
        """The most pieces (specials included) the model takes at once."""
        limits = [n for n in (self.tokenizer.model_max_length,
                              getattr(self.model.config, "max_position_embeddings", None))
                  if isinstance(n, int) and 0 < n < _NO_LIMIT]
        return min(limits) if limits else 512

    @property
    def feature_dim(self) -> int:
        """Width of the per-word features (the model's hidden size)."""
        return int(self.model.config.hidden_size)

    # -- data ------------------------------------------------------------------------------------------------

    def encode(self, sentences: Sequence[Sequence[str]]) -> list[SubwordExample]:
        """Tokenize sentences of words into pieces aligned to the words, cut into windows."""
        encodings = self._backend.encode_batch([list(s) for s in sentences], is_pretokenized=True,
                                               add_special_tokens=False)
        return [self._example(len(sent), enc.ids, enc.word_ids) for sent, enc in zip(sentences, encodings)]

    def _example(self, n: int, ids: Sequence[int], word_ids: Sequence[int | None]) -> SubwordExample:
        per_word: list[list[int]] = [[] for _ in range(n)]
        for piece, w in zip(ids, word_ids):
            if w is not None:
                per_word[w].append(piece)
        pieces, word, first = [], [], []
        for w, p in enumerate(per_word):
            p = p or [self.unk_id]  # a word the tokenizer dropped is still a word
            pieces.extend(p)
            word.extend([w] * len(p))
            first.extend([True] + [False] * (len(p) - 1))
        starts, win, offset = plan_windows(len(pieces), self.capacity)
        windows = [self.prefix + pieces[s:s + self.capacity] + self.suffix for s in starts]
        width = max(map(len, windows))
        out = torch.full((len(windows), width), self.pad_id, dtype=torch.long)  # [W, L]
        for i, row in enumerate(windows):
            out[i, :len(row)] = torch.tensor(row, dtype=torch.long)
        return SubwordExample(out, torch.tensor([len(r) for r in windows], dtype=torch.long),
                              torch.from_numpy(win), torch.from_numpy(offset + len(self.prefix)),
                              torch.tensor(word, dtype=torch.long), torch.tensor(first, dtype=torch.bool))

    # -- model -----------------------------------------------------------------------------------------------

    def forward(self, batch: SubwordBatch) -> torch.Tensor:
        """Return per-word features ``[B, T, H]`` (zero on padding words)."""
        states = self.model(input_ids=batch.ids, attention_mask=batch.mask).last_hidden_state  # [N, L, H]
        flat = states.reshape(-1, states.shape[-1])  # [N * L, H]
        b, t = batch.shape
        out = flat.new_zeros(b * t, flat.shape[-1])  # [B * T, H]
        if self.pooling == "first":
            out = out.index_copy(0, batch.first_dst, flat.index_select(0, batch.first_src))
        else:
            out = out.index_add(0, batch.dst, flat.index_select(0, batch.src))
            out = out / batch.counts.to(out.dtype).unsqueeze(1)
        return out.view(b, t, -1)  # [B, T, H]

    @torch.no_grad()
    def features(self, sentences: Sequence[Sequence[str]], *, batch_size: int = 64,
                 device: torch.device | str = "cpu", dtype: torch.dtype = torch.float16,
                 store: Path | None = None) -> list[torch.Tensor]:
        """Compute per-word features of every sentence once, to cache them for a frozen encoder.

        Sentences are batched by their number of pieces; the result is in input order, on the CPU, one
        ``[n_i, H]`` tensor per sentence (``dtype`` float16 halves the memory, as for the char LM's features).
        """
        examples = self.encode(sentences)

        def run(ids: list[int]) -> torch.Tensor:
            longest = max(len(sentences[i]) for i in ids)
            return self(collate_subwords([examples[i] for i in ids], longest).to(device))  # [b, T, H]

        return cache_features(self, sentences, [e.num_pieces for e in examples], run, self.feature_dim,
                              batch_size=batch_size, dtype=dtype, store=store)

    # -- files -----------------------------------------------------------------------------------------------

    def files(self) -> dict[str, bytes]:
        """Return the tokenizer and model config files (name -> bytes) that :meth:`from_files` rebuilds from."""
        if self._files is None:
            with tempfile.TemporaryDirectory() as tmp:
                self.tokenizer.save_pretrained(tmp)
                self.model.config.save_pretrained(tmp)
                self._files = {p.name: p.read_bytes() for p in sorted(Path(tmp).iterdir()) if p.is_file()}
        return self._files

    @classmethod
    def from_files(cls, files: dict[str, bytes], *, pooling: str = "first", window: int = 0,
                   where: str = "model checkpoint") -> TransformerEncoder:
        """Rebuild the architecture and tokenizer from :meth:`files` (the weights come from a state dict).

        Raises:
            DistantError: the files are not a model config and tokenizer.
        """
        transformers = _import_transformers()
        for name in files:
            if not name or Path(name).name != name or name.startswith("."):
                raise DistantError(f"{where}: bad transformer file name {name!r}; expected a plain file name")
        with tempfile.TemporaryDirectory() as tmp:
            for name, data in files.items():
                (Path(tmp) / name).write_bytes(bytes(data))
            try:
                config = transformers.AutoConfig.from_pretrained(tmp, local_files_only=True)
                tokenizer = _load_tokenizer(transformers, tmp)
            except (OSError, ValueError) as e:
                raise DistantError(f"{where}: cannot rebuild the transformer from its stored files "
                                   f"({_first_line(e)})") from None
        model = transformers.AutoModel.from_config(config).float()
        return cls(model, tokenizer, pooling=pooling, window=window, files=dict(files))


def load_transformer(name: str, *, pooling: str = "first", window: int = 0) -> TransformerEncoder:
    """Load a transformer from a local model directory, or from the local cache by hub name; never download.

    A relative directory is relative to the working directory (``name`` may be a hub name, so the config
    does not resolve it against the config file's folder as it does paths); ``${VAR}`` in a config expands.

    Raises:
        DistantError: ``transformers`` is missing, or no model can be loaded from ``name`` offline.
    """
    transformers = _import_transformers()
    path = Path(name).expanduser()
    source = str(path) if path.is_dir() else name
    try:
        config = transformers.AutoConfig.from_pretrained(source, local_files_only=True)
        tokenizer = _load_tokenizer(transformers, source)
        model = transformers.AutoModel.from_pretrained(source, config=config, local_files_only=True)
    except (OSError, ValueError) as e:
        if path.is_dir():
            raise DistantError(f"cannot load transformer model from {name!r} ({_first_line(e)}); expected a "
                               "Hugging Face model directory (config.json, tokenizer files, weights)") from None
        unset = " (an environment variable in it is not set)" if "${" in name or name.startswith("$") else ""
        raise DistantError(f"cannot load transformer model {name!r}{unset}: not a local directory and not in the "
                           "local cache (no network at run time); expected a local model directory") from None
    return TransformerEncoder(model.float(), tokenizer, pooling=pooling, window=window)


def _load_tokenizer(transformers: Any, source: str) -> Any:
    tokenizer = transformers.AutoTokenizer.from_pretrained(source, local_files_only=True)
    try:
        tokenizer(["a"], is_split_into_words=True)
    except ValueError:  # byte-level BPE (RoBERTa) reads pre-split words only with a prefix space
        tokenizer = transformers.AutoTokenizer.from_pretrained(source, local_files_only=True, add_prefix_space=True)
    return tokenizer


def _import_transformers() -> Any:
    try:
        import transformers
    except ImportError:
        raise DistantError("model.encoder = 'transformer' needs the transformers package; "
                           "install distant[transformer]") from None
    return transformers


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
