"""The VAE: an encoder q(z|x), a decoder p(x|z) and a factorised prior p(z).

A model is fully described by its build arguments (see :func:`build_model`) and its
``state_dict``; nothing else needs saving to rebuild it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tcvae.models.distributions import DISTRIBUTIONS, get_distribution
from tcvae.models.likelihoods import LIKELIHOODS, get_likelihood
from tcvae.models.networks import ARCHITECTURES, IMAGE_SIZE, build_networks, reads_binary
from tcvae.options import OptionError, check_choices, option, positive_int, require

# Encoder log-variances are squashed smoothly into this range: below -20 the posterior is a
# point mass for every practical purpose and 1/variance overflows soon after in float32; above
# 10 the posterior is far wider than the unit prior.
LOGVAR_MIN = -20.0
LOGVAR_MAX = 10.0


class ModelError(OptionError):
    """A model was asked for with arguments it cannot support, or given the wrong input."""


@dataclass
class ModelConfig:
    """The arguments of :func:`build_model`, checked when built (:class:`ModelError` naming the
    one at fault); ``image_shape`` is filled in from the data at train time."""

    arch: str = option(
        "mlp", flag="--arch", choices=sorted(ARCHITECTURES), help="network architecture"
    )
    latent_dim: int = option(
        10, flag="--latent-dim", metavar="D", help="number of latent dimensions (default 10)"
    )
    posterior: str = option(
        "normal",
        flag="--posterior",
        choices=sorted(DISTRIBUTIONS),
        help="posterior and prior family (default normal)",
    )
    likelihood: str = option(
        "bernoulli",
        flag="--likelihood",
        choices=sorted(LIKELIHOODS),
        help="decoder likelihood p(x|z) (default bernoulli)",
    )
    hidden: int | None = option(
        None,
        flag="--hidden",
        metavar="H",
        help="MLP hidden width (paper: 1200) or conv base channels (paper: 32)",
    )
    image_shape: list[int] | None = None

    def __post_init__(self) -> None:
        check_choices(self, ModelError)
        d, h = self.latent_dim, self.hidden
        must = "must be a positive integer"
        require(positive_int(d), "latent_dim", f"{must}, got {d!r}", ModelError)
        require(h is None or positive_int(h), "hidden", f"{must} or unset, got {h!r}", ModelError)
        if self.image_shape is not None:
            shape = tuple(self.image_shape)
            require(
                len(shape) == 3 and shape[0] in (1, 3) and shape[1:] == (IMAGE_SIZE, IMAGE_SIZE),
                "image_shape",
                f"must be (C, {IMAGE_SIZE}, {IMAGE_SIZE}) with C = 1 or 3, got {shape}; resize "
                f"images to {IMAGE_SIZE}x{IMAGE_SIZE}",
                ModelError,
            )


class VAEOutput(NamedTuple):
    """One pass through the VAE: posterior parameters (B, D), the sample z (B, D) and the
    decoder's likelihood parameters (B, C, H, W)."""

    mean: Tensor
    logvar: Tensor
    z: Tensor
    x_params: Tensor


def in_float32_under_autocast(
    network: Callable[[Tensor], Tensor], inputs: Tensor, dtype: torch.dtype | None
) -> Tensor:
    """``network(inputs)`` run under autocast to ``dtype`` (None: no autocast), in float32 (the
    VAE's networks and FactorVAE's discriminator: the products in ``dtype``, what the loss reads
    in float32)."""
    with torch.autocast(inputs.device.type, dtype=dtype, enabled=dtype is not None):
        return network(inputs).float()


def soft_clamp(x: Tensor, low: float, high: float) -> Tensor:
    """Smooth, monotone map of the real line into (low, high), the identity well inside it:
    low + softplus(x - low) - softplus(x - high)."""
    return low + F.softplus(x - low) - F.softplus(x - high)


