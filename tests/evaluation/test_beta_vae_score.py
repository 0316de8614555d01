import numpy as np
import pytest
import torch

from tcvae.evaluation import EvaluationError, beta_vae_score
from tcvae.evaluation.beta_vae_score import beta_vae_examples
from tcvae.evaluation.sampling import FactorGroups

from .conftest import NAMES, SIZES, factor_codes

FEW = dict(num_train=300, num_eval=300, batch_size=16)


def test_pairs_share_the_fixed_factor_and_vary_the_others(classes):
    labels = classes.numpy()
    groups = FactorGroups(labels)
    rng = np.random.default_rng(0)
    anchors = rng.integers(0, len(labels), size=6000)
    fixed = np.full(6000, 1)
    partners = groups.sharing(fixed, anchors, rng)
    assert np.array_equal(labels[partners, 1], labels[anchors, 1])
    # the other factors of the partner are uniform over their values (full grid)
    counts = np.bincount(labels[partners, 2], minlength=SIZES[2])
    assert np.abs(counts / 6000 - 1 / SIZES[2]).max() < 0.03
    # features: codes equal to the factors differ by exactly 0 in the fixed factor's dimension
    features, fixed_factor = beta_vae_examples(labels.astype(float), groups, 50, 8, rng)
    assert np.all(features[np.arange(50), fixed_factor] == 0.0)
    assert np.all(np.sort(features, 1)[:, 1] > 0.0)


def test_factor_codes_score_one_and_noise_near_chance(classes):
    assert beta_vae_score(factor_codes(classes, 0.01), classes, NAMES, **FEW).beta_vae == 1.0
    noise = torch.randn(classes.shape[0], 4, generator=torch.Generator().manual_seed(0))
    assert abs(beta_vae_score(noise, classes, **FEW).beta_vae - 1 / 3) < 0.1


def test_permuting_latents_changes_nothing(classes):
    codes = torch.cat([factor_codes(classes, 0.5), torch.randn(classes.shape[0], 2)], 1).numpy()
    perm = [3, 1, 4, 0, 2]
    a = beta_vae_score(codes, classes, **FEW)
    b = beta_vae_score(codes[:, perm], classes, **FEW)
    assert a.beta_vae == b.beta_vae and a.train_accuracy == b.train_accuracy


def test_seeded_and_labelled(classes):
    codes = factor_codes(classes, 1.0)
    a = beta_vae_score(codes, classes, NAMES, seed=1, **FEW).to_dict()
    assert a == beta_vae_score(codes, classes, NAMES, seed=1, **FEW).to_dict()
    assert a["factor_names"] == list(NAMES) and "LogisticRegression" in a["protocol"]
    with pytest.raises(EvaluationError, match="K >= 2"):
        beta_vae_score(codes, classes, factors=[2])
