"""On a CUDA device the CRF, the tagger and `distant train` give what they give on the CPU.

Skipped where torch sees no CUDA device (CI has none); run on a GPU machine with ``pytest tests/test_gpu.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from distant.cli import app
from distant.models import CharLMConfig, TaggerConfig, build_charlm, build_tagger
from distant.models.crf import CRF, bio_constraints

from tests.test_models import SENTENCES, TAGS, encoded

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

CUDA = torch.device("cuda")
ROOT = Path(__file__).resolve().parents[1]


def _crf_inputs() -> tuple[CRF, torch.Tensor, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    crf = CRF(len(TAGS), *bio_constraints(TAGS))
    lengths = torch.tensor([7, 3, 1, 5])
    emissions = torch.randn(len(lengths), 7, len(TAGS))
    mask = torch.arange(7).unsqueeze(0) < lengths.unsqueeze(1)
    allowed = torch.rand(len(lengths), 7, len(TAGS)) < 0.6
    allowed[..., 0] |= ~allowed.any(-1)  # every token allows at least one tag
    return crf, emissions, mask, allowed


def test_crf_on_cuda_equals_cpu() -> None:
    crf, emissions, mask, allowed = _crf_inputs()
    bias = torch.tensor([0.3, -0.1, 0.0, 0.2, 0.0])
    cpu = (crf.log_partition(emissions, mask, bias), crf.partial_nll(emissions, allowed, mask, bias),
           crf.marginals(emissions, mask, bias))
    paths = crf.viterbi(emissions, mask)
    crf.to(CUDA)
    on_gpu = (crf.log_partition(emissions.to(CUDA), mask.to(CUDA), bias.to(CUDA)),
              crf.partial_nll(emissions.to(CUDA), allowed.to(CUDA), mask.to(CUDA), bias.to(CUDA)),
              crf.marginals(emissions.to(CUDA), mask.to(CUDA), bias.to(CUDA)))
    for a, b in zip(cpu, on_gpu):
        assert b.device.type == "cuda"
        assert torch.allclose(a, b.cpu(), atol=1e-4)
    assert crf.viterbi(emissions.to(CUDA), mask.to(CUDA)) == paths


def test_tagger_loss_features_and_decoding_on_cuda_equal_cpu() -> None:
    torch.manual_seed(1)
    lm = build_charlm(SENTENCES, CharLMConfig(char_dim=8, hidden_size=16, lm_vocab_size=30, lm_cutoffs=(10,)))
    tagger = build_tagger(SENTENCES, TAGS, TaggerConfig(word_dim=16, hidden_size=16, use_charlm=True), charlm=lm)
    tagger.eval()
    batch = tagger.collate(encoded(tagger))
    loss_cpu = tagger.loss(batch).total()
    tags_cpu = tagger.decode(batch)
    features_cpu = tagger.cache(SENTENCES)["charlm"]
    tagger.to(CUDA)
    loss_gpu = tagger.loss(batch.to(CUDA)).total()
    assert loss_gpu.device.type == "cuda" and torch.allclose(loss_cpu, loss_gpu.cpu(), atol=1e-3)
    assert tagger.decode(batch.to(CUDA))[0] == tags_cpu[0]
    features_gpu = tagger.cache(SENTENCES, device=CUDA)["charlm"]
    for a, b in zip(features_cpu, features_gpu):
        assert torch.allclose(a.float(), b.float().cpu(), atol=2e-2)


def test_train_and_predict_on_cuda_with_mixed_precision(tmp_path: Path) -> None:
    runner = CliRunner()
    run_dir = tmp_path / "run"
    result = runner.invoke(app, ["train", str(ROOT / "configs" / "sample.toml"), "-o", str(run_dir), "--device",
                                 "cuda", "--set", "train.epochs=3", "--set", "train.mixed_precision=true"])
    assert result.exit_code == 0, result.output
    report = json.loads((run_dir / "report.json").read_text())
    assert report["device"].startswith("cuda")
    assert report["train"]["epochs"] == 3 and report["test"]["micro"]["support"] > 0
    out = tmp_path / "pred.jsonl"
    result = runner.invoke(app, ["predict", str(run_dir), str(ROOT / "data" / "sample" / "abstracts.txt"), "-o",
                                 str(out), "--device", "cuda"])
    assert result.exit_code == 0, result.output
    assert out.read_text().strip()
