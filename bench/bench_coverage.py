"""Dictionary-coverage sweep: how F1 and the shift correction's effect move as the typed dictionary thins out.

    python bench/bench_coverage.py                                   # 20..100 %, seeds 13,14,15, both variants
    python bench/bench_coverage.py --coverages 20,60,100 --variants default --charlm runs/base12/charlm.pt
    python bench/bench_coverage.py --table-only                      # the tables of finished runs

For each coverage ``c`` and seed ``s`` the typed dictionaries of the config's dictionary labelers are replaced by a
seeded random ``c`` % of their entries (``random.Random(s)``, entries sampled without replacement, the file's
order kept; written under ``--out/dicts``); the untyped phrase lists (``dict_full``) and stop words stay as
they are. Then

* **dictionary alone**: the config's labelers and aggregation on the gold test abstracts, their typed spans
  scored strictly (untyped matches have no type and are not predictions);
* **pipeline**: ``distant train`` of the config with those dictionaries and ``train.seed = s``, per variant:
  ``default`` (the config as it is: BA-Fix shift correction towards the gold dev distribution) and
  ``no-shift`` (``debias.target = "none"``, no bias, no O-bias tuning).

``--charlm`` reuses one pre-trained char LM for every run (it reads the text only, never the dictionaries, so
it is the same for every coverage; it is trained from the seed otherwise). Finished runs are reused: the
sweep resumes where it stopped. Every result is a line of ``--out/results.jsonl``; the tables print mean ± sd.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import random
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from distant.config.run import load_config
from distant.corpus import read_corpus
from distant.docs import PSEUDO, Span, is_type_name
from distant.errors import DistantError
from distant.evaluate import evaluate
from distant.train import pseudo_label, run_training

VARIANTS = {
    "default": [],
    "no-shift": ["debias.target=\"none\"", "debias.bias=\"none\"", "debias.threshold=false"],
}


def subset_dictionary(src: Path, dst: Path, percent: int, seed: int) -> tuple[int, int]:
    """Write a seeded random ``percent`` % of ``src``'s entries to ``dst`` (order kept); return (kept, all)."""
    lines = [line for line in src.read_text(encoding="utf-8").splitlines() if line.strip()]
    keep = round(len(lines) * percent / 100)
    chosen = sorted(random.Random(seed).sample(range(len(lines)), keep))
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix(".tmp")
    tmp.write_text("".join(lines[i] + "\n" for i in chosen), encoding="utf-8")
    tmp.replace(dst)
    return keep, len(lines)


def dictionary_overrides(config_path: Path, out: Path, percent: int, seed: int) -> list[str]:
    """Return the ``--set`` overrides pointing every dictionary labeler's typed dictionaries at their subsets."""
    config = load_config(config_path)
    overrides = []
    for i, labeler in enumerate(config.labelers):
        dicts = getattr(labeler.options, "dicts", None)
        if labeler.type != "dictionary" or not dicts:
            continue
        subsets = []
        for j, path in enumerate(dicts):
            dst = out / "dicts" / f"c{percent}" / f"s{seed}" / f"{i}_{j}_{Path(path).name}"
            if not dst.is_file():
                subset_dictionary(Path(path), dst, percent, seed)
            subsets.append(str(dst))
        overrides.append(f"labelers.{i}.dicts={json.dumps(subsets)}")
    if not overrides:
        raise DistantError("the config has no dictionary labeler with typed dictionaries", config_path)
    return overrides


def dictionary_alone(config_path: Path, overrides: list[str]) -> dict[str, float]:
    """Score the config's labelers (with ``overrides``) on the gold test documents: typed spans only."""
    config = load_config(config_path, overrides)
    gold = read_corpus([config.data.test])
    docs = [doc.copy(layers=()) for doc in gold]
    pseudo_label(docs, config, config_path)
    for doc in docs:
        doc.set_spans("dictionary", [Span(s.start, s.end, s.label) for s in doc.spans(PSEUDO)
                                     if is_type_name(s.label)])
    micro = evaluate(gold, docs, pred_layer="dictionary").micro
    return {"precision": micro.precision, "recall": micro.recall, "f1": micro.f1}


