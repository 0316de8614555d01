"""Choosing training points of a factor grid: a coarser grid, excluded combinations, and
factor combinations drawn from a chosen distribution over the grid.

*Stride*: keeping classes 0, k, 2k, ... of a factor gives a coarser grid that keeps the factor
values it holds (so metrics normalised by factor entropy stay exact).

*Correlation*: two factors a, b are drawn jointly from a *discretised Gaussian copula*: (x, y)
standard bivariate Normal with correlation r, class a = floor(n_a * Phi(x)), class
b = floor(n_b * Phi(y)). Each factor keeps a uniform marginal; every other factor is uniform and
independent. The copula parameter r is solved for so that the Pearson correlation of the two
factors' *classes* under the resulting joint pmf equals the requested rho (for evenly spaced factor
values, such as dSprites' scale and positions, that is also the correlation of the values).
Excluded combinations get probability 0. Training images are drawn i.i.d. from this pmf over grid
points, all at once.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from tcvae.data.ground_truth import DataError, FactorGrid

# Quadrature points per row class when integrating the copula over each grid cell.
QUADRATURE_POINTS = 256
# Bisection on the copula parameter stops when the correlation is this close to the target.
CORRELATION_TOLERANCE = 1e-6
_R_LIMIT = 1.0 - 1e-9


def copula_pmf(n_a: int, n_b: int, r: float) -> Tensor:
    """Joint pmf (n_a, n_b), float64, of classes of a discretised Gaussian copula with parameter r.

    P(a, b) = int_{a/n_a}^{(a+1)/n_a} [Phi((y_{b+1} - r x(u)) / s) - Phi((y_b - r x(u)) / s)] du,
    x(u) = Phi^-1(u), y_b = Phi^-1(b / n_b), s = sqrt(1 - r^2): a midpoint rule in u. Rows sum to
    exactly 1/n_a; columns to 1/n_b up to quadrature error.
    """
    if not -1.0 < r < 1.0:
        raise DataError(f"copula parameter must lie in (-1, 1), got {r}")
    q = QUADRATURE_POINTS
    u = (torch.arange(n_a * q, dtype=torch.float64) + 0.5) / (n_a * q)
    x = torch.special.ndtri(u)
    cuts = torch.special.ndtri(torch.arange(n_b + 1, dtype=torch.float64) / n_b)  # -inf .. inf
    s = math.sqrt(1.0 - r * r)
    cdf = torch.special.ndtr((cuts.unsqueeze(0) - r * x.unsqueeze(1)) / s)  # (n_a q, n_b + 1)
    return cdf.diff(dim=1).reshape(n_a, q, n_b).mean(1) / n_a


def class_correlation(pmf: Tensor) -> float:
    """Pearson correlation of the row and column class under a joint pmf (n_a, n_b)."""
    a = torch.arange(pmf.shape[0], dtype=torch.float64)
    b = torch.arange(pmf.shape[1], dtype=torch.float64)
    pa, pb = pmf.sum(1), pmf.sum(0)
    ma, mb = (pa * a).sum(), (pb * b).sum()
    cov = (pmf * (a - ma).unsqueeze(1) * (b - mb).unsqueeze(0)).sum()
    var_a, var_b = (pa * (a - ma) ** 2).sum(), (pb * (b - mb) ** 2).sum()
    return float(cov / torch.sqrt(var_a * var_b))


def solve_copula(n_a: int, n_b: int, rho: float) -> tuple[float, Tensor]:
    """Copula parameter r and pmf whose class correlation equals ``rho`` (bisection, monotone)."""
    if n_a < 2 or n_b < 2:
        raise DataError("correlated factors need at least 2 classes each")
    lo, hi = -_R_LIMIT, _R_LIMIT
    reach = [class_correlation(copula_pmf(n_a, n_b, r)) for r in (lo, hi)]
    if not reach[0] < rho < reach[1]:
        raise DataError(
            f"a correlation of {rho} is out of reach for factors with {n_a} and {n_b} classes "
            f"(possible: {reach[0]:.3f} .. {reach[1]:.3f}); choose a smaller |rho|"
        )
    r, pmf = 0.0, copula_pmf(n_a, n_b, 0.0)
    while hi - lo > 1e-12:
        r = 0.5 * (lo + hi)
        pmf = copula_pmf(n_a, n_b, r)
        c = class_correlation(pmf)
        if abs(c - rho) < CORRELATION_TOLERANCE:
            break
        lo, hi = (r, hi) if c < rho else (lo, r)
    return r, pmf


def exclusion_mask(
    grid: FactorGrid, classes: Tensor, rules: list[dict[str, tuple[int, int] | list[int] | int]]
) -> Tensor:
    """Bool (N,): True where a row of ``classes`` (N, K) matches any rule.

    A rule ``{factor: (lo, hi), ...}`` matches a point whose class of every named factor lies in
    its inclusive range (a single class c is the range (c, c)).
    """
    excluded = torch.zeros(classes.shape[0], dtype=torch.bool)
    for rule in rules:
        excluded |= grid.in_ranges(classes, rule)
    return excluded


def strided_grid(grid: FactorGrid, stride: dict[str, int]) -> tuple[FactorGrid, Tensor]:
    """Keep classes 0, k, 2k, ... of each factor with a stride k.

    Returns the coarse grid and, for each of its points in flat order, the flat index of the same
    point in ``grid`` (num_points,). Class c of a strided factor in the coarse grid is class c * k
    in ``grid``.
    """
    steps = stride_steps(grid, stride)
    values = tuple(v[::k] for v, k in zip(grid.values, steps.tolist()))
    coarse = FactorGrid(grid.names, values)
    return coarse, grid.classes_to_index(coarse.all_classes() * steps)


def stride_steps(grid: FactorGrid, stride: dict[str, int]) -> Tensor:
    """The stride of every factor of ``grid`` (K,) long: 1 for factors ``stride`` does not name."""
    steps = [1] * grid.num_factors
    for name, k in stride.items():
        if not (isinstance(k, int) and not isinstance(k, bool) and k >= 1):
            raise DataError(f"the stride of {name!r} must be an integer >= 1, got {k!r}")
        steps[grid.factor_index(name)] = k
    return torch.tensor(steps, dtype=torch.long)


def grid_weights(
    grid: FactorGrid,
    correlated: tuple[str, str] | None = None,
    rho: float = 0.0,
    exclude: list[dict[str, tuple[int, int]]] | None = None,
    classes: Tensor | None = None,
) -> tuple[Tensor, dict]:
    """Probability of every point (num_points,), float64, and facts.

    The points are the rows of ``classes`` (N, K) (default: every grid point, in flat-index
    order). Without ``correlated`` the points are uniform; excluded points get 0 and the rest are
    renormalised. The facts dict records the copula parameter and the pmf's correlation.
    """
    if classes is None:
        classes = grid.all_classes()
    weights = torch.full((classes.shape[0],), 1.0, dtype=torch.float64)
    info: dict = {}
    if correlated is not None:
        ka, kb = grid.factor_index(correlated[0]), grid.factor_index(correlated[1])
        r, pmf = solve_copula(grid.sizes[ka], grid.sizes[kb], rho)
        weights = pmf[classes[:, ka], classes[:, kb]]
        info.update(copula_r=r, pmf_correlation=class_correlation(pmf))
    excluded = exclusion_mask(grid, classes, list(exclude or []))
    weights = weights.masked_fill(excluded, 0.0)
    if not bool((weights > 0).any()):
        raise DataError("the exclude rules remove every point; relax [[data.exclude]]")
    info["excluded_grid_points"] = int(excluded.sum())
    return weights / weights.sum(), info


def empirical_correlation(grid: FactorGrid, classes: Tensor, factors: tuple[str, str]) -> float:
    """Pearson correlation of two factors' values over the rows of ``classes`` (N, K)."""
    values = grid.classes_to_values(classes)
    ka, kb = grid.factor_index(factors[0]), grid.factor_index(factors[1])
    pair = torch.stack([values[:, ka], values[:, kb]])
    return float(torch.corrcoef(pair)[0, 1])


def sample_grid_points(weights: Tensor, size: int, generator: torch.Generator) -> Tensor:
    """``size`` flat grid indices drawn i.i.d. (with replacement) from ``weights``, sorted."""
    return torch.multinomial(weights, size, replacement=True, generator=generator).sort().values
