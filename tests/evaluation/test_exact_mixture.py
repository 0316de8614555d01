import math

import pytest
import torch

import tcvae.evaluation.exact_mixture as exact
from tcvae.objectives.distributions import Laplace, Normal


@pytest.fixture
def tiny_blocks(monkeypatch):
    """Force many blocks so that the streaming log-sum-exp is exercised."""
    monkeypatch.setattr(exact, "BLOCK_ELEMENTS", 64)
    monkeypatch.setattr(exact, "COMPONENT_BLOCK", 7)


@pytest.mark.parametrize("family", [Normal, Laplace])
def test_matches_brute_force_logsumexp(family, tiny_blocks):
    g = torch.Generator().manual_seed(0)
    z = 2 * torch.randn(23, 3, generator=g, dtype=torch.float64)
    z[0] = 300.0  # far from every component: all terms tiny, no underflow to -inf
    mean = torch.randn(40, 3, generator=g, dtype=torch.float64)
    logvar = -8 * torch.rand(40, 3, generator=g, dtype=torch.float64)
    pairwise = family.pairwise_log_density(z, mean, logvar)  # (S, M, D)
    per_dim = torch.logsumexp(pairwise, 1) - math.log(40)
    joint = torch.logsumexp(pairwise.sum(-1), 1) - math.log(40)
    got_per_dim = exact.log_mixture_density_per_dim(z, mean, logvar, family)
    got_joint = exact.log_mixture_density_joint(z, mean, logvar, family)
    assert torch.isfinite(got_joint).all()
    assert torch.allclose(got_per_dim, per_dim, rtol=1e-12, atol=1e-9)
    assert torch.allclose(got_joint, joint, rtol=1e-12, atol=1e-8)
