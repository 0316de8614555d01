import math

import numpy as np
import pytest
import torch

from tcvae.evaluation import EvaluationError, dci
from tcvae.evaluation.dci import completeness_from_importance, disentanglement_from_importance

from .conftest import NAMES, factor_codes

# one OpenMP thread: on busy cores, more make the fast protocol's trees wait on each other
FEW = dict(num_train=240, num_test=120, threads=1)


def brute_force_dci(r: np.ndarray) -> tuple[float, float]:
    """Eastwood & Williams' formulas written with loops."""
    d, k = r.shape

    def one_minus_entropy(weights: list[float], base: int) -> float:
        total = sum(weights)
        if total == 0:
            return 0.0
        return 1 + sum(w / total * math.log(w / total, base) for w in weights if w > 0)

    dis = sum(one_minus_entropy(list(r[j]), k) * r[j].sum() / r.sum() for j in range(d))
    com = sum(one_minus_entropy(list(r[:, i]), d) * r[:, i].sum() / r.sum() for i in range(k))
    return dis, com


def test_hand_computed_importance_matrix():
    r = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    # code 0 serves factor 0 alone (D = 1, weight 1/3); code 1 both equally (D = 0, weight 2/3)
    score, per_code, weight = disentanglement_from_importance(r)
    assert score == pytest.approx(1 / 3, abs=1e-15)
    assert per_code.tolist() == pytest.approx([1.0, 0.0, 0.0], abs=1e-15)
    assert weight.tolist() == pytest.approx([1 / 3, 2 / 3, 0.0], abs=1e-15)
    # factor 0 spread over two of three codes (C = 1 - log 2 / log 3, weight 2/3); factor 1 on one
    score, per_factor, weight = completeness_from_importance(r)
    assert per_factor.tolist() == pytest.approx([1 - math.log(2) / math.log(3), 1.0], abs=1e-15)
    assert score == pytest.approx(2 / 3 * (1 - math.log(2) / math.log(3)) + 1 / 3, abs=1e-15)


def test_scores_match_the_formulas_on_random_matrices():
    rng = np.random.default_rng(0)
    for shape in ((10, 5), (3, 7), (2, 2)):
        r = rng.random(shape) * (rng.random(shape) > 0.3)
        expected = brute_force_dci(r)
        assert disentanglement_from_importance(r)[0] == pytest.approx(expected[0], abs=1e-12)
        assert completeness_from_importance(r)[0] == pytest.approx(expected[1], abs=1e-12)
    assert disentanglement_from_importance(np.zeros((3, 2)))[0] == 0.0


@pytest.mark.parametrize("protocol", ["fast", "reference"])
def test_factor_codes_score_near_one_and_noise_near_zero(classes, protocol):
    good = dci(factor_codes(classes, 0.01), classes, NAMES, protocol=protocol, **FEW)
    assert good.disentanglement > 0.95 and good.completeness > 0.95
    assert good.informativeness == 1.0
    assert np.argmax(good.importance, 0).tolist() == [0, 1, 2]
    noise = torch.randn(classes.shape[0], 3, generator=torch.Generator().manual_seed(0))
    bad = dci(noise, classes, NAMES, protocol=protocol, **FEW)
    assert bad.disentanglement < 0.1 and bad.completeness < 0.1


def test_permuting_and_rescaling_latents_changes_nothing(classes):
    codes = torch.cat([factor_codes(classes, 0.3), torch.randn(classes.shape[0], 2)], 1).numpy()
    base = dci(codes, classes, protocol="fast", **FEW)
    # the same trees up to ties between equally good splits, which follow the feature order
    perm = [3, 1, 4, 0, 2]
    permuted = dci(codes[:, perm], classes, protocol="fast", **FEW)
    assert permuted.disentanglement == pytest.approx(base.disentanglement, abs=0.03)
    assert permuted.completeness == pytest.approx(base.completeness, abs=0.03)
    assert np.allclose(permuted.importance, base.importance[perm], atol=0.03)
    # trees only see the order of each dimension's values: any increasing map leaves them alone
    transformed = codes * np.array([4.0, 0.5, 2.0, 8.0, 0.25]) + 3.0
    transformed[:, 1] = np.exp(transformed[:, 1])
    rescaled = dci(transformed, classes, protocol="fast", **FEW)
    assert rescaled.disentanglement == pytest.approx(base.disentanglement, abs=1e-9)
    assert rescaled.informativeness == base.informativeness


def test_fast_protocol_tracks_the_reference(classes):
    # informative, partly mixed codes; benchmarks/bench_metrics.py compares the two protocols on
    # 10,000 dSprites codes with collapsed dimensions
    scaled = factor_codes(classes, 0.25)
    codes = torch.cat([scaled[:, :2], scaled[:, 2:] + 0.5 * scaled[:, :1]], 1)
    fast = dci(codes, classes, protocol="fast", **FEW)
    ref = dci(codes, classes, protocol="reference", **FEW)
    assert fast.disentanglement == pytest.approx(ref.disentanglement, abs=0.03)
    assert fast.completeness == pytest.approx(ref.completeness, abs=0.03)
    assert "GradientBoostingClassifier" in ref.to_dict()["protocol"]
    assert fast.to_dict()["protocol"].startswith("dci-fast")


def test_seeded_and_reproducible(classes):
    codes = factor_codes(classes, 0.5)
    a = dci(codes, classes, protocol="fast", seed=4, **FEW)
    b = dci(codes, classes, protocol="fast", seed=4, **FEW)
    c = dci(codes, classes, protocol="fast", seed=5, **FEW)
    assert a.to_dict() == b.to_dict()
    assert a.disentanglement != c.disentanglement


def test_clear_errors(classes):
    codes = factor_codes(classes, 0.1)
    with pytest.raises(EvaluationError, match="K >= 2"):
        dci(codes, classes, NAMES, factors=["a"], **FEW)
    with pytest.raises(EvaluationError, match="unknown DCI protocol"):
        dci(codes, classes, protocol="quick")
    with pytest.raises(EvaluationError, match="D >= 2"):
        dci(codes[:, :1], classes)
