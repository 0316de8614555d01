"""The BetaVAE score (Higgins et al. 2017), disentanglement_lib's protocol.

One example: pick a factor k uniformly; draw ``batch_size`` pairs of points that share the value
of v_k (everything else drawn independently); the feature is the mean absolute difference of
their codes, f = (1/B) sum_b |c(x_b) - c(x'_b)| (D,), and the label is k. A linear classifier
(logistic regression) is trained on ``num_train`` examples; the score is its accuracy on
``num_eval`` fresh ones. A dimension that encodes v_k alone has a small difference exactly when
k is fixed, so a disentangled code scores 1; codes unrelated to the factors score about 1/K.

Protocol as in unsupervised_study_v1 (batch 64, 10,000 training and 5,000 evaluation examples),
with pairs drawn as rows of the encoded data set (:class:`~tcvae.evaluation.sampling.FactorGroups`:
the reference's distribution on a full grid) and scikit-learn's ``lbfgs`` multinomial logistic
regression (C = 1, ``max_iter`` 1000; the study's scikit-learn defaulted to ``liblinear``
one-vs-rest). Features are not standardised (as in the reference), so the score depends on each
dimension's scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tcvae.evaluation.inputs import ArrayLike, EvaluationError, check_counts, codes_and_labels
from tcvae.evaluation.results import ShownAsTables
from tcvae.evaluation.sampling import FactorGroups

LOGISTIC_MAX_ITER = 1000
PROTOCOL = (
    "beta_vae (disentanglement_lib: mean |c1 - c2| over 64 pairs sharing one factor, "
    "lbfgs LogisticRegression, pairs drawn from the encoded data set)"
)


@dataclass(frozen=True)
class BetaVAEScoreResult(ShownAsTables):
    """BetaVAE score (evaluation accuracy) with the training accuracy and the evaluation
    accuracy per fixed factor (K,)."""

    beta_vae: float
    train_accuracy: float
    factor_names: tuple[str, ...]
    accuracy_per_factor: np.ndarray
    batch_size: int
    num_train: int
    num_eval: int
    seed: int
    protocol: str = PROTOCOL


def beta_vae_examples(
    codes: np.ndarray,
    groups: FactorGroups,
    num_examples: int,
    batch_size: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Features (num_examples, D) and labels (num_examples,): the mean |c1 - c2| over
    ``batch_size`` pairs of rows sharing the value of the labelled factor."""
    num_factors = groups.labels.shape[1]
    labels = rng.integers(0, num_factors, size=num_examples)
    first = rng.integers(0, len(codes), size=(num_examples, batch_size))
    second = groups.sharing(labels[:, None], first, rng)
    features = np.abs(codes[first] - codes[second]).mean(1)
    return features, labels


def beta_vae_score(
    codes: ArrayLike,
    factor_classes: ArrayLike,
    factor_names: Sequence[str] | None = None,
    factors: Sequence[str | int] | None = None,
    batch_size: int = 64,
    num_train: int = 10_000,
    num_eval: int = 5_000,
    seed: int = 0,
) -> BetaVAEScoreResult:
    """BetaVAE score of codes (N, D) against factor classes (N, K).

    factors: names or indices that may be fixed, default every factor with more than one value
    (K >= 2); seed: every draw and the classifier's.
    """
    from sklearn.linear_model import LogisticRegression

    why = "the BetaVAE score predicts which factor was fixed"
    x, y, names = codes_and_labels(codes, factor_classes, factor_names, factors, why, min_factors=2)
    batch_size, num_train, num_eval = check_counts(
        batch_size=(batch_size, 1), num_train=(num_train, 2), num_eval=(num_eval, 1)
    )
    rng = np.random.default_rng(int(seed))
    groups = FactorGroups(y)
    train_x, train_y = beta_vae_examples(x, groups, num_train, batch_size, rng)
    eval_x, eval_y = beta_vae_examples(x, groups, num_eval, batch_size, rng)
    if np.unique(train_y).size < 2:
        raise EvaluationError(f"only one factor was drawn in {num_train} examples; raise num_train")
    model = LogisticRegression(max_iter=LOGISTIC_MAX_ITER, random_state=int(seed))
    model.fit(train_x, train_y)
    correct = model.predict(eval_x) == eval_y
    per_factor = np.array(
        [correct[eval_y == k].mean() if (eval_y == k).any() else np.nan for k in range(len(names))]
    )
    return BetaVAEScoreResult(
        beta_vae=float(correct.mean()),
        train_accuracy=float(np.mean(model.predict(train_x) == train_y)),
        factor_names=tuple(names),
        accuracy_per_factor=per_factor,
        batch_size=batch_size,
        num_train=num_train,
        num_eval=num_eval,
        seed=int(seed),
    )
