"""Factorised latent distributions: the posterior q(z|x) and the prior p(z).

Every distribution here is parameterised the same way, by a mean and a log-variance per latent
dimension, both of shape (B, D), so that encoders, estimators and metrics never need to know which
family is in use. Each answers the same small set of questions:

* ``rsample(mean, logvar, generator)``            reparameterised sample, (B, D)
* ``log_density(z, mean, logvar)``                elementwise log density, broadcast
* ``pairwise_log_density(z, mean, logvar)``       log q(z_b,d | m), (B, M, D)
* ``kl_to_prior(mean, logvar)``                   KL(q || standard prior) per dimension, (B, D)

The standard prior of each family has mean 0 and variance 1.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from tcvae.errors import TcvaeError

LOG_2PI = math.log(2.0 * math.pi)


class Normal:
    """Diagonal Normal N(mean, exp(logvar))."""

    name = "normal"

    @staticmethod
    def rsample(mean: Tensor, logvar: Tensor, generator: torch.Generator | None = None) -> Tensor:
        eps = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        return mean + torch.exp(0.5 * logvar) * eps

    @staticmethod
    def log_density(z: Tensor, mean: Tensor, logvar: Tensor) -> Tensor:
        """log N(z; m, v) = -1/2 (log 2 pi + log v + (z - m)^2 / v)."""
        return -0.5 * (LOG_2PI + logvar + (z - mean).pow(2) * torch.exp(-logvar))

    @classmethod
    def pairwise_log_density(cls, z: Tensor, mean: Tensor, logvar: Tensor) -> Tensor:
        """(B, D) samples against (M, D) components -> (B, M, D)."""
        return cls.log_density(z.unsqueeze(1), mean.unsqueeze(0), logvar.unsqueeze(0))

    @staticmethod
    def kl_to_prior(mean: Tensor, logvar: Tensor) -> Tensor:
        """KL(N(m, v) || N(0, 1)) = 1/2 (m^2 + v - 1 - log v), per dimension."""
        return 0.5 * (mean.pow(2) + torch.exp(logvar) - 1.0 - logvar)


class Laplace:
    """Diagonal Laplace with mean m and variance v = 2 b^2 (scale b = sqrt(v / 2))."""

    name = "laplace"

    @staticmethod
    def _log_scale(logvar: Tensor) -> Tensor:
        return 0.5 * (logvar - math.log(2.0))

    @classmethod
    def rsample(
        cls, mean: Tensor, logvar: Tensor, generator: torch.Generator | None = None
    ) -> Tensor:
        # Inverse CDF: z = m - b sign(u) log(1 - 2|u|), u ~ U(-1/2, 1/2).
        u = torch.rand(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype) - 0.5
        u = u.clamp(-0.5 + 1e-7, 0.5 - 1e-7)
        b = torch.exp(cls._log_scale(logvar))
        return mean - b * torch.sign(u) * torch.log1p(-2.0 * u.abs())

    @classmethod
    def log_density(cls, z: Tensor, mean: Tensor, logvar: Tensor) -> Tensor:
        """log Laplace(z; m, b) = -log 2b - |z - m| / b."""
        log_b = cls._log_scale(logvar)
        return -math.log(2.0) - log_b - (z - mean).abs() * torch.exp(-log_b)

    @classmethod
    def pairwise_log_density(cls, z: Tensor, mean: Tensor, logvar: Tensor) -> Tensor:
        return cls.log_density(z.unsqueeze(1), mean.unsqueeze(0), logvar.unsqueeze(0))

    @classmethod
    def kl_to_prior(cls, mean: Tensor, logvar: Tensor) -> Tensor:
        """KL(Laplace(m, b) || Laplace(0, c)), c = 1/sqrt 2 (unit variance):
        log(c / b) + |m| / c + (b / c) exp(-|m| / b) - 1."""
        log_b = cls._log_scale(logvar)
        log_c = -0.5 * math.log(2.0)
        b_over_c = torch.exp(log_b - log_c)
        return (
            log_c
            - log_b
            + mean.abs() * math.sqrt(2.0)
            + b_over_c * torch.exp(-mean.abs() * torch.exp(-log_b))
            - 1.0
        )


DISTRIBUTIONS = {"normal": Normal, "laplace": Laplace}


def get_distribution(name: str | type[Normal] | type[Laplace]) -> type[Normal] | type[Laplace]:
    """The latent family called ``name`` ('normal' or 'laplace'); a family is returned as it is."""
    if not isinstance(name, str):
        return name
    try:
        return DISTRIBUTIONS[name]
    except KeyError:
        raise TcvaeError(
            f"unknown latent distribution {name!r}; choose one of {sorted(DISTRIBUTIONS)}"
        ) from None
