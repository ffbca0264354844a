"""Labelers: the contract, dictionary matching rules, abbreviations, patterns, consistency, aggregation,
the multi-process pipeline, the report, and errors on bad files."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distant.config import data_dir
from distant.docs import O, UNKNOWN, Document, Span
from distant.errors import DistantError
from distant.config.run import PredictConfig
from distant.config.labelers import AbbreviationOptions, ConsistencyOptions, DictionaryOptions, PatternOptions
from distant.labelers import (
    LABELERS, AbbreviationLabeler, ConsistencyLabeler, DictionaryLabeler, PatternLabeler, PriorityAggregator,
    VoteAggregator, allowed_tags, build_labelers,
)
from distant.labelers.dictionary import PhraseMatcher, select_longest
from distant.labelers.pipeline import label_documents, labelers_from_args, load_labeling_config, summary_table
from distant.labelers.report import format_report, labelers_report

DATA = Path(__file__).parent / "data"
TAGS = ["O", "B-Chemical", "I-Chemical", "B-Disease", "I-Disease"]
WORDS = ["acid", "Acid", "renal", "failure", "-", "beta", "b", "a"]


def doc(text: str, doc_id: str = "d") -> Document:
    return Document(doc_id, text)


def found(d: Document, layer: str) -> list[tuple[str, str]]:
    return [(d.span_text(s), s.label) for s in d.spans(layer)]


def dictionary(*entries, phrases=(), stopwords=(), **options) -> DictionaryLabeler:
    return DictionaryLabeler("dictionary", DictionaryOptions(**options),
                             entries=[(t, s, None) for t, s in entries], phrases=phrases, stopwords=stopwords)


@pytest.fixture(scope="module")
def core() -> DictionaryLabeler:
    return DictionaryLabeler("dictionary", DictionaryOptions(dicts=[DATA / "dict.tsv"], unknown=[DATA / "unknown.txt"],
                                                             stopwords=DATA / "stopwords.txt"))


SPECS = {
    "dictionary": {"dicts": [str(DATA / "dict.tsv")], "stopwords": str(DATA / "stopwords.txt")},
    "abbreviation": {"layer": "dictionary"},
    "pattern": {"tables": [str(DATA / "patterns.tsv")], "suffixes": {"Chemical": ["azole"]}},
    "consistency": {"layers": ["dictionary"]},
    "function": {"function": "labelling_functions:azoles", "types": ["Chemical"]},
}


# -- contract -----------------------------------------------------------------------------------------------
def test_every_labeler_has_a_contract_spec():
    assert set(SPECS) == set(LABELERS)


@pytest.mark.parametrize("kind", sorted(LABELERS))
def test_labeler_contract(kind):
    specs = [{"type": "dictionary", "name": "dictionary", **SPECS["dictionary"]}]
    if kind != "dictionary":
        specs.append({"type": kind, "name": f"my_{kind}", **SPECS[kind]})
    labelers = build_labelers(specs)
    labeler = labelers[-1]
    assert isinstance(labeler, LABELERS[kind]) and labeler.name == specs[-1]["name"]
    d = doc("Cisplatin-induced acute renal failure (ARF) with fluconazole and streptomycin. "
            "ARF and cisplatin again; fibrosis.")
    for lab in labelers:
        assert lab(d) is d
    assert d.is_tokenized and labeler.name in d.layers
    spans = d.spans(labeler.name)
    assert spans, f"{kind} found nothing"
    for s in spans:
        assert d.token_range(s.start, s.end) is not None
        assert s.source == labeler.name
    assert labeler.misaligned == 0


def test_base_counts_misaligned_spans(caplog):
    from distant.labelers.base import Labeler

    class Sloppy(Labeler):
        def find_spans(self, d):
            yield Span(0, 3, "Chemical")  # "Cis" inside "Cisplatin"
            yield Span(0, 9, "Chemical")

    lab = Sloppy("sloppy")
    d = lab(doc("Cisplatin works."))
    assert found(d, "sloppy") == [("Cisplatin", "Chemical")]
    assert lab.misaligned == 1
    assert "1 span(s) not on token boundaries" in caplog.text and "document d" in caplog.text


def test_unknown_labeler_type_lists_available():
    with pytest.raises(DistantError, match="unknown labeler 'dictonary'.*did you mean 'dictionary'.*abbreviation"):
        build_labelers([{"type": "dictonary"}])
    with pytest.raises(DistantError, match="unknown key 'labelers\\[0\\].overlapp'.*'labelers\\[0\\].overlap'"):
        build_labelers([{"type": "dictionary", "overlapp": "all"}])
    with pytest.raises(DistantError, match="overlap: expected one of longest, all"):
        build_labelers([{"type": "dictionary", "overlap": "shortest"}])
    with pytest.raises(DistantError, match="'pseudo' is reserved"):
        build_labelers([{"type": "dictionary", "name": "pseudo"}])


# -- dictionary ---------------------------------------------------------------------------------------------
def test_matches_only_on_token_boundaries():
    lab = dictionary(("Chemical", "platin"), ("Chemical", "lithium"))
    d = lab(doc("cisplatin and lithium-treated rats; lithiumcarbonate"))
    assert found(d, "dictionary") == [("lithium", "Chemical")]


@settings(max_examples=100, deadline=None)
@given(entries=st.lists(st.lists(st.sampled_from(WORDS), min_size=1, max_size=4), min_size=1, max_size=12),
       text=st.lists(st.sampled_from(WORDS + ["zz", "Q"]), max_size=30))
def test_phrase_matcher_finds_exactly_the_entries_in_the_text(entries, text):
    matcher = PhraseMatcher(hyphens=False)
    for words in entries:
        matcher.add(words, "Chemical")
    matcher.build()
    keys = {tuple(w.lower() for w in e) for e in entries}
    expected = {(i, j) for i in range(len(text)) for j in range(i + 1, len(text) + 1)
                if tuple(w.lower() for w in text[i:j]) in keys}
    found_ = [(i, j) for i, j, _ in matcher.match(text)]
    assert len(found_) == len(set(found_)) and set(found_) == expected


def test_entries_tokenize_like_text():
    lab = dictionary(("Chemical", "( R)-alpha - methylhistamine"))
    d = lab(doc("Given (R)-alpha-methylhistamine daily."))
    assert found(d, "dictionary") == [("(R)-alpha-methylhistamine", "Chemical")]


def test_case_folding_keeps_short_all_caps_entries_case_sensitive(core):
    d = core(doc("CISPLATIN and Cisplatin; PD patients, but pd is not PD."))
    assert found(d, "dictionary") == [("CISPLATIN", "Chemical"), ("Cisplatin", "Chemical"), ("PD", "Disease"),
                                      ("PD", "Disease")]
    folded = dictionary(("Disease", "PD"), keep_case_max_len=0)
    assert [t for t, _ in found(folded(doc("pd and PD")), "dictionary")] == ["pd", "PD"]


def test_two_letter_element_symbols_keep_their_case():
    lab = dictionary(("Chemical", "Mg"), ("Chemical", "lithium"))
    d = lab(doc("Mg and Lithium were given at 5 mg/kg."))
    assert found(d, "dictionary") == [("Mg", "Chemical"), ("Lithium", "Chemical")]


def test_greek_letters_and_nfkc(core):
    d = core(doc("α-tocopherol and ALPHA-TOCOPHEROL and \uff4c\uff49\uff54\uff48\uff49\uff55\uff4d"))
    assert [label for _, label in found(d, "dictionary")] == ["Chemical"] * 3
    plain = dictionary(("Chemical", "alpha-tocopherol"), greek=False)
    assert found(plain(doc("α-tocopherol")), "dictionary") == []


def test_hyphen_space_and_joined_variants(core):
    d = core(doc("anti-inflammatory, anti inflammatory, antiinflammatory and anti\u2013inflammatory drugs"))
    assert len(found(d, "dictionary")) == 4
    strict = dictionary(("Chemical", "anti-inflammatory"), hyphens=False)
    assert len(found(strict(doc("anti inflammatory and antiinflammatory")), "dictionary")) == 0


def test_plurals():
    lab = dictionary(("Disease", "seizure"), ("Chemical", "cholinergics"))
    d = lab(doc("Seizures, seizure, cholinergic."))
    assert found(d, "dictionary") == [("Seizures", "Disease"), ("seizure", "Disease")]
    fold = dictionary(("Disease", "seizure"), ("Chemical", "cholinergics"), plurals="fold")
    assert len(found(fold(doc("Seizures, seizure, cholinergic.")), "dictionary")) == 3
    off = dictionary(("Disease", "seizure"), plurals="off")
    assert found(off(doc("Seizures")), "dictionary") == []


def test_longest_versus_all_overlaps(core):
    d = core(doc("acute renal failure"))
    assert found(d, "dictionary") == [("acute renal failure", "Disease")]
    every = DictionaryLabeler("dictionary", DictionaryOptions(dicts=[DATA / "dict.tsv"], overlap="all"))
    assert sorted(found(every(doc("acute renal failure")), "dictionary")) == [
        ("acute renal failure", "Disease"), ("renal failure", "Disease")]


def test_longest_maximises_sum_of_squared_lengths():
    # "a b" (4) + "c" (1) loses to "b c d" (9); ties go to the leftmost match.
    assert select_longest([(0, 2, 0), (1, 4, 1), (2, 3, 2)]) == [(1, 4, 1)]
    assert select_longest([(0, 2, 0), (1, 3, 1)]) == [(0, 2, 0)]
    assert select_longest([(0, 1, 0), (1, 2, 1), (2, 3, 2)]) == [(0, 1, 0), (1, 2, 1), (2, 3, 2)]


def test_untyped_phrase_takes_the_single_type_it_contains():
    options = DictionaryOptions(unknown_label="Chemical|Disease")
    entries = [("Disease", "diabetes insipidus"), ("Chemical", "cisplatin"), ("Disease", "nephrotoxicity")]
    phrases = ["nephrogenic diabetes insipidus", "cisplatin nephrotoxicity", "renal agent"]
    text = "Nephrogenic diabetes insipidus, cisplatin nephrotoxicity and a renal agent."

    def labeled(**changes):
        d = doc(text)
        lab = DictionaryLabeler("dictionary", DictionaryOptions(**{**vars(options), **changes}),
                                entries=[(t, s, None) for t, s in entries], phrases=phrases)
        lab(d)
        return [(text[s.start:s.end], s.label) for s in sorted(d.spans("dictionary"), key=lambda s: s.start)]

    assert labeled() == [("Nephrogenic diabetes insipidus", "Disease"), ("cisplatin", "Chemical"),
                         ("nephrotoxicity", "Disease"), ("renal agent", "Chemical|Disease")]
    assert labeled(inner_type=False)[0] == ("diabetes insipidus", "Disease")


def test_stopwords_skip_single_token_matches_only(core):
    lab = dictionary(("Chemical", "lead"), ("Chemical", "lead acetate"), stopwords=["lead"])
    d = lab(doc("lead acetate may lead to lead poisoning"))
    assert found(d, "dictionary") == [("lead acetate", "Chemical")]
    assert found(core(doc("lead")), "dictionary") == []


def test_kb_ids_multi_type_and_unknown_phrases(core):
    d = core(doc("Cisplatin caused acute renal failure; cocaine; ovarian cancer; renal tubular damage."))
    spans = {d.span_text(s): s for s in d.spans("dictionary")}
    assert spans["Cisplatin"].kb_id == "D002945" and spans["Cisplatin"].label == "Chemical"
    assert spans["acute renal failure"].kb_id == "D058186"
    assert spans["cocaine"].label == "Chemical|Disease"
    assert spans["ovarian cancer"].label == UNKNOWN and spans["renal tubular damage"].label == UNKNOWN


def test_untyped_phrase_kept_only_where_no_typed_match_is():
    lab = dictionary(("Disease", "renal failure"), phrases=["acute renal failure syndrome", "renal"], inner_type=False)
    d = lab(doc("acute renal failure syndrome; renal"))
    assert found(d, "dictionary") == [("renal failure", "Disease"), ("renal", UNKNOWN)]


def test_documents_without_matches_get_an_empty_layer(core):
    d = core(doc("Nothing to see here."))
    assert d.layers["dictionary"] == []


# -- abbreviations ------------------------------------------------------------------------------------------
def test_abbreviation_long_form_then_short_form(core):
    d = doc("Patients with acute renal failure (ARF) were seen. ARF was frequent, unlike ARFX.")
    core(d)
    AbbreviationLabeler("abbr", AbbreviationOptions(layer="dictionary"))(d)
    assert found(d, "abbr") == [("ARF", "Disease"), ("ARF", "Disease")]


def test_abbreviation_short_form_then_long_form_and_end_rule():
    lab = dictionary(("Chemical", "5-fluorouracil"), ("Disease", "dyskinesia"))
    d = lab(doc("5-FU (5-fluorouracil) was given. 5-FU again. Levodopa-induced dyskinesia (LID) and LID."))
    abbr = AbbreviationLabeler("abbr", AbbreviationOptions(layer="dictionary"))
    abbr(d)
    assert found(d, "abbr") == [("5-FU", "Chemical"), ("5-FU", "Chemical"), ("LID", "Disease"), ("LID", "Disease")]
    exact = AbbreviationLabeler("abbr", AbbreviationOptions(layer="dictionary", match="exact"))
    exact(d)
    assert [t for t, _ in found(d, "abbr")] == ["5-FU", "5-FU"]


def test_predicted_abbreviations_take_the_long_form_type_and_score_over_the_model():
    from distant.predict import apply_document_rules

    d = doc("Levodopa-induced dyskinesia (LID) was seen. LID and LIDX were rare; LID persisted.")
    text = d.text
    lf = text.index("dyskinesia")
    second = text.index("LID and")
    d.set_spans("pred", [Span(lf, lf + len("dyskinesia"), "Disease", "model", score=0.8),
                         Span(second, second + 3, "Chemical", "model", score=0.6)])  # the model disagrees here
    apply_document_rules([d], "pred", PredictConfig())
    got = [(text[s.start:s.end], s.label, s.source, s.score) for s in d.spans("pred")]
    assert got == [("dyskinesia", "Disease", "model", 0.8), ("LID", "Disease", "abbreviation", 0.8),
                   ("LID", "Disease", "abbreviation", 0.8), ("LID", "Disease", "abbreviation", 0.8)]
    assert "abbreviation" not in d.layers  # the helper layer is gone


def test_the_document_rules_keep_the_documents_own_layers_of_their_helpers_names():
    # a labeled file's "abbreviation" layer (the abbreviation labeler's) is not the rules' working layer
    from distant.predict import apply_document_rules

    d = doc("Levodopa-induced dyskinesia (LID) was seen. LID was rare.")
    lf = d.text.index("dyskinesia")
    own = {"gold": [Span(0, 8, "Chemical", "gold")], "abbreviation": [Span(29, 32, "Disease", "abbreviation")],
           "confident": [Span(0, 8, "Chemical", "someone")], "consistency": []}
    for name, spans in own.items():
        d.set_spans(name, list(spans))
    d.set_spans("pred", [Span(lf, lf + len("dyskinesia"), "Disease", "model", score=0.95)])
    order = list(d.layers)
    apply_document_rules([d], "pred", PredictConfig(consistency_min_score=0.9))
    assert list(d.layers) == order
    assert {name: d.spans(name) for name in own} == own
    assert len(d.spans("pred")) == 3  # the rules ran: the long form and both short forms


def test_confident_predictions_reach_the_other_occurrences():
    from distant.predict import apply_document_rules

    def run(min_score):
        d = doc("Cisplatin was given. Then cisplatin again, and aspirin. Aspirin too.")
        t = d.text
        d.set_spans("pred", [Span(0, 9, "Chemical", "model", score=0.95),
                             Span(t.index("aspirin"), t.index("aspirin") + 7, "Chemical", "model", score=0.5)])
        apply_document_rules([d], "pred", PredictConfig(propagate_abbreviations=False, consistency_min_score=min_score))
        return [t[s.start:s.end] for s in d.spans("pred")]

    assert run(0.9) == ["Cisplatin", "cisplatin", "aspirin"]  # the unsure "aspirin" is not spread
    assert run(0.0) == ["Cisplatin", "aspirin"]


def test_abbreviation_needs_a_labeled_long_form():
    d = doc("Blood pressure (BP) rose. BP fell.")
    dictionary(("Chemical", "lithium"))(d)
    AbbreviationLabeler("abbr")(d)
    assert d.spans("abbr") == []


# -- patterns -----------------------------------------------------------------------------------------------
def test_pattern_table_exclusions_affixes_and_per_token_regexes():
    lab = PatternLabeler("pat", PatternOptions(tables=[DATA / "patterns.tsv"], suffixes={"Chemical": ["azole"]}))
    d = lab(doc("Streptomycin-induced fibrosis; fluconazole. Cirrhosis-like"))
    assert sorted(found(d, "pat")) == [("-induced", O), ("Cirrhosis", "Disease"), ("Streptomycin", "Chemical"),
                                       ("fibrosis", "Disease"), ("fluconazole", "Chemical")]


def test_trove_table_with_numeric_labels(tmp_path):
    table = tmp_path / "trove.tsv"
    table.write_text("LABEL\tNAME\tTIER\tIGNORE_CASE\tREGEX\tNOTES\n"
                     "1\tmisc\t4\t1\t(calcium|cacl[(]2[)])\t\n"
                     "0\tnon\t4\t1\t\\b([A-Za-z0-9]+?[rlntd]ase[s]*)\\b\tenzymes\n")
    lab = PatternLabeler("pat", PatternOptions(tables=[table], labels={"1": "Chemical"}))
    d = lab(doc("Calcium activates kinases."))
    assert found(d, "pat") == [("Calcium", "Chemical"), ("kinases", O)]
    with pytest.raises(DistantError, match=r"trove.tsv:2: label '1' .*labels = \{ \"1\" = \"Chemical\" \}"):
        PatternLabeler("pat", PatternOptions(tables=[table]))


def test_pattern_snap_on_partial_token(tmp_path):
    table = tmp_path / "p.tsv"
    table.write_text("label\tregex\nChemical\tplatin\n")
    expand = PatternLabeler("pat", PatternOptions(tables=[table]))
    drop = PatternLabeler("pat", PatternOptions(tables=[table], snap="drop"))
    assert found(expand(doc("cisplatin works")), "pat") == [("cisplatin", "Chemical")]
    assert found(drop(doc("cisplatin works")), "pat") == [] and drop.dropped == 1


def test_exclusion_terms(tmp_path):
    terms = tmp_path / "neg.txt"
    terms.write_text("protein\nreceptor antagonists\n")
    lab = PatternLabeler("neg", PatternOptions(exclude_terms=[terms]))
    d = lab(doc("Protein and receptor antagonists."))
    assert found(d, "neg") == [("Protein", O), ("receptor antagonists", O)]


# -- consistency --------------------------------------------------------------------------------------------
def test_consistency_propagates_single_labels_within_a_document():
    d = doc("Famotidine helps. famotidine again. Aspirin here, aspirin there.")
    d.layers["seed"] = []
    from distant.tokenize import default_tokenizer
    default_tokenizer()(d)
    d.set_spans("seed", [Span(0, 10, "Chemical", "seed"), Span(36, 43, "Chemical", "seed"),
                         Span(50, 57, "Disease", "seed")])
    ConsistencyLabeler("cons", ConsistencyOptions(layers=["seed"]))(d)
    assert found(d, "cons") == [("Famotidine", "Chemical"), ("famotidine", "Chemical")]


# -- aggregation --------------------------------------------------------------------------------------------
def _layered() -> Document:
    d = doc("cisplatin induced renal failure in rats")
    from distant.tokenize import default_tokenizer
    default_tokenizer()(d)
    d.set_spans("a", [Span(0, 9, "Chemical", "a"), Span(18, 31, UNKNOWN, "a")])
    d.set_spans("b", [Span(0, 9, "Disease", "b"), Span(18, 31, "Disease", "b"), Span(35, 39, O, "b")])
    d.set_spans("c", [Span(0, 9, "Disease", "c"), Span(10, 17, O, "c")])
    return d


def test_priority_aggregation_and_exclusion_veto():
    d = _layered()
    PriorityAggregator(["a", "b", "c"])(d)
    assert found(d, "pseudo") == [("cisplatin", "Chemical"), ("induced", O), ("renal failure", UNKNOWN),
                                  ("rats", O)]
    PriorityAggregator(["c", "a"])(d)  # c's O over "induced" vetoes nothing here; its Disease wins cisplatin
    assert found(d, "pseudo")[0] == ("cisplatin", "Disease")


def test_vote_aggregation_and_unmatched_unknown():
    d = _layered()
    VoteAggregator(["a", "b", "c"])(d)
    assert found(d, "pseudo") == [("cisplatin", "Disease"), ("induced", O), ("renal failure", "Disease"),
                                  ("rats", O)]
    PriorityAggregator(["a"], unmatched="unknown")(d)
    assert found(d, "pseudo") == [("cisplatin", "Chemical"), ("induced", UNKNOWN), ("renal failure", UNKNOWN),
                                  ("in rats", UNKNOWN)]


def test_allowed_tags():
    d = doc("cisplatin cocaine acute renal failure in rats")
    from distant.tokenize import default_tokenizer
    default_tokenizer()(d)
    d.set_spans("pseudo", [Span(0, 9, "Chemical"), Span(10, 17, "Chemical|Disease"), Span(18, 37, UNKNOWN),
                           Span(41, 45, O)])
    rows = allowed_tags(d, TAGS)
    allowed = [[t for t, ok in zip(TAGS, row) if ok] for row in rows]
    assert allowed[0] == ["B-Chemical"]
    assert allowed[1] == ["B-Chemical", "B-Disease"]
    assert allowed[2] == allowed[3] == allowed[4] == TAGS
    assert allowed[5] == ["O"] and allowed[6] == ["O"]
    loose = allowed_tags(d, TAGS, unmatched="unknown")
    assert all(loose[5]) and loose[6].tolist() == [True, False, False, False, False]
    d.set_spans("pseudo", [Span(18, 37, "Disease")])
    assert [[t for t, ok in zip(TAGS, row) if ok] for row in allowed_tags(d, TAGS)][2:5] == [
        ["B-Disease"], ["I-Disease"], ["I-Disease"]]


# -- pipeline -----------------------------------------------------------------------------------------------
def test_multiple_workers_give_the_same_result(core):
    texts = ["Cisplatin caused acute renal failure (ARF). ARF resolved.", "No match at all.",
             "Lithium carbonate and PD; seizures.", "cocaine and ovarian cancer"] * 5
    labelers = [core, AbbreviationLabeler("abbreviation")]
    results = []
    for workers in (1, 2):
        docs = [doc(t, f"d{k}") for k, t in enumerate(texts)]
        seen = []
        stats = label_documents(docs, labelers, PriorityAggregator(["dictionary", "abbreviation"]),
                                workers=workers, chunk_size=3, progress=seen.append)
        assert sum(seen) == len(texts) and stats.documents == len(texts)
        results.append([(d.id, d.tokens, d.layers) for d in docs])
    assert results[0] == results[1]
    assert stats.spans_per_type["Disease"] == 25 and "dictionary" in summary_table(stats)


def test_labelers_from_args_and_config(tmp_path):
    labelers, aggregator = labelers_from_args([DATA / "dict.tsv"], [DATA / "unknown.txt"], DATA / "stopwords.txt",
                                              [DATA / "patterns.tsv"])
    assert [lab.name for lab in labelers] == ["dictionary", "abbreviation", "pattern"]
    assert aggregator.layers == ["dictionary", "abbreviation", "pattern"]
    config = tmp_path / "labelers.toml"
    config.write_text(f'[[labelers]]\ntype = "dictionary"\nname = "core"\ndicts = ["{DATA / "dict.tsv"}"]\n'
                      f'[[labelers]]\ntype = "abbreviation"\nlayer = "core"\n'
                      f'[aggregate]\nmethod = "vote"\nunmatched = "unknown"\n')
    labelers, aggregator = labelers_from_args(config=config)
    assert [lab.name for lab in labelers] == ["core", "abbreviation"]
    assert isinstance(aggregator, VoteAggregator) and aggregator.unmatched == "unknown"
    with pytest.raises(DistantError, match="either --config or --dict"):
        labelers_from_args([DATA / "dict.tsv"], config=config)
    with pytest.raises(DistantError, match="nothing to label with"):
        labelers_from_args()
    config.write_text('[[labelers]]\ntype = "dictionary"\n[aggregate]\nlayers = ["nope"]\n')
    with pytest.raises(DistantError, match="no labeler is named 'nope'"):
        load_labeling_config(config)


@pytest.mark.parametrize("name", ["labelers_sample.toml"])
def test_sample_config_builds(name):
    root = Path(__file__).parents[1]
    if not (root / "data/sample/dict.tsv").exists():
        pytest.skip("data/sample not written yet")
    labelers, _ = load_labeling_config(root / "configs" / name)
    assert labelers


def test_report(core):
    d = doc("Cisplatin caused acute renal failure; ovarian cancer.")
    d.layers["gold"] = [Span(0, 9, "Chemical", "gold"), Span(23, 36, "Disease", "gold")]
    core(d)
    PriorityAggregator(["dictionary"])(d)
    report = labelers_report([d], ["dictionary"])
    row = report["layers"]["dictionary"]
    assert row["spans"] == {"entity": 2, "unknown": 1}
    assert row["scores"]["tp"] == 1 and row["scores"]["fp"] == 1 and row["scores"]["fn"] == 1
    assert row["gold_covered"] == 2 and "pseudo" in report["layers"]
    assert "dictionary" in format_report(report)


# -- bad files ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("content, line, message", [
    ("Chemical\tcisplatin\nDisease renal failure\n", 2, "no tab"),
    ("Chemical\tcisplatin\n\tlithium\n", 2, "empty type column"),
    ("# comment\n1abc\tlithium\n", 2, "found type '1abc'"),
    ("Chemical\tcisplatin\nO\tlithium\n", 2, "found type 'O'"),
    ("Chemical\t\n", 1, "empty surface"),
    ("Chemical\ta\tb\tc\n", 1, "4 tab-separated columns"),
])
def test_bad_dictionary_names_file_and_line(tmp_path, content, line, message):
    path = tmp_path / "dict.tsv"
    path.write_text(content)
    with pytest.raises(DistantError, match=message) as info:
        DictionaryLabeler("d", DictionaryOptions(dicts=[path]))
    assert info.value.path == str(path) and info.value.line == line


def test_bad_dictionary_encoding_and_empty_files(tmp_path):
    path = tmp_path / "dict.tsv"
    path.write_bytes(b"Chemical\tcisplatin\nChemical\tlith\xffium\n")
    with pytest.raises(DistantError, match="UTF-8") as info:
        DictionaryLabeler("d", DictionaryOptions(dicts=[path]))
    assert info.value.line == 2
    path.write_text("\n\n")
    with pytest.raises(DistantError, match="empty dictionary"):
        DictionaryLabeler("d", DictionaryOptions(dicts=[path]))
    with pytest.raises(DistantError, match="not found"):
        DictionaryLabeler("d", DictionaryOptions(unknown=[tmp_path / "missing.txt"]))


@pytest.mark.parametrize("content, line, message", [
    ("label\tregex\nChemical\t[a-z\n", 2, "invalid regex"),
    ("label\tname\tignore_case\tregex\nChemical\tx\tmaybe\tabc\n", 2, "ignore_case"),
    ("name\tregex\nx\tabc\n", 1, "'label' column"),
    ("label\tregex\nChemical\t\n", 2, "empty column"),
])
def test_bad_pattern_table_names_file_and_line(tmp_path, content, line, message):
    path = tmp_path / "p.tsv"
    path.write_text(content)
    with pytest.raises(DistantError, match=message) as info:
        PatternLabeler("p", PatternOptions(tables=[path]))
    assert info.value.path == str(path) and info.value.line == line


# -- the benchmark ------------------------------------------------------------------------------------------
@pytest.mark.shared_data
def test_bc5cdr_test_with_dict_core_and_stopwords():
    folder = data_dir() / "BC5CDR"
    if not folder.is_dir():
        pytest.skip(f"shared data not found at {folder}")
    from distant.evaluate import evaluate
    from distant.formats import read_documents

    gold = read_documents(folder / "original/CDR_TestSet.PubTator.txt", "pubtator")
    docs = [d.copy(layers=[]) for d in gold]
    labelers, aggregator = labelers_from_args([folder / "autoner/dict_core.txt"],
                                              stopwords=folder / "autoner/stopwords.txt")
    label_documents(docs, labelers, aggregator)
    micro = evaluate(gold, docs, pred_layer="pseudo").micro
    assert micro.f1 >= 0.72 and micro.precision >= 0.86, micro.as_dict()


def test_untyped_phrases_can_be_forced_to_be_entities_except_lone_letters():
    from distant.labelers.dictionary import DictionaryLabeler, DictionaryOptions

    lab = DictionaryLabeler("dictionary", DictionaryOptions(unknown_label="Chemical|Disease"),
                            phrases=["renal failure", "P"])
    d = lab(doc("P < 0.05 for renal failure"))
    assert found(d, "dictionary") == [("P", "-"), ("renal failure", "Chemical|Disease")]
    with pytest.raises(ValueError, match="unknown_label"):
        DictionaryOptions(unknown_label="Chemical|")
