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
    EvaluationError,
    as_factor_classes,
    as_float_matrix,
    dense_labels,
    resolve_factors,
)
from tcvae.evaluation.results import ShownAsTables, result_dict

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

    def to_dict(self) -> dict:
        """A JSON-ready dictionary (arrays as nested lists)."""
        return result_dict(self, "mig_discrete")


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
    codes = as_float_matrix(codes, "codes")
    n, d = codes.shape
    if d < 2:
        raise EvaluationError(
            f"MIG compares the two most informative dimensions, so it needs D >= 2, got D={d}"
        )
    if int(bins) < 2:
        raise EvaluationError(f"bins must be >= 2, got {bins}")
    if int(num_points) < 2:
        raise EvaluationError(f"num_points must be >= 2, got {num_points}")
    classes = as_factor_classes(factor_classes, n)
    if n > num_points:
        keep = torch.randperm(n, generator=torch.Generator().manual_seed(int(seed)))[:num_points]
        codes, classes = codes[keep], classes[keep]
    columns, names = resolve_factors(classes, factor_names, factors)
    binned = discretize(codes, int(bins))
    info, entropy = [], []
    for k in columns:
        labels, counts = dense_labels(classes[:, k])
        info.append(discrete_mutual_information(binned, int(bins), labels, counts.numel()))
        p = counts.to(torch.float64) / counts.sum()
        entropy.append(-(p * p.log()).sum())
    info_t, entropy_t = torch.stack(info), torch.stack(entropy)
    top = info_t.topk(2, dim=1)
    gaps = (top.values[:, 0] - top.values[:, 1]) / entropy_t
    return DiscreteMIGResult(
        mig_discrete=float(gaps.mean()),
        factor_names=tuple(names),
        mutual_information=info_t.numpy(),
        factor_entropy=entropy_t.numpy(),
        gaps=gaps.numpy(),
        latent=top.indices[:, 0].numpy(),
        num_points=int(codes.shape[0]),
        bins=int(bins),
        seed=int(seed),
    )
