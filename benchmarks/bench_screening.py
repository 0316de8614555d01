"""Restart screening: candidates side by side (one process per thread) against one after another.

Screens ``--candidates`` candidates of the demo's recipe (``tcvae demo``'s network, data and
batch) to ``--images`` images each, on ``--threads`` threads, once each way in alternation:

* side by side: what ``tcvae train --screen`` does on a CPU with threads to spare (one worker
  process per thread, each training one candidate after another on one thread);
* one after another: each candidate on all the threads, as on a GPU or with ``--threads 1``.

Each figure is the screening's wall time (training, scoring and process start-up) and the
candidates' images per second over it; the ratio is the side-by-side speed-up. Run it on an
otherwise idle machine: the figures are what the demo's clock buys.

Run:  python benchmarks/bench_screening.py [--candidates 4] [--images 200000] [--threads 2]
      [--precision auto] [--rounds 1]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from unittest import mock

from tcvae.experiments import screening
from tcvae.experiments.demo import DEFAULT_BUDGET, demo_config
from tcvae.training.runs import SCREENING_FILE, read_run_json
from timing import interleaved_medians


def screen(out: Path, candidates: int, images: int, threads: int, precision: str) -> None:
    config = demo_config(out, DEFAULT_BUDGET, precision=precision)
    config.optim.screen, config.optim.screen_images = [candidates], [images]
    config.optim.max_steps = -(-images // config.optim.batch_size)  # the kept run stops there
    config.optim.max_minutes = None
    config.run.threads = threads
    screening.train(config)
    read_run_json(out / SCREENING_FILE)  # it finished and recorded every candidate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--candidates", type=int, default=4)
    parser.add_argument("--images", type=int, default=200_000, help="images per candidate")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--precision", default="auto", help="auto, bf16 or fp32")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:

        def run(mode: str):
            def go(i: int) -> None:
                out = Path(tmp) / f"{mode}-{i}"
                if mode == "side by side":
                    screen(out, args.candidates, args.images, args.threads, args.precision)
                    return
                with mock.patch.object(screening, "side_by_side", return_value=(1, None)):
                    screen(out, args.candidates, args.images, args.threads, args.precision)

            return go

        times = interleaved_medians(
            {mode: run(mode) for mode in ("side by side", "one after another")},
            rounds=args.rounds,
            warmup=0,
        )
    total = args.candidates * args.images
    print(
        f"{args.candidates} candidates x {args.images:,} images, {args.threads} threads, "
        f"precision {args.precision}"
    )
    for mode, seconds in times.items():
        print(f"  {mode:18s} {seconds:7.1f} s  {total / seconds:8,.0f} images/s")
    print(f"  side-by-side speed-up: {times['one after another'] / times['side by side']:.2f}x")


if __name__ == "__main__":
    main()
