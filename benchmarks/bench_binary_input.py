"""Binary images into the MLP encoder: as bool (``binary_linear``) against as floats (``F.linear``).

A random batch of built-in dSprites images goes through the encoder's first layer (4096 -> MLP
width) forward and backward (the weight and bias gradients, as in training), three ways,
interleaved after a warm-up: the images as float32 through ``F.linear``, the same under bf16
autocast (what ``--precision bf16`` runs; native only on CPUs with AVX512-BF16 or AMX, emulated
and slow elsewhere), and as bool through ``binary_linear`` (float32 sums over the pixels that
are on). Then the encoder over a batch of 2048 without gradients (what evaluation runs over a
data set), and whole beta-TCVAE training steps (MSS; forward, loss, backward, FusedAdam) on a
bool batch and on its float copy, alternating step by step, in float32 (and in bf16 where the CPU
computes it natively). Medians and their ratios are printed, for the paper's network (MLP 1200,
batch 2048) and the demo's (MLP 256, batch 512).

Run:  python benchmarks/bench_binary_input.py [--reps 9] [--steps 12] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

import torch
import torch.nn.functional as F

from tcvae.data.dsprites import builtin_dsprites_subset
from tcvae.data.sprites import dsprites_grid
from tcvae.models import binary_linear, build_model
from tcvae.objectives import ObjectiveConfig, compute_loss
from tcvae.training.adam import FusedAdam
from tcvae.training.hardware import cpu_has_native_bf16
from timing import interleaved_medians

DSPRITES_SIZE = 737_280
NETWORKS = {"paper": (1200, 2048), "demo": (256, 512)}  # MLP width, batch size


def dsprites_batch(batch: int, seed: int = 0) -> torch.Tensor:
    """``batch`` random built-in dSprites images as bool, (B, 1, 64, 64)."""
    gen = torch.Generator().manual_seed(seed)
    classes = dsprites_grid().all_classes()
    rows = torch.randint(len(classes), (batch,), generator=gen)
    data = builtin_dsprites_subset(classes[rows])
    return data.batch(torch.arange(batch), dtype=torch.bool)


def layer_times(x: torch.Tensor, hidden: int, reps: int) -> dict[str, float]:
    """Median seconds of the first layer's forward + backward, each way, interleaved."""
    gen = torch.Generator().manual_seed(1)
    flat, dense = x.flatten(1), x.flatten(1).float()
    weight = (0.01 * torch.randn(hidden, flat.shape[1], generator=gen)).requires_grad_()
    bias = torch.zeros(hidden, requires_grad=True)
    upstream = torch.randn(flat.shape[0], hidden, generator=gen)

    def fp32() -> torch.Tensor:
        return F.linear(dense, weight, bias)

    def bf16() -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return F.linear(dense, weight, bias).float()

    ways = {
        "float32": fp32,
        "bf16 autocast": bf16,
        "bool": lambda: binary_linear(flat, weight, bias),
    }
    torch.testing.assert_close(ways["bool"](), fp32(), rtol=1e-4, atol=1e-4)

    def timed(fn: Callable[[], torch.Tensor]) -> Callable[[int], None]:
        def run(_: int) -> None:
            weight.grad = bias.grad = None
            fn().backward(upstream)

        return run

    return interleaved_medians({name: timed(fn) for name, fn in ways.items()}, reps)


@torch.no_grad()
def encode_times(x: torch.Tensor, hidden: int, reps: int) -> dict[str, float]:
    """Median seconds of ``VAE.encode`` (what evaluation runs over a data set) on the bool batch
    and on its float copy, interleaved."""
    torch.manual_seed(0)
    model = build_model("mlp", hidden=hidden).eval()
    batches = {"bool": x, "float": x.float()}
    runs = {name: lambda _, images=images: model.encode(images) for name, images in batches.items()}
    return interleaved_medians(runs, reps)


def step_times(x: torch.Tensor, hidden: int, steps: int, amp: torch.dtype | None) -> dict:
    """Median seconds of a training step on the bool batch and on its float copy."""
    torch.manual_seed(0)
    model = build_model("mlp", hidden=hidden)
    optimiser = FusedAdam(model.parameters(), lr=1e-4)
    config = ObjectiveConfig("beta-tcvae", beta=6.0, estimator="mss")
    batches = {"bool": x, "float": x.float() if amp is None else x.to(amp)}

    def step(images: torch.Tensor) -> Callable[[int], None]:
        def run(i: int) -> None:
            out = model(images, amp_dtype=amp)
            compute_loss(model, images, out, DSPRITES_SIZE, config, i).loss.backward()
            optimiser.step()
            optimiser.zero_grad(set_to_none=True)

        return run

    runs = {name: step(images) for name, images in batches.items()}
    return interleaved_medians(runs, steps, warmup=2)  # two warm-up steps each


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=9, help="timed rounds of the layer")
    parser.add_argument(
        "--steps", type=int, default=12, help="paper-network steps per batch kind (demo: 4x)"
    )
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads to use")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    native = "native" if cpu_has_native_bf16() else "emulated: slow, not what a bf16 CPU gets"
    print(
        f"{torch.get_num_threads()} threads, bf16 {native}; 1-min load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    for network, (hidden, batch) in NETWORKS.items():
        x = dsprites_batch(batch)
        on = x.flatten(1).sum(1).float().mean().item()
        layer = layer_times(x, hidden, args.reps)
        print(
            f"{network} network (MLP {hidden}, batch {batch}; {on:.0f} of 4096 pixels on): "
            f"first layer forward + backward, median of {args.reps}:"
        )
        for name, seconds in layer.items():
            ratio = seconds / layer["bool"]
            print(f"  {name:14s} {1000 * seconds:7.1f} ms  ({ratio:.2f}x the bool time)")
        encode = encode_times(dsprites_batch(2048), hidden, args.reps)
        print(
            f"  encoding a batch of 2048 (VAE.encode), median of {args.reps}: bool "
            f"{1000 * encode['bool']:.1f} ms, float {1000 * encode['float']:.1f} ms, "
            f"ratio {encode['float'] / encode['bool']:.2f}"
        )
        steps = args.steps * 2048 // batch
        precisions = {"fp32": None, "bf16": torch.bfloat16} if cpu_has_native_bf16() else {}
        for precision, amp in (precisions or {"fp32": None}).items():
            step = step_times(x, hidden, steps, amp)
            print(
                f"  {precision} training step, median of {steps}: bool batch "
                f"{1000 * step['bool']:.1f} ms, float batch {1000 * step['float']:.1f} ms, "
                f"images/s ratio bool / float {step['float'] / step['bool']:.3f}"
            )


if __name__ == "__main__":
    main()
