"""The metrics log of a run: ``train_log.jsonl`` (one JSON object per line) and TensorBoard.

Each row holds ``step`` (updates done), ``epoch`` (fractional epochs done), every loss term and
``images_per_s``. When a run is resumed from an earlier checkpoint, rows past that step are
dropped and TensorBoard purges its events past it, so the log reads as one uninterrupted run.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from tcvae.files import write_text_atomic

LOG_FILE = "train_log.jsonl"
TB_DIR = "tb"


def read_log(run_dir: str | Path) -> list[dict[str, Any]]:
    """All rows of a run's ``train_log.jsonl`` (an empty list before the first row)."""
    path = Path(run_dir) / LOG_FILE
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            break  # a line cut short by a crash ends the log
    return rows


def truncate_log(run_dir: str | Path, last_step: int) -> None:
    """Keep only rows with ``step <= last_step`` (rewritten atomically)."""
    path = Path(run_dir) / LOG_FILE
    if not path.is_file():
        return
    rows = [r for r in read_log(run_dir) if r.get("step", 0) <= last_step]
    write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in rows))


def _json_number(v: float) -> float | str:
    return v if math.isfinite(v) else str(v)


class MetricsLogger:
    """Append rows to ``train_log.jsonl`` and, optionally, TensorBoard scalars ``train/<term>``."""

    def __init__(self, run_dir: str | Path, tensorboard: bool, start_step: int = 0) -> None:
        self.run_dir = Path(run_dir)
        truncate_log(self.run_dir, start_step)
        self._file = (self.run_dir / LOG_FILE).open("a")
        self._writer = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(str(self.run_dir / TB_DIR), purge_step=start_step + 1)

    def log(self, step: int, epoch: float, terms: dict[str, float], images_per_s: float) -> dict:
        row = {"step": step, "epoch": round(epoch, 6)}
        row.update({k: _json_number(float(v)) for k, v in terms.items()})
        row["images_per_s"] = round(images_per_s, 3)
        self._file.write(json.dumps(row) + "\n")
        self._file.flush()
        if self._writer is not None:
            for k, v in terms.items():
                self._writer.add_scalar(f"train/{k}", float(v), step)
            self._writer.add_scalar("train/images_per_s", images_per_s, step)
        return row

    def close(self) -> None:
        self._file.close()
        if self._writer is not None:
            self._writer.close()
