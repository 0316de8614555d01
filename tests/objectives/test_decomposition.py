import math

import pytest
import torch

from tcvae.objectives import (
    Laplace,
    Normal,
    dimwise_kl,
    elbo_terms,
    index_code_mi,
    total_correlation,
)


@pytest.mark.parametrize("family", [Normal, Laplace])
@pytest.mark.parametrize("estimator", ["mss", "mws"])
def test_terms_telescope_to_the_sampled_kl(family, estimator):
    g = torch.Generator().manual_seed(0)
    b, d = 32, 5
    mean = torch.randn(b, d, generator=g)
    logvar = torch.rand(b, d, generator=g) * 4 - 3
    z = family.rsample(mean, logvar, g)
    t = elbo_terms(z, mean, logvar, 1000, estimator, family.name)
    total = index_code_mi(t) + total_correlation(t) + dimwise_kl(t)
    log_qz_x = family.log_density(z, mean, logvar).sum(1)
    log_pz = family.log_density(z, torch.zeros_like(z), torch.zeros_like(z)).sum(1)
    assert total.shape == (b,)
    torch.testing.assert_close(total, log_qz_x - log_pz, rtol=0, atol=1e-4)
    torch.testing.assert_close(t.log_qz_x, log_qz_x)
    torch.testing.assert_close(t.log_pzj.sum(1), log_pz)


def _correlated_posteriors(n, corr, sigma, seed):
    g = torch.Generator().manual_seed(seed)
    chol = torch.linalg.cholesky(corr)
    mean = torch.randn(n, corr.shape[0], generator=g, dtype=torch.float64) @ chol.T
    logvar = torch.full_like(mean, 2 * math.log(sigma))
    return mean, logvar, Normal.rsample(mean, logvar, g)


def _estimated_tc(n, corr, sigma, seed=1):
    mean, logvar, z = _correlated_posteriors(n, corr, sigma, seed)
    return float(total_correlation(elbo_terms(z, mean, logvar, n, "mss")).mean())


def test_total_correlation_approaches_the_gaussian_closed_form():
    """Posteriors of width 0.1 at points from N(0, R): TC -> -1/2 log det R as N grows."""
    corr = torch.tensor([[1.0, 0.8], [0.8, 1.0]], dtype=torch.float64)
    truth = -0.5 * math.log(float(torch.linalg.det(corr)))  # 0.511
    small, large = _estimated_tc(512, corr, 0.1), _estimated_tc(4096, corr, 0.1)
    assert abs(large - truth) < 0.04
    assert abs(large - truth) < abs(small - truth)
    independent = _estimated_tc(4096, torch.eye(2, dtype=torch.float64), 0.1)
    assert abs(independent) < 0.04
