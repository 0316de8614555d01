"""Evaluation with binary images read as bool (``binary_linear``) against as floats (``F.linear``).

On a CPU, ``VAE.batch_dtype`` hands binary images to the MLP encoder as bool, and its first layer
(4096 -> MLP width, the largest product of the paper's MLP) sums the weight columns of the pixels
that are on instead of multiplying by every zero (a dSprites image has about 185 of 4096 on).
Timed, each way in alternation after a warm-up, medians printed:

* the first layer's forward on a batch of 2048 dSprites images: float32, bf16 autocast and bool;
* ``encode_dataset`` over all 737,280 images of the built-in dSprites grid (the pass that every
  metric of ``tcvae evaluate`` starts from) with the paper's MLP (1200) and the demo's (256);
* with ``--run RUN_DIR``: ``evaluate_run(RUN_DIR)``, what ``tcvae evaluate RUN_DIR`` runs with
  its defaults.

Run:  python benchmarks/bench_binary_input.py [--rounds 3] [--threads 1] [--run RUN_DIR]
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from unittest import mock

import torch
import torch.nn.functional as F

from tcvae.data import load_dataset
from tcvae.evaluation import encode_dataset
from tcvae.evaluation.run import evaluate_run
from tcvae.models import binary_linear, build_model
from tcvae.models.vae import VAE
from tcvae.training.hardware import cpu_has_native_bf16
from timing import interleaved_medians

NETWORKS = {"paper": 1200, "demo": 256}  # MLP width


def float_batches(self: VAE, max_value: int, device: torch.device | str) -> torch.dtype:
    return torch.float32


@torch.no_grad()
def layer_times(x: torch.Tensor, hidden: int, rounds: int) -> dict[str, float]:
    """Median seconds of the first layer's forward, each way."""
    gen = torch.Generator().manual_seed(1)
    flat, dense = x.flatten(1), x.flatten(1).float()
    weight = 0.01 * torch.randn(hidden, flat.shape[1], generator=gen)
    bias = torch.zeros(hidden)

    def bf16() -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return F.linear(dense, weight, bias).float()

    ways: dict[str, Callable[[], torch.Tensor]] = {
        "float32": lambda: F.linear(dense, weight, bias),
        "bf16 autocast": bf16,
        "bool": lambda: binary_linear(flat, weight, bias),
    }
    torch.testing.assert_close(ways["bool"](), ways["float32"](), rtol=1e-4, atol=1e-4)
    return interleaved_medians({name: lambda _, f=fn: f() for name, fn in ways.items()}, rounds)


def encode_times(data, hidden: int, rounds: int) -> dict[str, float]:
    """Median seconds of ``encode_dataset`` over ``data``, bool and float batches."""
    torch.manual_seed(0)
    model = build_model("mlp", hidden=hidden).eval()
    as_floats = build_model("mlp", hidden=hidden).eval()
    as_floats.load_state_dict(model.state_dict())
    as_floats.batch_dtype = float_batches.__get__(as_floats)
    models = {"bool": model, "float": as_floats}
    runs = {name: lambda _, m=m: encode_dataset(m, data) for name, m in models.items()}
    return interleaved_medians(runs, rounds, warmup=0)


def evaluate_times(run_dir: str, rounds: int) -> dict[str, float]:
    """Median seconds of ``evaluate_run(run_dir)`` (its defaults), bool and float batches."""

    def as_floats(_: int) -> None:
        with mock.patch.object(VAE, "batch_dtype", float_batches):
            evaluate_run(run_dir)

    runs = {"bool": lambda _: evaluate_run(run_dir), "float": as_floats}
    return interleaved_medians(runs, rounds, warmup=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds of each way")
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads to use")
    parser.add_argument("--run", metavar="RUN_DIR", help="also time evaluate_run(RUN_DIR)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    native = "native" if cpu_has_native_bf16() else "emulated: slow, not what a bf16 CPU gets"
    print(
        f"{torch.get_num_threads()} threads, bf16 {native}; 1-min load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    data = load_dataset("dsprites", source="builtin")
    x = data.batch(torch.arange(0, len(data), len(data) // 2048)[:2048], dtype=torch.bool)
    for network, hidden in NETWORKS.items():
        layer = layer_times(x, hidden, 3 * args.rounds)
        print(f"{network} network (MLP {hidden}): first layer forward, batch of 2048:")
        for name, seconds in layer.items():
            print(f"  {name:14s} {1000 * seconds:7.1f} ms  ({seconds / layer['bool']:.2f}x bool)")
        encode = encode_times(data, hidden, args.rounds)
        print(
            f"  encode_dataset, {len(data):,} images, median of {args.rounds}: bool "
            f"{encode['bool']:.1f} s, float {encode['float']:.1f} s "
            f"(float / bool {encode['float'] / encode['bool']:.2f})"
        )
    if args.run:
        bool_s, float_s = evaluate_times(args.run, args.rounds).values()
        print(
            f"evaluate_run({args.run}), median of {args.rounds}: bool {bool_s:.1f} s, "
            f"float {float_s:.1f} s (float / bool {float_s / bool_s:.2f})"
        )


if __name__ == "__main__":
    main()
