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
10,000 points for the variances, threshold 0.05; a code with no active dimension scores 0.
Where we differ and why: disentanglement_lib renders and encodes each batch anew; our data sets
are factor grids held in memory and encoded once, so a batch is ``batch_size`` rows of the encoded
data set drawn uniformly among those sharing the value of v_k of a uniformly drawn row
(:class:`~tcvae.evaluation.sampling.FactorGroups`): on a full grid, the reference's
distribution, without calling the encoder again. Points for the variances are drawn with
replacement, as in the reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tcvae.evaluation.inputs import ArrayLike, EvaluationError, codes_and_labels
from tcvae.evaluation.results import ShownAsTables, result_dict
from tcvae.evaluation.sampling import FactorGroups, draw_rows

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

    def to_dict(self) -> dict:
        """A JSON-ready dictionary (arrays as nested lists)."""
        return result_dict(self, "factor_vae")


def majority_vote_accuracy(votes_train: ArrayLike, votes_eval: ArrayLike) -> float:
    """Share of the votes (K, D) in ``votes_eval`` that go to the factor each dimension collected
    most ``votes_train`` for (the lowest factor index on ties)."""
    train, test = np.asarray(votes_train), np.asarray(votes_eval)
    if train.shape != test.shape or train.ndim != 2 or test.sum() <= 0:
        raise EvaluationError(
            f"vote matrices must share one (K, D) shape and hold votes, got {train.shape} and "
            f"{test.shape}"
        )
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
    rows = groups.sharing(
        np.repeat(fixed[:, None], batch_size, 1),
        np.repeat(anchor[:, None], batch_size, 1),
        rng,
    )
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
    x, y, names = codes_and_labels(codes, factor_classes, factor_names, factors)
    if len(names) < 2:
        raise EvaluationError(
            f"the FactorVAE score predicts which factor was fixed, so it needs K >= 2 factors, "
            f"got {names}"
        )
    if int(batch_size) < 2 or int(num_variance_estimate) < 2:
        raise EvaluationError(
            "variances need batch_size >= 2 and num_variance_estimate >= 2, got "
            f"{batch_size} and {num_variance_estimate}"
        )
    if int(num_train) < 1 or int(num_eval) < 1:
        raise EvaluationError(f"needs num_train, num_eval >= 1, got {num_train}, {num_eval}")
    rng = np.random.default_rng(int(seed))
    scale = x[draw_rows(len(x), num_variance_estimate, rng)].std(0, ddof=1)
    active = scale >= prune_threshold
    k, d = len(names), x.shape[1]
    common = dict(
        factor_names=tuple(names),
        active=active,
        scale=scale,
        num_active=int(active.sum()),
        batch_size=int(batch_size),
        num_train=int(num_train),
        num_eval=int(num_eval),
        num_variance_estimate=int(num_variance_estimate),
        prune_threshold=float(prune_threshold),
        seed=int(seed),
    )
    if not active.any():
        none = np.zeros((k, d), dtype=np.int64)
        return FactorVAEScoreResult(
            factor_vae=0.0,
            train_accuracy=0.0,
            votes_train=none,
            votes_eval=none,
            classifier=np.zeros(d, dtype=np.int64),
            **common,
        )
    groups = FactorGroups.from_labels(y)
    votes_train = factor_vae_votes(x, groups, scale, active, int(num_train), int(batch_size), rng)
    votes_eval = factor_vae_votes(x, groups, scale, active, int(num_eval), int(batch_size), rng)
    return FactorVAEScoreResult(
        factor_vae=majority_vote_accuracy(votes_train, votes_eval),
        train_accuracy=majority_vote_accuracy(votes_train, votes_train),
        votes_train=votes_train,
        votes_eval=votes_eval,
        classifier=votes_train.argmax(0),
        **common,
    )
