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

from tcvae.evaluation.beta_vae_score import LOGISTIC_MAX_ITER
from tcvae.evaluation.inputs import ArrayLike, check_counts, codes_and_labels
from tcvae.evaluation.mig_discrete import discrete_information
from tcvae.evaluation.results import ShownAsTables
from tcvae.evaluation.sampling import standardized, train_test_rows

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


def modularity_from_mutual_information(mutual_information: ArrayLike) -> tuple[float, np.ndarray]:
    """Modularity and its per-code values (D,) from a mutual information matrix m (D, K), K >= 2."""
    m = np.asarray(mutual_information, dtype=np.float64)
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
    why = "modularity compares a code's information across factors"
    x, y, names = codes_and_labels(codes, factor_classes, factor_names, factors, why, min_factors=2)
    num_train, num_test, bins = check_counts(
        num_train=(num_train, 2), num_test=(num_test, 1), bins=(bins, 2)
    )
    train, test = train_test_rows(len(x), num_train, num_test, seed)
    x_train, x_test, y_train, y_test = x[train], x[test], y[train], y[test]
    info = discrete_information(x_train, y_train, bins, names)[0].T.numpy()
    score, per_code = modularity_from_mutual_information(info)
    x_train, x_test = standardized(x_train, x_test)
    auc = np.array(
        [
            _explicitness(x_train, y_train[:, k], x_test, y_test[:, k], int(seed))
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
        num_train=num_train,
        num_test=num_test,
        bins=bins,
        seed=int(seed),
    )


def _explicitness(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    seed: int,
) -> tuple[float, float]:
    """Train and test macro ROC-AUC of a logistic regression predicting one factor."""
    from sklearn.linear_model import LogisticRegression

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
