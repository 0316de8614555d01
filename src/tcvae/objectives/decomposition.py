"""Per-sample terms of the ELBO and its three-way decomposition (REFERENCE.md section 2).

For a minibatch with z_i ~ q(z|x_i):

    mi_i   = log q(z_i|x_i) - log q(z_i)              index-code mutual information
    tc_i   = log q(z_i) - sum_j log q(z_ij)           total correlation
    dwkl_i = sum_j log q(z_ij) - log p(z_i)           dimension-wise KL

They telescope: mi_i + tc_i + dwkl_i = log q(z_i|x_i) - log p(z_i), whatever the estimates of
the two middle quantities.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from tcvae.models.distributions import get_distribution
from tcvae.models.likelihoods import get_likelihood
from tcvae.objectives.estimators import ESTIMATORS, EstimatorError, check_batch, estimate_log_qz


class ElboTerms(NamedTuple):
    """Per-sample log densities, each of shape (B,)."""

    log_px: Tensor  # log p(x_i | z_i)
    log_qz_x: Tensor  # log q(z_i | x_i)
    log_qz: Tensor  # log q(z_i), minibatch estimate
    log_qz_product: Tensor  # sum_j log q(z_ij), minibatch estimate
    log_pz: Tensor  # log p(z_i)


def index_code_mi(terms: ElboTerms) -> Tensor:
    """mi_i = log q(z_i|x_i) - log q(z_i), (B,)."""
    return terms.log_qz_x - terms.log_qz


def total_correlation(terms: ElboTerms) -> Tensor:
    """tc_i = log q(z_i) - sum_j log q(z_ij), (B,)."""
    return terms.log_qz - terms.log_qz_product


def dimwise_kl(terms: ElboTerms) -> Tensor:
    """dwkl_i = sum_j log q(z_ij) - log p(z_i), (B,)."""
    return terms.log_qz_product - terms.log_pz


def _check_shapes(x: Tensor, x_params: Tensor, z: Tensor, mean: Tensor, logvar: Tensor) -> None:
    if z.dim() != 2:
        raise EstimatorError(f"z must have shape (B, D), got {tuple(z.shape)}")
    for name, t in (("mean", mean), ("logvar", logvar)):
        if t.shape != z.shape:
            raise EstimatorError(
                f"{name} must have the shape of z {tuple(z.shape)}, got {tuple(t.shape)}; pass the "
                "posterior parameters of the same minibatch"
            )
    if x.shape != x_params.shape:
        raise EstimatorError(
            f"decoder output has shape {tuple(x_params.shape)} but the images have shape "
            f"{tuple(x.shape)}; they must match"
        )
    if x.shape[0] != z.shape[0]:
        raise EstimatorError(
            f"images have batch size {x.shape[0]} but z has {z.shape[0]}; pass one minibatch"
        )


def elbo_terms(
    x: Tensor,
    x_params: Tensor,
    z: Tensor,
    mean: Tensor,
    logvar: Tensor,
    dataset_size: int,
    estimator: str = "mws",
    posterior: str = "normal",
    likelihood: str = "bernoulli",
    with_aggregate: bool = True,
    components: tuple[Tensor, Tensor, int] | None = None,
) -> ElboTerms:
    """log p(x|z), log q(z|x), log q(z), sum_j log q(z_j) and log p(z) per sample, (B,) each.

    ``x`` (B, C, H, W) images in [0, 1] and ``x_params`` the decoder output for them; ``z``,
    ``mean``, ``logvar`` (B, D) the sample and posterior parameters; ``dataset_size`` N the size
    of the data set the B distinct minibatch points come from. log q(z) and its marginals are
    estimated by ``estimator`` ('mws' or 'mss', REFERENCE.md section 3); ``posterior``
    ('normal' or 'laplace') and ``likelihood`` ('bernoulli' or 'gaussian') name the families. With
    ``with_aggregate=False`` those two estimates are computed without gradient (for logging when
    the objective does not depend on them). ``components=(mean, logvar, start)``: the posteriors
    of the whole minibatch when it is spread over processes, this process's rows starting at
    ``start``; the estimators then mix over all of them, as on one process.
    """
    _check_shapes(x, x_params, z, mean, logvar)
    if estimator not in ESTIMATORS:
        raise EstimatorError(f"unknown estimator {estimator!r}; choose one of {list(ESTIMATORS)}")
    family, observation = get_distribution(posterior), get_likelihood(likelihood)
    mix_mean, mix_logvar, start = (mean, logvar, 0) if components is None else components
    check_batch(mix_mean.shape[0], dataset_size)
    log_px = observation.log_likelihood(x, x_params)
    log_qz_x = family.log_density(z, mean, logvar).sum(1)
    log_pz = family.log_density(z, torch.zeros_like(z), torch.zeros_like(z)).sum(1)
    with torch.set_grad_enabled(with_aggregate and torch.is_grad_enabled()):
        log_qz, log_qz_marginals = estimate_log_qz(
            z, mix_mean, mix_logvar, dataset_size, estimator, family, start
        )
    return ElboTerms(log_px, log_qz_x, log_qz, log_qz_marginals.sum(1), log_pz)


def reestimate_aggregate(
    terms: ElboTerms,
    z: Tensor,
    mean: Tensor,
    logvar: Tensor,
    dataset_size: int,
    estimator: str = "mss",
    posterior: str = "normal",
    components: tuple[Tensor, Tensor, int] | None = None,
) -> ElboTerms:
    """``terms`` with log q(z_i) and sum_j log q(z_ij) estimated again by ``estimator``, without
    gradient; the other three are kept. Arguments as for :func:`elbo_terms`, whose minibatch
    ``terms`` came from.

    For logging MSS's terms beside an MWS loss: MWS's weights sum to 1/N per row instead of
    one, so its log q(z_i) and each log q(z_ij) lie between log B and log N nats below MSS's
    (log N where the other points dominate the sum, as in the 1-D marginals; log B where the
    sample's own posterior does). Its mi comes out too high by that much, its dwkl too low by
    about D log N and its tc too high by up to (D - 1) log N. MSS's weights sum to one, and its
    sums are unbiased estimates of q(z_i) and q(z_ij).
    """
    family = get_distribution(posterior)
    mix_mean, mix_logvar, start = (mean, logvar, 0) if components is None else components
    with torch.no_grad():
        log_qz, log_qz_marginals = estimate_log_qz(
            z, mix_mean, mix_logvar, dataset_size, estimator, family, start
        )
    return terms._replace(log_qz=log_qz, log_qz_product=log_qz_marginals.sum(1))
