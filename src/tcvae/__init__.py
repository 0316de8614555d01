"""tcvae: learn and measure disentangled representations (beta-TCVAE and its baselines)."""

__version__ = "0.1.0"

# The Python API mirror of `tcvae train`.
from tcvae.training import Run, train  # noqa: E402

__all__ = ["Run", "__version__", "train"]
