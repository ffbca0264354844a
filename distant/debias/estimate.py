"""Tag distributions: of the pseudo-labels, and estimates of the target (real-text) distribution.

Dictionary pseudo-labels find only part of the mentions, so entity tags are rarer in them than in real text
(in BC5CDR the dictionary finds ~60% of mentions). A tagger trained on them inherits that shifted prior and
under-predicts entities (Ye, Liu et al., EMNLP 2019). This module measures the shift; ``corrections`` undoes it.

The target distribution comes from one of three sources:

* :func:`gold_distribution`: tags of a few gold-annotated documents (the development set, or its budget);
* :func:`prior_distribution`: a prior the user writes in the config, per entity type or per tag;
* :func:`em_prior`: no labels at all, re-estimated from a trained model's posteriors on unlabeled text
  (Saerens, Latinne & Decaestecker, 2002).

Every distribution is over the CRF's tags in index order, such as ``["O", "B-Chemical", "I-Chemical"]``.
"""

from __future__ import annotations

import difflib
import logging
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from distant.docs import GOLD, O, Document
from distant.errors import DistantError
from distant.tags import spans_to_tags, split_tag

log = logging.getLogger(__name__)

EPS = 1e-6  # smoothing of log-probabilities: a tag never seen must not get log 0 = -inf
DEFAULT_B_SHARE = 0.5  # share of a type's mass on B- when a prior is given per type and nothing better is known
PRIOR_SUM_TOLERANCE = 0.02  # a prior summing to 0.98-1.02 is rounding and gets normalised; anything else is a typo
MAX_EXAMPLES = 5  # unaligned spans listed by id in the counts (the total is always there)


@dataclass(frozen=True)
class TagDistribution:
    """A probability distribution over tags, in the CRF's tag order.

    Attributes:
        tags: Tag names in index order.
        probs: One probability per tag; non-negative, summing to 1.
    """

    tags: tuple[str, ...]
    probs: tuple[float, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "tags", tuple(self.tags))
        object.__setattr__(self, "probs", tuple(float(p) for p in self.probs))
        if len(self.tags) != len(self.probs):
            raise ValueError(f"{len(self.tags)} tags but {len(self.probs)} probabilities")
        if len(set(self.tags)) != len(self.tags):
            raise ValueError(f"duplicate tag names in {list(self.tags)}")
        if any(not math.isfinite(p) or p < 0 for p in self.probs):
            raise ValueError(f"probabilities must be finite and non-negative, found {list(self.probs)}")
        if abs(sum(self.probs) - 1.0) > 1e-4:
            raise ValueError(f"probabilities must sum to 1, found {sum(self.probs):.6f}")

    @classmethod
    def from_array(cls, tags: Sequence[str], probs: np.ndarray | Sequence[float]) -> TagDistribution:
        """Build from unnormalised non-negative masses (normalised here)."""
        arr = np.asarray(probs, dtype=np.float64)
        total = arr.sum()
        if not total > 0:
            raise ValueError(f"cannot normalise masses {arr.tolist()}: they sum to {total}")
        return cls(tuple(tags), tuple((arr / total).tolist()))

    def array(self) -> np.ndarray:
        """Return the probabilities as a float64 array ``[K]``."""
        return np.asarray(self.probs, dtype=np.float64)

    def log(self, eps: float = EPS) -> np.ndarray:
        """Return smoothed log-probabilities ``log((p + eps) / (1 + K eps))`` as ``[K]``.

        The smoothing keeps a tag that was never seen finite (it would otherwise get ``-inf`` and a bias that
        forbids it) while leaving the distribution normalised.
        """
        p = self.array()
        return np.log((p + eps) / (1.0 + eps * len(p)))

    def __getitem__(self, tag: str) -> float:
        return self.probs[self.tags.index(tag)]

    def entity_mass(self) -> float:
        """Return the probability of any entity tag, ``1 - P(O)``."""
        return 1.0 - (self[O] if O in self.tags else 0.0)

    def to_dict(self) -> dict[str, float]:
        """Return ``{tag: probability}`` in tag order (JSON-able)."""
        return dict(zip(self.tags, self.probs))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], tag_names: Sequence[str] | None = None) -> TagDistribution:
        """Build from ``{tag: probability}``; with ``tag_names``, in that order and with exactly those tags."""
        if not isinstance(data, Mapping):
            raise ValueError(f"expected a table of tag probabilities, found {data!r}")
        if tag_names is not None and set(data) != set(tag_names):
            raise ValueError(f"expected the tags {list(tag_names)}, found {list(data)}")
        tags = list(tag_names) if tag_names is not None else list(data)
        probs = [data[t] for t in tags]
        if any(isinstance(p, bool) or not isinstance(p, (int, float)) for p in probs):
            raise ValueError(f"expected numbers as probabilities, found {probs}")
        return cls(tuple(tags), tuple(probs))

    def same_tags(self, other: TagDistribution) -> None:
        """Raise ``ValueError`` unless ``other`` is over the same tags in the same order."""
        if self.tags != other.tags:
            raise ValueError(f"tag distributions differ in tags: {list(self.tags)} vs {list(other.tags)}")


