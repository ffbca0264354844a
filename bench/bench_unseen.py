"""Where a tagger's misses are: test mentions whose surface its training labels marked somewhere, and the rest.

A tagger trained on weak labels finds what it saw labeled; this splits its recall by whether each gold
mention's surface (lower-cased) is an entity anywhere in the training labels, and lists its errors by kind
(missed, spurious, boundary, type) on each side. Prints Markdown tables.

    distant predict runs/chmm_minilm_s13 ../shared/data/BC5CDR/chmm-weak/test.json --tagger-only -o pred.jsonl
    python bench/bench_unseen.py ../shared/data/BC5CDR/chmm-weak/test.json pred.jsonl \
        --train runs/chmm_hmm_labels/train.jsonl [--train-layer pseudo] [--pred-layer pred]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from distant.evaluate import IGNORED_LABELS, ErrorCase, evaluate  # noqa: E402
from distant.formats import iter_documents  # noqa: E402


def labeled_surfaces(path: Path, layer: str) -> set[str]:
    """Return the lower-cased surfaces that ``layer`` marks as an entity anywhere in the documents of ``path``."""
    return {doc.span_text(s).lower() for doc in iter_documents(path) for s in doc.spans(layer)
            if s.label not in IGNORED_LABELS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("gold", type=Path, help="gold test documents (a WRENCH split, PubTator, JSONL, ...)")
    parser.add_argument("pred", type=Path, help="the tagger's predictions on them (distant predict's output)")
    parser.add_argument("--train", type=Path, required=True, help="the labeled training text the tagger learned")
    parser.add_argument("--train-layer", default="pseudo", help="the layer it learned (default: pseudo)")
    parser.add_argument("--pred-layer", default="pred", help="the predictions' layer (default: pred)")
    args = parser.parse_args()

    seen = labeled_surfaces(args.train, args.train_layer)

    def side(text: str) -> str:
        return "seen" if text.lower() in seen else "never seen"

    gold_docs = list(iter_documents(args.gold))
    errors: list[ErrorCase] = []
    result = evaluate(gold_docs, iter_documents(args.pred), pred_layer=args.pred_layer, on_error=errors.append)
    missed = Counter(side(e.text) for e in errors if e.kind == "FN")
    gold = Counter(side(doc.span_text(s)) for doc in gold_docs for s in doc.spans("gold")
                   if s.label not in IGNORED_LABELS)
    m = result.micro
    print(f"P {m.precision:.4f} R {m.recall:.4f} F1 {m.f1:.4f} ({len(seen):,} labeled surfaces in the training text)\n")
    print("| test gold mentions | found | missed |\n|---|---|---|")
    for name in ("seen", "never seen"):
        found = gold[name] - missed[name]
        print(f"| {name} in the training labels ({gold[name]:,}) | {found:,} ({found / max(gold[name], 1):.0%}) "
              f"| {missed[name]:,} |")
    kinds = Counter((e.kind, e.category, side(e.text)) for e in errors)
    print("\n| error | kind | seen | never seen |\n|---|---|---|---|")
    for kind, category in sorted({(k, c) for k, c, _ in kinds}):
        print(f"| {kind} | {category} | {kinds[kind, category, 'seen']:,} | {kinds[kind, category, 'never seen']:,} |")
    spurious = Counter(e.text for e in errors if e.category == "spurious").most_common(10)
    print("\nmost frequent spurious spans:", ", ".join(f"{t} ({n})" for t, n in spurious))


if __name__ == "__main__":
    main()
