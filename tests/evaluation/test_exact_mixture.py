import math

import pytest
import torch

import tcvae.evaluation.exact_mixture as exact
from tcvae.models.distributions import Laplace, Normal


@pytest.fixture
def tiny_blocks(monkeypatch):
    """Force many blocks so that the streaming log-sum-exp is exercised."""
    monkeypatch.setattr(exact, "BLOCK_ELEMENTS", 64)
    monkeypatch.setattr(exact, "COMPONENT_BLOCK", 7)


@pytest.mark.parametrize("family", [Normal, Laplace])
@pytest.mark.parametrize("tolerance", [math.inf, 0.0])  # matrix products; always elementwise
def test_matches_brute_force_logsumexp(family, tolerance, tiny_blocks, monkeypatch):
    monkeypatch.setattr(exact, "EXPANSION_TOLERANCE", tolerance)
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


@pytest.mark.parametrize("logvar_value", [-30.0, -36.0, -40.0])
def test_near_point_mass_posteriors_stay_exact(logvar_value):
    """Expanding the quadratic form would cancel catastrophically here (errors of 0.1 to 2,000
    nats); the direct form is exact."""
    g = torch.Generator().manual_seed(3)
    n, d = 500, 3
    mean = 5 + 2 * torch.randn(n, d, generator=g, dtype=torch.float64)
    logvar = torch.full((n, d), logvar_value, dtype=torch.float64)
    z = Normal.rsample(mean, logvar, g)
    pairwise = Normal.pairwise_log_density(z, mean, logvar)
    joint = torch.logsumexp(pairwise.sum(-1), 1) - math.log(n)
    per_dim = torch.logsumexp(pairwise, 1) - math.log(n)
    got_joint = exact.log_mixture_density_joint(z, mean, logvar, Normal)
    got_per_dim = exact.log_mixture_density_per_dim(z, mean, logvar, Normal)
    assert (got_joint - joint).abs().max() < 1e-6
    assert (got_per_dim - per_dim).abs().max() < 1e-6


def test_the_fast_product_form_is_kept_for_ordinary_posteriors():
    g = torch.Generator().manual_seed(4)
    zc = 3 * torch.randn(100, 10, generator=g, dtype=torch.float64)
    logvar = -10 * torch.rand(100, 10, generator=g, dtype=torch.float64)
    assert float(exact._expansion_error(zc, zc, logvar).sum()) < exact.EXPANSION_TOLERANCE
