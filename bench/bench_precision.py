"""Where precision goes: trained runs' dev and test predictions under confidence thresholds and document rules.

    python bench/bench_precision.py runs/seeds/bc5cdr/seed13 runs/seeds/bc5cdr/seed14 runs/seeds/bc5cdr/seed15
    python bench/bench_precision.py runs/coverage/default/c20/seed13 --budget 50

For each run folder, the trained model tags the gold dev and test abstracts of its ``config.toml`` once per
variant of the document rules (``model``: the model's own rules; ``no-consistency``; ``no-rules``), keeping
every span's confidence (the smallest marginal of its tokens). Then, for each confidence threshold of
``--grid``, the spans below it are dropped and both sets are scored strictly. A threshold "chosen on dev" is the
one with the best dev F1 (ties: the lowest), over the whole dev set and over ``--budget`` seeded abstracts of it
(the small-gold setting); the tables show what it gives on test, with the error categories, beside no threshold.
Nothing is trained; decoding only.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from distant.config.run import load_config
from distant.corpus import read_corpus
from distant.device import setup
from distant.docs import PRED
from distant.evaluate import evaluate
from distant.predict import drop_unconfident, load_model, predict_documents

GRID = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
RULES = {"model": {}, "no-consistency": {"consistency_min_score": 0.0},
         "no-rules": {"consistency_min_score": 0.0, "propagate_abbreviations": False}}


def tagged(model, path: Path, max_tokens: int):
    """Return (gold, predicted) documents of ``path`` (``PRED`` layer with confidences)."""
    gold = read_corpus([path])
    pred = [doc.copy(layers=()) for doc in gold]
    predict_documents(model, pred, max_tokens=max_tokens)
    return gold, pred


def scores_at(gold, pred, threshold: float) -> dict:
    """Strict scores of ``pred`` with the spans below ``threshold`` dropped (on copies)."""
    kept = [doc.copy(layers=(PRED,)) for doc in pred]
    drop_unconfident(kept, PRED, threshold)
    result = evaluate(gold, kept).as_dict()
    return {**{k: result["micro"][k] for k in ("precision", "recall", "f1")}, "errors": result["errors"]}


def choose(curve: dict[float, dict]) -> float:
    """The threshold with the best F1; ties go to the lowest."""
    best = max(curve[t]["f1"] for t in curve)
    return min(t for t in curve if curve[t]["f1"] >= best - 1e-12)


def analyse(run: Path, grid: tuple[float, ...], budget: int, seed: int) -> dict:
    config = load_config(run / "config.toml")
    model = load_model(run)
    base_rules = model.rules
    out = {"run": str(run), "variants": {}}
    for name, change in RULES.items():
        model.rules = dataclasses.replace(base_rules, **change)
        dev_gold, dev_pred = tagged(model, config.data.dev, config.data.max_tokens)
        test_gold, test_pred = tagged(model, config.data.test, config.data.max_tokens)
        ids = sorted(random.Random(seed).sample(range(len(dev_gold)), min(budget, len(dev_gold))))
        small_gold, small_pred = [dev_gold[i] for i in ids], [dev_pred[i] for i in ids]
        dev = {t: scores_at(dev_gold, dev_pred, t) for t in grid}
        small = {t: scores_at(small_gold, small_pred, t) for t in grid}
        test = {t: scores_at(test_gold, test_pred, t) for t in grid}
        out["variants"][name] = {"dev": dev, "dev_budget": small, "test": test,
                                 "chosen": choose(dev), "chosen_budget": choose(small)}
    model.rules = base_rules
    return out


def fmt(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.4f} ± {sd:.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--grid", default=",".join(map(str, GRID)))
    parser.add_argument("--budget", type=int, default=50, help="dev abstracts in the small-gold setting")
    parser.add_argument("--seed", type=int, default=13, help="seed of the small-gold sample")
    parser.add_argument("--out", type=Path, help="write the per-run curves as JSON")
    args = parser.parse_args()
    grid = tuple(float(t) for t in args.grid.split(","))
    setup("cpu")  # the project's thread choice (one torch thread, branches in parallel): no collapse when shared
    results = [analyse(run, grid, args.budget, args.seed) for run in args.runs]
    if args.out:
        args.out.write_text(json.dumps(results, indent=1, default=str))
    print(f"{len(results)} runs: {', '.join(str(r) for r in args.runs)}\n")
    print("| rules | threshold | dev F1 | test P | test R | test F1 | spurious | boundary | missed | type |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in RULES:
        for t in grid:
            rows = [r["variants"][name] for r in results]
            cells = [fmt([v["dev"][t]["f1"] for v in rows])]
            cells += [fmt([v["test"][t][k] for v in rows]) for k in ("precision", "recall", "f1")]
            cells += [f"{statistics.fmean([v['test'][t]['errors'].get(c, 0) for v in rows]):.0f}"
                      for c in ("spurious", "boundary", "missed", "type")]
            print(f"| {name} | {t:g} | " + " | ".join(cells) + " |")
    print("\n| rules | chosen on | thresholds chosen | test F1 at chosen | test F1 at 0 | gain |")
    print("|---|---|---|---|---|---|")
    for name in RULES:
        for key, label in (("chosen", "full dev"), ("chosen_budget", f"{args.budget} dev abstracts")):
            rows = [r["variants"][name] for r in results]
            at = [v["test"][v[key]]["f1"] for v in rows]
            zero = [v["test"][0.0]["f1"] if 0.0 in v["test"] else float("nan") for v in rows]
            gains = [a - z for a, z in zip(at, zero)]
            print(f"| {name} | {label} | {', '.join(f'{v[key]:g}' for v in rows)} | {fmt(at)} | {fmt(zero)} | "
                  f"{fmt(gains)} |")


if __name__ == "__main__":
    main()
