"""Shared fixtures: where the benchmark corpora live."""

from __future__ import annotations

from pathlib import Path

import pytest

from distant.config import data_dir as corpora_dir


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Return the corpora folder (``$DISTANT_DATA``, default ``../shared/data``), or skip when it is missing."""
    path = corpora_dir()
    if not path.is_dir():
        pytest.skip(f"corpora not found at {path} (set DISTANT_DATA)")
    return path


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory) -> Path:
    """Return the run folder of a small model trained on the shipped sample (25 epochs, about 25 s: fewer
    predict no entity at all)."""
    from distant.config.run import load_config
    from distant.train import run_training

    root = Path(__file__).resolve().parents[1]
    config = root / "configs" / "sample.toml"
    run_dir = tmp_path_factory.mktemp("sample_run") / "sample"
    quick = ["train.epochs=25", "pretrain.epochs=1", "model.charlm.hidden_size=16"]
    run_training(load_config(config, quick), run_dir, config_path=config)
    return run_dir
