"""Checkpoint files: written atomically, read with ``weights_only=True`` (tensors and plain types only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from distant.atomic import atomic_open
from distant.errors import DistantError


def save_checkpoint(obj: dict[str, Any], path: Path) -> None:
    """Write a checkpoint atomically (an interruption leaves the previous one intact)."""
    with atomic_open(path, "wb") as f:
        torch.save(obj, f)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True`` onto the CPU."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a truncated or foreign file: say which, not how unpickling failed
        raise DistantError(f"cannot read checkpoint ({type(e).__name__}); expected a file written by distant",
                           path) from None
