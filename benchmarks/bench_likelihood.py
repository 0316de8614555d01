"""Bernoulli log-likelihood, forward and backward: tcvae's blocked version against per-pixel BCE.

The decoder's logits of a batch of binary 64x64 images (float32, as the loss receives them) go
through ``Bernoulli.log_likelihood`` (blocks of rows, no per-pixel arrays kept) and through
torch's ``binary_cross_entropy_with_logits(reduction="none")`` summed over pixels (the per-pixel
terms and their gradient as whole (B, 4096) arrays). Both are timed interleaved, after a warm-up;
the medians and their ratio are printed. The two results are checked to be equal first.

Run:  python benchmarks/bench_likelihood.py [--batch 2048] [--reps 9] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
import torch.nn.functional as F

from tcvae.objectives import Bernoulli


def per_pixel(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=2048)
    parser.add_argument("--reps", type=int, default=9)
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads to use")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(args.batch, 1, 64, 64, generator=gen) > 0.8).float()
    logits = (4 * torch.randn(args.batch, 1, 64, 64, generator=gen)).requires_grad_()
    weights = torch.randn(args.batch, generator=gen)
    versions = {"blocked": Bernoulli.log_likelihood, "per-pixel": per_pixel}

    def run(fn) -> tuple[float, torch.Tensor, torch.Tensor]:
        logits.grad = None
        start = time.perf_counter()
        value = fn(x, logits)
        (value * weights).sum().backward()
        return time.perf_counter() - start, value.detach(), logits.grad

    (_, a, ga), (_, b, gb) = (run(fn) for fn in versions.values())
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(ga, gb)
    times: dict[str, list[float]] = {name: [] for name in versions}
    for _ in range(args.reps):
        for name, fn in versions.items():
            times[name].append(run(fn)[0])

    load = os.getloadavg()[0]
    print(
        f"Bernoulli log p(x|z), forward + backward, batch {args.batch} x 4096 pixels, "
        f"{torch.get_num_threads()} threads, median of {args.reps} interleaved runs; "
        f"1-min load average {load:.1f} on {os.cpu_count()} CPUs"
    )
    median = {name: statistics.median(t) for name, t in times.items()}
    for name, seconds in median.items():
        print(f"  {name:10s} {1000 * seconds:7.1f} ms")
    print(f"ratio per-pixel / blocked time: {median['per-pixel'] / median['blocked']:.2f}")


if __name__ == "__main__":
    main()
