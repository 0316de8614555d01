"""The ELBO's KL term and its three-way decomposition, per sample (REFERENCE.md section 2).

At samples z_i ~ q(z|x_i):

    mi_i   = log q(z_i|x_i) - log q(z_i)              index-code mutual information
    tc_i   = log q(z_i) - sum_j log q(z_ij)           total correlation
    dwkl_i = sum_j log q(z_ij) - log p(z_i)           dimension-wise KL

They telescope: mi_i + tc_i + dwkl_i = log q(z_i|x_i) - log p(z_i), whatever the estimates of
the two middle quantities. :class:`ElboTerms` holds the four log densities: training estimates
log q(z) from the minibatch (:func:`elbo_terms`), evaluation computes it over the whole data set
(:func:`tcvae.evaluation.decompose_elbo`).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from tcvae.models.distributions import Laplace, Normal, get_distribution
from tcvae.objectives.estimators import EstimatorError, estimate_log_qz

Posterior = str | type[Normal] | type[Laplace]
Components = tuple[Tensor, Tensor, int]


class ElboTerms(NamedTuple):
    """Log densities at samples z_i ~ q(z|x_i), from a minibatch estimate (training) or the
    exact aggregate posterior of a whole data set (evaluation). D latent dimensions."""

    log_qz_x: Tensor  # (B,) log q(z_i | x_i)
    log_qz: Tensor  # (B,) log q(z_i)
    log_qzj: Tensor  # (B, D) log q(z_ij)
    log_pzj: Tensor  # (B, D) log p(z_ij)


def index_code_mi(terms: ElboTerms) -> Tensor:
    """mi_i = log q(z_i|x_i) - log q(z_i), (B,)."""
    return terms.log_qz_x - terms.log_qz


def total_correlation(terms: ElboTerms) -> Tensor:
    """tc_i = log q(z_i) - sum_j log q(z_ij), (B,)."""
    return terms.log_qz - terms.log_qzj.sum(1)


def dimwise_kl(terms: ElboTerms) -> Tensor:
    """dwkl_i = sum_j log q(z_ij) - log p(z_i), (B,)."""
    return terms.log_qzj.sum(1) - terms.log_pzj.sum(1)


def elbo_terms(
    z: Tensor,
    mean: Tensor,
    logvar: Tensor,
    dataset_size: int,
    estimator: str = "mws",
    posterior: Posterior = "normal",
    *,
    components: Components | None = None,
    aggregate_grad: bool = True,
) -> ElboTerms:
    """The terms at a minibatch's samples z (B, D) from its posteriors ``mean``, ``logvar``
    (B, D), B distinct points of a data set of ``dataset_size`` N. ``posterior``: the family,
    'normal' or 'laplace' (or its class). log q(z_i) and log q(z_ij) are estimated by
    ``estimator`` ('mws' or 'mss', REFERENCE.md section 3); with ``aggregate_grad=False``,
    without gradient (for logging when the objective does not depend on them).
    ``components=(mean, logvar, start)``: the posteriors of the whole minibatch when it is spread
    over processes, this process's rows starting at ``start``; the estimators then mix over all
    of them, as on one process.
    """
    return elbo_terms_pair(
        z,
        mean,
        logvar,
        dataset_size,
        estimator,
        estimator,
        posterior,
        components=components,
        aggregate_grad=aggregate_grad,
    )[0]


def elbo_terms_pair(
    z: Tensor,
    mean: Tensor,
    logvar: Tensor,
    dataset_size: int,
    estimator: str,
    other: str,
    posterior: Posterior = "normal",
    *,
    components: Components | None = None,
    aggregate_grad: bool = True,
) -> tuple[ElboTerms, ElboTerms]:
    """:func:`elbo_terms` by ``estimator`` and by ``other`` (without gradient; the very same terms
    when ``other`` is ``estimator``), from one pass over the pairwise densities: training by one
    estimator while logging another's terms costs a fraction of a second call."""
    if z.dim() != 2:
        raise EstimatorError(f"z must have shape (B, D), got {tuple(z.shape)}")
    for name, t in (("mean", mean), ("logvar", logvar)):
        if t.shape != z.shape:
            raise EstimatorError(
                f"{name} must have the shape of z {tuple(z.shape)}, got {tuple(t.shape)}; pass the "
                "posterior parameters of the same minibatch"
            )
    family = get_distribution(posterior)
    log_qz_x = family.log_density(z, mean, logvar).sum(1)
    log_pzj = family.log_density(z, torch.zeros_like(z), torch.zeros_like(z))
    mix_mean, mix_logvar, start = (mean, logvar, 0) if components is None else components
    also = None if other == estimator else other
    with torch.set_grad_enabled(aggregate_grad and torch.is_grad_enabled()):
        log_qz, log_qzj, *second = estimate_log_qz(
            z, mix_mean, mix_logvar, dataset_size, estimator, family, start, also
        )
    first = ElboTerms(log_qz_x, log_qz, log_qzj, log_pzj)
    return first, ElboTerms(log_qz_x, *second, log_pzj) if second else first
