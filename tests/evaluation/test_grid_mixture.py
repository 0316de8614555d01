import math

import pytest
import torch

from tcvae.evaluation.grid_mixture import GridMixtures
from tcvae.evaluation.inputs import EvaluationError
from tcvae.models.distributions import Laplace, Normal


def entropy(mean, var, family=Normal, resolution=4.0, labels=None, num=1):
    mean, var = (
        torch.as_tensor(mean, dtype=torch.float64),
        torch.as_tensor(var, dtype=torch.float64),
    )
    mix = GridMixtures(mean, var, family, resolution)
    labels = torch.zeros(mean.numel(), dtype=torch.long) if labels is None else labels
    return mix.entropy(mix.densities(labels, num))


@pytest.mark.parametrize("std", [1e-3, 0.3, 5.0])
@pytest.mark.parametrize("resolution", [1.0, 4.0])
def test_single_gaussian_matches_closed_form(std, resolution):
    h = entropy([0.7], [std**2], resolution=resolution)
    assert float(h[0]) == pytest.approx(0.5 * math.log(2 * math.pi * math.e * std**2), abs=1e-6)


def test_well_separated_equal_mixture_is_log_k_plus_component_entropy():
    k, std = 5, 0.1
    h = entropy(torch.arange(k) * 3.0, [std**2] * k)
    expected = math.log(k) + 0.5 * math.log(2 * math.pi * math.e * std**2)
    assert float(h[0]) == pytest.approx(expected, abs=1e-6)


def test_labels_split_components_into_separate_mixtures():
    # Two labels, each a separated pair of unit-weight Gaussians with different widths.
    mean = torch.tensor([0.0, 5.0, 10.0, 15.0])
    var = torch.tensor([0.01, 0.01, 0.25, 0.25])
    h = entropy(mean, var, labels=torch.tensor([0, 0, 1, 1]), num=2)
    expected = [math.log(2) + 0.5 * math.log(2 * math.pi * math.e * v) for v in (0.01, 0.25)]
    # The wide pair sits between rungs of the variance ladder: a third-order error remains.
    assert h.tolist() == pytest.approx(expected, abs=2e-5)


def test_laplace_entropy_converges_to_closed_form():
    b = 0.2  # variance 2 b^2
    h = entropy([0.0], [2 * b * b], family=Laplace, resolution=16.0)
    assert float(h[0]) == pytest.approx(1 + math.log(2 * b), abs=2e-3)


def test_random_mixture_matches_brute_force_quadrature():
    g = torch.Generator().manual_seed(0)
    mean = torch.randn(300, generator=g, dtype=torch.float64)
    logvar = -6 * torch.rand(300, generator=g, dtype=torch.float64)
    x = torch.linspace(-12, 12, 48001, dtype=torch.float64)
    log_p = torch.logsumexp(Normal.log_density(x[:, None], mean, logvar), 1) - math.log(300)
    reference = float(-(log_p.exp() * log_p).sum() * (x[1] - x[0]))
    assert float(entropy(mean, logvar.exp())[0]) == pytest.approx(reference, abs=1e-4)


def test_interpolated_log_density_matches_exact():
    g = torch.Generator().manual_seed(1)
    mean = torch.randn(200, generator=g, dtype=torch.float64)
    logvar = -3 * torch.rand(200, generator=g, dtype=torch.float64)
    mix = GridMixtures(mean, logvar.exp(), Normal, 8.0)
    density = mix.densities(torch.zeros(200, dtype=torch.long), 1)[0]
    z = torch.linspace(-2, 2, 101, dtype=torch.float64)
    exact = torch.logsumexp(Normal.log_density(z[:, None], mean, logvar), 1) - math.log(200)
    assert torch.allclose(mix.interpolate_log(density, z), exact, atol=5e-3)


def test_too_fine_a_grid_is_refused_with_advice():
    with pytest.raises(EvaluationError, match="monte-carlo"):
        GridMixtures(torch.tensor([0.0, 100.0]), torch.tensor([1e-12, 1.0]), Normal, 4.0)


@pytest.mark.parametrize("spread", [1.0, 1.5, 1e4])
def test_mixture_entropy_error_against_quadrature_is_within_the_stated_bound(spread):
    g = torch.Generator().manual_seed(int(spread))
    n = 40
    var = 0.8 * spread ** torch.rand(n, generator=g, dtype=torch.float64)
    mean = 2 * torch.randn(n, generator=g, dtype=torch.float64)
    got = float(entropy(mean, var)[0])
    std = var.sqrt()
    x = torch.linspace(
        float((mean - 12 * std).min()), float((mean + 12 * std).max()), 200_001, dtype=torch.float64
    )
    p = torch.exp(-((x[:, None] - mean) ** 2) / (2 * var)) / torch.sqrt(2 * math.pi * var)
    p = p.mean(1)
    q = p[p > 0]
    reference = float(-(x[1] - x[0]) * (q * q.log()).sum())
    assert abs(got - reference) < (2e-5 if spread == 1.0 else 1e-3)
