"""Exact log densities of mixtures of posterior components, chunked (REFERENCE.md sections 4-5).

For samples z_s and components m = 1..M,

    joint:          log q(z_s)    = log (1/M) sum_m q(z_s | m)         (S,)
    per dimension:  log q(z_sd)   = log (1/M) sum_m q(z_sd | m)        (S, D)

with no approximation beyond float64 rounding. Work is O(S M D) but memory stays bounded: the
(S, M) matrix is built a block at a time and folded into a streaming log-sum-exp (running max and
rescaled sum per row). For Normal components the exponent is a quadratic form built with matrix
products, after centring each dimension so that the cancelling terms stay small. Expanding
(z - m)^2 p into z^2 p - 2 z m p + m^2 p loses about eps * p * (|z| + |m|)^2 nats to
cancellation, which is harmless for ordinary variances but not for near-point-mass posteriors
(log-variances around -30 and below); when the bound :func:`_expansion_error` exceeds
``EXPANSION_TOLERANCE`` the exponent is computed directly from (z - m)^2 p instead (exact to
float64 rounding, O(S M D) elementwise work).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from tqdm.auto import tqdm

from tcvae.models.distributions import LOG_2PI, Laplace, Normal

Family = type[Normal] | type[Laplace]
# Elements of one (S-block x M-block [x D]) temporary: 2^20 float64 values = 8 MiB, small
# enough to stay in cache between the product, the exp and the sum.
BLOCK_ELEMENTS = 1 << 20
COMPONENT_BLOCK = 1 << 13
# Largest cancellation error (nats) allowed in the matrix-product form of the Normal exponent.
EXPANSION_TOLERANCE = 1e-6


def _expansion_error(zc: Tensor, mc: Tensor, logvar: Tensor) -> Tensor:
    """Bound on the rounding error of an expanded Normal exponent in each dimension, (D,):
    4 eps max p_d (max |z_d| + max |m_d|)^2, for centred z (S, D) and means (M, D)."""
    eps = torch.finfo(torch.float64).eps
    reach = zc.abs().amax(0) + mc.abs().amax(0)
    return 4 * eps * torch.exp(-logvar).amax(0) * reach * reach


def _fold(expo: Tensor, run_max: Tensor, run_sum: Tensor) -> None:
    """Fold a block of exponents (..., M_block) into the running (max, sum) of each row."""
    new_max = torch.maximum(run_max, expo.amax(-1))
    run_sum.mul_((run_max - new_max).exp_())
    run_sum.add_(expo.sub_(new_max.unsqueeze(-1)).exp_().sum(-1))
    run_max.copy_(new_max)


def log_mixture_density_per_dim(
    z: Tensor, mean: Tensor, logvar: Tensor, family: Family, progress: bool = False
) -> Tensor:
    """log (1/M) sum_m q(z_sd | m) for samples z (S, D), components (M, D): (S, D), float64.

    Normal: the exponent -(z - m)^2 p / 2 + const is [z^2, z, 1] @ [-p/2, m p, const], one
    batched (D, S, 3) x (D, 3, M) product per block, unless that would cancel (see the module
    docstring); Laplace, and Normal in that case: elementwise.
    """
    z, mean, logvar = z.double(), mean.double(), logvar.double()
    (s_total, d), m_total = z.shape, mean.shape[0]
    centre = mean.mean(0)
    products = family is Normal and (
        float(_expansion_error(z - centre, mean - centre, logvar).max()) <= EXPANSION_TOLERANCE
    )
    zc, mc = (z - centre).T.contiguous(), (mean - centre).T.contiguous()  # (D, S), (D, M)
    lv = logvar.T.contiguous()
    if products:
        prec = torch.exp(-lv)
        const = -0.5 * (LOG_2PI + lv + mc * mc * prec)
        coef = torch.stack([-0.5 * prec, mc * prec, const], 1)  # (D, 3, M)
        powers = torch.stack([zc * zc, zc, torch.ones_like(zc)], 2)  # (D, S, 3)
    m_block = min(m_total, COMPONENT_BLOCK)
    s_block = max(1, BLOCK_ELEMENTS // (m_block * d))
    run_max = torch.full((d, s_total), -math.inf, dtype=torch.float64)
    run_sum = torch.zeros(d, s_total, dtype=torch.float64)
    for s0 in tqdm(range(0, s_total, s_block), disable=not progress, desc="mixture densities"):
        s1 = min(s_total, s0 + s_block)
        for m0 in range(0, m_total, m_block):
            m1 = min(m_total, m0 + m_block)
            if products:
                expo = torch.bmm(powers[:, s0:s1], coef[:, :, m0:m1])
            else:
                expo = family.log_density(
                    zc[:, s0:s1, None], mc[:, None, m0:m1], lv[:, None, m0:m1]
                )
            _fold(expo, run_max[:, s0:s1], run_sum[:, s0:s1])
    return (run_max + run_sum.log()).T - math.log(m_total)


def log_mixture_density_joint(
    z: Tensor, mean: Tensor, logvar: Tensor, family: Family, progress: bool = False
) -> Tensor:
    """log (1/N) sum_n q(z_s | n) for samples z (S, D), components (N, D): (S,), float64.

    Normal: sum_d -(z_d - m_d)^2 p_d / 2 = [z^2, z] @ [-p/2, m p]^T + const_n, one
    (S, 2D) x (2D, N) product per block (the quadratic form of REFERENCE.md section 4), unless
    that would cancel (see the module docstring); Laplace, and Normal in that case:
    elementwise, O(S N D).
    """
    z, mean, logvar = z.double(), mean.double(), logvar.double()
    (s_total, d), n_total = z.shape, mean.shape[0]
    centre = mean.mean(0)
    zc, mc = z - centre, mean - centre
    n_block = min(n_total, COMPONENT_BLOCK)
    products = family is Normal and (
        float(_expansion_error(zc, mc, logvar).sum()) <= EXPANSION_TOLERANCE
    )
    if products:
        prec = torch.exp(-logvar)
        weight = torch.cat([-0.5 * prec, mc * prec], 1).T.contiguous()  # (2D, N)
        const = -0.5 * (d * LOG_2PI + (logvar + mc * mc * prec).sum(1))
        powers = torch.cat([zc * zc, zc], 1)  # (S, 2D)
        s_block = max(1, BLOCK_ELEMENTS // n_block)
    else:
        s_block = max(1, BLOCK_ELEMENTS // (n_block * d))
    run_max = torch.full((s_total,), -math.inf, dtype=torch.float64)
    run_sum = torch.zeros(s_total, dtype=torch.float64)
    for s0 in tqdm(range(0, s_total, s_block), disable=not progress, desc="joint densities"):
        s1 = min(s_total, s0 + s_block)
        for n0 in range(0, n_total, n_block):
            n1 = min(n_total, n0 + n_block)
            if products:
                expo = torch.addmm(const[n0:n1], powers[s0:s1], weight[:, n0:n1])
            else:
                expo = family.pairwise_log_density(zc[s0:s1], mc[n0:n1], logvar[n0:n1]).sum(-1)
            _fold(expo, run_max[s0:s1], run_sum[s0:s1])
    return run_max + run_sum.log() - math.log(n_total)
