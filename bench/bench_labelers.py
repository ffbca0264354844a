"""Benchmark the labelers: BC5CDR quality ablation, BC5CDR speed, a synthetic 100 MB / 1M-entry run, and
spaCy's PhraseMatcher on the same work. Prints tables.

    python bench/bench_labelers.py ablation                 # dictionary / normalisations / abbreviations / ...
    python bench/bench_labelers.py bc5cdr                   # 1,500 abstracts: tokenize / match / end to end
    python bench/bench_labelers.py synthetic --mb 100 --entries 1000000
    python bench/bench_labelers.py synthetic --mb 5 --entries 50000   # a quick run
    python bench/bench_labelers.py synthetic --mb 20 --jobs-mb 20 --spacy-mb 0  # + distant label, local and Ray

The data folder is ``$DISTANT_DATA`` (default ``../shared/data``).
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import resource
import subprocess
import sys
import time
from itertools import accumulate
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from distant.config import data_dir  # noqa: E402
from distant.docs import Document  # noqa: E402
from distant.evaluate import evaluate  # noqa: E402
from distant.formats import read_documents  # noqa: E402
from distant.config.labelers import (  # noqa: E402
    AbbreviationOptions, ConsistencyOptions, DictionaryOptions, PatternOptions,
)
from distant.labelers import (  # noqa: E402
    AbbreviationLabeler, ConsistencyLabeler, DictionaryLabeler, PatternLabeler, PriorityAggregator,
)
from distant.labelers.pipeline import label_documents  # noqa: E402
from distant.tokenize import default_tokenizer  # noqa: E402

SPLITS = {"train": "CDR_TrainingSet", "dev": "CDR_DevelopmentSet", "test": "CDR_TestSet"}


def bc5cdr() -> Path:
    return data_dir() / "BC5CDR"


def load_splits(names=("train", "dev", "test")) -> dict[str, list[Document]]:
    return {k: read_documents(bc5cdr() / "original" / f"{SPLITS[k]}.PubTator.txt", "pubtator") for k in names}


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- ablation -----------------------------------------------------------------------------------------------
AUTONER_STYLE = dict(keep_case_max_len=0, nfkc=False, greek=False, plurals="off", hyphens=False)


def _dictionary(**options) -> DictionaryLabeler:
    d = bc5cdr() / "autoner"
    return DictionaryLabeler("dictionary", DictionaryOptions(dicts=[d / "dict_core.txt"],
                                                             stopwords=d / "stopwords.txt", **options))


def _patterns() -> list:
    trove = bc5cdr() / "trove"
    return [
        PatternLabeler("chem_patterns", PatternOptions(tables=[trove / "cdr_chemical_regexes.tsv"],
                                                       labels={"1": "Chemical"})),
        PatternLabeler("disease_patterns", PatternOptions(tables=[trove / "cdr_disease_regexes.tsv"],
                                                          labels={"1": "Disease"})),
    ]


def _exclusions() -> PatternLabeler:
    trove = bc5cdr() / "trove"
    return PatternLabeler("exclusions", PatternOptions(exclude_terms=[
        trove / "cdr-chemicals-guidelines-neg.txt", trove / "cdr-diseases-guidelines-neg.txt"]))


def ablation_rows():
    """(name, labelers) in the order of the table; each builds on the previous unless said."""
    abbr = lambda: AbbreviationLabeler("abbreviation", AbbreviationOptions(layer="dictionary"))  # noqa: E731
    abbr_exact = lambda: AbbreviationLabeler("abbreviation", AbbreviationOptions(layer="dictionary", match="exact"))  # noqa: E731
    cons = lambda: ConsistencyLabeler("consistency", ConsistencyOptions(layers=["dictionary", "abbreviation"]))  # noqa: E731
    yield "dictionary, lower-cased, longest (AutoNER-style)", [_dictionary(**AUTONER_STYLE)]
    for key, value in (("keep_case_max_len", 4), ("nfkc", True), ("greek", True), ("plurals", "add"),
                       ("plurals", "fold"), ("hyphens", True)):
        yield f"  + {key} = {value!r} (alone)", [_dictionary(**{**AUTONER_STYLE, key: value})]
    yield "dictionary, defaults (all of the above, plurals = 'add')", [_dictionary()]
    yield "  defaults, overlap = 'all'", [_dictionary(overlap="all")]
    yield "defaults + abbreviations (match = 'exact')", [_dictionary(), abbr_exact()]
    yield "defaults + abbreviations (match = 'end')  [distant label default]", [_dictionary(), abbr()]
    yield "  + consistency", [_dictionary(), abbr(), cons()]
    yield "  + Trove regex patterns (lowest priority)", [_dictionary(), abbr(), *_patterns()]
    yield "  + Trove regex patterns (highest priority)", [*_patterns(), _dictionary(), abbr()]
    yield "  + Trove exclusion terms (highest priority)", [_exclusions(), _dictionary(), abbr()]


def run_ablation(args) -> None:
    splits = load_splits(("dev", "test"))
    print(f"{'configuration':<64}{'dev P':>7}{'dev R':>7}{'dev F1':>7}{'test P':>8}{'test R':>7}{'test F1':>8}")
    for name, labelers in ablation_rows():
        cells = []
        for split in ("dev", "test"):
            docs = [d.copy(layers=["gold"]) for d in splits[split]]
            aggregator = PriorityAggregator([lab.name for lab in labelers])
            label_documents(docs, labelers, aggregator)
            micro = evaluate(splits[split], docs, pred_layer="pseudo").micro
            cells += [micro.precision, micro.recall, micro.f1]
        print(f"{name:<64}" + "".join(f"{c:>7.3f}" if k % 3 else f"{c:>8.3f}" if k else f"{c:>7.3f}"
                                      for k, c in enumerate(cells)))


# -- speed --------------------------------------------------------------------------------------------------
def spacy_phrase_matcher(labels_and_surfaces: list[tuple[str, str]]):
    """Build spaCy's PhraseMatcher (attr LOWER) on the same entries, tokenized by our tokenizer."""
    import spacy
    from spacy.matcher import PhraseMatcher as SpacyPhraseMatcher
    from spacy.tokens import Doc

    from distant.labelers.dictionary import tokenize_surfaces
    nlp = spacy.blank("en")
    matcher = SpacyPhraseMatcher(nlp.vocab, attr="LOWER")
    by_label: dict[str, list] = {}
    words = tokenize_surfaces([s for _, s in labels_and_surfaces])
    for (label, _), w in zip(labels_and_surfaces, words):
        if w:
            by_label.setdefault(label, []).append(Doc(nlp.vocab, words=w))
    for label, patterns in by_label.items():
        matcher.add(label, patterns)
    return nlp, matcher


