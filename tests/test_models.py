"""The tagger, char LM, vocabularies and word-vector loader on a tiny corpus."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
import torch

from distant.config.run import PretrainConfig
from distant.corpus import encode_documents
from distant.docs import PSEUDO, UNKNOWN, Document, Span
from distant.errors import DistantError
from distant.models import (CharLM, CharLMConfig, CharVocab, Tagger, TaggerConfig, WordVocab, build_charlm,
                            build_tagger, compute_charlm_features, load_word_vectors, pretrain_charlm)
from distant.models.charlm import cpu_has_bf16
from distant.predict import decode
from distant.tags import tags_to_spans

TAGS = ["O", "B-Chemical", "I-Chemical", "B-Disease", "I-Disease"]

CORPUS = [
    ("Aspirin caused severe headache in two patients .", "B-Chemical O O B-Disease O O O O"),
    ("Lithium carbonate induced renal failure .", "B-Chemical I-Chemical O B-Disease I-Disease O"),
    ("No hypertension was seen after cocaine use .", "O B-Disease O O O B-Chemical O O"),
    ("The patient developed acute liver injury .", "O O O B-Disease I-Disease I-Disease O"),
    ("Haloperidol reduced the seizures in rats .", "B-Chemical O O B-Disease O O O"),
    ("Doses of 5 mg of morphine were given .", "O O O O O B-Chemical O O O"),
    ("Cisplatin nephrotoxicity is dose dependent .", "B-Chemical B-Disease O O O O"),
    ("Valproic acid may cause hepatotoxicity .", "B-Chemical I-Chemical O O B-Disease O"),
    ("Patients with diabetes received insulin daily .", "O O B-Disease O B-Chemical O O"),
    ("Heparin induced thrombocytopenia was rare .", "B-Chemical O B-Disease O O O"),
]
SENTENCES = [s.split() for s, _ in CORPUS]
GOLD = [t.split() for _, t in CORPUS]

SMALL = TaggerConfig(word_dim=24, hidden_size=24, dropout=0.0)
SMALL_LM = CharLMConfig(char_dim=8, hidden_size=16, lm_vocab_size=30, lm_cutoffs=(10,), dropout=0.0)


def documents(tag_rows: list[list[str]] = GOLD) -> list[Document]:
    """Return the corpus as documents (one sentence each) whose pseudo layer says ``tag_rows`` (``-``: unknown)."""
    docs = []
    for k, (words, tags) in enumerate(zip(SENTENCES, tag_rows)):
        doc = Document(f"s{k}", " ".join(words))
        starts = [sum(len(w) + 1 for w in words[:i]) for i in range(len(words))]
        doc.set_tokens([(a, a + len(w)) for a, w in zip(starts, words)])
        spans = [Span(*doc.char_span(i, j), label) for i, j, label in tags_to_spans(
            [t if t != UNKNOWN else "O" for t in tags])]
        spans += [Span(*doc.char_span(i, i + 1), UNKNOWN) for i, t in enumerate(tags) if t == UNKNOWN]
        doc.set_spans(PSEUDO, spans)
        docs.append(doc)
    return docs


def encoded(tagger: Tagger, tag_rows: list[list[str]] = GOLD) -> list:
    """Encode the corpus for ``tagger`` the way training does, allowed tags from the pseudo layer."""
    return encode_documents(tagger, documents(tag_rows), allowed_from=PSEUDO).examples


def _fit(tagger: Tagger, examples: list, steps: int, lr: float = 0.05) -> None:
    opt = torch.optim.Adam(tagger.trainable_parameters(), lr=lr)
    batch = tagger.collate(examples)
    tagger.train()
    for _ in range(steps):
        loss = tagger.loss(batch).total()
        opt.zero_grad()
        loss.backward()
        opt.step()


def test_corpus_is_consistent() -> None:
    assert all(len(s) == len(t) for s, t in zip(SENTENCES, GOLD))


def test_overfits_tiny_corpus_with_singleton_sets() -> None:
    torch.manual_seed(0)
    tagger = build_tagger(SENTENCES, TAGS, SMALL)
    examples = encoded(tagger)
    _fit(tagger, examples, steps=60)
    tags, conf = decode(tagger, examples)
    assert tags == GOLD
    assert all(0.5 < c <= 1.0 + 1e-6 for row in conf for c in row)


def hide_every_other_entity(tags: list[str]) -> list[str]:
    out, entity = list(tags), -1
    for i, t in enumerate(tags):
        entity += t.startswith("B-")
        if t != "O" and entity % 2:
            out[i] = UNKNOWN
    return out


def test_unknown_tokens_still_fit_the_known_ones() -> None:
    torch.manual_seed(1)
    # Hide every other entity: its tokens ("-" spans) may take any tag.
    partial = [hide_every_other_entity(row) for row in GOLD]
    tagger = build_tagger(SENTENCES, TAGS, SMALL)
    examples = encoded(tagger, partial)
    assert examples[1].allowed[3].all() and examples[1].allowed[0].sum() == 1  # "renal" hidden, "Lithium" B-Chemical
    _fit(tagger, examples, steps=60)
    tags, _ = decode(tagger, examples)
    for pred, known in zip(tags, partial):
        assert all(p == k for p, k in zip(pred, known) if k != UNKNOWN)


def test_encode_checks_allowed_sets_and_cached_features() -> None:
    tagger = build_tagger(SENTENCES, TAGS, SMALL)
    with pytest.raises(DistantError, match="allowed tags of shape"):
        tagger.encode(SENTENCES[:1], allowed=[torch.ones(2, len(TAGS), dtype=torch.bool)])
    with pytest.raises(DistantError, match="frozen"):
        tagger.encode(SENTENCES[:1], cached={"words": [torch.zeros(len(SENTENCES[0]), 24)]})


def test_charlm_boundaries_and_causality() -> None:
    torch.manual_seed(2)
    lm = build_charlm(SENTENCES, SMALL_LM).eval()
    ex = lm.encode(["ab", "c", "def"])
    assert (ex.fw_chars[ex.fw_pos] == CharVocab.SEP_ID).all()
    assert (ex.bw_chars[ex.bw_pos] == CharVocab.SEP_ID).all()
    a = compute_charlm_features(lm, [["ab", "c", "def"]], dtype=torch.float32)[0]
    b = compute_charlm_features(lm, [["ab", "c", "xyz"]], dtype=torch.float32)[0]
    h = SMALL_LM.hidden_size
    assert torch.allclose(a[:2, :h], b[:2, :h])  # forward states of words before the change are unchanged
    assert not torch.allclose(a[:, h:], b[:, h:])  # backward states see the later word


def test_charlm_loss_decreases() -> None:
    progress = list(pretrain_charlm(SENTENCES, SMALL_LM, PretrainConfig(epochs=15, batch_size=5, lr=0.01), seed=0))
    first = sum(p["loss"] for p in progress[:2]) / 2
    last = sum(p["loss"] for p in progress[-2:]) / 2
    assert last < first - 0.5
    assert set(progress[-1]) >= {"epoch", "step", "loss", "chars_per_s", "model"}


@pytest.mark.parametrize("bf16", [False, pytest.param(True, marks=pytest.mark.skipif(
    not cpu_has_bf16(), reason="this CPU has no native bfloat16 (the production path never uses it here)"))])
def test_cached_features_equal_live_features(bf16: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    import distant.models.charlm as charlm_module

    # bf16 = True: the bfloat16 autocast the features get on this CPU; False: float32, as everywhere else
    monkeypatch.setattr(charlm_module, "cpu_has_bf16", lambda: bf16)
    torch.manual_seed(3)
    lm = build_charlm(SENTENCES, SMALL_LM)
    tagger = build_tagger(SENTENCES, TAGS, TaggerConfig(word_dim=8, hidden_size=8, use_charlm=True), charlm=lm)
    tagger.eval()
    cached = compute_charlm_features(lm, SENTENCES, dtype=torch.float32)
    live = tagger.emissions(tagger.collate(tagger.encode(SENTENCES)))
    from_cache = tagger.emissions(tagger.collate(tagger.encode(SENTENCES, cached={"charlm": cached})))
    assert torch.allclose(live, from_cache, atol=2e-2 if bf16 else 1e-5)


def test_bf16_needs_the_flags_and_a_working_lstm(monkeypatch: pytest.MonkeyPatch) -> None:
    import distant.models.charlm as charlm_module

    monkeypatch.setattr(charlm_module, "cpu_flags", lambda: {"avx2", "fma"})  # AMD EPYC without AVX-512
    charlm_module.cpu_has_bf16.cache_clear()
    assert not charlm_module.cpu_has_bf16()
    assert isinstance(charlm_module.feature_autocast("cpu"), contextlib.nullcontext)

    def broken(*args, **kwargs):
        raise RuntimeError("could not create a primitive descriptor for the LSTM forward propagation primitive")

    monkeypatch.setattr(charlm_module, "cpu_flags", lambda: {"avx512_bf16"})
    monkeypatch.setattr(torch.nn.LSTM, "forward", broken)
    charlm_module.cpu_has_bf16.cache_clear()
    assert not charlm_module.cpu_has_bf16()
    charlm_module.cpu_has_bf16.cache_clear()


def test_vocab_state_round_trip() -> None:
    vocab = WordVocab.build(SENTENCES + [["Dose", "12mg"]], min_count=1)
    again = WordVocab.from_state(vocab.to_state())
    assert again.itos == vocab.itos and again.encode(["DOSE", "34mg", "zzz"]) == vocab.encode(["dose", "00mg", "q"])
    assert vocab.index("34mg") == vocab.index("12mg") != 1
    chars = CharVocab.build(SENTENCES)
    assert CharVocab.from_state(chars.to_state()).itos == chars.itos
    cfg = TaggerConfig(use_charlm=True, charlm=CharLMConfig(hidden_size=7))
    assert TaggerConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(DistantError, match="hiden_size.*hidden_size"):
        TaggerConfig.from_dict({"hiden_size": 3})


def test_checkpoint_round_trip_gives_identical_decoding(tmp_path: Path) -> None:
    torch.manual_seed(4)
    config = TaggerConfig(word_dim=8, hidden_size=8, use_charlm=True, charlm=SMALL_LM, freeze_charlm=False,
                          lm_weight=0.5)
    tagger = build_tagger(SENTENCES, TAGS, config)
    examples = encoded(tagger)
    _fit(tagger, examples, steps=3)
    terms = tagger.loss(tagger.collate(examples))
    assert terms.aux is not None and terms.crf.shape == (len(SENTENCES),)  # the co-trained char LM's loss
    tagger.tag_bias[1] = 0.3
    path = tmp_path / "model.pt"
    torch.save(tagger.to_checkpoint(), path)
    fresh = Tagger.from_checkpoint(torch.load(path, weights_only=True))
    batch = tagger.collate(tagger.encode(SENTENCES))
    assert fresh.decode(batch) == tagger.decode(batch)
    with pytest.raises(DistantError, match="format version"):
        Tagger.from_checkpoint({**tagger.to_checkpoint(), "format_version": 99})


def test_charlm_checkpoint_round_trip() -> None:
    lm = build_charlm(SENTENCES, SMALL_LM)
    again = CharLM.from_checkpoint(lm.to_checkpoint())
    for (k, v), (k2, v2) in zip(lm.state_dict().items(), again.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)


def test_word_vectors_loader(tmp_path: Path) -> None:
    vocab = WordVocab.build([["Aspirin", "caused", "pain"]])
    glove = tmp_path / "vec.txt"
    glove.write_text("3 2\naspirin 1.0 2.0\nASPIRIN 9 9\ncaused -1 0.5\nunused 3 3\n", encoding="utf-8")
    weights = load_word_vectors(glove, vocab)
    assert weights.shape == (len(vocab), 2)
    assert weights[vocab.index("aspirin")].tolist() == [1.0, 2.0]  # the exact (normalised) form wins
    assert weights[vocab.index("caused")].tolist() == [-1.0, 0.5]
    assert weights[0].tolist() == [0.0, 0.0]
    bad = tmp_path / "bad.txt"
    bad.write_text("aspirin 1.0 2.0\ncaused 1.0\n", encoding="utf-8")
    with pytest.raises(DistantError) as err:
        load_word_vectors(bad, vocab)
    assert err.value.line == 2 and err.value.path == str(bad)
    bad.write_text("aspirin 1.0 2.0\ncaused 1.0 x\n", encoding="utf-8")
    with pytest.raises(DistantError, match="'x'") as err:
        load_word_vectors(bad, vocab)
    assert err.value.line == 2
