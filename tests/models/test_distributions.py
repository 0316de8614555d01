import math

import pytest
import torch

from tcvae.models.distributions import Laplace, Normal, get_distribution


@pytest.mark.parametrize("family", [Normal, Laplace])
def test_density_integrates_to_one_and_has_the_stated_variance(family):
    z = torch.linspace(-30, 30, 200001, dtype=torch.float64)
    mean, logvar = torch.tensor(0.7, dtype=torch.float64), torch.tensor(math.log(2.5))
    p = family.log_density(z, mean, logvar.double()).exp()
    dz = z[1] - z[0]
    assert abs(float((p * dz).sum()) - 1.0) < 1e-6
    var = float((p * (z - mean) ** 2 * dz).sum())
    assert abs(var - 2.5) < 1e-4


@pytest.mark.parametrize("family", [Normal, Laplace])
def test_pairwise_summed_over_dimensions_equals_the_elementwise_joint(family):
    g = torch.Generator().manual_seed(0)
    z = torch.randn(17, 5, generator=g, dtype=torch.float64)
    mean = torch.randn(11, 5, generator=g, dtype=torch.float64)
    logvar = torch.rand(11, 5, generator=g, dtype=torch.float64) * 6 - 3
    brute = torch.stack(
        [
            torch.stack([family.log_density(z[b], mean[m], logvar[m]).sum() for m in range(11)])
            for b in range(17)
        ]
    )
    assert torch.allclose(family.pairwise_log_density(z, mean, logvar).sum(-1), brute, atol=1e-9)


@pytest.mark.parametrize("family", [Normal, Laplace])
def test_rsample_moments_and_kl_against_monte_carlo(family):
    g = torch.Generator().manual_seed(2)
    mean = torch.full((200000, 1), -0.4, dtype=torch.float64)
    logvar = torch.full((200000, 1), -0.8, dtype=torch.float64)
    s = family.rsample(mean, logvar, generator=g)
    assert abs(float(s.mean()) + 0.4) < 0.01
    assert abs(float(s.var()) - math.exp(-0.8)) < 0.01
    zero = torch.zeros(1, dtype=torch.float64)
    mc = (family.log_density(s, mean, logvar) - family.log_density(s, zero, zero)).mean()
    assert abs(float(mc) - float(family.kl_to_prior(mean[:1], logvar[:1]))) < 0.01


def test_kl_is_zero_at_the_prior_and_unknown_name_is_rejected():
    for family in (Normal, Laplace):
        assert float(family.kl_to_prior(torch.zeros(3), torch.zeros(3)).abs().max()) < 1e-6
    assert get_distribution("laplace") is Laplace
    with pytest.raises(ValueError, match="choose one of"):
        get_distribution("cauchy")
