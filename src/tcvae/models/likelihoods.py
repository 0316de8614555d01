"""Observation models p(x|z): what the decoder's output means.

The decoder returns one tensor of *likelihood parameters* with the shape of the images,
(B, C, H, W). Each likelihood answers the same three questions:

* ``log_likelihood(x, params)``  log p(x|z) summed over pixels, (B,)
* ``mean(params)``                the expected image E[x|z] in [0, 1], (B, C, H, W)
* ``sample(params, generator)``   a draw x ~ p(x|z), (B, C, H, W)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from tcvae.errors import TcvaeError


class Bernoulli:
    """Independent Bernoulli pixels with the decoder's output as logits (the paper's choice)."""

    name = "bernoulli"

    @staticmethod
    def log_likelihood(x: Tensor, params: Tensor) -> Tensor:
        """sum_p [x_p log sigmoid(l_p) + (1 - x_p) log(1 - sigmoid(l_p))], for x in [0, 1]."""
        nll = F.binary_cross_entropy_with_logits(params, x, reduction="none")
        return -nll.flatten(1).sum(1)

    @staticmethod
    def mean(params: Tensor) -> Tensor:
        return torch.sigmoid(params)

    @staticmethod
    def sample(params: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return torch.bernoulli(torch.sigmoid(params), generator=generator)


class Gaussian:
    """Independent Gaussian pixels, mean sigmoid(output), fixed variance ``VARIANCE``.

    With variance 1/2, -log p(x|z) = sum_p (x_p - mean_p)^2 + const: the summed squared error
    loss, up to the constant (which is kept, so log p(x|z) is a true log density).
    """

    name = "gaussian"
    VARIANCE = 0.5

    @classmethod
    def log_likelihood(cls, x: Tensor, params: Tensor) -> Tensor:
        """sum_p log N(x_p; sigmoid(o_p), VARIANCE)."""
        sq = (x - torch.sigmoid(params)).pow(2).flatten(1).sum(1)
        n_pixels = x[0].numel()
        return -0.5 * (sq / cls.VARIANCE + n_pixels * math.log(2.0 * math.pi * cls.VARIANCE))

    @staticmethod
    def mean(params: Tensor) -> Tensor:
        return torch.sigmoid(params)

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
