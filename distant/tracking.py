"""Experiment tracking: the training events logged to a CSV file and to TensorBoard (``train.log_to``).

Training already yields its events (:func:`distant.loop.train_while_improving`) and keeps one history entry
per epoch (``metrics.jsonl``). A :class:`Tracker` passes them on, the way Flair's and the HF Trainer's loggers
do: ``csv`` rewrites ``RUN_DIR/metrics.csv`` from the history after every epoch (atomically, so a resumed run
holds every epoch once); ``tensorboard`` writes the step loss and every epoch's loss, throughput and dev scores
to ``RUN_DIR/tensorboard`` with :class:`torch.utils.tensorboard.SummaryWriter` (``pip install
'distant[tracking]'``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from distant.atomic import write_text
from distant.errors import DistantError

CSV_FILE = "metrics.csv"
TENSORBOARD_DIR = "tensorboard"
CSV_COLUMNS = ("round", "epoch", "loss", "words", "seconds", "words_per_s", "dev_precision", "dev_recall", "dev_f1")


def check_targets(targets: Sequence[str]) -> None:
    """Fail early when a target's library is missing (before any labeling or training).

    Raises:
        DistantError: ``tensorboard`` asked for and not installed.
    """
    if "tensorboard" in targets:
        try:
            import tensorboard  # noqa: F401  (torch.utils.tensorboard needs it)
        except ImportError:
            raise DistantError("train.log_to = \"tensorboard\" needs TensorBoard: pip install 'distant[tracking]' "
                               "(or pip install tensorboard)") from None


def csv_rows(history: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return one CSV row per history entry (dev scores flattened to ``dev_precision`` ...)."""
    rows = []
    for entry in history:
        dev = entry.get("dev") or {}
        row = {key: entry.get(key, "") for key in ("round", "epoch", "loss", "words", "seconds", "words_per_s")}
        row.update({f"dev_{k}": dev.get(k, "") for k in ("precision", "recall", "f1")})
        rows.append(row)
    return rows


def write_csv(path: Path, history: Sequence[dict[str, Any]]) -> None:
    """Write the history as CSV, atomically."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(csv_rows(history))
    write_text(path, out.getvalue())


class Tracker:
    """Logs training events to the targets of ``train.log_to`` (none: does nothing)."""

    def __init__(self, run_dir: Path, targets: Sequence[str]) -> None:
        check_targets(targets)
        self.run_dir = Path(run_dir)
        self.csv = "csv" in targets
        self.writer = None
        if "tensorboard" in targets:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir=str(self.run_dir / TENSORBOARD_DIR))

    def event(self, event: dict[str, Any]) -> None:
        """Log a step or epoch event to TensorBoard."""
        if self.writer is None:
            return
        if event.get("event") == "step":
            global_step = (event["epoch"] - 1) * event["steps"] + event["step"]
            self.writer.add_scalar("train/step_loss", event["loss"], global_step)
        elif event.get("event") == "epoch":
            epoch = event["epoch"]
            self.writer.add_scalar("train/loss", event["loss"], epoch)
            self.writer.add_scalar("train/words_per_s", event["words_per_s"], epoch)
            for key in ("precision", "recall", "f1"):
                if key in (event.get("dev") or {}):
                    self.writer.add_scalar(f"dev/{key}", event["dev"][key], epoch)
            self.writer.flush()

    def epoch(self, history: Sequence[dict[str, Any]]) -> None:
        """Rewrite ``metrics.csv`` from the history (after each epoch)."""
        if self.csv:
            write_csv(self.run_dir / CSV_FILE, history)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
