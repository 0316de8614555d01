import math

import numpy as np
import pytest
import torch

from tcvae.evaluation import PAPER_FACTORS, EvaluationError, mig
from tcvae.models.distributions import Normal

from .conftest import NAMES


def test_representation_equal_to_factors_scores_near_one(disentangled, classes):
    result = mig(*disentangled, classes, NAMES)
    assert result.mig > 0.9
    assert result.latent.tolist() == [0, 1, 2]
    assert result.mutual_information.shape == (3, 5)
    assert result.factor_entropy == pytest.approx(np.log([3, 4, 5]))


def test_factor_independent_latents_score_near_zero(classes):
    g = torch.Generator().manual_seed(3)
    n = classes.shape[0]
    mean = torch.randn(n, 4, generator=g)
    logvar = torch.full((n, 4), math.log(0.1**2))
    result = mig(mean, logvar, classes, NAMES)
    assert result.mig < 0.05


def test_permuting_latent_dims_changes_nothing(disentangled, classes):
    mean, logvar = disentangled
    perm = torch.tensor([3, 1, 4, 0, 2])
    a = mig(mean, logvar, classes)
    b = mig(mean[:, perm], logvar[:, perm], classes)
    assert b.mig == pytest.approx(a.mig, abs=1e-12)
    assert np.allclose(b.mutual_information, a.mutual_information[:, perm.numpy()], atol=1e-12)
    assert perm[b.latent].tolist() == a.latent.tolist()


def test_duplicated_latent_closes_that_factors_gap(disentangled, classes):
    mean, logvar = disentangled
    dup = torch.tensor([0, 1, 2, 3, 4, 1])  # dim 1 (factor b) twice
    result = mig(mean[:, dup], logvar[:, dup], classes, NAMES)
    assert result.gaps[1] == pytest.approx(0.0, abs=1e-9)
    assert result.gaps[0] > 0.9 and result.gaps[2] > 0.9


def test_monte_carlo_agrees_with_deterministic_within_its_error(disentangled, classes):
    det = mig(*disentangled, classes, NAMES)
    mc = mig(*disentangled, classes, NAMES, entropy_estimator="monte-carlo", samples=4000, seed=1)
    z_marginal = (mc.marginal_entropy - det.marginal_entropy) / mc.marginal_entropy_stderr
    z_conditional = (
        mc.conditional_entropy - det.conditional_entropy
    ) / mc.conditional_entropy_stderr
    assert np.abs(z_marginal).max() < 4.5 and np.abs(z_conditional).max() < 4.5
    assert mc.mig == pytest.approx(det.mig, abs=0.02)


def quadrature_entropy(mean: torch.Tensor, logvar: torch.Tensor) -> float:
    """-integral p log p of a 1-D Normal mixture on a fine grid (brute force)."""
    x = torch.linspace(-8, 8, 16001, dtype=torch.float64)
    log_p = torch.logsumexp(Normal.log_density(x[:, None], mean, logvar), 1)
    log_p = log_p - math.log(mean.numel())
    return float(-(log_p.exp() * log_p).sum() * (x[1] - x[0]))


def test_deterministic_entropies_match_brute_force_quadrature(disentangled, classes):
    mean, logvar = disentangled
    result = mig(mean, logvar, classes, NAMES, factors=["c"])
    for j in (2, 4):
        marginal = quadrature_entropy(mean[:, j], logvar[:, j])
        conditional = sum(
            quadrature_entropy(mean[classes[:, 2] == v, j], logvar[classes[:, 2] == v, j]) / 5
            for v in range(5)
        )
        assert result.marginal_entropy[j] == pytest.approx(marginal, abs=1e-5)
        assert result.conditional_entropy[0, j] == pytest.approx(conditional, abs=1e-5)


def test_laplace_posteriors_agree_between_estimators(disentangled, classes):
    det = mig(*disentangled, classes, posterior="laplace", factors=[0])
    mc = mig(
        *disentangled,
        classes,
        posterior="laplace",
        factors=[0],
        entropy_estimator="monte-carlo",
        samples=3000,
    )
    diff = np.abs(mc.marginal_entropy - det.marginal_entropy)
    assert (diff < 4.5 * mc.marginal_entropy_stderr + 2e-3).all()
    assert det.mig > 0.9


