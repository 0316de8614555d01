"""Bernoulli log-likelihood, forward and backward: tcvae's blocked version against per-pixel BCE.

The decoder's logits of a batch of binary 64x64 images (float32, as the loss receives them) go
through ``Bernoulli.log_likelihood`` (blocks of rows, no per-pixel arrays kept) and through
torch's ``binary_cross_entropy_with_logits(reduction="none")`` summed over pixels (the per-pixel
terms and their gradient as whole (B, 4096) arrays). Both are timed interleaved, after a warm-up;
the medians and their ratio are printed. The two results are checked to be equal first.

Then whole bf16 training steps of beta-TCVAE (MSS; forward, loss, backward, fused Adam) with each
likelihood in turn, step by step, for the paper's network (MLP 1200, batch 2048) and the demo's
(MLP 256, batch 512): what the blocked likelihood changes in a step.

Run:  python benchmarks/bench_likelihood.py [--batch 2048] [--reps 9] [--steps 16] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

import torch
import torch.nn.functional as F

from tcvae.models import build_model
from tcvae.objectives import Bernoulli, ObjectiveConfig, compute_loss
from timing import interleaved_medians

DSPRITES_SIZE = 737_280
NETWORKS = {"paper": (1200, 2048), "demo": (256, 512)}  # MLP width, batch size


def per_pixel(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)


def step_times(hidden: int, batch: int, steps: int) -> dict[str, float]:
    """Median seconds of a bf16 training step with each likelihood, alternating step by step."""
    torch.manual_seed(0)
    model = build_model("mlp", hidden=hidden)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-4, fused=True)
    x = (torch.rand(batch, 1, 64, 64) > 0.8).float()
    config = ObjectiveConfig("beta-tcvae", beta=6.0, estimator="mss")
    blocked = Bernoulli.__dict__["log_likelihood"]

    def step(likelihood) -> Callable[[int], None]:
        def run(i: int) -> None:
            Bernoulli.log_likelihood = likelihood
            out = model(x, amp_dtype=torch.bfloat16)
            tensors = (out.x_params, out.z, out.mean, out.logvar)
            compute_loss(config, x, *tensors, dataset_size=DSPRITES_SIZE, step=i).loss.backward()
            optimiser.step()
            optimiser.zero_grad(set_to_none=True)

        return run

    runs = {"blocked": step(blocked), "per-pixel": step(staticmethod(per_pixel))}
    try:
        return interleaved_medians(runs, steps, warmup=2)  # two warm-up steps each
    finally:
        Bernoulli.log_likelihood = blocked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=2048)
    parser.add_argument("--reps", type=int, default=9)
    parser.add_argument(
        "--steps", type=int, default=16, help="paper-network steps per likelihood (demo: 4x)"
    )
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads to use")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(args.batch, 1, 64, 64, generator=gen) > 0.8).float()
    logits = (4 * torch.randn(args.batch, 1, 64, 64, generator=gen)).requires_grad_()
    weights = torch.randn(args.batch, generator=gen)
    versions = {"blocked": Bernoulli.log_likelihood, "per-pixel": per_pixel}

    def run(fn) -> tuple[torch.Tensor, torch.Tensor]:
        logits.grad = None
        value = fn(x, logits)
        (value * weights).sum().backward()
        return value.detach(), logits.grad

    (a, ga), (b, gb) = (run(fn) for fn in versions.values())
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(ga, gb)
    runs = {name: lambda _, fn=fn: run(fn) for name, fn in versions.items()}
    median = interleaved_medians(runs, args.reps, warmup=0)  # the check above warmed up

    load = os.getloadavg()[0]
    print(
        f"Bernoulli log p(x|z), forward + backward, batch {args.batch} x 4096 pixels, "
        f"{torch.get_num_threads()} threads, median of {args.reps} interleaved runs; "
        f"1-min load average {load:.1f} on {os.cpu_count()} CPUs"
    )
    for name, seconds in median.items():
        print(f"  {name:10s} {1000 * seconds:7.1f} ms")
    print(f"ratio per-pixel / blocked time: {median['per-pixel'] / median['blocked']:.2f}")
    for network, (hidden, batch) in NETWORKS.items():
        steps = args.steps * 2048 // batch  # the same number of images for both networks
        step = step_times(hidden, batch, steps)
        print(
            f"bf16 training step, {network} network (MLP {hidden}, batch {batch}), median of "
            f"{steps}: blocked {1000 * step['blocked']:.1f} ms, per-pixel "
            f"{1000 * step['per-pixel']:.1f} ms, ratio {step['per-pixel'] / step['blocked']:.3f}"
        )


if __name__ == "__main__":
    main()
