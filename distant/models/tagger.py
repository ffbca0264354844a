"""The sequence tagger: its inputs' features per word -> BiLSTM -> emissions -> CRF.

The inputs are modules of their own (:mod:`distant.models.inputs`: word embeddings, char LM, transformer,
extra features), each with its width and its live and cached paths; the tagger concatenates what they give::

    features = [input(batch.inputs[input.name]) for input in inputs]    # each [B, T, d_i]
    emissions = out(encoder(cat(features)))                              # [B, T, K]

Training, prediction and the tests go through the same three methods: :meth:`Tagger.encode` (sentences ->
examples, once), :meth:`Tagger.collate` (examples -> a padded batch), then :meth:`Tagger.loss` (the
partial-label CRF loss over the batch's allowed tag sets) or :meth:`Tagger.decode` (Viterbi tags and their
marginal probabilities).

A checkpoint is ``{format_version, config, tags, inputs, predict, state_dict}`` holding only tensors and plain
types: ``inputs`` holds each input's vocabularies or files (a transformer's tokenizer and config), ``predict``
the document rules that prediction applies (:class:`~distant.config.run.PredictConfig`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from distant.checkpoints import checkpoint_errors, require_keys
from distant.config.model import TaggerConfig
from distant.config.run import PredictConfig
from distant.debias.corrections import instance_weighted
from distant.errors import DistantError
from distant.models.charlm import build_charlm
from distant.models.crf import CRF, bio_constraints
from distant.models.encoder import BiLSTMEncoder, PassThrough
from distant.models.inputs import CharLMInput, TaggerInput, TransformerInput, build_inputs, inputs_from_state
from distant.models.parallel import run_all

FORMAT_VERSION = 2


@dataclass
class TaggerExample:
    """One encoded sentence of ``length`` words: each input's item (live, or cached features), allowed tags."""

    length: int
    inputs: dict[str, Any]
    allowed: torch.Tensor | None = None  # [n, K] bool


@dataclass
class TaggerBatch:
    """A padded batch of ``B`` sentences (``T`` = the longest)."""

    mask: torch.Tensor  # [B, T] bool, true for real words (a prefix)
    lengths: torch.Tensor  # [B] long, on the CPU
    inputs: dict[str, Any]  # each input's padded part
    allowed: torch.Tensor | None = None  # [B, T, K] bool (true on padding)

    def to(self, device: torch.device | str) -> TaggerBatch:
        """Return a copy on ``device`` (``lengths`` stays on the CPU)."""
        def move(t: Any) -> Any:
            return None if t is None else t.to(device)

        return TaggerBatch(move(self.mask), self.lengths, {k: move(v) for k, v in self.inputs.items()},
                           move(self.allowed))

    @property
    def num_words(self) -> int:
        """The number of real words."""
        return int(self.lengths.sum())


@dataclass
class LossTerms:
    """The parts of the training loss of a batch."""

    crf: torch.Tensor  # [B] the partial-label CRF loss of each sentence
    aux: torch.Tensor | None  # scalar: the inputs' auxiliary losses (a co-trained char LM's), weighted
    emissions: torch.Tensor  # [B, T, K]

    def total(self, weights: torch.Tensor | None = None) -> torch.Tensor:
        """Return the loss to minimise: the mean CRF loss (instance-weighted with ``weights [B]``) plus aux."""
        loss = self.crf.mean() if weights is None else instance_weighted(self.crf, weights)
        return loss if self.aux is None else loss + self.aux


