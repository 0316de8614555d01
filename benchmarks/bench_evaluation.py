"""Benchmark the evaluation on the full 737,280-point dSprites factor grid with D = 10.

Synthetic posterior parameters stand in for an encoder: six dimensions encode a factor each
(scale, orientation, posX, posY, shape and a second copy of posX) with factor-dependent means plus
noise and log-variances in [-7, -4]; four are inactive (mean ~ 0, variance ~ 1). Prints:

* MIG, deterministic estimator, on all N points (target <= 10 s on 2 cores);
* the straightforward paper Monte Carlo procedure (S x N x D elementwise log densities per
  entropy, five entropies), timed on a slice of samples and extrapolated to S = 10,000;
* our Monte Carlo implementation (matrix-product form, chunked), likewise;
* the ELBO decomposition with S = 10,000 on all N (target <= 60 s, <= 4 GiB);
* accuracy: deterministic vs a high-sample Monte Carlo reference on a subsample of N (same
  inputs for both): the MIG difference and the largest mixture-entropy difference.

Usage: python benchmarks/bench_evaluation.py [--threads T] [--ref-points N] [--ref-samples S]
"""

from __future__ import annotations

import argparse
import math
import resource
import time

import torch

from tcvae.data.sprites import dsprites_grid
from tcvae.evaluation import PAPER_FACTORS, decompose_elbo, mig
from tcvae.evaluation.exact_mixture import log_mixture_density_per_dim
from tcvae.models.distributions import Normal


def synthetic_posteriors(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list]:
    grid = dsprites_grid()
    classes = grid.all_classes()
    n = classes.shape[0]
    g = torch.Generator().manual_seed(seed)
    names = list(grid.names)
    sizes = torch.tensor(grid.sizes, dtype=torch.float64)
    scaled = classes.double() / (sizes - 1).clamp_min(1) * 2 - 1  # each factor in [-1, 1]
    active = [names.index(f) for f in ("scale", "orientation", "posX", "posY", "shape", "posX")]
    mean = torch.empty(n, 10, dtype=torch.float64)
    logvar = torch.empty(n, 10, dtype=torch.float64)
    for j, k in enumerate(active):
        mean[:, j] = 1.5 * scaled[:, k] + 0.05 * torch.randn(n, generator=g, dtype=torch.float64)
        logvar[:, j] = -7 + 3 * torch.rand(n, generator=g, dtype=torch.float64)
    mean[:, 6:] = 0.05 * torch.randn(n, 4, generator=g, dtype=torch.float64)
    logvar[:, 6:] = 0.05 * torch.randn(n, 4, generator=g, dtype=torch.float64)
    return mean, logvar, classes, names


