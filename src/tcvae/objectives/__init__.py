"""tcvae.objectives: log q(z) estimators, the ELBO decomposition and the losses.

The latent distributions and likelihoods live in :mod:`tcvae.models` and are re-exported here.
"""

from tcvae.models.distributions import Laplace, Normal, get_distribution
from tcvae.models.likelihoods import Bernoulli, Gaussian, get_likelihood
from tcvae.objectives.baselines import FactorVAE
from tcvae.objectives.decomposition import (
    ElboTerms,
    dimwise_kl,
    elbo_terms,
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
    compute_loss,
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
    "compute_loss",
    "dimwise_kl",
    "elbo_terms",
    "estimate_log_qz",
    "get_distribution",
    "get_likelihood",
    "index_code_mi",
    "log_mixture_density",
    "log_weights",
    "mss_log_weights",
    "mws_log_weights",
    "total_correlation",
]
