"""The FactorVAE score (Kim & Mnih 2018), disentanglement_lib's protocol.

Each code dimension is first scaled by its standard deviation s_j over ``num_variance_estimate``
random points (ddof 1); dimensions with s_j < ``prune_threshold`` count as collapsed and are left
out. One vote: pick a factor k uniformly, draw ``batch_size`` points sharing one value of v_k,
and vote for the active dimension with the smallest normalised variance var_batch(c_j) / s_j^2
(ddof 1). A majority-vote classifier maps each dimension to the factor it collected most training
votes for (``num_train`` votes); the score is the share of ``num_eval`` fresh votes it gets right:

    score = sum_j V_eval[k*(j), j] / sum_jk V_eval[k, j],    k*(j) = argmax_k V_train[k, j]

A disentangled code scores 1; codes unrelated to the factors score about 1/K.

Protocol as in unsupervised_study_v1: batch 64, 10,000 training and 5,000 evaluation votes,
10,000 points (drawn with replacement) for the variances, threshold 0.05; a code with no active
dimension scores 0. A batch is rows of the encoded data set sharing the value of v_k of a
uniformly drawn row (:class:`~tcvae.evaluation.sampling.FactorGroups`: the reference's
distribution on a full grid, without encoding again).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tcvae.evaluation.inputs import ArrayLike, check_counts, codes_and_labels
from tcvae.evaluation.results import ShownAsTables
from tcvae.evaluation.sampling import FactorGroups

PROTOCOL = (
    "factor_vae (disentanglement_lib: argmin normalised variance over 64 points sharing one "
    "factor, majority vote, batches drawn from the encoded data set)"
)


@dataclass(frozen=True)
class FactorVAEScoreResult(ShownAsTables):
    """FactorVAE score (evaluation accuracy) and its parts: votes_train / votes_eval (K, D),
    the factor each dimension votes for (D,), the active dimensions (D,) and their scales (D,)."""

    factor_vae: float
    train_accuracy: float
    factor_names: tuple[str, ...]
    votes_train: np.ndarray
    votes_eval: np.ndarray
    classifier: np.ndarray
    active: np.ndarray
    scale: np.ndarray
    num_active: int
    batch_size: int
    num_train: int
    num_eval: int
    num_variance_estimate: int
    prune_threshold: float
    seed: int
    protocol: str = PROTOCOL


def majority_vote_accuracy(votes_train: ArrayLike, votes_eval: ArrayLike) -> float:
    """Share of the votes (K, D) in ``votes_eval`` that go to the factor each dimension collected
    most ``votes_train`` for (the lowest factor index on ties)."""
    train, test = np.asarray(votes_train), np.asarray(votes_eval)
    classifier = train.argmax(0)
    return float(test[classifier, np.arange(test.shape[1])].sum() / test.sum())


def factor_vae_votes(
    codes: np.ndarray,
    groups: FactorGroups,
    scale: np.ndarray,
    active: np.ndarray,
    num_votes: int,
    batch_size: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Votes (K, D): how often each dimension had the smallest normalised variance when each
    factor was fixed over ``batch_size`` rows."""
    num_factors = groups.labels.shape[1]
    fixed = rng.integers(0, num_factors, size=num_votes)
    anchor = rng.integers(0, len(codes), size=num_votes)
    rows = groups.sharing(fixed[:, None], np.repeat(anchor[:, None], batch_size, 1), rng)
    columns = np.flatnonzero(active)
    local = codes[rows][:, :, columns].var(1, ddof=1) / scale[columns] ** 2
    winner = columns[local.argmin(1)]
    votes = np.zeros((num_factors, codes.shape[1]), dtype=np.int64)
    np.add.at(votes, (fixed, winner), 1)
    return votes


def factor_vae_score(
    codes: ArrayLike,
    factor_classes: ArrayLike,
    factor_names: Sequence[str] | None = None,
    factors: Sequence[str | int] | None = None,
    batch_size: int = 64,
    num_train: int = 10_000,
    num_eval: int = 5_000,
    num_variance_estimate: int = 10_000,
    prune_threshold: float = 0.05,
    seed: int = 0,
) -> FactorVAEScoreResult:
    """FactorVAE score of codes (N, D) against factor classes (N, K).

    factors: names or indices that may be fixed, default every factor with more than one value
    (K >= 2); prune_threshold: dimensions with a smaller standard deviation are ignored; seed:
    every draw.
    """
    why = "the FactorVAE score predicts which factor was fixed"
    x, y, names = codes_and_labels(codes, factor_classes, factor_names, factors, why, min_factors=2)
    batch_size, num_train, num_eval, num_variance_estimate = check_counts(
        batch_size=(batch_size, 2),
        num_train=(num_train, 1),
        num_eval=(num_eval, 1),
        num_variance_estimate=(num_variance_estimate, 2),
    )
    rng = np.random.default_rng(int(seed))
    scale = x[rng.integers(0, len(x), num_variance_estimate)].std(0, ddof=1)
    active = scale >= prune_threshold
    votes_train = votes_eval = np.zeros((len(names), x.shape[1]), dtype=np.int64)
    train_accuracy = accuracy = 0.0  # no active dimension: no vote
    if active.any():
        groups = FactorGroups(y)
        votes_train = factor_vae_votes(x, groups, scale, active, num_train, batch_size, rng)
        votes_eval = factor_vae_votes(x, groups, scale, active, num_eval, batch_size, rng)
        train_accuracy = majority_vote_accuracy(votes_train, votes_train)
        accuracy = majority_vote_accuracy(votes_train, votes_eval)
    return FactorVAEScoreResult(
        factor_vae=accuracy,
        train_accuracy=train_accuracy,
        factor_names=tuple(names),
        votes_train=votes_train,
        votes_eval=votes_eval,
        classifier=votes_train.argmax(0),
        active=active,
        scale=scale,
        num_active=int(active.sum()),
        batch_size=batch_size,
        num_train=num_train,
        num_eval=num_eval,
        num_variance_estimate=num_variance_estimate,
        prune_threshold=float(prune_threshold),
        seed=int(seed),
    )