class VAE(nn.Module):
    """Encoder and decoder networks with a posterior family and a likelihood.

    Attributes: ``latent_dim`` (D), ``image_shape`` (C, H, W), ``posterior`` (a distribution
    class from :mod:`tcvae.models.distributions`, whose standard member is also the prior)
    and ``likelihood`` (a class from :mod:`tcvae.models.likelihoods`); ``reads_binary`` says
    whether the encoder reads bool images itself (the MLP) rather than as floats.
    """

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        latent_dim: int,
        image_shape: tuple[int, int, int],
        posterior: str = "normal",
        likelihood: str = "bernoulli",
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.latent_dim = latent_dim
        self.image_shape = tuple(image_shape)
        self.posterior = get_distribution(posterior)
        self.likelihood = get_likelihood(likelihood)
        self.reads_binary = reads_binary(encoder)

    def batch_dtype(self, max_value: int, device: torch.device | str) -> torch.dtype:
        """The dtype to make batches of images with pixels 0..``max_value`` in, for encoding them
        with this model on ``device`` (without autocast): bool for binary images on a CPU when
        the encoder reads bool (the MLP; its first layer runs 3.9x faster at the paper's width,
        ``benchmarks/bench_binary_input.py``), else float32. Training has its own rule."""
        if max_value == 1 and torch.device(device).type == "cpu" and self.reads_binary:
            return torch.bool
        return torch.float32

    def encode(self, x: Tensor, amp_dtype: torch.dtype | None = None) -> tuple[Tensor, Tensor]:
        """Posterior parameters (mean, logvar), each (B, D) in float32, for images x
        (B, C, H, W) in [0, 1], or bool for binary images; ``amp_dtype`` runs the encoder
        network under autocast."""
        if x.dim() != 4 or tuple(x.shape[1:]) != self.image_shape:
            raise ModelError(
                f"expected images of shape (B, {', '.join(map(str, self.image_shape))}), "
                f"got {tuple(x.shape)}; the model was built for image_shape={self.image_shape}"
            )
        if x.dtype == torch.bool and not self.reads_binary:
            x = x.to(torch.float32)
        h = in_float32_under_autocast(self.encoder, x, amp_dtype)
        mean, raw_logvar = h[:, : self.latent_dim], h[:, self.latent_dim :]
        return mean, soft_clamp(raw_logvar, LOGVAR_MIN, LOGVAR_MAX)

    def decode(
        self, z: Tensor, amp_dtype: torch.dtype | None = None, float32: bool = True
    ) -> Tensor:
        """Likelihood parameters (B, C, H, W) in float32 for latents z (B, D); ``amp_dtype``
        runs the decoder network under autocast. ``float32=False`` leaves them in the dtype the
        network computed, for a likelihood that reads low precision exactly (one (B, C, H, W)
        float32 copy fewer; see ``reads_low_precision`` in :mod:`tcvae.models.likelihoods`)."""
        if float32 or amp_dtype is None:
            return in_float32_under_autocast(self.decoder, z, amp_dtype)
        with torch.autocast(z.device.type, dtype=amp_dtype):
            return self.decoder(z)

    def forward(
        self,
        x: Tensor,
        generator: torch.Generator | None = None,
        amp_dtype: torch.dtype | None = None,
        noise_rows: tuple[int, int] | None = None,
    ) -> VAEOutput:
        """Encode, draw z ~ q(z|x) by reparameterisation, decode.

        ``amp_dtype`` (torch.bfloat16 or torch.float16) runs the two networks under autocast;
        the posterior parameters and z are float32 either way, so the densities, estimators
        and loss computed from them stay in float32. The likelihood parameters are float32
        too, unless the likelihood reads them in float32 itself (``reads_low_precision``).
        ``noise_rows=(start, total)``: x is rows start.. of a batch of ``total`` spread over
        processes; the noise is drawn for the whole batch (the same on every process) and these
        rows taken, so the sample equals that of one process holding the whole batch.
        """
        mean, logvar = self.encode(x, amp_dtype)
        if noise_rows is None:
            z = self.posterior.rsample(mean, logvar, generator)
        else:
            start, total = noise_rows
            unit = mean.new_zeros(total, mean.shape[1])  # both families scale as exp(logvar / 2)
            standard = self.posterior.rsample(unit, unit, generator)[start : start + len(x)]
            z = mean + torch.exp(0.5 * logvar) * standard
        float32 = not self.likelihood.reads_low_precision
        return VAEOutput(mean, logvar, z, self.decode(z, amp_dtype, float32))

    @torch.no_grad()
    def reconstruct(self, x: Tensor) -> Tensor:
        """Expected image E[x | z = posterior mean], in [0, 1]."""
        mean, _ = self.encode(x)
        return self.likelihood.mean(self.decode(mean))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Expected images of n latents drawn from the prior, (n, C, H, W) in [0, 1]."""
        zeros = torch.zeros(n, self.latent_dim, device=next(self.parameters()).device)
        z = self.posterior.rsample(zeros, zeros, generator)
        return self.likelihood.mean(self.decode(z))


def build_model(
    arch: str = "mlp",
    image_shape: tuple[int, int, int] = (1, IMAGE_SIZE, IMAGE_SIZE),
    latent_dim: int = 10,
    posterior: str = "normal",
    likelihood: str = "bernoulli",
    hidden: int | None = None,
) -> VAE:
    """The paper's VAE for 64x64 images with 1 or 3 channels (REFERENCE.md section 8).

    ``arch`` is 'mlp' (dSprites) or 'conv' (3D faces); ``hidden`` overrides the MLP hidden width
    (default 1200) or the conv base channel count (default 32) for small, quick models.
    """
    shape = tuple(image_shape)
    ModelConfig(arch, latent_dim, posterior, likelihood, hidden, list(shape))  # checks them all
    encoder, decoder = build_networks(arch, shape[0], latent_dim, hidden)
    return VAE(encoder, decoder, latent_dim, shape, posterior, likelihood)
