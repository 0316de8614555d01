import math

import pytest
import torch
import torch.nn.functional as F

from tcvae.errors import TcvaeError
from tcvae.models import likelihoods
from tcvae.objectives import Bernoulli, Gaussian, get_likelihood


def test_bernoulli_matches_the_textbook_log_probability():
    g = torch.Generator().manual_seed(0)
    logits = 5 * torch.randn(3, 2, 4, 4, generator=g, dtype=torch.float64)
    x = torch.rand(3, 2, 4, 4, generator=g, dtype=torch.float64).round()
    p = torch.sigmoid(logits)
    expected = (x * p.log() + (1 - x) * (1 - p).log()).flatten(1).sum(1)
    torch.testing.assert_close(Bernoulli.log_likelihood(x, logits), expected)
    torch.testing.assert_close(Bernoulli.mean(logits), p)


@pytest.mark.parametrize("block_pixels", [16, 40, 1 << 16])  # 1, 2 (uneven) and all images a block
def test_bernoulli_blocks_match_torchs_cross_entropy_values_and_gradients(
    monkeypatch, block_pixels
):
    monkeypatch.setattr(likelihoods, "BLOCK_PIXELS", block_pixels)
    g = torch.Generator().manual_seed(3)
    logits = (6 * torch.randn(5, 1, 4, 4, generator=g, dtype=torch.float64)).requires_grad_()
    x = torch.rand(5, 1, 4, 4, generator=g, dtype=torch.float64).requires_grad_()  # soft targets
    weights = torch.randn(5, generator=g, dtype=torch.float64)
    ours = Bernoulli.log_likelihood(x, logits)
    ref = -F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)
    for a, b in zip(
        torch.autograd.grad((ours * weights).sum(), (x, logits)),
        torch.autograd.grad((ref * weights).sum(), (x, logits)),
    ):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    assert torch.autograd.gradcheck(Bernoulli.log_likelihood, (x, logits))


@pytest.mark.parametrize("image_dtype", [torch.float32, torch.bfloat16])  # binary: exact in bf16
def test_bernoulli_reads_bf16_logits_in_float32(image_dtype):
    g = torch.Generator().manual_seed(4)
    logits = (4 * torch.randn(3, 1, 8, 8, generator=g)).bfloat16().requires_grad_()
    x = torch.rand(3, 1, 8, 8, generator=g).round().to(image_dtype)
    ours = Bernoulli.log_likelihood(x, logits)
    assert ours.dtype == torch.float32
    up = logits.detach().float().requires_grad_()
    ref = Bernoulli.log_likelihood(x.float(), up)
    torch.testing.assert_close(ours, ref, rtol=0, atol=0)  # bf16 values are exact in float32
    ours.sum().backward()
    ref.sum().backward()
    assert logits.grad.dtype == torch.bfloat16
    torch.testing.assert_close(logits.grad, up.grad.bfloat16(), rtol=0, atol=0)


def test_bernoulli_of_an_empty_batch_is_empty():
    logits = torch.zeros(0, 1, 4, 4, requires_grad=True)
    value = Bernoulli.log_likelihood(torch.zeros(0, 1, 4, 4), logits)
    value.sum().backward()
    assert value.shape == (0,) and logits.grad.shape == logits.shape


def test_bernoulli_refuses_parameters_that_do_not_match_the_images():
    with pytest.raises(TcvaeError, match="do not match"):
        Bernoulli.log_likelihood(torch.zeros(2, 1, 4, 4), torch.zeros(2, 1, 4, 5))


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
