"""WRENCH's sequence-tagging sets and CHMM's span-form ones, simulated: many types, many labelling functions.

The generator writes what WRENCH's loader (``wrench/dataset/seqdataset.py``) reads: splits of sentences with IOB2
``label`` tags and one tag per labelling function per token (``O``: did not fire), and a ``meta.json`` with
``lf``, ``lf_rec``, ``entity_types``, ``num_lf`` and the ``"test_size "`` key WRENCH writes with a space; or
CHMM's span form of the same sentences. Each function finds each gold entity with its own recall and gets it
right (type and boundaries) with its own accuracy; noisy ones also fire on tokens outside any entity.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from distant.cli import app
from distant.errors import DistantError
from distant.formats import read_documents, write_documents
from distant.tags import spans_to_tags
from tests.test_labelmodel import write_wrench

runner = CliRunner()

ONTONOTES = ["CARDINAL", "DATE", "EVENT", "FAC", "GPE", "LANGUAGE", "LAW", "LOC", "MONEY", "NORP", "ORDINAL",
             "ORG", "PERCENT", "PERSON", "PRODUCT", "QUANTITY", "TIME", "WORK_OF_ART"]
RESTAURANT = ["Amenity", "Cuisine", "Dish", "Hours", "Location", "Price", "Rating", "Restaurant_Name"]


@dataclass(frozen=True)
class Function:
    """A simulated labelling function: how often it finds a gold entity, how often it gets it right, and how
    often it fires on a token outside every entity."""

    name: str
    recall: float
    accuracy: float = 1.0
    false_rate: float = 0.0


def functions(n: int, *, precise: int = 1) -> list[Function]:
    """Return ``n`` functions: ``precise`` accurate ones, then noisy ones of lower accuracy and varied coverage."""
    out = [Function(f"precise_{k}", recall=0.6, accuracy=0.97) for k in range(precise)]
    for k in range(n - precise):
        out.append(Function(f"noisy_{k}", recall=0.25 + 0.05 * (k % 5), accuracy=0.6, false_rate=0.04 + 0.01 * (k % 3)))
    return out


def sentence(rng: random.Random, types: list[str], lfs: list[Function], lengths: tuple[int, int] = (6, 14)
             ) -> tuple[list[str], list, list]:
    """Return one sentence's tokens (about ``lengths``), gold spans and each function's spans (none overlapping
    within one)."""
    words, gold, length = [], [], rng.randint(*lengths)
    while len(words) < length:
        if rng.random() < 0.3:
            t, size = rng.choice(types), rng.choice([1, 1, 2, 3])
            gold.append((len(words), len(words) + size, t))
            words.extend(f"{t.lower()}{rng.randint(0, 30)}" for _ in range(size))
        else:
            words.append(rng.choice(["the", "of", "a", "in", "said", "and", "to", "was", "it", "on"]))
    words.append(".")
    n = len(words)
    inside = set().union(*(range(i, j) for i, j, _ in gold)) if gold else set()
    weak = []
    for lf in lfs:
        spans = []
        for i, j, t in gold:
            if rng.random() >= lf.recall:
                continue
            if rng.random() < lf.accuracy:
                spans.append((i, j, t))
            elif rng.random() < 0.5:
                spans.append((i, j, rng.choice([x for x in types if x != t])))
            else:  # a boundary error: one token short, or one token too long where that is free
                spans.append((i, j - 1, t) if j - i > 1 else (i, j + 1, t) if j < n and j not in inside else (i, j, t))
        taken = set().union(*(range(i, j) for i, j, _ in spans)) if spans else set()
        spans += [(k, k + 1, rng.choice(types)) for k in range(n) if k not in inside and k not in taken
                  and rng.random() < lf.false_rate]
        weak.append(sorted(spans))
    return words, gold, weak


def dataset(types: list[str], lfs: list[Function], sizes: dict[str, int], *, form: str = "tags",
            seed: int = 0, lengths: tuple[int, int] = (6, 14)) -> dict[str, dict]:
    """Return the splits (``{"train": {"0": document, ...}, ...}``) in WRENCH's tag form or CHMM's span form."""
    rng = random.Random(seed)
    splits = {}
    for split, size in sizes.items():
        docs = {}
        for k in range(size):
            words, gold, weak = sentence(rng, types, lfs, lengths)
            if form == "tags":
                per_lf = [spans_to_tags(len(words), spans) for spans in weak]
                docs[str(k)] = {"data": {"text": words}, "label": spans_to_tags(len(words), gold),
                                "weak_labels": [list(row) for row in zip(*per_lf)]}
            else:
                docs[str(k)] = {"label": [list(s) for s in gold], "data": {"text": words},
                                "weak_labels": [[list(s) for s in spans] for spans in weak]}
        splits[split] = docs
    return splits


def write_dataset(folder: Path, splits: dict[str, dict], types: list[str], lfs: list[Function],
                  recommended: list[str] | None = None) -> dict[str, Path]:
    """Write the splits and a WRENCH ``meta.json`` (``test_size `` with its space); return the split paths."""
    names = [lf.name for lf in lfs]
    paths = {split: write_wrench(folder, docs, lfs=names, name=f"{split}.json") for split, docs in splits.items()}
    meta = {"lf": names, "lf_rec": recommended or names, "entity_types": types, "num_lf": len(names),
            "num_labels": 1 + 2 * len(types),
            "max_length": max((len(d["data"]["text"]) for docs in splits.values() for d in docs.values()), default=0),
            **{f"{split}_size" + (" " if split == "test" else ""): len(docs) for split, docs in splits.items()}}
    (folder / "meta.json").write_text(json.dumps(meta))
    return paths


# -- the tests ----------------------------------------------------------------------------------------------
SIZES = {"train": 200, "valid": 20, "test": 60}  # about 2,700 tokens


def run(*args) -> dict | str:
    """Run the CLI; return its --json output parsed (or its text), asserting success."""
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if "--json" in args else result.stdout


def one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("distant: error:") and "Traceback" not in result.output, lines
    return lines[0]


def f1(gold: Path, pred: Path, layer: str = "pseudo") -> float:
    return run("evaluate", gold, pred, "--pred-layer", layer, "--json")["micro"]["f1"]


@pytest.fixture(scope="module")
def ontonotes(tmp_path_factory) -> dict[str, dict[str, Path]]:
    """An OntoNotes-like set (18 types, one precise function and 15 noisy ones) in WRENCH's tag form and in
    CHMM's span form: the same sentences."""
    root = tmp_path_factory.mktemp("ontonotes")
    lfs = functions(16)
    return {form: write_dataset(root / form, dataset(ONTONOTES, lfs, SIZES, form=form), ONTONOTES, lfs)
            for form in ("tags", "spans")}


