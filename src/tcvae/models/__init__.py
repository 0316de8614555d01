"""tcvae.models: the paper's encoder/decoder networks, the latent distributions, the likelihoods
and the VAE that joins them."""

from tcvae.models.distributions import Laplace, Normal, get_distribution
from tcvae.models.likelihoods import Bernoulli, Gaussian, get_likelihood
from tcvae.models.networks import BinaryInputLinear, binary_linear, build_networks
from tcvae.models.vae import VAE, ModelConfig, ModelError, VAEOutput, build_model, soft_clamp

__all__ = [
    "VAE",
    "BinaryInputLinear",
    "Bernoulli",
    "Gaussian",
    "Laplace",
    "ModelConfig",
    "ModelError",
    "Normal",
    "VAEOutput",
    "binary_linear",
    "build_model",
    "build_networks",
    "get_distribution",
    "get_likelihood",
    "soft_clamp",
]
