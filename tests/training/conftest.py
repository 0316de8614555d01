"""Tiny training set-ups: 256 built-in dSprites images, an MLP of width 16, a few steps."""

from __future__ import annotations

import contextlib

import pytest
import torch

from tcvae.objectives import ObjectiveConfig
from tcvae.training.config import DataConfig, ModelConfig, OptimConfig, RunConfig, TrainConfig


def tiny_config(run_dir, **optim) -> TrainConfig:
    """256 images, batch 64 (4 steps per epoch), hidden width 16, 3 epochs unless overridden."""
    return TrainConfig(
        data=DataConfig(source="builtin", subset=256, subset_seed=1),
        model=ModelConfig(hidden=16, latent_dim=4),
        optim=OptimConfig(**{"batch_size": 64, "epochs": 3, **optim}),
        run=RunConfig(
            run_dir=str(run_dir),
            log_every=1,
            checkpoint_every=5,
            keep_checkpoints=10,
            tensorboard=False,
            device="cpu",
        ),
    )


def tiny_baseline_config(run_dir, method: str, capacity: float, **optim) -> TrainConfig:
    """:func:`tiny_config` training a baseline for 4 steps; annealed-vae with its paper's weight
    (1000) on |KL - C| and a fixed capacity C of ``capacity`` nats."""
    config = tiny_config(run_dir, **{"max_steps": 4, **optim})
    fixed = {"beta": 1000.0, "capacity_max": capacity, "capacity_steps": 0}
    config.objective = ObjectiveConfig(method, **(fixed if method == "annealed-vae" else {}))
    return config


@pytest.fixture
def baseline_config():
    return tiny_baseline_config


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models train fastest on one intra-op thread, far faster when the CPU is shared."""
    with single_thread():
        yield


@contextlib.contextmanager
def single_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture
def make_config(tmp_path):
    def make(name: str = "run", **optim) -> TrainConfig:
        return tiny_config(tmp_path / name, **optim)

    return make


@pytest.fixture(scope="session")
def reference(tmp_path_factory):
    """An uninterrupted 12-step run (3 epochs of 4 steps) to compare others against."""
    from tcvae.training.trainer import train

    with single_thread():
        return train(tiny_config(tmp_path_factory.mktemp("reference") / "run"))
