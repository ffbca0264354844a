"""Training and tagging throughput of the tagger on random 25-word sentences (prints a table).

Usage: .venv/bin/python bench/bench_models.py [--threads 2] [--steps 20]
"""

from __future__ import annotations

import argparse
import random
import statistics
import string
import time

import torch

from distant.config.run import PretrainConfig
from distant.models import (CharLMConfig, Tagger, TaggerConfig, TaggerExample, build_charlm, build_tagger,
                            compute_charlm_features, pretrain_charlm)

TAGS = ["O", "B-Chemical", "I-Chemical", "B-Disease", "I-Disease"]


def random_corpus(n_sentences: int, length: int, vocab_size: int, seed: int) -> list[list[str]]:
    """Return random sentences over a Zipf-ish vocabulary of random lower-case words (3-12 letters)."""
    rng = random.Random(seed)
    vocab = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 12))) for _ in range(vocab_size)]
    weights = [1.0 / (i + 1) for i in range(vocab_size)]
    return [rng.choices(vocab, weights, k=length) for _ in range(n_sentences)]


def random_allowed(sentences: list[list[str]], seed: int) -> list[torch.Tensor]:
    """Return allowed sets: mostly O, some singleton entity tags, some "unknown" (all tags)."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for s in sentences:
        r = torch.rand(len(s), generator=g)
        m = torch.zeros(len(s), len(TAGS), dtype=torch.bool)
        m[:, 0] = r < 0.8
        m[(r >= 0.8) & (r < 0.9), 1] = True
        m[r >= 0.9] = True
        out.append(m)
    return out


def time_training(tagger: Tagger, examples: list[TaggerExample], batch_size: int, steps: int) -> float:
    """Return training words/s (collate + forward + backward + Adam step), after 5 warm-up steps.

    Uses the median step time, so that other processes on a shared machine distort it less.
    """
    opt = torch.optim.Adam(tagger.trainable_parameters(), lr=1e-3)
    tagger.train()
    words, times = 0, []
    for step in range(steps + 5):
        ids = [(step * batch_size + i) % len(examples) for i in range(batch_size)]
        start = time.perf_counter()
        batch = tagger.collate([examples[i] for i in ids])
        loss = tagger.loss(batch).total()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(tagger.trainable_parameters(), 5.0)
        opt.step()
        if step >= 5:
            times.append(time.perf_counter() - start)
            words += batch.num_words
    return words / len(times) / statistics.median(times)


def time_decoding(tagger: Tagger, examples: list[TaggerExample], batch_size: int, steps: int) -> float:
    """Return decoding words/s (Viterbi + marginals), from the median batch time."""
    words, times = 0, []
    for step in range(steps):
        batch = tagger.collate(examples[step * batch_size:(step + 1) * batch_size])
        start = time.perf_counter()
        tagger.decode(batch)
        times.append(time.perf_counter() - start)
        words += batch.num_words
    return words / len(times) / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--length", type=int, default=25)
    parser.add_argument("--char-hidden", type=int, default=256)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    bs = args.batch_size
    n = bs * (args.steps + 5)
    sentences = random_corpus(n, args.length, 20000, seed=0)
    allowed = random_allowed(sentences, seed=0)
    lm_config = CharLMConfig(hidden_size=args.char_hidden)
    charlm = build_charlm(sentences, lm_config)

    rows = []
    warm = build_tagger(sentences, TAGS, TaggerConfig())  # the first timed run otherwise pays one-off costs
    time_training(warm, warm.encode(sentences, allowed=allowed), bs, 5)
    for hidden in (100, 200):
        base = TaggerConfig(word_dim=100, hidden_size=hidden)
        tagger = build_tagger(sentences, TAGS, base)
        ex = tagger.encode(sentences, allowed=allowed)
        rows.append((f"(a) word emb, BiLSTM {hidden}/dir", time_training(tagger, ex, bs, args.steps),
                     time_decoding(tagger, ex, bs, args.steps)))

        cfg = TaggerConfig(word_dim=100, hidden_size=hidden, use_charlm=True, freeze_charlm=True)
        tagger = build_tagger(sentences, TAGS, cfg, charlm=charlm)
        start = time.perf_counter()
        feats = compute_charlm_features(charlm, sentences)
        cache_wps = sum(map(len, sentences)) / (time.perf_counter() - start)
        ex = tagger.encode(sentences, allowed=allowed, cached={"charlm": feats})
        rows.append((f"(b) + cached char-LM features, BiLSTM {hidden}/dir", time_training(tagger, ex, bs, args.steps),
                     time_decoding(tagger, ex, bs, args.steps)))
        cfg = TaggerConfig(word_dim=100, hidden_size=hidden, use_charlm=True, freeze_charlm=True, char_proj_dim=128)
        tagger = build_tagger(sentences, TAGS, cfg, charlm=charlm)
        ex = tagger.encode(sentences, allowed=allowed, cached={"charlm": feats})
        rows.append((f"(b') same, char features projected to 128, BiLSTM {hidden}/dir",
                     time_training(tagger, ex, bs, args.steps), time_decoding(tagger, ex, bs, args.steps)))

        cfg = TaggerConfig(word_dim=100, hidden_size=hidden, use_charlm=True, freeze_charlm=False, lm_weight=1.0)
        tagger = build_tagger(sentences, TAGS, cfg, charlm=build_charlm(sentences, lm_config))
        ex = tagger.encode(sentences, allowed=allowed)
        rows.append((f"(c) + co-trained char LM, BiLSTM {hidden}/dir", time_training(tagger, ex, bs, args.steps),
                     time_decoding(tagger, ex, bs, args.steps)))

    start = time.perf_counter()
    for p in pretrain_charlm(sentences, lm_config, PretrainConfig(epochs=1), seed=0):
        pass
    pre_chars = p["chars_per_s"]
    pre_wps = sum(map(len, sentences)) / (time.perf_counter() - start)

    print(f"threads={torch.get_num_threads()} batch={bs} words/sentence={args.length} "
          f"char LM hidden={args.char_hidden}/dir, torch {torch.__version__}")
    print(f"| {'setting':<56} | {'train words/s':>13} | {'decode words/s':>14} | {'230k words/epoch':>16} |")
    print(f"|{'-' * 58}|{'-' * 15}|{'-' * 16}|{'-' * 18}|")
    for name, train, dec in rows:
        print(f"| {name:<56} | {train:>13,.0f} | {dec:>14,.0f} | {230_000 / train:>15,.0f}s |")
    print(f"\nchar-LM feature caching: {cache_wps:,.0f} words/s ({230_000 / cache_wps:,.0f}s for 230k words)")
    print(f"char-LM pre-training: {pre_chars:,.0f} chars/s, {pre_wps:,.0f} words/s "
          f"({230_000 / pre_wps:,.0f}s per 230k-word epoch)")


if __name__ == "__main__":
    main()
