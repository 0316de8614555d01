"""Observation models p(x|z): what the decoder's output means.

The decoder returns one tensor of *likelihood parameters* with the shape of the images,
(B, C, H, W). Each likelihood answers the same three questions (and says, as
``reads_low_precision``, whether its log-likelihood computes in float32 from bf16 or fp16
parameters, so that a training step need not hold a float32 copy of them):

* ``log_likelihood(x, params)``  log p(x|z) summed over pixels, (B,); x float in [0, 1], or
  bool for binary images
* ``mean(params)``                the expected image E[x|z] in [0, 1], (B, C, H, W)
* ``sample(params, generator)``   a draw x ~ p(x|z), (B, C, H, W)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from tcvae.errors import TcvaeError

# Pixels per block of the Bernoulli log-likelihood (64 dSprites images): each float32 intermediate
# of a block is 1 MiB, which stays in cache between the passes over it. Blocks 4x smaller or
# larger were slower at batch sizes 512 and 2048 (benchmarks/bench_likelihood.py).
BLOCK_PIXELS = 1 << 18


def _row_blocks(flat: Tensor) -> range:
    """Start rows of the blocks of about BLOCK_PIXELS pixels that cover (B, P) ``flat``."""
    return range(0, flat.shape[0], max(1, BLOCK_PIXELS // max(1, flat.shape[1])))


class _BernoulliLogLikelihood(torch.autograd.Function):
    """log p(x|l) = sum_p [x_p l_p - softplus(l_p)] per image, a block of images at a time.

    The same values as -binary_cross_entropy_with_logits summed over pixels, but neither pass
    holds a (B, P) array of per-pixel terms: the forward pass keeps only the (B,) sums, and the
    backward pass writes d/dl = g (x - sigmoid(l)) (and d/dx = g l) block by block into the
    gradient itself. Both run in at least float32, whatever the dtype of the logits.
    """

    @staticmethod
    def forward(ctx, x: Tensor, logits: Tensor) -> Tensor:
        dtype = torch.promote_types(torch.promote_types(logits.dtype, x.dtype), torch.float32)
        flat_x, flat_l = x.flatten(1), logits.flatten(1)
        out = logits.new_empty(flat_l.shape[0], dtype=dtype)
        blocks = _row_blocks(flat_l)
        for r0 in blocks:
            r1 = r0 + blocks.step
            nll = F.binary_cross_entropy_with_logits(
                flat_l[r0:r1].to(dtype), flat_x[r0:r1].to(dtype), reduction="none"
            )
            torch.sum(nll, 1, out=out[r0:r1]).neg_()
        ctx.save_for_backward(x, logits)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, Tensor | None]:
        x, logits = ctx.saved_tensors
        need_x, need_l = ctx.needs_input_grad[:2]
        flat_x, flat_l = x.flatten(1), logits.flatten(1)
        grad_x = torch.empty_like(flat_x) if need_x else None
        grad_l = torch.empty_like(flat_l) if need_l else None
        blocks = _row_blocks(flat_l)
        for r0 in blocks:
            r1 = r0 + blocks.step
            g, lb = grad[r0:r1, None], flat_l[r0:r1].to(grad.dtype)
            if need_x:
                grad_x[r0:r1] = lb * g
            if need_l:
                prob = torch.sigmoid(lb)
                grad_l[r0:r1] = torch.sub(flat_x[r0:r1].to(grad.dtype), prob, out=prob).mul_(g)
        return (
            None if grad_x is None else grad_x.view_as(x),
            None if grad_l is None else grad_l.view_as(logits),
        )


class Bernoulli:
    """Independent Bernoulli pixels with the decoder's output as logits (the paper's choice)."""

    name = "bernoulli"
    # log_likelihood converts the parameters to float32 block by block, so bf16 or fp16 logits
    # give the same values (and gradients) as a float32 copy of them would.
    reads_low_precision = True

    @staticmethod
    def log_likelihood(x: Tensor, params: Tensor) -> Tensor:
        """sum_p [x_p log sigmoid(l_p) + (1 - x_p) log(1 - sigmoid(l_p))], for x in [0, 1].

        Computed without per-pixel arrays (see :class:`_BernoulliLogLikelihood`): at the paper's
        batch of 2048 images of 4096 pixels that saves two 32 MiB arrays and several passes
        over them in every training step.
        """
        if x.shape[0] != params.shape[0] or x.shape[1:].numel() != params.shape[1:].numel():
            raise TcvaeError(
                f"images {tuple(x.shape)} and likelihood parameters {tuple(params.shape)} do not "
                "match: one parameter per pixel of each image is needed"
            )
        return _BernoulliLogLikelihood.apply(x, params)

    mean = staticmethod(torch.sigmoid)  # E[x|z] = sigmoid(params)

    @staticmethod
    def sample(params: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return torch.bernoulli(torch.sigmoid(params), generator=generator)


class Gaussian:
    """Independent Gaussian pixels, mean sigmoid(output), fixed variance ``VARIANCE``.

    With variance 1/2, -log p(x|z) = sum_p (x_p - mean_p)^2 + const: the summed squared error
    loss, up to the constant (which is kept, so log p(x|z) is a true log density).
    """

    name = "gaussian"
    reads_low_precision = False
    VARIANCE = 0.5

    @classmethod
    def log_likelihood(cls, x: Tensor, params: Tensor) -> Tensor:
        """sum_p log N(x_p; sigmoid(o_p), VARIANCE); x may be bool (binary images)."""
        sq = (x.to(params.dtype) - torch.sigmoid(params)).pow(2).flatten(1).sum(1)
        n_pixels = x[0].numel()
        return -0.5 * (sq / cls.VARIANCE + n_pixels * math.log(2.0 * math.pi * cls.VARIANCE))

    mean = staticmethod(torch.sigmoid)  # E[x|z] = sigmoid(params)

    @classmethod
    def sample(cls, params: Tensor, generator: torch.Generator | None = None) -> Tensor:
        eps = torch.randn(
            params.shape, generator=generator, device=params.device, dtype=params.dtype
        )
        return torch.sigmoid(params) + math.sqrt(cls.VARIANCE) * eps


LIKELIHOODS = {"bernoulli": Bernoulli, "gaussian": Gaussian}


def get_likelihood(name: str) -> type[Bernoulli] | type[Gaussian]:
    """The observation model called ``name`` ('bernoulli' or 'gaussian')."""
    try:
        return LIKELIHOODS[name]
    except KeyError:
        raise TcvaeError(
            f"unknown likelihood {name!r}; choose one of {sorted(LIKELIHOODS)}"
        ) from None
