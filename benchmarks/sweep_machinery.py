"""Figures for the sweep machinery: biased-data sampling on the full dSprites grid, and the local
process pool's speed-up over running cells one after the other.

    python benchmarks/sweep_machinery.py [--cells 4] [--work 2500]

Prints: the time to build the correlated / excluded training distribution over all 737,280 grid
points and draw 737,280 training points, against a per-point Python loop (timed on a slice and
scaled); and the wall time of ``--cells`` identical CPU-bound cells on 1 worker and on
cores workers (1 torch thread each), with the ratio. Timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from tcvae.data import dsprites_grid
from tcvae.data.factor_sampling import grid_weights, sample_grid_points
from tcvae.experiments.backends import plan_workers, run_local
from tcvae.experiments.grid import expand_grid
from tcvae.experiments.runner import run_cells
from tcvae.experiments.spec import parse_spec
from tcvae.training.threads import available_cores

RULES = [{"shape": (2, 2), "posX": (0, 15)}]


def busy_cell(cell, run_dir: Path, context: dict) -> dict:
    """A stand-in for training: a fixed amount of single-threaded matrix work."""
    a = torch.randn(256, 256, generator=torch.Generator().manual_seed(cell.seed))
    start = time.perf_counter()
    for _ in range(context["work"]):
        a = torch.tanh(a @ a / 16.0)
    return {"seconds": time.perf_counter() - start}


def loop_weights(grid, classes, pmf, ka, kb) -> list[float]:
    """The same weights, one grid point at a time (the thing vectorisation avoids)."""
    out = []
    for row in classes.tolist():
        excluded = any(
            all(lo <= row[grid.factor_index(f)] <= hi for f, (lo, hi) in rule.items())
            for rule in RULES
        )
        out.append(0.0 if excluded else float(pmf[row[ka], row[kb]]))
    return out


def sampling_figures() -> None:
    grid = dsprites_grid()
    start = time.perf_counter()
    weights, info = grid_weights(grid, ("posX", "posY"), 0.8, RULES)
    index = sample_grid_points(weights, grid.num_points, torch.Generator().manual_seed(0))
    vectorised = time.perf_counter() - start
    print(
        f"vectorised: weights over {grid.num_points:,} grid points + {index.numel():,} draws: "
        f"{vectorised:.3f} s (copula r = {info['copula_r']:.4f})"
    )
    from tcvae.data.factor_sampling import solve_copula

    _, pmf = solve_copula(32, 32, 0.8)
    ka, kb = grid.factor_index("posX"), grid.factor_index("posY")
    part = 20_000
    classes = grid.all_classes()[:part]
    start = time.perf_counter()
    loop_weights(grid, classes, pmf, ka, kb)
    per_point = (time.perf_counter() - start) / part
    looped = per_point * grid.num_points
    print(
        f"per-point loop (timed on {part:,} points, scaled): {looped:.2f} s for the weights "
        f"alone; vectorised is {looped / vectorised:.0f}x faster"
    )


def pool_figures(cells: int, work: int) -> None:
    spec = parse_spec(
        {"grid": {"methods": ["beta-vae"], "betas": [1], "seeds": list(range(cells))}}
    )
    grid_cells = expand_grid(spec)
    workers, _ = plan_workers(cells)
    times = {}
    for n in sorted({1, workers}):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            outcomes = run_cells(
                grid_cells, tmp, busy_cell, lambda t, n=n: run_local(t, n), 1, {"work": work}
            )
            times[n] = time.perf_counter() - start
            assert all(o.status == "done" for o in outcomes)
            mean_cell = sum(o.metrics["seconds"] for o in outcomes) / cells
        print(f"{cells} cells on {n} worker(s): {times[n]:.2f} s wall, {mean_cell:.2f} s per cell")
    if workers > 1:
        print(
            f"speed-up with {workers} workers on {available_cores()} cores: "
            f"{times[1] / times[workers]:.2f}x (ideal {min(workers, cells)}x; includes the "
            "start of the worker processes)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=4, help="number of stand-in cells")
    parser.add_argument("--work", type=int, default=2500, help="matrix products per cell")
    args = parser.parse_args()
    torch.set_num_threads(1)
    sampling_figures()
    pool_figures(args.cells, args.work)


if __name__ == "__main__":
    main()
