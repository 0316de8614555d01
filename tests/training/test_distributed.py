"""Data-parallel training with 2 CPU processes over gloo, as torchrun would launch it."""

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tcvae.objectives import baselines
from tcvae.objectives.loss import BASELINES
from tcvae.training import distributed as D
from tcvae.training import trainer as T
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


def torchrun(worker: str, *args: str) -> None:
    """Run ``worker`` (a file beside this one) on 2 processes, as torchrun launches them."""
    worker = Path(__file__).with_name(worker)
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"
    command = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1"]
    command += ["--nproc_per_node", "2", "--rdzv_backend", "c10d"]
    command += ["--rdzv_endpoint", f"127.0.0.1:{free_port()}", str(worker), *args]
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


def test_two_process_gloo_run_agrees_across_ranks_resumes_exactly_and_equals_one_process(
    tmp_path, make_config
):
    torchrun("ddp_worker.py", str(tmp_path))
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    # Each rank sees its half of the global batch; the estimator's N is the whole training set.
    # The estimators mix over the posteriors of the whole global batch of 64.
    assert r0["seen"] == r1["seen"] == [(256, 32, 64)] * 16
    for run in ("full", "resumed"):
        for k in r0[run]:
            assert torch.equal(r0[run][k], r1[run][k]), f"ranks disagree on {k} ({run})"
    for k in r0["full"]:
        assert torch.equal(r0["full"][k], r0["resumed"][k]), f"resume changed {k}"
    full = tmp_path / "full"
    assert [r["step"] for r in read_log(full)] == list(range(1, 9))
    ckpt = load_checkpoint(list_checkpoints(full)[-1])
    assert ckpt["world_size"] == 2 and len(ckpt["sample"]) == 2 and ckpt["step"] == 8
    # One noise stream for the global batch, each rank taking its rows.
    assert torch.equal(ckpt["sample"][0], ckpt["sample"][1])
    # The same run on one process: the estimators see the same global batch of 64 posteriors
    # and the same samples, so every step's loss terms and the parameters agree to float
    # rounding. (Adam divides each gradient by its running magnitude, which turns rounding in
    # the near-zero gradients of the first layer (fed by pixels that are almost never
    # on) into differences of up to lr per step, which the encoder then carries; the encoder is
    # compared at that scale, the decoder tightly.)
    torch.set_num_threads(1)
    single = T.train(make_config("single", epochs=2))
    rows = list(zip(read_log(full), single.history, strict=True))
    for term in ("loss", "log_px", "kl", "mi", "tc", "dwkl"):  # the first step: same weights
        assert rows[0][0][term] == pytest.approx(rows[0][1][term], rel=1e-5, abs=1e-6), term
    for ours, ref in rows:
        for term in ("loss", "log_px"):
            assert ours[term] == pytest.approx(ref[term], rel=1e-5), term
        for term in ("kl", "mi", "tc", "dwkl"):
            assert ours[term] == pytest.approx(ref[term], rel=1e-2, abs=5e-3), term
    for k, v in single.model.state_dict().items():
        atol = 8 * 2 * 1e-3 if k.startswith("encoder.") else 1e-4
        torch.testing.assert_close(r0["full"][k], v, rtol=1e-3, atol=atol, msg=k)


def test_baselines_on_two_processes_are_the_one_process_objective(
    tmp_path, monkeypatch, baseline_config
):
    """Each baseline on 2 processes against 1 process at the same global batch of 64: the batch
    statistics (FactorVAE's permutation, DIP-VAE's covariance, AnnealedVAE's mean KL) are over
    the global batch, so every step's loss terms agree, and FactorVAE's discriminator stays the
    same on both ranks. AnnealedVAE's capacity is the first step's mean KL, which the two halves
    of the batch lie on either side of, so |KL - C| over halves would differ from the whole's."""
    monkeypatch.setattr(baselines, "DISCRIMINATOR_WIDTH", 16)
    probe = T.train(baseline_config(tmp_path / "probe", "annealed-vae", 1.0, max_steps=1))
    capacity = probe.history[0]["kl"]
    torchrun("ddp_baselines_worker.py", str(tmp_path / "ddp"), repr(capacity))
    r0, r1 = (torch.load(tmp_path / "ddp" / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    for part in (*BASELINES, "discriminator"):
        for k in r0[part]:
            assert torch.equal(r0[part][k], r1[part][k]), f"ranks disagree on {part} {k}"
    extra = {"factor-vae": ("tc_discriminator", "auxiliary_loss"), "annealed-vae": ()}
    single = {}
    for method in BASELINES:
        single[method] = T.train(baseline_config(tmp_path / "single" / method, method, capacity))
        rows = list(zip(read_log(tmp_path / "ddp" / method), single[method].history, strict=True))
        assert len(rows) == 4
        for ours, ref in rows:
            for term in ("loss", "log_px", "kl", *extra.get(method, ("dip_penalty",))):
                assert ours[term] == pytest.approx(ref[term], rel=1e-5, abs=1e-6), (method, term)
    last = list_checkpoints(single["factor-vae"].run_dir)[-1]
    discriminator = load_checkpoint(last)["auxiliary"]
    for k, v in discriminator.items():  # Adam turns rounding into up to lr (1e-4) per step
        torch.testing.assert_close(r0["discriminator"][k], v, rtol=0, atol=8e-4, msg=k)


def test_screening_on_two_processes_scores_once_and_every_rank_keeps_the_same_run(tmp_path):
    from tcvae.training.runs import SCREENING_FILE, load_run, read_run_json

    torchrun("ddp_screening_worker.py", str(tmp_path))
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    record = read_run_json(tmp_path / "run" / SCREENING_FILE)
    kept = record["candidates"][record["kept"]]
    assert r0["seed"] == r1["seed"] == kept["seed"] and r0["step"] == r1["step"] == 6
    assert [len(c["scores"]) for c in record["candidates"]].count(2) == 2
    for k in r0["model"]:
        assert torch.equal(r0["model"][k], r1["model"][k]), f"ranks disagree on {k}"
    weights = load_run(tmp_path / "run").model.state_dict()
    assert all(torch.equal(weights[k], r0["model"][k]) for k in weights)
