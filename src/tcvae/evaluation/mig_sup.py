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

from tcvae.evaluation.inputs import ArrayLike, check_counts, codes_and_labels
from tcvae.evaluation.mig_discrete import discrete_information
from tcvae.evaluation.results import ShownAsTables
from tcvae.evaluation.sampling import subsample_rows

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


def mig_sup_from_mutual_information(normalized: ArrayLike) -> tuple[float, np.ndarray]:
    """MIG-sup and the per-dimension gaps (D,) of normalised mutual information (D, K), K >= 2."""
    top = np.sort(np.asarray(normalized, dtype=np.float64), axis=1)
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
    why = "MIG-sup compares the two factors a dimension informs most about"
    x, y, names = codes_and_labels(codes, factor_classes, factor_names, factors, why, min_factors=2)
    num_points, bins = check_counts(num_points=(num_points, 2), bins=(bins, 2))
    rows = subsample_rows(len(x), num_points, seed)
    info, entropy = discrete_information(x[rows], y[rows], bins, names)
    normalized = (info / entropy.unsqueeze(1)).T.numpy()
    score, gaps = mig_sup_from_mutual_information(normalized)
    return MIGSupResult(
        mig_sup=score,
        factor_names=tuple(names),
        normalized_mutual_information=normalized,
        factor_entropy=entropy.numpy(),
        gaps=gaps,
        factor=normalized.argmax(1),
        num_points=len(rows),
        bins=bins,
        seed=int(seed),
    )
