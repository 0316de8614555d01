"""tcvae.objectives: log q(z) estimators, the ELBO decomposition and the losses (one function
per method, and :func:`compute_loss` choosing one from an :class:`ObjectiveConfig`).

The latent distributions and likelihoods live in :mod:`tcvae.models` and are re-exported here.
"""

from tcvae.models.distributions import Laplace, Normal, get_distribution
from tcvae.models.likelihoods import Bernoulli, Gaussian, get_likelihood
from tcvae.objectives.baselines import FactorVAE
from tcvae.objectives.decomposition import (
    ElboTerms,
    dimwise_kl,
    elbo_terms,
    elbo_terms_pair,
    index_code_mi,
    total_correlation,
)
from tcvae.objectives.estimators import (
    ESTIMATORS,
    EstimatorError,
    estimate_log_qz,
    log_mixture_density,
    log_weights,
    mss_log_weights,
    mws_log_weights,
)
from tcvae.objectives.loss import (
    METHODS,
    LossResult,
    ObjectiveConfig,
    ObjectiveError,
    annealed_vae_loss,
    beta_tcvae_loss,
    beta_vae_loss,
    compute_loss,
    dip_vae_loss,
    factor_vae_loss,
)

__all__ = [
    "ESTIMATORS",
    "METHODS",
    "Bernoulli",
    "ElboTerms",
    "EstimatorError",
    "FactorVAE",
    "Gaussian",
    "Laplace",
    "LossResult",
    "Normal",
    "ObjectiveConfig",
    "ObjectiveError",
    "annealed_vae_loss",
    "beta_tcvae_loss",
    "beta_vae_loss",
    "compute_loss",
    "dimwise_kl",
    "dip_vae_loss",
    "elbo_terms",
    "elbo_terms_pair",
    "estimate_log_qz",
    "factor_vae_loss",
    "get_distribution",
    "get_likelihood",
    "index_code_mi",
    "log_mixture_density",
    "log_weights",
    "mss_log_weights",
    "mws_log_weights",
    "total_correlation",
]
