"""A label model: learn how reliable each labeler is, without gold, and aggregate their layers by it.

The hidden states are the BIO tags of the run's types (``O``, ``B-X``, ``I-X``). Every labeler (a *source*: a
layer) emits, at each token, one symbol of its own output: abstain (it did not fire, or wrote ``-``), ``O`` (an
explicit exclusion), or ``B-l`` / ``I-l`` for each label ``l`` it writes (a type or ``A|B``). Abstaining is a
symbol of its own, distinct from ``O``, so that a labeler's silence is evidence learned like anything else.

* ``hmm``: a hidden Markov model over the tags (skweak's HMM, CHMM without the neural part): start and
  transition probabilities (only BIO-valid transitions) and, per source, an emission (confusion) matrix
  ``P(symbol | tag)``.
* ``dawid-skene``: the same without transitions (every token on its own; Dawid and Skene, 1979).

Both are fitted by EM on the unlabeled text, initialised from a token-level majority vote, with Dirichlet
priors that say "a labeler is usually right when it fires": each time a source emits an entity symbol (or
``O``), ``prior_weight`` pseudo-counts go to the tag it claims. As in skweak, a token may take an entity tag of
type ``X`` only when some source says ``X`` there (``restrict``), so the model weighs the sources' claims and
never invents a mention no one saw. The forward-backward pass runs in log space over batches of sentences of
similar length (numpy); tokens with the same observations share one emission row, computed once per step.

:class:`LabelModelAggregator` is the ``[aggregate]`` method: :meth:`~LabelModelAggregator.fit` on all the
documents, then the ``pseudo`` layer from the decoding (Viterbi or max-marginal), each span scored by its
least confident token. With ``posterior_threshold`` a token whose tags above that posterior are more than
one is written as ``-`` (with the entity it belongs to), so the tagger trains on it as a partial label.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from distant.docs import PSEUDO, UNKNOWN, Document, O, Span, label_types
from distant.errors import DistantError
from distant.labelers.aggregate import Aggregator, _token_ranges
from distant.tags import tags_to_spans
from distant.tokenize import default_tokenizer

log = logging.getLogger(__name__)

ABSTAIN = 0  # symbol 0: the source did not fire; 1: O; then B-l, I-l for each label l
EPS = 1e-2  # pseudo-count in every emission cell: no probability is exactly zero
TOKENS_PER_BATCH = 1 << 16
PARAMETERS = ("start", "trans", "emissions", "counts")  # what EM sets on a LabelModel


@dataclass
class Observations:
    """What the sources say about a corpus: one symbol per token and source, and the sentences.

    Attributes:
        symbols: ``[N, J]`` symbol of each token for each source (``N`` tokens of all sentences, in order).
        lengths: ``[S]`` sentence lengths (``sum == N``).
    """

    symbols: np.ndarray
    lengths: np.ndarray

    @property
    def offsets(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.lengths)]).astype(np.int64)


@dataclass
class Fit:
    """What fitting did: iterations, log-likelihood per token after each, seconds, documents and tokens."""

    iterations: int = 0
    log_likelihood: list[float] = field(default_factory=list)
    seconds: float = 0.0
    documents: int = 0
    tokens: int = 0

    @property
    def documents_per_second(self) -> float:
        return self.documents / self.seconds if self.seconds > 0 else 0.0


def _logsumexp_matmul(log_x: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Return ``log(exp(log_x) @ matrix)`` for ``log_x`` ``[B, K]`` (shifted by its row maxima first)."""
    m = log_x.max(axis=1, keepdims=True)  # [B, 1]
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        return np.log(np.exp(log_x - m) @ matrix) + m