@pytest.mark.parametrize("method", ["hmm", "vote", "priority"])
def test_both_forms_aggregate_alike_into_one_file_per_split(ontonotes, tmp_path, method):
    outputs = {}
    for form, paths in ontonotes.items():
        out = tmp_path / form
        summary = run("aggregate", *paths.values(), "--from", "wrench", "--method", method, "-o", out, "--json")
        assert summary["documents"] == SIZES and summary["sources"] == [lf.name for lf in functions(16)]
        assert sorted(p.name for p in out.iterdir()) == ["test.jsonl", "train.jsonl", "valid.jsonl"]
        outputs[form] = {p.name: p.read_bytes() for p in out.iterdir()}
    assert outputs["tags"] == outputs["spans"]
    docs = read_documents(tmp_path / "tags" / "train.jsonl")
    labels = {s.label for doc in docs for s in doc.spans("pseudo")}
    assert len(labels) > 10 and labels <= set(ONTONOTES)


@pytest.mark.parametrize("method", ["hmm", "vote", "priority"])
def test_sources_picks_the_functions_combined(ontonotes, tmp_path, method):
    train = ontonotes["tags"]["train"]
    summary = run("aggregate", train, "--from", "wrench", "--method", method, "--sources", "noisy_3,precise_0",
                  "-o", tmp_path, "--json")
    assert summary["sources"] == ["noisy_3", "precise_0"]
    if method == "hmm":
        assert set(summary["learned"]) == {"noisy_3", "precise_0"}
    alone = run("aggregate", train, "--from", "wrench", "--method", method, "--sources", "precise_0", "-o", tmp_path,
                "--json")
    assert alone["sources"] == ["precise_0"]
    docs = read_documents(tmp_path / "train.jsonl")
    if method != "hmm":  # one function alone: its own spans
        assert all([s.key() for s in doc.spans("pseudo")] == [s.key() for s in doc.spans("precise_0")] for doc in docs)
    assert f1(train, tmp_path / "train.jsonl") == pytest.approx(f1(train, tmp_path / "train.jsonl", "precise_0"),
                                                                abs=0.05)


