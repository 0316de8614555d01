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

# Log-ratios below this are raised to it before exponentiating: exp(-60) ~ 1e-26 is negligible
# next to the row's largest term (exp(0) = 1), and subnormal floats, which are very slow on CPUs,
# never appear.
LOG_RATIO_FLOOR = -60.0


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
    weights = torch.full((batch_size, batch_size), 1.0 / m, dtype=torch.float64, device=device)
    rows = torch.arange(batch_size, device=device)
    weights[rows, (rows + 1) % batch_size] = (n - m) / (n * m)
    weights[rows, rows] = 1.0 / n
    return weights.log().to(dtype)


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


def _block_log_density(family: str, u: Tensor, const: Tensor, out: Tensor) -> Tensor:
    """out = c - phi(u) for a block; u must not be needed afterwards for Laplace (it is reused)."""
    if family == "normal":
        return torch.addcmul(const, u, u, value=-0.5, out=out)
    return torch.sub(const, u.abs_(), out=out)


class _MixtureLogDensity(torch.autograd.Function):
    """log q(z_i) and log q(z_ij) from the weighted minibatch mixture, block by block.

    Forward: for rows i in a block, L[j, i, m] = log q(z_ij | x_m) (D, R, B); the joint sums over
    j; both add log w[i, m] and take a logsumexp over m. Backward: with P = softmax weights,
    the gradient of L is G = g_marg[j, i] P[j, i, m] + g_joint[i] P_joint[i, m], contracted
    with the derivatives listed above; every block is recomputed rather than stored.
    """

    @staticmethod
    def forward(ctx, z, mean, logvar, log_w, family):
        dim, batch = z.shape[1], z.shape[0]
        zt, mt = z.T.contiguous(), mean.T.contiguous()
        scale, const = (t.T.contiguous() for t in _scale_and_const(family, logvar))
        rows = max(1, min(batch, BLOCK_ELEMENTS // (dim * batch)))
        buf_u = z.new_empty(dim * rows * batch)
        buf_l = z.new_empty(dim * rows * batch)
        marginal = z.new_empty(dim, batch)
        joint = z.new_empty(batch, batch)
        for r0 in range(0, batch, rows):
            r1 = min(batch, r0 + rows)
            shape = (dim, r1 - r0, batch)
            u = buf_u[: math.prod(shape)].view(shape)
            lq = buf_l[: math.prod(shape)].view(shape)
            torch.sub(zt[:, r0:r1, None], mt[:, None, :], out=u).mul_(scale[:, None, :])
            _block_log_density(family, u, const[:, None, :], lq)
            lw = log_w[r0:r1]
            torch.add(lq.sum(0), lw, out=joint[r0:r1])
            lq.add_(lw)
            peak = lq.amax(-1, keepdim=True)
            marginal[:, r0:r1] = (
                lq.sub_(peak)
                .clamp_min_(LOG_RATIO_FLOOR)
                .exp_()
                .sum(-1)
                .log_()
                .add_(peak.squeeze(-1))
            )
        log_qz = torch.logsumexp(joint, 1)
        ctx.family, ctx.rows = family, rows
        ctx.save_for_backward(z, mean, logvar, log_w, log_qz, marginal)
        return log_qz, marginal.T

    @staticmethod
    def backward(ctx, grad_joint, grad_marginal):
        z, mean, logvar, log_w, log_qz, marginal = ctx.saved_tensors
        family, rows = ctx.family, ctx.rows
        batch, dim = z.shape
        zt, mt = z.T.contiguous(), mean.T.contiguous()
        scale, const = (t.T.contiguous() for t in _scale_and_const(family, logvar))
        g_marg = grad_marginal.T.contiguous()
        grad_z = z.new_empty(dim, batch)
        g_sum = z.new_zeros(dim, batch)  # sum_i G[j, i, m]
        h_sum = z.new_zeros(dim, batch)  # sum_i G phi'(u)
        hu_sum = z.new_zeros(dim, batch)  # sum_i G u phi'(u)
        buf_u = z.new_empty(dim * rows * batch)
        buf_l = z.new_empty(dim * rows * batch)
        for r0 in range(0, batch, rows):
            r1 = min(batch, r0 + rows)
            shape = (dim, r1 - r0, batch)
            u = buf_u[: math.prod(shape)].view(shape)
            g = buf_l[: math.prod(shape)].view(shape)
            torch.sub(zt[:, r0:r1, None], mt[:, None, :], out=u).mul_(scale[:, None, :])
            if family == "normal":
                torch.addcmul(const[:, None, :], u, u, value=-0.5, out=g)
            else:
                torch.sub(const[:, None, :], u.abs(), out=g)
            lw = log_w[r0:r1]
            g_joint = (g.sum(0) + lw).sub_(log_qz[r0:r1, None]).clamp_min_(LOG_RATIO_FLOOR)
            g_joint.exp_().mul_(grad_joint[r0:r1, None])
            g.add_(lw).sub_(marginal[:, r0:r1, None]).clamp_min_(LOG_RATIO_FLOOR).exp_()
            g.mul_(g_marg[:, r0:r1, None])
            g.add_(g_joint)
            g_sum += g.sum(1)
            g.mul_(u if family == "normal" else u.sign())  # G phi'(u)
            grad_z[:, r0:r1] = -torch.bmm(g, scale[:, :, None]).squeeze(-1)
            h_sum += g.sum(1)
            hu_sum += g.mul_(u).sum(1)
        grad_mean = (scale * h_sum).T
        grad_logvar = (0.5 * (hu_sum - g_sum)).T
        return grad_z.T, grad_mean, grad_logvar, None, None


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
