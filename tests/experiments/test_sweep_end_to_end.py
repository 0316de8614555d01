"""A 2 x 2 x 2 sweep (methods x betas x seeds) through the real trainer and evaluation, killed
mid-way through the CLI and continued, then compared."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tcvae.experiments.compare import compare_sweep
from tcvae.experiments.spec import read_spec
from tcvae.experiments.sweep import run_sweep

SPEC = """
name = "tiny"
[grid]
methods = ["beta-vae", "beta-tcvae-mss"]
betas = [1, 4]
seeds = [0, 1]
[data]
stride = { scale = 3, orientation = 20, posX = 8, posY = 8 }
subset = 256
[data.correlation]
factors = ["posX", "posY"]
rho = 0.5
[train.model]
hidden = 16
latent_dim = 3
[train.optim]
batch_size = 32
epochs = 1
max_steps = 6
[train.run]
device = "cpu"
checkpoint_every = 3
log_every = 1
tensorboard = false
[evaluation]
samples = 200
"""


def wait_for_first_cell(runs_dir, proc, timeout=120.0):
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if runs_dir.is_dir() and any(runs_dir.glob("*/cell.json")):
            return
        if proc.poll() is not None:
            pytest.fail(f"sweep exited early: {proc.communicate()}")
        time.sleep(0.02)
    pytest.fail("no cell finished in time")


@pytest.mark.slow
def test_sweep_survives_a_kill_and_is_compared(tmp_path):
    spec_path = tmp_path / "tiny.toml"
    spec_path.write_text(SPEC)
    out = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "tcvae", "sweep", str(spec_path), "--out", str(out)]
    proc = subprocess.Popen(
        cmd + ["--workers", "1", "-q"],
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_first_cell(out / "runs", proc)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    finished = {p.parent.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*/cell.json")}
    assert 1 <= len(finished) < 8

    result = run_sweep(read_spec(spec_path), out, workers=2, threads=1)
    status = {o.cell.cell_id: o.status for o in result.outcomes}
    assert len(status) == 8 and not result.failed
    assert {c for c, s in status.items() if s == "skipped"} == set(finished)
    for cell_id, mtime in finished.items():  # finished cells were not run again
        assert (out / "runs" / cell_id / "cell.json").stat().st_mtime_ns == mtime

    rows = json.loads((out / "summary.json").read_text())
    assert len(rows) == 8 and {r["status"] for r in rows} == {"done"}
    assert len((out / "summary.csv").read_text().splitlines()) == 9
    for row in rows:
        # trained on 256 correlated draws, evaluated on all 192 points of the coarse grid
        assert row["eval_points"] == 192 and row["data.train_images"] == 256
        assert abs(row["data.empirical_correlation"] - 0.5) < 0.2
        assert row["train.epoch"] == pytest.approx(6 / (256 // 32))  # trained on those 256
        cell_metrics = json.loads((out / "runs" / row["cell_id"] / "metrics.json").read_text())
        assert row["mig"] == cell_metrics["mig"]["mig"]  # the summary carries each cell's score
        assert row["log_px"] < 0 and row["train.steps"] == 6
        assert row["elbo"] == pytest.approx(row["log_px"] - row["kl"])
        assert row["config.objective.beta"] == row["beta"] and row["config.model.hidden"] == 16
        if row["method"] == "beta-tcvae-mss":
            assert row["config.objective.estimator"] == "mss"

    page = compare_sweep(out)
    assert page.read_text().count("data:image/png;base64,") == 3
    claims = json.loads((out / "claims.json").read_text())["claims"]  # 2 betas x 2 seeds
    assert [c["n_pairs"] for c in claims[:2]] == [4, 4] and claims[2]["n_cells"] == 8
    assert {c["verdict"] for c in claims[:2]} == {"insufficient data (n pairs < 5)"}

    # a changed spec cannot silently reuse the directory
    spec_path.write_text(SPEC.replace("seeds = [0, 1]", "seeds = [0, 2]"))
    with pytest.raises(ValueError, match="different spec"):
        run_sweep(read_spec(spec_path), out)
