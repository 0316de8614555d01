"""The Ray backend on a local Ray instance, with a cheap cell function."""

import sys
from pathlib import Path

import pytest

from tcvae.experiments.grid import expand_grid
from tcvae.experiments.runner import run_cells
from tcvae.experiments.spec import parse_spec

ray = pytest.importorskip("ray")


def fake_cell(cell, run_dir: Path, context: dict) -> dict:
    import os

    import torch

    if cell.seed == 1 and cell.method == "beta-vae":
        raise RuntimeError("planned failure")
    return {"mig": cell.beta + cell.seed, "pid": os.getpid(), "threads": torch.get_num_threads()}


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    # Ray workers cannot import test modules: ship this one's functions by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield
    ray.shutdown()


def test_ray_backend_runs_cells_and_records_failures(tmp_path, local_ray):
    from tcvae.experiments.backends import run_ray

    tree = {"grid": {"methods": ["vae", "beta-vae"], "betas": [4], "seeds": [0, 1]}}
    cells = expand_grid(parse_spec(tree))
    outcomes = run_cells(cells, tmp_path, fake_cell, run_ray, threads=1)
    status = {o.cell.cell_id: o.status for o in outcomes}
    assert status.pop("beta-vae_beta4_seed1") == "failed"
    assert set(status.values()) == {"done"}
    done = [o for o in outcomes if o.status == "done"]
    assert all(o.metrics["mig"] == o.cell.beta + o.cell.seed for o in done)
    assert all(o.metrics["threads"] == 1 for o in done)
    again = run_cells(cells, tmp_path, fake_cell, run_ray, threads=1)
    assert sorted(o.status for o in again).count("skipped") == len(done)
