"""Data-parallel training with 2 CPU processes over gloo, as torchrun would launch it."""

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tcvae.training import distributed as D
from tcvae.training.checkpoint import list_checkpoints, load_checkpoint
from tcvae.training.metrics_log import read_log


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_info_from_env_and_shards_partition_the_batch():
    assert D.info_from_env({}) == D.DistInfo(0, 1, 0)
    info = D.info_from_env({"RANK": "1", "WORLD_SIZE": "3", "LOCAL_RANK": "1"})
    assert (info.rank, info.world_size, info.enabled, info.is_main) == (1, 3, True, False)
    with pytest.raises(D.DistributedError, match="RANK"):
        D.info_from_env({"WORLD_SIZE": "2"})
    batch = torch.randperm(12)
    parts = [D.shard(batch, D.DistInfo(r, 3, r)) for r in range(3)]
    assert torch.equal(torch.cat(parts), batch)


def test_two_process_gloo_run_agrees_across_ranks_and_resumes_exactly(tmp_path):
    worker = Path(__file__).with_name("ddp_worker.py")
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"
    command = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1"]
    command += ["--nproc_per_node", "2", "--rdzv_backend", "c10d"]
    command += ["--rdzv_endpoint", f"127.0.0.1:{free_port()}", str(worker), str(tmp_path)]
    proc = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the launcher and both workers
        output, _ = proc.communicate()
    assert proc.returncode == 0, output[-3000:]
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    # Each rank sees its half of the global batch; the estimator's N is the whole training set.
    assert r0["seen"] == r1["seen"] == [(256, 32)] * 16
    for run in ("full", "resumed"):
        for k in r0[run]:
            assert torch.equal(r0[run][k], r1[run][k]), f"ranks disagree on {k} ({run})"
    for k in r0["full"]:
        assert torch.equal(r0["full"][k], r0["resumed"][k]), f"resume changed {k}"
    full = tmp_path / "full"
    assert [r["step"] for r in read_log(full)] == list(range(1, 9))
    ckpt = load_checkpoint(list_checkpoints(full)[-1])
    assert ckpt["world_size"] == 2 and len(ckpt["sample"]) == 2 and ckpt["step"] == 8
    # The two ranks draw different reparameterisation noise.
    assert not torch.equal(ckpt["sample"][0], ckpt["sample"][1])