def train_run(config_path: Path, folder: Path, overrides: list[str]) -> dict:
    """Train (or resume, or read) one run and return its report."""
    if (folder / "report.json").is_file():
        return json.loads((folder / "report.json").read_text())
    if (folder / "last.pt").is_file():
        config = load_config(folder / "config.toml")
        return run_training(config, folder, config_path=folder / "config.toml", resume=True)
    return run_training(load_config(config_path, overrides), folder, config_path=config_path)


def load_results(path: Path) -> dict[tuple, dict]:
    """Read ``results.jsonl`` into ``{(kind, coverage, seed, variant): row}``."""
    rows = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            row = json.loads(line)
            rows[(row["kind"], row["coverage"], row["seed"], row.get("variant", ""))] = row
    return rows


def record(path: Path, rows: dict[tuple, dict], row: dict) -> None:
    """Add ``row`` to the results file and to ``rows``: under a lock, the file is read again (another sweep may
    have added rows since this one started) and rewritten atomically with the row added."""
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        rows.update(load_results(path))
        rows[(row["kind"], row["coverage"], row["seed"], row.get("variant", ""))] = row
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in rows.values()))
        tmp.replace(path)


def tagger_alone(row: dict) -> dict | None:
    """The tagger's own test scores of a pipeline row (``[combine]``: the run's output is the combination's),
    from the row or, for rows written before it held them, from the run's report."""
    if "tagger" in row:
        return row["tagger"]
    report = Path(row.get("folder", "")) / "report.json"
    if report.is_file():
        test = json.loads(report.read_text())["test"]
        return test.get("tagger", test["micro"])  # no "tagger" part: the run's output is the tagger's
    return None


def mean_sd(values: list[float]) -> str:
    if not values:
        return "-"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.4f} ± {sd:.4f}"


