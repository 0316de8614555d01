"""How well would restart screening by full-data TC pick runs? Measured on runs already trained.

Input: ``recipe_search.py --probes`` rows (the full-data TC of every run at each kept checkpoint,
OUT/probes.jsonl, from one or more search folders) and the final MIG of the same seeds
(``--final DIR``: the rows.jsonl of the search that trained them to the end). Output, as Markdown:

1. for each probe budget, the Spearman rank correlation of TC there with the final MIG, over seeds;
2. for each screening design ``K1@I1 -> K2@I2 -> ...`` (``--designs``), the share of all draws of
   K1 distinct seeds from those measured in which the design keeps a run whose final MIG is at
   least ``--goal``, and the median final MIG it keeps, with its screening cost in images beyond
   the kept run's own.

The draws reuse the measured seeds, so the shares estimate a design's success on this recipe and
CPU; a design chosen on them still has to be measured on fresh seeds.

    python scripts/screening_design.py --probes early-a early-b --final demo-baseline \\
        --designs 4@5e5 6@2.5e5,2@1e6
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
from pathlib import Path

from scipy.stats import spearmanr


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def parse_design(text: str) -> list[tuple[int, float]]:
    """'6@2.5e5,2@1e6' -> [(6, 250000.0), (2, 1000000.0)]."""
    return [(int(k), float(n)) for k, n in (part.split("@") for part in text.split(","))]


def pick(seeds: tuple[int, ...], design: list[tuple[int, float]], tc) -> int:
    """The seed a design keeps: each round ranks its entrants by TC at its images (ties by
    seed) and sends the next round's count on; the last round's lowest is kept."""
    entrants = list(seeds)
    for r, (_, images) in enumerate(design):
        entrants.sort(key=lambda s: (tc(s, images), s))
        if r + 1 < len(design):
            entrants = entrants[: design[r + 1][0]]
    return entrants[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--probes", type=Path, nargs="+", required=True, help="search folders")
    parser.add_argument("--final", type=Path, required=True, help="search folder of final MIGs")
    parser.add_argument("--designs", nargs="+", default=["4@5e5", "6@2.5e5,2@1e6"])
    parser.add_argument("--goal", type=float, default=0.25, help="final MIG counted a success")
    args = parser.parse_args()

    final = {r["seed"]: r["mig"] for r in read_jsonl(args.final / "rows.jsonl")}
    early: dict[int, dict[int, float]] = {}
    for folder in args.probes:
        for r in read_jsonl(folder / "probes.jsonl"):
            early.setdefault(r["seed"], {})[r["images_seen"]] = r["full_data"]["tc"]
    seeds = sorted(s for s in early if s in final)

    def tc(seed: int, images: float) -> float:
        nearest = min(early[seed], key=lambda n: abs(n - images))
        if abs(nearest - images) > 0.05 * images:
            raise SystemExit(f"seed {seed} has no probe within 5% of {images:g} images")
        return early[seed][nearest]

    budgets = sorted(set.intersection(*(set(early[s]) for s in seeds)))
    print(
        f"Final MIG of {len(seeds)} seeds from {args.final}; TC probes from "
        f"{', '.join(map(str, args.probes))}.\n"
    )
    print("| probe images | Spearman rho (TC, final MIG) | p |")
    print("|---|---|---|")
    for n in budgets:
        rho, p = spearmanr([early[s][n] for s in seeds], [final[s] for s in seeds])
        print(f"| {n / 1e6:.3g} M | {rho:.2f} | {p:.3f} |")
    print(
        f"\n| design | screening images beyond the kept run | kept MIG >= {args.goal} | "
        "median kept MIG |"
    )
    print("|---|---|---|---|")
    for text in args.designs:
        design = parse_design(text)
        kept = [final[pick(d, design, tc)] for d in itertools.combinations(seeds, design[0][0])]
        counts = [k for k, _ in design] + [1]
        extra = sum((counts[r] - counts[r + 1]) * n for r, (_, n) in enumerate(design))
        share = sum(m >= args.goal for m in kept) / len(kept)
        print(f"| {text} | {extra / 1e6:.2f} M | {share:.2f} | {statistics.median(kept):.3f} |")


if __name__ == "__main__":
    main()
