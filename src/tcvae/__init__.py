"""tcvae: learn and measure disentangled representations (beta-TCVAE and its baselines).

The tour of the README needs only ``import tcvae``: train a model, load its data, encode it,
score it and decompose its ELBO. Everything else lives in the sub-packages (``tcvae.data``,
``tcvae.models``, ``tcvae.objectives``, ``tcvae.training``, ``tcvae.evaluation``, ...).
"""

from importlib.metadata import version

from tcvae.data import load_dataset
from tcvae.evaluation import decompose_elbo, encode_dataset, mig, mig_discrete
from tcvae.experiments.screening import train
from tcvae.objectives import (
    compute_loss,
    dimwise_kl,
    elbo_terms,
    index_code_mi,
    total_correlation,
)
from tcvae.training import Run, build_dataset, load_run, resolve_config

__version__ = version("tcvae")  # declared once, in pyproject.toml

__all__ = [
    "Run",
    "__version__",
    "build_dataset",
    "compute_loss",
    "decompose_elbo",
    "dimwise_kl",
    "elbo_terms",
    "encode_dataset",
    "index_code_mi",
    "load_dataset",
    "load_run",
    "mig",
    "mig_discrete",
    "resolve_config",
    "total_correlation",
    "train",
]
