"""Minibatch estimators of the aggregate posterior, log q(z_i) and log q(z_ij) (REFERENCE.md s. 3).

Both estimators are a weighted mixture over the minibatch's own posteriors,

    log q(z_i)  ~ logsumexp_m ( log q(z_i  | x_m) + log w[i, m] )        (joint, (B,))
    log q(z_ij) ~ logsumexp_m ( log q(z_ij | x_m) + log w[i, m] )        (per dim, (B, D))

and differ only in the (B, B) weight matrix w:

* MWS (minibatch weighted sampling): w[i, m] = 1 / (N B) everywhere. Biased: each row of
  weights sums to 1/N, not 1, so its log q(z) values sit near log N below the mixture's (a
  constant that leaves gradients alone), and the own index weighs 1/B instead of 1/N.
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
from collections.abc import Iterator
from typing import NamedTuple

import torch
from torch import Tensor

from tcvae.errors import TcvaeError
from tcvae.models.distributions import Laplace, Normal, get_distribution

ESTIMATORS = ("mss", "mws")

# Rows per block are chosen so that one block of (D, rows, B) values holds about this many
# elements (4 MiB in float32): small enough to stay in cache between the passes over it, large
# enough that the per-operation overhead of the Python loop over blocks stays negligible.
BLOCK_ELEMENTS = 1 << 20
# exp() of float32 numbers below about -87 underflows, and torch's vectorised exp on x86 CPUs
# takes a slow path for such inputs (10-25 times slower). Terms more than EXP_FLOOR below their
# row's largest are therefore taken as exp(-EXP_FLOOR) = 1.8e-35 of it: a relative change of at
# most B * 1.8e-35 in the row's sum, below even float64 precision for any batch size.
EXP_FLOOR = 80.0


class EstimatorError(TcvaeError):
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


class LogWeights(NamedTuple):
    """Rows of a (B, M) log weight matrix held without the matrix: log w[i, m] = ``fill``
    except log w[i, columns[i, k]] = values[k]. Both estimators' matrices are of this kind, and
    at B = 2048 the dense matrix would take 16 MiB of every training step."""

    fill: float
    columns: Tensor  # (B, K) long, distinct within a row
    values: Tensor  # (K,)
    components: int  # M

    def rows(self, r0: int, r1: int, buffer: Tensor | None = None) -> Tensor:
        """Rows r0:r1 as a dense (r1 - r0, M) tensor, written into ``buffer`` when given."""
        shape = (r1 - r0, self.components)
        if buffer is None:
            w = self.values.new_full(shape, self.fill)
        else:
            w = buffer[: math.prod(shape)].view(shape).fill_(self.fill)
        index = self.columns[r0:r1]
        return w.scatter_(1, index, self.values.expand(index.shape))

    def dense(self) -> Tensor:
        """The whole (B, M) matrix."""
        return self.rows(0, self.columns.shape[0])

    def select_rows(self, r0: int, r1: int) -> LogWeights:
        """The weights of rows r0:r1 (a process's share of the minibatch)."""
        return self._replace(columns=self.columns[r0:r1])


def structured_log_weights(
    estimator: str,
    batch_size: int,
    dataset_size: int,
    dtype: torch.dtype = torch.float32,
    device=None,
) -> LogWeights:
    """The (B, B) log weights of ``estimator`` ('mss' or 'mws') as :class:`LogWeights`."""
    if estimator not in ESTIMATORS:
        raise EstimatorError(f"unknown estimator {estimator!r}; choose one of {list(ESTIMATORS)}")
    check_batch(batch_size, dataset_size)
    n, b = dataset_size, batch_size
    if estimator == "mws":  # -log(N B) everywhere
        columns = torch.empty(b, 0, dtype=torch.long, device=device)
        return LogWeights(-math.log(n * b), columns, torch.empty(0, dtype=dtype, device=device), b)
    m = b - 1  # MSS: -log M, but -log N on the own index and log((N - M) / (N M)) on the next
    own = torch.arange(b, device=device)
    columns = torch.stack([own, (own + 1) % b], 1)
    values = torch.tensor(
        [-math.log(n), math.log(n - m) - math.log(n * m)], dtype=dtype, device=device
    )
    return LogWeights(-math.log(m), columns, values, b)


def mws_log_weights(
    batch_size: int, dataset_size: int, dtype: torch.dtype = torch.float32, device=None
) -> Tensor:
    """Minibatch weighted sampling: log w[i, m] = -log(N B) for all i, m, (B, B)."""
    return structured_log_weights("mws", batch_size, dataset_size, dtype, device).dense()


def mss_log_weights(
    batch_size: int, dataset_size: int, dtype: torch.dtype = torch.float32, device=None
) -> Tensor:
    """Minibatch stratified sampling weights log w[i, m], (B, B); see the module docstring."""
    return structured_log_weights("mss", batch_size, dataset_size, dtype, device).dense()


def log_weights(
    estimator: str,
    batch_size: int,
    dataset_size: int,
    dtype: torch.dtype = torch.float32,
    device=None,
) -> Tensor:
    """The (B, B) log weight matrix of ``estimator`` ('mss' or 'mws')."""
    return structured_log_weights(estimator, batch_size, dataset_size, dtype, device).dense()


def _weight_rows(log_w: Tensor | LogWeights, r0: int, r1: int, buffer: Tensor) -> Tensor:
    """Rows r0:r1 of ``log_w`` (a dense tensor, or :class:`LogWeights` written into buffer)."""
    if isinstance(log_w, LogWeights):
        return log_w.rows(r0, r1, buffer)
    return log_w[r0:r1]


# Per family, the pairwise log density is  L = c(logvar_m) - phi(u),  u = (z_i - mean_m) * s_m,
# with  Normal: s = exp(-logvar / 2), c = -(log 2 pi + logvar) / 2, phi(u) = u^2 / 2;
#      Laplace: s = 1 / b,             c = -log 2b,                   phi(u) = |u|.
# Its derivatives:  dL/dz = -phi'(u) s,  dL/dmean = phi'(u) s,  dL/dlogvar = (u phi'(u) - 1) / 2.


def _block_constants(family: str, z: Tensor, mean: Tensor, logvar: Tensor) -> tuple[Tensor, ...]:
    """z^T, s, -mean * s and c, each (D, B), for u = z s - mean s and L = c - phi(u)."""
    if family == "normal":
        scale, const = torch.exp(-0.5 * logvar), -0.5 * (math.log(2.0 * math.pi) + logvar)
    else:
        log_b = 0.5 * (logvar - math.log(2.0))
        scale, const = torch.exp(-log_b), -math.log(2.0) - log_b
    return tuple(t.T.contiguous() for t in (z, scale, -mean * scale, const))


def _blocks(
    family: str, constants: tuple[Tensor, ...], rows: int
) -> Iterator[tuple[int, int, Tensor, Tensor]]:
    """For each block of ``rows`` rows in order: r0, r1, and u and L = c - phi(u) for rows r0:r1,
    (D, R, M) views into two work buffers that every block reuses (in the calling thread, with
    torch's intra-op threads as the caller configured them).

    u = z_i s_m - mean_m s_m in one fused pass: its rounding error, about eps |z_i| s_m, is of
    the size already carried by z itself (eps |z_i| on a scale of 1 / s_m).
    """
    zt, scale, shift, const = constants
    (dim, batch), components = zt.shape, scale.shape[1]
    buf_u, buf_l = zt.new_empty(dim * rows * components), zt.new_empty(dim * rows * components)
    for r0 in range(0, batch, rows):
        r1 = min(batch, r0 + rows)
        shape = (dim, r1 - r0, components)
        u = buf_u[: math.prod(shape)].view(shape)
        lq = buf_l[: math.prod(shape)].view(shape)
        torch.addcmul(shift[:, None, :], zt[:, r0:r1, None], scale[:, None, :], out=u)
        if family == "normal":
            torch.addcmul(const[:, None, :], u, u, value=-0.5, out=lq)
        else:
            torch.sub(const[:, None, :], u.abs(), out=lq)
        yield r0, r1, u, lq


def _logsumexp(
    values: Tensor, scratch: Tensor, ratio: Tensor | None = None
) -> tuple[Tensor, Tensor | None]:
    """logsumexp over the last dim of ``values`` (..., B), with ``scratch`` (same shape) for the
    exponentials: max + log sum exp(values - max), each term floored at exp(-EXP_FLOOR).

    With ``ratio`` (the trailing (R, B) of values' shape), also the logsumexp of values +
    log(ratio) from the same exponentials: max + log sum exp(values - max) ratio (else None)."""
    top = values.amax(-1, keepdim=True)
    torch.sub(values, top, out=scratch)
    exps = scratch.clamp_min_(-EXP_FLOOR).exp_()
    lse = exps.sum(-1).log_().add_(top.squeeze(-1))
    if ratio is None:
        return lse, None
    return lse, exps.mul_(ratio).sum(-1).log_().add_(top.squeeze(-1))


def _softmax_(values: Tensor, lse: Tensor) -> Tensor:
    """exp(values - lse) in place: the softmax over the last dim, given its logsumexp (...)."""
    return values.sub_(lse[..., None]).clamp_min_(-EXP_FLOOR).exp_()


def _joint_rows(lq: Tensor, log_w: Tensor, buffer: Tensor) -> Tensor:
    """sum_j L[j, i, m] + log w[i, m] for the rows i of a block, (R, B), written into ``buffer``."""
    return torch.sum(lq, 0, out=buffer[: log_w.numel()].view(log_w.shape)).add_(log_w)


class _MixtureLogDensity(torch.autograd.Function):
    """log q(z_i) and log q(z_ij) from the weighted minibatch mixture, block by block.

    Forward: for rows i in a block, L[j, i, m] = log q(z_ij | x_m) (D, R, B); the joint sums over
    j; both add log w[i, m] and take a logsumexp over m. Backward: with P the softmax over m,
    the gradient of L is G = g_marg[j, i] P[j, i, m] + g_joint[i] P_joint[i, m], contracted
    with the derivatives listed above; every block (and its rows of the joint) is recomputed
    rather than stored, only the logsumexps are kept, and the backward pass reads the softmax
    off them as exp(L + log w - lse). Exponentials are floored at exp(-EXP_FLOOR) (see above).
    ``other_w``: a second weight matrix whose two logsumexps come from the same exponentials,
    scaled by exp(other log w - log w) (no gradient; e.g. MSS's logged terms beside MWS's).

    Second derivatives (``create_graph=True``) differentiate a dense recomputation of the
    (B, B, D) pairwise log densities, which needs B^2 D memory but is exact.
    """

    @staticmethod
    def forward(ctx, z, mean, logvar, log_w, family, other_w):
        (batch, dim), components = z.shape, mean.shape[0]
        constants = _block_constants(family, z, mean, logvar)
        rows = max(1, min(batch, BLOCK_ELEMENTS // (dim * components)))
        marginal, joint_lse = z.new_empty(dim, batch), z.new_empty(batch)
        joint_rows, weight_rows = z.new_empty(rows * components), z.new_empty(rows * components)
        if other_w is not None:  # the second estimator's outputs and weight ratios
            other_marginal, other_joint = z.new_empty(dim, batch), z.new_empty(batch)
            ratio_rows = z.new_empty(rows * components)
        ratio = None
        for r0, r1, u, lq in _blocks(family, constants, rows):
            w = _weight_rows(log_w, r0, r1, weight_rows)
            if other_w is not None:  # exp(other log w - log w): the other weights' exponentials
                other = _weight_rows(other_w, r0, r1, ratio_rows)
                ratio = torch.sub(other, w, out=ratio_rows[: w.numel()].view_as(w)).exp_()
            joint = _joint_rows(lq, w, joint_rows)
            marginal[:, r0:r1], m_other = _logsumexp(lq.add_(w), u, ratio)
            scratch = u.view(-1)[: joint.numel()].view_as(joint)
            joint_lse[r0:r1], j_other = _logsumexp(joint, scratch, ratio)
            if ratio is not None:
                other_marginal[:, r0:r1], other_joint[r0:r1] = m_other, j_other
        ctx.family, ctx.rows, ctx.log_w = family, rows, log_w
        ctx.save_for_backward(z, mean, logvar, joint_lse, marginal)
        if other_w is None:
            return joint_lse, marginal.T
        other = (other_joint, other_marginal.T)
        ctx.mark_non_differentiable(*other)
        return joint_lse, marginal.T, *other

    @staticmethod
    def backward(ctx, grad_joint, grad_marginal, *other_grads):  # the other weights': none
        z, mean, logvar, joint_lse, marginal = ctx.saved_tensors
        family, rows, log_w = ctx.family, ctx.rows, ctx.log_w
        if torch.is_grad_enabled():  # create_graph=True: the gradient must be differentiable
            return _dense_backward(ctx, z, mean, logvar, log_w, grad_joint, grad_marginal)
        (batch, dim), components = z.shape, mean.shape[0]
        constants = _block_constants(family, z, mean, logvar)
        scale = constants[1]
        g_joint = z.new_empty(rows * components)  # the block's rows of g_joint P_joint
        weight_rows = z.new_empty(rows * components)
        g_marg = grad_marginal.T.contiguous()[:, :, None]
        grad_z = z.new_empty(dim, batch)
        ones = z.new_ones(dim, 1, rows)

        # Sums over the rows i, block after block in a fixed order: sum_i G[j, i, m],
        # sum_i G phi'(u) and sum_i G u phi'(u) s, each (D, 1, M).
        row_sums = z.new_zeros(3, dim, 1, components)
        for r0, r1, u, lq in _blocks(family, constants, rows):
            w = _weight_rows(log_w, r0, r1, weight_rows)
            g_j = _softmax_(_joint_rows(lq, w, g_joint), joint_lse[r0:r1])
            g_j.mul_(grad_joint[r0:r1, None])
            prob = _softmax_(lq.add_(w), marginal[:, r0:r1])
            g = torch.addcmul(g_j, prob, g_marg[:, r0:r1], out=lq)
            ones_r = ones[:, :, : r1 - r0]  # sums over i as batched (1, R) x (R, B) products
            row_sums[0].baddbmm_(ones_r, g)
            g.mul_(u if family == "normal" else u.sign())  # H = G phi'(u)
            row_sums[1].baddbmm_(ones_r, g)
            g.mul_(scale[:, None, :])  # H s
            torch.sum(g, -1, out=grad_z[:, r0:r1])
            row_sums[2].baddbmm_(ones_r, g.mul_(u))
        g_sum, h_sum, hu_s_sum = row_sums.squeeze(2)
        grad_mean = (scale * h_sum).T
        grad_logvar = (0.5 * (hu_s_sum / scale - g_sum)).T
        return -grad_z.T, grad_mean, grad_logvar, None, None, None


def _dense_mixture(z: Tensor, mean: Tensor, logvar: Tensor, log_w: Tensor, family: str):
    """log q(z_i) (B,) and log q(z_ij) (B, D) from the full (B, B, D) pairwise log densities."""
    pairwise = get_distribution(family).pairwise_log_density(z, mean, logvar)
    joint = torch.logsumexp(pairwise.sum(-1) + log_w, 1)
    return joint, torch.logsumexp(pairwise + log_w[:, :, None], 1)


def _dense_backward(ctx, z, mean, logvar, log_w, grad_joint, grad_marginal):
    """Differentiable gradients of the dense formula, for double backward."""
    wanted = [t for t, need in zip((z, mean, logvar), ctx.needs_input_grad[:3]) if need]
    if isinstance(log_w, LogWeights):
        log_w = log_w.dense()
    joint, marginal = _dense_mixture(z, mean, logvar, log_w, ctx.family)
    found = iter(
        torch.autograd.grad(
            (joint, marginal), wanted, (grad_joint, grad_marginal), create_graph=True
        )
    )
    grads = [next(found) if need else None for need in ctx.needs_input_grad[:3]]
    return (*grads, None, None, None)


def log_mixture_density(
    z: Tensor,
    mean: Tensor,
    logvar: Tensor,
    log_w: Tensor | LogWeights,
    posterior: type[Normal] | type[Laplace] = Normal,
) -> tuple[Tensor, Tensor]:
    """Weighted minibatch mixture (REFERENCE.md s. 3), without materialising (B, B, D) arrays.

    ``z``: (B, D) samples; ``mean``, ``logvar``: (M, D) mixture components (the same B points
    on one process; the whole global batch under data parallelism, where z holds this process's
    rows); ``log_w``: (B, M) log weights (no gradient), a tensor or :class:`LogWeights`. Returns
    log q(z_i) = logsumexp_m (sum_j log q(z_ij | x_m) + log w[i, m]), shape (B,), and
    log q(z_ij) = logsumexp_m (log q(z_ij | x_m) + log w[i, m]), shape (B, D).
    """
    if isinstance(log_w, Tensor):
        log_w = log_w.detach()
    return _MixtureLogDensity.apply(z, mean, logvar, log_w, posterior.name, None)


def estimate_log_qz(
    z: Tensor,
    mean: Tensor,
    logvar: Tensor,
    dataset_size: int,
    estimator: str = "mss",
    posterior: type[Normal] | type[Laplace] = Normal,
    row_offset: int = 0,
    also: str | None = None,
) -> tuple[Tensor, ...]:
    """log q(z_i) (B,) and log q(z_ij) (B, D) by ``estimator`` ('mss' or 'mws') from a minibatch
    of distinct points of a data set of ``dataset_size`` points (REFERENCE.md s. 3).

    ``mean``, ``logvar`` (M, D) are the posteriors of the whole minibatch and ``z`` (B, D) the
    samples of its points ``row_offset .. row_offset + B - 1`` (all of them, M = B, unless the
    minibatch is spread over several processes). ``also``: a second estimator whose two
    estimates (without gradient) follow the first two, from the same pass over the pairwise
    densities (a fraction of the cost of a second call).
    """
    batch, components = z.shape[0], mean.shape[0]
    if not 0 <= row_offset <= components - batch:
        raise EstimatorError(
            f"rows {row_offset}..{row_offset + batch - 1} of z lie outside the minibatch of "
            f"{components} posteriors; pass row_offset of this process's share"
        )

    def weights(name: str) -> LogWeights:
        w = structured_log_weights(name, components, dataset_size, z.dtype, z.device)
        return w.select_rows(row_offset, row_offset + batch)

    other_w = None if also is None else weights(also)
    return _MixtureLogDensity.apply(z, mean, logvar, weights(estimator), posterior.name, other_w)