def test_hmm_beats_majority_vote_with_one_precise_function_and_many_noisy_ones(ontonotes, tmp_path):
    paths = ontonotes["tags"]
    scores = {}
    for method in ("hmm", "vote"):
        run("aggregate", paths["train"], paths["test"], "--from", "wrench", "--method", method, "-o", tmp_path / method)
        scores[method] = f1(paths["test"], tmp_path / method / "test.jsonl")
    assert scores["hmm"] > scores["vote"] + 0.1, scores  # about 0.67 against 0.48
    learned = run("aggregate", paths["train"], "--from", "wrench", "-o", tmp_path / "again", "--json")["learned"]
    noisy = max(v["precision"] for name, v in learned.items() if name != "precise_0")
    assert learned["precise_0"]["precision"] > 0.9 > noisy + 0.1, learned
    more = run("aggregate", paths["train"], paths["test"], "--from", "wrench", "--iterations", "20", "-o",
               tmp_path / "more", "--json")
    curve = more["fit"]["log_likelihood"]
    assert more["fit"]["iterations"] > 2 and curve[-1] > curve[0]
    assert f1(paths["test"], tmp_path / "more" / "test.jsonl") > scores["hmm"]  # about 0.79: EM to convergence


def test_evaluate_takes_the_wrench_test_split_as_gold(ontonotes, tmp_path):
    test = ontonotes["tags"]["test"]
    run("aggregate", test, "--from", "wrench", "--method", "vote", "-o", tmp_path)
    scored = run("evaluate", test, tmp_path / "test.jsonl", "--pred-layer", "gold", "--json")
    gold = json.loads(ontonotes["spans"]["test"].read_text())
    mentions = [s for doc in gold.values() for s in doc["label"]]
    assert scored["micro"]["f1"] == 1.0 and scored["micro"]["support"] == len(mentions)
    assert scored["documents"] == SIZES["test"] and set(scored["per_type"]) == {s[2] for s in mentions}
    # the span form as gold, the tag form's output as predictions: the same sentences
    assert run("evaluate", ontonotes["spans"]["test"], tmp_path / "test.jsonl", "--pred-layer", "gold",
               "--json")["micro"]["f1"] == 1.0


def test_labelers_report_learns_which_function_is_precise(ontonotes):
    report = run("labelers", "report", ontonotes["tags"]["test"], "--method", "hmm", "--json")
    acc = report["accuracies"]
    assert set(acc) == {lf.name for lf in functions(16)} and report["documents"] == SIZES["test"]
    assert acc["precise_0"]["measured"]["precision"] > 0.9 > max(
        v["measured"]["precision"] for name, v in acc.items() if name != "precise_0")
    assert max(acc, key=lambda name: acc[name]["learned"]["precision"]) == "precise_0"


