"""Every config that ships in configs/ loads: its keys, values and labeler options are checked as a run would."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from distant.labelers.pipeline import load_labeling_config
from distant.train import load_config

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.toml"))


def test_the_configs_folder_is_found():
    assert len(CONFIGS) >= 5


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_a_shipped_config_loads(path, data_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("DISTANT_DATA", str(data_dir))
    monkeypatch.setenv("MINILM_DIR", str(tmp_path))  # the MiniLM configs name their model folder so
    if "data" in tomllib.loads(path.read_text(encoding="utf-8")):
        config = load_config(path)
        assert config.data.train or config.data.train_labeled
    else:
        labelers, aggregator = load_labeling_config(path)
        assert labelers and aggregator.types
