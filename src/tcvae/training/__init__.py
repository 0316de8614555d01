"""tcvae.training: the trainer, its configuration, checkpoints, run directories and torchrun."""

from tcvae.training.checkpoint import CheckpointError, load_checkpoint
from tcvae.training.config import (
    ConfigError,
    DataConfig,
    ModelConfig,
    OptimConfig,
    RunConfig,
    TrainConfig,
)
from tcvae.training.datasets import build_dataset
from tcvae.training.resolve import PRESETS, resolve_config
from tcvae.training.runs import LoadedRun, RunDirError, load_run
from tcvae.training.trainer import DivergedError, NonFiniteLossError, Run, train

__all__ = [
    "PRESETS",
    "CheckpointError",
    "ConfigError",
    "DataConfig",
    "DivergedError",
    "LoadedRun",
    "ModelConfig",
    "NonFiniteLossError",
    "OptimConfig",
    "Run",
    "RunConfig",
    "RunDirError",
    "TrainConfig",
    "build_dataset",
    "load_checkpoint",
    "load_run",
    "resolve_config",
    "train",
]
