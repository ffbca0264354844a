"""Corpus scale: label a PubMed-like corpus of .xml.gz shards, locally and on Ray; peak memory; prediction.

    python bench/bench_scale.py make --mb 1024 --out /tmp/pubmed-like     # BC5CDR abstracts under new PMIDs
    python bench/bench_scale.py run --corpus /tmp/pubmed-like [--model runs/base12] [--predict-mb 100]
    python bench/bench_scale.py make --mb 20 --out /tmp/pm-small && python bench/bench_scale.py run \\
        --corpus /tmp/pm-small --subset-mb 5 --predict-mb 2                # a quick check of the script

``make`` writes shards in the layout of PubMed's baseline files (``PubmedArticleSet`` of ``PubmedArticle``
records, structured abstracts where BC5CDR has none, a few records without abstract, gzip), each about
``--shard-mb`` of XML; the corpus size is the XML's, uncompressed. ``run`` labels them with dict_core (typed),
dict_full (untyped) and the stop words, as ``distant label`` does, with the local engine (1 and 2 workers) and
Ray (1 and 2 actors), each in a fresh process tree whose peak resident memory is sampled from /proc; then the
first ``--subset-mb`` of shards alone (peak memory on 100 MB against the whole); then prediction of
``--predict-mb`` of shards (whole shards, at least one) with a trained model on the CPU. It prints Markdown
tables and a projection for all of PubMed. ``--settings`` picks the labeling settings (the first is also the
subset's and the projection's). ``versions`` labels one corpus with several checkouts of the project in
turn, alternating (``git worktree add /tmp/before COMMIT``; ``--tree /tmp/before --tree .``), for a speed ratio
measured side by side. Nothing else should run on the machine meanwhile.
"""

from __future__ import annotations

import argparse
import gzip
import html
import json
import os
import platform
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from distant.config import data_dir  # noqa: E402
from distant.formats import read_documents  # noqa: E402

PUBMED_ABSTRACTS = 38_000_000  # PubMed's records with an abstract, roughly (2026)
PUBMED_TOKENS = 8_000_000_000  # and their tokens (title + abstract), roughly
LABELS = ("BACKGROUND", "METHODS", "RESULTS", "CONCLUSIONS")