def tables(rows: dict[tuple, dict], coverages: list[int], variants: list[str]) -> str:
    """Return the Markdown tables: F1 per coverage (dictionary alone and each variant), then the shift gain."""
    def values(kind: str, coverage: int, variant: str, key: str) -> list[float]:
        return [r[key] for (k, c, _, v), r in sorted(rows.items()) if k == kind and c == coverage and v == variant]

    def alone(coverage: int, variant: str) -> list[float]:
        found = (tagger_alone(r) for (k, c, _, v), r in sorted(rows.items())
                 if k == "pipeline" and c == coverage and v == variant)
        return [t["f1"] for t in found if t]

    head = "| coverage | entries | dictionary alone P | R | F1 |" + "".join(
        f" {v} P | {v} R | {v} F1 | {v} dev F1 | {v} tagger alone F1 |" for v in variants)
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for c in coverages:
        entries = values("dictionary", c, "", "entries")
        cells = [f"{c} %", str(entries[0]) if entries else "-",
                 *(mean_sd(values("dictionary", c, "", k)) for k in ("precision", "recall", "f1"))]
        for v in variants:
            cells += [mean_sd(values("pipeline", c, v, k)) for k in ("precision", "recall", "f1", "dev_f1")]
            cells.append(mean_sd(alone(c, v)))
        lines.append("| " + " | ".join(cells) + " |")
    if "default" in variants and "no-shift" in variants:
        lines += ["", ("| coverage | shift correction's gain in test F1 (default − no-shift, per seed) | mean ± sd | "
                      "the same, tagger alone | pseudo O share | gold dev O share |"),
                  "|---|---|---|---|---|---|"]
        for c in coverages:
            with_ = {s: r for (k, cc, s, v), r in rows.items() if k == "pipeline" and cc == c and v == "default"}
            without = {s: r for (k, cc, s, v), r in rows.items() if k == "pipeline" and cc == c and v == "no-shift"}
            seeds = sorted(set(with_) & set(without))
            gains = [with_[s]["f1"] - without[s]["f1"] for s in seeds]
            pairs = [(tagger_alone(with_[s]), tagger_alone(without[s])) for s in seeds]
            alone_gains = [a["f1"] - b["f1"] for a, b in pairs if a and b]
            shares = [with_[s]["pseudo_o"] for s in seeds if with_[s].get("pseudo_o") is not None]
            gold = [with_[s]["gold_o"] for s in seeds if with_[s].get("gold_o") is not None]
            lines.append(f"| {c} % | {', '.join(f'{g:+.4f}' for g in gains) or '-'} | {mean_sd(gains)} | "
                         f"{mean_sd(alone_gains)} | {mean_sd(shares)} | {mean_sd(gold)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "bc5cdr.toml")
    parser.add_argument("--coverages", default="20,40,60,80,100")
    parser.add_argument("--seeds", default="13,14,15")
    parser.add_argument("--variants", default="default,no-shift")
    parser.add_argument("--charlm", type=Path, help="a pre-trained char LM for every run")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="config override")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "coverage")
    parser.add_argument("--dictionary-only", action="store_true", help="the dictionary-alone scores only")
    parser.add_argument("--table-only", action="store_true")
    args = parser.parse_args()
    coverages = [int(c) for c in args.coverages.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    variants = args.variants.split(",")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise SystemExit(f"bench_coverage: unknown variant {unknown[0]!r} (available: {', '.join(VARIANTS)})")
    args.out.mkdir(parents=True, exist_ok=True)
    results = args.out / "results.jsonl"
    rows = load_results(results)
    extra = [*args.overrides, *([f"pretrain.charlm=\"{args.charlm.resolve()}\""] if args.charlm else [])]
    try:
        for c in coverages if not args.table_only else []:
            for s in seeds:
                overrides = dictionary_overrides(args.config, args.out, c, s)
                if ("dictionary", c, s, "") not in rows:
                    entries = sum(1 for o in overrides for p in json.loads(o.split("=", 1)[1])
                                  for line in Path(p).read_text().splitlines() if line.strip())
                    score = dictionary_alone(args.config, overrides)
                    record(results, rows, {"kind": "dictionary", "coverage": c, "seed": s, "entries": entries,
                                           **score})
                    print(f"dictionary alone, {c} %, seed {s}: F1 {score['f1']:.4f}", flush=True)
                if args.dictionary_only:
                    continue
                for v in variants:
                    if ("pipeline", c, s, v) in rows:
                        continue
                    folder = args.out / v / f"c{c}" / f"seed{s}"
                    report = train_run(args.config, folder, [*extra, *overrides, *VARIANTS[v], f"train.seed={s}"])
                    test = report["test"]["micro"]
                    debias = report.get("debias") or {}
                    estimates = debias.get("estimates") or [{}]
                    row = {"kind": "pipeline", "coverage": c, "seed": s, "variant": v,
                           "precision": test["precision"], "recall": test["recall"], "f1": test["f1"],
                           "dev_f1": report["dev"]["scores"]["f1"], "epochs": report["train"]["epochs"],
                           "pseudo_o": (debias.get("pseudo") or {}).get("O"),
                           "gold_o": (estimates[0].get("distribution") or {}).get("O"),
                           "errors": report["test"].get("errors"), "folder": str(folder),
                           "tagger": report["test"].get("tagger", test)}
                    record(results, rows, row)
                    print(f"pipeline {v}, {c} %, seed {s}: test F1 {test['f1']:.4f}", flush=True)
    except DistantError as e:
        raise SystemExit(f"bench_coverage: error: {e}") from None
    print(f"{args.config}, typed dictionaries at {', '.join(map(str, coverages))} % (seeds {args.seeds})\n")
    print(tables(rows, coverages, [v for v in variants if not args.dictionary_only]))


if __name__ == "__main__":
    main()
