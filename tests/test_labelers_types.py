"""Entity types: what each labeler emits, a pipeline's default types, and ``unknown_label = "*"`` (any of the
run's types), so that a config names its types once."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from distant.docs import Document
from distant.errors import DistantError
from distant.config.labelers import DictionaryOptions, PatternOptions
from distant.labelers import AbbreviationLabeler, ConsistencyLabeler, DictionaryLabeler, PatternLabeler
from distant.labelers.pipeline import (
    build_pipeline, default_types, label_documents, labelers_from_args, load_labeling_config,
)

DATA = Path(__file__).parent / "data"
TEXT = "Cisplatin caused acute renal failure; ovarian cancer and renal tubular damage (RTD). RTD again."


def dictionary_spec(**options) -> dict:
    return {"type": "dictionary", "name": "dictionary", "dicts": [str(DATA / "dict.tsv")],
            "unknown": [str(DATA / "unknown.txt")], **options}


def labels(d: Document, layer: str) -> list[tuple[str, str]]:
    return [(d.span_text(s), s.label) for s in d.spans(layer)]


def test_each_labeler_says_which_types_it_emits(tmp_path):
    table = tmp_path / "t.tsv"
    table.write_text("label\tregex\nGene\t[A-Z]+[0-9]\nO\tprotein\n")
    assert DictionaryLabeler("d", DictionaryOptions(dicts=[DATA / "dict.tsv"])).types() == {"Chemical", "Disease"}
    assert DictionaryLabeler("d", DictionaryOptions(unknown_label="Chemical|Species"),
                             phrases=["x y"]).types() == {"Chemical", "Species"}
    assert DictionaryLabeler("d", DictionaryOptions(unknown_label="*"), phrases=["x y"]).types() == set()
    pattern = PatternLabeler("p", PatternOptions(tables=[table], suffixes={"Chemical": ["mycin"]}))
    assert pattern.types() == {"Gene", "Chemical"}
    assert AbbreviationLabeler("a").types() == set() and ConsistencyLabeler("c").types() == set()
    assert default_types([pattern, AbbreviationLabeler("a")]) == ["Chemical", "Gene"]


def test_star_is_any_of_the_default_types():
    labelers, aggregator = build_pipeline([dictionary_spec(unknown_label="*")], {})
    assert aggregator.types == ["Chemical", "Disease"]
    d = labelers[0](Document("d", TEXT))
    assert ("ovarian cancer", "Chemical|Disease") in labels(d, "dictionary")
    assert ("Cisplatin", "Chemical") in labels(d, "dictionary")


def test_star_is_any_of_the_given_types_in_their_order(caplog):
    labelers, aggregator = build_pipeline([dictionary_spec(unknown_label="*")], {}, types=["Disease", "Gene"])
    assert aggregator.types == ["Disease", "Gene"]
    assert ("ovarian cancer", "Disease|Gene") in labels(labelers[0](Document("d", TEXT)), "dictionary")
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "not among the run's (Disease, Gene)" in warning and "dictionary: Chemical" in warning


def test_star_without_any_type_is_an_error(tmp_path):
    spec = {"type": "dictionary", "unknown": [str(DATA / "unknown.txt")], "unknown_label": "*"}
    with pytest.raises(DistantError, match="unknown_label = '\\*' stands for the run's entity types, but there are "
                                           "none"):
        build_pipeline([spec], {})
    labelers, aggregator = build_pipeline([spec], {}, types=["Disease"])
    assert aggregator.types == ["Disease"]
    assert labels(labelers[0](Document("d", "ovarian cancer")), "dictionary") == [("ovarian cancer", "Disease")]
    with pytest.raises(DistantError, match="types: expected entity type names.*found 'O'"):
        build_pipeline([spec], {}, types=["Disease", "O"])
    lone = DictionaryLabeler("d", DictionaryOptions(unknown_label="*"), phrases=["ovarian cancer"])
    with pytest.raises(DistantError, match="call resolve_types"):
        lone(Document("d", "ovarian cancer"))


def test_a_dictionary_built_alone_takes_its_own_types_for_star():
    lab = DictionaryLabeler("dictionary", DictionaryOptions(dicts=[DATA / "dict.tsv"], unknown=[DATA / "unknown.txt"],
                                                            unknown_label="*"))
    assert ("ovarian cancer", "Chemical|Disease") in labels(lab(Document("d", TEXT)), "dictionary")


def test_star_and_explicit_types_label_alike_and_identically_in_workers():
    texts = [TEXT, "No match.", "cocaine and ovarian cancer; renal tubular damage."] * 4
    results = []
    for unknown_label, workers in (("Chemical|Disease", 1), ("*", 1), ("*", 2)):
        labelers, aggregator = build_pipeline(
            [dictionary_spec(unknown_label=unknown_label), {"type": "abbreviation", "layer": "dictionary"}], {})
        docs = [Document(f"d{k}", t) for k, t in enumerate(texts)]
        label_documents(docs, labelers, aggregator, workers=workers, chunk_size=2)
        results.append([(d.id, d.tokens, d.layers) for d in docs])
    assert results[0] == results[1] == results[2]
    assert any(s.label == "Chemical|Disease" for _, _, layers in results[2] for s in layers["pseudo"])


def test_config_and_flags_take_the_run_types(tmp_path):
    config = tmp_path / "labelers.toml"
    config.write_text(f'[[labelers]]\ntype = "dictionary"\nunknown = ["{DATA / "unknown.txt"}"]\n'
                      f'unknown_label = "*"\n')
    _, aggregator = load_labeling_config(config, types=["Species"])
    assert aggregator.types == ["Species"]
    _, aggregator = labelers_from_args(config=config, types=["Gene", "Species"])
    assert aggregator.types == ["Gene", "Species"]
    with pytest.raises(DistantError, match="stands for the run's entity types") as info:
        load_labeling_config(config)
    assert info.value.path == str(config)
    _, aggregator = labelers_from_args([DATA / "dict.tsv"])
    assert aggregator.types == ["Chemical", "Disease"]


def test_bc5cdr_config_states_its_types_once_with_star():
    """configs/bc5cdr.toml names no type: its labelers give them, and unknown_label = "*" stands for them."""
    import tomllib

    root = Path(__file__).parents[1]
    config = tomllib.loads((root / "configs/bc5cdr.toml").read_text())
    specs = [dict(spec) for spec in config["labelers"]]
    for spec in specs:
        if spec["type"] == "dictionary":
            assert spec["unknown_label"] == "*"
            spec.update(dicts=[str(DATA / "dict.tsv")], unknown=[str(DATA / "unknown.txt")])
            spec.pop("stopwords", None)
    labelers, aggregator = build_pipeline(specs, config["aggregate"])
    assert "types" not in config["data"] and aggregator.types == ["Chemical", "Disease"]
    assert labelers[0].unknown_label == "Chemical|Disease"
