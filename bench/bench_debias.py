"""Shift-correction ablation on BC5CDR: each correction and their combination under three gold budgets.

    python bench/bench_debias.py                                  # full: 7 variants x 3 budgets
    python bench/bench_debias.py --budgets full --variants none,ba-set
    python bench/bench_debias.py --config configs/sample.toml --set data.dev=../data/sample/gold.pubtator \\
        --set train.epochs=2 --out /tmp/debias-check            # a quick check of the script
    python bench/bench_debias.py --budgets full --set "labelers.0.unknown=[]" \\
        --out runs/bench_debias_shifted                          # shifted labels: dictionary misses taught as O

Every cell is a whole ``distant train`` run with the same seed (``--out/<budget>/<variant>``; finished runs
are reused). Budgets: ``full`` (all gold development abstracts for model selection and the shift estimate),
``50`` (the first 50), ``none`` (no gold: selection on held-out pseudo-labels, target estimated by EM).
Prints test P/R/F1 per budget and correction, and the dev F1 each run selected on.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from distant.train import load_config, run_training  # noqa: E402

VARIANTS = {
    "none": ["debias.target=\"none\"", "debias.bias=\"none\"", "debias.threshold=false"],
    "ba-set": ["debias.bias=\"set\"", "debias.threshold=false"],
    "ba-fix": ["debias.bias=\"fix\"", "debias.threshold=false"],
    "reweight": ["debias.bias=\"none\"", "debias.reweight=true", "debias.threshold=false"],
    "threshold": ["debias.bias=\"none\"", "debias.threshold=true"],
    "combined": ["debias.bias=\"set\"", "debias.threshold=true"],
    # 5 folds x 2 iterations x 2 epochs: 20 fold-model epochs instead of the default 60, on 2 cores
    "crossweigh": ["debias.bias=\"none\"", "debias.threshold=false", "debias.crossweigh=true",
                   "debias.crossweigh_folds=5", "debias.crossweigh_iterations=2"],
}
BUDGETS = {
    "full": ["debias.target=\"gold\""],
    "50": ["data.dev_budget=50", "debias.target=\"gold\"", "debias.gold_budget=50"],
    "none": ["debias.target=\"em\""],  # and no data.dev (set in main)
}


def overrides(budget: str, variant: str) -> list[str]:
    sets = BUDGETS[budget] + VARIANTS[variant]
    if variant == "none":
        sets = [s for s in sets if not s.startswith("debias.target")] + ["debias.target=\"none\""]
    if budget == "none" and variant == "reweight":  # weights need a target before training: use no gold
        return []
    return sets


def applied(debias: dict) -> str:
    """Summarise the corrections a run applied and their values (its ``debias.json``)."""
    parts = []
    if debias.get("bias"):
        parts.append(f"{debias['bias_mode']} bias [{' '.join(f'{v:+.2f}' for v in debias['bias'])}]")
    if debias.get("weights"):
        parts.append(f"weights [{' '.join(f'{v:.2f}' for v in debias['weights'])}]")
    if debias.get("o_bias") is not None:
        parts.append(f"O-bias {debias['o_bias']:+.2f}")
    if debias.get("crossweigh"):
        cw = debias["crossweigh"]
        parts.append("crossweigh " + ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
                                              for k, v in cw.items() if not isinstance(v, (list, dict))))
    return "; ".join(parts) or "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(ROOT / "configs" / "bc5cdr.toml"))
    parser.add_argument("--set", action="append", default=[], dest="extra")
    parser.add_argument("--out", default=str(ROOT / "runs" / "bench_debias"))
    parser.add_argument("--budgets", default=",".join(BUDGETS))
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--table-only", action="store_true", help="print the finished runs; train nothing")
    args = parser.parse_args()
    rows = [["budget", "correction", "dev F1", "test P", "test R", "test F1", "applied"]]
    for budget in args.budgets.split(","):
        for variant in args.variants.split(","):
            sets = overrides(budget, variant)
            if not sets:
                rows.append([budget, variant, "n/a (needs a target before training)", "", "", "", ""])
                continue
            run_dir = Path(args.out) / budget / variant
            if (run_dir / "report.json").is_file():
                report = json.loads((run_dir / "report.json").read_text())
            elif args.table_only:
                rows.append([budget, variant, "not run", "", "", "", ""])
                continue
            else:
                cfg = load_config(args.config, [*args.extra, *sets])
                if budget == "none":
                    cfg.data.dev = None
                report = run_training(cfg, run_dir, config_path=Path(args.config))
            test = report.get("test", {}).get("micro", {})
            rows.append([budget, variant, f"{report['dev']['scores']['f1']:.4f}",
                         *(f"{test[k]:.4f}" if k in test else "-" for k in ("precision", "recall", "f1")),
                         applied(report.get("debias") or {})])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))


if __name__ == "__main__":
    main()
