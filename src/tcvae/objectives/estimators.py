"""Minibatch estimators of the aggregate posterior, log q(z_i) and log q(z_ij) (REFERENCE.md s. 3).

Both estimators are a weighted mixture over the minibatch's own posteriors,

    log q(z_i)  ~ logsumexp_m ( log q(z_i  | x_m) + log w[i, m] )        (joint, (B,))
    log q(z_ij) ~ logsumexp_m ( log q(z_ij | x_m) + log w[i, m] )        (per dim, (B, D))

and differ only in the (B, B) weight matrix w:

* MWS (minibatch weighted sampling): w[i, m] = 1 / (N B) everywhere. Biased.
* MSS (minibatch stratified sampling), M = B - 1: w[i, i] = 1/N on i's own index,
  w[i, (i + 1) mod B] = (N - M) / (N M) on one other index, 1/M on the remaining B - 2. Each row
  sums to one, and the weighted sum (before the log) is an unbiased estimate of q(z_i) when the
  other B - 1 indices are a uniform draw without replacement.

The public reference implementations build the MSS matrix with a flat stride equal to the batch
size, which puts 1/N in column 0 of every row instead of on the diagonal; :func:`mss_log_weights`
builds the matrix entry by entry as defined above (and is tested against that definition).

The (B, B, D) array of pairwise log densities is never held in memory: :class:`_MixtureLogDensity`
walks over blocks of rows, and its backward pass recomputes each block instead of storing it.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from tcvae.objectives.distributions import Laplace, Normal

ESTIMATORS = ("mss", "mws")

# Rows per block are chosen so that one block of (D, rows, B) float32 values stays near this many
# elements (about 1 MiB), small enough for the CPU's cache; two such blocks are alive at a time.
BLOCK_ELEMENTS = 1 << 18


class EstimatorError(ValueError):
    """An estimator was asked for with a name, batch or data set size it cannot support."""


def check_batch(batch_size: int, dataset_size: int) -> None:
    """Both estimators need B >= 2 distinct points from a data set of N >= B points."""
    if batch_size < 2:
        raise EstimatorError(
            f"estimating log q(z) needs a minibatch of at least 2 points, got {batch_size}; "
            "increase the batch size"
        )
    if dataset_size < batch_size:
        raise EstimatorError(
            f"dataset_size N = {dataset_size} is smaller than the batch size B = {batch_size}; "
            "pass the size of the whole training set as dataset_size (minibatch indices are "
            "distinct, so N >= B)"
        )


def mws_log_weights(
    batch_size: int, dataset_size: int, dtype: torch.dtype = torch.float32, device=None
) -> Tensor:
    """Minibatch weighted sampling: log w[i, m] = -log(N B) for all i, m, (B, B)."""
    check_batch(batch_size, dataset_size)
    value = -math.log(dataset_size * batch_size)
    return torch.full((batch_size, batch_size), value, dtype=dtype, device=device)


def mss_log_weights(
    batch_size: int, dataset_size: int, dtype: torch.dtype = torch.float32, device=None
) -> Tensor:
    """Minibatch stratified sampling weights log w[i, m], (B, B); see the module docstring."""
    check_batch(batch_size, dataset_size)
    n, m = dataset_size, batch_size - 1
    log_w = torch.full((batch_size, batch_size), -math.log(m), dtype=dtype, device=device)
    rows = torch.arange(batch_size, device=device)
    log_w[rows, (rows + 1) % batch_size] = math.log(n - m) - math.log(n * m)
    log_w[rows, rows] = -math.log(n)
    return log_w


def log_weights(
    estimator: str,
    batch_size: int,
    dataset_size: int,
    dtype: torch.dtype = torch.float32,
    device=None,
) -> Tensor:
    """The (B, B) log weight matrix of ``estimator`` ('mss' or 'mws')."""
    if estimator == "mss":
        return mss_log_weights(batch_size, dataset_size, dtype, device)
    if estimator == "mws":
        return mws_log_weights(batch_size, dataset_size, dtype, device)
    raise EstimatorError(f"unknown estimator {estimator!r}; choose one of {list(ESTIMATORS)}")


# Per family, the pairwise log density is  L = c(logvar_m) - phi(u),  u = (z_i - mean_m) * s_m,
# with  Normal: s = exp(-logvar / 2), c = -(log 2 pi + logvar) / 2, phi(u) = u^2 / 2;
#      Laplace: s = 1 / b,             c = -log 2b,                   phi(u) = |u|.
# Its derivatives:  dL/dz = -phi'(u) s,  dL/dmean = phi'(u) s,  dL/dlogvar = (u phi'(u) - 1) / 2.


def _scale_and_const(family: str, logvar: Tensor) -> tuple[Tensor, Tensor]:
    if family == "normal":
        return torch.exp(-0.5 * logvar), -0.5 * (math.log(2.0 * math.pi) + logvar)
    log_b = 0.5 * (logvar - math.log(2.0))
    return torch.exp(-log_b), -math.log(2.0) - log_b


def _block(family, zt, mt, scale, const, r0, r1, buf_u, buf_l) -> tuple[Tensor, Tensor]:
    """u and L = c - phi(u) for rows r0:r1, (D, R, B) views into the two buffers."""
    shape = (zt.shape[0], r1 - r0, mt.shape[1])
    u = buf_u[: math.prod(shape)].view(shape)
    lq = buf_l[: math.prod(shape)].view(shape)
    torch.sub(zt[:, r0:r1, None], mt[:, None, :], out=u).mul_(scale[:, None, :])
    if family == "normal":
        torch.addcmul(const[:, None, :], u, u, value=-0.5, out=lq)
    else:
        torch.sub(const[:, None, :], u.abs(), out=lq)
    return u, lq


class _MixtureLogDensity(torch.autograd.Function):
    """log q(z_i) and log q(z_ij) from the weighted minibatch mixture, block by block.

    Forward: for rows i in a block, L[j, i, m] = log q(z_ij | x_m) (D, R, B); the joint sums over
    j; both add log w[i, m] and take a logsumexp over m. Backward: with P the softmax over m,
    the gradient of L is G = g_marg[j, i] P[j, i, m] + g_joint[i] P_joint[i, m], contracted
    with the derivatives listed above; every block is recomputed rather than stored.

    The logsumexp of a row is read off a fused log-softmax at the row's own index i:
    lse_i = L[i, i] - log_softmax(L)[i, i]. The own term is never far below the row's largest
    (a sample sits within a few standard deviations of its own posterior's mean), so the
    difference loses no precision, and one pass replaces the max, exp, sum and log passes.
    """

    @staticmethod
    def forward(ctx, z, mean, logvar, log_w, family):
        batch, dim = z.shape
        zt, mt = z.T.contiguous(), mean.T.contiguous()
        scale, const = (t.T.contiguous() for t in _scale_and_const(family, logvar))
        rows = max(1, min(batch, BLOCK_ELEMENTS // (dim * batch)))
        buf_u, buf_l = z.new_empty(dim * rows * batch), z.new_empty(dim * rows * batch)
        marginal = z.new_empty(dim, batch)
        joint = z.new_empty(batch, batch)
        for r0 in range(0, batch, rows):
            r1 = min(batch, r0 + rows)
            _, lq = _block(family, zt, mt, scale, const, r0, r1, buf_u, buf_l)
            lw = log_w[r0:r1]
            torch.add(lq.sum(0), lw, out=joint[r0:r1])
            lq.add_(lw)
            own = torch.diagonal(lq[:, :, r0:r1], dim1=1, dim2=2)
            own_log_softmax = torch.diagonal(torch.log_softmax(lq, -1)[:, :, r0:r1], dim1=1, dim2=2)
            torch.sub(own, own_log_softmax, out=marginal[:, r0:r1])
        log_qz = torch.diagonal(joint) - torch.diagonal(torch.log_softmax(joint, -1))
        ctx.family, ctx.rows = family, rows
        ctx.save_for_backward(z, mean, logvar, log_w)
        return log_qz, marginal.T

    @staticmethod
    def backward(ctx, grad_joint, grad_marginal):
        z, mean, logvar, log_w = ctx.saved_tensors
        family, rows = ctx.family, ctx.rows
        batch, dim = z.shape
        zt, mt = z.T.contiguous(), mean.T.contiguous()
        scale, const = (t.T.contiguous() for t in _scale_and_const(family, logvar))
        g_marg = grad_marginal.T.contiguous()[:, :, None]
        grad_z = z.new_empty(dim, batch)
        g_sum = z.new_zeros(dim, batch)  # sum_i G[j, i, m]
        h_sum = z.new_zeros(dim, batch)  # sum_i G phi'(u)
        hu_s_sum = z.new_zeros(dim, batch)  # sum_i G u phi'(u) s
        buf_u, buf_l = z.new_empty(dim * rows * batch), z.new_empty(dim * rows * batch)
        for r0 in range(0, batch, rows):
            r1 = min(batch, r0 + rows)
            u, lq = _block(family, zt, mt, scale, const, r0, r1, buf_u, buf_l)
            lw = log_w[r0:r1]
            g_joint = torch.softmax(lq.sum(0).add_(lw), -1).mul_(grad_joint[r0:r1, None])
            prob = torch.softmax(lq.add_(lw), -1)
            g = torch.addcmul(g_joint, prob, g_marg[:, r0:r1], out=lq)
            g_sum += g.sum(1)
            g.mul_(u if family == "normal" else u.sign())  # H = G phi'(u)
            h_sum += g.sum(1)
            g.mul_(scale[:, None, :])  # H s
            torch.sum(g, -1, out=grad_z[:, r0:r1])
            hu_s_sum += g.mul_(u).sum(1)
        grad_mean = (scale * h_sum).T
        grad_logvar = (0.5 * (hu_s_sum / scale - g_sum)).T
        return -grad_z.T, grad_mean, grad_logvar, None, None


def log_mixture_density(
    z: Tensor,
    mean: Tensor,
    logvar: Tensor,
    log_w: Tensor,
    posterior: type[Normal] | type[Laplace] = Normal,
) -> tuple[Tensor, Tensor]:
    """Weighted minibatch mixture (REFERENCE.md s. 3), without materialising (B, B, D) arrays.

    ``z``, ``mean``, ``logvar``: (B, D); ``log_w``: (B, B) log weights (no gradient). Returns
    log q(z_i) = logsumexp_m (sum_j log q(z_ij | x_m) + log w[i, m]), shape (B,), and
    log q(z_ij) = logsumexp_m (log q(z_ij | x_m) + log w[i, m]), shape (B, D).
    """
    return _MixtureLogDensity.apply(z, mean, logvar, log_w.detach(), posterior.name)


def estimate_log_qz(
    z: Tensor,
    mean: Tensor,
    logvar: Tensor,
    dataset_size: int,
    estimator: str = "mss",
    posterior: type[Normal] | type[Laplace] = Normal,
) -> tuple[Tensor, Tensor]:
    """log q(z_i) (B,) and log q(z_ij) (B, D) by ``estimator`` ('mss' or 'mws') from a minibatch
    of B distinct points of a data set of ``dataset_size`` points (REFERENCE.md s. 3)."""
    batch = z.shape[0]
    log_w = log_weights(estimator, batch, dataset_size, z.dtype, z.device)
    return log_mixture_density(z, mean, logvar, log_w, posterior)
