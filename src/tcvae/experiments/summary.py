"""The sweep summary: one row per cell with its config, status and metrics, as JSON and CSV.

Rows are rebuilt from the run directories (``cell.json`` / ``error.json``), so the summary is
complete whichever invocation of the sweep ran each cell. Each row holds the cell's grid values,
its full training config (``config.optim.lr``, ... from the run's ``config.json``), its status and
its metrics. Nested values are flattened to dotted column names in both files; the CSV has the
union of all rows' columns (lists are kept in the JSON only).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from tcvae.experiments.grid import Cell
from tcvae.experiments.runner import DONE_FILE, ERROR_FILE
from tcvae.files import read_json, write_json_atomic, write_text_atomic
from tcvae.training.runs import CONFIG_FILE

SUMMARY_JSON, SUMMARY_CSV = "summary.json", "summary.csv"


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}, "c": [1, 2]}`` -> ``{"a.b": 1, "c": [1, 2]}`` (lists kept whole)."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def cell_row(cell: Cell, run_dir: Path) -> dict[str, Any]:
    """Summary row of one cell: grid values, status, seconds, error, metrics, training config."""
    row: dict[str, Any] = {
        "cell_id": cell.cell_id,
        "method": cell.method,
        "beta": cell.beta,
        "seed": cell.seed,
        "series": cell.series,
        **cell.options,
        "run_dir": str(run_dir),
    }
    if (run_dir / DONE_FILE).is_file():
        record = read_json(run_dir / DONE_FILE)
        row.update(status="done", seconds=record["seconds"], error="")
        row.update(flatten(record["metrics"] or {}))
    elif (run_dir / ERROR_FILE).is_file():
        record = read_json(run_dir / ERROR_FILE)
        row.update(status="failed", seconds=record["seconds"], error=record["error"])
    else:
        row.update(status="pending", seconds=None, error="")
    if (run_dir / CONFIG_FILE).is_file():
        row.update(flatten(read_json(run_dir / CONFIG_FILE), "config."))
    return row


def collect_summary(cells: list[Cell], runs_dir: str | Path) -> list[dict[str, Any]]:
    return [cell_row(cell, Path(runs_dir) / cell.cell_id) for cell in cells]


def write_summary(rows: list[dict[str, Any]], sweep_dir: str | Path) -> tuple[Path, Path]:
    """Write ``summary.json`` and ``summary.csv`` atomically; return their paths."""
    sweep_dir = Path(sweep_dir)
    json_path = write_json_atomic(sweep_dir / SUMMARY_JSON, rows)
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, restval="")
    writer.writeheader()
    writer.writerows(
        {k: ("" if v is None else v) for k, v in row.items() if not isinstance(v, list)}
        for row in rows
    )
    csv_path = sweep_dir / SUMMARY_CSV
    write_text_atomic(csv_path, buffer.getvalue())
    return json_path, csv_path


def read_summary(sweep_dir: str | Path) -> list[dict[str, Any]]:
    """Rows of a sweep's ``summary.json``, with a clear error if it is missing."""
    path = Path(sweep_dir) / SUMMARY_JSON
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: give a sweep directory written by `tcvae sweep` (--out)"
        )
    return read_json(path)