class LabelModel:
    """An HMM (or, without transitions, a Dawid-Skene model) over BIO tags with one confusion matrix per source.

    Args:
        types: The entity types (states ``O``, ``B-X``, ``I-X`` for each).
        labels: The labels the sources write (symbols ``B-l``, ``I-l`` for each).
        sources: The sources' names (one emission matrix each).
        transitions: Model tag transitions (``hmm``) or not (``dawid-skene``).
        prior_weight: Pseudo-counts per firing for the tag a source claims ("usually right when it fires").
        restrict: An entity tag of type ``X`` only where some source says ``X``.
        iterations: Most EM iterations.
        tolerance: Stop when the log-likelihood per token improves by less than this.
    """

    def __init__(self, types: Sequence[str], labels: Sequence[str], sources: Sequence[str], *,
                 transitions: bool = True, prior_weight: float = 0.5, restrict: bool = True,
                 iterations: int = 50, tolerance: float = 1e-4) -> None:
        self.types, self.labels, self.sources = list(types), list(labels), list(sources)
        self.transitions, self.prior_weight, self.restrict = transitions, prior_weight, restrict
        self.iterations, self.tolerance = iterations, tolerance
        self.states = [O] + [f"{p}-{t}" for t in self.types for p in "BI"]
        self.symbols = ["(abstain)", O] + [f"{p}-{lab}" for lab in self.labels for p in "BI"]
        K, V = len(self.states), len(self.symbols)
        index = {s: k for k, s in enumerate(self.states)}
        self.says = np.zeros((V, K))  # [V, K]: the tags a symbol claims, a distribution (abstain: none)
        self.types_of = np.zeros((V, K), dtype=bool)  # [V, K]: the entity tags a symbol allows under restrict
        self.says[1, 0] = 1.0
        for i, lab in enumerate(self.labels):
            known = [t for t in label_types(lab) if f"B-{t}" in index]
            for p, v in (("B", 2 + 2 * i), ("I", 3 + 2 * i)):
                for t in known:
                    self.says[v, index[f"{p}-{t}"]] = 1.0 / len(known)
                    self.types_of[v, [index[f"B-{t}"], index[f"I-{t}"]]] = True
        # BIO-valid starts and transitions: I-X only at the start of nothing, and only after B-X or I-X.
        self.start_ok = np.array([not s.startswith("I-") for s in self.states])  # [K]
        self.trans_ok = np.ones((K, K), dtype=bool)  # [K, K] from -> to
        for k, s in enumerate(self.states):
            if s.startswith("I-"):
                self.trans_ok[:, k] = [a[2:] == s[2:] and a != O for a in self.states]
        self.start = np.where(self.start_ok, 1.0, 0.0) / self.start_ok.sum()  # [K]
        self.trans = self.trans_ok / self.trans_ok.sum(axis=1, keepdims=True)  # [K, K]
        self.emissions = np.full((len(self.sources), K, V), 1.0 / V)  # [J, K, V]
        self.counts = np.zeros_like(self.emissions)  # expected (tag, symbol) counts of the last E-step
        self.fitted = False

    # -- the pieces of EM -----------------------------------------------------------------------------------
    def _rows(self, symbols: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return the distinct observation rows ``[U, J]``, each token's row ``[N]`` and row counts ``[U]``."""
        if len(symbols) == 0:
            return symbols.reshape(0, len(self.sources)), np.zeros(0, dtype=np.int64), np.zeros(0)
        # One 64-bit key per row (a random linear hash), sorted in 1-D: far faster than np.unique(axis=0)'s
        # row sort; checked exactly afterwards, with the row sort as the fallback on a collision.
        weights = np.random.default_rng(0).integers(1, 2**62, size=symbols.shape[1], dtype=np.int64)
        with np.errstate(over="ignore"):
            keys = symbols.astype(np.int64) @ weights  # [N]
        _, first, inverse, counts = np.unique(keys, return_index=True, return_inverse=True, return_counts=True)
        rows = symbols[first]
        if not np.array_equal(rows[inverse], symbols):
            rows, inverse, counts = np.unique(symbols, axis=0, return_inverse=True, return_counts=True)
        return rows, inverse.reshape(-1), counts.astype(float)

    def _allowed(self, rows: np.ndarray) -> np.ndarray:
        """Return which tags each distinct observation row allows: ``[U, K]`` (O always)."""
        allowed = np.ones((len(rows), len(self.states)), dtype=bool)
        if self.restrict:
            some = np.zeros_like(allowed)
            for j in range(len(self.sources)):  # one source at a time: no [U, J, K] array
                some |= self.types_of[rows[:, j]]  # [U, K]
            allowed[:, 1:] = some[:, 1:]
        return allowed

    def _log_emissions(self, rows: np.ndarray, allowed: np.ndarray) -> np.ndarray:
        """Return ``log P(row | tag)`` for each distinct row: ``[U, K]`` (``-inf`` where not allowed)."""
        log_e = np.log(self.emissions)  # [J, K, V]
        out = np.zeros((len(rows), len(self.states)))
        for j in range(len(self.sources)):
            out += log_e[j][:, rows[:, j]].T  # [U, K]
        return np.where(allowed, out, -np.inf)

    def _prior(self, rows: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """Return the Dirichlet pseudo-counts ``[J, K, V]``: ``prior_weight`` per firing on the claimed tag."""
        prior = np.full_like(self.emissions, EPS)
        for j in range(len(self.sources)):
            fired = np.bincount(rows[:, j], weights=counts, minlength=len(self.symbols))  # [V]
            fired[ABSTAIN] = 0.0
            prior[j] += self.prior_weight * (self.says * fired[:, None]).T  # [K, V]
        return prior

    def _m_step(self, stats: tuple[np.ndarray, np.ndarray, np.ndarray], rows: np.ndarray,
                prior: np.ndarray) -> None:
        row_post, start, trans = stats  # [U, K] posterior mass per distinct row, [K], [K, K]
        counts = np.zeros_like(self.emissions)
        for j in range(len(self.sources)):
            for k in range(len(self.states)):
                counts[j, k] = np.bincount(rows[:, j], weights=row_post[:, k], minlength=len(self.symbols))
        self.counts = counts
        e = counts + prior
        self.emissions = e / e.sum(axis=2, keepdims=True)
        start = np.where(self.start_ok, start + 1.0, 0.0)
        self.start = start / start.sum()
        if self.transitions:
            trans = np.where(self.trans_ok, trans + 1.0, 0.0)
            self.trans = trans / trans.sum(axis=1, keepdims=True)
        else:  # every token on its own: the class prior is the share of each tag
            share = row_post.sum(axis=0) + 1.0
            self.start = share / share.sum()

    def _vote(self, rows: np.ndarray, allowed: np.ndarray) -> np.ndarray:
        """Return each distinct row's majority-vote tag distribution ``[U, K]`` (no vote: O)."""
        votes = np.zeros(allowed.shape)
        for j in range(len(self.sources)):  # one source at a time: no [U, J, K] array
            votes += self.says[rows[:, j]]  # [U, K]
        votes = np.where(allowed, votes, 0.0)
        none = votes.sum(axis=1) == 0
        votes[none, 0] = 1.0
        best = votes == votes.max(axis=1, keepdims=True)
        return best / best.sum(axis=1, keepdims=True)

    def _batches(self, lengths: np.ndarray) -> Iterable[np.ndarray]:
        """Yield arrays of sentence indices of similar length, about ``TOKENS_PER_BATCH`` tokens each."""
        order = np.argsort(lengths, kind="stable")
        start = 0
        while start < len(order):
            longest = max(int(lengths[order[min(start + 1, len(order)) - 1]]), 1)
            size = max(1, TOKENS_PER_BATCH // longest)
            end = start + size
            # the batch's longest sentence is its last; shrink until it fits
            while end - start > 1 and int(lengths[order[min(end, len(order)) - 1]]) * (end - start) > TOKENS_PER_BATCH:
                end = start + max(1, (end - start) // 2)
            yield order[start:end]
            start = end

    def _forward_backward(self, log_b: np.ndarray, mask: np.ndarray, want_xi: bool
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return posteriors ``[B, L, K]``, log-likelihoods ``[B]`` and summed transition posteriors ``[K, K]``."""
        B, L, K = log_b.shape
        with np.errstate(divide="ignore"):
            log_start, log_trans = np.log(self.start), np.log(self.trans)
        alpha = np.empty((B, L, K))
        alpha[:, 0] = log_start + log_b[:, 0]
        for t in range(1, L):
            step = _logsumexp_matmul(alpha[:, t - 1], self.trans) + log_b[:, t]  # [B, K]
            alpha[:, t] = np.where(mask[:, t, None], step, alpha[:, t - 1])  # past the end: carried
        last = alpha[:, L - 1]
        m = last.max(axis=1)
        log_z = np.log(np.exp(last - m[:, None]).sum(axis=1)) + m  # [B]
        beta = np.zeros((B, L, K))
        for t in range(L - 2, -1, -1):
            nxt = log_b[:, t + 1] + beta[:, t + 1]  # [B, K]
            step = _logsumexp_matmul(nxt, self.trans.T)
            beta[:, t] = np.where(mask[:, t + 1, None], step, 0.0)
        post = np.exp(alpha + beta - log_z[:, None, None]) * mask[:, :, None]  # [B, L, K]
        xi = np.zeros((K, K))
        if want_xi and self.transitions:
            for t in range(1, L):
                live = mask[:, t]
                if not live.any():
                    break
                a = alpha[live, t - 1][:, :, None]  # [b, K, 1]
                nb = (log_b[live, t] + beta[live, t])[:, None, :]  # [b, 1, K]
                xi += np.exp(a + log_trans[None] + nb - log_z[live, None, None]).sum(axis=0)
        return post, log_z, xi

    def _viterbi(self, log_b: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Return the best tag sequence of each sentence of a batch: ``[B, L]`` state indices."""
        B, L, K = log_b.shape
        with np.errstate(divide="ignore"):
            log_start, log_trans = np.log(self.start), np.log(self.trans)
        delta = log_start + log_b[:, 0]
        back = np.zeros((B, L, K), dtype=np.int16)
        for t in range(1, L):
            scores = delta[:, :, None] + log_trans[None]  # [B, K, K]
            back[:, t] = scores.argmax(axis=1)
            step = scores.max(axis=1) + log_b[:, t]
            live = (t < lengths)[:, None]
            delta = np.where(live, step, delta)
            back[:, t] = np.where(live, back[:, t], np.arange(K)[None])
        path = np.zeros((B, L), dtype=np.int64)
        path[:, L - 1] = delta.argmax(axis=1)
        for t in range(L - 1, 0, -1):
            path[:, t - 1] = back[np.arange(B), t, path[:, t]]
        return path

    def _padded(self, obs: Observations, batch: np.ndarray, per_row: np.ndarray, inverse: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``[B, L, K]`` rows of ``per_row`` for the batch's tokens, the mask ``[B, L]`` and token index."""
        offsets = obs.offsets
        lengths = obs.lengths[batch]
        L = max(int(lengths.max()), 1)
        pos = np.arange(L)[None]
        mask = pos < lengths[:, None]  # [B, L]
        tok = np.where(mask, offsets[batch][:, None] + pos, 0)  # [B, L] flat token index
        values = per_row[inverse[tok]] if len(inverse) else np.zeros((*tok.shape, per_row.shape[1]))
        return np.where(mask[:, :, None], values, 0.0), mask, tok

    def _e_step(self, obs: Observations, rows: np.ndarray, inverse: np.ndarray, log_rows: np.ndarray
                ) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], float]:
        K = len(self.states)
        row_post = np.zeros((len(rows), K))
        start = np.zeros(K)
        trans = np.zeros((K, K))
        total = 0.0
        if not self.transitions:
            m = (log_rows + np.log(self.start)).max(axis=1, keepdims=True)
            joint = np.exp(log_rows + np.log(self.start) - m)  # [U, K]
            z = joint.sum(axis=1, keepdims=True)
            counts = np.bincount(inverse, minlength=len(rows)).astype(float)
            row_post = joint / z * counts[:, None]
            total = float((np.log(z[:, 0]) + m[:, 0]) @ counts)
            return (row_post, start, trans), total
        for batch in self._batches(obs.lengths):
            log_b, mask, tok = self._padded(obs, batch, log_rows, inverse)
            post, log_z, xi = self._forward_backward(log_b, mask, want_xi=True)
            total += float(log_z.sum())
            start += post[:, 0].sum(axis=0)
            trans += xi
            flat = inverse[tok[mask]]  # [n] distinct row of each real token
            weights = post[mask]  # [n, K]
            for k in range(K):
                row_post[:, k] += np.bincount(flat, weights=weights[:, k], minlength=len(rows))
        return (row_post, start, trans), total

    # -- the public face ------------------------------------------------------------------------------------
    def fit(self, obs: Observations, on_iteration: Callable[[int], None] | None = None) -> Fit:
        """Fit by EM, starting from majority vote; return what was done.

        ``on_iteration(k)`` is called after the ``k``-th EM step, with the model's parameters those of that step.
        """
        t0 = time.perf_counter()
        report = Fit(tokens=int(obs.lengths.sum()))
        rows, inverse, counts = self._rows(obs.symbols)
        allowed = self._allowed(rows)
        prior = self._prior(rows, counts)
        voted = self._vote(rows, allowed)  # [U, K]
        # majority-vote start and transition counts, from each sentence's voted tags (in slices of tokens: a
        # [N, K] array of every token's vote would take gigabytes on a large corpus)
        offsets = obs.offsets
        first = offsets[:-1][obs.lengths > 0]
        start = voted[inverse[first]].sum(axis=0)  # [K]
        follows = np.ones(len(inverse), dtype=bool)
        follows[offsets[:-1][offsets[:-1] < len(inverse)]] = False
        idx = np.nonzero(follows)[0]
        trans = np.zeros((len(self.states),) * 2)  # [K, K]
        for at in range(0, len(idx), TOKENS_PER_BATCH):
            part = idx[at:at + TOKENS_PER_BATCH]
            trans += voted[inverse[part - 1]].T @ voted[inverse[part]]
        self._m_step((voted * counts[:, None], start, trans), rows, prior)
        previous = -np.inf
        n = max(report.tokens, 1)
        for _ in range(self.iterations):
            stats, total = self._e_step(obs, rows, inverse, self._log_emissions(rows, allowed))
            self._m_step(stats, rows, prior)
            report.iterations += 1
            report.log_likelihood.append(total / n)
            if on_iteration is not None:
                on_iteration(report.iterations)
            if total / n - previous < self.tolerance:
                break
            previous = total / n
        self.fitted = True
        report.seconds = time.perf_counter() - t0
        return report

    def parameters(self) -> dict[str, np.ndarray]:
        """Return a copy of what EM learned (and the expected counts :meth:`accuracies` reads)."""
        return {name: getattr(self, name).copy() for name in PARAMETERS}

    def set_parameters(self, parameters: dict[str, np.ndarray]) -> None:
        """Take the parameters that :meth:`parameters` returned."""
        for name in PARAMETERS:
            setattr(self, name, parameters[name].copy())

    def predict(self, obs: Observations, decode: str = "viterbi") -> tuple[np.ndarray, np.ndarray]:
        """Return per-token posteriors ``[N, K]`` and decoded tags ``[N]`` (state indices)."""
        rows, inverse, _ = self._rows(obs.symbols)
        allowed = self._allowed(rows)
        log_rows = self._log_emissions(rows, allowed)
        N, K = len(inverse), len(self.states)
        if not self.transitions:
            joint = log_rows + np.log(self.start)
            post_rows = np.exp(joint - joint.max(axis=1, keepdims=True))
            post_rows /= post_rows.sum(axis=1, keepdims=True)
            post = post_rows[inverse]
            return post, _repair(post.argmax(axis=1), self.states, obs.offsets)
        post = np.zeros((N, K))
        tags = np.zeros(N, dtype=np.int64)
        for batch in self._batches(obs.lengths):
            log_b, mask, tok = self._padded(obs, batch, log_rows, inverse)
            p, _, _ = self._forward_backward(log_b, mask, want_xi=False)
            post[tok[mask]] = p[mask]
            if decode == "viterbi":
                tags[tok[mask]] = self._viterbi(log_b, obs.lengths[batch])[mask]
        if decode != "viterbi":
            tags = _repair(post.argmax(axis=1), self.states, obs.offsets)
        return post, tags

    def accuracies(self) -> dict[str, dict[str, float]]:
        """Return what the model learned of each source, token by token, from the last E-step's expected counts.

        ``precision``: of the tokens where the source emits an entity tag, the share whose tag it claims is
        the true one; ``recall``: of the entity tokens, the share where the source emits their true tag;
        ``fires``: tokens where it emits an entity tag.
        """
        out = {}
        entity = np.zeros(len(self.symbols), dtype=bool)
        entity[2:] = True
        for j, name in enumerate(self.sources):
            c = self.counts[j]  # [K, V]
            agree = (c * self.says.T)[:, entity].sum()
            fired = c[:, entity].sum()
            truth = c[1:].sum()
            out[name] = {"precision": float(agree / fired) if fired else 0.0,
                         "recall": float(agree / truth) if truth else 0.0, "fires": float(fired)}
        return out


def _repair(tags: np.ndarray, states: Sequence[str], offsets: np.ndarray) -> np.ndarray:
    """Turn each ``I-X`` that continues no ``X`` (after O, another type, or a sentence start) into ``B-X``."""
    tags = tags.copy()
    b_of = {k: states.index("B-" + s[2:]) for k, s in enumerate(states) if s.startswith("I-")}
    starts = set(offsets[:-1].tolist())
    for t in np.nonzero(np.isin(tags, list(b_of)))[0]:
        prev = states[tags[t - 1]] if t and t not in starts else O
        if prev == O or prev[2:] != states[tags[t]][2:]:
            tags[t] = b_of[int(tags[t])]
    return tags


# -- documents <-> observations -----------------------------------------------------------------------------
def source_labels(docs: Iterable[Document], sources: Sequence[str]) -> list[str]:
    """Return the labels (types, ``A|B``) that ``sources`` write in ``docs``, sorted (not ``O`` or ``-``)."""
    found = {s.label for doc in docs for name in sources for s in doc.spans(name)}
    return sorted(found - {O, UNKNOWN})


def observe(docs: Sequence[Document], sources: Sequence[str], labels: Sequence[str],
            unseen: Counter | None = None) -> Observations:
    """Return the sources' symbols for every sentence of ``docs`` (tokenized first when needed).

    Within one source, overlapping spans are taken as the priority aggregator takes them (``O`` first, then
    longer before shorter); a label that is not in ``labels`` abstains and is counted in ``unseen``.
    """
    index = {lab: 2 + 2 * i for i, lab in enumerate(labels)}
    blocks, lengths = [], []
    tokenizer = None
    for doc in docs:
        if not doc.is_tokenized:
            tokenizer = tokenizer or default_tokenizer()
            tokenizer(doc)
        n = len(doc.tokens)
        sym = np.zeros((n, len(sources)), dtype=np.int32)  # [n, J]
        for j, name in enumerate(sources):
            taken = np.zeros(n, dtype=bool)
            ranges = _token_ranges(doc, doc.spans(name), name)
            ranges.sort(key=lambda r: (r[2].label != O, r[0] - r[1], r[0]))
            for i, k, span in ranges:
                if taken[i:k].any() or span.label == UNKNOWN:
                    continue
                taken[i:k] = True
                if span.label == O:
                    sym[i:k, j] = 1
                elif span.label in index:
                    sym[i, j] = index[span.label]
                    sym[i + 1:k, j] = index[span.label] + 1
                elif unseen is not None:
                    unseen[span.label] += 1
        blocks.append(sym)
        lengths.extend(b - a for a, b in doc.sentences or [(0, n)] if b > a)
    symbols = np.concatenate(blocks) if blocks else np.zeros((0, len(sources)), dtype=np.int32)
    return Observations(symbols, np.array(lengths, dtype=np.int64))


class LabelModelAggregator(Aggregator):
    """The ``hmm`` and ``dawid-skene`` aggregation methods: fit on the corpus, then decode each document.

    Args:
        layers: The sources (labelers' layers).
        transitions: ``True`` for ``hmm``, ``False`` for ``dawid-skene``.
        decode: ``viterbi`` (the best sequence) or ``marginal`` (the best tag of each token).
        posterior_threshold: When set, tokens with more than one tag at or above this posterior are written
            as ``-`` (any tag), with the decoded entity they are part of.
        prior_weight, restrict, iterations, tolerance: As in :class:`LabelModel`.
        unmatched, output, types: As in :class:`~distant.labelers.aggregate.Aggregator`; ``types`` empty:
            every type the sources write.
    """

    needs_fit = True

    def __init__(self, layers: Sequence[str], *, transitions: bool = True, decode: str = "viterbi",
                 posterior_threshold: float | None = None, prior_weight: float = 0.5, restrict: bool = True,
                 iterations: int = 50, tolerance: float = 1e-4, unmatched: str = "O", output: str = PSEUDO,
                 types: Sequence[str] = ()) -> None:
        super().__init__(layers, unmatched=unmatched, output=output, types=types)
        self.transitions, self.decode, self.posterior_threshold = transitions, decode, posterior_threshold
        self.options = {"transitions": transitions, "prior_weight": prior_weight, "restrict": restrict,
                        "iterations": iterations, "tolerance": tolerance}
        self.model: LabelModel | None = None
        self.report: Fit | None = None

    @property
    def fitted(self) -> bool:
        return self.model is not None and self.model.fitted

    def fit(self, docs: Sequence[Document], on_iteration: Callable[[int], None] | None = None) -> Fit:
        """Fit the label model on the sources' layers of ``docs`` (no gold is read); return what was done.

        ``on_iteration``: as in :meth:`LabelModel.fit` (:attr:`model` is the model being fitted).
        """
        labels = source_labels(docs, self.layers)
        types = self.types or sorted({t for lab in labels for t in label_types(lab)})
        if not types:
            raise DistantError(f"the label model found no entity span in the layers it combines "
                               f"({', '.join(self.layers) or 'none'}); expected labelers that fire")
        self.types = list(types)
        self.model = LabelModel(self.types, labels, self.layers, **self.options)
        t0 = time.perf_counter()
        obs = observe(docs, self.layers, labels)
        self.report = self.model.fit(obs, on_iteration)
        self.report.seconds = time.perf_counter() - t0  # observing included
        self.report.documents = len(docs)
        log.info("label model: %d documents, %d tokens, %d EM iterations in %.1f s (%.0f documents/s)",
                 len(docs), self.report.tokens, self.report.iterations, self.report.seconds,
                 self.report.documents_per_second)
        return self.report

    def apply(self, docs: Sequence[Document]) -> None:
        """Write the output layer into every document of ``docs`` (in batches: much faster than one by one)."""
        if not self.fitted:
            raise DistantError(f"the {'hmm' if self.transitions else 'dawid-skene'} label model is fitted on a "
                               "whole corpus before it labels; expected distant aggregate or distant train "
                               "(distant label streams, one document at a time)")
        model = self.model
        unseen: Counter = Counter()
        for start in range(0, len(docs), 2048):
            part = docs[start:start + 2048]
            obs = observe(part, self.layers, model.labels, unseen)
            post, tags = model.predict(obs, self.decode)
            at = 0
            for doc in part:
                n = len(doc.tokens)
                spans = self._spans(doc, post[at:at + n], tags[at:at + n])
                at += n
                if self.unmatched == "unknown":
                    from distant.labelers.aggregate import _gaps
                    spans = spans + _gaps(doc, spans, self.output)
                doc.set_spans(self.output, spans)
        if unseen:
            log.warning("label model: %d span(s) with labels it was not fitted on abstain (%s)", sum(unseen.values()),
                        ", ".join(f"{k}: {v}" for k, v in unseen.most_common(3)))

    def combine(self, doc: Document) -> list[Span]:
        self.apply([doc])
        return list(doc.spans(self.output))

    def __call__(self, doc: Document) -> Document:
        self.apply([doc])
        return doc

    def _spans(self, doc: Document, post: np.ndarray, tags: np.ndarray) -> list[Span]:
        states = self.model.states
        names = [states[k] for k in tags]
        confidence = post[np.arange(len(tags)), tags] if len(tags) else np.zeros(0)
        out: list[Span] = []
        uncertain = np.zeros(len(tags), dtype=bool)
        if self.posterior_threshold is not None and len(tags):
            uncertain = (post >= self.posterior_threshold).sum(axis=1) > 1
        for a, b in doc.sentences or []:
            found = tags_to_spans(names[a:b])
            runs = _runs(uncertain[a:b])
            changed = bool(runs)
            while changed:  # an entity that overlaps an uncertain run joins it
                changed = False
                for i, j, _ in found:
                    for r in runs:
                        if i < r[1] and r[0] < j and (i < r[0] or j > r[1]):
                            r[0], r[1] = min(r[0], i), max(r[1], j)
                            changed = True
                runs = _merge(runs)
            for i, j, label in found:
                if not any(i < r[1] and r[0] < j for r in runs):
                    out.append(Span(*doc.char_span(a + i, a + j), label, self.output,
                                    score=float(confidence[a + i:a + j].min())))
            out.extend(Span(*doc.char_span(a + i, a + j), UNKNOWN, self.output) for i, j in runs)
        return out


def _runs(flags: np.ndarray) -> list[list[int]]:
    out, k = [], 0
    n = len(flags)
    while k < n:
        if not flags[k]:
            k += 1
            continue
        j = k
        while j < n and flags[j]:
            j += 1
        out.append([k, j])
        k = j
    return out


def _merge(runs: list[list[int]]) -> list[list[int]]:
    out: list[list[int]] = []
    for r in sorted(runs):
        if out and r[0] <= out[-1][1]:
            out[-1][1] = max(out[-1][1], r[1])
        else:
            out.append(list(r))
    return out


# -- saved label models ---------------------------------------------------------------------------------------
MODEL_FORMAT = "distant-label-model"


def save_label_model(aggregator: LabelModelAggregator, path) -> None:
    """Write a fitted label model to ``path`` (JSON: its sources, types, options and parameters), atomically."""
    import json

    from distant.atomic import write_text

    if not aggregator.fitted:
        raise DistantError("cannot save a label model before it is fitted", path)
    m = aggregator.model
    data = {"format": MODEL_FORMAT, "version": 1, "layers": list(aggregator.layers), "types": m.types,
            "labels": m.labels, "options": aggregator.options, "decode": aggregator.decode,
            "posterior_threshold": aggregator.posterior_threshold, "unmatched": aggregator.unmatched,
            "output": aggregator.output, "start": m.start.tolist(), "trans": m.trans.tolist(),
            "emissions": m.emissions.tolist()}
    write_text(path, json.dumps(data))


def load_label_model(path) -> LabelModelAggregator:
    """Read a label model written by :func:`save_label_model`, fitted and ready to ``apply``.

    Raises:
        DistantError: a file that is not such a model (naming the file and what was expected).
    """
    import json

    from distant.formats.lines import read_text

    expected = f"a label model written by distant aggregate --save-model (JSON, format {MODEL_FORMAT!r})"
    try:
        data = json.loads(read_text(path, expected))
    except json.JSONDecodeError as e:
        raise DistantError(f"found invalid JSON ({e.msg} at line {e.lineno}), expected {expected}", path) from None
    if not isinstance(data, dict) or data.get("format") != MODEL_FORMAT or data.get("version") != 1:
        raise DistantError(f"found no format/version {MODEL_FORMAT!r} 1, expected {expected}", path)
    try:
        aggregator = LabelModelAggregator(data["layers"], decode=data["decode"],
                                          posterior_threshold=data["posterior_threshold"],
                                          unmatched=data["unmatched"], output=data["output"], types=data["types"],
                                          **data["options"])
        model = LabelModel(data["types"], data["labels"], data["layers"], **data["options"])
        for name in ("start", "trans", "emissions"):
            value = np.asarray(data[name], dtype=float)
            if value.shape != getattr(model, name).shape or not np.isfinite(value).all():
                raise ValueError(f"{name}: found shape {value.shape}, expected {getattr(model, name).shape} of "
                                 "finite numbers")
            setattr(model, name, value)
    except (KeyError, TypeError, ValueError) as e:
        what = f"no {e}" if isinstance(e, KeyError) else str(e)
        raise DistantError(f"found a malformed label model ({what}), expected {expected}", path) from None
    model.fitted = True
    aggregator.model = model
    return aggregator