def _check_tags(tag_names: Sequence[str]) -> list[str]:
    tags = list(tag_names)
    if not tags:
        raise ValueError("no tag names")
    for t in tags:
        split_tag(t, "IOB2")  # raises TagError for a name that is not O, B-X or I-X
    return tags


# -- pseudo-labels ------------------------------------------------------------------------------------------------

def pseudo_distribution(allowed: Iterable[Sequence[Sequence[bool]]], tag_names: Sequence[str]
                        ) -> tuple[TagDistribution, dict[str, Any]]:
    """Measure the tag distribution of pseudo-labels given as per-token allowed sets.

    Each sentence is a ``[T, K]`` table of bools (nested lists, a numpy array or a CPU tensor): the tags
    each token may take. A singleton set is a known tag and counts 1 for it. An *ambiguous* set (more than
    one tag but not all, e.g. "B-Chemical or B-Disease") spreads its one unit of mass uniformly over its
    members. An *unknown* set (all tags: "no label") says nothing about the token, so it is left out of the
    distribution and only counted, with its fraction of all tokens, in the returned counts.

    Args:
        allowed: The allowed sets, one ``[T, K]`` table per sentence (or document).
        tag_names: The CRF's tags in index order (``K`` names).

    Returns:
        ``(distribution, counts)``; counts holds ``tokens``, ``known`` (singleton), ``ambiguous``,
        ``unknown`` and ``unknown_fraction``.

    Raises:
        ValueError: a table is not ``[T, K]`` or a token allows no tag (a bug in whoever built the sets).
        DistantError: no token has a known or ambiguous tag, so there is nothing to measure.
    """
    tags = _check_tags(tag_names)
    k = len(tags)
    mass = np.zeros(k, dtype=np.float64)
    known = ambiguous = unknown = tokens = 0
    for n, sentence in enumerate(allowed):
        arr = np.asarray(sentence, dtype=bool)  # [T, K]
        if arr.size == 0:
            continue
        if arr.ndim != 2 or arr.shape[1] != k:
            raise ValueError(f"allowed sets of sentence {n}: expected shape [T, {k}], found {list(arr.shape)}")
        size = arr.sum(1)  # [T]
        if (size == 0).any():
            raise ValueError(f"sentence {n}, token {int(np.argmin(size))}: the allowed set is empty")
        labeled = size < k  # [T]
        mass += (arr[labeled] / size[labeled, None]).sum(0)  # ambiguous sets spread one unit uniformly
        tokens += len(size)
        known += int((size == 1).sum()) if k > 1 else 0
        ambiguous += int(((size > 1) & labeled).sum())
        unknown += int((~labeled).sum())
    counts = {"tokens": tokens, "known": known, "ambiguous": ambiguous, "unknown": unknown,
              "unknown_fraction": unknown / tokens if tokens else 0.0}
    if not mass.sum() > 0:
        raise DistantError(f"no pseudo-labeled token to measure the tag distribution on ({tokens} tokens, "
                           f"{unknown} of them unknown)")
    return TagDistribution.from_array(tags, mass), counts


# -- gold -------------------------------------------------------------------------------------------------------

