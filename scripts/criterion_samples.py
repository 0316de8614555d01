"""How many Monte Carlo samples the screening criterion needs: the full-data total correlation of
early checkpoints, computed with each sample count, ranked against the runs' final MIG.

Reads the runs of ``recipe_search.py`` output folders (``--runs``: their checkpoints at
``--steps``) and the final MIG of the same seeds (``--final``: a folder with ``rows.jsonl``), and
prints, per step and sample count, Spearman's rank correlation over the seeds and the seconds per
decomposition on this machine's threads.

    python scripts/criterion_samples.py --runs early-a early-b --final demo-baseline \
        --steps 488 1952 --samples 2000 10000 --threads 1
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from scipy.stats import spearmanr

from tcvae.evaluation import encode_dataset
from tcvae.evaluation.decomposition import decompose_elbo
from tcvae.training.datasets import build_dataset
from tcvae.training.runs import load_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", nargs="+", type=Path, required=True, help="recipe_search outs")
    parser.add_argument("--final", type=Path, required=True, help="an out with the final MIGs")
    parser.add_argument("--steps", nargs="+", type=int, required=True, help="checkpoint steps")
    parser.add_argument("--samples", nargs="+", type=int, default=[2_000, 10_000])
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    lines = (args.final / "rows.jsonl").read_text().splitlines()
    final = {r["seed"]: r["mig"] for r in map(json.loads, lines)}
    tc: dict[tuple[int, int], dict[int, float]] = {}
    seconds: dict[tuple[int, int], list[float]] = {}
    data = None
    for out in args.runs:
        for run_dir in sorted((out / "runs").iterdir()):
            seed = load_run(run_dir).config.run.seed
            for step in args.steps:
                run = load_run(run_dir, checkpoint=step)
                data = data or build_dataset(run.config.data)
                mean, logvar = encode_dataset(run.model, data)
                for samples in args.samples:
                    start = time.perf_counter()
                    terms = decompose_elbo(mean, logvar, samples=samples, seed=0)
                    seconds.setdefault((step, samples), []).append(time.perf_counter() - start)
                    tc.setdefault((step, samples), {})[seed] = terms.total_correlation
    print("| step | samples | seeds | Spearman rho (TC, final MIG) | p | s per decomposition |")
    print("|---|---|---|---|---|---|")
    for (step, samples), by_seed in sorted(tc.items()):
        seeds = sorted(s for s in by_seed if s in final)
        rho, p = spearmanr([by_seed[s] for s in seeds], [final[s] for s in seeds])
        mean_s = sum(seconds[step, samples]) / len(seconds[step, samples])
        print(f"| {step} | {samples:,} | {len(seeds)} | {rho:.2f} | {p:.3f} | {mean_s:.1f} |")


if __name__ == "__main__":
    main()