def test_chmm_span_form_with_restaurant_types_and_function_names_with_commas(tmp_path):
    lfs = [Function("tag-Element, Ion, or Isotope", 0.6, 0.95), *functions(5)[1:]]
    paths = write_dataset(tmp_path, dataset(RESTAURANT, lfs, {"train": 80, "test": 20}, form="spans", seed=3),
                          RESTAURANT, lfs, recommended=[lf.name for lf in lfs[:3]])
    summary = run("aggregate", paths["train"], paths["test"], "--from", "wrench", "--sources",
                  "tag-Element, Ion, or Isotope,noisy_1", "-o", tmp_path / "out", "--json")
    assert summary["sources"] == ["tag-Element, Ion, or Isotope", "noisy_1"]
    scores = {layer: f1(paths["test"], tmp_path / "out" / "test.jsonl", layer) for layer in ("pseudo", "noisy_1")}
    assert scores["pseudo"] > scores["noisy_1"] + 0.2, scores  # about 0.76 against 0.34: the precise one counts
    docs = read_documents(tmp_path / "out" / "test.jsonl")
    assert {s.label for doc in docs for s in doc.spans("gold")} <= set(RESTAURANT)


# -- quirks of real files: read, and counted in one warning ---------------------------------------------------
def warnings(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if "WARNING" in line]


