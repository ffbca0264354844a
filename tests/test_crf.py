"""The CRF against brute-force enumeration of every tag path on tiny inputs."""

from __future__ import annotations

import itertools

import pytest
import torch

from distant.models.crf import CRF, bio_constraints

K = 3
LENGTHS = [4, 2, 1, 3]  # a padded batch, T = 4


def _setup(seed: int = 0, constrained: bool = False) -> tuple[CRF, torch.Tensor, torch.Tensor]:
    torch.manual_seed(seed)
    if constrained:
        trans, start, end = bio_constraints(["O", "B-X", "I-X"])
        crf = CRF(K, trans, start, end)
    else:
        crf = CRF(K)
    with torch.no_grad():
        crf.transitions.normal_()
        crf.start.normal_()
        crf.end.normal_()
    emissions = torch.randn(len(LENGTHS), max(LENGTHS), K)
    mask = torch.arange(max(LENGTHS)).unsqueeze(0) < torch.tensor(LENGTHS).unsqueeze(1)
    return crf, emissions, mask


def _path_score(crf: CRF, em: torch.Tensor, path: tuple[int, ...]) -> torch.Tensor:
    trans, start, end = crf._scores()
    s = start[path[0]] + em[0, path[0]] + end[path[-1]]
    for t in range(1, len(path)):
        s = s + trans[path[t - 1], path[t]] + em[t, path[t]]
    return s


def _all_paths(crf: CRF, em: torch.Tensor, n: int) -> dict[tuple[int, ...], torch.Tensor]:
    return {p: _path_score(crf, em[:n], p) for p in itertools.product(range(K), repeat=n)}


@pytest.mark.parametrize("constrained", [False, True])
def test_log_partition_matches_brute_force(constrained: bool) -> None:
    crf, em, mask = _setup(constrained=constrained)
    got = crf.log_partition(em, mask)
    for b, n in enumerate(LENGTHS):
        want = torch.logsumexp(torch.stack(list(_all_paths(crf, em[b], n).values())), 0)
        assert torch.allclose(got[b], want, atol=1e-4)


def test_nll_matches_brute_force() -> None:
    crf, em, mask = _setup(1)
    tags = torch.randint(0, K, mask.shape)
    got = crf.nll(em, tags, mask)
    for b, n in enumerate(LENGTHS):
        paths = _all_paths(crf, em[b], n)
        log_z = torch.logsumexp(torch.stack(list(paths.values())), 0)
        want = log_z - paths[tuple(tags[b, :n].tolist())]
        assert torch.allclose(got[b], want, atol=1e-4)


def test_partial_nll_with_singletons_equals_nll() -> None:
    crf, em, mask = _setup(2)
    tags = torch.randint(0, K, mask.shape)
    allowed = torch.nn.functional.one_hot(tags, K).bool()
    assert torch.allclose(crf.partial_nll(em, allowed, mask), crf.nll(em, tags, mask), atol=1e-4)


def test_partial_nll_with_all_tags_allowed_is_zero() -> None:
    crf, em, mask = _setup(3)
    allowed = torch.ones(*mask.shape, K, dtype=torch.bool)
    assert torch.allclose(crf.partial_nll(em, allowed, mask), torch.zeros(len(LENGTHS)), atol=1e-4)


def test_partial_nll_matches_brute_force_on_mixed_sets() -> None:
    crf, em, mask = _setup(4)
    allowed = torch.rand(*mask.shape, K) < 0.6
    allowed[..., 0] |= ~allowed.any(-1)  # every token needs at least one allowed tag
    got = crf.partial_nll(em, allowed, mask)
    for b, n in enumerate(LENGTHS):
        paths = _all_paths(crf, em[b], n)
        log_z = torch.logsumexp(torch.stack(list(paths.values())), 0)
        inside = [s for p, s in paths.items() if all(allowed[b, t, p[t]] for t in range(n))]
        want = log_z - torch.logsumexp(torch.stack(inside), 0)
        assert torch.allclose(got[b], want, atol=1e-4)


def test_tag_bias_is_added_to_every_emission() -> None:
    crf, em, mask = _setup(5)
    bias = torch.tensor([0.5, -1.0, 2.0])
    assert torch.allclose(crf.log_partition(em, mask, bias), crf.log_partition(em + bias, mask))
    assert crf.viterbi(em, mask, bias) == crf.viterbi(em + bias, mask)


@pytest.mark.parametrize("constrained", [False, True])
def test_viterbi_matches_brute_force_argmax(constrained: bool) -> None:
    for seed in range(5):
        crf, em, mask = _setup(10 + seed, constrained)
        got = crf.viterbi(em, mask)
        for b, n in enumerate(LENGTHS):
            paths = _all_paths(crf, em[b], n)
            assert tuple(got[b]) == max(paths, key=lambda p: paths[p].item())


def test_marginals_match_brute_force() -> None:
    crf, em, mask = _setup(6)
    got = crf.marginals(em, mask)
    assert torch.allclose(got.sum(-1), mask.float(), atol=1e-5)
    for b, n in enumerate(LENGTHS):
        paths = _all_paths(crf, em[b], n)
        log_z = torch.logsumexp(torch.stack(list(paths.values())), 0)
        want = torch.zeros(n, K)
        for p, s in paths.items():
            for t in range(n):
                want[t, p[t]] += torch.exp(s - log_z)
        assert torch.allclose(got[b, :n], want, atol=1e-5)


def test_gradient_flows_to_emissions_and_transitions() -> None:
    crf, em, mask = _setup(7, constrained=True)
    em.requires_grad_(True)
    allowed = torch.rand(*mask.shape, K) < 0.7
    allowed[..., 0] = True
    crf.partial_nll(em, allowed, mask).sum().backward()
    assert em.grad is not None and torch.isfinite(em.grad).all() and em.grad.abs().sum() > 0
    assert torch.isfinite(crf.transitions.grad).all() and crf.transitions.grad.abs().sum() > 0
    assert (em.grad[~mask] == 0).all()  # padding gets no gradient


def test_constraints_are_respected_by_viterbi() -> None:
    names = ["O", "B-Chemical", "I-Chemical", "B-Disease", "I-Disease"]
    trans, start, end = bio_constraints(names)
    assert not start[2] and not start[4] and start[1]
    assert not trans[0, 2] and not trans[1, 4] and trans[1, 2] and trans[2, 2] and trans[4, 3]
    crf = CRF(len(names), trans, start, end)
    torch.manual_seed(0)
    em = torch.randn(8, 6, len(names))
    em[..., 2] += 3.0  # I-Chemical everywhere would win without constraints
    em[..., 4] += 3.0
    for path in crf.viterbi(em, torch.ones(8, 6, dtype=torch.bool)):
        assert start[path[0]]
        assert all(trans[a, b] for a, b in zip(path, path[1:]))


def test_iobes_constraints() -> None:
    trans, start, end = bio_constraints(["O", "B-X", "I-X", "E-X", "S-X"], "IOBES")
    assert start.tolist() == [True, True, False, False, True]
    assert end.tolist() == [True, False, False, True, True]
    assert trans[1].tolist() == [False, False, True, True, False]  # after B-X: I-X or E-X
    assert trans[3].tolist() == [True, True, False, False, True]  # after E-X: a new start
