import numpy as np
import pytest
import torch

from tcvae.data.ground_truth import FactorGrid
from tcvae.evaluation import EvaluationError, sap
from tcvae.evaluation.sap import sap_from_score_matrix, squared_correlation

from .conftest import NAMES, factor_codes

FEW = dict(num_train=300, num_test=200)


def test_hand_made_score_matrix():
    # factor 0: best 0.9 (z0), second 0.4 -> gap 0.5; factor 1: 0.8 (z1) vs 0.2 -> gap 0.6
    score, gaps = sap_from_score_matrix([[0.9, 0.2], [0.4, 0.8]])
    assert gaps.tolist() == pytest.approx([0.5, 0.6], abs=1e-15)
    assert score == pytest.approx(0.55, abs=1e-15)


def test_squared_correlation_by_hand():
    x = np.array([[0.0, 1.0, 5.0], [1.0, 0.0, 5.0], [2.0, 1.0, 5.0], [3.0, 0.0, 5.0]])
    v = np.array([0.0, 1.0, 2.0, 3.0])
    # z0 = v; z1 alternates: cov(z1, v) = -1/3, var z1 = 1/3, var v = 5/3 (ddof 1); z2 constant
    assert squared_correlation(x, v).tolist() == pytest.approx([1.0, 0.2, 0.0], abs=1e-12)


def test_factor_codes_score_near_one_and_noise_near_zero(classes):
    codes = factor_codes(classes, 0.01)
    continuous = sap(codes, classes, NAMES, continuous_factors=True, **FEW)
    assert continuous.sap > 0.95 and continuous.latent.tolist() == [0, 1, 2]
    noise = torch.randn(classes.shape[0], 3, generator=torch.Generator().manual_seed(0))
    assert sap(noise, classes, continuous_factors=True, **FEW).sap < 0.05
    assert sap(noise, classes, **FEW).sap < 0.1
    # discrete: a perfect dimension predicts a binary factor exactly while the second best is at
    # chance (1/2), so the largest possible score is 1/2; five classes are not separable in 1-D
    grid = FactorGrid(("p", "q", "r"), tuple(torch.arange(2.0) for _ in range(3)))
    binary = grid.all_classes().repeat(40, 1)
    binary_codes = binary.double() * 2 - 1 + 0.01 * torch.randn(binary.shape, dtype=torch.float64)
    binary_result = sap(binary_codes, binary, **FEW)
    assert np.diag(binary_result.score_matrix).tolist() == [1.0, 1.0, 1.0]
    assert binary_result.sap == pytest.approx(0.5, abs=0.1)
    assert 0.1 < sap(codes, classes, **FEW).sap < 0.9


def test_invariances(classes):
    codes = torch.cat([factor_codes(classes, 0.3), torch.randn(classes.shape[0], 2)], 1).numpy()
    perm = [3, 1, 4, 0, 2]
    for options in ({}, {"continuous_factors": True}):
        base = sap(codes, classes, **options, **FEW)
        permuted = sap(codes[:, perm], classes, **options, **FEW)
        assert np.allclose(permuted.score_matrix, base.score_matrix[perm], rtol=0, atol=1e-12)
        assert permuted.sap == pytest.approx(base.sap, abs=1e-12)
    affine = codes * np.array([-3.0, 0.01, 7.0, 1.0, -0.5]) + 2.0
    continuous = sap(codes, classes, continuous_factors=True, **FEW)
    assert sap(affine, classes, continuous_factors=True, **FEW).sap == pytest.approx(
        continuous.sap, abs=1e-12
    )
    scaled = codes * np.array([4.0, 0.25, 8.0, 1.0, 0.5])
    standard = sap(codes, classes, standardize=True, **FEW)
    assert np.array_equal(
        sap(scaled, classes, standardize=True, **FEW).score_matrix, standard.score_matrix
    )


def test_discrete_protocol_depends_on_scale_as_documented(classes):
    codes = factor_codes(classes, 0.01)
    assert sap(codes * 1e-4, classes, **FEW).sap < sap(codes, classes, **FEW).sap - 0.1


def test_errors_and_labels(classes):
    with pytest.raises(EvaluationError, match="D >= 2"):
        sap(factor_codes(classes, 0.1)[:, :1], classes)
    result = sap(factor_codes(classes, 0.1), classes, NAMES, seed=3, **FEW)
    again = sap(factor_codes(classes, 0.1), classes, NAMES, seed=3, **FEW)
    assert result.to_dict() == again.to_dict()
    assert "LinearSVC" in result.to_dict()["protocol"]
