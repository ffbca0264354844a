"""The distant_tagger spaCy pipe against distant predict on a gold file: the same F1? (prints a Markdown table).

    python bench/bench_spacy.py runs/bc5cdr ${DISTANT_DATA}/BC5CDR/original/CDR_TestSet.PubTator.txt
    python bench/bench_spacy.py runs/sample data/sample/gold.pubtator --pipeline en_core_web_sm

``distant predict`` tags the gold texts into a temporary JSONL file; a spaCy pipeline (``spacy.blank("en")``
by default, or an installed pipeline's name) with ``distant_tagger`` tags the same texts; both are scored
strictly against the gold (``distant.evaluate``). spaCy tokens split at span boundaries, spans moved (realigned: expand/contract modes) and spans not written are counted.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import distant
from distant.cli import main as cli


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("gold", type=Path)
    parser.add_argument("--pipeline", default=None, help="an installed spaCy pipeline (default: spacy.blank('en'))")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=128, help="documents per spaCy batch")
    parser.add_argument("--alignment-mode", default="split", help="split, strict, expand or contract")
    args = parser.parse_args(argv)

    import spacy

    gold = distant.read(args.gold)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "pred.jsonl"
        start = time.perf_counter()
        try:
            cli(["predict", str(args.run_dir), str(args.gold), "-o", str(out), "--device", args.device])
        except SystemExit as e:
            if e.code:
                raise
        seconds = time.perf_counter() - start
        rows.append(("distant predict", distant.evaluate(args.gold, out), seconds, 0, 0, 0))

    nlp = spacy.load(args.pipeline, exclude=["ner"]) if args.pipeline else spacy.blank("en")
    pipe = nlp.add_pipe("distant_tagger", config={"model": str(args.run_dir), "device": args.device,
                                                     "alignment_mode": args.alignment_mode})
    start = time.perf_counter()
    sdocs = list(nlp.pipe((doc.text for doc in gold), batch_size=args.batch_size))
    seconds = time.perf_counter() - start
    pred = []
    for doc, sdoc in zip(gold, sdocs):
        copy = distant.Document(doc.id, doc.text)
        copy.set_spans("pred", [distant.Span(e.start_char, e.end_char, e.label_, score=e._.distant_confidence)
                                for e in sdoc.ents])
        pred.append(copy)
    name = f"spaCy {args.pipeline or 'blank en'} + distant_tagger"
    rows.append((f"{name} ({args.alignment_mode})", distant.evaluate(gold, pred), seconds,
                 pipe.counts["split_tokens"], pipe.counts["realigned"], pipe.counts["unaligned"]))

    print("| | test P | test R | test F1 | seconds | tokens split | realigned | unaligned |")
    print("|---|---|---|---|---|---|---|---|")
    for label, result, secs, split, realigned, unaligned in rows:
        m = result.micro
        print(f"| {label} | {m.precision:.4f} | {m.recall:.4f} | {m.f1:.4f} | {secs:.1f} | {split} | {realigned} "
              f"| {unaligned} |")


if __name__ == "__main__":
    main()
