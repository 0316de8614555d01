"""DCI: disentanglement, completeness and informativeness (Eastwood & Williams 2018).

A predictor per factor v_k is trained on the codes c (D dims); the importance of each code
dimension for each factor fills a matrix R (D, K), R_jk >= 0. With H_b the entropy in base b:

    P_jk = R_jk / sum_k' R_jk'     D_j = 1 - H_K(P_j.)     rho_j = sum_k R_jk / sum_jk R_jk
    disentanglement = sum_j rho_j D_j

    P~_jk = R_jk / sum_j' R_j'k    C_k = 1 - H_D(P~_.k)    w_k = sum_j R_jk / sum_jk R_jk
    completeness = sum_k w_k C_k

    informativeness = mean_k test accuracy of the predictor of v_k

(0 log 0 = 0; a dimension, or a factor, with no importance at all scores 0 and has weight 0).

Protocols (``protocol=``):

* ``"reference"``: disentanglement_lib's (unsupervised_study_v1: 10,000 training and 5,000 test
  points): one ``GradientBoostingClassifier`` with scikit-learn's defaults per factor (100
  stages of depth-3 trees, learning rate 0.1), R its ``feature_importances_``. It fits one tree
  per class per stage: minutes on dSprites' 113 classes.
* ``"fast"``: the same boosting by ``HistGradientBoostingClassifier`` (255 quantile bins per
  dimension, no early stopping); R is each dimension's total split gain, normalised per factor
  like ``feature_importances_``. On 10,000 dSprites codes (``benchmarks/bench_metrics.py``)
  disentanglement and completeness agree with the reference within 0.03 at a twentieth of the
  CPU time; a model that memorises few repeated points can differ by 0.1 or more (the gains
  weigh splits by the loss's curvature). The gains are read from the fitted trees
  (``_predictors``), checked, with an error pointing to the reference protocol if scikit-learn
  changes them. Its OpenMP threads use every core by default; on a busy machine pass
  ``threads=1`` (or set ``OMP_NUM_THREADS=1``), as waiting threads can be tens of times slower.

Training and test rows are drawn independently, uniformly with replacement
(:mod:`tcvae.evaluation.sampling`); ``seed`` fixes the draws and the classifiers'
``random_state``. disentanglement_lib adds 1e-11 to R before taking entropies; we use
0 log 0 = 0 (the scores differ by about 1e-10).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np

from tcvae.evaluation.inputs import (
    ArrayLike,
    EvaluationError,
    check_counts,
    check_drawn,
    codes_and_labels,
)
from tcvae.evaluation.results import ShownAsTables
from tcvae.evaluation.sampling import train_test_rows

PROTOCOLS = {
    "reference": "dci (disentanglement_lib: GradientBoostingClassifier per factor)",
    "fast": "dci-fast (HistGradientBoostingClassifier per factor, split-gain importance)",
}
# The boosting both protocols train (scikit-learn's GradientBoostingClassifier defaults).
BOOSTING_STAGES = 100
TREE_DEPTH = 3
LEARNING_RATE = 0.1


@dataclass(frozen=True)
class DCIResult(ShownAsTables):
    """DCI scores and their parts: importance (D, K) with columns summing to 1;
    disentanglement_per_code (D,) and code_weight (D,); completeness_per_factor (K,) and
    factor_weight (K,); accuracy_train / accuracy_test (K,) per factor."""

    disentanglement: float
    completeness: float
    informativeness: float
    informativeness_train: float
    factor_names: tuple[str, ...]
    importance: np.ndarray
    disentanglement_per_code: np.ndarray
    code_weight: np.ndarray
    completeness_per_factor: np.ndarray
    factor_weight: np.ndarray
    accuracy_train: np.ndarray
    accuracy_test: np.ndarray
    num_train: int
    num_test: int
    seed: int
    protocol: str


def disentanglement_from_importance(importance: ArrayLike) -> tuple[float, np.ndarray, np.ndarray]:
    """Disentanglement, D_j (D,) and rho_j (D,) of an importance matrix R (D, K): P_j. is row j
    normalised, H_K in base K, rho_j row j's share of the total; a row with no importance
    scores 0."""
    r = np.asarray(importance, dtype=np.float64)
    row = r.sum(1)
    p = r / np.where(row > 0, row, 1.0)[:, None]
    plogp = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    per_row = np.where(row > 0, 1.0 + plogp.sum(1) / np.log(r.shape[1]), 0.0)
    weight = row / r.sum() if r.sum() > 0 else np.zeros(r.shape[0])
    return float(per_row @ weight), per_row, weight


def completeness_from_importance(importance: ArrayLike) -> tuple[float, np.ndarray, np.ndarray]:
    """Completeness, C_k (K,) and w_k (K,) of an importance matrix R (D, K): the
    disentanglement of R^T."""
    return disentanglement_from_importance(np.asarray(importance).T)


def dci(
    codes: ArrayLike,
    factor_classes: ArrayLike,
    factor_names: Sequence[str] | None = None,
    factors: Sequence[str | int] | None = None,
    num_train: int = 10_000,
    num_test: int = 5_000,
    protocol: str = "reference",
    seed: int = 0,
    threads: int | None = None,
) -> DCIResult:
    """DCI scores of codes (N, D) against factor classes (N, K).

    factors: names or indices to score, default every factor with more than one value (K >= 2);
    protocol: ``"reference"`` (disentanglement_lib) or ``"fast"``; seed: the row draws and the
    classifiers' tie-breaking; threads: OpenMP threads of the fast protocol's boosting during
    this call (default scikit-learn's: every core).
    """
    if protocol not in PROTOCOLS:
        raise EvaluationError(f"unknown DCI protocol {protocol!r}; choose one of {list(PROTOCOLS)}")
    why = "DCI weighs each code's importance across factors and each factor's across codes"
    x, y, names = codes_and_labels(
        codes, factor_classes, factor_names, factors, why, min_dims=2, min_factors=2
    )
    if threads is not None and int(threads) < 1:
        raise EvaluationError(f"threads must be >= 1 or None, got {threads}")
    num_train, num_test = check_counts(num_train=(num_train, 2), num_test=(num_test, 1))
    train, test = train_test_rows(len(x), num_train, num_test, seed)
    check_drawn(y[train], names)
    importance = np.zeros((x.shape[1], len(names)))
    accuracy = np.zeros((2, len(names)))
    for k in range(len(names)):
        with _thread_limit(threads):
            model, importance[:, k] = _fit(protocol, x[train], y[train, k], int(seed))
            accuracy[0, k] = np.mean(model.predict(x[train]) == y[train, k])
            accuracy[1, k] = np.mean(model.predict(x[test]) == y[test, k])
    disentanglement, per_code, code_weight = disentanglement_from_importance(importance)
    completeness, per_factor, factor_weight = completeness_from_importance(importance)
    return DCIResult(
        disentanglement=disentanglement,
        completeness=completeness,
        informativeness=float(accuracy[1].mean()),
        informativeness_train=float(accuracy[0].mean()),
        factor_names=tuple(names),
        importance=importance,
        disentanglement_per_code=per_code,
        code_weight=code_weight,
        completeness_per_factor=per_factor,
        factor_weight=factor_weight,
        accuracy_train=accuracy[0],
        accuracy_test=accuracy[1],
        num_train=num_train,
        num_test=num_test,
        seed=int(seed),
        protocol=PROTOCOLS[protocol],
    )


def _thread_limit(threads: int | None):
    """A context capping OpenMP threads at ``threads`` (no cap for None)."""
    if threads is None:
        return nullcontext()
    import sklearn.ensemble  # noqa: F401  (loads its OpenMP runtime first, so the cap reaches it)
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=int(threads), user_api="openmp")


def _fit(protocol: str, x: np.ndarray, y: np.ndarray, seed: int):
    """The fitted classifier of one factor and its importance per code dimension (D,)."""
    from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier

    if protocol == "reference":
        model = GradientBoostingClassifier(
            n_estimators=BOOSTING_STAGES,
            max_depth=TREE_DEPTH,
            learning_rate=LEARNING_RATE,
            random_state=seed,
        ).fit(x, y)
        return model, np.abs(model.feature_importances_)
    model = HistGradientBoostingClassifier(
        max_iter=BOOSTING_STAGES,
        max_depth=TREE_DEPTH,
        max_leaf_nodes=None,
        min_samples_leaf=1,
        learning_rate=LEARNING_RATE,
        early_stopping=False,
        random_state=seed,
    ).fit(x, y)
    return model, split_gain_importance(model, x.shape[1])


def split_gain_importance(model, num_features: int) -> np.ndarray:
    """Total split gain per feature over every tree of a fitted HistGradientBoostingClassifier,
    normalised to sum to 1 (all zeros when no tree split)."""
    predictors = getattr(model, "_predictors", None)
    fields = ("is_leaf", "feature_idx", "gain")
    if predictors is None or any(
        f not in (p.nodes.dtype.names or ()) for stage in predictors for p in stage for f in fields
    ):
        raise EvaluationError(
            "this scikit-learn's HistGradientBoostingClassifier does not expose its split gains "
            "as expected; use the reference DCI protocol (protocol='reference')"
        )
    gain = np.zeros(num_features)
    for stage in predictors:
        for tree in stage:
            split = tree.nodes[tree.nodes["is_leaf"] == 0]
            np.add.at(gain, split["feature_idx"], np.maximum(split["gain"], 0.0))
    total = gain.sum()
    return gain / total if total > 0 else gain
