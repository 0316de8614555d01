"""Correlated / biased factor sampling against closed forms, brute force and its own promises."""

import math

import pytest
import torch

from tcvae.data.factor_sampling import (
    class_correlation,
    copula_pmf,
    empirical_correlation,
    exclusion_mask,
    grid_weights,
    sample_grid_points,
    solve_copula,
    strided_grid,
)
from tcvae.data.ground_truth import DataError, FactorGrid


def small_grid() -> FactorGrid:
    lin = torch.linspace(0, 1, 8, dtype=torch.float64)
    return FactorGrid(("shape", "posX", "posY"), (torch.arange(3.0).double(), lin, lin))


def test_copula_pmf_has_uniform_marginals_and_the_closed_form_at_the_median():
    pmf = copula_pmf(2, 2, 0.5)
    # P(x < 0, y < 0) for a standard bivariate Normal = 1/4 + asin(r) / (2 pi)
    assert float(pmf[0, 0]) == pytest.approx(0.25 + math.asin(0.5) / (2 * math.pi), abs=1e-4)
    pmf = copula_pmf(6, 8, -0.3)
    assert torch.allclose(pmf.sum(1), torch.full((6,), 1 / 6, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(pmf.sum(0), torch.full((8,), 1 / 8, dtype=torch.float64), rtol=2e-3)
    assert torch.allclose(copula_pmf(5, 7, 0.0), torch.full((5, 7), 1 / 35, dtype=torch.float64))


def test_solved_copula_hits_the_requested_class_correlation():
    for rho in (-0.6, 0.3, 0.8):
        r, pmf = solve_copula(8, 8, rho)
        assert class_correlation(pmf) == pytest.approx(rho, abs=1e-5)
        assert abs(r) > abs(rho)  # discretising loses correlation, so the copula needs more
    with pytest.raises(DataError, match="out of reach"):
        solve_copula(2, 8, 0.99)


def test_exclusion_matches_a_brute_force_loop():
    grid = small_grid()
    classes = grid.all_classes()
    rules = [{"shape": (2, 2), "posX": (0, 3)}, {"posY": (7, 7)}]
    mask = exclusion_mask(grid, classes, rules)
    brute = [
        any(
            all(lo <= int(c[grid.factor_index(f)]) <= hi for f, (lo, hi) in r.items())
            for r in rules
        )
        for c in classes
    ]
    assert mask.tolist() == brute
    with pytest.raises(DataError, match="classes 0..7"):
        exclusion_mask(grid, classes, [{"posX": (0, 8)}])


def test_sampled_training_points_have_the_requested_correlation_and_no_excluded_point():
    grid = small_grid()
    rules = [{"shape": (2, 2), "posX": (0, 3)}]
    weights, info = grid_weights(grid, ("posX", "posY"), 0.8, rules)
    assert info["excluded_grid_points"] == 32 and float(weights.sum()) == pytest.approx(1.0)
    index = sample_grid_points(weights, 200_000, torch.Generator().manual_seed(0))
    classes = grid.index_to_classes(index)
    assert not exclusion_mask(grid, classes, rules).any()
    # Excluding (shape 2, left half) changes the pair's law slightly; without it we hit rho.
    uniform_shape, _ = grid_weights(grid, ("posX", "posY"), 0.8)
    index = sample_grid_points(uniform_shape, 200_000, torch.Generator().manual_seed(1))
    classes = grid.index_to_classes(index)
    assert empirical_correlation(grid, classes, ("posX", "posY")) == pytest.approx(0.8, abs=0.005)
    assert empirical_correlation(grid, classes, ("shape", "posX")) == pytest.approx(0, abs=0.01)
    shape_counts = torch.bincount(classes[:, 0], minlength=3).double() / classes.shape[0]
    assert torch.allclose(shape_counts, torch.full((3,), 1 / 3, dtype=torch.float64), atol=0.005)


def test_strided_grid_points_are_the_base_grid_points():
    from tcvae.data import dsprites_grid

    base = dsprites_grid()
    coarse, base_index = strided_grid(base, {"scale": 3, "orientation": 10, "posX": 2, "posY": 2})
    assert coarse.sizes == (1, 3, 2, 4, 16, 16)
    assert torch.equal(coarse.values[4], base.values[4][::2])
    # every coarse point's values equal those of the base point it maps to
    vals = coarse.classes_to_values(coarse.all_classes())
    assert torch.equal(vals, base.classes_to_values(base.index_to_classes(base_index)))
    with pytest.raises(DataError, match="unknown factor 'posZ'"):
        strided_grid(base, {"posZ": 2})
