import math

import numpy as np
import pytest
import torch

from tcvae.evaluation import EvaluationError, mig_discrete

from .conftest import NAMES, factor_codes


def brute_force_mig_discrete(codes: np.ndarray, classes: np.ndarray, bins: int = 20) -> float:
    """disentanglement_lib's recipe written with loops and numpy's histogram edges."""
    binned = np.stack(
        [np.digitize(c, np.histogram(c, bins)[1][:-1]) for c in codes.T]
    )  # (D, N), values 1..bins
    n = codes.shape[0]
    gaps = []
    for v in classes.T:
        info = []
        for a in binned:
            total = 0.0
            for x in np.unique(a):
                for y in np.unique(v):
                    pxy = np.sum((a == x) & (v == y)) / n
                    if pxy > 0:
                        total += pxy * math.log(pxy / (np.mean(a == x) * np.mean(v == y)))
            info.append(total)
        p = np.unique(v, return_counts=True)[1] / n
        entropy = -np.sum(p * np.log(p))
        top = sorted(info, reverse=True)
        gaps.append((top[0] - top[1]) / entropy)
    return float(np.mean(gaps))


def test_matches_brute_force_plug_in_on_integer_data():
    rng = np.random.default_rng(0)
    classes = rng.integers(0, [3, 4, 2], size=(200, 3))
    codes = np.stack(
        [classes[:, 0] * 3 + rng.integers(0, 2, 200), rng.integers(-5, 30, 200), classes[:, 1]], 1
    )
    result = mig_discrete(codes, classes)
    assert result.mig_discrete == pytest.approx(brute_force_mig_discrete(codes, classes), abs=1e-12)


def test_matches_brute_force_on_real_valued_codes(classes):
    codes = torch.cat([factor_codes(classes, 0.2), torch.randn(classes.shape[0], 2)], 1).numpy()
    result = mig_discrete(codes, classes.numpy(), bins=7)
    assert result.mig_discrete == pytest.approx(
        brute_force_mig_discrete(codes, classes.numpy(), bins=7), abs=1e-12
    )


def test_behaves_like_a_disentanglement_score(classes):
    good = mig_discrete(factor_codes(classes, 0.01), classes, NAMES)
    noise = mig_discrete(torch.randn(classes.shape[0], 3), classes, NAMES)
    assert good.mig_discrete > 0.9 and noise.mig_discrete < 0.1
    assert good.latent.tolist() == [0, 1, 2]
    d = good.to_dict()
    assert "disentanglement_lib" in d["protocol"] and d["factor_names"] == list(NAMES)


def test_subsamples_num_points(classes):
    codes = factor_codes(classes, 0.05)
    result = mig_discrete(codes, classes, num_points=100, seed=3)
    assert result.num_points == 100
    again = mig_discrete(codes, classes, num_points=100, seed=3)
    assert again.mig_discrete == result.mig_discrete


def test_constant_factor_is_skipped_by_default_and_refused_when_asked(classes):
    with_constant = torch.cat([torch.zeros(classes.shape[0], 1, dtype=torch.long), classes], 1)
    codes = factor_codes(classes, 0.05)
    assert mig_discrete(codes, with_constant).factor_names == ("factor_1", "factor_2", "factor_3")
    with pytest.raises(EvaluationError, match="single value"):
        mig_discrete(codes, with_constant, factors=[0])
