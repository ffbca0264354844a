"""Benchmark the full BC5CDR pipeline and spaCy's own NER trained on the same pseudo-labels, side by side.

    python bench/bench_tagger.py                      # configs/bc5cdr.toml, spaCy efficiency NER
    python bench/bench_tagger.py --skip-spacy --set train.epochs=3
    python bench/bench_tagger.py --run runs/bc5cdr    # reuse a finished distant run, train only spaCy

Prints one table: test P/R/F1 (micro and per type), training words/s, prediction sentences/s and words/s,
wall time per stage, and spaCy's numbers as ratios. spaCy trains on the distant run's pseudo-labels (typed
spans as entities, everything else O: spaCy has no partial labels) with the same gold dev set.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from distant.corpus import read_corpus  # noqa: E402
from distant.docs import PSEUDO, Document, Span  # noqa: E402
from distant.evaluate import evaluate  # noqa: E402
from distant.formats import read_documents  # noqa: E402
from distant.train import load_config, run_training  # noqa: E402


def machine() -> str:
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{os.cpu_count()} CPU cores, torch threads {torch.get_num_threads()}, {gpu}"


def spacy_doc(doc: Document, vocab):
    """Return a spaCy ``Doc`` over our tokens (a token is followed by a space when the text has one)."""
    from spacy.tokens import Doc as SpacyDoc

    ends = [s for s, _ in doc.tokens[1:]] + [len(doc.text)]
    return SpacyDoc(vocab, words=doc.words(), spaces=[end < nxt for (_, end), nxt in zip(doc.tokens, ends)])


def to_docbin(docs: list[Document], layer: str, types: set[str], path: Path) -> None:
    """Write ``docs`` as a DocBin whose entities are the typed spans of ``layer`` (the rest is O)."""
    from spacy.tokens import DocBin
    from spacy.vocab import Vocab

    vocab, out = Vocab(), DocBin()
    for doc in docs:
        sdoc = spacy_doc(doc, vocab)
        ents = []
        for span in doc.spans(layer):
            rng = doc.token_range(span.start, span.end) if span.label in types else None
            if rng:
                ents.append(sdoc[rng[0]:rng[1]])
                ents[-1].label_ = span.label
        sdoc.set_ents([e for e in ents], default="outside")
        out.add(sdoc)
    out.to_disk(path)


def spacy_train(pseudo: list[Document], dev: list[Document], types: set[str], out: Path, epochs: int) -> dict:
    """Train spaCy's NER (CPU efficiency config) on the pseudo-labels; return timings."""
    out.mkdir(parents=True, exist_ok=True)
    to_docbin(pseudo, PSEUDO, types, out / "train.spacy")
    to_docbin(dev, "gold", types, out / "dev.spacy")
    py = sys.executable
    subprocess.run([py, "-m", "spacy", "init", "config", str(out / "config.cfg"), "--lang", "en", "--pipeline",
                    "ner", "--optimize", "efficiency", "--force"], check=True, capture_output=True)
    start = time.perf_counter()
    subprocess.run([py, "-m", "spacy", "train", str(out / "config.cfg"), "--output", str(out / "model"),
                    "--paths.train", str(out / "train.spacy"), "--paths.dev", str(out / "dev.spacy"),
                    "--training.max_epochs", str(epochs), "--training.max_steps", "0", "--nlp.batch_size", "256"],
                   check=True)
    seconds = time.perf_counter() - start
    words = sum(len(d.tokens) for d in pseudo) * epochs
    return {"seconds": seconds, "train_words_per_s": words / seconds}


