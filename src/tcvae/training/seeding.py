"""Seeds of a training run: the global generators, and streams derived from the run seed.

The data order and the reparameterisation noise each draw from a dedicated ``torch.Generator``
seeded by :func:`stream_seed`, whose state goes into every checkpoint.
"""

from __future__ import annotations

import numpy as np
import torch

# Independent random streams derived from the run seed.
DATA_STREAM, SAMPLE_STREAM = 1, 2


def stream_seed(seed: int, stream: int, rank: int = 0) -> int:
    """A 64-bit seed for one random stream, decorrelated from the others by SeedSequence."""
    return int(np.random.SeedSequence([seed, stream, rank]).generate_state(1, np.uint64)[0] >> 1)


def seed_everything(seed: int) -> None:
    """Seed the global torch, numpy and Python generators (model initialisation uses them)."""
    import random

    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 (third-party code may draw from it)
    torch.manual_seed(seed)
