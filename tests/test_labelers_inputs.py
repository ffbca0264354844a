"""Labelers on doubtful input: regexes that would run for ever, dictionary entries that label every full stop,
option values that make no sense, and errors (not tracebacks) from the pipeline builders."""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from distant.config import data_dir
from distant.docs import Document
from distant.errors import DistantError
from distant.config.labelers import AbbreviationOptions, ConsistencyOptions, DictionaryOptions, PatternOptions
from distant.labelers import DictionaryLabeler, PatternLabeler, PriorityAggregator, build_labelers
from distant.labelers.pattern import nested_quantifier, read_pattern_table
from distant.labelers.pipeline import label_documents, labelers_from_args, load_labeling_config, summary_table

DATA = Path(__file__).parent / "data"
HANGS = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!"  # the text of issue 12


def found(d: Document, layer: str) -> list[tuple[str, str]]:
    return [(d.span_text(s), s.label) for s in d.spans(layer)]


def table(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "patterns.tsv"
    path.write_text("label\tname\tignore_case\tregex\n" + "".join(row + "\n" for row in rows))
    return path


def warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


# -- regexes that take exponential time -------------------------------------------------------------------
def test_the_hanging_table_row_of_issue_12_finishes_and_is_reported(tmp_path, caplog):
    path = table(tmp_path, "Chemical\tredos\t0\t(a+)+$", "Chemical\tworks\t0\tcisplatin")
    start = time.perf_counter()
    lab = PatternLabeler("pat", PatternOptions(tables=[path], regex_timeout=0.2))
    d = lab(Document("d1", HANGS + " cisplatin"))
    assert time.perf_counter() - start < 10  # ran past 120 s with re
    assert found(d, "pat") == [("cisplatin", "Chemical")]
    # the regex module finds this one's failure at once; its nesting is still reported when the table is read
    assert sum(lab.timeouts.values()) == 0
    (message,) = warnings(caplog)
    assert f"redos ({path}:2) '(a+)+$'" in message and "1 regex(es) repeat a group" in message


def test_a_regex_past_its_budget_is_skipped_on_that_document_counted_and_named_once(tmp_path, caplog):
    path = table(tmp_path, "Chemical\tredos\t0\t(a|aa)+$", "Chemical\tredos_token\t0\t^(a|aa)+$",
                 "Chemical\tworks\t0\tcisplatin")
    lab = PatternLabeler("pat", PatternOptions(tables=[path], regex_timeout=0.05))
    start = time.perf_counter()
    docs = [lab(Document(f"d{k}", HANGS + " cisplatin " + HANGS[:-1] + "b")) for k in (1, 2)]
    assert time.perf_counter() - start < 10
    assert [found(d, "pat") for d in docs] == [[("cisplatin", "Chemical")]] * 2  # the other regex still runs
    assert lab.timeouts == {f"redos ({path}:2)": 2, f"redos_token ({path}:3)": 2}
    stops = [m for m in warnings(caplog) if "ran past regex_timeout" in m]
    assert len(stops) == 2  # once per regex, not once per document
    assert f"regex redos ({path}:2) ran past regex_timeout = 0.05 s on document d1" in stops[0]
    assert f"redos_token ({path}:3)" in stops[1] and "2 regex stop(s)" in stops[1]


def test_regex_timeouts_are_counted_across_worker_processes(tmp_path):
    lab = PatternLabeler("pat", PatternOptions(tables=[table(tmp_path, "Chemical\tredos\t0\t(a|aa)+$")],
                                               regex_timeout=0.05))
    docs = [Document(f"d{k}", HANGS if k % 2 else "cisplatin") for k in range(4)]
    stats = label_documents(docs, [lab], PriorityAggregator(["pat"]), workers=2, chunk_size=2)
    assert stats.timeouts == {"pat": 2} and sum(lab.timeouts.values()) == 2
    assert stats.as_dict()["timeouts"] == {"pat": 2} and "timeouts" in summary_table(stats)


@pytest.mark.parametrize("value", [0, -1.0, float("inf"), float("nan")])
def test_regex_timeout_must_be_a_positive_number_of_seconds(value):
    with pytest.raises(DistantError, match="regex_timeout: expected a number of seconds above 0"):
        build_labelers([{"type": "pattern", "regex_timeout": value}])


@pytest.mark.parametrize("source, nested", [
    ("(a+)+$", True), (r"(\w+\s?)*", True), ("(?:x|a*)+", True), ("((a+)?)+", True), ("(a{2,})*", True),
    ("(a|aa)+$", False), ("([A-Za-z]+ )*", False), (r"(atrial factor( \[\s*ANF\s*\])*)", False),
    (r"[(]a+[)]+", False), (r"\(a+\)+", False), ("(a{1,3})+", False), ("(x+y)+", False),
])
def test_nested_quantifiers(source, nested):
    assert nested_quantifier(source) is nested


@pytest.mark.shared_data
def test_trove_tables_match_as_with_re():
    folder = data_dir() / "BC5CDR"
    if not folder.is_dir():
        pytest.skip(f"shared data not found at {folder}")
    from distant.formats import read_documents

    texts = [d.text for d in read_documents(folder / "original/CDR_TestSet.PubTator.txt", "pubtator")[:100]]
    for name in ("cdr_chemical_regexes.tsv", "cdr_disease_regexes.tsv"):
        patterns = read_pattern_table(folder / "trove" / name, {"1": "Chemical"})
        assert patterns and not any(nested_quantifier(p.regex.pattern) for p in patterns)
        for p in patterns:
            with_re = re.compile(p.regex.pattern, re.IGNORECASE if p.regex.flags & re.IGNORECASE else 0)
            for text in texts:
                assert [m.span() for m in p.regex.finditer(text)] == [m.span() for m in with_re.finditer(text)], p


# -- dictionary entries that label every full stop ----------------------------------------------------------
def test_symbol_only_entries_are_skipped_and_one_character_ones_kept_with_one_warning_each(tmp_path, caplog):
    typed = tmp_path / "dict.tsv"
    typed.write_text("Disease\t.\nChemical\tcisplatin\nChemical\tK\nChemical\t%\nChemical\tH\n")
    untyped = tmp_path / "phrases.txt"
    untyped.write_text("+/-\nrenal agent\nP\n")
    lab = DictionaryLabeler("dict", DictionaryOptions(dicts=[typed], unknown=[untyped]))
    d = lab(Document("d", "K and cisplatin. 5 % of P +/- renal agent."))
    assert found(d, "dict") == [("K", "Chemical"), ("cisplatin", "Chemical"), ("P", "-"), ("renal agent", "-")]
    assert lab.symbol_only == 3 and lab.one_character == 3
    messages = warnings(caplog)
    assert len(messages) == 4
    assert "typed entries: skipped 2 with no letter or digit" in messages[0]
    assert f"{typed}:1 '.'" in messages[0] and f"{typed}:4 '%'" in messages[0]
    assert "typed entries: kept 2 of one character" in messages[1] and f"{typed}:3 'K'" in messages[1]
    assert "untyped phrases: skipped 1 with no letter or digit" in messages[2] and f"{untyped}:1 '+/-'" in messages[2]
    assert "untyped phrases: kept 1 of one character" in messages[3] and f"{untyped}:3 'P'" in messages[3]


def test_a_one_character_stop_word_silences_its_warning(caplog):
    lab = DictionaryLabeler("dict", entries=[("Chemical", "K", None), ("Chemical", "lithium", None)],
                            stopwords=["K"])  # short all-caps tokens keep their case
    assert lab.one_character == 0 and not warnings(caplog)
    assert found(lab(Document("d", "K and lithium")), "dict") == [("lithium", "Chemical")]


def test_doubtful_entries_list_only_the_first_few(caplog):
    DictionaryLabeler("dict", entries=[("Chemical", mark, None) for mark in ".,;:!?%&"])
    (message,) = warnings(caplog)
    assert "skipped 8" in message and "entries[4] '!'" in message and "entries[5]" not in message
    assert message.endswith(", ...")


# -- option values that make no sense -----------------------------------------------------------------------
@pytest.mark.parametrize("spec, message", [
    ({"type": "dictionary", "unknown_min_chars": -1}, "unknown_min_chars: expected 0 or more, found -1"),
    ({"type": "dictionary", "unknown_label": "*|Chemical"}, "unknown_label: expected '-', '\\*'"),
    ({"type": "pattern", "min_affix_length": -2}, "min_affix_length: expected 0 or more, found -2"),
    ({"type": "pattern", "suffixes": {"Chemical": ["mycin", ""]}}, "suffixes.Chemical: expected non-empty strings"),
    ({"type": "pattern", "exclude_labels": ["0", " "]}, "exclude_labels\\[1\\]: expected a table label"),
    ({"type": "abbreviation", "layer": ""}, "layer: expected the name of the layer to read"),
    ({"type": "consistency", "layers": []}, "layers: expected at least one layer"),
    ({"type": "consistency", "layers": ["dictionary", ""]}, "layers\\[1\\]: expected the name of a layer"),
    ({"type": "consistency", "min_chars": -1}, "min_chars: expected 0 or more, found -1"),
])
def test_options_that_make_no_sense_name_their_key(spec, message):
    first = {"type": "dictionary", "name": "dictionary", "dicts": [str(DATA / "dict.tsv")]}
    specs = [spec] if spec["type"] in ("dictionary", "pattern") else [first, spec]
    with pytest.raises(DistantError, match=message):
        build_labelers(specs)


def test_option_dataclasses_reject_the_same_values_from_python():
    for make in (lambda: AbbreviationOptions(layer=" "), lambda: ConsistencyOptions(min_chars=-3),
                 lambda: DictionaryOptions(unknown_min_chars=-1), lambda: PatternOptions(min_affix_length=-1),
                 lambda: PatternOptions(regex_timeout=0.0)):
        with pytest.raises(ValueError):
            make()


def test_a_layer_to_read_must_be_written_by_an_earlier_labeler():
    dictionary = {"type": "dictionary", "dicts": [str(DATA / "dict.tsv")]}
    with pytest.raises(DistantError, match=r"labelers\[1\]: the abbreviation labeler reads layer 'dictonary', "
                                           r"which no labeler before it writes; did you mean 'dictionary'\?"):
        build_labelers([dictionary, {"type": "abbreviation", "layer": "dictonary"}])
    with pytest.raises(DistantError, match=r"labelers\[0\]: the consistency labeler reads layer 'dictionary'.*"
                                           r"runs after it: put it first"):
        build_labelers([{"type": "consistency", "layers": ["dictionary"]}, dictionary])
    # layers that come with the documents are not checked
    assert len(build_labelers([dictionary, {"type": "consistency", "layers": ["dictionary", "pred"]}])) == 2


# -- errors from the pipeline builders ----------------------------------------------------------------------
@pytest.mark.parametrize("option, message", [
    ({"unmatched": "maybe"}, "aggregate.unmatched: expected one of O, unknown, found 'maybe'"),
    ({"method": "majority"}, "aggregate.method: expected one of priority, vote, hmm, dawid-skene, found 'majority'"),
])
def test_labelers_from_args_bad_aggregation_is_a_distant_error(tmp_path, option, message):
    with pytest.raises(DistantError, match=message):
        labelers_from_args([DATA / "dict.tsv"], **option)
    config = tmp_path / "labelers.toml"
    key, value = next(iter(option.items()))
    config.write_text(f'[[labelers]]\ntype = "dictionary"\ndicts = ["{DATA / "dict.tsv"}"]\n'
                      f'[aggregate]\n{key} = "{value}"\n')
    with pytest.raises(DistantError, match=message) as info:
        load_labeling_config(config)
    assert info.value.path == str(config)


def test_the_label_command_fails_without_a_traceback_on_a_bad_unmatched_value(tmp_path):
    from distant.cli import app

    text = tmp_path / "in.txt"
    text.write_text("Cisplatin caused renal failure.\n")
    result = CliRunner().invoke(app, ["label", str(text), "--dict", str(DATA / "dict.tsv"), "--unmatched", "maybe",
                                      "-o", str(tmp_path / "out.jsonl")])
    assert result.exit_code == 2 and "Traceback" not in result.output and "'maybe'" in result.output
    assert not (tmp_path / "out.jsonl").exists()
