"""Checkpoints: atomic writes, rotation, safe loading and random-number-generator states.

A checkpoint is a plain dict of tensors and plain Python types, so it loads with
``torch.load(weights_only=True)``: no pickled objects are ever executed when a run is resumed or
inspected. Writes go to a temporary file in the same directory, are flushed and fsynced, then
renamed over the target with ``os.replace`` (atomic on POSIX), so a crash mid-write leaves the
previous checkpoint intact.
"""

from __future__ import annotations

import logging
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tcvae.errors import TcvaeError
from tcvae.files import atomic_write
from tcvae.training import distributed as D
from tcvae.training.config import TrainConfig, to_dict

CHECKPOINT_DIR = "checkpoints"
_NAME = re.compile(r"^step-(\d+)\.pt$")


class CheckpointError(TcvaeError):
    """A checkpoint is missing or unreadable."""


log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = 1


def atomic_save(obj: Any, path: str | Path) -> Path:
    """``torch.save`` to ``path`` atomically (temp file in the same dir, fsync, ``os.replace``)."""
    path = Path(path)
    with atomic_write(path) as tmp:
        torch.save(obj, tmp)
    return path


def checkpoint_path(run_dir: str | Path, step: int) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR / f"step-{step:08d}.pt"


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """Complete checkpoints of a run, oldest first (temporary files are ignored)."""
    directory = Path(run_dir) / CHECKPOINT_DIR
    if not directory.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in directory.iterdir() if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def checkpoint_step(path: str | Path) -> int:
    """The step of a checkpoint written by :func:`save_training_state`, read from its name."""
    match = _NAME.match(Path(path).name)
    if match is None:
        raise CheckpointError(f"{path} is not named like a checkpoint (step-XXXXXXXX.pt)")
    return int(match.group(1))


def prune_checkpoints(run_dir: str | Path, keep: int) -> None:
    """Delete all but the newest ``keep`` (>= 1, as run.keep_checkpoints) checkpoints."""
    for p in list_checkpoints(run_dir)[:-keep]:
        p.unlink(missing_ok=True)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint safely (``weights_only=True``)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises several types for truncated or foreign files
        raise CheckpointError(f"checkpoint {path} cannot be read safely: {err}") from err


def capture_rng_state() -> dict[str, Any]:
    """Global RNG states (torch CPU and CUDA, numpy, Python) as tensors and plain types."""
    name, keys, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002 (global state)
    version, internal, gauss_next = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {
            "name": str(name),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": {
            "version": int(version),
            "internal": torch.tensor(internal, dtype=torch.int64),
            "gauss_next": gauss_next,
        },
    }


def restore_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state`."""
    torch.set_rng_state(state["torch"].cpu())
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
    n = state["numpy"]
    np.random.set_state(  # noqa: NPY002 (restores the global state)
        (
            n["name"],
            n["keys"].numpy().astype(np.uint32),
            n["pos"],
            n["has_gauss"],
            n["cached_gaussian"],
        )
    )
    p = state["python"]
    random.setstate((p["version"], tuple(int(v) for v in p["internal"].tolist()), p["gauss_next"]))


def save_training_state(
    run_dir: Path,
    step: int,
    steps_per_epoch: int,
    config: TrainConfig,
    stateful: dict[str, Any],
    data_order: torch.Tensor,
    sample_gen: torch.Generator,
    info: D.DistInfo,
) -> Path:
    """Write a checkpoint of the training state from rank 0: every object of ``stateful``
    (model, optimisers, ...) by its state_dict, the RNG states, the data order and every rank's
    noise-generator state."""
    sample_states = D.gather(sample_gen.get_state(), info)
    path = checkpoint_path(run_dir, step)
    if info.is_main:
        state = {
            "format": CHECKPOINT_FORMAT,
            "step": step,
            "epoch": step / steps_per_epoch,
            **{name: obj.state_dict() for name, obj in stateful.items()},
            "rng": capture_rng_state(),
            "data_order": data_order,
            "sample": sample_states,
            "world_size": info.world_size,
            "config": to_dict(config),
        }
        atomic_save(state, path)
        prune_checkpoints(run_dir, config.run.keep_checkpoints)
    return path


def restore_training_state(
    run_dir: Path,
    stateful: dict[str, Any],
    data_gen: torch.Generator,
    sample_gen: torch.Generator,
    info: D.DistInfo,
) -> int:
    """Load the newest checkpoint into the training state; return its step. A run stopped before
    its first checkpoint starts again from step 0 with its saved config."""
    path = latest_checkpoint(run_dir)
    if path is None:
        log.info("%s has no checkpoint yet: training it from step 0 with its config", run_dir)
        return 0
    ckpt = load_checkpoint(path)
    for name, obj in stateful.items():
        if ckpt.get(name):  # an unused GradScaler's state is empty
            obj.load_state_dict(ckpt[name])
    restore_rng_state(ckpt["rng"])
    data_gen.set_state(ckpt["data_order"])
    step = int(ckpt["step"])
    states = ckpt["sample"]
    # Every process draws from one stream (see the trainer), so any process's state continues it,
    # whatever the number of processes the checkpoint was written with.
    sample_gen.set_state(states[info.rank] if len(states) == info.world_size else states[0])
    if info.is_main:
        log.info("resuming %s from %s (step %d)", run_dir, path, step)
    return step
