"""The demo's training step beside busy processes, as a fraction of its fair share.

The trainer runs the demo's settings (``tcvae.experiments.demo.DEFAULT_BUDGET``: MLP width,
batch size, learning rate and estimator; beta-TCVAE, auto precision) for --seconds of wall-clock
time, first alone and then beside K processes that each spin one core (K = 1, 2), under two
thread policies: the trainer's automatic one (threads for the cores other processes leave free)
and torch's default (one thread per core, always). The
figure of each run is the median images/s over its logged intervals after the first.

Fair share: with K busy single-threaded processes on C cores, a process that runs C threads is
scheduled C / (C + K) of the machine, so its fair share is idle_rate * C / (C + K), where
idle_rate is the automatic policy's rate alone. (Counting whole processes instead, 1 / (K + 1) of
the machine, gives a smaller share; that fraction is printed too.)

    python benchmarks/bench_contention.py [--seconds 20] [--images 16384]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from tcvae.experiments.demo import DEFAULT_BUDGET
from tcvae.objectives import ObjectiveConfig
from tcvae.training import DataConfig, ModelConfig, OptimConfig, RunConfig, TrainConfig, train
from tcvae.training.threads import available_cores

SPIN = "while True: pass"


def rate(threads: int | None, seconds: float, images: int) -> float:
    """Median images/s of the demo's training step over ``seconds``."""
    with tempfile.TemporaryDirectory() as tmp:
        config = TrainConfig(
            data=DataConfig(source="builtin", subset=images),
            model=ModelConfig(arch="mlp", hidden=DEFAULT_BUDGET.hidden),
            objective=ObjectiveConfig(
                method="beta-tcvae", beta=6.0, estimator=DEFAULT_BUDGET.estimator
            ),
            optim=OptimConfig(
                lr=DEFAULT_BUDGET.lr,
                batch_size=DEFAULT_BUDGET.batch_size,
                epochs=10**6,
                max_minutes=seconds / 60,
            ),
            run=RunConfig(
                run_dir=str(Path(tmp) / "run"),
                device="cpu",
                precision="auto",
                threads=threads,
                log_every=5,
                checkpoint_every=10**9,
                tensorboard=False,
            ),
        )
        run = train(config)
    rows = [r["images_per_s"] for r in run.history[1:-1]] or [run.history[-1]["images_per_s"]]
    return statistics.median(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="training time per run")
    parser.add_argument("--images", type=int, default=16_384, help="training set size")
    parser.add_argument("--busy", type=int, nargs="*", default=[1, 2], help="values of K")
    args = parser.parse_args()
    cores = available_cores()
    policies = {"auto": None, f"fixed {cores}": cores}
    print(
        f"demo step (MLP {DEFAULT_BUDGET.hidden}, batch {DEFAULT_BUDGET.batch_size}, "
        f"{DEFAULT_BUDGET.estimator.upper()}), "
        f"{cores} cores, torch default "
        f"{torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.2f} before"
    )
    idle = {name: rate(t, args.seconds, args.images) for name, t in policies.items()}
    fixed = idle[f"fixed {cores}"]
    print(
        f"alone: auto {idle['auto']:.0f} images/s, fixed {cores} threads {fixed:.0f} images/s "
        f"(auto / fixed {idle['auto'] / fixed:.2f})"
    )
    for k in args.busy:
        spinners = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(k)]
        try:
            for name, threads in policies.items():
                r = rate(threads, args.seconds, args.images)
                fair = idle["auto"] * cores / (cores + k)
                per_process = idle["auto"] / (k + 1)
                print(
                    f"K={k} busy: {name:8s} {r:7.0f} images/s = {r / fair:.2f} of the fair share "
                    f"({fair:.0f}); {r / per_process:.2f} of 1/(K+1) of the machine"
                )
        finally:
            for p in spinners:
                p.kill()
                p.wait()


if __name__ == "__main__":
    main()
