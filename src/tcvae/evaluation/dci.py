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

* ``"reference"``: disentanglement_lib's (unsupervised_study_v1): 10,000 training and 5,000 test
  points; one ``GradientBoostingClassifier`` with scikit-learn's defaults per factor (100 stages
  of depth-3 trees, learning rate 0.1); R from its impurity-based ``feature_importances_``.
  It fits one tree per class per stage, so it is slow (minutes on dSprites' 113 classes).
* ``"fast"``: the same boosting (100 stages of depth-3 trees, learning rate 0.1, no early
  stopping) by ``HistGradientBoostingClassifier``, which bins each dimension into 255 quantile
  bins and builds trees from gradient histograms; R is the total split gain of each dimension
  over all trees, normalised per factor to sum to 1 like ``feature_importances_``. The same
  boosting on the same points, so the scores track the reference: on the benchmark's 10,000
  dSprites codes (``benchmarks/bench_metrics.py``) disentanglement and completeness within
  0.03 at a twentieth of the CPU time (17 s against 335 s). Its gains weigh splits by the
  loss's curvature, which grows on the near-pure nodes of an overfitting model, so where a
  model memorises few repeated points and fits uninformative dimensions the two can differ by
  0.1 or more. scikit-learn does not publish these gains, so they are read from its fitted
  trees (``_predictors``); this is checked, and an error says to use the reference protocol if
  a release changes it. Its trees use OpenMP threads, all cores by default: on a machine whose
  cores are busy the threads wait on each other (tens of times slower), so pass ``threads=1``
  there (or set ``OMP_NUM_THREADS=1``).

Points are rows drawn uniformly with replacement from the encoded data set, training and test
draws independent (they may overlap, as in disentanglement_lib; :mod:`tcvae.evaluation.sampling`);
``seed`` fixes the draws and the classifiers' ``random_state`` (which only breaks ties between
equally good splits). disentanglement_lib adds 1e-11 to R before taking entropies; we use
0 log 0 = 0 exactly (the scores differ by about 1e-10).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np

from tcvae.evaluation.inputs import ArrayLike, EvaluationError, codes_and_labels
from tcvae.evaluation.results import ShownAsTables, result_dict
from tcvae.evaluation.sampling import draw_rows

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

    def to_dict(self) -> dict:
        """A JSON-ready dictionary (arrays as nested lists)."""
        return result_dict(self, "disentanglement", "completeness", "informativeness")


def _one_minus_entropy(p: np.ndarray, base: int) -> np.ndarray:
    """1 - H_base of each row of non-negative weights p (rows normalised here); 0 for a zero row."""
    total = p.sum(1, keepdims=True)
    q = p / np.where(total > 0, total, 1.0)
    terms = np.where(q > 0, q * np.log(np.where(q > 0, q, 1.0)), 0.0)
    return np.where(total[:, 0] > 0, 1.0 + terms.sum(1) / np.log(base), 0.0)


def _importance_matrix(importance: ArrayLike) -> np.ndarray:
    r = np.asarray(importance, dtype=np.float64)
    if r.ndim != 2 or r.shape[0] < 2 or r.shape[1] < 2:
        raise EvaluationError(
            f"the importance matrix must be (D, K) with D >= 2 codes and K >= 2 factors, got "
            f"{r.shape}"
        )
    if not np.isfinite(r).all() or (r < 0).any():
        raise EvaluationError("importances must be finite and non-negative")
    return r


def disentanglement_from_importance(importance: ArrayLike) -> tuple[float, np.ndarray, np.ndarray]:
    """Disentanglement, D_j (D,) and rho_j (D,) of an importance matrix R (D, K)."""
    r = _importance_matrix(importance)
    total = r.sum()
    per_code = _one_minus_entropy(r, r.shape[1])
    weight = r.sum(1) / total if total > 0 else np.zeros(r.shape[0])
    return float(per_code @ weight), per_code, weight


def completeness_from_importance(importance: ArrayLike) -> tuple[float, np.ndarray, np.ndarray]:
    """Completeness, C_k (K,) and w_k (K,) of an importance matrix R (D, K)."""
    r = _importance_matrix(importance)
    total = r.sum()
    per_factor = _one_minus_entropy(r.T, r.shape[0])
    weight = r.sum(0) / total if total > 0 else np.zeros(r.shape[1])
    return float(per_factor @ weight), per_factor, weight


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
    x, y, names = codes_and_labels(codes, factor_classes, factor_names, factors)
    d = x.shape[1]
    if d < 2 or len(names) < 2:
        raise EvaluationError(
            "DCI weighs each code's importance across factors and each factor's across codes, so "
            f"it needs D >= 2 code dimensions and K >= 2 factors, got D={d}, factors {names}"
        )
    if threads is not None and int(threads) < 1:
        raise EvaluationError(f"threads must be >= 1 or None, got {threads}")
    if int(num_train) < 2 or int(num_test) < 1:
        raise EvaluationError(
            f"DCI needs num_train >= 2 and num_test >= 1, got {num_train} and {num_test}"
        )
    rng = np.random.default_rng(int(seed))
    train = draw_rows(len(x), num_train, rng)
    test = draw_rows(len(x), num_test, rng)
    importance = np.zeros((d, len(names)))
    accuracy = np.zeros((2, len(names)))
    for k, name in enumerate(names):
        y_train, y_test = y[train, k], y[test, k]
        if np.unique(y_train).size < 2:
            raise EvaluationError(
                f"factor {name!r} takes one value in the {num_train} training points; "
                "raise num_train"
            )
        with _thread_limit(threads):
            model, importance[:, k] = _fit(protocol, x[train], y_train, int(seed))
            accuracy[0, k] = np.mean(model.predict(x[train]) == y_train)
            accuracy[1, k] = np.mean(model.predict(x[test]) == y_test)
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
        num_train=int(num_train),
        num_test=int(num_test),
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