def spacy_from_raw_text(nlp, matcher, texts: list[str]) -> float:
    """Seconds for spaCy's own way from raw text: its English tokenizer (``make_doc``), then the PhraseMatcher.

    spaCy's tokens are not ours (it keeps ``cisplatin-induced`` whole), so this times the same work, not the
    same matches; the token count of the ratio is ours.
    """
    t = time.perf_counter()
    for text in texts:
        matcher(nlp.make_doc(text))
    return time.perf_counter() - t


def spacy_docs(nlp, docs: list[Document]):
    from spacy.tokens import Doc
    return [Doc(nlp.vocab, words=d.words()) for d in docs]


def run_bc5cdr(args) -> None:
    splits = load_splits()
    raw = [d for split in splits.values() for d in split]
    d = bc5cdr() / "autoner"
    print(f"machine: {os.cpu_count()} cores, no GPU; python {sys.version.split()[0]}")
    t = time.perf_counter()
    labeler = _dictionary()
    build_s = time.perf_counter() - t
    docs = [x.copy(layers=[]) for x in raw]
    tok = default_tokenizer()
    t = time.perf_counter()
    for doc in docs:
        tok(doc)
    tok_s = time.perf_counter() - t
    n_tokens = sum(len(doc.tokens) for doc in docs)
    t = time.perf_counter()
    for doc in docs:
        labeler.matcher.match(doc.words())
    raw_match_s = time.perf_counter() - t
    t = time.perf_counter()
    for doc in docs:
        labeler(doc)
    match_s = time.perf_counter() - t
    rows = [("tokenize", tok_s), ("match only (PhraseMatcher.match)", raw_match_s),
            ("dictionary labeler on tokenized docs", match_s)]
    for workers in (1, 2):
        fresh = [x.copy(layers=[]) for x in raw]
        for x in fresh:
            x.tokens = None
        stats = label_documents(fresh, [labeler], PriorityAggregator(["dictionary"]), workers=workers)
        rows.append((f"end to end from raw text, workers={workers}", stats.seconds))
        if workers == 1:
            end_to_end_s = stats.seconds
    print(f"{len(docs):,} documents, {n_tokens:,} tokens; dictionary build {build_s:.2f} s")
    print(f"{'stage':<48}{'seconds':>10}{'tokens/s':>14}")
    for name, s in rows:
        print(f"{name:<48}{s:>10.3f}{n_tokens / s:>14,.0f}")
    from distant.labelers.dictionary import read_dictionary
    entries = [(t_, s_) for t_, s_, _ in read_dictionary(d / "dict_core.txt")]
    nlp, matcher = spacy_phrase_matcher(entries)
    t = time.perf_counter()
    sdocs = spacy_docs(nlp, docs)
    doc_s = time.perf_counter() - t
    t = time.perf_counter()
    for sd in sdocs:
        matcher(sd)
    spacy_s = time.perf_counter() - t
    print(f"{'spaCy PhraseMatcher (LOWER), prebuilt spaCy Docs':<48}{spacy_s:>10.3f}{n_tokens / spacy_s:>14,.0f}")
    print(f"{'spaCy Doc(words) + PhraseMatcher (same input)':<48}{doc_s + spacy_s:>10.3f}"
          f"{n_tokens / (doc_s + spacy_s):>14,.0f}")
    raw_s = spacy_from_raw_text(nlp, matcher, [x.text for x in raw])
    print(f"{'spaCy from raw text: make_doc + PhraseMatcher':<48}{raw_s:>10.3f}{n_tokens / raw_s:>14,.0f}")
    print(f"speed ratio ours/spaCy, match only vs prebuilt Docs: {spacy_s / raw_match_s:.2f}x; "
          f"labeler vs Doc(words)+PhraseMatcher: {(doc_s + spacy_s) / match_s:.2f}x; "
          f"end to end from raw text (workers=1): {raw_s / end_to_end_s:.2f}x")


