"""Throughput by thread setting, on an idle machine and next to one busy process (prints a Markdown table).

Three workloads on BC5CDR text: char-LM pre-training (chars/s), tagger training with cached char-LM features
(words/s; the default config's sizes) and prediction with ``distant.predict.predict_documents`` (sentences/s).
Each runs in a fresh process under each setting: ``auto`` (``train.threads = 0``, the default: one torch
thread and two branch workers, see ``distant/models/parallel.py``), ``1`` and ``2`` (torch intra-op threads,
branches in turn) and, on bigger machines, all cores. "busy" starts one CPU-bound process (a Python busy loop)
beside it, as another user's job on a shared machine would be. Times are wall clock over whole steps, stalls
included (not a median, which would hide them).

Usage: .venv/bin/python bench/bench_threads.py [--seconds 20] [--markdown]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WORKLOADS = {"pretrain": "char-LM pre-training (chars/s)", "train": "tagger training (words/s)",
             "predict": "prediction (sentences/s)"}


def _corpus(n_docs: int):
    from distant.config import data_dir
    from distant.corpus import chunk_words, chunks, read_corpus

    docs = read_corpus([data_dir() / "BC5CDR" / "original" / "CDR_TrainingSet.PubTator.txt"])[:n_docs]
    return docs, chunk_words(docs, chunks(docs, 100))


def cell(workload: str, threads: int, seconds: float) -> float:
    """Run one workload for about ``seconds`` and return its throughput."""
    import torch

    from distant.models import CharLMConfig, TaggerConfig, build_charlm, build_tagger, parallel
    from distant.models.charlm import collate_chars

    parallel.configure(threads, "cpu")
    torch.manual_seed(0)
    docs, sentences = _corpus(300)
    lm = build_charlm(sentences, CharLMConfig(hidden_size=256, lm_vocab_size=10000))
    if workload == "pretrain":
        examples = [lm.encode(s) for s in sentences]
        optimizer = torch.optim.Adam(lm.parameters(), lr=2e-3)
        lm.train()

        def step(k: int) -> int:
            batch = collate_chars(examples[(k * 32) % len(examples):][:32])
            loss = lm.lm_loss(batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            return batch.num_chars
    elif workload == "train":
        config = TaggerConfig(word_dim=50, hidden_size=200, use_charlm=True, freeze_charlm=True, char_proj_dim=128)
        tagger = build_tagger(sentences, ["O", "B-Chemical", "I-Chemical", "B-Disease", "I-Disease"], config,
                              charlm=lm)
        features = tagger.cache(sentences)
        allowed = [torch.ones(len(s), 5, dtype=torch.bool) for s in sentences]
        examples = tagger.encode(sentences, allowed=allowed, cached=features)
        examples.sort(key=lambda e: e.length)  # length-bucketed batches, as training makes them
        optimizer = torch.optim.RAdam(tagger.trainable_parameters(), lr=1e-3)
        tagger.train()

        def step(k: int) -> int:
            batch = tagger.collate(examples[(k * 32) % len(examples):][:32])
            loss = tagger.loss(batch).total()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            return batch.num_words
    else:
        from distant.predict import predict_documents

        config = TaggerConfig(word_dim=50, hidden_size=200, use_charlm=True, freeze_charlm=True, char_proj_dim=128)
        tagger = build_tagger(sentences, ["O", "B-Chemical", "I-Chemical", "B-Disease", "I-Disease"], config,
                              charlm=lm).eval()
        part = [d.copy(layers=()) for d in docs[:60]]

        def step(k: int) -> int:
            return int(predict_documents(tagger, [d.copy(layers=()) for d in part])["sentences"])

    step(0)  # warm-up: first calls pay one-off costs
    done, start, k = 0, time.perf_counter(), 1
    while time.perf_counter() - start < seconds:
        done += step(k)
        k += 1
    return done / (time.perf_counter() - start)


def settings() -> list[int]:
    from distant.models.parallel import available_cores

    cores = available_cores()
    return [0, 1, 2] + ([cores] if cores > 2 else [])


def run_cell(workload: str, threads: int, busy: bool, seconds: float) -> float:
    competitor = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        out = subprocess.run([sys.executable, __file__, "--cell", workload, str(threads), "--seconds", str(seconds)],
                             check=True, capture_output=True, text=True, cwd=ROOT)
    finally:
        if competitor is not None:
            competitor.kill()
            competitor.wait()
    return json.loads(out.stdout.strip().splitlines()[-1])["rate"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="measuring time per cell")
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--cell", nargs=2, metavar=("WORKLOAD", "THREADS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cell:
        print(json.dumps({"rate": cell(args.cell[0], int(args.cell[1]), args.seconds)}))
        return
    from distant.models.parallel import available_cores

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    print(f"{cpu}, {available_cores()} cores, load average {os.getloadavg()[0]:.1f} at the start\n")
    names = {0: "auto (default)", 1: "1 thread", 2: "2 threads"}
    header = "| workload | setting | idle | one busy process | busy / idle | vs best (idle, busy) |"
    print(header)
    print("|---|---|---|---|---|---|")
    for workload in args.workloads.split(","):
        rows = {t: (run_cell(workload, t, False, args.seconds), run_cell(workload, t, True, args.seconds))
                for t in settings()}
        best_idle = max(r[0] for r in rows.values())
        best_busy = max(r[1] for r in rows.values())
        for t, (idle, busy) in rows.items():
            print(f"| {WORKLOADS[workload]} | {names.get(t, f'{t} threads')} | {idle:,.0f} | {busy:,.0f} | "
                  f"{busy / idle:.2f} | {idle / best_idle:.2f}, {busy / best_busy:.2f} |", flush=True)


if __name__ == "__main__":
    main()
