"""Grid expansion, skip-finished / record-failure semantics and the local backend, with a cheap
cell function standing in for training."""

import json
import os
from pathlib import Path

import pytest
import torch

from tcvae.experiments.backends import BackendError, plan_workers, run_local
from tcvae.experiments.grid import expand_grid
from tcvae.experiments.runner import DONE_FILE, ERROR_FILE, CellTask, execute_cell, run_cells
from tcvae.experiments.spec import parse_spec
from tcvae.experiments.summary import collect_summary, read_summary, write_summary


def fake_cell(cell, run_dir: Path, context: dict) -> dict:
    """Counts its runs in the run dir; fails for the cells named in context["fail"]."""
    marker = run_dir / "runs.txt"
    marker.write_text(marker.read_text() + "x" if marker.exists() else "x")
    if cell.cell_id in context.get("fail", ()):
        raise ValueError(f"planned failure of {cell.cell_id}")
    return {"mig": cell.beta / 10 + cell.seed, "pid": os.getpid(), "nested": {"a": 1}}


def spec(**grid):
    tree = {"grid": {"methods": ["vae", "beta-vae"], "betas": [1, 4], "seeds": [0, 1], **grid}}
    return parse_spec(tree)


def test_vae_gets_one_cell_per_seed_and_ids_are_unique():
    cells = expand_grid(spec(options={"optim.lr": [1e-3, 3e-4]}))
    ids = [c.cell_id for c in cells]
    assert len(ids) == len(set(ids)) == 2 * 2 + 2 * 2 * 2  # vae: seeds x lr; beta-vae: x betas
    assert {c.beta for c in cells if c.method == "vae"} == {1.0}
    assert "beta-vae_beta4_seed1_lr0.0003" in ids
    assert {c.series for c in cells} == {
        f"{m} lr={lr}" for m in ("vae", "beta-vae") for lr in ("0.001", "0.0003")
    }


def test_failed_cells_are_recorded_and_finished_cells_skipped(tmp_path):
    cells = expand_grid(spec())
    fail = {cells[1].cell_id}

    def backend(tasks):
        return run_local(tasks, 1)  # in this process, one after the other

    first = run_cells(cells, tmp_path, fake_cell, backend, context={"fail": fail})
    assert [o.status for o in first] == ["failed" if c.cell_id in fail else "done" for c in cells]
    err = json.loads((tmp_path / cells[1].cell_id / ERROR_FILE).read_text())
    assert "planned failure" in err["error"] and "Traceback" in err["traceback"]
    rows = collect_summary(cells, tmp_path)
    assert rows[1]["status"] == "failed" and rows[0]["mig"] == pytest.approx(0.1)
    assert rows[0]["nested.a"] == 1

    second = run_cells(cells, tmp_path, fake_cell, backend, context={})
    assert [o.status for o in second] == ["done" if c.cell_id in fail else "skipped" for c in cells]
    runs = [(tmp_path / c.cell_id / "runs.txt").read_text() for c in cells]
    assert runs == ["xx" if c.cell_id in fail else "x" for c in cells]
    assert not (tmp_path / cells[1].cell_id / ERROR_FILE).exists()


def test_a_cell_runs_with_its_threads_and_restores_the_process_count(tmp_path):
    cell = expand_grid(spec())[0]
    seen = []

    def cell_fn(cell, run_dir, context):
        seen.append(torch.get_num_threads())
        if context.get("fail"):
            raise ValueError("planned failure")
        return {}

    before = torch.get_num_threads()
    threads = 2 if before != 2 else 3
    try:
        for context, status in (({}, "done"), ({"fail": True}, "failed")):
            run_dir = tmp_path / f"{cell.cell_id}-{status}"
            outcome = execute_cell(CellTask(cell_fn, cell, str(run_dir), context, threads))
            assert outcome.status == status
            assert torch.get_num_threads() == before
    finally:
        torch.set_num_threads(before)
    assert seen == [threads, threads]


def test_local_pool_runs_cells_in_separate_processes(tmp_path):
    cells = expand_grid(spec())
    outcomes = run_cells(cells, tmp_path, fake_cell, lambda tasks: run_local(tasks, 2))
    assert all(o.status == "done" for o in outcomes)
    assert all((tmp_path / c.cell_id / DONE_FILE).is_file() for c in cells)
    pids = {o.metrics["pid"] for o in outcomes}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2
    write_summary(collect_summary(cells, tmp_path), tmp_path)
    assert [r["cell_id"] for r in read_summary(tmp_path)] == [c.cell_id for c in cells]
    header = (tmp_path / "summary.csv").read_text().splitlines()[0].split(",")
    assert {"cell_id", "method", "beta", "seed", "status", "mig", "nested.a"} <= set(header)


def test_plan_workers_never_oversubscribes():
    assert plan_workers(10, cores=2) == (2, 1)
    assert plan_workers(1, cores=8) == (1, 8)
    assert plan_workers(10, threads=4, cores=8) == (2, 4)
    with pytest.raises(BackendError, match="exceeds"):
        plan_workers(10, workers=2, threads=2, cores=2)


def test_a_cell_locked_by_another_process_is_not_run_twice(tmp_path):
    import fcntl

    cells = expand_grid(spec())[:2]
    with (tmp_path / f".{cells[0].cell_id}.lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as a still-running worker of a killed sweep would
        outcomes = run_cells(cells, tmp_path, fake_cell, lambda tasks: run_local(tasks, 1))
    assert outcomes[0].status == "failed" and "another process" in outcomes[0].error
    assert not (tmp_path / cells[0].cell_id / "runs.txt").exists()
    assert outcomes[1].status == "done"
    again = run_cells(cells, tmp_path, fake_cell, lambda tasks: run_local(tasks, 1))
    assert [o.status for o in again] == ["done", "skipped"]


def dying_cell(cell, run_dir: Path, context: dict) -> dict:
    """Kills its own worker process for one cell, as the out-of-memory killer would."""
    if cell.cell_id == context["victim"]:
        os._exit(1)
    return fake_cell(cell, run_dir, context)


def test_a_dead_worker_is_recorded_as_a_failed_cell(tmp_path):
    cells = expand_grid(spec())[:3]
    context = {"victim": cells[0].cell_id}
    outcomes = run_cells(cells, tmp_path, dying_cell, lambda t: run_local(t, 2), context=context)
    assert outcomes[0].status == "failed" and "worker died" in outcomes[0].error
    rows = collect_summary(cells, tmp_path)
    assert rows[0]["status"] == "failed" and "worker died" in rows[0]["error"]
    # a broken pool may take the other in-flight cells down too; a re-run finishes them all
    again = run_cells(
        cells, tmp_path, dying_cell, lambda t: run_local(t, 1), context={"victim": ""}
    )
    assert all(o.status in ("done", "skipped") for o in again)