# -- synthetic ----------------------------------------------------------------------------------------------
_SYLLABLES = [c + v for c in "bcdfghklmnprstvxz" for v in ("a", "e", "i", "o", "u", "y", "ae", "io")]


def synthetic_vocabulary(n: int, rng: random.Random) -> list[str]:
    words = set()
    while len(words) < n:
        words.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def synthetic_entries(n: int, names: list[str], common: list[str], rng: random.Random) -> list[tuple[str, str]]:
    """Return ``n`` typed entries of 1-4 words: name words, with some common words ("acute", "syndrome")."""
    types = ["Chemical", "Disease", "Gene", "Species"]
    out = set()
    while len(out) < n:
        k = rng.choice((1, 1, 2, 2, 2, 3, 3, 4))
        words = [rng.choice(common) if k > 1 and rng.random() < 0.3 else rng.choice(names) for _ in range(k)]
        surface = " ".join(words) if rng.random() < 0.8 else "-".join(words)
        out.add((rng.choice(types), surface))
    return sorted(out)


def synthetic_documents(n_chars: int, vocab: list[str], entries: list[tuple[str, str]], rng: random.Random,
                        doc_chars: int = 1500):
    """Yield batches of documents of about ``doc_chars`` characters until ``n_chars`` are produced."""
    produced = 0
    k = 0
    batch = []
    # Word frequencies follow Zipf's law (rank r has weight 1/r), as in real text.
    cum = list(accumulate(1.0 / r for r in range(1, len(vocab) + 1)))
    while produced < n_chars:
        parts = []
        size = 0
        words = iter(rng.choices(vocab, cum_weights=cum, k=doc_chars // 4))
        while size < doc_chars:
            r = rng.random()
            w = rng.choice(entries)[1] if r < 0.03 else next(words)
            if r > 0.92:
                w += rng.choice((",", ".", ";", ")"))
            parts.append(w)
            size += len(w) + 1
        text = " ".join(parts)
        produced += len(text)
        batch.append(Document(f"syn{k}", text))
        k += 1
        if len(batch) == 2000:
            yield batch
            batch = []
    if batch:
        yield batch


def run_synthetic(args) -> None:
    rng = random.Random(args.seed)
    print(f"machine: {os.cpu_count()} cores, no GPU; python {sys.version.split()[0]}")
    words = synthetic_vocabulary(args.vocab + args.names, rng)
    rng.shuffle(words)
    vocab, names = words[: args.vocab], words[args.vocab:]  # text words, and the words names are made of
    entries = synthetic_entries(args.entries, names, vocab[:5000], rng)
    gc.collect()
    before = peak_mb()
    t = time.perf_counter()
    labeler = DictionaryLabeler("dictionary", entries=[(ty, s, None) for ty, s in entries])
    build_s = time.perf_counter() - t
    after = peak_mb()
    print(f"dictionary: {len(entries):,} entries -> {len(labeler.matcher):,} keys with variants; build "
          f"{build_s:.1f} s; peak RSS {after:,.0f} MB (+{after - before:,.0f} MB for the build)")
    aggregator = PriorityAggregator(["dictionary"])
    total_tokens = total_chars = 0
    seconds = match_s = 0.0
    spacy_sample: list[Document] = []
    for batch in synthetic_documents(int(args.mb * 1e6), vocab, entries, rng):
        total_chars += sum(len(d.text) for d in batch)
        stats = label_documents(batch, [labeler], aggregator, workers=args.workers)
        seconds += stats.seconds
        total_tokens += stats.tokens
        t = time.perf_counter()
        for d in batch:
            labeler.matcher.match(d.words())
        match_s += time.perf_counter() - t
        if sum(len(d.text) for d in spacy_sample) < args.spacy_mb * 1e6:
            spacy_sample.extend(d.copy(layers=[]) for d in batch[:200])
    print(f"corpus: {total_chars / 1e6:,.1f} MB, {total_tokens:,} tokens")
    print(f"{'stage':<52}{'seconds':>10}{'tokens/s':>14}")
    print(f"{f'end to end from raw text (workers={args.workers})':<52}{seconds:>10.1f}{total_tokens / seconds:>14,.0f}")
    print(f"{'match only (tokenized)':<52}{match_s:>10.1f}{total_tokens / match_s:>14,.0f}")
    print(f"peak RSS {peak_mb():,.0f} MB")
    if args.jobs_mb > 0:
        run_jobs(args, entries, vocab, rng)
    if args.spacy_mb > 0:
        t = time.perf_counter()
        nlp, matcher = spacy_phrase_matcher(entries[: args.spacy_entries])
        spacy_build = time.perf_counter() - t
        sample_tokens = sum(len(d.tokens) for d in spacy_sample)
        t = time.perf_counter()
        sdocs = spacy_docs(nlp, spacy_sample)
        doc_s = time.perf_counter() - t
        t = time.perf_counter()
        for sd in sdocs:
            matcher(sd)
        spacy_s = time.perf_counter() - t
        t = time.perf_counter()
        ours = PhraseMatcherSubset(entries[: args.spacy_entries])
        ours_build = time.perf_counter() - t
        t = time.perf_counter()
        for d in spacy_sample:
            ours.match(d.words())
        ours_s = time.perf_counter() - t
        print(f"spaCy PhraseMatcher (LOWER), {min(args.spacy_entries, len(entries)):,} entries (build {spacy_build:.1f} s), "
              f"on a {sum(len(d.text) for d in spacy_sample) / 1e6:.1f} MB subset ({sample_tokens:,} tokens):")
        print(f"{'  spaCy PhraseMatcher, prebuilt spaCy Docs':<52}{spacy_s:>10.2f}{sample_tokens / spacy_s:>14,.0f}")
        print(f"{'  spaCy Doc(words) + PhraseMatcher':<52}{doc_s + spacy_s:>10.2f}"
              f"{sample_tokens / (doc_s + spacy_s):>14,.0f}")
        print(f"{'  ours, same entries, same subset (match only)':<52}{ours_s:>10.2f}{sample_tokens / ours_s:>14,.0f}")
        fresh = [Document(d.id, d.text) for d in spacy_sample]
        ours_raw_s = label_documents(fresh, [labeler], aggregator).seconds
        raw_s = spacy_from_raw_text(nlp, matcher, [d.text for d in spacy_sample])
        print(f"{'  ours end to end from raw text (all entries)':<52}{ours_raw_s:>10.2f}{sample_tokens / ours_raw_s:>14,.0f}")
        print(f"{'  spaCy from raw text: make_doc + PhraseMatcher':<52}{raw_s:>10.2f}{sample_tokens / raw_s:>14,.0f}")
        print(f"  build: spaCy {spacy_build:.1f} s, ours {ours_build:.1f} s ({spacy_build / ours_build:.1f}x); "
              f"match: {spacy_s / ours_s:.2f}x vs prebuilt Docs, {(doc_s + spacy_s) / ours_s:.2f}x vs Doc(words)+match; "
              f"end to end from raw text: {raw_s / ours_raw_s:.2f}x")


def run_jobs(args, entries: list[tuple[str, str]], vocab: list[str], rng: random.Random) -> None:
    """``distant label`` with the dictionary on ``--jobs-mb`` of the synthetic text, in 4 shards: the local engine
    with 1 and 2 workers (forked: the automaton built once, shared copy-on-write) and Ray with 1 and 2 actors
    (built once in the driver, shipped through the object store): wall time and each process's peak memory."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_scale import measured

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    dictionary = work / "dictionary.tsv"
    dictionary.write_text("".join(f"{t}\t{surface}\n" for t, surface in entries), encoding="utf-8")
    shards = [work / f"text{k}.txt" for k in range(4)]
    files = [s.open("w", encoding="utf-8") for s in shards]
    n = 0
    for batch in synthetic_documents(int(args.jobs_mb * 1e6), vocab, entries, rng):
        for d in batch:
            files[n % 4].write(d.text + "\n")
            n += 1
    for f in files:
        f.close()
    print(f"\n`distant label` on {sum(s.stat().st_size for s in shards) / 1e6:,.1f} MB of the same text ({n:,} "
          f"documents, 4 shards) with the {len(entries):,}-entry dictionary ({dictionary.stat().st_size / 1e6:,.0f} MB "
          "TSV); peak memory per process (RSS; USS = private, not shared with another process):")
    print("| engine | wall s | peak RSS, all processes | per process: peak RSS / USS |")
    print("|---|---|---|---|")
    for name, extra in (("local, 1 worker", ["--workers", "1"]), ("local, 2 workers", ["--workers", "2"]),
                        ("Ray, 1 actor", ["--engine", "ray", "--actors", "1"]),
                        ("Ray, 2 actors", ["--engine", "ray", "--actors", "2"])):
        out = work / f"out-{name.replace(' ', '').replace(',', '-')}"
        subprocess.run(["rm", "-rf", str(out)], check=True)
        m = measured([sys.executable, "-m", "distant", "label", *map(str, shards), "-o", f"{out}/", "--dict",
                      str(dictionary), *extra], per_process=True)
        big = sorted((p for p in m["processes"].values() if p["rss"] >= 50), key=lambda p: -p["rss"])
        each = "; ".join(f"{p['name']}: {p['rss']:,.0f} / {p['uss']:,.0f} MB" for p in big)
        print(f"| {name} | {m['seconds']:,.1f} | {m['peak_mb']:,.0f} MB | {each} |")


def PhraseMatcherSubset(entries):  # noqa: N802 - reads like a constructor
    from distant.labelers.dictionary import PhraseMatcher
    m = PhraseMatcher()
    m.add_surfaces([s for _, s in entries], [t for t, _ in entries])
    return m.build()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="task", required=True)
    sub.add_parser("ablation", help="BC5CDR dev/test scores of labeler combinations")
    sub.add_parser("bc5cdr", help="BC5CDR speed, and spaCy's PhraseMatcher on the same tokens")
    syn = sub.add_parser("synthetic", help="synthetic corpus and dictionary")
    syn.add_argument("--mb", type=float, default=100.0, help="corpus size in MB of text")
    syn.add_argument("--entries", type=int, default=1_000_000, help="dictionary entries")
    syn.add_argument("--vocab", type=int, default=200_000, help="distinct words of running text (Zipf-distributed)")
    syn.add_argument("--names", type=int, default=400_000, help="distinct words that entries are made of")
    syn.add_argument("--workers", type=int, default=1)
    syn.add_argument("--spacy-mb", type=float, default=2.0, help="text for the PhraseMatcher comparison (0: skip)")
    syn.add_argument("--spacy-entries", type=int, default=1_000_000, help="entries given to the PhraseMatcher")
    syn.add_argument("--seed", type=int, default=13)
    syn.add_argument("--jobs-mb", type=float, default=0.0,
                     help="text for `distant label` runs with the dictionary, locally and on Ray (0: skip)")
    syn.add_argument("--work", default="/tmp/bench-labelers", help="where --jobs-mb writes its files")
    args = parser.parse_args()
    {"ablation": run_ablation, "bc5cdr": run_bc5cdr, "synthetic": run_synthetic}[args.task](args)


if __name__ == "__main__":
    main()
