"""MIG-sup (Li et al. 2020): MIG's gap taken the other way round, per latent over factors.

MIG asks that each factor be captured by one dimension; MIG-sup asks that each dimension capture
one factor at most. With the discretised estimates of :mod:`tcvae.evaluation.mig_discrete`
(``bins`` equal-width bins, plug-in mutual information in nats) and the normalised
information I_jk = I(c_j; v_k) / H(v_k),

    MIG-sup = (1/D) sum_j [ I_(1)j - I_(2)j ]     (first and second largest I_jk over factors k)

Every dimension counts, so a dimension that encodes nothing adds a gap of about 0. Points are
``num_points`` rows drawn without replacement (all of them when N <= num_points), as for the
discretised MIG: with the same ``num_points``, ``bins`` and ``seed`` both read the same
information matrix, one along its rows, the other along its columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from tcvae.evaluation.inputs import ArrayLike, EvaluationError, codes_and_labels
from tcvae.evaluation.mig_discrete import discrete_mutual_information, discretize
from tcvae.evaluation.results import ShownAsTables, result_dict

PROTOCOL = "mig_sup (Li et al. 2020, on disentanglement_lib's 20-bin plug-in estimates)"


@dataclass(frozen=True)
class MIGSupResult(ShownAsTables):
    """MIG-sup and its parts: normalized_mutual_information (D, K) = I(c_j; v_k) / H(v_k),
    gaps (D,) per dimension, factor (D,) the factor each dimension informs most about."""

    mig_sup: float
    factor_names: tuple[str, ...]
    normalized_mutual_information: np.ndarray
    factor_entropy: np.ndarray
    gaps: np.ndarray
    factor: np.ndarray
    num_points: int
    bins: int
    seed: int
    protocol: str = PROTOCOL

    def to_dict(self) -> dict:
        """A JSON-ready dictionary (arrays as nested lists)."""
        return result_dict(self, "mig_sup")


def mig_sup_from_mutual_information(normalized: ArrayLike) -> tuple[float, np.ndarray]:
    """MIG-sup and the per-dimension gaps (D,) of normalised mutual information (D, K), K >= 2."""
    m = np.asarray(normalized, dtype=np.float64)
    if m.ndim != 2 or m.shape[1] < 2:
        raise EvaluationError(
            f"MIG-sup needs a (D, K) information matrix with K >= 2 factors, got {m.shape}"
        )
    top = np.sort(m, axis=1)
    gaps = top[:, -1] - top[:, -2]
    return float(gaps.mean()), gaps


def mig_sup(
    codes: ArrayLike,
    factor_classes: ArrayLike,
    factor_names: Sequence[str] | None = None,
    factors: Sequence[str | int] | None = None,
    num_points: int = 10_000,
    bins: int = 20,
    seed: int = 0,
) -> MIGSupResult:
    """MIG-sup of codes (N, D) against factor classes (N, K).

    factors: names or indices to score, default every factor with more than one value (at least
    two needed); num_points: rows drawn without replacement; seed: that draw.
    """
    x, y, names = codes_and_labels(codes, factor_classes, factor_names, factors)
    if len(names) < 2:
        raise EvaluationError(
            "MIG-sup compares the two factors a dimension informs most about, so it needs K >= 2 "
            f"factors, got {names}; score at least two factors"
        )
    if int(bins) < 2:
        raise EvaluationError(f"bins must be >= 2, got {bins}")
    if int(num_points) < 2:
        raise EvaluationError(f"num_points must be >= 2, got {num_points}")
    if len(x) > num_points:
        keep = torch.randperm(len(x), generator=torch.Generator().manual_seed(int(seed)))
        x, y = x[keep[: int(num_points)].numpy()], y[keep[: int(num_points)].numpy()]
    binned = discretize(torch.from_numpy(x), int(bins))
    info, entropy = [], []
    for k in range(len(names)):
        labels = torch.from_numpy(y[:, k])
        counts = torch.bincount(labels)
        info.append(discrete_mutual_information(binned, int(bins), labels, counts.numel()))
        p = counts[counts > 0].to(torch.float64) / len(labels)
        entropy.append(-(p * p.log()).sum())
    entropy_t = torch.stack(entropy)
    if bool((entropy_t == 0).any()):
        flat = [n for n, h in zip(names, entropy_t.tolist()) if h == 0]
        raise EvaluationError(
            f"factor(s) {flat} take one value in the {len(x)} drawn points; raise num_points"
        )
    normalized = (torch.stack(info, 1) / entropy_t).numpy()
    score, gaps = mig_sup_from_mutual_information(normalized)
    return MIGSupResult(
        mig_sup=score,
        factor_names=tuple(names),
        normalized_mutual_information=normalized,
        factor_entropy=entropy_t.numpy(),
        gaps=gaps,
        factor=normalized.argmax(1),
        num_points=len(x),
        bins=int(bins),
        seed=int(seed),
    )
