"""Evaluation: the full-data-set ELBO decomposition, the Mutual Information Gap and the wider
disentanglement metric suite (BetaVAE and FactorVAE scores, DCI, SAP, modularity and
explicitness, MIG-sup).

Metrics are plain functions over posterior parameters (or codes) and factor classes, numpy or
torch; only :mod:`tcvae.evaluation.encode` touches a model.
"""

from tcvae.evaluation.beta_vae_score import BetaVAEScoreResult, beta_vae_score
from tcvae.evaluation.dci import DCIResult, dci
from tcvae.evaluation.decomposition import ElboDecomposition, decompose_elbo
from tcvae.evaluation.encode import encode_dataset, estimate_log_likelihood
from tcvae.evaluation.factor_vae_score import FactorVAEScoreResult, factor_vae_score
from tcvae.evaluation.inputs import EvaluationError
from tcvae.evaluation.mig import PAPER_FACTORS, MIGResult, mig
from tcvae.evaluation.mig_discrete import DiscreteMIGResult, mig_discrete
from tcvae.evaluation.mig_sup import MIGSupResult, mig_sup
from tcvae.evaluation.modularity import ModularityExplicitnessResult, modularity_explicitness
from tcvae.evaluation.sap import SAPResult, sap

__all__ = [
    "PAPER_FACTORS",
    "BetaVAEScoreResult",
    "DCIResult",
    "DiscreteMIGResult",
    "ElboDecomposition",
    "EvaluationError",
    "FactorVAEScoreResult",
    "MIGResult",
    "MIGSupResult",
    "ModularityExplicitnessResult",
    "SAPResult",
    "beta_vae_score",
    "dci",
    "decompose_elbo",
    "encode_dataset",
    "estimate_log_likelihood",
    "factor_vae_score",
    "mig",
    "mig_discrete",
    "mig_sup",
    "modularity_explicitness",
    "sap",
]
