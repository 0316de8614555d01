import numpy as np
import pytest
import torch

from tcvae.evaluation import EvaluationError, mig_discrete, modularity_explicitness
from tcvae.evaluation.modularity import macro_auc, modularity_from_mutual_information

from .conftest import NAMES, factor_codes

FEW = dict(num_train=400, num_test=200)


def test_hand_built_mutual_information():
    # z0 informs about factor 0 alone: 1; z1 equally about both: theta = 0.25, delta = 1 -> 0;
    # z2 about nothing: 0 by convention
    score, per_code = modularity_from_mutual_information([[1.0, 0.0], [0.5, 0.5], [0.0, 0.0]])
    assert per_code.tolist() == pytest.approx([1.0, 0.0, 0.0], abs=1e-15)
    assert score == pytest.approx(1 / 3, abs=1e-15)
    # K = 3: squares 4, 1, 0 -> delta = 1 / (4 * 2) -> 0.875
    assert modularity_from_mutual_information([[2.0, 1.0, 0.0]])[0] == pytest.approx(0.875)


def test_macro_auc_skips_classes_it_cannot_score():
    proba = np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [0.6, 0.4, 0.0], [0.1, 0.9, 0.0]])
    labels = np.array([0, 1, 1, 0])
    # class 0 scores (0.9, 0.1) against (0.2, 0.6): 2 of 4 pairs ordered -> 0.5; class 1
    # scores (0.8, 0.4) against (0.1, 0.9): 2 of 4 -> 0.5; class 2 never occurs: skipped
    assert macro_auc(np.array([0, 1, 2]), proba, labels) == pytest.approx(0.5)
    labels = np.array([0, 1, 0, 1])
    assert macro_auc(np.array([0, 1, 2]), proba, labels) == pytest.approx(1.0)


def test_factor_codes_score_near_one(classes):
    result = modularity_explicitness(factor_codes(classes, 0.01), classes, NAMES, **FEW)
    assert result.modularity > 0.95 and result.explicitness > 0.99
    assert result.mutual_information.shape == (3, 3)
    assert np.argmax(result.mutual_information, 1).tolist() == [0, 1, 2]


def test_noise_codes_are_not_explicit_and_less_modular(classes):
    noise = torch.randn(classes.shape[0], 3, generator=torch.Generator().manual_seed(0))
    bad = modularity_explicitness(noise, classes, **FEW)
    good = modularity_explicitness(factor_codes(classes, 0.01), classes, **FEW)
    # a ratio of noise-floor mutual informations: uninformative codes do not score 0
    assert bad.explicitness < 0.6 and bad.modularity < good.modularity - 0.2


def test_mutual_information_is_the_discretised_mig_estimate(classes):
    codes = factor_codes(classes, 0.3)
    n = classes.shape[0]
    result = modularity_explicitness(codes, classes, num_train=n, num_test=10, bins=7)
    # with replacement draws the histogram differs from mig_discrete's, but perfect factors agree
    reference = mig_discrete(codes, classes, bins=7)
    assert result.mutual_information.T == pytest.approx(reference.mutual_information, abs=0.15)


def test_invariances(classes):
    codes = torch.cat([factor_codes(classes, 0.3), torch.randn(classes.shape[0], 2)], 1).numpy()
    base = modularity_explicitness(codes, classes, **FEW)
    perm = [3, 1, 4, 0, 2]
    permuted = modularity_explicitness(codes[:, perm], classes, **FEW)
    assert np.allclose(permuted.mutual_information, base.mutual_information[perm], atol=1e-12)
    assert permuted.modularity == pytest.approx(base.modularity, abs=1e-12)
    assert permuted.explicitness == pytest.approx(base.explicitness, abs=1e-4)
    scaled = modularity_explicitness(codes * np.array([4.0, 0.5, 2.0, 8.0, 0.25]), classes, **FEW)
    assert scaled.modularity == pytest.approx(base.modularity, abs=1e-12)
    assert scaled.explicitness == pytest.approx(base.explicitness, abs=1e-4)


def test_errors_and_seed(classes):
    codes = factor_codes(classes, 0.2)
    with pytest.raises(EvaluationError, match="K >= 2"):
        modularity_explicitness(codes, classes, factors=[0])
    a = modularity_explicitness(codes, classes, seed=2, **FEW).to_dict()
    assert a == modularity_explicitness(codes, classes, seed=2, **FEW).to_dict()
    assert a["protocol"].startswith("modularity_explicitness")
