"""Small synthetic representations over a 3 x 4 x 5 factor grid."""

import math

import pytest
import torch

from tcvae.data.ground_truth import FactorGrid

SIZES = (3, 4, 5)
NAMES = ("a", "b", "c")


@pytest.fixture(scope="session")
def grid() -> FactorGrid:
    return FactorGrid(NAMES, tuple(torch.arange(s, dtype=torch.float64) for s in SIZES))


@pytest.fixture(scope="session")
def classes(grid) -> torch.Tensor:
    """Every grid point 8 times: (480, 3)."""
    return grid.all_classes().repeat(8, 1)


def factor_codes(classes: torch.Tensor, noise: float, seed: int = 0) -> torch.Tensor:
    """Each factor scaled to [-1, 1] plus Gaussian noise: (N, K)."""
    g = torch.Generator().manual_seed(seed)
    scaled = classes.double() / (torch.tensor(SIZES, dtype=torch.float64) - 1) * 2 - 1
    return scaled + noise * torch.randn(scaled.shape, generator=g, dtype=torch.float64)


@pytest.fixture(scope="session")
def disentangled(classes) -> tuple[torch.Tensor, torch.Tensor]:
    """Dims 0-2 encode factors a, b, c with std 0.05; dims 3-4 are prior-like noise."""
    n = classes.shape[0]
    g = torch.Generator().manual_seed(1)
    mean = torch.cat(
        [factor_codes(classes, 0.02), 0.1 * torch.randn(n, 2, generator=g, dtype=torch.float64)], 1
    )
    logvar = torch.cat(
        [torch.full((n, 3), 2 * math.log(0.05)), torch.zeros(n, 2, dtype=torch.float64)], 1
    )
    logvar = logvar + 0.3 * torch.randn(n, 5, generator=g, dtype=torch.float64)
    return mean, logvar
