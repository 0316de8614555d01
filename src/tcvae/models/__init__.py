"""tcvae.models: the paper's encoder/decoder networks and the VAE that joins them."""

from tcvae.models.networks import build_networks
from tcvae.models.vae import VAE, ModelError, VAEOutput, build_model, soft_clamp

__all__ = ["VAE", "ModelError", "VAEOutput", "build_model", "build_networks", "soft_clamp"]
