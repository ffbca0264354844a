"""Corpus scale: PubMed XML, .gz inputs, streaming in flat memory, shards with a manifest, resuming, Ray."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from distant.cli import app
from distant.docs import Document
from distant.engines import RayOptions, label_corpus
from distant.errors import DistantError
from distant.evaluate import evaluate
from distant.formats import iter_documents, read_documents, write_documents
from distant.jobs import MANIFEST, Reading, Writing, expand_inputs, run_local_pool, shard_name
from distant.labelers.pipeline import Labeling, labelers_from_args

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
DICT = SAMPLE / "dict.tsv"
runner = CliRunner()

RECORD = """<PubmedArticle><MedlineCitation Status="MEDLINE"><PMID Version="1">{pmid}</PMID><Article>
<ArticleTitle>{title}</ArticleTitle>{abstract}</Article></MedlineCitation></PubmedArticle>"""


def pubmed(records: list[str], deleted: list[str] = ()) -> str:
    deletions = "".join(f"<DeleteCitation><PMID Version=\"1\">{p}</PMID></DeleteCitation>" for p in deleted)
    return ('<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, '
            '1st January 2025//EN" "https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">\n<PubmedArticleSet>\n'
            + "\n".join(records) + deletions + "\n</PubmedArticleSet>\n")


def record(pmid: str, title: str, *parts: tuple[str, str]) -> str:
    texts = "".join(f'<AbstractText Label="{label}">{text}</AbstractText>' if label else f"<AbstractText>{text}"
                    "</AbstractText>" for label, text in parts)
    return RECORD.format(pmid=pmid, title=title, abstract=f"<Abstract>{texts}</Abstract>" if parts else "")


_SUMMARY_ROW = re.compile(r"^\S.*?\s{2,}[\d,]+(?:\s+[\d,]+)*$")


def summary_counts(stderr: str) -> list[str]:
    """The rows of the label summary table, less its times (log lines from other components left out)."""
    return [line for line in stderr.splitlines()
            if _SUMMARY_ROW.match(line) and not line.startswith(("seconds", "tokens/s"))]


def ok(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


# -- PubMed XML --------------------------------------------------------------------------------------------------
def test_pubmed_records_odd_ones_included(tmp_path, caplog):
    xml = pubmed([
        record("101", "Famotidine-associated <i>delirium</i>.", ("BACKGROUND", "H<sub>2</sub>\n  blockers."),
               ("RESULTS", "Delirium &amp; confusion.")),
        record("102", "A title alone."),
        record("103", "Unstructured.", ("", "One paragraph.")),
        record("104", "", ("", "An abstract without a title.")),
        record("105", ""),
        '<PubmedBookArticle><BookDocument><PMID Version="1">106</PMID><ArticleTitle>A chapter.</ArticleTitle>'
        "<Abstract><AbstractText>Book text.</AbstractText></Abstract></BookDocument></PubmedBookArticle>",
    ], deleted=["107", "108"])
    path = tmp_path / "pubmed26n0001.xml.gz"
    path.write_bytes(gzip.compress(xml.encode()))
    docs = read_documents(path)
    assert [d.id for d in docs] == ["101", "102", "103", "104", "106"]
    first = docs[0]
    assert first.text == "Famotidine-associated delirium. BACKGROUND: H2 blockers. RESULTS: Delirium & confusion."
    assert first.meta == {"title_length": 31, "breaks": [32]}
    assert docs[1].text == "A title alone." and docs[3].text == "An abstract without a title."
    assert "no abstract" in caplog.text and "2 deleted citations" in caplog.text and "no title and no" in caplog.text
    out = tmp_path / "out.pubtator"
    write_documents(docs, out, layer="gold")
    assert read_documents(out)[0].text == first.text  # the title/abstract split carries over to PubTator


@pytest.mark.parametrize("content, needle", [
    ("<PubmedArticleSet><PubmedArticle>", "does not parse"),
    ("<Other/>", "expected <PubmedArticleSet>"),
    ("<PubmedArticleSet><PubmedArticle><MedlineCitation/></PubmedArticle></PubmedArticleSet>", "no PMID"),
    ("", "empty input"),
    ("<PubmedArticleSet></PubmedArticleSet>", "empty input"),
])
def test_bad_pubmed_xml_is_one_error(tmp_path, content, needle):
    path = tmp_path / "bad.xml"
    path.write_text(content)
    with pytest.raises(DistantError, match=needle):
        read_documents(path)


def test_a_truncated_gzip_file_is_one_error(tmp_path):
    data = gzip.compress((SAMPLE / "gold.pubtator").read_bytes())
    path = tmp_path / "cut.pubtator.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DistantError, match="damaged gzip"):
        read_documents(path)


def test_gz_inputs_read_as_they_decompress(tmp_path):
    path = tmp_path / "gold.pubtator.gz"
    path.write_bytes(gzip.compress((SAMPLE / "gold.pubtator").read_bytes()))
    assert [d.text for d in read_documents(path)] == [d.text for d in read_documents(SAMPLE / "gold.pubtator")]


# -- inputs and shard names ------------------------------------------------------------------------------------
def test_expand_inputs_globs_folders_and_text_folders(tmp_path):
    shards = tmp_path / "shards"
    shards.mkdir()
    for name in ("b.jsonl", "a.pubtator", "c.xml.gz", "notes.md"):
        (shards / name).write_text("x")
    texts = tmp_path / "texts"
    texts.mkdir()
    (texts / "d1.txt").write_text("x")
    assert [p.name for p in expand_inputs([shards])] == ["a.pubtator", "b.jsonl", "c.xml.gz"]
    assert expand_inputs([texts]) == [texts]  # a plain-text corpus is one input
    assert [p.name for p in expand_inputs([str(shards / "*.jsonl"), "-"])] == ["b.jsonl", "-"]
    with pytest.raises(DistantError, match="no input matches"):
        expand_inputs([str(tmp_path / "*.none")])
    assert shard_name(Path("pubmed26n0001.xml.gz"), "jsonl") == "pubmed26n0001.jsonl"
    assert shard_name(Path("x.PubTator.txt"), "pubtator") == "x.pubtator"


# -- flat memory ------------------------------------------------------------------------------------------------
def generated(n: int, counter: dict) -> iter:
    for k in range(n):
        counter["read"] += 1
        yield Document(f"g{k}", "Aspirin caused headache and cisplatin nephrotoxicity in rats.")


@pytest.mark.parametrize("workers", [1, 2])
def test_labeling_holds_a_few_chunks_whatever_the_corpus(workers):
    counter = {"read": 0}
    labelers, aggregator = labelers_from_args([DICT])
    in_flight = []
    with Labeling(labelers, aggregator, workers=workers, chunk_size=16) as run:
        for done, doc in enumerate(run(generated(3000, counter)), 1):
            in_flight.append(counter["read"] - done)
            assert doc.spans("pseudo")
    assert len(in_flight) == 3000
    assert max(in_flight) <= (2 * workers + 1) * 16  # not the corpus: a window of chunks


def test_a_job_writes_documents_as_they_come(tmp_path, monkeypatch):
    counter = {"read": 0}
    written = []

    def documents(self, path):
        return generated(5000, counter)

    real = write_documents

    def watching(docs, *args, **kwargs):
        def watch():
            for doc in docs:
                written.append(counter["read"])
                yield doc
        return real(watch(), *args, **kwargs)

    monkeypatch.setattr(Reading, "documents", documents)
    monkeypatch.setattr("distant.jobs.write_documents", watching)
    labelers, aggregator = labelers_from_args([DICT])
    result, stats = label_corpus([tmp_path / "in.txt"], str(tmp_path / "out.jsonl"), labelers, aggregator,
                                 reading=Reading(), writing=Writing(layer="pseudo"))
    assert result.documents == stats.documents == 5000
    assert max(read - k for k, read in enumerate(written, 1)) <= 64  # one chunk ahead of the writer at most


def test_evaluate_streams_in_order_and_pairs_out_of_order(tmp_path):
    gold = read_documents(SAMPLE / "gold.pubtator")
    pred = [d.copy() for d in reversed(gold)]
    for d in pred:
        d.layers["pred"] = d.layers.pop("gold")
    assert evaluate(iter(gold), iter(pred)).micro.f1 == 1.0
    with pytest.raises(DistantError, match="occurs twice"):
        evaluate(gold, pred + pred[:1])
    with pytest.raises(DistantError, match="have no prediction"):
        evaluate(gold, pred[1:])


# -- shards, the manifest, resuming ------------------------------------------------------------------------------
def shards(tmp_path: Path, n: int = 3, repeat: int = 1) -> list[Path]:
    folder = tmp_path / "in"
    folder.mkdir(exist_ok=True)
    text = (SAMPLE / "gold.pubtator").read_text()
    paths = []
    for k in range(n):
        blocks = [b for b in text.split("\n\n") if b.strip()]
        renamed = []
        for r in range(repeat):
            for b in blocks:
                pmid = b.split("|", 1)[0]
                renamed.append(b.replace(f"{pmid}|", f"{pmid}{k}{r}|").replace(f"{pmid}\t", f"{pmid}{k}{r}\t"))
        path = folder / f"part{k}.pubtator"
        path.write_text("\n\n".join(renamed) + "\n\n")
        paths.append(path)
    return paths


def label_args(inputs, output, *extra):
    return ["label", *map(str, inputs), "-o", str(output), "--dict", str(DICT), *extra]


def test_shards_manifest_and_resume(tmp_path):
    inputs = shards(tmp_path)
    ok(*label_args(inputs, f"{tmp_path / 'whole'}/"))
    outs = sorted(p.name for p in (tmp_path / "whole").iterdir())
    assert outs == [MANIFEST, "part0.jsonl", "part1.jsonl", "part2.jsonl"]
    manifest = json.loads((tmp_path / "whole" / MANIFEST).read_text())
    assert [s["documents"] for s in manifest["shards"]] == [8, 8, 8]
    again = runner.invoke(app, label_args(inputs, f"{tmp_path / 'whole'}/"))
    assert again.exit_code == 2 and "--resume" in again.stderr
    other = runner.invoke(app, label_args(inputs, f"{tmp_path / 'whole'}/", "--no-abbreviations", "--resume"))
    assert other.exit_code == 2 and "other options" in other.stderr

    # a job that fails on its third shard resumes after the two it finished, to the same bytes
    good = inputs[2].read_text()
    inputs[2].write_text(good.replace("\t", "\tx", 1))
    broken = runner.invoke(app, label_args(inputs, f"{tmp_path / 'parts'}/"))
    assert broken.exit_code == 2
    assert sorted(p.name for p in (tmp_path / "parts").iterdir()) == [MANIFEST, "part0.jsonl", "part1.jsonl"]
    inputs[2].write_text(good)
    resumed = ok(*label_args(inputs, f"{tmp_path / 'parts'}/", "--resume", "-v"))
    assert "2 shards done before" in resumed.stderr
    for name in ("part0.jsonl", "part1.jsonl", "part2.jsonl"):
        assert (tmp_path / "parts" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes()


def test_a_killed_job_resumes_to_the_same_bytes(tmp_path):
    inputs = shards(tmp_path, n=4, repeat=150)
    whole = tmp_path / "whole"
    ok(*label_args(inputs, f"{whole}/"))
    cut = tmp_path / "cut"
    proc = subprocess.Popen([sys.executable, "-m", "distant", *label_args(inputs, f"{cut}/")], cwd=ROOT,
                            stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if (cut / MANIFEST).is_file():
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    proc.wait()
    names = {p.name for p in cut.iterdir()}
    assert not any(n.endswith(".tmp") and not n.startswith(".") for n in names)  # never a partial shard
    ok(*label_args(inputs, f"{cut}/", "--resume"))
    for k in range(4):
        assert (cut / f"part{k}.jsonl").read_bytes() == (whole / f"part{k}.jsonl").read_bytes()
    assert not [n for n in os.listdir(cut) if n.endswith(".tmp")]


def test_workers_label_whole_shards_to_the_same_bytes_and_counts(tmp_path):
    inputs = shards(tmp_path, n=3)
    one = ok(*label_args(inputs, f"{tmp_path / 'one'}/"))
    two = ok(*label_args(inputs, f"{tmp_path / 'two'}/", "--workers", "2"))
    for name in (MANIFEST, "part0.jsonl", "part1.jsonl", "part2.jsonl"):
        assert (tmp_path / "two" / name).read_bytes() == (tmp_path / "one" / name).read_bytes()
    assert summary_counts(two.stderr) == summary_counts(one.stderr)
    assert any(line.startswith("documents") for line in summary_counts(one.stderr))

    # bad input in one shard: one line naming its file and line; it writes nothing, the shards before it are kept
    # (a later one that a free worker finished meanwhile may be there too, unrecorded: resuming redoes it)
    good = inputs[1].read_text()
    inputs[1].write_text(good.replace("\t", "\tx", 1))
    broken = runner.invoke(app, label_args(inputs, f"{tmp_path / 'broken'}/", "--workers", "2"))
    assert broken.exit_code == 2 and "Traceback" not in broken.stderr
    assert f"{inputs[1]}:" in broken.stderr and len(broken.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "broken" / "part1.jsonl").exists()
    recorded = json.loads((tmp_path / "broken" / MANIFEST).read_text())["shards"]
    assert [s["output"] for s in recorded] == ["part0.jsonl"]
    inputs[1].write_text(good)
    resumed = ok(*label_args(inputs, f"{tmp_path / 'broken'}/", "--workers", "2", "--resume", "-v"))
    assert "1 shards done before" in resumed.stderr
    for name in ("part0.jsonl", "part1.jsonl", "part2.jsonl"):
        assert (tmp_path / "broken" / name).read_bytes() == (tmp_path / "one" / name).read_bytes()


def test_a_pool_does_whole_shards_each_in_one_worker_process(tmp_path):
    inputs = shards(tmp_path, n=3)

    def build():  # called in each worker: forked, so a closure does (nothing is pickled)
        def step(docs):
            for doc in docs:
                doc.meta["pid"] = os.getpid()
                yield doc
        return step

    result = run_local_pool(build, 2, inputs, f"{tmp_path / 'out'}/", Reading(), Writing(), job={"test": 1})
    assert (result.shards, result.documents, result.skipped) == (3, 24, 0)
    pids = [{d.meta["pid"] for d in iter_documents(tmp_path / "out" / f"part{k}.jsonl")} for k in range(3)]
    assert all(len(p) == 1 for p in pids) and os.getpid() not in set().union(*pids)
    again = run_local_pool(build, 2, inputs, f"{tmp_path / 'out'}/", Reading(), Writing(), job={"test": 1},
                           resume=True)
    assert (again.shards, again.skipped) == (0, 3)


def test_resume_needs_a_folder(tmp_path):
    result = runner.invoke(app, label_args([SAMPLE / "gold.pubtator"], tmp_path / "one.jsonl", "--resume"))
    assert result.exit_code == 2 and "folder of shards" in result.stderr


def test_one_output_file_from_several_inputs_in_order(tmp_path):
    inputs = shards(tmp_path, n=2)
    ok(*label_args(inputs, tmp_path / "all.jsonl"))
    docs = read_documents(tmp_path / "all.jsonl")
    assert [d.id for d in docs] == [d.id for p in inputs for d in iter_documents(p)]


# -- Ray --------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield ray
    ray.shutdown()


def test_ray_labels_shards_as_the_local_engine_does(tmp_path, local_ray):
    inputs = shards(tmp_path, n=3)
    local = ok(*label_args(inputs, f"{tmp_path / 'local'}/"))
    ray = ok(*label_args(inputs, f"{tmp_path / 'ray'}/", "--engine", "ray", "--actors", "2"))
    for k in range(3):
        assert (tmp_path / "ray" / f"part{k}.jsonl").read_bytes() == \
            (tmp_path / "local" / f"part{k}.jsonl").read_bytes()
    # the actors' counts reach the driver: the same summary (documents, tokens, spans per labeler and type)
    assert summary_counts(ray.stderr) == summary_counts(local.stderr)
    assert any(line.startswith("documents") for line in summary_counts(local.stderr))
    ok(*label_args(inputs, tmp_path / "local.pubtator"))
    ok(*label_args(inputs, tmp_path / "ray.pubtator", "--engine", "ray"))
    assert (tmp_path / "ray.pubtator").read_bytes() == (tmp_path / "local.pubtator").read_bytes()
    resumed = ok(*label_args(inputs, f"{tmp_path / 'ray'}/", "--engine", "ray", "--resume", "-v"))
    assert "3 shards done before" in resumed.stderr


def test_ray_predicts_as_the_local_engine_does(tmp_path, local_ray):
    run = tmp_path / "run"
    ok("train", ROOT / "configs" / "sample.toml", "-o", run, "--set", "train.epochs=2", "--set", "pretrain.epochs=1",
       "--set", "model.charlm.hidden_size=16", "--set", "combine.method=hmm")
    inputs = shards(tmp_path, n=2)
    counts = re.compile(r"(\d+) sentences \(\d+ sentences/s\), (\d+) spans")
    combined = re.compile(r"(\d+) spans after the run's label model")
    for extra in ([], ["--tagger-only"]):  # the run's labelers and label model in every actor, and without them
        local = ok("predict", run, *inputs, "-o", f"{tmp_path / 'local'}/", "-v", *extra)
        ray = ok("predict", run, *inputs, "-o", f"{tmp_path / 'ray'}/", "--engine", "ray", "-v", *extra)
        assert counts.search(ray.stderr).groups() == counts.search(local.stderr).groups()
        assert bool(combined.search(local.stderr)) == (not extra)
        if not extra:
            assert combined.search(ray.stderr).groups() == combined.search(local.stderr).groups()
        for k in range(2):
            assert (tmp_path / "ray" / f"part{k}.jsonl").read_bytes() == \
                (tmp_path / "local" / f"part{k}.jsonl").read_bytes()
        shutil.rmtree(tmp_path / "local")
        shutil.rmtree(tmp_path / "ray")


def test_ray_errors_are_one_line(tmp_path, local_ray):
    bad = tmp_path / "bad.pubtator"
    bad.write_text("1|t|x\n1\t5\t2\tx\tChemical\n")
    result = runner.invoke(app, label_args([bad], f"{tmp_path / 'out'}/", "--engine", "ray"))
    assert result.exit_code == 2 and "found offsets" in result.stderr, result.output
    options = runner.invoke(app, label_args([bad], f"{tmp_path / 'out2'}/", "--address", "localhost:1"))
    assert options.exit_code == 2 and "--engine ray" in options.stderr
    assert RayOptions().actors == 2
