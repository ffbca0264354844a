"""Shift-correction ablation on BC5CDR: each correction and their combination under three gold budgets.

    python bench/bench_debias.py                                  # full: 7 variants x 3 budgets
    python bench/bench_debias.py --budgets full --variants none,ba-set
    python bench/bench_debias.py --config configs/sample.toml --set data.dev=data/sample/gold.pubtator \\
        --set train.epochs=2 --out /tmp/debias-check            # a quick check of the script
    python bench/bench_debias.py --budgets full --set "labelers.0.unknown=[]" \\
        --out runs/bench_debias_shifted                          # shifted labels: dictionary misses taught as O

Every cell is a whole ``distant train`` run with the same seed (``--out/<budget>/<variant>``; finished runs
are reused). Budgets: ``full`` (all gold development abstracts for model selection and the shift estimate),
``50`` (the first 50), ``none`` (no gold: selection on held-out pseudo-labels, target estimated by EM).
Prints test P/R/F1 per budget and correction, the change of test F1 against the budget's uncorrected run, and
the dev F1 each run selected on; ``--table-only --markdown`` prints the table of ``docs/benchmarks.md`` from the
run folders (with ``--table-only``, any folder name under ``--out/<budget>`` is a variant, e.g. an older run
kept beside the current one).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from distant.errors import DistantError  # noqa: E402
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
    "50": ["data.dev_budget=50", "debias.target=\"gold\""],
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


def cell(budget: str, variant: str, args: argparse.Namespace) -> dict | None:
    """Return the cell's ``report.json``, training the run first unless ``--table-only``; ``None``: not run."""
    run_dir = Path(args.out) / budget / variant
    if (run_dir / "report.json").is_file():
        return json.loads((run_dir / "report.json").read_text())
    if args.table_only:
        return None
    cfg = load_config(args.config, [*args.extra, *overrides(budget, variant)])
    if budget == "none":
        cfg.data.dev = None
    return run_training(cfg, run_dir, config_path=Path(args.config))


def print_table(rows: list[list[str]], markdown: bool) -> None:
    if markdown:
        for i, r in enumerate(rows):
            print("| " + " | ".join(r) + " |")
            if i == 0:
                print("|" + "---|" * len(r))
        return
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(ROOT / "configs" / "bc5cdr.toml"))
    parser.add_argument("--set", action="append", default=[], dest="extra")
    parser.add_argument("--out", default=str(ROOT / "runs" / "bench_debias"))
    parser.add_argument("--budgets", default=",".join(BUDGETS))
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--table-only", action="store_true",
                        help="print the finished runs (any run folder under --out/<budget>); train nothing")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown (docs/benchmarks.md)")
    args = parser.parse_args()
    budgets, variants = args.budgets.split(","), args.variants.split(",")
    unknown = [b for b in budgets if b not in BUDGETS]
    if not args.table_only:
        unknown += [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown budget(s) or variant(s) {', '.join(unknown)}; expected budgets "
                     f"{', '.join(BUDGETS)} and variants {', '.join(VARIANTS)}")
    rows = [["budget", "correction", "dev F1 (selection)", "test P", "test R", "test F1", "Δ F1 vs none",
             "applied"]]
    for budget in budgets:
        baseline = None  # test F1 of the budget's uncorrected run, for the delta column
        for variant in variants:
            if variant in VARIANTS and not overrides(budget, variant):
                rows.append([budget, variant, "n/a: weights need a target before training", "", "", "", "", ""])
                continue
            try:
                report = cell(budget, variant, args)
            except DistantError as e:
                print(f"bench_debias: error: {e}", file=sys.stderr)
                raise SystemExit(2) from None
            if report is None:
                rows.append([budget, variant, "not run", "", "", "", "", ""])
                continue
            test = report.get("test", {}).get("micro", {})
            if variant == "none":
                baseline = test.get("f1")
            delta = "" if variant == "none" or baseline is None or "f1" not in test \
                else f"{100 * (test['f1'] - baseline):+.2f}"
            rows.append([budget, variant, f"{report['dev']['scores']['f1']:.4f}",
                         *(f"{test[k]:.4f}" if k in test else "-" for k in ("precision", "recall", "f1")),
                         delta, applied(report.get("debias") or {})])
    print_table(rows, args.markdown)


if __name__ == "__main__":
    main()
