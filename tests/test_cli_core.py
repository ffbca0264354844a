"""The core commands from the command line: convert, evaluate, and one-line errors for bad input."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from seqeval.metrics import classification_report
from seqeval.scheme import IOB2
from typer.testing import CliRunner

from distant.cli import app

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def scores(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_evaluate_identity_and_one_missing_mention(tmp_path):
    gold = SAMPLE / "gold.pubtator"
    assert scores(run("evaluate", gold, gold, "--json"))["micro"]["f1"] == 1.0
    lines = gold.read_text().splitlines()
    first_mention = next(i for i, line in enumerate(lines) if line.count("\t") >= 4)
    pred = tmp_path / "pred.pubtator"
    pred.write_text("\n".join(lines[:first_mention] + lines[first_mention + 1:]) + "\n")
    micro = scores(run("evaluate", gold, pred, "--json", "--errors", tmp_path / "errors.tsv"))["micro"]
    assert micro["precision"] == 1.0 and micro["recall"] == pytest.approx((micro["support"] - 1) / micro["support"])
    errors = (tmp_path / "errors.tsv").read_text().splitlines()
    assert len(errors) == 2 and "\tFN\tmissed\t" in errors[1]


def test_convert_round_trip_keeps_every_mention(tmp_path):
    gold = SAMPLE / "gold.pubtator"
    assert run("convert", gold, tmp_path / "a.jsonl").exit_code == 0
    assert run("convert", tmp_path / "a.jsonl", tmp_path / "b.pubtator").exit_code == 0
    assert (tmp_path / "b.pubtator").read_text() == gold.read_text()
    assert run("convert", tmp_path / "a.jsonl", tmp_path / "c.conll").exit_code == 0
    assert run("convert", tmp_path / "a.jsonl", tmp_path / "d.spacy").exit_code == 0


@pytest.mark.parametrize("name,content,args", [
    ("missing", None, ["evaluate", "{d}/nope.pubtator", "{d}/nope.pubtator"]),
    ("bad.conll", b"token\tB-X\textra\nnext\n", ["evaluate", "{f}", "{f}"]),
    ("tag.conll", b"a\tB-X\nb\tI-\n", ["evaluate", "{f}", "{f}"]),
    ("bad.pubtator", b"1|t|Title\n1|a|Text\n1\t5\t2\tx\tChemical\n", ["evaluate", "{f}", "{f}"]),
    ("bad.txt", b"\xff\xfe broken\n", ["convert", "{f}", "{d}/o.jsonl"]),
    ("empty.txt", b"", ["convert", "{f}", "{d}/o.jsonl"]),
    ("unknown.xyz", b"text\n", ["convert", "{f}", "{d}/o.jsonl"]),
])
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, name, content, args):
    f = tmp_path / name
    if content is not None:
        f.write_bytes(content)
    result = run(*[a.format(d=tmp_path, f=f) for a in args])
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("distant: error:"), result.stderr
    assert "Traceback" not in result.output


def test_mismatched_documents_are_an_error(tmp_path):
    other = tmp_path / "other.pubtator"
    other.write_text("9|t|Another title\n9|a|Another text.\n\n")
    result = run("evaluate", SAMPLE / "gold.pubtator", other)
    assert result.exit_code == 2 and "do not match" in result.stderr


@pytest.mark.shared_data
def test_conll_scoring_equals_seqeval_on_bc5cdr(data_dir, tmp_path):
    gold = data_dir / "BC5CDR" / "mtl-iob" / "BC5CDR-IOB" / "test.tsv"
    rng = random.Random(7)
    tags = ["O", "B-Chemical", "I-Chemical", "B-Disease", "I-Disease"]
    gold_seqs, pred_seqs, out = [], [], []
    g, p = [], []
    for line in gold.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            if g:
                gold_seqs.append(g)
                pred_seqs.append(p)
            g, p = [], []
            out.append("")
            continue
        token, tag = line.split("\t")
        new = rng.choice(tags) if rng.random() < 0.05 else tag
        g.append(tag)
        p.append(new)
        out.append(f"{token}\t{new}")
    if g:
        gold_seqs.append(g)
        pred_seqs.append(p)
    pred = tmp_path / "pred.tsv"
    pred.write_text("\n".join(out) + "\n", encoding="utf-8")
    # The corrupted tags hold I- tags that continue nothing: read as entities that start there (a counted
    # repair, conlleval's reading and seqeval's default mode); --strict refuses them; seqeval's strict mode
    # drops them, which is the score of the same file with every such I- written as O.
    ours = scores(run("evaluate", gold, pred, "--json", "--scheme", "IOB2"))
    ref = classification_report(gold_seqs, pred_seqs, output_dict=True)
    _assert_same_scores(ours, ref)
    strict = run("evaluate", gold, pred, "--json", "--strict")
    assert strict.exit_code == 2 and "I-" in strict.stderr
    dropped = [_drop_orphans(seq) for seq in pred_seqs]
    assert dropped != pred_seqs
    pred.write_text("\n\n".join("\n".join(f"{w}\t{t}" for w, t in zip(words, seq))
                                for words, seq in zip(_words(gold), dropped)) + "\n", encoding="utf-8")
    ref = classification_report(gold_seqs, pred_seqs, mode="strict", scheme=IOB2, output_dict=True)
    _assert_same_scores(scores(run("evaluate", gold, pred, "--json", "--strict")), ref)


def _drop_orphans(tags: list[str]) -> list[str]:
    """Return ``tags`` with every I-X that continues no X entity written as O (seqeval strict's reading)."""
    out: list[str] = []
    for tag in tags:
        previous = out[-1] if out else "O"
        orphan = tag.startswith("I-") and (previous == "O" or previous[2:] != tag[2:])
        out.append("O" if orphan else tag)
    return out


def _words(path: Path) -> list[list[str]]:
    sentences, words = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            if words:
                sentences.append(words)
            words = []
        else:
            words.append(line.split("\t")[0])
    return sentences + ([words] if words else [])


def _assert_same_scores(ours: dict, ref: dict) -> None:
    assert ours["micro"]["support"] == ref["micro avg"]["support"] == 9809
    assert ours["micro"]["f1"] == pytest.approx(ref["micro avg"]["f1-score"], abs=1e-12)
    for label in ("Chemical", "Disease"):
        assert ours["per_type"][label]["precision"] == pytest.approx(ref[label]["precision"], abs=1e-12)
        assert ours["per_type"][label]["recall"] == pytest.approx(ref[label]["recall"], abs=1e-12)


@pytest.mark.shared_data
def test_bc5cdr_pubtator_jsonl_round_trip(data_dir, tmp_path):
    gold = data_dir / "BC5CDR" / "original" / "CDR_TestSet.PubTator.txt"
    assert run("convert", gold, tmp_path / "t.jsonl").exit_code == 0
    assert run("convert", tmp_path / "t.jsonl", tmp_path / "t.pubtator").exit_code == 0
    micro = scores(run("evaluate", gold, tmp_path / "t.pubtator", "--json"))["micro"]
    assert micro["f1"] == 1.0 and micro["support"] == 9809
