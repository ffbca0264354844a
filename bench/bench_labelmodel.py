"""Label models on the chmm-weak BC5CDR data (WRENCH/CHMM format): majority vote, HMM, Dawid-Skene.

Each model is fitted on the train split's text (no gold), the EM iteration count and prior weight are chosen
on valid's gold, and the chosen model is scored on test (its own tokens; strict entity F1 through
distant.evaluate). "recommended" is meta.json's ``lf_rec`` (the 9 functions WRENCH and CHMM use).

    python bench/bench_labelmodel.py [--data DIR]
    python bench/bench_labelmodel.py --taggers runs/chmm_hmm_minilm runs/chmm_hmm_minilm_s14

``--taggers``: one round of alternation (CHMM-ALT's idea) instead: each tagger (trained on the label model's
output, ``configs/bc5cdr_chmm_hmm.toml``) tags the three splits, and the HMM is fitted on their text (no gold)
over the 9 functions and the tagger's predictions as one more source; iterations chosen on valid, test scored,
and the mean and sd over the taggers. With ``--layers DIR`` the same in the strict BC5CDR setting: our own
labelers' layers of the three CDR files (``distant label ... -o DIR/ --config configs/labelers_bc5cdr_hmm.toml``)
and the taggers of ``configs/bc5cdr.toml``, the HMM fitted on train + dev only and applied to test:

    python bench/bench_labelmodel.py --taggers runs/bc5cdr runs/bc5cdr_s14 --layers runs/own_layers
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from distant.config.core import data_dir
from distant.evaluate import evaluate
from distant.formats import read_documents
from distant.labelers.aggregate import VoteAggregator
from distant.labelers.labelmodel import LabelModelAggregator

GRID = {"iterations": (1, 2, 4, 8), "prior_weight": (0.0, 0.5, 2.0)}


def score(docs) -> tuple[float, float, float]:
    m = evaluate(docs, docs, gold_layer="gold", pred_layer="pseudo").micro
    return m.precision, m.recall, m.f1


def alternate(read_splits, sources: list[str], taggers: list[Path], fit_on: tuple[str, ...],
              grid: tuple[int, ...]) -> None:
    """The HMM over ``sources`` and each tagger's predictions (``pred``), fitted on the ``fit_on`` splits' text
    (no gold) and applied to all three (``read_splits()``: train, valid and test documents, gold layers inside);
    iterations chosen on valid (the first of a tie), test scored."""
    import statistics

    from distant.api import load

    print("| tagger | tagger alone: test F1 | label model + tagger: iterations (valid F1) | test P | test R | "
          "test F1 |\n|---|---|---|---|---|---|")
    scores = []
    for run in taggers:
        splits = read_splits()
        tagger = load(run, "cpu")
        for docs in splits.values():
            for _ in tagger.tag_documents(docs):  # the pred layer
                pass
        alone = evaluate(splits["test"], splits["test"], gold_layer="gold", pred_layer="pred").micro.f1
        every = [d for docs in splits.values() for d in docs]
        fitted = [d for name in fit_on for d in splits[name]]
        best = None
        for iterations in grid:
            agg = LabelModelAggregator([*sources, "pred"], iterations=iterations, tolerance=-1.0)
            agg.fit(fitted)
            agg.apply(every)
            dev = score(splits["valid"])[2]
            if best is None or dev > best[0]:
                best = (dev, iterations, score(splits["test"]))
        dev, iterations, (p, r, f) = best
        scores.append(f)
        print(f"| {run} | {alone:.4f} | {iterations} ({dev:.4f}) | {p:.4f} | {r:.4f} | {f:.4f} |", flush=True)
    sd = statistics.stdev(scores) if len(scores) > 1 else 0.0
    print(f"\nlabel model + tagger, test F1 over {len(scores)} taggers: {statistics.mean(scores):.4f} ± {sd:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=data_dir() / "BC5CDR" / "chmm-weak")
    parser.add_argument("--copies", type=int, default=4, help="copies of the 1,500 documents for the speed test")
    parser.add_argument("--taggers", type=Path, nargs="+", help="trained runs: one round of alternation instead")
    parser.add_argument("--layers", type=Path,
                        help="with --taggers: the strict BC5CDR setting instead, on distant label's output for the "
                             "three CDR_*Set files in this folder (configs/labelers_bc5cdr_hmm.toml), fitted on "
                             "train + dev only")
    parser.add_argument("--sources", default="dict_core,dict_full,abbreviation",
                        help="with --layers: the layers combined with the tagger's")
    args = parser.parse_args()
    if args.taggers and args.layers:
        names = {"train": "Training", "valid": "Development", "test": "Test"}
        alternate(lambda: {k: read_documents(args.layers / f"CDR_{v}Set.jsonl") for k, v in names.items()},
                  args.sources.split(","), args.taggers, fit_on=("train", "valid"), grid=(1, 2, 4, 8))
        return
    meta = json.loads((args.data / "meta.json").read_text())
    if args.taggers:
        alternate(lambda: {s: read_documents(args.data / f"{s}.json", "wrench") for s in ("train", "valid", "test")},
                  meta["lf_rec"], args.taggers, fit_on=("train", "valid", "test"), grid=(1, 2, 4))
        return
    splits = {s: read_documents(args.data / f"{s}.json", "wrench") for s in ("train", "valid", "test")}
    rows = []
    for sources_name, sources in (("recommended (9)", meta["lf_rec"]), ("all (30)", meta["lf"])):
        vote = VoteAggregator(sources)
        for doc in splits["test"]:
            vote(doc)
        rows.append(("majority vote", sources_name, "-", *score(splits["test"]), 0.0, 0.0))
        print(f"vote {sources_name}: test P/R/F1 " + " ".join(f"{x:.3f}" for x in rows[-1][3:6]), flush=True)
        for method, transitions in (("hmm", True), ("dawid-skene", False)):
            best = None
            for iterations in GRID["iterations"]:
                for prior_weight in GRID["prior_weight"]:
                    agg = LabelModelAggregator(sources, transitions=transitions, iterations=iterations,
                                               prior_weight=prior_weight, tolerance=-1.0)
                    fit = agg.fit(splits["train"])
                    agg.apply(splits["valid"])
                    dev = score(splits["valid"])[2]
                    if best is None or dev > best[0]:
                        best = (dev, agg, fit, iterations, prior_weight)
            dev, agg, fit, iterations, prior_weight = best
            agg.apply(splits["test"])
            chosen = f"{iterations} it, prior {prior_weight}, dev F1 {dev:.3f}"
            rows.append((method, sources_name, chosen, *score(splits["test"]), fit.seconds,
                         fit.documents_per_second))
            print(f"{method} {sources_name}: {chosen}; test P/R/F1 {rows[-1][3]:.3f} {rows[-1][4]:.3f} "
                  f"{rows[-1][5]:.3f}; fit {fit.seconds:.1f} s", flush=True)
    # speed on a larger corpus: copies of the three splits, default settings
    big = [d.copy() for _ in range(args.copies) for s in splits.values() for d in s]
    agg = LabelModelAggregator(meta["lf"], iterations=2)
    t0 = time.perf_counter()
    fit = agg.fit(big)
    agg.apply(big)
    total = time.perf_counter() - t0
    print("\n| method | functions | chosen on valid | test P | test R | test F1 | fit s (500 docs) | docs/s |")
    print("|---|---|---|---|---|---|---|---|")
    for method, src, chosen, p, r, f, seconds, dps in rows:
        print(f"| {method} | {src} | {chosen} | {p:.3f} | {r:.3f} | {f:.3f} | {seconds:.1f} | {dps:,.0f} |")
    print(f"\nhmm, all 30 functions, 2 iterations, {len(big):,} documents ({fit.tokens:,} tokens): fit {fit.seconds:.1f} s "
          f"({fit.documents_per_second:,.0f} documents/s), fit and decode {total:.1f} s ({len(big) / total:,.0f} documents/s)")


if __name__ == "__main__":
    main()
