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
