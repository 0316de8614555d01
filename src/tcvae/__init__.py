"""tcvae: learn and measure disentangled representations (beta-TCVAE and its baselines).

The tour of the README needs only ``import tcvae``: train a model, load its data, encode it,
score it and decompose its ELBO. Everything else lives in the sub-packages (``tcvae.data``,
``tcvae.models``, ``tcvae.objectives``, ``tcvae.training``, ``tcvae.evaluation``, ...).

The tour's names are imported on first use (PEP 562), so ``import tcvae`` alone does not import
torch: the ``tcvae`` command sets up the process (``tcvae.cli.main``) before torch starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tcvae.lazy import lazy_exports

__version__ = "0.1.0"

# Each name of the tour, and the sub-package it comes from.
_EXPORTS = {
    "load_dataset": "tcvae.data",
    "decompose_elbo": "tcvae.evaluation",
    "encode_dataset": "tcvae.evaluation",
    "mig": "tcvae.evaluation",
    "mig_discrete": "tcvae.evaluation",
    "compute_loss": "tcvae.objectives",
    "dimwise_kl": "tcvae.objectives",
    "index_code_mi": "tcvae.objectives",
    "total_correlation": "tcvae.objectives",
    "Run": "tcvae.training",
    "build_dataset": "tcvae.training",
    "load_run": "tcvae.training",
    "resolve_config": "tcvae.training",
    "train": "tcvae.training",
}

__all__ = [
    "Run",
    "__version__",
    "build_dataset",
    "compute_loss",
    "decompose_elbo",
    "dimwise_kl",
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


if not TYPE_CHECKING:  # type checkers see the imports below, and flag misspelt names
    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


if TYPE_CHECKING:
    from tcvae.data import load_dataset
    from tcvae.evaluation import decompose_elbo, encode_dataset, mig, mig_discrete
    from tcvae.objectives import compute_loss, dimwise_kl, index_code_mi, total_correlation
    from tcvae.training import Run, build_dataset, load_run, resolve_config, train
