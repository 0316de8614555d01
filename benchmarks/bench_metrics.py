"""Benchmark the classifier-based metrics on codes of the full dSprites factor grid, D = 10.

Synthetic codes stand in for an encoder's posterior means: noisy, partly mixed and partly
nonlinear functions of the five varying factors (shape, scale, orientation, posX, posY), as a
trained model's often are:

    z0 = posX + noise                           z1 = tanh(1.5 posY) + 0.3 posX + noise
    z2 = scale + 0.2 [heart] + noise            z3 = cos(angle) (0.5 or 1 by shape) + noise
    z4 = 0.6 sin(angle) + 0.2 scale + noise     z5 = 0.5 shape + noise
    z6 = 0.2 posY + 0.1 posX + noise            z7..z9 = small noise (collapsed dimensions)

(each factor scaled to [-1, 1]). Prints DCI with the reference protocol (disentanglement_lib's
GradientBoostingClassifier) and with the fast one on the same codes and the same 10,000 training
/ 5,000 test points: wall and CPU seconds, the three scores and their differences (target for
the fast protocol: <= 30 s on 2 cores, disentanglement within 0.03 of the reference). Then the
other metrics at their default protocols, timed.

Usage: python benchmarks/bench_metrics.py [--threads T] [--no-reference] [--seed S]

``--threads`` caps the OpenMP threads of the fast DCI's histogram boosting (``dci(threads=)``);
on a machine whose cores are busy, 1 avoids threads waiting on each other.
"""

from __future__ import annotations

import argparse
import resource
import time
from collections.abc import Callable

import numpy as np

from tcvae.data.sprites import dsprites_grid
from tcvae.evaluation import (
    beta_vae_score,
    dci,
    factor_vae_score,
    mig_discrete,
    mig_sup,
    modularity_explicitness,
    sap,
)


def synthetic_codes(seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Codes (737280, 10) and factor classes (737280, 6) of the dSprites grid."""
    grid = dsprites_grid()
    classes = grid.all_classes().numpy()
    names = list(grid.names)
    rng = np.random.default_rng(seed)
    sizes = np.array(grid.sizes)
    u = classes / np.maximum(sizes - 1, 1) * 2 - 1
    shape, scale, px, py = (u[:, names.index(f)] for f in ("shape", "scale", "posX", "posY"))
    angle = grid.values[names.index("orientation")].numpy()[classes[:, names.index("orientation")]]
    n = len(u)

    def noise(std: float) -> np.ndarray:
        return std * rng.standard_normal(n)

    z = np.empty((n, 10))
    z[:, 0] = px + noise(0.1)
    z[:, 1] = np.tanh(1.5 * py) + 0.3 * px + noise(0.1)
    z[:, 2] = scale + 0.2 * (shape > 0.5) + noise(0.15)
    z[:, 3] = np.cos(angle) * (0.5 + 0.5 * (shape > -0.5)) + noise(0.2)
    z[:, 4] = 0.6 * np.sin(angle) + 0.2 * scale + noise(0.3)
    z[:, 5] = 0.5 * shape + noise(0.4)
    z[:, 6] = 0.2 * py + 0.1 * px + noise(0.5)
    z[:, 7:] = 0.05 * rng.standard_normal((n, 3))
    return z, classes, names


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(run: Callable[[], object]) -> tuple[object, float, float]:
    wall, cpu = time.perf_counter(), cpu_s()
    result = run()
    return result, time.perf_counter() - wall, cpu_s() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="OpenMP threads (fast DCI)")
    parser.add_argument("--no-reference", action="store_true", help="skip the reference DCI")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    codes, classes, names = synthetic_codes(args.seed)
    print(f"codes {codes.shape}, factors {names} (color is constant and left out)")
    fast, fast_wall, fast_cpu = timed(
        lambda: dci(codes, classes, names, protocol="fast", seed=args.seed, threads=args.threads)
    )
    print(f"DCI fast:      {fast_wall:7.1f} s wall {fast_cpu:7.1f} s CPU   {_scores(fast)}")
    if not args.no_reference:
        ref, ref_wall, ref_cpu = timed(lambda: dci(codes, classes, names, seed=args.seed))
        print(f"DCI reference: {ref_wall:7.1f} s wall {ref_cpu:7.1f} s CPU   {_scores(ref)}")
        diff = "  ".join(
            f"{key} {getattr(fast, key) - getattr(ref, key):+.4f}"
            for key in ("disentanglement", "completeness", "informativeness")
        )
        print(f"fast - reference: {diff}   speed-up x{ref_wall / fast_wall:.1f} (wall)")
        print(
            f"largest importance difference: {np.abs(fast.importance - ref.importance).max():.4f}"
        )

    others: list[tuple[str, str, Callable[[], object]]] = [
        ("BetaVAE score", "beta_vae", lambda: beta_vae_score(codes, classes, names)),
        ("FactorVAE score", "factor_vae", lambda: factor_vae_score(codes, classes, names)),
        ("SAP", "sap", lambda: sap(codes, classes, names)),
        ("modularity", "modularity", lambda: modularity_explicitness(codes, classes, names)),
        ("MIG-sup", "mig_sup", lambda: mig_sup(codes, classes, names)),
        ("MIG (discretised)", "mig_discrete", lambda: mig_discrete(codes, classes, names)),
    ]
    for label, key, run in others:
        result, wall, cpu = timed(run)
        extra = ""
        if key == "modularity":
            extra = f"  explicitness {result.explicitness:.4f}"
        value = getattr(result, key)
        print(f"{label:<18} {wall:6.1f} s wall {cpu:6.1f} s CPU   {value:.4f}{extra}")


def _scores(result) -> str:
    return (
        f"D {result.disentanglement:.4f}  C {result.completeness:.4f}  "
        f"I {result.informativeness:.4f}"
    )


if __name__ == "__main__":
    main()