def paper_style_entropy_slice(mean, logvar, samples: int, seed: int) -> float:
    """Seconds for ``samples`` draws of the straightforward procedure: an (S, N, D) tensor of
    elementwise log densities per chunk, then logsumexp over N."""
    g = torch.Generator().manual_seed(seed)
    pick = torch.randint(mean.shape[0], (samples,), generator=g)
    z = Normal.rsample(mean[pick], logvar[pick], g).float()
    m, lv = mean.float(), logvar.float()
    start = time.perf_counter()
    for i in range(samples):
        torch.logsumexp(Normal.log_density(z[i : i + 1, None, :], m[None], lv[None]), 1)
    return time.perf_counter() - start


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    parser.add_argument("--ref-points", type=int, default=3000, help="subsample N for accuracy")
    parser.add_argument("--ref-samples", type=int, default=200_000, help="MC reference samples")
    parser.add_argument("--skip-reference", action="store_true", help="skip the accuracy check")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    mean, logvar, classes, names = synthetic_posteriors()
    n, d = mean.shape
    factors = PAPER_FACTORS["dsprites"]
    print(f"N = {n}, D = {d}, MIG factors {factors}; peak RSS so far {peak_rss_gib():.2f} GiB")

    start = time.perf_counter()
    det = mig(mean, logvar, classes, names, factors=factors)
    t_det = time.perf_counter() - start
    print(f"\nMIG deterministic (resolution 4): {t_det:.2f} s, MIG = {det.mig:.4f}")
    print(
        "  gaps "
        + ", ".join(f"{f} {g:.3f} (z{j})" for f, g, j in zip(factors, det.gaps, det.latent))
    )

    entropies = 1 + len(factors)  # marginal + one conditional per factor, each S x N x D
    full_pairs = entropies * 10_000 * n * d
    slice_samples = 8
    t_paper = paper_style_entropy_slice(mean, logvar, slice_samples, seed=1)
    paper_total = t_paper / (slice_samples * n * d) * full_pairs
    print(
        f"\npaper-style MC, S = 10,000: {full_pairs:.2e} density evaluations; "
        f"{t_paper / (slice_samples * n * d) * 1e9:.2f} ns each (slice of {slice_samples} samples)"
        f" -> {paper_total:.0f} s = {paper_total / 3600:.2f} h extrapolated"
    )
    slice_samples = 64
    g = torch.Generator().manual_seed(2)
    pick = torch.randint(n, (slice_samples,), generator=g)
    z = Normal.rsample(mean[pick], logvar[pick], g)
    start = time.perf_counter()
    log_mixture_density_per_dim(z, mean, logvar, Normal)
    t_ours = time.perf_counter() - start
    ours_total = t_ours / (slice_samples * n * d) * full_pairs
    print(
        f"our MC (matrix products, chunked): {t_ours / (slice_samples * n * d) * 1e9:.2f} ns per "
        f"evaluation (slice of {slice_samples} samples) -> {ours_total:.0f} s extrapolated; "
        f"deterministic is {ours_total / t_det:.0f}x faster than our MC and "
        f"{paper_total / t_det:.0f}x faster than the paper-style procedure"
    )

    rss_before = peak_rss_gib()
    start = time.perf_counter()
    parts = decompose_elbo(mean, logvar, samples=10_000, seed=0)
    t_dec = time.perf_counter() - start
    print(
        f"\ndecomposition, S = 10,000, N = {n} ({parts.marginals} marginals): {t_dec:.1f} s, "
        f"peak RSS {peak_rss_gib():.2f} GiB (before: {rss_before:.2f} GiB)"
    )
    z_score = (parts.kl_estimate - parts.analytic_kl) / parts.kl_estimate_stderr
    print(
        f"  MI {parts.index_code_mi:.4f} +- {parts.index_code_mi_stderr:.4f}, "
        f"TC {parts.total_correlation:.4f} +- {parts.total_correlation_stderr:.4f}, "
        f"dim-wise KL {parts.dimwise_kl:.4f} +- {parts.dimwise_kl_stderr:.4f}; "
        f"sum {parts.kl_estimate:.4f} +- {parts.kl_estimate_stderr:.4f} vs analytic "
        f"{parts.analytic_kl:.4f} ({z_score:+.2f} se)"
    )

    if args.skip_reference:
        return
    keep = torch.randperm(n, generator=torch.Generator().manual_seed(3))[: args.ref_points]
    sub = (mean[keep], logvar[keep], classes[keep], names)
    det_sub = mig(*sub, factors=factors)
    start = time.perf_counter()
    ref = mig(
        *sub, factors=factors, entropy_estimator="monte-carlo", samples=args.ref_samples, seed=4
    )
    t_ref = time.perf_counter() - start
    diff_h = max(
        abs(ref.marginal_entropy - det_sub.marginal_entropy).max(),
        abs(ref.conditional_entropy - det_sub.conditional_entropy).max(),
    )
    se_h = max(ref.marginal_entropy_stderr.max(), ref.conditional_entropy_stderr.max())
    print(
        f"\naccuracy on a {args.ref_points}-point subsample, MC reference with "
        f"{args.ref_samples} samples ({t_ref:.0f} s): MIG deterministic {det_sub.mig:.4f} vs MC "
        f"{ref.mig:.4f} (|diff| {abs(det_sub.mig - ref.mig):.4f}); largest entropy |diff| "
        f"{diff_h:.4f} nats (largest MC standard error {se_h:.4f}, "
        f"{math.sqrt(2) * se_h:.4f} on a conditional-minus-marginal)"
    )


if __name__ == "__main__":
    main()
