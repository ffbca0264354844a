"""The ``[combine]`` stage on finished training runs: the tagger alone against the label model over the labelers
and the tagger, on dev and test, per run and as mean ± sd (prints a Markdown table).

    python bench/bench_combine.py runs/seeds/bc5cdr/seed13 runs/seeds/bc5cdr/seed14 runs/seeds/bc5cdr/seed15
    python bench/bench_combine.py runs/seeds/bc5cdr/seed1* --set combine.iterations=4
    python bench/bench_combine.py runs/seeds/bc5cdr/seed1* --set combine.method=dawid-skene --set combine.select=false

The stage is the one ``distant train`` runs after training when the config sets ``[combine]`` (it does not
touch the tagger, so a run trained without it gives the same numbers as one trained with it): the run's tagger
tags the training text, its labelers label it, the label model is fitted on it without gold, and dev and test
are tagged from their raw text. The combined model goes to ``--out/<run name>/combine.json``, not into the run.
Variants are chosen on dev; test is the score.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from distant.combine import fit_combination, score  # noqa: E402
from distant.config.run import load_config  # noqa: E402
from distant.corpus import read_corpus  # noqa: E402
from distant.device import setup  # noqa: E402
from distant.errors import DistantError  # noqa: E402
from distant.predict import load_model  # noqa: E402


COUNTS = ("dev checked", "fit s")  # columns printed as whole numbers


def combine_run(run: Path, overrides: list[str], out: Path) -> dict:
    """Fit the combination of one run (its config.toml with ``overrides``); return dev and test scores."""
    config = load_config(run / "config.toml", ["combine.method=hmm", *overrides])
    device, _ = setup("cpu", config.train.threads)
    tagger = load_model(run, device)
    dev = read_corpus([config.data.dev])[:config.data.dev_budget] if config.data.dev is not None else None
    start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    combination, part = fit_combination(config, out, tagger, device, dev, run / "config.toml")
    seconds = time.perf_counter() - start
    row = {"dev tagger": part.get("dev_f1_tagger", float("nan")), "dev combined": part.get("dev_f1_combined",
           float("nan")), "dev checked": part.get("dev_checked", 0),
           "tagger better": part.get("dev_tagger_better", float("nan")), "kept": part["kept"],
           "fit s": seconds}
    if config.data.test is not None:
        gold = read_corpus([config.data.test])
        if combination is None:  # dev chose the tagger: score the combination all the same, for the table
            config = load_config(run / "config.toml", ["combine.method=hmm", *overrides, "combine.select=false"])
            combination, _ = fit_combination(config, out, tagger, device, None, run / "config.toml")
            (out / "combine.json").unlink(missing_ok=True)
        scores = score(tagger, combination, gold, device, config.data.max_tokens)
        row.update({"test tagger": scores["tagger"]["f1"], "test P": scores["combined"]["precision"],
                    "test R": scores["combined"]["recall"], "test combined": scores["combined"]["f1"]})
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path, nargs="+", help="finished distant train run folders")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="a [combine] override")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "combine")
    args = parser.parse_args()
    rows = []
    try:
        for run in args.runs:
            rows.append((run, combine_run(run, args.overrides, args.out / run.name)))
    except DistantError as e:
        raise SystemExit(f"bench_combine: error: {e}") from None
    keys = ["dev tagger", "dev combined", "dev checked", "tagger better", "test tagger", "test P", "test R",
            "test combined", "fit s"]
    print(f"combine {' '.join(args.overrides) or '(defaults)'}: {len(rows)} runs\n")
    print("| run | " + " | ".join(keys) + " | kept |")
    print("|---|" + "---|" * (len(keys) + 1))
    for run, row in rows:
        print(f"| {run} | " + " | ".join(f"{row.get(k, float('nan')):.4f}" if k not in COUNTS else f"{row[k]:.0f}"
                                          for k in keys) + f" | {row['kept']} |")
    if len(rows) > 1:
        cells = []
        for k in keys:
            values = [row[k] for _, row in rows if k in row and row[k] == row[k]]  # NaN: no dev set
            if not values:
                cells.append("–")
                continue
            cells.append(f"{statistics.fmean(values):.4f} ± {statistics.stdev(values):.4f}" if k not in COUNTS
                         else f"{statistics.fmean(values):.0f}")
        print("| **mean ± sd** | " + " | ".join(cells) + " | |")


if __name__ == "__main__":
    main()
