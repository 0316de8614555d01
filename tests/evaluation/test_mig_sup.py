import numpy as np
import pytest
import torch

from tcvae.evaluation import EvaluationError, mig_discrete, mig_sup
from tcvae.evaluation.mig_sup import mig_sup_from_mutual_information

from .conftest import NAMES, SIZES, factor_codes


def test_hand_made_information_matrix():
    # z0: 0.9 vs 0.1 -> 0.8; z1: 0.5 vs 0.3 -> 0.2
    score, gaps = mig_sup_from_mutual_information([[0.9, 0.1], [0.3, 0.5]])
    assert gaps.tolist() == pytest.approx([0.8, 0.2], abs=1e-15)
    assert score == pytest.approx(0.5, abs=1e-15)


def test_reads_the_discretised_mig_matrix_the_other_way(classes):
    codes = torch.cat([factor_codes(classes, 0.3), torch.randn(classes.shape[0], 2)], 1)
    sup = mig_sup(codes, classes, num_points=300, bins=9, seed=1)
    mig = mig_discrete(codes, classes, num_points=300, bins=9, seed=1)
    normalized = mig.mutual_information / mig.factor_entropy[:, None]
    assert np.allclose(sup.normalized_mutual_information, normalized.T, atol=1e-12)
    top = np.sort(normalized.T, 1)
    assert sup.mig_sup == pytest.approx(float(np.mean(top[:, -1] - top[:, -2])), abs=1e-12)


def test_factor_codes_score_near_one_and_noise_near_zero(classes):
    good = mig_sup(factor_codes(classes, 0.01), classes, NAMES)
    assert good.mig_sup > 0.9 and good.factor.tolist() == [0, 1, 2]
    noise = torch.randn(classes.shape[0], 3, generator=torch.Generator().manual_seed(0))
    assert mig_sup(noise, classes).mig_sup < 0.1


def test_a_dimension_holding_two_factors_has_a_small_gap(classes):
    scaled = factor_codes(classes, 0.0)
    # z0 encodes a and b jointly (an invertible map of the pair), z1 encodes c
    joint = (classes[:, 0] * SIZES[1] + classes[:, 1]).double().unsqueeze(1)
    result = mig_sup(torch.cat([joint, scaled[:, 2:]], 1), classes, NAMES)
    assert result.gaps[1] > 0.95 and result.gaps[0] < 0.3


def test_permuting_latents_permutes_gaps(classes):
    codes = torch.cat([factor_codes(classes, 0.3), torch.randn(classes.shape[0], 2)], 1)
    perm = [3, 1, 4, 0, 2]
    a, b = mig_sup(codes, classes), mig_sup(codes[:, perm], classes)
    assert np.allclose(b.gaps, a.gaps[perm], atol=1e-12)
    assert b.mig_sup == pytest.approx(a.mig_sup, abs=1e-12)


def test_needs_two_factors(classes):
    with pytest.raises(EvaluationError, match="K >= 2"):
        mig_sup(factor_codes(classes, 0.1), classes, factors=["factor_0"])
    assert mig_sup(factor_codes(classes, 0.1), classes).to_dict()["protocol"].startswith("mig_sup")
