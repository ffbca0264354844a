"""The transformer encoder option: sub-word alignment, windows, pooling, offline loading, and the CLI end to end.

Every model here is a tiny BERT with random weights and a character-level WordPiece vocabulary, built in
``tmp_path``: nothing is downloaded.
"""

from __future__ import annotations

import json
import shutil
import string
from pathlib import Path

import pytest
import torch

transformers = pytest.importorskip("transformers")

from typer.testing import CliRunner  # noqa: E402

from distant.cli import app  # noqa: E402
from distant.errors import DistantError  # noqa: E402
from distant.models.tagger import Tagger, TaggerConfig, build_tagger  # noqa: E402
from distant.predict import decode  # noqa: E402
from distant.models.transformer import (TransformerEncoder, collate_subwords, load_transformer,  # noqa: E402
                                        plan_windows)

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
CONFIG = ROOT / "configs" / "sample.toml"
TAGS = ["O", "B-Chemical", "I-Chemical", "B-Disease", "I-Disease"]
runner = CliRunner()

# Letters, digits and punctuation, each as a word start and as a continuation ("##a"): every ASCII word
# tokenizes, mostly one piece per character, so sentences are long in pieces and need windows.
PUNCT = ".,;:()-/%'+[]"
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *string.ascii_lowercase, *string.digits, *PUNCT,
         "the", "in", "and", *(f"##{c}" for c in string.ascii_lowercase + string.digits)]


