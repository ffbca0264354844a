"""The label model (hmm, dawid-skene), the WRENCH/CHMM format, distant aggregate and the function labeler."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from distant.cli import app
from distant.docs import UNKNOWN, Document, Span
from distant.errors import DistantError
from distant.formats import read_documents, write_documents
from distant.labelers import build_labelers
from distant.labelers.labelmodel import (
    LabelModel,
    LabelModelAggregator,
    Observations,
    observe,
)
from distant.tags import spans_to_tags

runner = CliRunner()
STATES = ["O", "B-X", "I-X"]


def simulate(n_sentences: int, length: int, confusions: list[np.ndarray], seed: int = 0,
             transitions: bool = True) -> tuple[Observations, np.ndarray]:
    """Sample true tags (BIO-valid) and each source's symbols from its confusion matrix ``[K, V]``."""
    rng = np.random.default_rng(seed)
    trans = np.array([[0.8, 0.2, 0.0], [0.5, 0.0, 0.5], [0.6, 0.1, 0.3]])  # O, B-X, I-X
    tags = np.zeros((n_sentences, length), dtype=int)
    for t in range(length):
        if not transitions:  # every token on its own, I-X included
            tags[:, t] = rng.choice(3, size=n_sentences, p=[0.7, 0.15, 0.15])
        elif t == 0:
            tags[:, t] = rng.choice(2, size=n_sentences, p=[0.8, 0.2])
        else:
            cum = trans[tags[:, t - 1]].cumsum(axis=1)
            tags[:, t] = (rng.random((n_sentences, 1)) > cum).sum(axis=1)
    flat = tags.reshape(-1)
    symbols = np.stack([(rng.random((len(flat), 1)) > c[flat].cumsum(axis=1)).sum(axis=1) for c in confusions],
                       axis=1)
    return Observations(symbols.astype(np.int32), np.full(n_sentences, length)), flat


# symbols: 0 abstain, 1 O, 2 B-X, 3 I-X
GOOD = np.array([[0.90, 0.05, 0.04, 0.01], [0.30, 0.0, 0.65, 0.05], [0.30, 0.0, 0.05, 0.65]])
FAIR = np.array([[0.95, 0.0, 0.04, 0.01], [0.50, 0.0, 0.45, 0.05], [0.50, 0.0, 0.10, 0.40]])
WEAK = np.array([[0.85, 0.05, 0.07, 0.03], [0.40, 0.05, 0.50, 0.05], [0.40, 0.05, 0.10, 0.45]])


@pytest.mark.parametrize("transitions", [True, False])
def test_em_recovers_known_confusion_matrices(transitions):
    truth = [GOOD, FAIR, WEAK]
    obs, _ = simulate(3000, 12, truth, transitions=transitions)
    model = LabelModel(["X"], ["X"], ["a", "b", "c"], transitions=transitions, prior_weight=0.0, restrict=False,
                       iterations=300, tolerance=1e-8)
    fit = model.fit(obs)
    assert fit.iterations > 1 and fit.log_likelihood[-1] >= fit.log_likelihood[0]
    for j, c in enumerate(truth):
        assert np.abs(model.emissions[j] - c).max() < 0.05, (j, np.round(model.emissions[j], 3))
    if transitions:
        assert model.trans[0, 2] == 0.0 and model.start[2] == 0.0  # O -> I-X and a start at I-X are not allowed


def test_learned_accuracies_match_the_simulated_ones():
    obs, flat = simulate(3000, 12, [GOOD, FAIR, WEAK], seed=1)
    model = LabelModel(["X"], ["X"], ["a", "b", "c"], prior_weight=0.0, restrict=False, iterations=300,
                       tolerance=1e-8)
    model.fit(obs)
    learned = model.accuracies()
    for j, name in enumerate("abc"):
        s = obs.symbols[:, j]
        fired = s >= 2
        agree = fired & (s == flat + 1) & (flat > 0)
        assert learned[name]["precision"] == pytest.approx(agree.sum() / fired.sum(), abs=0.03)
        assert learned[name]["recall"] == pytest.approx(agree.sum() / (flat > 0).sum(), abs=0.03)


