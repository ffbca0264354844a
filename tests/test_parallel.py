"""Branches: the same bits with one worker or two, gradients as without them, old checkpoints still load."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from distant.config.run import PretrainConfig
from distant.models import CharLMConfig, TaggerConfig, build_tagger, parallel, pretrain_charlm
from distant.models.encoder import BiLSTMEncoder

from tests.test_models import SENTENCES, TAGS, encoded

LM = CharLMConfig(char_dim=8, hidden_size=16, lm_vocab_size=30, lm_cutoffs=(10,), dropout=0.3)


@pytest.fixture
def restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)
    parallel.configure(threads)


def _train_everything(workers: int) -> list[torch.Tensor]:
    """Pre-train a char LM, then train a co-trained tagger with dropout; return every parameter."""
    parallel._workers = workers
    for progress in pretrain_charlm(SENTENCES, LM, PretrainConfig(epochs=2), seed=5):
        pass
    lm = progress["model"]
    torch.manual_seed(7)
    config = TaggerConfig(word_dim=12, hidden_size=10, num_layers=2, dropout=0.3, use_charlm=True,
                          freeze_charlm=False, lm_weight=0.5, char_proj_dim=8)
    tagger = build_tagger(SENTENCES, TAGS, config, charlm=lm, seed=7)
    batch = tagger.collate(encoded(tagger))
    optimizer = torch.optim.Adam(tagger.trainable_parameters(), lr=0.01)
    tagger.train()
    for _ in range(4):
        loss = tagger.loss(batch).total()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    tags, conf = tagger.decode(batch)
    return [p.detach().clone() for p in tagger.parameters()] + [torch.tensor(conf[0])]


def test_two_workers_give_the_same_bits_as_one(restore_threads) -> None:
    torch.set_num_threads(1)
    one = _train_everything(workers=1)
    two = _train_everything(workers=2)
    assert len(one) == len(two)
    assert all(torch.equal(a, b) for a, b in zip(one, two))


def test_branch_gradients_equal_plain_autograd(restore_threads) -> None:
    torch.manual_seed(0)
    left, right = nn.Linear(3, 4), nn.Linear(3, 4)
    x = torch.randn(5, 3, requires_grad=True)
    for workers in (1, 2):
        parallel._workers = workers
        for p in [*left.parameters(), *right.parameters()]:
            p.grad = None
        x.grad = None
        a, b = parallel.branches([left, right], [x, x * 2])
        (a.tanh().sum() + (b ** 2).sum()).backward()
        got = [x.grad.clone(), left.weight.grad.clone(), right.bias.grad.clone()]
        x2 = x.detach().requires_grad_()
        left.zero_grad(set_to_none=True)
        right.zero_grad(set_to_none=True)
        (left(x2).tanh().sum() + (right(x2 * 2) ** 2).sum()).backward()
        want = [x2.grad, left.weight.grad, right.bias.grad]
        assert all(torch.allclose(g, w, atol=1e-6) for g, w in zip(got, want))


def test_parameters_get_gradients_when_no_input_needs_one(restore_threads) -> None:
    parallel._workers = 2
    left, right = nn.Linear(3, 2), nn.Linear(3, 2)
    x = torch.randn(4, 3)  # no gradient needed
    a, b = parallel.branches([left, right], [x, x])
    (a.sum() + b.sum()).backward()
    assert left.weight.grad is not None and right.weight.grad is not None


def test_configure_policy(restore_threads) -> None:
    assert parallel.configure(3, "cpu") == {"intra_op_threads": 3, "branch_workers": 1}
    auto = parallel.configure(0, "cpu")
    assert auto["intra_op_threads"] == 1 and auto["branch_workers"] == min(2, parallel.available_cores())
    with pytest.raises(ValueError):
        parallel.configure(-1)


def test_encoder_reads_a_checkpoint_of_the_packed_bidirectional_lstm() -> None:
    """A model saved before the directions were split (one bidirectional nn.LSTM) loads and computes the same."""
    torch.manual_seed(1)
    old = nn.LSTM(6, 5, num_layers=2, batch_first=True, bidirectional=True)
    encoder = BiLSTMEncoder(6, 5, num_layers=2, dropout=0.0)
    encoder.load_state_dict({f"lstm.{k}": v for k, v in old.state_dict().items()})
    x = torch.randn(3, 7, 6)
    lengths = torch.tensor([7, 4, 1])
    packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    want, _ = nn.utils.rnn.pad_packed_sequence(old(packed)[0], batch_first=True, total_length=7)
    encoder.eval()
    assert torch.allclose(encoder(x, lengths), want, atol=1e-6)


def test_tagger_state_dict_round_trip_keeps_predictions() -> None:
    torch.manual_seed(2)
    tagger = build_tagger(SENTENCES, TAGS, TaggerConfig(word_dim=8, hidden_size=6))
    again = build_tagger(SENTENCES, TAGS, TaggerConfig(word_dim=8, hidden_size=6))
    again.load_state_dict(tagger.state_dict())
    batch = tagger.collate(tagger.encode(SENTENCES))
    assert tagger.decode(batch) == again.decode(batch)
