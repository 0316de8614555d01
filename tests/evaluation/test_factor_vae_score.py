import numpy as np
import pytest
import torch

from tcvae.evaluation import EvaluationError, factor_vae_score
from tcvae.evaluation.factor_vae_score import majority_vote_accuracy

from .conftest import NAMES, factor_codes

FEW = dict(num_train=300, num_eval=300, batch_size=16, num_variance_estimate=480)


def test_hand_made_votes():
    # training votes send z0 to factor 0 and z1 to factor 1; evaluation: 4 + 2 of 9 agree
    train = np.array([[5, 0], [1, 3]])
    test = np.array([[4, 1], [2, 2]])
    assert majority_vote_accuracy(train, test) == pytest.approx(6 / 9, abs=1e-15)
    assert majority_vote_accuracy(train, train) == pytest.approx(8 / 9, abs=1e-15)


def test_factor_codes_score_one_and_noise_near_chance(classes):
    good = factor_vae_score(factor_codes(classes, 0.01), classes, NAMES, **FEW)
    assert good.factor_vae == 1.0 and good.classifier.tolist() == [0, 1, 2]
    noise = torch.randn(classes.shape[0], 4, generator=torch.Generator().manual_seed(0))
    assert abs(factor_vae_score(noise, classes, **FEW).factor_vae - 1 / 3) < 0.12


def test_collapsed_dimensions_are_pruned(classes):
    codes = torch.cat([factor_codes(classes, 0.01), 0.01 * torch.randn(classes.shape[0], 2)], 1)
    result = factor_vae_score(codes, classes, **FEW)
    assert result.active.tolist() == [True, True, True, False, False]
    assert result.votes_train[:, 3:].sum() == 0 and result.factor_vae == 1.0
    nothing = factor_vae_score(0.01 * codes, classes, **FEW)
    assert nothing.num_active == 0 and nothing.factor_vae == 0.0


def test_permuting_and_rescaling_latents_changes_nothing(classes):
    codes = torch.cat([factor_codes(classes, 0.5), torch.randn(classes.shape[0], 2)], 1).numpy()
    base = factor_vae_score(codes, classes, **FEW)
    perm = [3, 1, 4, 0, 2]
    permuted = factor_vae_score(codes[:, perm], classes, **FEW)
    assert np.array_equal(permuted.votes_eval, base.votes_eval[:, perm])
    assert permuted.factor_vae == base.factor_vae
    scaled = factor_vae_score(codes * np.array([4.0, 0.5, 2.0, 8.0, 0.25]), classes, **FEW)
    assert np.array_equal(scaled.votes_eval, base.votes_eval)


def test_seeded_and_labelled(classes):
    codes = factor_codes(classes, 1.0)
    a = factor_vae_score(codes, classes, NAMES, seed=1, **FEW).to_dict()
    assert a == factor_vae_score(codes, classes, NAMES, seed=1, **FEW).to_dict()
    assert "majority vote" in a["protocol"]
    with pytest.raises(EvaluationError, match="K >= 2"):
        factor_vae_score(codes, classes, factors=[2])
