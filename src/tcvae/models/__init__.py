"""tcvae.models: the paper's encoder/decoder networks, the latent distributions, the likelihoods
and the VAE that joins them."""

from tcvae.models.distributions import Laplace, Normal, get_distribution
from tcvae.models.likelihoods import Bernoulli, Gaussian, get_likelihood
from tcvae.models.networks import build_networks
from tcvae.models.vae import VAE, ModelError, VAEOutput, build_model, soft_clamp

__all__ = [
    "VAE",
    "Bernoulli",
    "Gaussian",
    "Laplace",
    "ModelError",
    "Normal",
    "VAEOutput",
    "build_model",
    "build_networks",
    "get_distribution",
    "get_likelihood",
    "soft_clamp",
]