def test_a_labeler_that_always_agrees_gets_near_identity_emissions():
    perfect = np.array([[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    obs, _ = simulate(1000, 10, [perfect, FAIR, WEAK], seed=2)
    model = LabelModel(["X"], ["X"], ["perfect", "b", "c"], iterations=50)
    model.fit(obs)
    assert np.all(np.diag(model.emissions[0][:, 1:]) > 0.98), np.round(model.emissions[0], 3)


def docs_with(layers: dict[str, list[list[tuple[int, int, str]]]], words: list[list[str]]) -> list[Document]:
    out = []
    for d, ws in enumerate(words):
        doc = Document(str(d), " ".join(ws))
        pos, tokens = 0, []
        for w in ws:
            tokens.append((pos, pos + len(w)))
            pos += len(w) + 1
        doc.set_tokens(tokens)
        for name, per_doc in layers.items():
            doc.set_spans(name, [Span(tokens[i][0], tokens[j - 1][1], lab, name) for i, j, lab in per_doc[d % len(per_doc)]])
        out.append(doc)
    return out


WORDS = [["aspirin", "causes", "renal", "failure", "in", "rats"], ["no", "renal", "harm", "from", "salt", "here"]]
GOLD_SPANS = [[(0, 1, "Chemical"), (2, 4, "Disease")], [(1, 3, "Disease"), (4, 5, "Chemical")]]


@pytest.mark.parametrize("method", [True, False])
def test_posteriors_of_one_perfect_labeler_equal_its_labels(method):
    docs = docs_with({"only": GOLD_SPANS}, WORDS * 200)
    agg = LabelModelAggregator(["only"], transitions=method, iterations=20)
    agg.fit(docs)
    obs = observe(docs, ["only"], agg.model.labels)
    post, tags = agg.model.predict(obs)
    states = agg.model.states
    expected = []
    for spans, ws in zip(GOLD_SPANS * 200, WORDS * 200):
        row = ["O"] * len(ws)
        for i, j, lab in spans:
            row[i:j] = [f"B-{lab}"] + [f"I-{lab}"] * (j - i - 1)
        expected.extend(row)
    assert [states[k] for k in post.argmax(axis=1)] == expected == [states[k] for k in tags]
    assert post.max(axis=1).min() > 0.99
    agg.apply(docs)
    for doc in docs:
        assert [s.key() for s in doc.spans("pseudo")] == [s.key() for s in doc.spans("only")]


def test_posterior_threshold_writes_uncertain_tokens_as_unknown():
    docs = docs_with({"a": GOLD_SPANS}, WORDS)
    agg = LabelModelAggregator(["a"], iterations=2, posterior_threshold=0.3)
    agg.fit(docs)
    # O, B-Chemical, I-Chemical, B-Disease, I-Disease for "aspirin causes renal failure in rats"
    post = np.array([[0.4, 0.6, 0, 0, 0], [1, 0, 0, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0.2, 0.8], [1, 0, 0, 0, 0],
                     [0.9, 0.1, 0, 0, 0]])
    tags = np.array([1, 0, 3, 4, 0, 0])
    spans = agg._spans(docs[0], post, tags)
    assert [(docs[0].span_text(s), s.label) for s in sorted(spans)] == [("aspirin", UNKNOWN),
                                                                       ("renal failure", "Disease")]
    post[3] = [0.35, 0, 0, 0, 0.65]  # unsure inside an entity: the whole entity becomes a partial label
    spans = agg._spans(docs[0], post, tags)
    assert [(docs[0].span_text(s), s.label) for s in sorted(spans)] == [("aspirin", UNKNOWN),
                                                                       ("renal failure", UNKNOWN)]
    agg.posterior_threshold = None
    assert [s.label for s in sorted(agg._spans(docs[0], post, tags))] == ["Chemical", "Disease"]


def test_label_model_in_a_labeling_pipeline_and_streaming_refused():
    from distant.labelers.pipeline import build_pipeline, label_documents

    labelers, aggregator = build_pipeline(
        [{"type": "function", "name": "azoles", "function": "labelling_functions:azoles"}],
        {"method": "dawid-skene", "iterations": 3})
    docs = [Document(str(k), "fluconazole and ketoconazole were given .") for k in range(5)]
    stats = label_documents(docs, labelers, aggregator)
    assert stats.spans_per_type["Chemical"] == 10
    assert [docs[0].span_text(s) for s in docs[0].spans("pseudo")] == ["fluconazole", "ketoconazole"]
    _, fresh = build_pipeline([{"type": "function", "name": "azoles", "function": "labelling_functions:azoles"}],
                              {"method": "hmm"})
    with pytest.raises(DistantError, match="fitted on a whole corpus"):
        fresh(Document("x", "fluconazole ."))


# -- WRENCH / CHMM ------------------------------------------------------------------------------------------
def write_wrench(folder, docs: dict, lfs=("lf_a", "lf_b", "lf_c"), name="train.json", types=("Chemical", "Disease")):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "meta.json").write_text(json.dumps({"lf": list(lfs), "entity_types": list(types)}))
    (folder / name).write_text(json.dumps(docs))
    return folder / name


SYNTHETIC = {
    str(k): {"data": {"text": ws}, "label": [list(s) for s in GOLD_SPANS[k % 2]],
             "weak_labels": [[list(s) for s in GOLD_SPANS[k % 2]], [list(GOLD_SPANS[k % 2][0])],
                             [[len(ws) - 1, len(ws), "Chemical"]] if k % 3 == 0 else []]}
    for k, ws in enumerate(WORDS * 10)
}


def test_wrench_reader_reads_tokens_gold_and_one_layer_per_function(tmp_path):
    path = write_wrench(tmp_path, SYNTHETIC)
    docs = read_documents(path)  # .json: the wrench format
    assert len(docs) == 20 and docs[0].words() == WORDS[0]
    assert [docs[0].span_text(s) for s in docs[0].spans("gold")] == ["aspirin", "renal failure"]
    assert set(docs[0].layers) == {"gold", "lf_a", "lf_b", "lf_c"}
    assert [docs[0].span_text(s) for s in docs[0].spans("lf_c")] == ["rats"]


def test_wrench_tag_form_reads_o_as_abstaining(tmp_path):
    ws = ["aspirin", "hurts", "kidneys"]
    data = {"0": {"data": {"text": ws}, "label": ["B-Chemical", "O", "B-Disease"],
                  "weak_labels": [["B-Chemical", "O", "O"], ["O", "O", "O"], ["O", "O", "B-Disease"]]}}
    doc = read_documents(write_wrench(tmp_path, data), "wrench")[0]
    assert [doc.span_text(s) for s in doc.spans("lf_a")] == ["aspirin"]
    assert doc.spans("lf_b") == [] and [doc.span_text(s) for s in doc.spans("lf_c")] == ["kidneys"]


words_st = st.lists(st.text(st.characters(categories=("L", "N", "P")), min_size=1, max_size=6), max_size=8)
ROUND_TRIP_TYPES = ("Chemical", "Disease", "WORK_OF_ART", "NORP", "Restaurant_Name", "RATINGS_AVERAGE", "B", "Gene.X")
TAG_IDS = {tag: k for k, tag in enumerate(["O"] + [f"{bi}-{t}" for t in ROUND_TRIP_TYPES for bi in "BI"])}


@st.composite
def wrench_doc(draw) -> tuple[dict, dict]:
    """Return a document in CHMM's span form, WRENCH's tag form or tag ids, and its span form (what is written)."""
    ws = draw(words_st)
    n = len(ws)

    def spans():
        out, at = [], 0
        while at < n and draw(st.booleans()):
            i = draw(st.integers(at, n - 1))
            j = draw(st.integers(i + 1, n))
            out.append([i, j, draw(st.sampled_from(ROUND_TRIP_TYPES))])
            at = j
        return out

    label, weak = spans(), [spans(), spans()]
    written = {"data": {"text": ws}, "label": label, "weak_labels": weak}
    form = draw(st.sampled_from(["spans", "tags", "ids"]))
    if form == "spans":
        return written, written
    tags = [spans_to_tags(n, [tuple(s) for s in layer]) for layer in (label, *weak)]
    if form == "ids":
        tags = [[TAG_IDS[t] for t in layer] for layer in tags]
    return {"data": {"text": ws}, "label": tags[0], "weak_labels": [list(row) for row in zip(*tags[1:])]}, written


@settings(max_examples=60, deadline=None)
@given(st.lists(wrench_doc(), min_size=1, max_size=4))
def test_wrench_writer_and_reader_round_trip(tmp_path_factory, items):
    folder = tmp_path_factory.mktemp("w")
    data = {str(k): given for k, (given, _) in enumerate(items)}
    docs = read_documents(write_wrench(folder, data, lfs=("f1", "f2"), types=ROUND_TRIP_TYPES), "wrench")
    out = folder / "again" / "x.json"
    write_documents(docs, out, "wrench", layer="gold")
    again = read_documents(out, "wrench")
    assert json.loads(out.read_text()) == {str(k): written for k, (_, written) in enumerate(items)}
    for a, b in zip(docs, again):
        assert (a.id, a.text, a.tokens, a.layers) == (b.id, b.text, b.tokens, b.layers)


@pytest.mark.parametrize("content, message", [
    ("{not json", "invalid JSON"),
    ("[1, 2]", "found a JSON list"),
    ('{"0": {"data": {"text": "a b"}}}', "data.text list of token strings"),
    ('{"0": {"data": {"text": ["a"]}, "label": [[0, 2, "Chemical"]], "weak_labels": [[], [], []]}}',
     "expected \\[first, last \\+ 1, type\\]"),
    ('{"0": {"data": {"text": ["a"]}, "label": [], "weak_labels": [[]]}}', "weak_labels for 1 functions"),
    ("", "empty"),
])
def test_malformed_wrench_input_is_one_line_and_exit_2(tmp_path, content, message):
    path = write_wrench(tmp_path, {})
    path.write_text(content)
    result = runner.invoke(app, ["convert", str(path), str(tmp_path / "out.jsonl"), "--from", "wrench"])
    assert result.exit_code == 2
    err = result.stderr if hasattr(result, "stderr") else result.output
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert __import__("re").search(message, err), err


def test_wrench_without_meta_is_an_error(tmp_path):
    path = tmp_path / "train.json"
    path.write_text(json.dumps(SYNTHETIC))
    with pytest.raises(DistantError, match="no meta.json beside train.json"):
        read_documents(path)


def wrench_train_and_test(tmp_path: Path) -> tuple[Path, Path]:
    """The synthetic WRENCH split as train, and its first 6 documents as test (meta.json beside them)."""
    train = write_wrench(tmp_path / "data", SYNTHETIC)
    test = tmp_path / "data" / "test.json"
    test.write_text(json.dumps(dict(list(SYNTHETIC.items())[:6])))
    return train, test


def test_aggregate_cli_end_to_end_and_evaluate_takes_wrench_gold(tmp_path):
    train, test = wrench_train_and_test(tmp_path)
    out = tmp_path / "out"
    result = runner.invoke(app, ["aggregate", str(train), str(test), "--from", "wrench", "--method", "hmm",
                                 "--sources", "lf_a,lf_b", "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["sources"] == ["lf_a", "lf_b"] and summary["documents"] == {"train": 20, "test": 6}
    assert set(summary["learned"]) == {"lf_a", "lf_b"}
    docs = read_documents(out / "test.jsonl")
    assert [docs[0].span_text(s) for s in docs[0].spans("pseudo")] == ["aspirin", "renal failure"]
    scored = runner.invoke(app, ["evaluate", str(test), str(out / "test.jsonl"), "--pred-layer", "pseudo", "--json"])
    assert scored.exit_code == 0, scored.output
    assert json.loads(scored.stdout)["micro"]["f1"] == 1.0
    for method in ("vote", "priority", "dawid-skene"):
        assert runner.invoke(app, ["aggregate", str(train), "--method", method, "-o", str(out)]).exit_code == 0
    bad = runner.invoke(app, ["aggregate", str(train), "--sources", "lf_z", "-o", str(out)])
    assert bad.exit_code == 2 and "lf_z" in bad.output


def test_aggregate_applies_the_fitted_model_to_files_it_was_not_fitted_on(tmp_path):
    train, test = wrench_train_and_test(tmp_path)
    out = tmp_path / "out"
    result = runner.invoke(app, ["aggregate", str(train), "--apply-to", str(test), "--from", "wrench", "--method",
                                 "hmm", "--sources", "lf_a,lf_b", "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["not_fitted"] == ["test"] and summary["documents"] == {"train": 20, "test": 6}
    assert summary["fit"]["tokens"] == sum(len(d.tokens) for d in read_documents(train))  # test's text not fitted
    docs = read_documents(out / "test.jsonl")
    assert [docs[0].span_text(s) for s in docs[0].spans("pseudo")] == ["aspirin", "renal failure"]
    same = runner.invoke(app, ["aggregate", str(train), "--apply-to", str(train), "--from", "wrench", "-o", str(out)])
    assert same.exit_code == 2 and "two inputs with the stem 'train'" in same.output


def test_a_saved_label_model_labels_new_files_as_the_fitted_one_does(tmp_path):
    train, test = wrench_train_and_test(tmp_path)
    model = tmp_path / "hmm.json"
    fitted = runner.invoke(app, ["aggregate", str(train), "--apply-to", str(test), "--from", "wrench", "--sources",
                                 "lf_a,lf_b", "--save-model", str(model), "-o", str(tmp_path / "a")])
    assert fitted.exit_code == 0, fitted.output
    again = runner.invoke(app, ["aggregate", str(test), "--from", "wrench", "--model", str(model), "-o",
                                str(tmp_path / "b"), "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["sources"] == ["lf_a", "lf_b"]
    assert (tmp_path / "b" / "test.jsonl").read_bytes() == (tmp_path / "a" / "test.jsonl").read_bytes()
    # bad models and misuse: one line, exit 2
    (tmp_path / "bad.json").write_text('{"format": "distant-label-model", "version": 1, "layers": ["lf_a"]}')
    for args, message in [(["--model", str(tmp_path / "bad.json")], "malformed label model"),
                          (["--model", str(train)], "expected a label model"),
                          (["--model", str(tmp_path / "none.json")], "none.json"),
                          (["--method", "vote", "--save-model", str(model)], "fits no model")]:
        bad = runner.invoke(app, ["aggregate", str(test), "--from", "wrench", *args, "-o", str(tmp_path / "c")])
        assert bad.exit_code == 2 and message in bad.output and "Traceback" not in bad.output, bad.output
    other = tmp_path / "other.jsonl"
    docs = read_documents(test, "wrench")
    for doc in docs:
        doc.layers.pop("lf_b", None)
    write_documents(docs, other)
    missing = runner.invoke(app, ["aggregate", str(other), "--model", str(model), "-o", str(tmp_path / "d")])
    assert missing.exit_code == 2 and "no document holds lf_b" in missing.output


def test_a_saved_label_model_streams_large_inputs_in_batches(tmp_path, monkeypatch):
    from distant.labelers.labelmodel import LabelModelAggregator

    train = write_wrench(tmp_path / "data", SYNTHETIC)
    model = tmp_path / "hmm.json"
    assert runner.invoke(app, ["aggregate", str(train), "--from", "wrench", "--sources", "lf_a,lf_b",
                               "--save-model", str(model), "-o", str(tmp_path / "a")]).exit_code == 0
    one = read_documents(tmp_path / "a" / "train.jsonl")
    many = [d.copy() for _ in range(260) for d in one]  # 5,200 documents
    for k, doc in enumerate(many):
        doc.id = f"d{k}"
    write_documents(many, tmp_path / "many.jsonl")
    seen = []
    apply = LabelModelAggregator.apply
    monkeypatch.setattr(LabelModelAggregator, "apply", lambda self, docs: (seen.append(len(docs)), apply(self, docs)))
    result = runner.invoke(app, ["aggregate", str(tmp_path / "many.jsonl"), "--model", str(model), "-o",
                                 str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    assert sum(seen) == len(many) and max(seen) <= 2048  # never the whole file at once
    again = read_documents(tmp_path / "b" / "many.jsonl")
    assert [d.spans("pseudo") for d in again[:len(one)]] == [d.spans("pseudo") for d in one]


def test_aggregate_takes_a_taggers_predictions_as_a_source_only_when_named(tmp_path):
    train = write_wrench(tmp_path / "data", SYNTHETIC)
    docs = read_documents(train)
    for doc in docs:  # a tagger's output beside the labelling functions (as distant predict writes it)
        doc.set_spans("pred", [s.with_(source="pred") for s in doc.spans("lf_a")])
    write_documents(docs, tmp_path / "tagged.jsonl")
    out = tmp_path / "out"
    plain = runner.invoke(app, ["aggregate", str(tmp_path / "tagged.jsonl"), "--method", "hmm", "-o", str(out),
                                "--json"])
    assert plain.exit_code == 0, plain.output
    assert "pred" not in json.loads(plain.stdout)["sources"] and "gold" not in json.loads(plain.stdout)["sources"]
    named = runner.invoke(app, ["aggregate", str(tmp_path / "tagged.jsonl"), "--method", "hmm", "--sources",
                                "lf_b,pred", "-o", str(out), "--json"])
    assert named.exit_code == 0, named.output
    assert json.loads(named.stdout)["sources"] == ["lf_b", "pred"]
    gold = runner.invoke(app, ["aggregate", str(tmp_path / "tagged.jsonl"), "--sources", "gold", "-o", str(out)])
    assert gold.exit_code == 2 and "'gold'" in gold.output


def test_labelers_report_shows_learned_next_to_measured(tmp_path):
    train = write_wrench(tmp_path, SYNTHETIC)
    result = runner.invoke(app, ["labelers", "report", str(train), "--method", "hmm", "--json"])
    assert result.exit_code == 0, result.output
    acc = json.loads(result.stdout)["accuracies"]
    assert acc["lf_a"]["measured"]["precision"] == 1.0 and acc["lf_a"]["measured"]["recall"] == 1.0
    assert acc["lf_a"]["learned"]["precision"] > 0.9


# -- the function labeler -----------------------------------------------------------------------------------
def test_function_labeler_runs_a_python_function():
    (lab,) = build_labelers([{"type": "function", "name": "azoles", "function": "labelling_functions:azoles"}])
    doc = lab(Document("d", "Fluconazole beats salt ."))
    assert [doc.span_text(s) for s in doc.spans("azoles")] == ["Fluconazole"]
    assert doc.spans("azoles")[0].source == "azoles"


@pytest.mark.parametrize("reference, message", [
    ("no_such_module_here:f", "cannot import module 'no_such_module_here'"),
    ("labelling_functions:missing", "has no attribute 'missing'"),
    ("labelling_functions:not_callable", "expected a callable"),
    ("nocolon", "expected 'module:function'"),
])
def test_function_labeler_bad_reference_is_one_error(reference, message):
    with pytest.raises(DistantError, match=message):
        build_labelers([{"type": "function", "function": reference}])
