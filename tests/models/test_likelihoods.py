import math

import pytest
import torch

from tcvae.objectives import Bernoulli, Gaussian, get_likelihood


def test_bernoulli_matches_the_textbook_log_probability():
    g = torch.Generator().manual_seed(0)
    logits = 5 * torch.randn(3, 2, 4, 4, generator=g, dtype=torch.float64)
    x = torch.rand(3, 2, 4, 4, generator=g, dtype=torch.float64).round()
    p = torch.sigmoid(logits)
    expected = (x * p.log() + (1 - x) * (1 - p).log()).flatten(1).sum(1)
    torch.testing.assert_close(Bernoulli.log_likelihood(x, logits), expected)
    torch.testing.assert_close(Bernoulli.mean(logits), p)


def test_gaussian_matches_the_textbook_log_density():
    g = torch.Generator().manual_seed(1)
    params = torch.randn(3, 1, 4, 4, generator=g, dtype=torch.float64)
    x = torch.rand(3, 1, 4, 4, generator=g, dtype=torch.float64)
    mu, var = torch.sigmoid(params), Gaussian.VARIANCE
    dens = -0.5 * ((x - mu) ** 2 / var + math.log(2 * math.pi * var))
    torch.testing.assert_close(Gaussian.log_likelihood(x, params), dens.flatten(1).sum(1))
    # With variance 1/2, -log p(x|z) is the summed squared error plus a constant.
    sse = ((x - mu) ** 2).flatten(1).sum(1)
    const = -Gaussian.log_likelihood(x, params) - sse
    torch.testing.assert_close(const, torch.full_like(const, 8 * math.log(math.pi)))


@pytest.mark.parametrize("likelihood", [Bernoulli, Gaussian])
def test_samples_have_the_stated_mean(likelihood):
    params = torch.linspace(-3, 3, 7, dtype=torch.float64).view(1, 1, 1, 7).expand(20000, 1, 1, 7)
    draws = likelihood.sample(params, torch.Generator().manual_seed(2))
    assert draws.shape == params.shape
    torch.testing.assert_close(draws.mean(0), likelihood.mean(params)[0], atol=0.02, rtol=0)


def test_get_likelihood():
    assert get_likelihood("bernoulli") is Bernoulli and get_likelihood("gaussian") is Gaussian
    with pytest.raises(ValueError, match="unknown likelihood 'poisson'"):
        get_likelihood("poisson")