def gold_distribution(docs: Iterable[Document], tag_names: Sequence[str], layer: str = GOLD
                      ) -> tuple[TagDistribution, dict[str, Any]]:
    """Measure the tag distribution of gold spans on the documents' own tokens.

    Spans are turned into IOB2 tags through :meth:`Document.align`. A span whose edges do not fall
    on token edges, or that overlaps a span already placed, cannot be tagged: it is counted, the first few
    are listed with their document id, and a warning is logged once. A gold type that is not among
    ``tag_names`` is tagged ``O`` (the tagger should not predict it) and counted per type.

    Args:
        docs: Tokenized documents.
        tag_names: The CRF's tags in index order.
        layer: The span layer holding the gold annotations.

    Returns:
        ``(distribution, counts)``; counts holds ``documents``, ``tokens``, ``spans``, ``aligned``,
        ``unaligned``, ``overlapping``, ``unaligned_examples`` and ``unknown_types`` ({type: spans}).

    Raises:
        DistantError: a document is not tokenized, or there are no tokens at all.
    """
    tags = _check_tags(tag_names)
    index = {t: i for i, t in enumerate(tags)}
    types = {split_tag(t)[1] for t in tags} - {None}
    counts_by_tag = np.zeros(len(tags), dtype=np.float64)
    n_docs = n_tokens = n_spans = n_aligned = n_overlap = 0
    unaligned: list[str] = []
    unknown_types: Counter[str] = Counter()
    for doc in docs:
        if not doc.is_tokenized:
            raise DistantError(f"document {doc.id} is not tokenized; tokenize before estimating from gold")
        n_docs += 1
        n = len(doc.tokens or [])
        n_tokens += n
        placed: list[tuple[int, int, str]] = []
        taken = np.zeros(n, dtype=bool)
        spans = [s for s in doc.spans(layer) if s.label != O]  # an O span's tokens are O already
        aligned, off = doc.align(spans)
        n_spans += len(spans)
        unaligned.extend(f"{doc.id}:{s.start}-{s.end} {doc.span_text(s)!r}" for s in off)
        for i, j, span in aligned:
            if taken[i:j].any():
                n_overlap += 1
                continue
            taken[i:j] = True
            n_aligned += 1
            if span.label not in types:
                unknown_types[span.label] += 1
                continue
            placed.append((i, j, span.label))
        for tag in spans_to_tags(n, placed, "IOB2"):
            counts_by_tag[index[tag]] += 1
    if unaligned or n_overlap or unknown_types:
        log.warning("gold distribution over %d documents: %d of %d gold spans not aligned to tokens "
                    "(first: %s), %d overlapping, types not in the tag set: %s",
                    n_docs, len(unaligned), n_spans, "; ".join(unaligned[:MAX_EXAMPLES]) or "none",
                    n_overlap, dict(unknown_types) or "none")
    counts = {"documents": n_docs, "tokens": n_tokens, "spans": n_spans, "aligned": n_aligned,
              "unaligned": len(unaligned), "overlapping": n_overlap,
              "unaligned_examples": unaligned[:MAX_EXAMPLES], "unknown_types": dict(unknown_types)}
    if n_tokens == 0:
        raise DistantError(f"no gold tokens to estimate the tag distribution from ({n_docs} documents "
                           f"in layer {layer!r})")
    return TagDistribution.from_array(tags, counts_by_tag), counts


# -- prior from the config ----------------------------------------------------------------------------------------

def b_shares(dist: TagDistribution) -> dict[str, float]:
    """Return, per entity type, the share of its mass on ``B-``: ``P(B-X) / (P(B-X) + P(I-X))``.

    It is one over the mean mention length in tokens; the pseudo-labels' value is a good default for
    splitting a per-type prior (mention length shifts far less than mention frequency).
    """
    out: dict[str, float] = {}
    for label in dict.fromkeys(lab for lab in (split_tag(t)[1] for t in dist.tags) if lab):
        b = dist[f"B-{label}"] if f"B-{label}" in dist.tags else 0.0
        i = dist[f"I-{label}"] if f"I-{label}" in dist.tags else 0.0
        out[label] = b / (b + i) if b + i > 0 else DEFAULT_B_SHARE
    return out


def prior_distribution(prior: Mapping[str, float], tag_names: Sequence[str],
                       b_share: float | Mapping[str, float] | None = None) -> TagDistribution:
    """Turn a prior written in the config into a tag distribution.

    Keys are ``O``, entity types (``Chemical``) or tags (``B-Chemical``); types and tags may be mixed, but a
    type and one of its own tags may not both be given. A type's mass is split between ``B-`` and ``I-``
    by ``b_share`` (the share on ``B-``; per type or one for all; default :data:`DEFAULT_B_SHARE`; pass
    :func:`b_shares` of the pseudo-labels to split as their mentions do). Every tag must get mass from
    some key. Values must be non-negative and sum to 1 up to rounding (within 0.02); they are normalised.

    Example: ``{"O": 0.85, "Chemical": 0.08, "Disease": 0.07}``.

    Raises:
        DistantError: an unknown name (the message lists the valid ones), a negative or non-numeric value, a
            sum far from 1, a tag given twice, or a tag left without mass.
    """
    tags = _check_tags(tag_names)
    types = list(dict.fromkeys(lab for lab in (split_tag(t)[1] for t in tags) if lab))
    valid = tags + types
    mass = dict.fromkeys(tags, 0.0)
    covered: dict[str, str] = {}  # tag -> the key that gave it mass
    for key, value in prior.items():
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise DistantError(f"debias.prior: unknown tag or type {key!r}{hint} (valid: {', '.join(valid)})")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise DistantError(f"debias.prior.{key}: expected a non-negative number, found {value!r}")
        if key in types:
            share = b_share.get(key, DEFAULT_B_SHARE) if isinstance(b_share, Mapping) else (
                DEFAULT_B_SHARE if b_share is None else b_share)
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"B- share of {key} must be in [0, 1], found {share}")
            parts = {f"B-{key}": share, f"I-{key}": 1.0 - share}
            parts = {t: s for t, s in parts.items() if t in mass}
            if len(parts) == 1:  # a type with only one tag takes all its mass
                parts = {t: 1.0 for t in parts}
        else:
            parts = {key: 1.0}
        for tag, share in parts.items():
            if tag in covered:
                raise DistantError(f"debias.prior: {tag} gets mass from both {covered[tag]!r} and {key!r}")
            covered[tag] = key
            mass[tag] = float(value) * share
    missing = [t for t in tags if t not in covered]
    if missing:
        raise DistantError(f"debias.prior: no mass given for {', '.join(missing)} (give every tag or its type)")
    total = sum(mass.values())
    if abs(total - 1.0) > PRIOR_SUM_TOLERANCE:
        raise DistantError(f"debias.prior: the probabilities sum to {total:.4g}; expected 1")
    return TagDistribution.from_array(tags, list(mass.values()))


