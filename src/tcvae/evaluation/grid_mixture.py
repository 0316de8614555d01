"""Deterministic densities and entropies of 1-D mixtures, on a grid (REFERENCE.md section 5).

Every MIG quantity, and every per-dimension marginal q(z_j) of the decomposition, is a 1-D mixture
p(z) = sum_n w_n k(z; mu_n, v_n) of posterior components k (Normal or Laplace) with weights
w_n summing to 1 over the mixture's members. Its density is computed at the nodes of a uniform grid
of step h = min_n sqrt(v_n) / resolution, wide enough that every component's tails
(``TAIL_STDS`` standard deviations) fit inside:

1. Each component puts its weight on the two nodes around its mean ("cloud in cell", linear
   weights 1 - t and t). That two-point spread adds variance t (1 - t) h^2, so the component's
   kernel variance is lowered by exactly that much: the deposited component keeps its mean and
   variance.
2. Kernel variances are shared along a geometric ladder (ratio ``VARIANCE_RATIO``); a component
   splits its weight between the three rungs around its variance with quadratic Lagrange weights
   in the variance (some negative), which keep both its variance and its fourth moment; the
   residual error is third order in the rung spacing.
3. Each rung's deposit is convolved with that rung's kernel by FFT, the rungs summed in the
   frequency domain, giving the density of every mixture at every node.
4. Entropy by the rectangle rule, H = -h sum_i p_i log p_i, which converges spectrally for smooth
   densities sampled finer than the narrowest component.

Many mixtures over the same components (the marginal and one mixture per factor value) share the
per-component work: the deposit of all of them is one ``bincount`` over a combined
(mixture, rung, node) index.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from tcvae.evaluation.inputs import EvaluationError
from tcvae.models.distributions import Laplace, Normal

TAIL_STDS = 8.0
VARIANCE_RATIO = 1.5
DEFAULT_MAX_GRID_POINTS = 1 << 21
# Grid points per standard deviation of the narrowest component. A Laplace kernel's cusp makes
# the rectangle rule converge as h^2 rather than spectrally, so Laplace mixtures get a finer grid.
DEFAULT_RESOLUTION = {"normal": 4.0, "laplace": 16.0}
# Largest (mixtures x rungs x nodes) block transformed at once, bounding memory (~16 bytes each).
BLOCK_ELEMENTS = 1 << 23


class GridTooLargeError(EvaluationError):
    """The deterministic estimator would need more grid points than allowed (components far
    narrower than the mixture's span); the Monte Carlo estimator has no such limit."""


def make_grid(
    mean: Tensor, var: Tensor, resolution: float, max_points: int
) -> tuple[float, float, int]:
    """(lo, step, size), the nodes lo + i * step for i = 0 .. size - 1, for components
    (mean, var), both (N,): step min std / resolution."""
    from scipy.fft import next_fast_len

    std = var.sqrt()
    step = float(std.min()) / resolution
    lo = float((mean - TAIL_STDS * std).min())
    hi = float((mean + TAIL_STDS * std).max())
    needed = int(math.ceil((hi - lo) / step)) + 2
    if needed > max_points:
        raise GridTooLargeError(
            f"a 1-D mixture spans [{lo:.4g}, {hi:.4g}] but its narrowest component has standard "
            f"deviation {float(std.min()):.3g}, so the deterministic estimator needs {needed} grid "
            f"points (limit {max_points}); raise max_grid_points, lower resolution, or use "
            "estimator='monte-carlo'"
        )
    return lo, step, next_fast_len(needed, real=True)  # 2^a 3^b 5^c: fast FFT lengths


class GridMixtures:
    """Per-component deposit on a grid, shared by every mixture built from these components.

    mean, var: (N,) component means and variances; family: Normal or Laplace; resolution: grid
    points per narrowest standard deviation; variance_ratio: spacing of the variance ladder.
    Entropies at the defaults: ~1e-6 nats for a single component, and for mixtures, against direct
    quadrature, within 2e-5 nats when the components share one variance and within 1e-3 nats when
    their variances differ (measured up to a spread of 10^4 in variance; the ladder's
    interpolation dominates). Pointwise densities carry a relative error of ~1e-3 from the ladder
    at ratio 1.5 and ~1e-4 at ratio 1.2.
    """

    def __init__(
        self,
        mean: Tensor,
        var: Tensor,
        family: type[Normal] | type[Laplace],
        resolution: float,
        max_points: int = DEFAULT_MAX_GRID_POINTS,
        variance_ratio: float = VARIANCE_RATIO,
    ) -> None:
        if resolution < 1.0:
            raise EvaluationError(f"resolution must be >= 1 grid point per std, got {resolution}")
        self.lo, self.step, self.size = make_grid(mean, var, resolution, max_points)
        h, size = self.step, self.size
        u = (mean - self.lo) / h
        node = u.floor()
        t = u - node
        node = node.long()
        kernel_var = var - t * (1.0 - t) * h * h  # >= 3/4 var since h <= std
        v_lo, v_hi = float(kernel_var.min()), float(kernel_var.max())
        log_ratio = math.log(variance_ratio)
        rungs = max(3, int(math.floor(math.log(v_hi / v_lo) / log_ratio)) + 2)
        ladder = v_lo * variance_ratio ** torch.arange(rungs, dtype=torch.float64)
        # Quadratic Lagrange weights on the three rungs around each variance (x = v / middle
        # rung, rungs at 1/r, 1, r): they sum to 1 and keep the kernel's second and fourth
        # moments, where linear weights would add kurtosis.
        r = variance_ratio
        mid = ((kernel_var / v_lo).log() / log_ratio).round().long().clamp(1, rungs - 2)
        x = kernel_var / ladder[mid]
        lagrange = torch.stack(
            [
                (x - 1) * (x - r) / ((1 / r - 1) * (1 / r - r)),
                (x - 1 / r) * (x - r) / ((1 - 1 / r) * (1 - r)),
                (x - 1 / r) * (x - 1) / ((r - 1 / r) * (r - 1)),
            ],
            1,
        )
        offsets = torch.tensor([0, 1, size, size + 1, 2 * size, 2 * size + 1])
        self.cells = ((mid - 1) * size + node).unsqueeze(1) + offsets  # (N, 6)
        self.weights = (lagrange.unsqueeze(2) * torch.stack([1 - t, t], 1).unsqueeze(1)).view(-1, 6)
        self.rungs = rungs
        # Each rung's kernel sampled at the nodes' circular offsets, scaled to unit mass.
        offset = torch.arange(size, dtype=torch.float64)
        dist = torch.minimum(offset, size - offset) * h
        kernel = family.log_density(dist.unsqueeze(0), 0.0, ladder.log().unsqueeze(1)).exp()
        kernel = kernel / (kernel.sum(1, keepdim=True) * h)
        self.kernel_spectrum = torch.fft.rfft(kernel, dim=-1)  # (rungs, size // 2 + 1)

    def densities(self, labels: Tensor, num_labels: int) -> Tensor:
        """Densities at the nodes, (num_labels, size), of the mixtures q(z | label) with equal
        weights within each label; ``labels`` (N,) in [0, num_labels)."""
        members = torch.bincount(labels, minlength=num_labels)
        size, rungs = self.size, self.rungs
        chunk = max(1, BLOCK_ELEMENTS // (rungs * size))
        out = torch.empty(num_labels, size, dtype=torch.float64)
        for m0 in range(0, num_labels, chunk):
            m1 = min(num_labels, m0 + chunk)
            if m0 == 0 and m1 == num_labels:
                cells, weights, local = self.cells, self.weights, labels
            else:
                keep = (labels >= m0) & (labels < m1)
                cells, weights, local = self.cells[keep], self.weights[keep], labels[keep] - m0
            index = (local.unsqueeze(1) * (rungs * size) + cells).view(-1)
            deposit = torch.bincount(index, weights.view(-1), minlength=(m1 - m0) * rungs * size)
            spectrum = torch.fft.rfft(deposit.view(m1 - m0, rungs, size), dim=-1)
            spectrum = (spectrum * self.kernel_spectrum).sum(1)
            density = torch.fft.irfft(spectrum, n=size, dim=-1).clamp_min_(0.0)
            # Each member deposited unit mass: divide by the member count for equal weights.
            out[m0:m1] = density / members[m0:m1].to(torch.float64).unsqueeze(1)
        return out

    def entropy(self, density: Tensor) -> Tensor:
        """-integral p log p dz by the rectangle rule, for densities (..., size) -> (...)."""
        plogp = torch.where(density > 0, density * density.clamp_min(1e-300).log(), 0.0)
        return -self.step * plogp.sum(-1)

    def interpolate_log(self, density: Tensor, z: Tensor) -> Tensor:
        """log of a density (size,) at points z (S,) by linear interpolation between nodes."""
        u = ((z - self.lo) / self.step).clamp(0.0, self.size - 1.0)
        left = u.floor().long().clamp_max(self.size - 2)
        t = u - left
        value = (1.0 - t) * density[left] + t * density[left + 1]
        return value.clamp_min(1e-300).log()
