"""Modularity and explicitness (Ridgeway & Mozer 2018), disentanglement_lib's protocol.

Modularity: each code dimension should carry information about one factor at most. With
m_jk = I(c_j; v_k) (plug-in estimate from ``bins`` equal-width bins per dimension, nats, as in
:mod:`tcvae.evaluation.mig_discrete`) and theta_j = max_k m_jk^2,

    delta_j = (sum_k m_jk^2 - theta_j) / (theta_j (K - 1)),     modularity_j = 1 - delta_j

(0 for a dimension with theta_j = 0, i.e. no information); modularity = mean_j modularity_j.

Explicitness: the factors should be linearly decodable. Each dimension is standardised with the
training points' mean and standard deviation (a constant dimension is only centred); per factor, a
multinomial logistic regression is trained on all codes and scored by the ROC-AUC of its class
probabilities on the test points, one-vs-rest and averaged over classes (macro); explicitness =
mean over factors.

Protocol as in unsupervised_study_v1: 10,000 training and 5,000 test points, drawn as rows
uniformly with replacement (:mod:`tcvae.evaluation.sampling`); 20 bins; modularity from the
training points. Choices fixed here and recorded in the result: scikit-learn's ``lbfgs`` solver
(multinomial, C = 1, ``max_iter`` 1000; scikit-learn before 0.22, which that study used,
defaulted to ``liblinear`` one-vs-rest); classes absent from the test points, or never seen in
training, are left out of the test AUC average (disentanglement_lib fails on them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from tcvae.evaluation.inputs import ArrayLike, EvaluationError, codes_and_labels
from tcvae.evaluation.mig_discrete import discrete_mutual_information, discretize
from tcvae.evaluation.results import ShownAsTables, result_dict
from tcvae.evaluation.sampling import draw_rows

LOGISTIC_MAX_ITER = 1000
PROTOCOL = (
    "modularity_explicitness (disentanglement_lib: 20-bin plug-in MI; "
    "explicitness = test ROC-AUC of lbfgs LogisticRegression on standardised codes)"
)


@dataclass(frozen=True)
class ModularityExplicitnessResult(ShownAsTables):
    """Modularity and explicitness with their parts: mutual_information (D, K) in nats,
    modularity_per_code (D,), explicitness_per_factor (K,) test AUC (train AUC alongside)."""

    modularity: float
    explicitness: float
    explicitness_train: float
    factor_names: tuple[str, ...]
    mutual_information: np.ndarray
    modularity_per_code: np.ndarray
    explicitness_per_factor: np.ndarray
    explicitness_train_per_factor: np.ndarray
    num_train: int
    num_test: int
    bins: int
    seed: int
    protocol: str = PROTOCOL

    def to_dict(self) -> dict:
        """A JSON-ready dictionary (arrays as nested lists)."""
        return result_dict(self, "modularity", "explicitness")


def modularity_from_mutual_information(mutual_information: ArrayLike) -> tuple[float, np.ndarray]:
    """Modularity and its per-code values (D,) from a mutual information matrix m (D, K), K >= 2."""
    m = np.asarray(mutual_information, dtype=np.float64)
    if m.ndim != 2 or m.shape[1] < 2:
        raise EvaluationError(
            "modularity needs a (D, K) mutual information matrix with K >= 2 factors, "
            f"got {m.shape}"
        )
    squared = m**2
    theta = squared.max(1)
    informative = theta > 0
    delta = (squared.sum(1) - theta) / np.where(informative, theta * (m.shape[1] - 1), 1.0)
    per_code = np.where(informative, 1.0 - delta, 0.0)
    return float(per_code.mean()), per_code


def modularity_explicitness(
    codes: ArrayLike,
    factor_classes: ArrayLike,
    factor_names: Sequence[str] | None = None,
    factors: Sequence[str | int] | None = None,
    num_train: int = 10_000,
    num_test: int = 5_000,
    bins: int = 20,
    seed: int = 0,
) -> ModularityExplicitnessResult:
    """Modularity and explicitness of codes (N, D) against factor classes (N, K).

    factors: names or indices to score, default every factor with more than one value (K >= 2
    needed for modularity); seed: the draw of the training and test rows.
    """
    x, y, names = codes_and_labels(codes, factor_classes, factor_names, factors)
    if len(names) < 2:
        raise EvaluationError(
            f"modularity compares a code's information across factors, so it needs K >= 2 "
            f"factors, got {names}; score at least two factors"
        )
    if int(bins) < 2:
        raise EvaluationError(f"bins must be >= 2, got {bins}")
    if int(num_train) < 2 or int(num_test) < 1:
        raise EvaluationError(
            f"needs num_train >= 2 and num_test >= 1, got {num_train} and {num_test}"
        )
    rng = np.random.default_rng(int(seed))
    train = draw_rows(len(x), num_train, rng)
    test = draw_rows(len(x), num_test, rng)
    x_train, x_test, y_train, y_test = x[train], x[test], y[train], y[test]

    binned = discretize(torch.from_numpy(x_train), int(bins))
    info = torch.stack(
        [
            discrete_mutual_information(
                binned, int(bins), torch.from_numpy(y_train[:, k]), int(y[:, k].max()) + 1
            )
            for k in range(len(names))
        ],
        1,
    ).numpy()
    score, per_code = modularity_from_mutual_information(info)

    mean, std = x_train.mean(0), x_train.std(0)
    std[std == 0] = 1.0
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    auc = np.array(
        [
            _explicitness(x_train, y_train[:, k], x_test, y_test[:, k], names[k], int(seed))
            for k in range(len(names))
        ]
    )
    return ModularityExplicitnessResult(
        modularity=score,
        explicitness=float(auc[:, 1].mean()),
        explicitness_train=float(auc[:, 0].mean()),
        factor_names=tuple(names),
        mutual_information=info,
        modularity_per_code=per_code,
        explicitness_per_factor=auc[:, 1],
        explicitness_train_per_factor=auc[:, 0],
        num_train=int(num_train),
        num_test=int(num_test),
        bins=int(bins),
        seed=int(seed),
    )


def _explicitness(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    name: str,
    seed: int,
) -> tuple[float, float]:
    """Train and test macro ROC-AUC of a logistic regression predicting one factor."""
    from sklearn.linear_model import LogisticRegression

    if np.unique(y_train).size < 2:
        raise EvaluationError(
            f"factor {name!r} takes one value in the training points; raise num_train"
        )
    model = LogisticRegression(max_iter=LOGISTIC_MAX_ITER, random_state=seed)
    model.fit(x_train, y_train)
    return (
        macro_auc(model.classes_, model.predict_proba(x_train), y_train),
        macro_auc(model.classes_, model.predict_proba(x_test), y_test),
    )


def macro_auc(classes: np.ndarray, proba: np.ndarray, labels: np.ndarray) -> float:
    """Mean one-vs-rest ROC-AUC of the probability columns (one per entry of ``classes``) over
    the classes that occur in ``labels`` without filling them; 0.5 when none does."""
    from sklearn.metrics import roc_auc_score

    aucs = []
    for c, cls in enumerate(classes):
        positive = labels == cls
        if 0 < positive.sum() < len(labels):
            aucs.append(roc_auc_score(positive, proba[:, c]))
    return float(np.mean(aucs)) if aucs else 0.5
