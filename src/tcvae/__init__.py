"""tcvae: learn and measure disentangled representations (beta-TCVAE and its baselines)."""

__version__ = "0.1.0"
