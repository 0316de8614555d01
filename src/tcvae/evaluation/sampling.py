"""How the metrics draw points from an encoded data set.

disentanglement_lib samples factor values uniformly (with replacement) and renders and encodes each
sample. Our data sets are factor grids held in memory and encoded once, so a draw picks *rows* of
the encoded data set instead: on a full grid, a uniform row is exactly a uniform factor
combination, and the encoder is never called again.

* :func:`train_test_rows`: independent uniform draws with replacement, so a training and a test
  draw may share points, as in disentanglement_lib (DCI, SAP, modularity and explicitness).
* :func:`subsample_rows`: rows drawn without replacement (the discretised MIG and MIG-sup).
* :func:`sample_indices`: the S points of a Monte Carlo estimate (decomposition, log p(x|z)).
* :class:`FactorGroups`: rows that share the value of one factor, for the intervention-based
  scores (BetaVAE, FactorVAE). With one factor fixed, the other factors of a uniform row among
  those sharing the value are uniform on a full grid, as when disentanglement_lib fixes one
  factor and resamples the rest; on a partial grid they follow the data's conditional
  distribution.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from tcvae.evaluation.inputs import EvaluationError


def train_test_rows(
    num_rows: int, num_train: int, num_test: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Training and test row indices, drawn independently and uniformly with replacement."""
    rng = np.random.default_rng(int(seed))
    return rng.integers(0, num_rows, num_train), rng.integers(0, num_rows, num_test)


def standardized(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both point sets with each column centred and scaled by the training points' mean and
    standard deviation (a constant column is only centred)."""
    mean, std = train.mean(0), train.std(0)
    std[std == 0] = 1.0
    return (train - mean) / std, (test - mean) / std


def subsample_rows(num_rows: int, num_points: int, seed: int) -> np.ndarray:
    """``num_points`` row indices drawn without replacement (every row when there are no more)."""
    if num_rows <= num_points:
        return np.arange(num_rows)
    generator = torch.Generator().manual_seed(int(seed))
    return torch.randperm(num_rows, generator=generator)[:num_points].numpy()


def sample_indices(num_rows: int, samples: int | None, generator: torch.Generator) -> Tensor:
    """``samples`` indices drawn uniformly with replacement (None: every row once, in order)."""
    if samples is None:
        return torch.arange(num_rows)
    if int(samples) < 2:
        raise EvaluationError(f"samples must be >= 2 (or None for every point), got {samples}")
    return torch.randint(num_rows, (int(samples),), generator=generator)


class FactorGroups:
    """The rows of each value of each factor, for drawing rows that share a factor value.

    labels (N, K) in 0..V_k-1. For factor k, ``order[k]`` lists the rows sorted by value, and the
    rows of value v are ``order[k][start[k][v] : start[k][v] + count[k][v]]``.
    """

    def __init__(self, labels: np.ndarray) -> None:
        self.labels = labels
        self.order = [np.argsort(column, kind="stable") for column in labels.T]
        self.count = [np.bincount(column) for column in labels.T]
        self.start = [np.cumsum(count) - count for count in self.count]

    def sharing(self, factor: np.ndarray, anchors: np.ndarray, rng: np.random.Generator):
        """For each anchor row, one row drawn uniformly among those whose factor ``factor``
        (one factor index per anchor, broadcast against anchors) takes the anchor's value."""
        factor = np.broadcast_to(factor, anchors.shape)
        out = np.empty(anchors.shape, dtype=np.int64)
        for k in np.unique(factor):
            pick = factor == k
            value = self.labels[anchors[pick], k]
            offset = np.floor(rng.random(value.shape) * self.count[k][value]).astype(np.int64)
            out[pick] = self.order[k][self.start[k][value] + offset]
        return out
