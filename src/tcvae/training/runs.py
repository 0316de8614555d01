"""Run directories: what a training run leaves behind, and how to load it back.

Layout of a run directory::

    config.json          the full resolved TrainConfig (model build arguments included)
    status.json          how the last invocation ended: status, step, images seen, seconds
    model.pt             final model weights (state_dict), written when training ends
    checkpoints/         step-XXXXXXXX.pt: model, optimiser, RNG states, step, config
    train_log.jsonl      one JSON row per logged step: step, epoch, loss terms, images_per_s
    tb/                  TensorBoard event files
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import torch

from tcvae.data.ground_truth import GroundTruthData
from tcvae.errors import TcvaeError
from tcvae.files import write_json_atomic
from tcvae.models import build_model
from tcvae.training import distributed as D
from tcvae.training.checkpoint import (
    CheckpointError,
    checkpoint_path,
    latest_checkpoint,
    load_checkpoint,
)
from tcvae.training.config import (
    ModelConfig,
    TrainConfig,
    from_dict,
    merge,
    resumed_config,
    to_dict,
)
from tcvae.training.datasets import build_dataset
from tcvae.training.metrics_log import read_log

DEFAULT_RUNS_ROOT = "runs"
CONFIG_FILE = "config.json"
STATUS_FILE = "status.json"
MODEL_FILE = "model.pt"


class RunDirError(TcvaeError):
    """A run directory is missing, incomplete or already in use."""


def write_config(run_dir: str | Path, config: TrainConfig) -> Path:
    path = Path(run_dir) / CONFIG_FILE
    return write_json_atomic(path, to_dict(config))


def write_status(
    run_dir: str | Path,
    status: str,
    step: int,
    epoch: float,
    images_seen: int,
    steps_this_invocation: int,
    seconds: float,
) -> Path:
    """Record how training ended. ``step`` is the total so far: ``--max-steps step`` repeats the
    run exactly (useful after a stop by ``--max-minutes``)."""
    return write_json_atomic(
        Path(run_dir) / STATUS_FILE,
        {
            "status": status,
            "step": step,
            "epoch": epoch,
            "images_seen": images_seen,
            "steps_this_invocation": steps_this_invocation,
            "train_seconds_this_invocation": round(seconds, 3),
            "repeat_with": f"--max-steps {step}",
        },
    )


def read_config(run_dir: str | Path) -> TrainConfig:
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise RunDirError(
            f"{run_dir} is not a run directory: {CONFIG_FILE} is missing (give the directory "
            "that `tcvae train` created, e.g. runs/<name>)"
        )
    return from_dict(json.loads(path.read_text()))


def model_from_config(model: ModelConfig) -> torch.nn.Module:
    """Build the (untrained) network a run config describes."""
    if model.image_shape is None:
        raise RunDirError("model.image_shape is unset; it is filled in from the data at train time")
    return build_model(
        arch=model.arch,
        image_shape=tuple(model.image_shape),
        latent_dim=model.latent_dim,
        posterior=model.posterior,
        likelihood=model.likelihood,
        hidden=model.hidden,
    )


@dataclass
class LoadedRun:
    """A finished (or interrupted) run, read back from its directory."""

    run_dir: Path
    config: TrainConfig
    model: torch.nn.Module
    weights: Path
    step: int | None

    def dataset(self) -> GroundTruthData:
        """The data set the run trained on, rebuilt from its config (filters, subset included)."""
        return build_dataset(self.config.data)

    def log(self) -> list[dict[str, Any]]:
        """The rows of the run's ``train_log.jsonl``."""
        return read_log(self.run_dir)


def load_run(
    run_dir: str | Path,
    device: str | torch.device = "cpu",
    checkpoint: str | Path | int | None = None,
) -> LoadedRun:
    """Rebuild a run's model in eval mode with its weights, loaded with ``weights_only=True``.

    ``checkpoint``: None for the final ``model.pt`` (or the newest checkpoint if training has not
    finished), a step number, or a checkpoint file path.
    """
    run_dir = Path(run_dir)
    config = read_config(run_dir)
    model = model_from_config(config.model)
    step = None
    if checkpoint is None and (run_dir / MODEL_FILE).is_file():
        weights = run_dir / MODEL_FILE
        state = torch.load(weights, map_location="cpu", weights_only=True)
    else:
        weights = _resolve_checkpoint(run_dir, checkpoint)
        ckpt = load_checkpoint(weights)
        state, step = ckpt["model"], int(ckpt["step"])
    model.load_state_dict(state)
    model.to(device).eval()
    return LoadedRun(run_dir, config, model, weights, step)


def _resolve_checkpoint(run_dir: Path, checkpoint: str | Path | int | None) -> Path:
    if checkpoint is None:
        found = latest_checkpoint(run_dir)
        if found is None:
            raise RunDirError(f"{run_dir} has neither {MODEL_FILE} nor any checkpoint yet")
        return found
    if isinstance(checkpoint, int):
        path = checkpoint_path(run_dir, checkpoint)
        if not path.is_file():
            raise CheckpointError(f"{run_dir} has no checkpoint for step {checkpoint}")
        return path
    return Path(checkpoint)


def prepare_config(config: TrainConfig | dict | None, resume: str | Path | None) -> TrainConfig:
    """The validated config of a new run (a copy of ``config``), or of the run in ``resume``
    (its config.json, with the changes ``config`` may make on resume)."""
    if isinstance(config, dict):
        config = from_dict(merge(to_dict(TrainConfig()), config))
    if resume is None:
        # A validated copy: the run fills in its directory and image shape, the caller's object
        # stays as it was (so it can start another run).
        return from_dict(to_dict(config or TrainConfig()))
    saved = read_config(resume)
    saved.run.run_dir = str(resume)  # the directory may have moved since it was written
    if config is not None:
        config = from_dict(to_dict(config))  # a validated copy; the caller's object is untouched
        config.run.run_dir = saved.run.run_dir
    return resumed_config(saved, config)


def _new_run_dir(config: TrainConfig) -> Path:
    if config.run.run_dir:
        run_dir = Path(config.run.run_dir)
    else:
        o = config.objective
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        run_dir = (
            Path(DEFAULT_RUNS_ROOT) / f"{stamp}-{o.method}-beta{o.beta:g}-seed{config.run.seed}"
        )
    if (run_dir / CONFIG_FILE).exists():
        raise RunDirError(
            f"{run_dir} already holds a run; continue it with --resume {run_dir} or choose another "
            "--run-dir"
        )
    return run_dir


def agree_on_new_run_dir(config: TrainConfig, info: D.DistInfo) -> Path:
    """Rank 0 names the run directory (its clock sets the default name); every rank gets the name,
    or the same error, so no rank is left waiting."""
    choice: tuple[Path | None, str | None] = (None, None)
    if info.is_main:
        try:
            choice = (_new_run_dir(config), None)
        except RunDirError as err:
            choice = (None, str(err))
    run_dir, error = D.broadcast(choice, info)
    if error is not None:
        raise RunDirError(error)
    return run_dir