def test_factor_selection_and_json(disentangled, classes):
    mean, logvar = disentangled
    result = mig(mean.numpy(), logvar.numpy(), classes.numpy(), NAMES, factors=["c", 0])
    assert result.factor_names == ("c", "a")
    d = result.to_dict()
    assert d["mig"] == result.mig and len(d["mutual_information"]) == 2
    assert "Chen" in d["protocol"]
    assert PAPER_FACTORS["dsprites"] == ("scale", "orientation", "posX", "posY")


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m, lv, c: (m[:-1], lv, c), "same shape"),
        (lambda m, lv, c: (m, lv, c[:-1]), "rows"),
        (lambda m, lv, c: (m.masked_fill(m > 0.9, float("nan")), lv, c), "NaN"),
        (lambda m, lv, c: (m[:, :1], lv[:, :1], c), "D >= 2"),
        (lambda m, lv, c: (m, lv, c.double() + 0.5), "integer"),
    ],
)
def test_bad_inputs_are_rejected_clearly(disentangled, classes, change, message):
    with pytest.raises(EvaluationError, match=message):
        mig(*change(*disentangled, classes))


def test_bad_options_are_rejected_clearly(disentangled, classes):
    constant = torch.cat([classes, torch.zeros(classes.shape[0], 1, dtype=torch.long)], 1)
    with pytest.raises(EvaluationError, match="single value"):
        mig(*disentangled, constant, factors=[3])
    with pytest.raises(EvaluationError, match="unknown factor"):
        mig(*disentangled, classes, NAMES, factors=["shape"])
    with pytest.raises(EvaluationError, match="entropy_estimator"):
        mig(*disentangled, classes, entropy_estimator="exact")
    with pytest.raises(EvaluationError, match="posterior|distribution"):
        mig(*disentangled, classes, posterior="cauchy")


def test_evaluation_falls_back_to_monte_carlo_when_the_grid_would_be_too_large():
    """Posteriors far narrower than their spread (a diverged run) exceed the deterministic grid;
    evaluation then uses the Monte Carlo estimator and says so in the result."""
    from tcvae.evaluation.grid_mixture import GridTooLargeError
    from tcvae.evaluation.run import mig_falling_back

    classes = torch.stack([torch.arange(200) % 4, torch.arange(200) // 4 % 5], 1)
    mean = classes * 500.0  # latent j is factor j, spread over 1,500 with std 5e-5
    logvar = torch.full((200, 2), -20.0)
    kwargs = dict(factors=["a", "b"], samples=500, seed=0, max_grid_points=1 << 16)
    with pytest.raises(GridTooLargeError, match="monte-carlo"):
        mig(mean, logvar, classes, ["a", "b"], entropy_estimator="deterministic", **kwargs)
    result = mig_falling_back(
        mean, logvar, classes, ["a", "b"], entropy_estimator="deterministic", **kwargs
    )
    assert result.entropy_estimator == "monte-carlo"
    assert (result.gaps > 0.9).all()  # each latent is one factor, exactly


def test_python_and_the_evaluate_path_share_one_default_factor_set(disentangled, classes):
    """mig() and compute_metrics (``tcvae evaluate``, ``tcvae score``) score the same factors by
    default: the paper's set where the names hold one (dSprites: shape and colour left out,
    as is a paper factor the points hold fixed), else every factor that varies."""
    from tcvae.evaluation.run import compute_metrics

    mean, logvar = disentangled
    a, b, c = classes.T
    fixed = torch.zeros_like(a)
    dsprites = ["color", "shape", "scale", "orientation", "posX", "posY"]
    cases = {
        ("scale", "orientation", "posX", "posY"): (dsprites, [fixed, a, b, c, a, b]),
        ("scale", "orientation", "posX"): (dsprites, [fixed, a, b, c, a, fixed]),
        ("color", "shape", "size"): (["color", "shape", "size"], [a, b, c]),
    }
    for expected, (names, columns) in cases.items():
        factor_classes = torch.stack(columns, 1)
        python = mig(mean, logvar, factor_classes, names)
        evaluated = compute_metrics(mean, logvar, factor_classes, names, metrics="mig")["mig"]
        assert python.factor_names == expected
        assert evaluated["factor_names"] == list(expected)
        assert evaluated["mig"] == python.mig
