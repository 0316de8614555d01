"""Benchmark ``tcvae score`` on the full 737,280-point dSprites grid's codes against ``tcvae
evaluate`` of the same run minus its encoding (the target: score takes no longer).

Trains a tiny run (10 latent dimensions) on 512 images of the built-in dSprites, encodes the
whole grid once with ``tcvae encode --data dsprites``, then times, alternating rounds:

* ``tcvae evaluate`` of that run on the whole grid (``evaluate_run(data=...)``, what ``tcvae
  evaluate`` runs), minus the seconds its own encoding took (timed inside the same call);
* ``tcvae score CODES.npz`` with the same metrics and settings (reading the file included).

Both compute the metrics with :func:`tcvae.evaluation.run.compute_metrics`; evaluate also
estimates E[log p(x|z)] from the model for the decomposition, which score cannot. Prints both
medians and their ratio.

Usage: python benchmarks/bench_score.py [--metrics LIST] [--samples S] [--rounds R]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from tcvae.cli.main import main
from tcvae.evaluation import run as evaluation
from tcvae.training.config import DataConfig
from tcvae.training.datasets import build_dataset
from timing import interleaved_medians

TRAIN = ["--data", "dsprites", "--data-source", "builtin", "--subset", "512", "--hidden", "16"]
TRAIN += ["--latent-dim", "10", "--batch-size", "64", "--epochs", "1", "--no-tensorboard", "-q"]


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metrics", default="decomposition,mig,mig-discrete", help="to score")
    parser.add_argument("--samples", type=int, default=10_000, help="Monte Carlo samples")
    parser.add_argument("--rounds", type=int, default=1, help="timed rounds (median)")
    args = parser.parse_args()
    metrics = args.metrics.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        run_dir, codes, out = Path(tmp, "run"), Path(tmp, "codes.npz"), Path(tmp, "scored")
        assert main(["train", *TRAIN, "--device", "cpu", "--out", str(run_dir)]) == 0
        data = build_dataset(DataConfig(name="dsprites", source="builtin"))
        argv = ["encode", str(run_dir), "--data", "dsprites", "--data-source", "builtin"]
        assert main([*argv, "-o", str(codes), "-q"]) == 0

        encoding: list[float] = []
        encode = evaluation.encode_dataset

        def timed_encode(*a, **k):
            start = time.perf_counter()
            result = encode(*a, **k)
            encoding.append(time.perf_counter() - start)
            return result

        evaluation.encode_dataset = timed_encode  # times the encoding inside evaluate_run
        settings = dict(metrics=metrics, samples=args.samples)
        score = ["score", str(codes), "--metrics", args.metrics, "--samples", str(args.samples)]
        medians = interleaved_medians(
            {
                "evaluate": lambda i: evaluation.evaluate_run(run_dir, data=data, **settings),
                "score": lambda i: main([*score, "-o", str(out), "-q"]),
            },
            rounds=args.rounds,
            warmup=0,
        )
        evaluation.encode_dataset = encode
    encode_s = sorted(encoding)[len(encoding) // 2]
    evaluate_s = medians["evaluate"] - encode_s
    print(
        f"points: {len(data)}, latent dimensions: 10, metrics: {args.metrics}, samples: "
        f"{args.samples}"
    )
    print(f"tcvae evaluate minus encoding: {evaluate_s:.1f} s (encoding {encode_s:.1f} s)")
    print(f"tcvae score:                   {medians['score']:.1f} s")
    print(f"score / (evaluate - encoding): {medians['score'] / evaluate_s:.2f}")


if __name__ == "__main__":
    main_bench()
