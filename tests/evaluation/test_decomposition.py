import math

import pytest
import torch

from tcvae.evaluation import EvaluationError, decompose_elbo
from tcvae.evaluation.decomposition import decomposition_samples
from tcvae.models.distributions import Laplace, Normal, get_distribution
from tcvae.objectives import dimwise_kl, index_code_mi, total_correlation


def random_posteriors(n: int, d: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    mean = torch.randn(n, d, generator=g, dtype=torch.float64)
    mean[:, 1] = mean[:, 0] + 0.3 * mean[:, 1]  # correlated dims: TC > 0
    logvar = -3 * torch.rand(n, d, generator=g, dtype=torch.float64)
    return mean, logvar


def brute_force(z, index, mean, logvar, family):
    """Section 4 term by term with explicit loops over samples and components."""
    s, d = z.shape
    n = mean.shape[0]
    mi, tc, dw = [], [], []
    for i in range(s):
        comp = family.log_density(z[i], mean, logvar)  # (N, D)
        log_q_zx = float(comp[index[i]].sum())
        log_q_z = math.log(sum(math.exp(float(c.sum())) for c in comp) / n)
        log_q_zj = [math.log(sum(math.exp(float(c[j])) for c in comp) / n) for j in range(d)]
        zero = torch.zeros(d, dtype=torch.float64)
        log_p = float(family.log_density(z[i], zero, zero).sum())
        mi.append(log_q_zx - log_q_z)
        tc.append(log_q_z - sum(log_q_zj))
        dw.append(sum(log_q_zj) - log_p)
    return (torch.tensor(x, dtype=torch.float64) for x in (mi, tc, dw))


@pytest.mark.parametrize("family", [Normal, Laplace])
def test_per_sample_terms_match_brute_force(family):
    mean, logvar = random_posteriors(25, 3)
    index = torch.tensor([0, 3, 3, 24, 10, 7])
    z = family.rsample(mean[index], logvar[index], torch.Generator().manual_seed(1))
    terms = decomposition_samples(z, index, mean, logvar, family)
    mi, tc, dw = brute_force(z, index, mean, logvar, family)
    assert torch.allclose(index_code_mi(terms), mi, atol=1e-9)
    assert torch.allclose(total_correlation(terms), tc, atol=1e-9)
    assert torch.allclose(dimwise_kl(terms), dw, atol=1e-9)


def test_grid_marginals_match_exact_marginals():
    mean, logvar = random_posteriors(400, 3)
    index = torch.randint(400, (300,), generator=torch.Generator().manual_seed(2))
    z = Normal.rsample(mean[index], logvar[index], torch.Generator().manual_seed(3))
    exact = decomposition_samples(z, index, mean, logvar, Normal, marginals="exact")
    grid = decomposition_samples(z, index, mean, logvar, Normal, marginals="grid")
    assert (grid.log_qzj - exact.log_qzj).abs().max() < 5e-3
    assert abs(float((grid.log_qzj - exact.log_qzj).mean())) < 5e-4


@pytest.mark.parametrize(
    "posterior, marginals", [("normal", "exact"), ("normal", "grid"), ("laplace", "exact")]
)
def test_posteriors_equal_to_the_prior_give_zero_terms(posterior, marginals):
    zeros = torch.zeros(200, 4)
    parts = decompose_elbo(zeros, zeros, posterior=posterior, samples=500, marginals=marginals)
    tol = 1e-9 if marginals == "exact" else 2e-3
    assert abs(parts.index_code_mi) < 1e-9
    assert abs(parts.total_correlation) < tol and abs(parts.dimwise_kl) < tol
    assert parts.analytic_kl == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("posterior", ["normal", "laplace"])
def test_sum_matches_analytic_kl_within_error_bars(posterior):
    mean, logvar = random_posteriors(300, 4, seed=5)
    parts = decompose_elbo(mean, logvar, posterior=posterior, samples=3000, seed=1)
    total = parts.index_code_mi + parts.total_correlation + parts.dimwise_kl
    assert total == pytest.approx(parts.kl_estimate, abs=1e-9)  # telescoping
    assert abs(parts.kl_estimate - parts.analytic_kl) < 4 * parts.kl_estimate_stderr
    assert parts.total_correlation > 5 * parts.total_correlation_stderr  # dims 0 and 1 correlate
    family = get_distribution(posterior)
    per_dim = family.kl_to_prior(mean, logvar).mean(0)
    assert parts.analytic_kl_per_dim == pytest.approx(per_dim.numpy(), abs=1e-12)
    assert parts.dimwise_kl_per_dim.sum() == pytest.approx(parts.dimwise_kl, abs=1e-9)


def test_every_point_once_and_json():
    mean, logvar = random_posteriors(50, 2)
    parts = decompose_elbo(mean.float(), logvar.numpy(), samples=None)
    assert parts.samples == 50 and parts.marginals == "exact"
    assert parts.elbo is None
    with_ll = parts.with_log_likelihood(-100.0, 0.5)
    d = with_ll.to_dict()
    assert d["elbo"] == pytest.approx(-100.0 - parts.analytic_kl)
    assert len(d["dimwise_kl_per_dim"]) == 2


def test_bad_arguments_are_rejected_clearly():
    mean, logvar = random_posteriors(10, 2)
    with pytest.raises(EvaluationError, match="marginals"):
        decompose_elbo(mean, logvar, marginals="fast")
    with pytest.raises(EvaluationError, match="samples"):
        decompose_elbo(mean, logvar, samples=1)
    with pytest.raises(EvaluationError, match="same shape"):
        decompose_elbo(mean, logvar[:, :1])


def test_a_grid_too_large_falls_back_to_exact_marginals_and_matches_the_closed_form(
    monkeypatch, caplog
):
    """A diverged run's posteriors: means spread over [-140, 133] at logvar -20 (std 4.5e-5)
    would need a marginal grid of ~1e8 points. Each dimension's means are distinct and at least
    0.5 apart, 1e4 standard deviations, so no two components overlap and, for z drawn from
    component n, q(z) = q(z | n) / N and q(z_j) = q(z_j | n) / N to float64 precision:
    MI = log N, TC = (D - 1) log N per sample, and dimension-wise KL = E_n KL(q(z|n) || p) -
    D log N in expectation."""
    import logging

    from tcvae.evaluation import decomposition
    from tcvae.evaluation.grid_mixture import GridTooLargeError

    n, d = 500, 3
    g = torch.Generator().manual_seed(0)
    values = torch.linspace(-140.0, 133.0, n, dtype=torch.float64)
    mean = torch.stack([values[torch.randperm(n, generator=g)] for _ in range(d)], 1)
    logvar = torch.full((n, d), -20.0, dtype=torch.float64)
    with pytest.raises(GridTooLargeError):
        decompose_elbo(mean, logvar, samples=2000, marginals="grid")
    # 'auto' picks the grid above EXACT_MARGINAL_LIMIT (S N D = 2e10 in the reported case);
    # a lower limit lets a small case take the same path.
    monkeypatch.setattr(decomposition, "EXACT_MARGINAL_LIMIT", 1000)
    with caplog.at_level(logging.WARNING, logger="tcvae.evaluation.decomposition"):
        parts = decompose_elbo(mean, logvar, samples=2000, seed=3)
    assert parts.marginals == "exact" and "grid points" in caplog.text
    log_n = math.log(n)
    assert parts.index_code_mi == pytest.approx(log_n, abs=1e-6)
    assert parts.total_correlation == pytest.approx((d - 1) * log_n, abs=1e-6)
    expected_dwkl = parts.analytic_kl - d * log_n
    assert abs(parts.dimwise_kl - expected_dwkl) < 4 * parts.dimwise_kl_stderr
    assert parts.dimwise_kl_stderr < 0.05 * expected_dwkl  # a test with teeth
