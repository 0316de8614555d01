"""SAP, the Separated Attribute Predictability score (Kumar et al. 2018, section 3).

A score matrix S (D, K) says how well each single code dimension c_j predicts each factor v_k;
SAP is the mean over factors of the gap between the two best dimensions:

    SAP = (1/K) sum_k [ S_(1)k - S_(2)k ]       (first and second largest S_jk over j)

S_jk follows disentanglement_lib (unsupervised_study_v1: 10,000 training and 5,000 test points):

* discrete factors (the default, as in that study): the test accuracy of a linear SVM
  (``LinearSVC(C=0.01, class_weight="balanced")``, one-vs-rest) trained on the 1-D code c_j alone.
  We fix ``dual=False`` (the primal problem; the optimum is the same convex problem's, and it
  does not depend on the default, which changed across scikit-learn versions). Even for a
  perfect code the second-best dimension predicts at chance (about 1/V for V balanced values),
  and a linear one-vs-rest classifier on one dimension separates few of many values, so
  perfect codes score well below 1: at most 1/2 for binary factors, about 0.3 on dSprites.
* continuous factors: the squared correlation of c_j and the factor's class on the training
  points, cov(c_j, v_k)^2 / (var c_j var v_k), 0 for a constant c_j; near 1 for perfect codes.

Points are rows drawn uniformly with replacement from the encoded data set
(:mod:`tcvae.evaluation.sampling`). The continuous score is invariant to any affine change of
each dimension; the discrete one is not (the SVM's penalty and its regularised intercept see the
code's scale), as in disentanglement_lib: pass ``standardize=True`` to standardise each dimension
on the training points first, which makes it so (and departs from that protocol).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tcvae.evaluation.inputs import (
    ArrayLike,
    check_counts,
    check_drawn,
    codes_and_labels,
)
from tcvae.evaluation.results import ShownAsTables
from tcvae.evaluation.sampling import standardized, train_test_rows

SVM_C = 0.01
# Below this variance a code dimension is treated as constant (continuous score 0).
MIN_VARIANCE = 1e-12


@dataclass(frozen=True)
class SAPResult(ShownAsTables):
    """SAP and its score matrix (D, K); gaps (K,) per factor; latent (K,) the best dimension."""

    sap: float
    factor_names: tuple[str, ...]
    score_matrix: np.ndarray
    gaps: np.ndarray
    latent: np.ndarray
    continuous_factors: bool
    standardize: bool
    num_train: int
    num_test: int
    seed: int
    protocol: str


def sap_from_score_matrix(score_matrix: ArrayLike) -> tuple[float, np.ndarray]:
    """SAP and the per-factor gaps (K,) of a score matrix S (D, K), D >= 2."""
    top = np.sort(np.asarray(score_matrix, dtype=np.float64), axis=0)
    gaps = top[-1] - top[-2]
    return float(gaps.mean()), gaps


def sap(
    codes: ArrayLike,
    factor_classes: ArrayLike,
    factor_names: Sequence[str] | None = None,
    factors: Sequence[str | int] | None = None,
    num_train: int = 10_000,
    num_test: int = 5_000,
    continuous_factors: bool = False,
    standardize: bool = False,
    seed: int = 0,
) -> SAPResult:
    """SAP score of codes (N, D) against factor classes (N, K).

    factors: names or indices to score, default every factor with more than one value;
    continuous_factors: score by squared correlation instead of 1-D SVM accuracy; seed: the draw
    of the training and test rows and the SVM's.
    """
    from sklearn.svm import LinearSVC

    why = "SAP compares the two most predictive code dimensions"
    x, y, names = codes_and_labels(codes, factor_classes, factor_names, factors, why, min_dims=2)
    num_train, num_test = check_counts(num_train=(num_train, 2), num_test=(num_test, 1))
    train, test = train_test_rows(len(x), num_train, num_test, seed)
    x_train, x_test = x[train], x[test]
    check_drawn(y[train], names)
    if standardize:
        x_train, x_test = standardized(x_train, x_test)
    d = x.shape[1]
    scores = np.zeros((d, len(names)))
    for k in range(len(names)):
        y_train, y_test = y[train, k], y[test, k]
        if continuous_factors:
            scores[:, k] = squared_correlation(x_train, y_train.astype(np.float64))
            continue
        for j in range(d):
            svm = LinearSVC(C=SVM_C, class_weight="balanced", dual=False, random_state=int(seed))
            svm.fit(x_train[:, j : j + 1], y_train)
            scores[j, k] = np.mean(svm.predict(x_test[:, j : j + 1]) == y_test)
    score, gaps = sap_from_score_matrix(scores)
    kind = "continuous: squared correlation" if continuous_factors else "discrete: 1-D LinearSVC"
    return SAPResult(
        sap=score,
        factor_names=tuple(names),
        score_matrix=scores,
        gaps=gaps,
        latent=scores.argmax(0),
        continuous_factors=bool(continuous_factors),
        standardize=bool(standardize),
        num_train=num_train,
        num_test=num_test,
        seed=int(seed),
        protocol=f"sap (disentanglement_lib, {kind}"
        + (", standardised codes)" if standardize else ")"),
    )


def squared_correlation(x: ArrayLike, v: ArrayLike) -> np.ndarray:
    """cov(x_j, v)^2 / (var x_j var v) per column of x (N, D), ddof 1; 0 where var x_j is ~0."""
    x, v = np.asarray(x, dtype=np.float64), np.asarray(v, dtype=np.float64)
    xc, vc = x - x.mean(0), v - v.mean()
    n = len(v) - 1
    cov, var_x, var_v = xc.T @ vc / n, (xc**2).sum(0) / n, (vc**2).sum() / n
    ok = var_x > MIN_VARIANCE
    return np.where(ok, cov**2 / np.where(ok, var_x, 1.0) / var_v, 0.0)