# -- EM without labels --------------------------------------------------------------------------------------------

def mean_posterior(marginals: Iterable[np.ndarray], tag_names: Sequence[str]) -> TagDistribution:
    """Return the average of per-token posteriors ``[T, K]`` over all tokens.

    On a model's own training text this is the prior the model has learned (what :func:`em_prior` needs as
    ``train_prior``); with a calibrated model it is close to the training labels' distribution.
    """
    total = np.zeros(len(tag_names), dtype=np.float64)
    n = 0
    for m in marginals:
        arr = np.asarray(m, dtype=np.float64).reshape(-1, len(tag_names))
        total += arr.sum(0)
        n += len(arr)
    if n == 0:
        raise ValueError("no tokens to average posteriors over")
    return TagDistribution.from_array(tag_names, total)


def em_prior(marginals: Sequence[np.ndarray], train_prior: TagDistribution, *, max_iter: int = 100,
             tol: float = 1e-6) -> tuple[TagDistribution, int]:
    """Re-estimate the target tag prior from a model's posteriors on unlabeled text (Saerens et al., 2002).

    The model's posteriors ``p(y|x)`` were learned under the training prior ``pi(y)``. If only the prior
    changes on the new text (``p(x|y)`` stays), its posteriors are ``p'(y|x) ∝ p(y|x) pi'(y) / pi(y)`` and the
    new prior is their average. EM alternates the two: start from ``pi' = pi``, adjust every token's posterior
    by ``pi'/pi`` and renormalise, set ``pi'`` to the mean adjusted posterior, until ``pi'`` moves by less
    than ``tol`` (max absolute change) or ``max_iter`` rounds.

    Each token is treated as an independent instance, which a CRF's token marginals are not; the estimate
    is still a valid tag distribution and the correction it implies is a per-tag emission bias.

    Args:
        marginals: Per-sentence posteriors ``[T, K]`` (numpy arrays or CPU tensors); all-zero rows (padding)
            are ignored.
        train_prior: The prior the model was trained under, over the same tags; the model's mean posterior on
            its training text (:func:`mean_posterior`) is the consistent choice.
        max_iter: Maximum EM rounds.
        tol: Convergence threshold on the prior.

    Returns:
        ``(estimated prior, rounds run)``; rounds equal ``max_iter`` when EM did not converge (logged).
    """
    k = len(train_prior.tags)
    post = np.concatenate([np.asarray(m, dtype=np.float64).reshape(-1, k) for m in marginals], axis=0)  # [N, K]
    total = post.sum(1, keepdims=True)  # [N, 1]
    post = post[total[:, 0] > 0] / total[total[:, 0] > 0]  # all-zero rows are padding (crf.marginals zeroes it)
    if len(post) == 0:
        raise ValueError("no tokens to estimate the prior from")
    base = train_prior.array().clip(min=EPS)  # [K]; a tag the model never saw would divide by zero
    if max_iter < 1:
        raise ValueError(f"max_iter must be at least 1, found {max_iter}")
    prior = train_prior.array()  # [K]; EM starts from the training prior
    change = math.inf
    rounds = 0
    for rounds in range(1, max_iter + 1):
        adjusted = post * (prior / base)  # [N, K]
        adjusted /= adjusted.sum(1, keepdims=True).clip(min=1e-300)
        new = adjusted.mean(0)  # [K]
        change = float(np.abs(new - prior).max())
        prior = new
        if change < tol:
            break
    else:
        log.warning("EM prior estimation did not converge in %d rounds (last change %.2g)", max_iter, change)
    return TagDistribution.from_array(train_prior.tags, prior), rounds
