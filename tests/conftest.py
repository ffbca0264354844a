"""Shared fixtures: where the benchmark corpora live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Return the corpora folder (``$DISTANT_DATA``, default ``../shared/data``), or skip when it is missing."""
    path = Path(os.environ.get("DISTANT_DATA", DEFAULT_DATA))
    if not path.is_dir():
        pytest.skip(f"corpora not found at {path} (set DISTANT_DATA)")
    return path
