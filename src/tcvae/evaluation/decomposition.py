"""Full-data-set decomposition of the ELBO's KL term (REFERENCE.md sections 2 and 4).

    E_n KL(q(z|x_n) || p(z)) = I_q(z; n) + KL(q(z) || prod_j q(z_j)) + sum_j KL(q(z_j) || p(z_j))

Draw S indices n_s uniformly and z_s ~ q(z | x_{n_s}); with the exact aggregate posterior
q(z) = (1/N) sum_n q(z | x_n) (no minibatch bias) the per-sample terms are

    mi_s = log q(z_s | x_{n_s}) - log q(z_s)
    tc_s = log q(z_s) - sum_j log q(z_sj)
    kl_s = sum_j log q(z_sj) - log p(z_s)

and each term is their sample mean, with standard error std / sqrt(S). The three add up to
log q(z_s | x_{n_s}) - log p(z_s), whose mean estimates the analytic E_n KL (computed exactly
over all N points), so the sum must match it within its standard error.

log q(z_s) is always exact (:func:`~tcvae.evaluation.exact_mixture.log_mixture_density_joint`,
O(S N D) with matrix products for Normal posteriors). The per-dimension marginals log q(z_sj) are
exact as well when S N D is small (``EXACT_MARGINAL_LIMIT``) or the posterior is Laplace;
otherwise each 1-D mixture q(z_j) is computed on a grid (:mod:`tcvae.evaluation.grid_mixture`) and
read at the samples by linear interpolation (pointwise relative error ~1e-4 at the defaults;
the interpolation's (h^2 / 8) q'' / q part even averages out over samples drawn from q(z_j)).
Posteriors far narrower than their spread (a diverged run's) would need too fine a grid
(:class:`~tcvae.evaluation.grid_mixture.GridTooLargeError`); then 'auto' warns and computes the
marginals exactly at the samples instead, as MIG falls back to its Monte Carlo estimator (the
same exact mixture densities at sampled points), at O(S N D) cost.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import Tensor

from tcvae.evaluation.exact_mixture import (
    Family,
    log_mixture_density_joint,
    log_mixture_density_per_dim,
)
from tcvae.evaluation.grid_mixture import DEFAULT_MAX_GRID_POINTS, GridMixtures, GridTooLargeError
from tcvae.evaluation.inputs import ArrayLike, EvaluationError, as_posterior_params
from tcvae.evaluation.results import ShownAsTables, result_dict
from tcvae.evaluation.sampling import sample_indices
from tcvae.models.distributions import get_distribution
from tcvae.objectives.decomposition import (
    ElboTerms,
    dimwise_kl,
    index_code_mi,
    total_correlation,
)

MARGINAL_METHODS = ("auto", "exact", "grid")
# Above this many S * N * D elementwise log densities, "auto" computes Normal marginals on a grid.
EXACT_MARGINAL_LIMIT = 200_000_000
# Grid points per narrowest standard deviation for the marginals; finer than MIG's default
# because the density is read between nodes by linear interpolation.
MARGINAL_RESOLUTION = 16.0
MARGINAL_VARIANCE_RATIO = 1.2
# Each term's label (Jupyter, ``tcvae evaluate``'s table, the report), by its field and
# metrics.json key.
TERM_LABELS = {
    "index_code_mi": "index-code mutual information I_q(z; n)",
    "total_correlation": "total correlation KL(q(z) || prod_j q(z_j))",
    "dimwise_kl": "dimension-wise KL sum_j KL(q(z_j) || p(z_j))",
    "kl_estimate": "sum of MI, TC and dimension-wise KL",
    "analytic_kl": "E_n KL(q(z|x_n) || p(z)), analytic",
    "log_likelihood": "E[log p(x|z)]",
    "elbo": "ELBO",
}

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ElboDecomposition(ShownAsTables):
    """The decomposition's terms (nats) with standard errors, and per-dimension KL tables.

    analytic_kl: E_n KL(q(z|x_n) || p(z)), exact over all N; kl_estimate: the sum of the three
    Monte Carlo terms. analytic_kl_per_dim (D,): E_n KL(q(z_j|x_n) || p(z_j));
    dimwise_kl_per_dim (D,): KL(q(z_j) || p(z_j)). The log-likelihood E[log p(x|z)] needs the
    model and data and is attached with :meth:`with_log_likelihood`.
    """

    index_code_mi: float
    index_code_mi_stderr: float
    total_correlation: float
    total_correlation_stderr: float
    dimwise_kl: float
    dimwise_kl_stderr: float
    kl_estimate: float
    kl_estimate_stderr: float
    analytic_kl: float
    analytic_kl_per_dim: np.ndarray
    dimwise_kl_per_dim: np.ndarray
    dimwise_kl_per_dim_stderr: np.ndarray
    samples: int
    seed: int
    posterior: str
    marginals: str
    log_likelihood: float | None = None
    log_likelihood_stderr: float | None = None
    labels = TERM_LABELS

    @property
    def elbo(self) -> float | None:
        """E[log p(x|z)] - E_n KL(q(z|x_n) || p(z)), once the log-likelihood is attached."""
        if self.log_likelihood is None:
            return None
        return self.log_likelihood - self.analytic_kl

    def with_log_likelihood(self, mean: float, stderr: float) -> ElboDecomposition:
        return replace(self, log_likelihood=float(mean), log_likelihood_stderr=float(stderr))

    def to_dict(self) -> dict:
        """A JSON-ready dictionary (arrays as lists), with the ELBO when it is known."""
        return {**result_dict(self), "elbo": self.elbo}


def decomposition_samples(
    z: Tensor,
    index: Tensor,
    mean: Tensor,
    logvar: Tensor,
    family: Family,
    marginals: str = "exact",
    resolution: float = MARGINAL_RESOLUTION,
    max_grid_points: int = DEFAULT_MAX_GRID_POINTS,
    progress: bool = False,
) -> ElboTerms:
    """The log densities of section 4 for given samples z (S, D) drawn from q(z | x_index), with
    the exact aggregate posterior of the N points (mean, logvar) (N, D), all float64.

    The grid marginals come first, so that a grid too large fails before the O(S N D) joint.
    """
    if marginals == "exact":
        log_qzj = log_mixture_density_per_dim(z, mean, logvar, family, progress)
    else:
        log_qzj = torch.empty_like(z)
        var = logvar.exp()
        only = torch.zeros(mean.shape[0], dtype=torch.long)
        for j in range(z.shape[1]):
            grid = GridMixtures(
                mean[:, j], var[:, j], family, resolution, max_grid_points, MARGINAL_VARIANCE_RATIO
            )
            log_qzj[:, j] = grid.interpolate_log(grid.densities(only, 1)[0], z[:, j])
    log_qz_x = family.log_density(z, mean[index], logvar[index]).sum(1)
    log_qz = log_mixture_density_joint(z, mean, logvar, family, progress)
    log_pzj = family.log_density(z, torch.zeros_like(z), torch.zeros_like(z))
    return ElboTerms(log_qz_x, log_qz, log_qzj, log_pzj)


def decompose_elbo(
    mean: ArrayLike,
    logvar: ArrayLike,
    posterior: str = "normal",
    samples: int | None = 10_000,
    seed: int = 0,
    marginals: str = "auto",
    resolution: float = MARGINAL_RESOLUTION,
    max_grid_points: int = DEFAULT_MAX_GRID_POINTS,
    progress: bool = False,
) -> ElboDecomposition:
    """Index-code MI, total correlation and dimension-wise KL of posteriors (mean, logvar) (N, D).

    samples: S points drawn uniformly with replacement (None: every point once); seed makes the
    draw reproducible; marginals: 'exact', 'grid' or 'auto' (see the module docstring; 'auto'
    falls back from a grid too large to exact marginals with a warning, and the result's
    ``marginals`` says which were used).
    """
    mean, logvar = as_posterior_params(mean, logvar)
    n, d = mean.shape
    try:
        family = get_distribution(posterior)
    except ValueError as err:
        raise EvaluationError(str(err)) from None
    if marginals not in MARGINAL_METHODS:
        raise EvaluationError(f"unknown marginals {marginals!r}; choose one of {MARGINAL_METHODS}")
    generator = torch.Generator().manual_seed(int(seed))
    index = sample_indices(n, samples, generator)
    s = index.numel()
    automatic = marginals == "auto"
    if automatic:
        exact = family.name == "laplace" or s * n * d <= EXACT_MARGINAL_LIMIT
        marginals = "exact" if exact else "grid"
    z = family.rsample(mean[index], logvar[index], generator)
    try:
        terms = decomposition_samples(
            z, index, mean, logvar, family, marginals, resolution, max_grid_points, progress
        )
    except GridTooLargeError as err:
        if not automatic:
            raise
        log.warning(
            "%s; computing the decomposition's marginals exactly at the samples instead "
            "(%d x %d x %d log densities)",
            err,
            s,
            n,
            d,
        )
        marginals = "exact"
        terms = decomposition_samples(z, index, mean, logvar, family, marginals, progress=progress)

    per_sample = {
        "index_code_mi": index_code_mi(terms),
        "total_correlation": total_correlation(terms),
        "dimwise_kl": dimwise_kl(terms),
        "kl_estimate": terms.log_qz_x - terms.log_pzj.sum(1),
    }
    estimates = {}  # each term's sample mean, and its standard error std / sqrt(S)
    for key, x in per_sample.items():
        estimates[key], estimates[f"{key}_stderr"] = float(x.mean()), float(x.std() / math.sqrt(s))
    analytic = family.kl_to_prior(mean, logvar).mean(0)
    per_dim = terms.log_qzj - terms.log_pzj
    return ElboDecomposition(
        **estimates,
        analytic_kl=float(analytic.sum()),
        analytic_kl_per_dim=analytic.numpy(),
        dimwise_kl_per_dim=per_dim.mean(0).numpy(),
        dimwise_kl_per_dim_stderr=(per_dim.std(0) / math.sqrt(s)).numpy(),
        samples=s,
        seed=int(seed),
        posterior=family.name,
        marginals=marginals,
    )
