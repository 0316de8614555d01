"""Running cells: skip the finished ones, record failures, never let one cell stop the others.

A cell function has the signature ``cell_fn(cell, run_dir, context) -> dict`` (its metrics). The
runner calls it through :func:`execute_cell`, which writes ``RUN_DIR/cell.json`` atomically when
it returns; that file is the only mark of a finished cell, so a sweep killed at any moment loses
at most the cells in flight. An exception is written to ``RUN_DIR/error.json`` instead, and the
cell runs again on the next invocation. A cell holds an exclusive lock (``runs/.<cell-id>.lock``,
released by the operating system if its process dies) while it runs, so two sweep processes on the
same directory, or a worker orphaned by a killed sweep, never run the same cell at once.
Backends (:mod:`tcvae.experiments.backends`) only decide where :func:`execute_cell` runs.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from tcvae.experiments.grid import Cell
from tcvae.files import read_json, write_json_atomic

DONE_FILE, ERROR_FILE = "cell.json", "error.json"
CellFn = Callable[[Cell, Path, dict[str, Any]], dict[str, Any]]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CellTask:
    """Everything a worker needs to run one cell (picklable)."""

    cell_fn: CellFn
    cell: Cell
    run_dir: str
    context: dict[str, Any]
    threads: int


@dataclass(frozen=True)
class CellOutcome:
    """What became of one cell: ``status`` is "done", "failed" or "skipped" (done earlier)."""

    cell: Cell
    status: str
    metrics: dict[str, Any] | None = None
    error: str | None = None
    seconds: float = 0.0


def is_finished(run_dir: str | Path) -> bool:
    return (Path(run_dir) / DONE_FILE).is_file()


@contextlib.contextmanager
def cell_lock(run_dir: Path) -> Iterator[bool]:
    """Hold the cell's lock for the block; yields False if another process holds it."""
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    with (run_dir.parent / f".{run_dir.name}.lock").open("w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True


def execute_cell(task: CellTask) -> CellOutcome:
    """Run one cell in this process with ``task.threads`` torch threads (restored when it
    ends); never raises."""
    run_dir = Path(task.run_dir)
    with cell_lock(run_dir) as locked:
        if not locked:
            message = f"another process is running cell {task.cell.cell_id}; re-run when it ends"
            return CellOutcome(task.cell, "failed", error=message)
        if is_finished(run_dir):  # finished by another process since this task was planned
            return finished_outcome(task.cell, run_dir)
        threads = torch.get_num_threads()
        torch.set_num_threads(task.threads)
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / ERROR_FILE).unlink(missing_ok=True)
        start = time.perf_counter()
        try:
            metrics = task.cell_fn(task.cell, run_dir, task.context)
        except Exception as err:  # a failed cell is recorded; the sweep goes on
            outcome = CellOutcome(task.cell, "failed", error=f"{type(err).__name__}: {err}")
            seconds = time.perf_counter() - start
            return record_failure(outcome, run_dir, seconds, traceback.format_exc())
        finally:
            torch.set_num_threads(threads)
        seconds = time.perf_counter() - start
        record = {"cell": asdict(task.cell), "metrics": metrics, "seconds": seconds}
        write_json_atomic(run_dir / DONE_FILE, record)
        return CellOutcome(task.cell, "done", metrics=metrics, seconds=seconds)


def record_failure(
    outcome: CellOutcome, run_dir: Path, seconds: float, trace: str | None = None
) -> CellOutcome:
    """Write ``RUN_DIR/error.json`` for a failed cell; the outcome with ``seconds``."""
    record = {"cell": asdict(outcome.cell), "error": outcome.error, "seconds": seconds}
    write_json_atomic(
        run_dir / ERROR_FILE, record if trace is None else {**record, "traceback": trace}
    )
    return replace(outcome, seconds=seconds)


def finished_outcome(cell: Cell, run_dir: str | Path) -> CellOutcome:
    """The recorded outcome of a finished cell."""
    record = read_json(Path(run_dir) / DONE_FILE)
    return CellOutcome(cell, "skipped", metrics=record["metrics"], seconds=record["seconds"])


def run_cells(
    cells: list[Cell],
    runs_dir: str | Path,
    cell_fn: CellFn,
    backend: Callable[[list[CellTask]], Iterator[CellOutcome]],
    threads: int = 1,
    context: dict[str, Any] | None = None,
    on_outcome: Callable[[CellOutcome], None] | None = None,
) -> list[CellOutcome]:
    """Run every unfinished cell of ``cells`` on ``backend``; outcomes in the order of ``cells``.

    ``on_outcome`` is called for each cell as its outcome becomes known (finished cells first).
    """
    runs_dir = Path(runs_dir)
    outcomes: dict[str, CellOutcome] = {}
    tasks = []
    for cell in cells:
        run_dir = runs_dir / cell.cell_id
        if is_finished(run_dir):
            outcomes[cell.cell_id] = finished_outcome(cell, run_dir)
            if on_outcome:
                on_outcome(outcomes[cell.cell_id])
        else:
            tasks.append(CellTask(cell_fn, cell, str(run_dir), dict(context or {}), threads))
    log.info("%d of %d cells already finished; running %d", len(outcomes), len(cells), len(tasks))
    if tasks:
        for outcome in backend(tasks):
            outcomes[outcome.cell.cell_id] = outcome
            if outcome.status == "failed":
                log.warning("cell %s failed: %s", outcome.cell.cell_id, outcome.error)
                run_dir = runs_dir / outcome.cell.cell_id
                if not (run_dir / ERROR_FILE).is_file():  # its worker died before writing one
                    record_failure(outcome, run_dir, outcome.seconds)
            if on_outcome:
                on_outcome(outcome)
    return [outcomes[c.cell_id] for c in cells]
