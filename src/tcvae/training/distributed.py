"""Data-parallel training under ``torchrun``: process-group set-up and batch sharding.

``torchrun --nproc_per_node N`` sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT in
every worker's environment. Each rank draws the same seeded permutation of the data set, takes
its contiguous share of every global batch, and DistributedDataParallel averages gradients, so one
step sees the whole global batch. The objective's data set size N stays the full training set.
"""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from tcvae.errors import TcvaeError


class DistributedError(TcvaeError):
    """The distributed environment is inconsistent with the requested settings."""


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def info_from_env(env: dict[str, str] | None = None) -> DistInfo:
    """Read RANK / WORLD_SIZE / LOCAL_RANK (absent: a single process)."""
    env = os.environ if env is None else env
    if "WORLD_SIZE" not in env:
        return DistInfo()
    try:
        info = DistInfo(int(env["RANK"]), int(env["WORLD_SIZE"]), int(env.get("LOCAL_RANK", 0)))
    except (KeyError, ValueError) as err:
        raise DistributedError(
            "WORLD_SIZE is set but RANK/LOCAL_RANK are missing or not integers; launch "
            "distributed runs with torchrun"
        ) from err
    if not 0 <= info.rank < info.world_size:
        raise DistributedError(f"RANK={info.rank} is outside [0, WORLD_SIZE={info.world_size})")
    return info


def init_process_group(info: DistInfo, device: torch.device) -> None:
    """Join the process group once per process (nccl for CUDA devices, gloo for CPU).

    Later :func:`tcvae.train` calls in the same worker reuse the group (a fresh rendezvous on
    torchrun's store would hang); it is destroyed when the process exits.
    """
    if not info.enabled or dist.is_initialized():
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend=backend, rank=info.rank, world_size=info.world_size)
    atexit.register(_destroy)


def _destroy() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def shard(global_batch: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """This rank's contiguous share of a global batch of indices (size divisible by world size)."""
    local = global_batch.shape[0] // info.world_size
    return global_batch[info.rank * local : (info.rank + 1) * local]


class _GatherRows(torch.autograd.Function):
    """All ranks' equal-sized row blocks, concatenated in rank order. Every rank's loss may use
    every row, so the gradient of a rank's own rows is the sum over ranks of the gradients that
    reached those rows: an all-reduce of the incoming gradient, then this rank's block of it."""

    @staticmethod
    def forward(ctx, t: torch.Tensor) -> torch.Tensor:
        t = t.contiguous()
        ctx.rows = t.shape[0]
        out = t.new_empty((dist.get_world_size() * t.shape[0], *t.shape[1:]))
        dist.all_gather(list(out.chunk(dist.get_world_size())), t)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        start = dist.get_rank() * ctx.rows
        return grad[start : start + ctx.rows]


def gather_rows(t: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Every rank's rows of ``t`` concatenated in rank order, differentiably: the gradient
    reaching another rank's rows is sent back to that rank (identity for one process). Every
    rank must pass the same number of rows."""
    if not info.enabled:
        return t
    return _GatherRows.apply(t)


def any_rank(flags: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Elementwise OR of a small 0/1 tensor across ranks (identity for one process)."""
    if info.enabled:
        flags = flags.clone()
        dist.all_reduce(flags, op=dist.ReduceOp.MAX)
    return flags


def mean_over_ranks(values: torch.Tensor, info: DistInfo) -> torch.Tensor:
    if info.enabled:
        values = values.clone()
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
        values /= info.world_size
    return values


def gather(obj: Any, info: DistInfo) -> list[Any]:
    """Every rank's ``obj``, in rank order (a one-element list for one process)."""
    if not info.enabled:
        return [obj]
    out: list[Any] = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


def broadcast(obj: Any, info: DistInfo) -> Any:
    """Rank 0's ``obj`` on every rank."""
    if not info.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()
