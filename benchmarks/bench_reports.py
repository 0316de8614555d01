"""Report plots: the vectorised paths against the per-item loops they replace, in one run.

* latent vs factor means: one scatter-add over all N points vs a Python loop over the
  (shape, factor value) cells with a boolean mask each;
* latent traversals: one decoder batch of D x S x T codes vs one decoder call per image.

    python benchmarks/bench_reports.py [--points N] [--threads N]

Prints wall seconds and CPU seconds (user + system, all threads; less sensitive to a shared CPU)
of each, and the ratio.
"""

from __future__ import annotations

import argparse
import resource
import time

import torch

from tcvae.data.sprites import dsprites_grid
from tcvae.models import build_model
from tcvae.reports import images, plots


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(fn, repeats: int = 3) -> tuple[float, float]:
    """Best wall and CPU seconds of ``repeats`` calls."""
    best_wall = best_cpu = float("inf")
    for _ in range(repeats):
        w, c = time.perf_counter(), cpu_s()
        fn()
        best_wall = min(best_wall, time.perf_counter() - w)
        best_cpu = min(best_cpu, cpu_s() - c)
    return best_wall, best_cpu


def loop_means(z, group, n_groups, cls, n_classes):
    out = torch.zeros(n_groups, n_classes, z.shape[1], dtype=z.dtype)
    for g in range(n_groups):
        for c in range(n_classes):
            mask = (group == g) & (cls == c)
            if mask.any():
                out[g, c] = z[mask].mean(0)
    return out


def report(name: str, fast: tuple[float, float], slow: tuple[float, float]) -> None:
    print(
        f"{name:<28} vectorised {fast[0]:8.4f} s wall {fast[1]:8.4f} s cpu | "
        f"loop {slow[0]:8.4f} s wall {slow[1]:8.4f} s cpu | "
        f"speed-up {slow[0] / fast[0]:6.1f}x wall {slow[1] / max(fast[1], 1e-9):6.1f}x cpu"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000, help="encoded points (default 1e5)")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    grid = dsprites_grid()
    classes = grid.index_to_classes(torch.randint(grid.num_points, (args.points,), generator=gen))
    z = torch.randn(args.points, 10, generator=gen, dtype=torch.float64)
    shape, posx = classes[:, 1], classes[:, 4]
    fast = timed(lambda: plots.conditional_means(z, shape, 3, posx, 32))
    slow = timed(lambda: loop_means(z, shape, 3, posx, 32))
    assert torch.allclose(
        plots.conditional_means(z, shape, 3, posx, 32)[0], loop_means(z, shape, 3, posx, 32)
    )
    print(f"{args.points:,} points, torch threads {torch.get_num_threads()}")
    report("latent-vs-factor means", fast, slow)

    model = build_model("mlp", latent_dim=10, hidden=256).eval()
    mean = torch.randn(3, 10, generator=gen)
    codes = images.traversal_latents(mean, torch.arange(10), torch.linspace(-2.5, 2.5, 9))
    flat = codes.reshape(-1, 10)
    fast = timed(lambda: images.decode_mean(model, flat))
    slow = timed(lambda: [images.decode_mean(model, z[None]) for z in flat])
    report(f"traversal decode ({flat.shape[0]} images)", fast, slow)


if __name__ == "__main__":
    main()
