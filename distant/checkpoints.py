"""Checkpoint files: written atomically, read with ``weights_only=True`` (tensors and plain types only)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
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


@contextlib.contextmanager
def checkpoint_errors(where: str, expected: str = "a checkpoint written by distant") -> Iterator[None]:
    """Turn what a damaged or foreign checkpoint makes model code raise into one :class:`DistantError`.

    A checkpoint is data from outside: a missing key, a value of the wrong type or a tensor of the wrong
    shape must read as "this file is not what it should be", not as a traceback.
    """
    try:
        yield
    except DistantError as e:
        raise DistantError(f"{where}: {e}") from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RuntimeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        detail = f"{type(e).__name__}: {first[:160]}" if first else type(e).__name__
        raise DistantError(f"{where}: damaged or not {expected} ({detail})") from None


def require_keys(checkpoint: Any, keys: tuple[str, ...], where: str) -> dict[str, Any]:
    """Return ``checkpoint`` after checking it is a dict with ``keys``."""
    if not isinstance(checkpoint, dict):
        raise DistantError(f"{where}: found a {type(checkpoint).__name__}, expected a checkpoint dictionary")
    missing = [k for k in keys if k not in checkpoint]
    if missing:
        raise DistantError(f"{where}: no {missing[0]!r} in the checkpoint; expected {', '.join(keys)}")
    return checkpoint
