"""tcvae.objectives: latent distributions, likelihoods, log q(z) estimators and the losses."""

from tcvae.objectives.decomposition import (
    ElboTerms,
    dimwise_kl,
    elbo_terms,
    index_code_mutual_information,
    total_correlation,
)
from tcvae.objectives.distributions import Laplace, Normal, get_distribution
from tcvae.objectives.estimators import (
    ESTIMATORS,
    EstimatorError,
    estimate_log_qz,
    log_mixture_density,
    log_weights,
    mss_log_weights,
    mws_log_weights,
)
from tcvae.objectives.likelihoods import Bernoulli, Gaussian, get_likelihood
from tcvae.objectives.loss import (
    METHODS,
    LossResult,
    ObjectiveConfig,
    ObjectiveError,
    auxiliary_loss,
    auxiliary_network,
    compute_loss,
)

__all__ = [
    "ESTIMATORS",
    "METHODS",
    "Bernoulli",
    "ElboTerms",
    "EstimatorError",
    "Gaussian",
    "Laplace",
    "LossResult",
    "Normal",
    "ObjectiveConfig",
    "ObjectiveError",
    "auxiliary_loss",
    "auxiliary_network",
    "compute_loss",
    "dimwise_kl",
    "elbo_terms",
    "estimate_log_qz",
    "get_distribution",
    "get_likelihood",
    "index_code_mutual_information",
    "log_mixture_density",
    "log_weights",
    "mss_log_weights",
    "mws_log_weights",
    "total_correlation",
]
