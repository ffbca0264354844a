"""Linear-chain CRF with a partial-label ("fuzzy") loss, Viterbi decoding and tag marginals.

Every tensor is batch-first. ``mask`` is a bool ``[B, T]`` prefix mask (true for real tokens); every sequence
has at least one real token. ``K`` is the number of tags.

The partial-label loss is the Fuzzy-LSTM-CRF objective of AutoNER (Shang et al., 2018): each token carries a
*set* of allowed tags and the loss is ``-(log sum over the paths that stay inside the sets - log Z)``. A token
whose set holds every tag contributes no evidence; a singleton set is an ordinary gold tag.

Forbidden transitions (invalid BIO moves) and disallowed tags are scored with a large negative *finite*
value rather than ``-inf``: ``logsumexp`` over a row that is entirely ``-inf`` yields NaN gradients.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from distant.tags import TagError, split_tag

# Score of an impossible transition or a disallowed tag: exp(NEG) underflows to 0 in float32, yet the
# value stays finite so gradients never turn into NaN.
NEG = -1.0e4


def bio_constraints(tag_names: Sequence[str], scheme: str = "IOB2"
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Build the allowed transitions of a tag scheme.

    Args:
        tag_names: the CRF's tags in index order, such as ``["O", "B-Chemical", "I-Chemical"]``.
        scheme: ``"IOB2"`` (the default) or ``"IOBES"``.

    Returns:
        ``(transitions [K, K], start [K], end [K])`` bool tensors; ``transitions[i, j]`` says whether tag
        ``j`` may follow tag ``i``, ``start``/``end`` whether a sentence may begin/end with a tag.

    Raises:
        TagError: a tag name is not valid in ``scheme``.
    """
    if scheme not in ("IOB2", "IOBES"):
        raise TagError(f"transition constraints support IOB2 and IOBES, not {scheme!r}")
    parts = [split_tag(t, scheme) for t in tag_names]
    k = len(parts)
    trans = torch.zeros(k, k, dtype=torch.bool)
    start = torch.zeros(k, dtype=torch.bool)
    end = torch.zeros(k, dtype=torch.bool)
    # In IOBES, after B-X or I-X the entity is still open: only I-X or E-X may follow.
    open_prefixes = {"B", "I"} if scheme == "IOBES" else set()
    for j, (pj, lj) in enumerate(parts):
        continues = pj in ("I", "E")  # this tag continues an entity opened earlier
        start[j] = not continues
        end[j] = pj not in open_prefixes
        for i, (pi, li) in enumerate(parts):
            if continues:
                trans[i, j] = li == lj and pi in ("B", "I")
            else:
                trans[i, j] = pi not in open_prefixes
    return trans, start, end


