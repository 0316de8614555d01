"""Discretised MIG, disentanglement_lib's protocol (REFERENCE.md section 6).

Take the codes (posterior means, or any representation) of ``num_points`` random points, cut each
dimension into ``bins`` equal-width bins between its minimum and maximum, and compute plug-in
(histogram) estimates in nats:

    I(c_j; v_k) = sum_{a,b} p(a, b) log [p(a, b) / (p(a) p(b))],   H(v_k) = -sum_b p(b) log p(b)
    MIG_discrete = mean_k [I_(1)(k) - I_(2)(k)] / H(v_k)

This is a different estimator from the paper's :func:`~tcvae.evaluation.mig.mig` (which uses the
full posteriors); the two numbers are not comparable and are labelled apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from tcvae.evaluation.inputs import (
    ArrayLike,
    check_counts,
    check_drawn,
    codes_and_labels,
    plugin_entropy,
)
from tcvae.evaluation.results import ShownAsTables
from tcvae.evaluation.sampling import subsample_rows

PROTOCOL = "mig_discrete (disentanglement_lib: equal-width bins, plug-in estimates)"


@dataclass(frozen=True)
class DiscreteMIGResult(ShownAsTables):
    """Discretised MIG and its parts: mutual_information (K, D) and factor_entropy (K,) in nats,
    gaps (K,) normalised, latent (K,) the most informative dimension per factor."""

    mig_discrete: float
    factor_names: tuple[str, ...]
    mutual_information: np.ndarray
    factor_entropy: np.ndarray
    gaps: np.ndarray
    latent: np.ndarray
    num_points: int
    bins: int
    seed: int
    protocol: str = PROTOCOL


def discretize(codes: Tensor, bins: int) -> Tensor:
    """Equal-width bin index in [0, bins) of every entry of codes (N, D), per column; the
    maximum falls in the last bin (numpy ``digitize`` on the histogram's left edges)."""
    lo, hi = codes.min(0).values, codes.max(0).values
    width = (hi - lo) / bins
    inner = lo + torch.arange(1, bins, dtype=torch.float64).unsqueeze(1) * width  # (bins-1, D)
    return torch.stack(
        [
            torch.bucketize(codes[:, j].contiguous(), inner[:, j].contiguous(), right=True)
            for j in range(codes.shape[1])
        ],
        1,
    )


def discrete_mutual_information(a: Tensor, num_a: int, b: Tensor, num_b: int) -> Tensor:
    """Plug-in I(a_j; b) in nats for integer codes a (N, D) in [0, num_a) and labels b (N,) in
    [0, num_b): (D,), from one joint histogram per column."""
    n, d = a.shape
    index = (torch.arange(d) * (num_a * num_b)).unsqueeze(0) + a * num_b + b.unsqueeze(1)
    joint = torch.bincount(index.reshape(-1), minlength=d * num_a * num_b)
    p = joint.view(d, num_a, num_b).to(torch.float64) / n
    outer = p.sum(2, keepdim=True) * p.sum(1, keepdim=True)
    terms = torch.where(p > 0, p * (p / outer.clamp_min(1e-300)).log(), 0.0)
    return terms.sum((1, 2))


def discrete_information(
    codes: np.ndarray, labels: np.ndarray, bins: int, names: Sequence[str]
) -> tuple[Tensor, Tensor]:
    """Plug-in I(c_j; v_k) (K, D) of codes (N, D) cut into ``bins`` equal-width bins and the
    labels (N, K) of the factors called ``names``, with their plug-in entropies H(v_k) (K,),
    in nats. Each factor must take two values or more among these points."""
    check_drawn(labels, names)
    binned = discretize(torch.from_numpy(codes), bins)
    info, entropy = [], []
    for column in torch.from_numpy(labels).T:
        counts = torch.bincount(column)
        info.append(discrete_mutual_information(binned, bins, column, counts.numel()))
        entropy.append(plugin_entropy(counts))
    return torch.stack(info), torch.stack(entropy)


def mig_discrete(
    codes: ArrayLike,
    factor_classes: ArrayLike,
    factor_names: Sequence[str] | None = None,
    factors: Sequence[str | int] | None = None,
    num_points: int = 10_000,
    bins: int = 20,
    seed: int = 0,
) -> DiscreteMIGResult:
    """Discretised MIG of codes (N, D) against factor classes (N, K).

    num_points: points drawn without replacement (all when N <= num_points); factors: names or
    indices to score, default every factor with more than one value (all five for dSprites).
    """
    why = "MIG compares the two most informative dimensions"
    x, y, names = codes_and_labels(codes, factor_classes, factor_names, factors, why, min_dims=2)
    num_points, bins = check_counts(num_points=(num_points, 2), bins=(bins, 2))
    rows = subsample_rows(len(x), num_points, seed)
    info, entropy = discrete_information(x[rows], y[rows], bins, names)
    top = info.topk(2, dim=1)
    gaps = (top.values[:, 0] - top.values[:, 1]) / entropy
    return DiscreteMIGResult(
        mig_discrete=float(gaps.mean()),
        factor_names=tuple(names),
        mutual_information=info.numpy(),
        factor_entropy=entropy.numpy(),
        gaps=gaps.numpy(),
        latent=top.indices[:, 0].numpy(),
        num_points=len(rows),
        bins=bins,
        seed=int(seed),
    )
