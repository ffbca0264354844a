"""A config over several seeds: mean ± sd of test P/R/F1 and of dev F1 (prints a Markdown table).

    python bench/bench_seeds.py configs/bc5cdr.toml                      # seeds 13, 14, 15
    python bench/bench_seeds.py configs/bc5cdr_minilm_charlm.toml --seeds 13,14,15 --out runs/seeds
    python bench/bench_seeds.py configs/sample.toml --seeds 1,2 --set train.epochs=2 --out /tmp/seeds  # a check
    python bench/bench_seeds.py configs/bc5cdr.toml --table-only --markdown     # the table of finished runs

Every seed is a whole ``distant train`` run (``--out/<config stem><suffix>/seed<N>``; finished runs are
reused), with ``train.seed`` set; the seed drives the char LM's pre-training, the tagger's initialisation,
dropout and batch order. Claims that one variant beats another hold only beyond the spread (sd) shown here.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from distant.errors import DistantError  # noqa: E402
from distant.train import load_config, run_training  # noqa: E402


def run_seed(config: Path, out: Path, seed: int, overrides: list[str]) -> dict:
    """Train one seed (or read its finished report) and return its report."""
    report = out / "report.json"
    if report.is_file():
        return json.loads(report.read_text())
    if (out / "last.pt").is_file():
        cfg = load_config(out / "config.toml", [])
        return run_training(cfg, out, config_path=out / "config.toml", resume=True)
    cfg = load_config(config, [*overrides, f"train.seed={seed}"])
    return run_training(cfg, out, config_path=config)


def summary(reports: list[dict]) -> dict[str, tuple[float, float]]:
    """Return mean and sd (0 for one run) of test P/R/F1, dev F1, epochs and training minutes."""
    def stat(values: list[float]) -> tuple[float, float]:
        return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0

    test = [r["test"]["micro"] for r in reports]
    return {"test P": stat([t["precision"] for t in test]), "test R": stat([t["recall"] for t in test]),
            "test F1": stat([t["f1"] for t in test]), "dev F1": stat([r["dev"]["scores"]["f1"] for r in reports]),
            "epochs": stat([r["train"]["epochs"] for r in reports]),
            "minutes": stat([sum(r["seconds"].values()) / 60 for r in reports])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", type=Path)
    parser.add_argument("--seeds", default="13,14,15")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="config override")
    parser.add_argument("--name", default="", help="a suffix for the runs' folder (a variant's name)")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "seeds")
    parser.add_argument("--table-only", action="store_true", help="report finished runs only")
    parser.add_argument("--markdown", action="store_true", help="one Markdown table row per seed and the mean")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    base = args.out / f"{args.config.stem}{args.name}"
    reports = []
    try:
        for seed in seeds:
            folder = base / f"seed{seed}"
            if args.table_only and not (folder / "report.json").is_file():
                continue
            reports.append((seed, run_seed(args.config, folder, seed, args.overrides)))
    except DistantError as e:
        raise SystemExit(f"bench_seeds: error: {e}") from None
    if not reports:
        raise SystemExit(f"bench_seeds: no finished run under {base}")
    print(f"{args.config}{' ' + ' '.join(args.overrides) if args.overrides else ''}: {len(reports)} seeds\n")
    print("| seed | test P | test R | test F1 | dev F1 | epochs | minutes |")
    print("|---|---|---|---|---|---|---|")
    for seed, r in reports:
        t = r["test"]["micro"]
        print(f"| {seed} | {t['precision']:.4f} | {t['recall']:.4f} | {t['f1']:.4f} | "
              f"{r['dev']['scores']['f1']:.4f} | {r['train']['epochs']} | {sum(r['seconds'].values()) / 60:.1f} |")
    s = summary([r for _, r in reports])
    cells = " | ".join(f"{m:.4f} ± {sd:.4f}" if k not in ("epochs", "minutes") else f"{m:.1f} ± {sd:.1f}"
                       for k, (m, sd) in s.items())
    print(f"| **mean ± sd** | {cells} |")


if __name__ == "__main__":
    main()