def make_bert(folder: Path, *, layers: int = 2, max_positions: int = 64, seed: int = 0) -> Path:
    """Save a tiny random BERT and its WordPiece tokenizer into ``folder`` (a local model directory)."""
    folder.mkdir(parents=True)
    (folder / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    tokenizer = transformers.BertTokenizerFast.from_pretrained(str(folder))
    torch.manual_seed(seed)
    config = transformers.BertConfig(vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=layers,
                                     num_attention_heads=2, intermediate_size=64,
                                     max_position_embeddings=max_positions)
    transformers.BertModel(config).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> Path:
    return make_bert(tmp_path_factory.mktemp("models") / "tiny-bert")


@pytest.fixture(scope="module")
def bag_of_pieces(tmp_path_factory) -> TransformerEncoder:
    """A BERT without layers or positions: a piece's state depends on its id alone, wherever it sits."""
    folder = make_bert(tmp_path_factory.mktemp("models") / "bag", layers=0, max_positions=256)
    encoder = load_transformer(str(folder))
    with torch.no_grad():
        encoder.model.embeddings.position_embeddings.weight.zero_()
        encoder.model.embeddings.token_type_embeddings.weight.zero_()
    return encoder.eval()


def piece_states(encoder: TransformerEncoder, pieces: list[int]) -> torch.Tensor:
    """Return each piece's state in one plain forward pass (no windows)."""
    ids = torch.tensor([pieces])
    with torch.no_grad():
        return encoder.model(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state[0]


SENTENCE = "Cisplatin - induced nephrotoxicity in rats given 5 mg / kg of NAC ( N-acetylcysteine ) .".split()


def test_windows_cover_every_piece_with_the_most_context():
    starts, win, offset = plan_windows(20, 6)
    assert starts == [0, 3, 6, 9, 12, 14]
    assert (starts_of := [starts[w] for w in win]) and [s + o for s, o in zip(starts_of, offset)] == list(range(20))
    assert offset.min() >= 0 and offset.max() < 6
    assert plan_windows(5, 6)[0] == [0]


@pytest.mark.parametrize("pooling", ["first", "mean"])
def test_windowed_features_equal_unwindowed_ones(bag_of_pieces, pooling):
    enc = bag_of_pieces
    whole = TransformerEncoder(enc.model, enc.tokenizer, pooling=pooling).eval()
    small = TransformerEncoder(enc.model, enc.tokenizer, pooling=pooling, window=8).eval()
    example = small.encode([SENTENCE])[0]
    assert example.ids.shape[0] > 3 and example.ids.shape[1] <= 8  # the sentence needs several windows
    assert (example.ids[example.win, example.pos] == whole.encode([SENTENCE])[0].ids[0, 1:-1]).all()
    a = whole.features([SENTENCE], dtype=torch.float32)[0]
    b = small.features([SENTENCE], dtype=torch.float32)[0]
    assert a.shape == b.shape == (len(SENTENCE), 32)
    torch.testing.assert_close(a, b)
    # against the definition: the first piece's state, or the mean of the word's pieces
    pieces = enc._backend.encode([SENTENCE[0]], is_pretokenized=True, add_special_tokens=False).ids
    states = piece_states(enc, pieces)
    expected = states[0] if pooling == "first" else states.mean(0)
    torch.testing.assert_close(a[0], expected)


def test_pooling_shapes_padding_and_dropped_words(tiny_bert):
    sentences = [["Aspirin", "\u200b", "toxicity"], ["NAC"], SENTENCE]
    for pooling in ("first", "mean"):
        enc = load_transformer(str(tiny_bert), pooling=pooling, window=16).eval()
        examples = enc.encode(sentences)
        assert examples[0].word.tolist().count(1) == 1  # the zero-width word became one unknown piece
        batch = collate_subwords(examples, num_words=len(SENTENCE))
        with torch.no_grad():
            out = enc(batch)
        assert out.shape == (3, len(SENTENCE), 32)
        assert (out[1, 1:] == 0).all() and (out[0, 3:] == 0).all()  # padding words stay zero
        assert (out[2].abs().sum(-1) > 0).all()


def test_parameter_groups_and_frozen_cache(tiny_bert):
    sentences = [SENTENCE, ["Aspirin", "caused", "bleeding", "."]]
    tuned = build_tagger(sentences, TAGS, TaggerConfig(encoder="transformer", transformer=str(tiny_bert),
                                                       fine_tune=True, encoder_lr=1e-4, word_dim=0,
                                                       hidden_size=0))
    groups = tuned.parameter_groups(1e-2)
    assert [g["lr"] for g in groups] == [1e-2, 1e-4]
    assert sum(p.numel() for p in groups[1]["params"]) == sum(p.numel() for p in tuned.inputs["transformer"].parameters())
    frozen = build_tagger(sentences, TAGS, TaggerConfig(encoder="transformer", transformer=str(tiny_bert),
                                                        window=16, hidden_size=8, word_dim=4))
    assert len(frozen.parameter_groups(1e-2)) == 1
    frozen.train()
    assert not frozen.inputs["transformer"].training  # frozen: no dropout, so cached features equal live ones
    cached = frozen.encode(sentences, cached=frozen.cache(sentences))
    live = frozen.encode(sentences)
    assert isinstance(cached[0].inputs["transformer"], torch.Tensor)
    assert not isinstance(live[0].inputs["transformer"], torch.Tensor)
    frozen.eval()
    torch.testing.assert_close(frozen.emissions(frozen.collate(cached)), frozen.emissions(frozen.collate(live)),
                               atol=2e-2, rtol=0)


def test_checkpoint_is_self_contained(tiny_bert, tmp_path):
    model_dir = tmp_path / "copy"
    shutil.copytree(tiny_bert, model_dir)
    sentences = [SENTENCE]
    tagger = build_tagger(sentences, TAGS, TaggerConfig(encoder="transformer", transformer=str(model_dir),
                                                        pooling="mean", window=12, fine_tune=True))
    torch.save(tagger.to_checkpoint(), tmp_path / "model.pt")
    shutil.rmtree(model_dir)
    again = Tagger.from_checkpoint(torch.load(tmp_path / "model.pt", weights_only=True))
    transformer = again.inputs["transformer"].encoder
    assert transformer.window == 12 and transformer.pooling == "mean"
    assert decode(again, again.encode(sentences)) == decode(tagger.eval(), tagger.encode(sentences))


def test_model_that_is_not_local_is_one_clear_error(tmp_path):
    with pytest.raises(DistantError, match="not a local directory and not in the local cache"):
        load_transformer("some-org/biomed-bert-that-is-not-here")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DistantError, match="expected a Hugging Face model directory"):
        load_transformer(str(tmp_path / "empty"))
    with pytest.raises(DistantError, match="at most 64 pieces"):
        load_transformer(str(make_bert(tmp_path / "m")), window=100)
    with pytest.raises(DistantError, match="environment variable"):
        load_transformer("${NOT_SET_ANYWHERE}")


# -- the command line ---------------------------------------------------------------------------------------
def ok(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def transformer_settings(model_dir: Path, **model) -> list[str]:
    settings = {"model.encoder": "transformer", "model.transformer": str(model_dir), "model.use_charlm": False,
                "model.word_dim": 0, "train.epochs": 1, "pretrain.epochs": 0, "train.lr": 0.01,
                **{f"model.{k}": v for k, v in model.items()}}
    args = []
    for key, value in settings.items():
        text = json.dumps(value) if isinstance(value, str) else str(value).lower()
        args += ["--set", f"{key}={text}"]
    return args


def encoder_weights(state: dict) -> dict[str, torch.Tensor]:
    return {k.removeprefix("inputs.transformer.encoder."): v for k, v in state.items()
            if k.startswith("inputs.transformer.encoder.")}


def test_cli_fine_tunes_and_the_run_folder_predicts_on_its_own(tiny_bert, tmp_path):
    model_dir = tmp_path / "tiny-bert"
    shutil.copytree(tiny_bert, model_dir)
    run = tmp_path / "run"
    ok("train", CONFIG, "-o", run, *transformer_settings(model_dir, fine_tune=True, hidden_size=0, dropout=0.1,
                                                          encoder_lr=1e-3))
    report = json.loads((run / "report.json").read_text())
    assert report["train"]["epochs"] == 1 and report["test"]["micro"]["support"] == 66
    state = torch.load(run / "model.pt", weights_only=True)["state_dict"]
    before = transformers.BertModel.from_pretrained(str(model_dir)).state_dict()
    tuned = encoder_weights(state)
    assert not torch.equal(tuned["model.embeddings.word_embeddings.weight"],
                           before["embeddings.word_embeddings.weight"])  # fine-tuning moved the encoder
    ok("predict", run, SAMPLE / "abstracts.txt", "-o", tmp_path / "a.jsonl")
    ok("predict", run, SAMPLE / "abstracts.txt", "-o", tmp_path / "b.jsonl")
    shutil.rmtree(model_dir)  # the run folder needs the original model directory no more
    moved = shutil.copytree(run, tmp_path / "moved")
    ok("predict", moved / "model.pt", SAMPLE / "abstracts.txt", "-o", tmp_path / "c.jsonl")
    a = (tmp_path / "a.jsonl").read_text()
    assert a == (tmp_path / "b.jsonl").read_text() == (tmp_path / "c.jsonl").read_text()


def test_cli_resume_restores_both_learning_rate_groups(tiny_bert, tmp_path):
    args = transformer_settings(tiny_bert, fine_tune=True, hidden_size=0, encoder_lr=1e-3)
    ok("train", CONFIG, "-o", tmp_path / "whole", *args, "--set", "train.epochs=2")
    ok("train", CONFIG, "-o", tmp_path / "parts", *args)
    ok("train", CONFIG, "-o", tmp_path / "parts", "--resume", *args, "--set", "train.epochs=2")
    whole, parts = ([json.loads(line)["loss"] for line in (tmp_path / r / "metrics.jsonl").read_text().splitlines()]
                    for r in ("whole", "parts"))
    assert len(parts) == 2 and parts == pytest.approx(whole, rel=1e-5)
    last = torch.load(tmp_path / "parts" / "last.pt", weights_only=True)
    assert [g["lr"] for g in last["optimizer"]["param_groups"]] == [0.01, 1e-3]


def test_cli_frozen_transformer_with_char_lm_features(tiny_bert, tmp_path):
    run = tmp_path / "run"
    ok("train", CONFIG, "-o", run, *transformer_settings(tiny_bert, pooling="mean", window=24, use_charlm=True,
                                                          hidden_size=16, word_dim=8))
    state = torch.load(run / "model.pt", weights_only=True)["state_dict"]
    before = transformers.BertModel.from_pretrained(str(tiny_bert)).state_dict()
    frozen = encoder_weights(state)
    assert frozen and all(torch.equal(v, before[k.removeprefix("model.")]) for k, v in frozen.items())
    assert any(k.startswith("inputs.charlm.lm.") for k in state) and any(k.startswith("encoder.layers.0.fw.") for k in state)
    ok("predict", run, SAMPLE / "gold.pubtator", "-o", tmp_path / "a.pubtator")
    ok("predict", run, SAMPLE / "gold.pubtator", "-o", tmp_path / "b.pubtator")
    assert (tmp_path / "a.pubtator").read_text() == (tmp_path / "b.pubtator").read_text()


def test_cli_unknown_encoder_is_one_line(tmp_path):
    result = runner.invoke(app, ["train", str(CONFIG), "-o", str(tmp_path / "run"), "--set", "model.encoder=bert"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"distant: error: {CONFIG}: model.encoder: expected one of lstm, transformer, found 'bert'"]


def test_cli_hub_name_without_network_is_one_line(tmp_path):
    result = runner.invoke(app, ["train", str(CONFIG), "-o", str(tmp_path / "run"),
                                 *transformer_settings(Path("microsoft/BiomedNLP-PubMedBERT-base-uncased-abstract"))])
    assert result.exit_code == 2, result.output
    # the stage lines before it are progress ("labeling the training text"); the error is one line, the last
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("distant: error:")]
    assert errors == lines[-1:], result.stderr
    assert errors[0].startswith("distant: error: cannot load transformer model 'microsoft/BiomedNLP-PubMedBERT")
    assert "not a local directory" in errors[0] and "Traceback" not in result.output
