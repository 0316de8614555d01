"""Evaluation: the full-data-set ELBO decomposition and the Mutual Information Gap.

Metrics are plain functions over posterior parameters (or codes) and factor classes, numpy or
torch; only :mod:`tcvae.evaluation.encode` touches a model.
"""

from tcvae.evaluation.decomposition import ElboDecomposition, decompose_elbo
from tcvae.evaluation.encode import encode_dataset, estimate_log_likelihood
from tcvae.evaluation.inputs import EvaluationError
from tcvae.evaluation.mig import PAPER_FACTORS, MIGResult, mig
from tcvae.evaluation.mig_discrete import DiscreteMIGResult, mig_discrete

__all__ = [
    "PAPER_FACTORS",
    "DiscreteMIGResult",
    "ElboDecomposition",
    "EvaluationError",
    "MIGResult",
    "decompose_elbo",
    "encode_dataset",
    "estimate_log_likelihood",
    "mig",
    "mig_discrete",
]
