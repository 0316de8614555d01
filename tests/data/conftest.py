"""Fixtures for the data tests: an isolated cache directory, and small files in the official
dSprites npz layout (the real keys and dtypes, on a 48-point sub-grid)."""

import math

import numpy as np
import pytest
import torch

import tcvae.data.dsprites as dsprites_module
from tcvae.data import FactorGrid

UNPICKLED = []


def _record_unpickling():
    UNPICKLED.append(True)
    return "unpickled"


class Tripwire:
    """Records it if anything ever unpickles it."""

    def __reduce__(self):
        return (_record_unpickling, ())


def small_dsprites_grid() -> FactorGrid:
    f64 = torch.float64
    return FactorGrid(
        names=("color", "shape", "scale", "orientation", "posX", "posY"),
        values=(
            torch.tensor([1.0], dtype=f64),
            torch.tensor([1.0, 2.0, 3.0], dtype=f64),
            torch.tensor([0.5, 1.0], dtype=f64),
            torch.tensor([0.0, 2 * math.pi], dtype=f64),
            torch.tensor([0.0, 1.0], dtype=f64),
            torch.tensor([0.0, 1.0], dtype=f64),
        ),
    )


def official_layout_arrays(grid: FactorGrid, seed: int = 0) -> dict:
    classes = grid.all_classes()
    rng = np.random.default_rng(seed)
    return {
        "imgs": rng.integers(0, 2, (grid.num_points, 64, 64), dtype=np.uint8),
        "latents_values": grid.classes_to_values(classes).numpy(),
        "latents_classes": classes.numpy().astype(np.int64),
        "metadata": np.array({"tripwire": Tripwire()}, dtype=object),
    }


def write_npz(path, arrays) -> None:
    np.savez_compressed(path, **arrays)


@pytest.fixture
def unpickled() -> list:
    """Filled the moment anything unpickles a :class:`Tripwire`."""
    UNPICKLED.clear()
    return UNPICKLED


@pytest.fixture
def small_grid(monkeypatch) -> FactorGrid:
    """Make the dSprites file loader expect the 48-point sub-grid instead of the full one."""
    monkeypatch.setattr(dsprites_module, "dsprites_grid", small_dsprites_grid)
    return small_dsprites_grid()


@pytest.fixture
def official_layout(small_grid):
    """``official_layout(seed=0) -> dict`` of arrays as in the official file, on the small grid."""
    return lambda seed=0: official_layout_arrays(small_grid, seed)


@pytest.fixture
def save_npz():
    """``save_npz(path, arrays)``: write them as the official file is written (compressed npz)."""
    return write_npz


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """An empty cache directory, also set as $TCVAE_CACHE_DIR."""
    path = tmp_path / "cache"
    monkeypatch.setenv("TCVAE_CACHE_DIR", str(path))
    monkeypatch.delenv("TCVAE_DSPRITES_URL", raising=False)
    return path
