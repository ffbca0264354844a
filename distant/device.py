"""Where a model runs: device names, and the CPU threads a run uses."""

from __future__ import annotations

from typing import TYPE_CHECKING

from distant.errors import DistantError

if TYPE_CHECKING:
    import torch

DEVICE_NAMES = "auto, cpu, cuda or cuda:N"


def check_device_name(name: str, key: str = "--device") -> None:
    """Raise ``ValueError`` unless ``name`` is ``auto``, ``cpu``, ``cuda`` or ``cuda:N``."""
    if name not in ("auto", "cpu", "cuda") and not (name.startswith("cuda:") and name[5:].isdigit()):
        raise ValueError(f"{key}: expected {DEVICE_NAMES}, found {name!r}")


def resolve_device(name: str) -> torch.device:
    """Turn ``auto`` into CUDA when available, else the CPU; refuse a device this machine does not have.

    Raises:
        DistantError: an unknown device name, or CUDA (or a GPU index) that is not there.
    """
    import torch

    try:
        check_device_name(name)
    except ValueError as e:
        raise DistantError(str(e)) from None
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DistantError(f"--device {name}: CUDA is not available on this machine; expected --device cpu "
                               "or auto")
        index = int(name[5:]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise DistantError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s); "
                               f"expected cuda:0 to cuda:{torch.cuda.device_count() - 1}")
    return torch.device(name)


def setup(name: str, threads: int = 0) -> tuple[torch.device, dict[str, int]]:
    """Resolve the device and set the CPU threads for it (:func:`distant.models.parallel.configure`)."""
    from distant.models import parallel

    device = resolve_device(name)
    return device, parallel.configure(threads, device)
