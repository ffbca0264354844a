"""Shift correction: distribution estimates, corrections, CrossWeigh and the report."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from distant.config import build
from distant.debias import DebiasConfig
from distant.debias.corrections import (bias_adjustment, fixed_training_bias, importance_weights,
                                        inference_bias, instance_weighted, o_bias, tune_o_bias,
                                        weighted_partial_token_loss)
from distant.debias.crossweigh import crossweigh, entity_disjoint_folds, summarize_weights
from distant.debias.estimate import (TagDistribution, b_shares, em_prior, gold_distribution, mean_posterior,
                                     prior_distribution, pseudo_distribution)
from distant.debias.report import DebiasReport, Estimate, format_report, load_report, save_report
from distant.docs import Document, Span
from distant.errors import DistantError

TAGS = ["O", "B-Chemical", "I-Chemical", "B-Disease", "I-Disease"]


def one_hot(*tags: str) -> list[bool]:
    return [t in tags for t in TAGS]


ALL = [True] * len(TAGS)


def make_doc(doc_id: str, words: list[str], spans: list[tuple[int, int, str]]) -> Document:
    """A tokenized document from words joined by spaces, with gold spans given as token ranges."""
    text = " ".join(words)
    tokens, pos = [], 0
    for w in words:
        tokens.append((pos, pos + len(w)))
        pos += len(w) + 1
    doc = Document(doc_id, text)
    doc.set_tokens(tokens)
    doc.set_spans("gold", [Span(tokens[i][0], tokens[j - 1][1], label, "gold") for i, j, label in spans])
    return doc


def dist(*probs: float) -> TagDistribution:
    return TagDistribution.from_array(TAGS, probs)


# -- estimates --------------------------------------------------------------------------------------------------

def test_pseudo_distribution_spreads_ambiguous_sets_and_counts_unknown():
    sentences = [
        [one_hot("O"), one_hot("B-Chemical"), one_hot("I-Chemical"), ALL, one_hot("B-Chemical", "B-Disease")],
        np.array([one_hot("O"), one_hot("O"), one_hot("B-Disease")]),
    ]
    d, counts = pseudo_distribution(sentences, TAGS)
    assert d.probs == pytest.approx([3 / 7, 1.5 / 7, 1 / 7, 1.5 / 7, 0.0])
    assert counts == {"tokens": 8, "known": 6, "ambiguous": 1, "unknown": 1, "unknown_fraction": 1 / 8}
    with pytest.raises(ValueError, match="empty"):
        pseudo_distribution([[[False] * len(TAGS)]], TAGS)
    with pytest.raises(DistantError, match="no pseudo-labeled token"):
        pseudo_distribution([[ALL, ALL]], TAGS)


def test_gold_distribution_counts_tags_and_reports_unaligned_spans():
    doc1 = make_doc("d1", ["Cisplatin", "causes", "acute", "renal", "failure", "."],
                    [(0, 1, "Chemical"), (2, 5, "Disease")])
    doc1.layers["gold"].append(Span(2, 19, "Chemical", "gold"))  # "splatin causes acu": not on token edges
    doc2 = make_doc("d2", ["Lithium", "toxicity", "in", "BRCA1"],
                    [(0, 1, "Chemical"), (1, 2, "Disease"), (3, 4, "Gene")])
    d, counts = gold_distribution([doc1, doc2], TAGS)
    # O: ".", "causes", "in", "BRCA1" (Gene is not a tag type) ; B-C 2 ; B-D 2 ; I-D 2
    assert d.to_dict() == pytest.approx({"O": 4 / 10, "B-Chemical": 2 / 10, "I-Chemical": 0.0,
                                         "B-Disease": 2 / 10, "I-Disease": 2 / 10})
    assert counts["unaligned"] == 1 and counts["unaligned_examples"][0].startswith("d1:2-19")
    assert counts["unknown_types"] == {"Gene": 1}
    assert counts["documents"] == 2 and counts["tokens"] == 10

    first, counts = gold_distribution([doc1], TAGS)  # a budget of one document
    assert counts["documents"] == 1
    assert first.probs == pytest.approx([2 / 6, 1 / 6, 0.0, 1 / 6, 2 / 6])

    with pytest.raises(DistantError, match="d3 is not tokenized"):
        gold_distribution([Document("d3", "no tokens")], TAGS)


def test_prior_distribution_per_type_and_per_tag():
    d = prior_distribution({"O": 0.85, "Chemical": 0.08, "Disease": 0.07}, TAGS)
    assert d.probs == pytest.approx([0.85, 0.04, 0.04, 0.035, 0.035])
    d = prior_distribution({"O": 0.85, "Chemical": 0.08, "B-Disease": 0.05, "I-Disease": 0.02}, TAGS,
                           b_share={"Chemical": 0.75})
    assert d.probs == pytest.approx([0.85, 0.06, 0.02, 0.05, 0.02])
    d = prior_distribution({"O": 0.86, "Chemical": 0.08, "Disease": 0.07}, TAGS)  # sums to 1.01: rounding
    assert sum(d.probs) == pytest.approx(1.0) and d["O"] == pytest.approx(0.86 / 1.01)
    assert b_shares(dist(0.7, 0.15, 0.05, 0.05, 0.05)) == pytest.approx({"Chemical": 0.75, "Disease": 0.5})


@pytest.mark.parametrize("prior, message", [
    ({"O": 0.9, "Chemcal": 0.05, "Disease": 0.05}, "unknown tag or type 'Chemcal'; did you mean 'Chemical'"),
    ({"O": 0.9, "Chemical": -0.05, "Disease": 0.15}, "non-negative number"),
    ({"O": 0.4, "Chemical": 0.05, "Disease": 0.05}, "sum to 0.5"),
    ({"O": 0.9, "Chemical": 0.1}, "no mass given for B-Disease, I-Disease"),
    ({"O": 0.8, "Chemical": 0.1, "B-Chemical": 0.05, "Disease": 0.05}, "B-Chemical gets mass from both"),
])
def test_prior_distribution_rejects_bad_priors(prior, message):
    with pytest.raises(DistantError, match=message) as e:
        prior_distribution(prior, TAGS)
    if "unknown" in message:
        assert "valid: O, B-Chemical, I-Chemical, B-Disease, I-Disease, Chemical, Disease" in str(e.value)


def test_em_recovers_a_shifted_prior():
    rng = np.random.default_rng(0)
    means = np.array([0.0, 2.0, 4.0])
    tags = TAGS[:3]
    train = np.array([0.8, 0.15, 0.05])
    shifted = np.array([0.5, 0.3, 0.2])
    y = rng.choice(3, size=60_000, p=shifted)
    x = rng.normal(means[y], 1.0)
    # a calibrated classifier trained under the training prior: p(y|x) ∝ pi(y) N(x; mu_y, 1)
    logits = np.log(train) - 0.5 * (x[:, None] - means[None, :]) ** 2
    post = np.exp(logits - logits.max(1, keepdims=True))
    post /= post.sum(1, keepdims=True)
    marginals = np.array_split(post, 600)  # sentences of 100 tokens
    before = mean_posterior(marginals, tags)
    assert abs(before["B-Chemical"] - 0.3) > 0.02  # the unadjusted posteriors are visibly off
    estimate, rounds = em_prior(marginals, TagDistribution.from_array(tags, train))
    assert 1 < rounds < 100
    assert estimate.probs == pytest.approx(shifted.tolist(), abs=0.01)
    # with no shift, EM stays at the training prior
    same, _ = em_prior([np.tile(train, (50, 1)), np.zeros((5, 3))], TagDistribution.from_array(tags, train))
    assert same.probs == pytest.approx(train.tolist(), abs=1e-6)


# -- corrections ------------------------------------------------------------------------------------------------

def test_bias_adjustment_values_and_zero_when_no_shift():
    pseudo = dist(0.9, 0.04, 0.02, 0.03, 0.01)
    target = dist(0.8, 0.08, 0.04, 0.05, 0.03)
    b = bias_adjustment(target, pseudo, tau=0.5)
    expected = [0.5 * math.log(t / p) for t, p in zip(target.probs, pseudo.probs)]
    assert b.tolist() == pytest.approx(expected, abs=1e-4)
    assert torch.equal(bias_adjustment(pseudo, pseudo), torch.zeros(len(TAGS)))
    assert torch.equal(fixed_training_bias(pseudo), inference_bias(pseudo))
    assert inference_bias(target).tolist() == pytest.approx(np.log(target.array()).tolist(), abs=1e-4)
    assert o_bias(TAGS, -1.5).tolist() == [-1.5, 0, 0, 0, 0]
    with pytest.raises(ValueError, match="differ in tags"):
        bias_adjustment(TagDistribution.from_array(TAGS[:3], [1, 1, 1]), pseudo)


def test_zero_bias_leaves_viterbi_unchanged():
    crf_module = pytest.importorskip("distant.models.crf")
    torch.manual_seed(0)
    crf = crf_module.CRF(len(TAGS), *crf_module.bio_constraints(TAGS))
    emissions = torch.randn(3, 6, len(TAGS))
    mask = torch.tensor([[1] * 6, [1] * 4 + [0] * 2, [1] + [0] * 5], dtype=torch.bool)
    pseudo = dist(0.9, 0.04, 0.02, 0.03, 0.01)
    bias = bias_adjustment(pseudo, pseudo)
    assert crf.viterbi(emissions, mask, tag_bias=bias) == crf.viterbi(emissions, mask)
    # and a real shift toward entities does change some decisions toward entity tags
    strong = bias_adjustment(dist(0.1, 0.3, 0.2, 0.2, 0.2), pseudo)
    assert crf.viterbi(emissions, mask, tag_bias=strong) != crf.viterbi(emissions, mask)


def test_importance_weights_ratio_and_clip():
    w = importance_weights(dist(0.8, 0.1, 0.05, 0.05, 0.0), dist(0.9, 0.05, 0.05, 0.0, 0.0))
    assert w.tolist() == pytest.approx([0.8 / 0.9, 2.0, 1.0, 10.0, 1.0], rel=1e-3)  # unseen in pseudo: clipped
    w = importance_weights(dist(0.99, 0.01, 0, 0, 0), dist(0.5, 0.5, 0, 0, 0), clip=(0.5, 2.0))
    assert w.tolist()[:2] == pytest.approx([1.98, 0.5], rel=1e-3)


def test_weighted_partial_token_loss_hand_value():
    marginals = torch.tensor([[[0.7, 0.2, 0.1], [0.2, 0.5, 0.3], [0.3, 0.3, 0.4], [0.1, 0.1, 0.8]]],
                             requires_grad=True)  # [1, 4, 3]
    allowed = torch.tensor([[[1, 0, 0], [0, 1, 1], [1, 1, 1], [1, 0, 0]]], dtype=torch.bool)
    mask = torch.tensor([[True, True, True, False]])  # the last token is padding
    weights = torch.tensor([0.5, 2.0, 4.0])
    loss = weighted_partial_token_loss(marginals, allowed, mask, weights)
    w1 = (2.0 * 0.5 + 4.0 * 0.3) / 0.8
    assert loss.item() == pytest.approx(-0.5 * math.log(0.7) - w1 * math.log(0.8), rel=1e-5)
    loss.backward()  # the weights are detached: d/dq of -w log(sum q) is -w / sum q inside the set
    assert marginals.grad[0, 1].tolist() == pytest.approx([0.0, -w1 / 0.8, -w1 / 0.8], rel=1e-5)
    assert marginals.grad[0, 2].abs().sum() == 0 and marginals.grad[0, 3].abs().sum() == 0

    everything = torch.ones(1, 4, 3, dtype=torch.bool)
    assert weighted_partial_token_loss(marginals, everything, mask, weights).item() == 0.0

    two = torch.cat([marginals.detach(), marginals.detach()])
    halved = weighted_partial_token_loss(two, allowed.repeat(2, 1, 1), mask.repeat(2, 1), weights,
                                         instance_weights=torch.tensor([1.0, 0.0]))
    assert halved.item() == pytest.approx(loss.item() / 2, rel=1e-5)
    assert instance_weighted(torch.tensor([2.0, 4.0]), torch.tensor([0.5, 1.0])).item() == pytest.approx(2.5)


def test_tune_o_bias_picks_best_and_breaks_ties_toward_zero():
    best, table = tune_o_bias(lambda b: 1.0 - (b + 1.0) ** 2)
    assert best == -1.0 and len(table) > 5 and (0.0, 0.0) in table
    assert tune_o_bias(lambda b: 0.5)[0] == 0.0
    assert tune_o_bias(lambda b: 0.7 if b in (-1.0, -0.5, 1.5) else 0.6)[0] == -0.5


# -- CrossWeigh -------------------------------------------------------------------------------------------------

def _random_entities(n: int, seed: int) -> list[set[str]]:
    rng = np.random.default_rng(seed)
    vocab = ["aspirin", "Aspirin", "cancer", "lithium", "pain", "fever", "Fever", "NaCl"]
    return [set(rng.choice(vocab, size=rng.integers(0, 3), replace=False).tolist()) for _ in range(n)]


def test_entity_disjoint_folds_hold_surfaces_out_of_training():
    ents = _random_entities(60, seed=1)
    folds = entity_disjoint_folds(ents, k=5, seed=3)
    assert len(folds) == 5
    assert sorted(i for _, test in folds for i in test) == list(range(60))
    for train, test in folds:
        held = {s.lower() for i in test for s in ents[i]}
        assert not set(train) & set(test)
        assert all(not {s.lower() for s in ents[i]} & held for i in train)
        assert all(i in train for i in range(60) if not ents[i] and i not in test)  # nothing to leak
    assert entity_disjoint_folds(ents, 5, 3) == folds  # seeded
    with pytest.raises(ValueError, match="between 2"):
        entity_disjoint_folds(ents, 1, 0)


def test_crossweigh_weights_from_a_fake_model():
    ents = _random_entities(30, seed=2)
    bad = {1, 4, 7}
    calls = []

    def train_and_predict(train, test):
        calls.append((train, test))
        held = {s.lower() for i in test for s in ents[i]}
        assert all(not {s.lower() for s in ents[i]} & held for i in train)
        return [i in bad or (i == 10 and len(calls) <= 3) for i in test]  # 10 only flagged in the first round

    weights = crossweigh(ents, train_and_predict, k=3, iterations=3, epsilon=0.7, seed=0)
    assert len(calls) == 9
    expected = np.ones(30)
    expected[list(bad)] = 0.7 ** 3
    expected[10] = 0.7
    assert weights == pytest.approx(expected)
    summary = summarize_weights(weights, 0.7, 3)
    assert summary["flagged"] == {"0": 26, "1": 1, "2": 0, "3": 3}

    with pytest.raises(ValueError, match="flags for"):
        crossweigh(ents, lambda train, test: [False], k=3)


# -- report -----------------------------------------------------------------------------------------------------

def _report() -> DebiasReport:
    pseudo = dist(0.9, 0.04, 0.02, 0.03, 0.01)
    gold = dist(0.8, 0.08, 0.04, 0.05, 0.03)
    return DebiasReport(
        pseudo=pseudo,
        pseudo_counts={"tokens": 100, "known": 80, "ambiguous": 5, "unknown": 15, "unknown_fraction": 0.15},
        estimates=[Estimate("gold", "gold-dev (50 docs)", gold, {"unaligned": 0}),
                   Estimate("em", "em (12 rounds)", dist(0.82, 0.07, 0.03, 0.05, 0.03))],
        target="gold", bias_mode="set", tau=1.0,
        bias=bias_adjustment(gold, pseudo).tolist(),
        weights=importance_weights(gold, pseudo).tolist(),
        o_bias=-0.5, o_bias_table=[(-0.5, 0.81), (0.0, 0.8)],
        crossweigh=summarize_weights(np.array([1.0, 0.7, 0.49]), 0.7, 2),
    )


def test_report_round_trip_and_text(tmp_path):
    report = _report()
    data = json.loads(json.dumps(report.to_dict()))
    assert DebiasReport.from_dict(data) == report
    save_report(report, tmp_path)
    assert load_report(tmp_path) == report
    assert load_report(tmp_path / "debias.json") == report
    text = format_report(report)
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("tag"))
    assert header.split() == ["tag", "pseudo", "gold", "em", "log-ratio", "bias", "weight"]
    row = next(line for line in lines if line.startswith("B-Chemical")).split()
    assert row[:4] == ["B-Chemical", "0.0400", "0.0800", "0.0700"]
    assert float(row[4]) == pytest.approx(math.log(2), abs=1e-3)
    assert any(line.startswith("(entity)") for line in lines)
    assert "gold-dev (50 docs) (used)" in text and "BA-Set" in text and "O-bias tuned on dev: -0.5" in text


def test_load_report_errors_name_the_path(tmp_path):
    with pytest.raises(DistantError) as e:
        load_report(tmp_path)
    assert str(tmp_path / "debias.json") in str(e.value) and "\n" not in str(e.value)
    (tmp_path / "debias.json").write_text("{not json")
    with pytest.raises(DistantError, match="malformed debias report") as e:
        load_report(tmp_path)
    assert "\n" not in str(e.value)
    data = _report().to_dict()
    del data["pseudo"]
    (tmp_path / "debias.json").write_text(json.dumps(data))
    with pytest.raises(DistantError, match="missing field 'pseudo'"):
        load_report(tmp_path)
    data = _report().to_dict()
    data["bias"] = [0.0]
    (tmp_path / "debias.json").write_text(json.dumps(data))
    with pytest.raises(DistantError, match="'bias' must be a list of 5 numbers"):
        load_report(tmp_path)


# -- config -----------------------------------------------------------------------------------------------------

def test_debias_config_from_toml_table():
    cfg = build(DebiasConfig, {"target": "prior", "prior": {"O": 0.9, "Chemical": 0.05, "Disease": 0.05},
                               "bias": "set", "reweight": True, "reweight_clip": [0.2, 5]},
                path="run.toml", prefix="debias.")
    assert cfg.reweight_clip == [0.2, 5.0] and cfg.bias == "set"


@pytest.mark.parametrize("table, message", [
    ({"target": "golden"}, "debias.target: expected one of none, gold, prior, em; found 'golden'"),
    ({"bias": "both", "target": "gold"}, "debias.bias: expected one of none, set, fix"),
    ({"bias": "set"}, "debias.bias needs a target distribution"),
    ({"target": "prior"}, "debias.prior"),
    ({"target": "em", "reweight": True}, "debias.reweight needs the target before training"),
    ({"reweight_clip": [2.0, 5.0]}, "debias.reweight_clip"),
    ({"crossweigh_epsilon": 1.5}, "debias.crossweigh_epsilon"),
    ({"gold_budget": 10}, "unknown key 'debias.gold_budget'"),
    ({"targte": "gold"}, "did you mean 'debias.target'"),
])
def test_debias_config_errors(table, message):
    with pytest.raises(DistantError, match=message.replace("(", r"\(")) as e:
        build(DebiasConfig, table, path="run.toml", prefix="debias.")
    assert str(e.value).startswith("run.toml: ")


@pytest.mark.parametrize("target", ["em", "gold"])
def test_ba_fix_model_is_never_decoded_without_a_bias(target):
    from distant.debias.training import ShiftCorrection

    allowed = [torch.tensor([one_hot("O"), one_hot("B-Chemical"), one_hot("I-Chemical"), one_hot("O")])]
    gold = [make_doc("g", ["a", "b", "c", "d"], [(1, 2, "Disease")])]
    fix = ShiftCorrection(DebiasConfig(target=target, bias="fix"), TAGS, allowed, gold)
    training = fixed_training_bias(fix.pseudo)
    assert torch.equal(fix.train_bias(), training)
    if target == "em":  # before EM has estimated the target, selection decodes under the training condition
        assert fix.target is None
        expected = training
    else:  # with a gold target, under log p_target
        expected = inference_bias(fix.target)
        assert not torch.equal(expected, training)
    assert torch.equal(fix.selection_bias(), expected)
    assert torch.equal(fix.labeling_bias(), training)  # self-training labels: uncorrected, as for every variant
    bias_set = ShiftCorrection(DebiasConfig(target=target, bias="set"), TAGS, allowed, gold)
    assert bias_set.labeling_bias() is None