def test_iob1_gold_is_read_as_conlleval_reads_it_and_counted(ontonotes, tmp_path):
    data = json.loads(ontonotes["tags"]["test"].read_text())
    spans = json.loads(ontonotes["spans"]["test"].read_text())
    starts_with_i = 0
    for key, doc in data.items():  # CoNLL-2003's original IOB1: I-X starts an entity, B-X only right after an X
        doc["label"] = spans_to_tags(len(doc["label"]), [tuple(s) for s in spans[key]["label"]], "IOB1")
        starts_with_i += sum(doc["label"][i].startswith("I-") for i, _, _ in spans[key]["label"])
    path = write_dataset(tmp_path, {"test": data}, ONTONOTES, functions(16))["test"]
    result = runner.invoke(app, ["aggregate", str(path), "--from", "wrench", "--method", "vote", "-o",
                                 str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    (warning,) = warnings(result)
    assert starts_with_i > 20 and "test.json: read leniently" in warning
    assert f"{starts_with_i} tags that IOB2 does not allow where they stand" in warning
    assert f1(ontonotes["spans"]["test"], tmp_path / "out" / "test.jsonl", "gold") == 1.0  # no entity lost
    with pytest.raises(DistantError, match="test.json: found I-.* expected B-.* \\(strict reading\\)"):
        read_documents(path, "wrench", strict=True)


def test_empty_documents_are_read_counted_aggregated_and_scored(tmp_path):
    lfs = functions(5)
    data = dataset(ONTONOTES, lfs, {"test": 30}, seed=5)["test"]
    data["7"] = {"data": {"text": []}, "label": [], "weak_labels": []}  # WRENCH's tag form of an empty sentence
    data["12"] = {"data": {"text": []}, "label": [], "weak_labels": [[] for _ in lfs]}  # CHMM's span form
    path = write_dataset(tmp_path, {"test": data}, ONTONOTES, lfs)["test"]
    for method in ("hmm", "vote"):
        result = runner.invoke(app, ["aggregate", str(path), "--from", "wrench", "--method", method, "-o",
                                     str(tmp_path / method)])
        assert result.exit_code == 0, result.output
        (warning,) = warnings(result)
        assert "2 documents without tokens (read as empty documents) (document 7; document 12)" in warning
        docs = {doc.id: doc for doc in read_documents(tmp_path / method / "test.jsonl")}
        assert len(docs) == 30 and docs["7"].text == "" and docs["7"].spans("pseudo") == []
        assert f1(path, tmp_path / method / "test.jsonl", "gold") == 1.0
    out = tmp_path / "again" / "test.json"  # and back to the wrench format: the empty documents as they were
    write_documents(read_documents(path, "wrench"), out, "wrench", layer="gold")
    assert json.loads(out.read_text())["12"] == data["12"]


def test_blank_tokens_are_left_out_and_their_spans_moved_or_counted(tmp_path):
    words = ["Obama", "", "visited", " ", "New", "\u00a0", "York", "."]
    data = {"0": {"data": {"text": words},
                  "label": ["B-PERSON", "O", "O", "O", "B-GPE", "I-GPE", "I-GPE", "O"],
                  "weak_labels": [[a, b] for a, b in zip(["B-PERSON", "B-ORG", "O", "O", "B-GPE", "I-GPE", "O", "O"],
                                                          ["O", "O", "O", "B-GPE", "I-GPE", "O", "O", "O"])]}}
    path = write_dataset(tmp_path, {"test": data}, ONTONOTES, functions(2))["test"]
    result = runner.invoke(app, ["aggregate", str(path), "--from", "wrench", "--method", "vote", "-o",
                                 str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    (warning,) = warnings(result)
    assert "3 blank tokens (left out, the spans over them kept without them)" in warning
    assert "1 spans over blank tokens only (left out) (document 0 [1, 2])" in warning
    (doc,) = read_documents(tmp_path / "out" / "test.jsonl")
    assert doc.words() == ["Obama", "visited", "New", "York", "."]
    show = {name: [(doc.span_text(s), s.label) for s in doc.spans(name)] for name in ("gold", "precise_0", "noisy_0")}
    assert show == {"gold": [("Obama", "PERSON"), ("New York", "GPE")],
                    "precise_0": [("Obama", "PERSON"), ("New", "GPE")], "noisy_0": [("New", "GPE")]}


def test_tag_ids_map_through_entity_types_as_wrench_maps_them(ontonotes, tmp_path):
    ids = {tag: k for k, tag in enumerate(["O"] + [f"{bi}-{t}" for t in ONTONOTES for bi in "BI"])}
    data = json.loads(ontonotes["tags"]["test"].read_text())
    for doc in data.values():
        doc["label"] = [ids[t] for t in doc["label"]]
        doc["weak_labels"] = [[ids[t] for t in row] for row in doc["weak_labels"]]
    path = write_dataset(tmp_path, {"test": data}, ONTONOTES, functions(16))["test"]
    run("aggregate", path, "--from", "wrench", "--method", "vote", "-o", tmp_path / "ids")
    run("aggregate", ontonotes["tags"]["test"], "--from", "wrench", "--method", "vote", "-o", tmp_path / "tags")
    assert (tmp_path / "ids" / "test.jsonl").read_bytes() == (tmp_path / "tags" / "test.jsonl").read_bytes()


WORDS = ["Obama", "visited", "New", "York", "."]
GOOD = {"data": {"text": WORDS}, "label": ["B-PERSON", "O", "B-GPE", "I-GPE", "O"],
        "weak_labels": [["B-PERSON", "O"], ["O", "O"], ["B-GPE", "O"], ["I-GPE", "O"], ["O", "O"]]}


@pytest.mark.parametrize("change, message", [
    ({"label": [13 * 2 + 1, 0, 99, 0, 0]}, "document 0: label: found tag id 99, expected 0 to 36 (O, then B- and "
                                          "I- of each of the 18 entity_types of meta.json)"),
    ({"label": ["B-Restaurant Name", "O", "O", "O", "O"]}, "document 0: label: found tag 'B-Restaurant Name', "
                                                          "expected O, or B- or I- and an entity type"),
    ({"label": ["B-PERSON", "O", "O", "O"]}, "document 0: label: found 4 tags for 5 tokens, expected one IOB2 tag"),
    ({"label": ["E-PERSON", "O", "O", "O", "O"]}, "document 0: label: invalid tag 'E-PERSON' for scheme IOB2"),
    ({"label": ["B-PERSON", "-", "O", "O", "O"]}, "document 0: label: found tag '-' at token 1, expected O, B-TYPE"),
    ({"weak_labels": [["B-PERSON"], ["O", "O"], ["O", "O"], ["O", "O"], ["O", "O"]]},
     "document 0: found a weak_labels row of 1 tags, expected one tag for each of the 2 functions"),
    ({"weak_labels": [["B-PERSON", "O"], ["O", "O"]]}, "document 0: found weak_labels rows for 2 tokens, expected "
                                                       "one row of tags for each of the 5 tokens"),
    ({"weak_labels": [[True, 0], [0, 0], [0, 0], [0, 0], [0, 0]]},
     "document 0: weak_labels (function 'precise_0'): found true among the tags, expected IOB2 tag strings"),
    ({"weak_labels": [["B-1st", "O"], ["O", "O"], ["O", "O"], ["O", "O"], ["O", "O"]]},
     "document 0: weak_labels (function 'precise_0'): found tag 'B-1st'"),
    ({"data": {"text": "Obama visited New York ."}}, "document 0: found no data.text list of token strings"),
    ({"data": {"text": ["Obama", 7, "New", "York", "."]}}, "document 0: found no data.text list of token strings"),
])
def test_malformed_wrench_tags_are_one_line_naming_file_and_document(tmp_path, change, message):
    path = write_dataset(tmp_path, {"test": {"0": {**GOOD, **change}}}, ONTONOTES, functions(2))["test"]
    for command in (["aggregate", str(path), "--from", "wrench", "-o", str(tmp_path / "out")],
                    ["evaluate", str(path), str(path), "--json"],
                    ["labelers", "report", str(path), "--method", "hmm"]):
        line = one_line_error(runner.invoke(app, command))
        assert line.startswith(f"distant: error: {path}: "), line
        assert message in line, line


@pytest.mark.parametrize("meta, message", [
    ({"entity_types": ["PERSON", "Restaurant Name"]}, 'found "entity_types": ["PERSON", "Restaurant Name"], '
                                                      "expected a list of distinct entity types"),
    ({"entity_types": ["GPE", "GPE"]}, "expected a list of distinct entity types"),
    ({"entity_types": None}, "found \"entity_types\": null"),
])
def test_malformed_meta_entity_types_are_one_line_naming_meta_json(tmp_path, meta, message):
    path = write_dataset(tmp_path, {"test": {"0": GOOD}}, ONTONOTES, functions(2))["test"]
    (tmp_path / "meta.json").write_text(json.dumps({**json.loads((tmp_path / "meta.json").read_text()), **meta}))
    line = one_line_error(runner.invoke(app, ["aggregate", str(path), "--from", "wrench", "-o", str(tmp_path / "o")]))
    assert line.startswith(f"distant: error: {tmp_path / 'meta.json'}: ") and message in line, line


def test_tag_ids_without_entity_types_are_one_line(tmp_path):
    path = write_dataset(tmp_path, {"test": {"0": {**GOOD, "label": [1, 0, 0, 0, 0]}}}, ONTONOTES, functions(2))["test"]
    meta = json.loads((tmp_path / "meta.json").read_text())
    del meta["entity_types"]
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    line = one_line_error(runner.invoke(app, ["aggregate", str(path), "--from", "wrench", "-o", str(tmp_path / "o")]))
    assert 'document 0: label: found tag id 1 and no "entity_types" in meta.json' in line


def test_select_on_chooses_the_em_iterations_on_gold_and_labels_with_that_count(ontonotes, tmp_path):
    paths = ontonotes["tags"]
    chosen = run("aggregate", paths["train"], "--apply-to", paths["test"], "--from", "wrench", "--select-on",
                 paths["valid"], "-o", tmp_path / "chosen", "--json")
    selection = chosen["selection"]
    scores = {int(k): f for k, f in selection["f1_by_iterations"].items()}
    assert sorted(scores) == [1, 2, 4, 8, 16, 32]
    best = selection["iterations"]
    assert scores[best] == max(scores.values()) and best == min(k for k in scores if scores[k] == scores[best])
    assert best > 2  # here EM gains with iterations (independent functions): the default count would stop short
    assert chosen["fit"]["tokens"] == sum(len(d.tokens) for d in read_documents(paths["train"]))  # valid not fitted
    # the choice is the fit with that count, and its score on valid is the one reported
    again = run("aggregate", paths["train"], "--apply-to", paths["valid"], "--apply-to", paths["test"], "--from",
                "wrench", "--iterations", best, "-o", tmp_path / "again")
    assert (tmp_path / "again" / "test.jsonl").read_bytes() == (tmp_path / "chosen" / "test.jsonl").read_bytes()
    assert f1(paths["valid"], tmp_path / "again" / "valid.jsonl") == pytest.approx(scores[best])
    capped = run("aggregate", paths["train"], "--from", "wrench", "--select-on", paths["valid"], "--iterations", 3,
                 "-o", tmp_path / "capped", "--json")["selection"]
    assert sorted(int(k) for k in capped["f1_by_iterations"]) == [1, 2, 3]


def test_select_on_refuses_what_it_cannot_choose_with_one_line(ontonotes, tmp_path):
    paths = ontonotes["tags"]
    line = one_line_error(runner.invoke(app, ["aggregate", str(paths["train"]), "--from", "wrench", "--method", "vote",
                                              "--select-on", str(paths["valid"]), "-o", str(tmp_path)]))
    assert "fits none" in line and "valid.json" in line
    no_gold = tmp_path / "nogold.jsonl"
    write_documents([doc.copy(layers=[]) for doc in read_documents(paths["valid"])], no_gold, "jsonl")
    line = one_line_error(runner.invoke(app, ["aggregate", str(paths["train"]), "--from", "wrench", "--select-on",
                                              str(no_gold), "-o", str(tmp_path)]))
    assert "no gold span" in line and "nogold.jsonl" in line


def test_a_tagger_trains_on_the_label_models_output_and_combines_with_the_functions(ontonotes, tmp_path):
    """The chain of configs/bc5cdr_chmm_minilm.toml on another data set: 18 types, WRENCH dev and test files,
    the functions as combine.inputs; distant predict then gives the run's own test counts."""
    paths = ontonotes["tags"]
    names = [lf.name for lf in functions(16)]
    run("aggregate", paths["train"], "--apply-to", paths["valid"], "--from", "wrench", "--select-on", paths["valid"],
        "-o", tmp_path / "labels")
    (tmp_path / "run.toml").write_text(
        f'[data]\ntrain_labeled = ["labels/train.jsonl"]\ndev = {json.dumps(str(paths["valid"]))}\n'
        f'test = {json.dumps(str(paths["test"]))}\n'
        "[model]\nword_dim = 20\nhidden_size = 20\nuse_charlm = false\n"
        '[train]\nepochs = 3\nbatch_size = 8\nlr = 0.01\nseed = 13\n[debias]\ntarget = "gold"\n'
        f'[combine]\nmethod = "hmm"\ninputs = {json.dumps(names)}\nselect = false\n')
    run("train", tmp_path / "run.toml", "-o", tmp_path / "run")
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["combine"]["sources"] == [*names, "tagger"] and report["combine"]["kept"]
    assert set(report["test"]["per_type"]) <= set(ONTONOTES) and len(report["test"]["per_type"]) > 10
    run("predict", tmp_path / "run", paths["test"], "-o", tmp_path / "pred.jsonl")
    got = run("evaluate", paths["test"], tmp_path / "pred.jsonl", "--json")["micro"]
    expected = report["test"]["micro"]
    assert (got["tp"], got["fp"], got["fn"]) == (expected["tp"], expected["fp"], expected["fn"]) and got["tp"] > 0