class Tagger(nn.Module):
    """Inputs -> BiLSTM (or a linear layer) -> emissions -> CRF.

    Args:
        config: The model config.
        tags: Tag names in index order, ``O`` first.
        inputs: The input modules, in the order their features are concatenated.
        rules: The document rules prediction applies.
    """

    def __init__(self, config: TaggerConfig, tags: Sequence[str], inputs: Sequence[TaggerInput],
                 rules: PredictConfig | None = None) -> None:
        super().__init__()
        self.config = config
        self.tags = list(tags)
        self.rules = rules or PredictConfig()
        self.inputs = nn.ModuleDict({i.name: i for i in inputs})
        width = sum(i.dim for i in inputs)
        if width == 0:
            raise DistantError("the tagger has no input: set model.word_dim, model.use_charlm, model.encoder or "
                               "model.extra_dim")
        if config.hidden_size > 0:
            self.encoder: nn.Module = BiLSTMEncoder(width, config.hidden_size, config.num_layers, config.dropout)
        else:
            self.encoder = PassThrough(width, config.dropout)
        self.out = nn.Linear(self.encoder.output_dim, len(self.tags))
        constraints = bio_constraints(self.tags, config.scheme) if config.constraints else ()
        self.crf = CRF(len(self.tags), *constraints)
        # Emission bias applied at decoding (shift correction); zero until set.
        self.register_buffer("tag_bias", torch.zeros(len(self.tags)))

    def tag_index(self) -> dict[str, int]:
        """Return ``{tag name: index}``."""
        return {t: i for i, t in enumerate(self.tags)}

    # -- modes and parameters ----------------------------------------------------------------------------------

    def train(self, mode: bool = True) -> Tagger:
        """Set training mode; frozen inputs stay in eval mode, so their features match cached ones."""
        super().train(mode)
        for module in self.inputs.values():
            if module.frozen:
                module.eval()
        return self

    def trainable_parameters(self) -> list[nn.Parameter]:
        """Return the parameters the optimiser should update (frozen inputs excluded)."""
        return [p for p in self.parameters() if p.requires_grad]

    def parameter_groups(self, lr: float) -> list[dict[str, Any]]:
        """Return optimiser groups: everything at ``lr``, a fine-tuned transformer at ``config.encoder_lr``."""
        transformer = self.inputs["transformer"] if "transformer" in self.inputs else None
        inside = set() if transformer is None else {id(p) for p in transformer.parameters()}
        trainable = self.trainable_parameters()
        groups = [{"params": [p for p in trainable if id(p) not in inside], "lr": lr}]
        encoder = [p for p in trainable if id(p) in inside]
        if encoder:
            groups.append({"params": encoder, "lr": self.config.encoder_lr})
        return groups

    # -- data --------------------------------------------------------------------------------------------------

    def cache(self, sentences: Sequence[Sequence[str]], *, batch_size: int = 64, device: torch.device | str = "cpu",
              folder: Path | None = None) -> dict[str, list[torch.Tensor]]:
        """Compute the frozen inputs' features once (char LM, transformer), to give to :meth:`encode`.

        ``folder``: keep them in memory-mapped files there (``NAME.f16``) instead of memory.
        """
        return {name: module.cache(sentences, batch_size=batch_size, device=device,
                                   store=None if folder is None else Path(folder) / f"{name}.f16")
                for name, module in self.inputs.items() if module.frozen and name != "extra"}

    def cached_width(self) -> int:
        """Return the width of the features :meth:`cache` keeps per word (all frozen inputs together)."""
        return sum(m.cached_dim for name, m in self.inputs.items() if m.frozen and name != "extra")

    def encode(self, sentences: Sequence[Sequence[str]], *, allowed: Sequence[torch.Tensor] | None = None,
               cached: dict[str, Sequence[torch.Tensor]] | None = None) -> list[TaggerExample]:
        """Encode sentences once into examples for :meth:`collate`.

        Args:
            sentences: Tokenized sentences.
            allowed: Per sentence a bool ``[n, K]`` tensor of the tags each token may take.
            cached: Per input name, each sentence's cached ``[n, F]`` features (:meth:`cache`; a frozen input
                only, and ``extra`` when the model has extra features); the other inputs are encoded live.

        Raises:
            DistantError: allowed sets or features that do not fit the sentences or the model.
        """
        cached = cached or {}
        per_input: dict[str, list[Any]] = {}
        for name, module in self.inputs.items():
            if name in cached:
                if not module.frozen:
                    raise DistantError(f"cached {name} features need a frozen {name} (model.freeze_charlm, "
                                       "model.fine_tune = false)")
                per_input[name] = [module.check(f, len(s), i) for i, (f, s) in enumerate(zip(cached[name], sentences))]
            else:
                per_input[name] = module.examples(sentences)
        k = len(self.tags)
        examples = []
        for i, sent in enumerate(sentences):
            mask = None
            if allowed is not None:
                mask = torch.as_tensor(allowed[i], dtype=torch.bool)
                if tuple(mask.shape) != (len(sent), k):
                    raise DistantError(f"sentence {i}: allowed tags of shape {tuple(mask.shape)}, expected "
                                       f"{(len(sent), k)}")
            examples.append(TaggerExample(len(sent), {name: items[i] for name, items in per_input.items()}, mask))
        return examples

    def collate(self, examples: Sequence[TaggerExample]) -> TaggerBatch:
        """Pad encoded sentences into a :class:`TaggerBatch` (tensor copies only, no Python loop over words)."""
        lengths = torch.tensor([e.length for e in examples], dtype=torch.long)  # [B]
        steps = int(lengths.max()) if len(examples) else 0
        mask = torch.arange(steps).unsqueeze(0) < lengths.unsqueeze(1)  # [B, T]
        inputs = {name: module.collate([e.inputs[name] for e in examples], steps)
                  for name, module in self.inputs.items()}
        allowed = None
        if examples and examples[0].allowed is not None:
            allowed = torch.nn.utils.rnn.pad_sequence([e.allowed for e in examples], batch_first=True,
                                                      padding_value=True)  # [B, T, K]
        return TaggerBatch(mask, lengths, inputs, allowed)

    # -- model -------------------------------------------------------------------------------------------------

    def _forward(self, batch: TaggerBatch) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return the emissions ``[B, T, K]`` and the inputs' auxiliary loss (or None)."""
        parts = [module(batch.inputs[name]) for name, module in self.inputs.items()]
        aux = [p.aux_loss for p in parts if p.aux_loss is not None]
        features = torch.cat([p.values for p in parts], dim=-1)  # [B, T, D]
        hidden = self.encoder(features, batch.lengths)  # [B, T, 2H]
        return self.out(hidden), (sum(aux) if aux else None)  # [B, T, K]

    def emissions(self, batch: TaggerBatch) -> torch.Tensor:
        """Return emission scores ``[B, T, K]``."""
        return self._forward(batch)[0]

    def loss(self, batch: TaggerBatch, tag_bias: torch.Tensor | None = None) -> LossTerms:
        """Return the parts of the training loss (:meth:`LossTerms.total` adds them up).

        Args:
            batch: A batch with ``allowed`` sets.
            tag_bias: Optional ``[K]`` emission bias during training (BA-Fix; ``self.tag_bias`` is for decoding).
        """
        if batch.allowed is None:
            raise DistantError("the batch has no allowed tag sets to learn from")
        emissions, aux = self._forward(batch)  # [B, T, K]
        crf = self.crf.partial_nll(emissions.float(), batch.allowed, batch.mask, tag_bias)  # [B]
        return LossTerms(crf, aux, emissions)

    @torch.no_grad()
    def posteriors(self, batch: TaggerBatch, tag_bias: torch.Tensor | None = None) -> torch.Tensor:
        """Return per-token tag posteriors ``[B, T, K]`` (zero on padding), decoding with ``tag_bias``."""
        return self.crf.marginals(self.emissions(batch).float(), batch.mask, tag_bias)

    @torch.no_grad()
    def decode(self, batch: TaggerBatch, tag_bias: torch.Tensor | None = None
               ) -> tuple[list[list[str]], list[list[float]]]:
        """Return the Viterbi tags and each chosen tag's marginal probability, per sentence.

        Runs in eval mode (restored afterwards).

        Args:
            batch: The batch to tag.
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
        tags, confidences = [], []
        for b, path in enumerate(paths):
            idx = torch.tensor(path, dtype=torch.long)
            confidences.append(post[b, torch.arange(len(path)), idx].tolist())
            tags.append([self.tags[i] for i in path])
        return tags, confidences

    # -- checkpoints -------------------------------------------------------------------------------------------

    def to_checkpoint(self) -> dict[str, Any]:
        """Return ``{format_version, config, tags, inputs, predict, state_dict}``: tensors and plain types only."""
        return {"format_version": FORMAT_VERSION, "config": self.config.to_dict(), "tags": list(self.tags),
                "inputs": {name: module.to_state() for name, module in self.inputs.items()},
                "predict": dataclasses.asdict(self.rules), "state_dict": self.state_dict()}

    @classmethod
    def from_checkpoint(cls, checkpoint: Any, where: str = "model checkpoint") -> Tagger:
        """Rebuild a tagger from :meth:`to_checkpoint`'s output (as loaded with ``weights_only=True``).

        Checkpoints of format version 1 (before the inputs were modules of their own) are read too.

        Raises:
            DistantError: a checkpoint of another version, or one that is damaged (naming ``where``).
        """
        if isinstance(checkpoint, dict) and checkpoint.get("format_version") == 1:
            with checkpoint_errors(where, "a tagger checkpoint written by distant"):
                checkpoint = upgrade_v1(checkpoint)
        require_keys(checkpoint, ("format_version", "config", "tags", "inputs", "predict", "state_dict"), where)
        version = checkpoint.get("format_version")
        if version != FORMAT_VERSION:
            raise DistantError(f"{where}: format version {version!r}, expected {FORMAT_VERSION}")
        with checkpoint_errors(where, "a tagger checkpoint written by distant"):
            config = TaggerConfig.from_dict(checkpoint["config"])
            tags = checkpoint["tags"]
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                raise TypeError("tags: expected a list of strings")
            rules = PredictConfig.from_dict(checkpoint["predict"])
            model = cls(config, tags, inputs_from_state(config, checkpoint["inputs"], where), rules)
            model.load_state_dict(checkpoint["state_dict"])
        return model


def upgrade_v1(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """Return a format-1 checkpoint (fixed input fields, document rules in the model config) as format 2."""
    config = dict(checkpoint["config"])
    rules = {key: config.pop(key) for key in ("propagate_abbreviations", "consistency_min_score") if key in config}
    charlm = {k: v for k, v in config.get("charlm", {}).items() if k not in ("lr", "batch_size", "clip")}
    config["charlm"] = charlm
    vocabs = checkpoint["vocabs"]
    inputs: dict[str, Any] = {}
    if config.get("word_dim", 100) > 0:
        inputs["words"] = {"words": vocabs["words"]}
    if "chars" in vocabs:
        inputs["charlm"] = {"chars": vocabs["chars"], "lm_words": vocabs["lm_words"], "charlm": charlm}
    if "transformer" in vocabs:
        inputs["transformer"] = {"files": vocabs["transformer"]}
    renames = (("words.embedding.", "inputs.words.embedding.embedding."), ("charlm.", "inputs.charlm.lm."),
               ("char_highway.", "inputs.charlm.highway."), ("transformer.", "inputs.transformer.encoder."))
    state = {}
    for key, value in checkpoint["state_dict"].items():
        for old, new in renames:
            if key.startswith(old):
                key = new + key[len(old):]
                break
        state[key] = value
    return {"format_version": FORMAT_VERSION, "config": config, "tags": list(vocabs["tags"]), "inputs": inputs,
            "predict": rules, "state_dict": state}


def build_tagger(sentences: Sequence[Sequence[str]], tag_names: Sequence[str], config: TaggerConfig, *,
                 charlm: Any = None, word_vectors: str | None = None, seed: int = 0,
                 rules: PredictConfig | None = None) -> Tagger:
    """Build an untrained tagger whose vocabularies come from the training ``sentences``.

    Args:
        sentences: The training sentences (the word vocabulary is built from them).
        tag_names: Tags in index order, ``"O"`` first by convention.
        config: The model config; when ``use_charlm`` and ``charlm`` is None, a fresh char LM is built; when
            ``encoder == "transformer"``, the transformer is loaded from ``config.transformer`` (offline).
        charlm: A (pre-trained) char LM to use; its config replaces ``config.charlm``.
        word_vectors: Optional word2vec / GloVe text file to initialise the word embeddings.
        seed: Seeds the parameter initialisation.
        rules: The document rules prediction applies.
    """
    torch.manual_seed(seed)
    if config.use_charlm:
        if charlm is None:  # built before the other inputs: the seeded initialisation draws it first
            charlm = build_charlm(sentences, config.charlm)
        config = dataclasses.replace(config, charlm=charlm.config)
    inputs = build_inputs(config, sentences, charlm=charlm, word_vectors=word_vectors, seed=seed)
    return Tagger(config, tag_names, inputs, rules)


__all__ = ["FORMAT_VERSION", "CharLMInput", "LossTerms", "Tagger", "TaggerBatch", "TaggerExample",
           "TransformerInput", "build_tagger", "upgrade_v1"]