class CRF(nn.Module):
    """Linear-chain CRF over ``num_tags`` tags with start, end and pairwise transition scores.

    Every method accepts an optional ``tag_bias [K]`` added to the emissions at every position: the
    shift correction's "bias adjustment of emission scores".

    Args:
        num_tags: number of tags ``K``.
        constraints: allowed transitions ``[K, K]`` (``[i, j]``: tag ``j`` may follow tag ``i``); None allows all.
        start_constraints: tags a sequence may start with ``[K]``; None allows all.
        end_constraints: tags a sequence may end with ``[K]``; None allows all.
    """

    def __init__(self, num_tags: int, constraints: torch.Tensor | None = None,
                 start_constraints: torch.Tensor | None = None,
                 end_constraints: torch.Tensor | None = None) -> None:
        super().__init__()
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags).uniform_(-0.1, 0.1))  # [K, K] from -> to
        self.start = nn.Parameter(torch.zeros(num_tags))  # [K]
        self.end = nn.Parameter(torch.zeros(num_tags))  # [K]
        full = torch.ones(num_tags, dtype=torch.bool)
        self.register_buffer("allowed", torch.ones(num_tags, num_tags, dtype=torch.bool)
                             if constraints is None else constraints.bool().clone())
        self.register_buffer("allowed_start", full.clone() if start_constraints is None
                             else start_constraints.bool().clone())
        self.register_buffer("allowed_end", full.clone() if end_constraints is None
                             else end_constraints.bool().clone())

    # -- scores with constraints applied ------------------------------------------------------------------

    def _scores(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        trans = self.transitions.masked_fill(~self.allowed, NEG)  # [K, K]
        start = self.start.masked_fill(~self.allowed_start, NEG)  # [K]
        end = self.end.masked_fill(~self.allowed_end, NEG)  # [K]
        return trans, start, end

    @staticmethod
    def _biased(emissions: torch.Tensor, tag_bias: torch.Tensor | None) -> torch.Tensor:
        return emissions if tag_bias is None else emissions + tag_bias  # [B, T, K]

    def _forward_alg(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Return log Z per sequence ``[B]`` by the forward algorithm."""
        trans, start, end = self._scores()
        trans = trans.unsqueeze(0)  # [1, K, K]
        alpha = start + emissions[:, 0]  # [B, K]
        # Keep the loop lean: one broadcast add, one logsumexp, one where per step.
        em = emissions.unbind(1)  # T x [B, K]
        mk = mask.unsqueeze(-1).unbind(1)  # T x [B, 1]
        for t in range(1, len(em)):
            nxt = torch.logsumexp(alpha.unsqueeze(2) + trans, dim=1) + em[t]  # [B, K]
            alpha = torch.where(mk[t], nxt, alpha)  # padded steps carry alpha through
        return torch.logsumexp(alpha + end, dim=1)  # [B]

    # -- public API -----------------------------------------------------------------------------------------

    def log_partition(self, emissions: torch.Tensor, mask: torch.Tensor,
                      tag_bias: torch.Tensor | None = None) -> torch.Tensor:
        """Return the log partition function ``log Z`` of each sequence.

        Args:
            emissions: ``[B, T, K]`` emission scores.
            mask: ``[B, T]`` bool prefix mask.
            tag_bias: optional ``[K]`` added to every emission.

        Returns:
            ``[B]`` log Z.
        """
        return self._forward_alg(self._biased(emissions, tag_bias), mask)

    def score(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor,
              tag_bias: torch.Tensor | None = None) -> torch.Tensor:
        """Return the unnormalised log score of the tag paths ``tags [B, T]`` as ``[B]``."""
        emissions = self._biased(emissions, tag_bias)
        trans, start, end = self._scores()
        m = mask.to(emissions.dtype)  # [B, T]
        em = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)  # [B, T]
        pair = trans[tags[:, :-1], tags[:, 1:]]  # [B, T-1]
        lengths = mask.sum(1)  # [B]
        last = tags.gather(1, (lengths - 1).unsqueeze(1)).squeeze(1)  # [B]
        return start[tags[:, 0]] + (em * m).sum(1) + (pair * m[:, 1:]).sum(1) + end[last]

    def nll(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor,
            tag_bias: torch.Tensor | None = None) -> torch.Tensor:
        """Return the negative log-likelihood ``[B]`` of the gold paths ``tags [B, T]`` (padding ignored)."""
        emissions = self._biased(emissions, tag_bias)
        return self._forward_alg(emissions, mask) - self.score(emissions, tags, mask)

    def partial_nll(self, emissions: torch.Tensor, allowed: torch.Tensor, mask: torch.Tensor,
                    tag_bias: torch.Tensor | None = None) -> torch.Tensor:
        """Return the partial-label negative log-likelihood ``[B]``.

        ``-(log sum_{paths inside allowed} exp score - log Z)``. Both forward passes run as one pass over a
        doubled batch, so the per-step Python overhead is paid once.

        Args:
            emissions: ``[B, T, K]`` emission scores.
            allowed: ``[B, T, K]`` bool, the tags each token may take (every real token needs at least one).
            mask: ``[B, T]`` bool prefix mask.
            tag_bias: optional ``[K]`` added to every emission.

        Returns:
            ``[B]`` losses, >= 0 up to rounding. A sequence whose allowed sets admit no path under the
            transition constraints gets a loss of about ``-NEG`` (1e4): build allowed sets that are valid paths.
        """
        emissions = self._biased(emissions, tag_bias)
        constrained = emissions.masked_fill(~allowed, NEG)  # [B, T, K]
        both = torch.cat([constrained, emissions], dim=0)  # [2B, T, K]
        log_z = self._forward_alg(both, torch.cat([mask, mask], dim=0))  # [2B]
        b = emissions.shape[0]
        return log_z[b:] - log_z[:b]

    def viterbi(self, emissions: torch.Tensor, mask: torch.Tensor,
                tag_bias: torch.Tensor | None = None) -> list[list[int]]:
        """Return the best tag path of each sequence, truncated to its length.

        Args:
            emissions: ``[B, T, K]`` emission scores.
            mask: ``[B, T]`` bool prefix mask.
            tag_bias: optional ``[K]`` added to every emission.

        Returns:
            ``B`` lists of tag indices, one per real token.
        """
        emissions = self._biased(emissions, tag_bias)
        trans, start, end = self._scores()
        trans = trans.unsqueeze(0)  # [1, K, K]
        bsz, steps, k = emissions.shape
        score = start + emissions[:, 0]  # [B, K]
        identity = torch.arange(k, device=emissions.device).expand(bsz, k)  # [B, K]
        em = emissions.unbind(1)
        mk = mask.unsqueeze(-1).unbind(1)
        pointers = []
        for t in range(1, steps):
            best, arg = (score.unsqueeze(2) + trans).max(dim=1)  # [B, K], [B, K]
            score = torch.where(mk[t], best + em[t], score)
            pointers.append(torch.where(mk[t], arg, identity))  # padding points to itself
        best_last = (score + end).argmax(dim=1)  # [B]; padding carried the last real tag through
        path = [best_last]
        for ptr in reversed(pointers):
            path.append(ptr.gather(1, path[-1].unsqueeze(1)).squeeze(1))
        tags = torch.stack(path[::-1], dim=1).tolist()  # [B, T]
        lengths = mask.sum(1).tolist()
        return [row[:n] for row, n in zip(tags, lengths)]

    def marginals(self, emissions: torch.Tensor, mask: torch.Tensor,
                  tag_bias: torch.Tensor | None = None) -> torch.Tensor:
        """Return per-token tag posteriors ``[B, T, K]`` by forward-backward (zeros on padding).

        Args:
            emissions: ``[B, T, K]`` emission scores.
            mask: ``[B, T]`` bool prefix mask.
            tag_bias: optional ``[K]`` added to every emission.
        """
        emissions = self._biased(emissions, tag_bias)
        trans, start, end = self._scores()
        steps = emissions.shape[1]
        em = emissions.unbind(1)
        mk = mask.unsqueeze(-1).unbind(1)
        alpha = start + em[0]  # [B, K]
        alphas = [alpha]
        tr = trans.unsqueeze(0)  # [1, K, K]
        for t in range(1, steps):
            alpha = torch.logsumexp(alpha.unsqueeze(2) + tr, dim=1) + em[t]  # padding values are discarded
            alphas.append(alpha)
        # beta_t[i] = log sum over continuations after t given tag i at t; beta at the last real token = end.
        beta = end.expand_as(alpha)  # [B, K]
        betas = [beta]
        tr_t = trans.unsqueeze(0)  # [1, K(from), K(to)]
        for t in range(steps - 2, -1, -1):
            nxt = torch.logsumexp(tr_t + (em[t + 1] + beta).unsqueeze(1), dim=2)  # [B, K]
            beta = torch.where(mk[t + 1], nxt, end.expand_as(nxt))
            betas.append(beta)
        log_alpha = torch.stack(alphas, dim=1)  # [B, T, K]
        log_beta = torch.stack(betas[::-1], dim=1)  # [B, T, K]
        joint = log_alpha + log_beta  # [B, T, K]
        post = torch.softmax(joint, dim=2)  # normalise per token: sum_k alpha*beta = Z at every real t
        return post * mask.unsqueeze(-1).to(post.dtype)