def spacy_predict(model_dir: Path, test: list[Document]) -> tuple[list[Document], dict]:
    """Tag the test documents (on our tokens) with the trained spaCy pipeline."""
    import spacy

    nlp = spacy.load(model_dir)
    pred = []
    docs = [spacy_doc(doc, nlp.vocab) for doc in test]
    start = time.perf_counter()
    tagged = list(nlp.pipe(docs, batch_size=256))
    seconds = time.perf_counter() - start
    for doc, sdoc in zip(test, tagged):
        copy = doc.copy(layers=())
        copy.set_spans("pred", [Span(doc.tokens[e.start][0], doc.tokens[e.end - 1][1], e.label_, "spacy")
                                for e in sdoc.ents])
        pred.append(copy)
    sentences = sum(len(d.sentences) for d in test)
    words = sum(len(d.tokens) for d in test)
    return pred, {"seconds": seconds, "sentences_per_s": sentences / seconds, "words_per_s": words / seconds}


def row(name: str, result, train_wps: float, pred: dict) -> list[str]:
    per = result.per_type
    return [name, f"{result.micro.precision:.4f}", f"{result.micro.recall:.4f}", f"{result.micro.f1:.4f}",
            *(f"{per[t].f1:.4f}" if t in per else "-" for t in ("Chemical", "Disease")),
            f"{train_wps:,.0f}", f"{pred['sentences_per_s']:,.0f}", f"{pred['words_per_s']:,.0f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(ROOT / "configs" / "bc5cdr.toml"))
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    parser.add_argument("--out", default=str(ROOT / "runs" / "bench_tagger"))
    parser.add_argument("--run", help="a finished distant run folder to reuse instead of training")
    parser.add_argument("--skip-spacy", action="store_true")
    parser.add_argument("--spacy-epochs", type=int, default=10)
    args = parser.parse_args()
    out = Path(args.out)
    config = load_config(args.config, args.overrides)
    wall = time.perf_counter()
    run_dir = Path(args.run) if args.run else out / "distant"
    if args.run:
        report = json.loads((run_dir / "report.json").read_text())
    else:
        report = run_training(config, run_dir, config_path=Path(args.config))
    gold = read_corpus([config.data.test])
    pred = read_documents(run_dir / "test.pred.jsonl") if (run_dir / "test.pred.jsonl").is_file() else None
    rows = [["system", "P", "R", "F1", "F1 Chem", "F1 Dis", "train words/s", "pred sent/s", "pred words/s"]]
    from distant.predict import load_model, predict_documents

    if pred is None:
        model = load_model(run_dir)
        pred = [d.copy(layers=()) for d in gold]
        speed = predict_documents(model, pred)
    else:
        speed = report["test"]["prediction"]
    ours = evaluate(gold, pred)
    rows.append(row("distant", ours, report["train"]["words_per_s"], speed))
    stages = report["seconds"]
    if not args.skip_spacy:
        types = set(config.data.types)
        pseudo = read_documents(run_dir / "pseudo.jsonl")
        dev = read_corpus([config.data.dev])
        sp_train = spacy_train(pseudo, dev, types, out / "spacy", args.spacy_epochs)
        sp_pred, sp_speed = spacy_predict(out / "spacy" / "model" / "model-best", gold)
        theirs = evaluate(gold, sp_pred)
        rows.append(row("spaCy NER", theirs, sp_train["train_words_per_s"], sp_speed))
        stages["spacy_train"] = sp_train["seconds"]
        rows.append(["distant / spaCy", "", "", f"{ours.micro.f1 / max(theirs.micro.f1, 1e-9):.2f}x", "", "",
                     f"{report['train']['words_per_s'] / sp_train['train_words_per_s']:.2f}x",
                     f"{speed['sentences_per_s'] / sp_speed['sentences_per_s']:.2f}x",
                     f"{speed['words_per_s'] / sp_speed['words_per_s']:.2f}x"])
    print(f"machine: {machine()}; config: {args.config} {' '.join(args.overrides)}")
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
    print("wall time per stage (s): " + ", ".join(f"{k} {v:.0f}" for k, v in stages.items())
          + f"; total {time.perf_counter() - wall:.0f}")


if __name__ == "__main__":
    main()
