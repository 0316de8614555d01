"""A whole sweep: prepare the data once, run every unfinished cell, keep the summary current.

Layout of a sweep directory::

    SWEEP_DIR/sweep.json         the spec the sweep was started with (a restart must match it)
    SWEEP_DIR/data/              evaluation grid + facts on the training set (sweep_data)
    SWEEP_DIR/runs/<cell-id>/    one run directory per cell; cell.json marks it finished
    SWEEP_DIR/summary.{json,csv} one row per cell, rewritten as each cell ends
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from tcvae.experiments.backends import BACKENDS, BackendError, plan_workers, run_local, run_ray
from tcvae.experiments.grid import expand_grid
from tcvae.experiments.runner import CellFn, CellOutcome, run_cells
from tcvae.experiments.spec import SpecError, SweepSpec
from tcvae.experiments.summary import collect_summary, write_summary
from tcvae.experiments.sweep_data import (
    INFO_FILE,
    build_sweep_data,
    is_prepared,
    write_sweep_data,
)
from tcvae.files import read_json, write_json_atomic

SPEC_FILE, DATA_DIR, RUNS_DIR = "sweep.json", "data", "runs"


@dataclass
class SweepResult:
    """What :func:`run_sweep` returns: every cell's outcome and the summary rows and files."""

    sweep_dir: Path
    outcomes: list[CellOutcome]
    rows: list[dict[str, Any]]
    data_info: dict[str, Any]

    @property
    def failed(self) -> list[CellOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]


def claim_sweep_dir(spec: SweepSpec, sweep_dir: Path) -> None:
    """Record ``spec`` in a new sweep directory, or check it matches the one already there."""
    path = sweep_dir / SPEC_FILE
    if path.is_file():
        saved = read_json(path)["spec"]
        if saved != spec.raw:
            raise SpecError(
                f"{sweep_dir} holds a sweep started with a different spec ({path}); rerun with "
                "the same spec to continue it, or choose a new --out"
            )
        return
    write_json_atomic(path, {"spec": spec.raw})


def run_sweep(
    spec: SweepSpec,
    sweep_dir: str | Path,
    *,
    backend: str = "local",
    workers: int | None = None,
    threads: int | None = None,
    address: str | None = None,
    gpus_per_cell: float = 0.0,
    progress: bool = False,
    cell_fn: CellFn | None = None,
) -> SweepResult:
    """Run (or continue) the sweep ``spec`` in ``sweep_dir``.

    ``cell_fn`` defaults to :func:`tcvae.experiments.cell.train_and_evaluate`. Cells already
    finished are skipped; failed cells are recorded and retried on the next call. A spec is
    checked in full (options, and its data against the data set) before anything is written, so
    a refused spec leaves no trace and its corrected version starts afresh.
    """
    if backend not in BACKENDS:
        raise BackendError(f"unknown backend {backend!r}; choose from {list(BACKENDS)}")
    if cell_fn is None:
        from tcvae.experiments.cell import check_cells, train_and_evaluate

        check_cells(spec)
        cell_fn = train_and_evaluate
    sweep_dir = Path(sweep_dir)
    cells = expand_grid(spec)
    data_dir = sweep_dir / DATA_DIR
    # data is prepared only once its spec is recorded: a folder with it has a sweep.json to match
    built = None if is_prepared(data_dir) else build_sweep_data(spec.data, progress=progress)
    claim_sweep_dir(spec, sweep_dir)
    data_info = (
        read_json(data_dir / INFO_FILE) if built is None else write_sweep_data(built, data_dir)
    )
    del built  # the cells read the grid back from its file
    runs_dir = sweep_dir / RUNS_DIR
    context = {"spec": spec, "data_dir": str(data_dir)}

    if backend == "local":
        workers, threads = plan_workers(len(cells), workers, threads)
        execute = functools.partial(run_local, workers=workers)
    else:
        threads = threads or 1
        execute = functools.partial(run_ray, address=address, gpus_per_cell=gpus_per_cell)

    bar = tqdm(total=len(cells), unit="cell", disable=not progress, desc=f"sweep {spec.name}")

    def on_outcome(outcome: CellOutcome) -> None:
        write_summary(collect_summary(cells, runs_dir), sweep_dir)
        bar.update(1)
        bar.set_postfix_str(f"{outcome.cell.cell_id}: {outcome.status}")

    try:
        outcomes = run_cells(cells, runs_dir, cell_fn, execute, threads, context, on_outcome)
    finally:
        bar.close()
    rows = collect_summary(cells, runs_dir)
    write_summary(rows, sweep_dir)
    return SweepResult(sweep_dir, outcomes, rows, data_info)