# -- the corpus ---------------------------------------------------------------------------------------------
def make(args: argparse.Namespace) -> None:
    """Write ``--mb`` of PubMed-like XML as gzip shards of about ``--shard-mb`` each."""
    b = data_dir() / "BC5CDR" / "original"
    docs = [d for name in ("CDR_TrainingSet", "CDR_DevelopmentSet", "CDR_TestSet")
            for d in read_documents(b / f"{name}.PubTator.txt")]
    rng = random.Random(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    target, shard_bytes = args.mb * 2**20, args.shard_mb * 2**20
    written, pmid, shard = 0, 40_000_000, 1
    while written < target:
        records, size = [], 0
        while size < shard_bytes and written + size < target:
            doc = docs[rng.randrange(len(docs))]
            pmid += 1
            record = _record(doc, pmid, rng)
            records.append(record)
            size += len(record.encode())
        body = ('<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD '
                'PubMedArticle, 1st January 2025//EN" "https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">\n'
                "<PubmedArticleSet>\n" + "".join(records) + "</PubmedArticleSet>\n")
        with gzip.open(out / f"pubmedlike26n{shard:04d}.xml.gz", "wb", compresslevel=6) as f:
            f.write(body.encode())
        written += size
        shard += 1
    print(f"wrote {shard - 1} shards, {written / 2**20:,.0f} MB of XML, PMIDs 40000001..{pmid}, to {out}")


def _record(doc, pmid: int, rng: random.Random) -> str:
    n = doc.meta.get("title_length", len(doc.text))
    title, abstract = doc.text[:n], doc.text[n + 1:]
    if rng.random() < 0.02:
        abstract = ""  # PubMed has records without an abstract
    if abstract and rng.random() < 0.3:  # a structured abstract, cut at sentence ends
        parts = abstract.split(". ")
        k = max(1, len(parts) // len(LABELS))
        texts = [". ".join(parts[i:i + k]) for i in range(0, len(parts), k)][:len(LABELS)]
        body = "".join(f'<AbstractText Label="{label}">{html.escape(t)}</AbstractText>' for label, t in zip(LABELS, texts))
    else:
        body = f"<AbstractText>{html.escape(abstract)}</AbstractText>" if abstract else ""
    abstract_xml = f"<Abstract>{body}</Abstract>" if body else ""
    return (f'<PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM"><PMID Version="1">{pmid}</PMID>'
            f"<Article><ArticleTitle>{html.escape(title)}</ArticleTitle>{abstract_xml}</Article>"
            "</MedlineCitation></PubmedArticle>\n")


# -- measuring ----------------------------------------------------------------------------------------------
def _tree(pid: int) -> list[int]:
    """Return ``pid`` and its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parent = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def measured(command: list[str], *, per_process: bool = False, cwd: Path = ROOT, env: dict | None = None) -> dict:
    """Run ``command``; return its wall time, the peak summed RSS of its process tree and the largest process's
    (``per_process``: also each process's name and peak RSS and USS, under ``processes``)."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = {"total": 0.0, "largest": 0.0}
    processes: dict[int, dict] = {}  # pid -> its name and peak RSS / USS (private memory), MB

    def sample() -> None:
        while proc.poll() is None:
            pids = _tree(proc.pid)
            sizes = [_rss_mb(p) for p in pids]
            peak["total"] = max(peak["total"], sum(sizes))
            peak["largest"] = max(peak["largest"], max(sizes, default=0.0))
            if per_process:
                for pid, rss in zip(pids, sizes):
                    seen = processes.setdefault(pid, {"name": _name(pid), "rss": 0.0, "uss": 0.0})
                    if rss > seen["rss"]:  # Ray renames its workers as they take tasks: the name at the peak
                        seen["name"] = _name(pid)
                    seen["rss"] = max(seen["rss"], rss)
                    seen["uss"] = max(seen["uss"], _uss_mb(pid))
            time.sleep(0.25)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    out, err = proc.communicate()
    watcher.join()
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(command)}\n{err[-2000:]}")
    return {"seconds": time.perf_counter() - start, "peak_mb": peak["total"], "largest_mb": peak["largest"],
            "stderr": err, "processes": processes}


def _uss_mb(pid: int) -> float:
    """The process's private memory (Private_Clean + Private_Dirty of /proc/PID/smaps_rollup): what it does not
    share with others, e.g. with the parent it was forked from."""
    total = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith(("Private_Clean:", "Private_Dirty:")):
                    total += int(line.split()[1])
    except OSError:
        pass
    return total / 1024


def _name(pid: int) -> str:
    """A short name for a process: Ray's title (``ray::MapWorker(...)``), its binary or its script."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            words = [w.decode(errors="replace") for w in f.read().split(b"\0") if w]
    except OSError:
        return "?"
    line = " ".join(words)
    if "ray::" in line:
        return line[line.index("ray::"):].split(" ")[0][:60]
    scripts = [Path(w).name for w in words[1:] if w.endswith(".py")]
    if scripts:
        return f"{Path(words[0]).name} {scripts[0]}"
    return " ".join(Path(w).name if i == 0 else w for i, w in enumerate(words[:4]))[:60]


def _summary(stderr: str, row: str) -> float:
    """A number of the label summary table (``tokens``: the count; ``tokens/s``: the process's own rate)."""
    for line in stderr.splitlines():
        if line.split(None, 1)[:1] == [row]:
            return float(line.split()[-1].replace(",", ""))
    return 0.0


def run(args: argparse.Namespace) -> None:
    corpus = Path(args.corpus)
    shards = sorted(corpus.glob("*.xml.gz"))
    xml_mb = sum(_xml_bytes(s) for s in shards) / 2**20
    b = data_dir() / "BC5CDR" / "autoner"
    labeling = ["--dict", str(b / "dict_core.txt"), "--unknown", str(b / "dict_full.txt"), "--stopwords",
                str(b / "stopwords.txt")]
    distant = [sys.executable, "-m", "distant"]
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    print(f"{cpu}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start; corpus {len(shards)} "
          f"shards, {xml_mb:,.0f} MB of XML ({sum(s.stat().st_size for s in shards) / 2**20:,.0f} MB gzip)\n")
    rows, tokens = [], 0
    every = {"local1": ("local", ["--workers", "1"]), "local2": ("local", ["--workers", "2"]),
             "ray1": ("ray", ["--engine", "ray", "--actors", "1"]), "ray2": ("ray", ["--engine", "ray", "--actors", "2"])}
    settings = [every[name] for name in args.settings.split(",")]
    for engine, extra in settings:
        out = work / f"label-{engine}-{extra[-1]}"
        _clean(out)
        m = measured([*distant, "label", str(corpus), "-o", f"{out}/", *labeling, *extra])
        tokens = tokens or int(_summary(m["stderr"], "tokens"))
        rows.append((f"{engine}, {extra[-1]} {'workers' if engine == 'local' else 'actors'}", m))
    first = work / f"label-{settings[0][0]}-{settings[0][1][-1]}"
    same = all(_same(work / f"label-{e}-{x[-1]}", first) for e, x in settings)
    print("| labeling | wall s | tokens/s | tokens/s per process | peak RSS (all processes) | largest process |")
    print("|---|---|---|---|---|---|")
    for (name, m), (_, extra) in zip(rows, settings):
        n = int(extra[-1])
        print(f"| {name} | {m['seconds']:,.0f} | {tokens / m['seconds']:,.0f} | {tokens / m['seconds'] / n:,.0f} | "
              f"{m['peak_mb']:,.0f} MB | {m['largest_mb']:,.0f} MB |")
    print(f"\nevery setting's shards identical to those of {rows[0][0]}: {same}; {tokens:,} tokens")
    base = dict(rows)
    for engine, unit in (("local", "workers"), ("ray", "actors")):
        if f"{engine}, 1 {unit}" in base and f"{engine}, 2 {unit}" in base:
            print(f"speed-up of {engine} with 2 {unit} over one: "
                  f"{base[f'{engine}, 1 {unit}']['seconds'] / base[f'{engine}, 2 {unit}']['seconds']:.2f}x")

    subset = _first(shards, args.subset_mb * 2**20)
    sub_dir = work / "subset"
    _clean(sub_dir)
    sub_dir.mkdir()
    for s in subset:
        os.symlink(s.resolve(), sub_dir / s.name)
    out = work / "label-subset"
    _clean(out)
    small = measured([*distant, "label", str(sub_dir), "-o", f"{out}/", *labeling, *settings[0][1]])
    whole = rows[0][1]  # the same setting on every shard
    print(f"\n{rows[0][0]}:\n| input | XML MB | peak RSS |\n|---|---|---|\n| {len(subset)} shards | "
          f"{sum(_xml_bytes(s) for s in subset) / 2**20:,.0f} | {small['peak_mb']:,.0f} MB |\n| all {len(shards)} shards | "
          f"{xml_mb:,.0f} | {whole['peak_mb']:,.0f} MB |\nratio {whole['peak_mb'] / small['peak_mb']:.2f}")

    predict_dps = None
    if args.model:
        pred_in = _first(shards, args.predict_mb * 2**20)
        pred_dir = work / "predict-in"
        _clean(pred_dir)
        pred_dir.mkdir()
        for s in pred_in:
            os.symlink(s.resolve(), pred_dir / s.name)
        out = work / "predict"
        _clean(out)
        m = measured([*distant, "predict", args.model, str(pred_dir), "-o", f"{out}/", "-v"])
        n_docs = sum(s["documents"] for s in json.loads((out / "manifest.json").read_text())["shards"])
        info = next((line for line in m["stderr"].splitlines() if "sentences/s" in line), "")
        print(f"\nprediction, CPU, {len(pred_in)} shards ({sum(_xml_bytes(s) for s in pred_in) / 2**20:,.0f} MB "
              f"XML), {n_docs:,} documents: {m['seconds']:,.0f} s wall, {n_docs / m['seconds']:,.1f} documents/s, "
              f"peak RSS {m['peak_mb']:,.0f} MB; {info.split('INFO: ')[-1]}")
        predict_dps = n_docs / m["seconds"]
    project(tokens / whole["seconds"] / int(settings[0][1][-1]), predict_dps)


def project(label_tps: float, predict_dps: float | None) -> None:
    """Print how long PubMed would take at the per-core rates measured (``predict_dps``: on all this machine's
    cores, the threads ``distant predict`` uses by default)."""
    per_core = predict_dps / (os.cpu_count() or 1) if predict_dps else None
    print(f"\nprojection for PubMed (~{PUBMED_ABSTRACTS / 1e6:.0f} M abstracts, ~{PUBMED_TOKENS / 1e9:.0f} B tokens), "
          f"assuming throughput linear in cores (each shard independent) and the per-core rates measured here "
          f"(labeling {label_tps:,.0f} tokens/s"
          + (f", prediction {per_core:,.1f} documents/s" if per_core else "") + "):")
    for cores in (2, 16, 64, 256):
        line = f"- labeling on {cores} cores: {_duration(PUBMED_TOKENS / (label_tps * cores))}"
        if per_core:
            line += f"; prediction on {cores} CPU cores: {_duration(PUBMED_ABSTRACTS / (per_core * cores))}"
        print(line)


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:,.1f} h" if seconds >= 3600 else f"{seconds / 60:,.0f} min"


def _xml_bytes(path: Path) -> int:
    with gzip.open(path, "rb") as f:
        return sum(len(block) for block in iter(lambda: f.read(1 << 20), b""))


def _first(shards: list[Path], limit: float) -> list[Path]:
    out, total = [], 0
    for s in shards:
        if total >= limit:
            break
        out.append(s)
        total += _xml_bytes(s)
    return out


def _clean(path: Path) -> None:
    subprocess.run(["rm", "-rf", str(path)], check=True)


def _same(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in b.glob("*.jsonl"))
    return names == sorted(p.name for p in a.glob("*.jsonl")) and all(
        (a / n).read_bytes() == (b / n).read_bytes() for n in names)


def versions(args: argparse.Namespace) -> None:
    """Label one corpus with several checkouts of distant in turn (same interpreter), alternating, ``--rounds``
    times; print each run's rate and each checkout's mean against the first's, and check that they all wrote the
    same JSON values (the bytes may differ in spacing between writers)."""
    corpus, work = Path(args.corpus), Path(args.work)
    trees = [Path(t).resolve() for t in args.tree]
    b = data_dir() / "BC5CDR" / "autoner"
    labeling = ["--dict", str(b / "dict_core.txt"), "--unknown", str(b / "dict_full.txt"), "--stopwords",
                str(b / "stopwords.txt")]
    names = [subprocess.run(["git", "log", "-1", "--format=%h %s"], cwd=t, capture_output=True, text=True)
             .stdout.strip()[:60] or str(t) for t in trees]
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    print(f"{cpu}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start; {corpus}\n")
    print("| round | checkout | wall s | tokens/s (in the process) |\n|---|---|---|---|")
    rates: dict[int, list[float]] = {k: [] for k in range(len(trees))}
    for r in range(args.rounds):
        for k, tree in enumerate(trees):
            out = work / f"versions-{k}"
            _clean(out)
            env = {**os.environ, "PYTHONPATH": str(tree)}
            m = measured([sys.executable, "-m", "distant", "label", str(corpus), "-o", f"{out}/", "--workers", "1",
                          *labeling], cwd=tree, env=env)
            rates[k].append(_summary(m["stderr"], "tokens/s"))
            print(f"| {r + 1} | {names[k]} | {m['seconds']:.1f} | {rates[k][-1]:,.0f} |", flush=True)
    base = sum(rates[0]) / len(rates[0])
    print()
    for k in range(len(trees)):
        mean = sum(rates[k]) / len(rates[k])
        print(f"- {names[k]}: mean {mean:,.0f} tokens/s, {mean / base:.2f}x the first")
    same = all(_same_values(work / "versions-0", work / f"versions-{k}") for k in range(1, len(trees)))
    print(f"- every checkout wrote the same JSON values as the first: {same}")


def _same_values(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in a.glob("*.jsonl"))
    if names != sorted(p.name for p in b.glob("*.jsonl")):
        return False
    for name in names:
        with open(a / name, encoding="utf-8") as fa, open(b / name, encoding="utf-8") as fb:
            for x, y in zip(fa, fb, strict=True):
                if json.loads(x) != json.loads(y):
                    return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    m = sub.add_parser("make")
    m.add_argument("--mb", type=float, default=1024.0, help="MB of XML in all (uncompressed)")
    m.add_argument("--shard-mb", type=float, default=64.0, help="MB of XML per shard")
    m.add_argument("--out", required=True)
    m.add_argument("--seed", type=int, default=13)
    r = sub.add_parser("run")
    r.add_argument("--corpus", required=True, help="a folder of .xml.gz shards (from make)")
    r.add_argument("--work", default="/tmp/bench-scale", help="where the outputs go")
    r.add_argument("--subset-mb", type=float, default=100.0)
    r.add_argument("--predict-mb", type=float, default=100.0)
    r.add_argument("--model", help="a trained run folder, for the prediction row")
    r.add_argument("--settings", default="local1,local2,ray1,ray2",
                   help="labeling settings, comma-separated, from local1, local2, ray1, ray2; the first is also run "
                        "on the --subset-mb shards and its rate is the projection's")
    v = sub.add_parser("versions", help="the same labeling with several checkouts of distant, side by side")
    v.add_argument("--corpus", required=True, help="a folder of .xml.gz shards (from make)")
    v.add_argument("--tree", action="append", required=True,
                   help="a checkout of the project (e.g. from git worktree add); repeat; the first is the baseline")
    v.add_argument("--rounds", type=int, default=2)
    v.add_argument("--work", default="/tmp/bench-scale")
    args = parser.parse_args()
    {"make": make, "run": run, "versions": versions}[args.what](args)


if __name__ == "__main__":
    main()
