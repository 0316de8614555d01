"""How well would restart screening by full-data TC pick runs? Measured on runs already trained.

Input: ``recipe_search.py --probes`` rows (the full-data TC of every run at each kept checkpoint,
OUT/probes.jsonl, from one or more search folders) and the final MIG of the same seeds
(``--final DIR``: the rows.jsonl of the search that trained them to the end). Output, as Markdown:

1. for each probe budget, the Spearman rank correlation of TC there with the final MIG, over seeds;
2. for each screening design ``K1@I1 -> K2@I2 -> ...`` (``--designs``), the share of all draws of
   K1 distinct seeds from those measured in which the design keeps a run whose final MIG is at
   least ``--goal``, and the median final MIG it keeps, with its screening cost in images beyond
   the kept run's own;
3. with ``--tc-max T``, the same for each design whose last round is widened as ``--screen-tc-max
   T`` does (the next-ranked of the round before join it while its lowest TC is above T), with the
   share of draws that widened; and, at each probe budget, the largest TC of a run that reached
   the goal against the smallest of one that did not (a threshold between them separates them).

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


def pick(
    seeds: tuple[int, ...], design: list[tuple[int, float]], tc, tc_max: float | None = None
) -> tuple[int, int]:
    """The seed a design keeps, and how many times its last round widened: each round ranks its
    entrants by TC at its images (ties by seed) and sends the next round's count on; while the
    last round's lowest is above ``tc_max``, the next-ranked of the round before join it; the
    last round's lowest is kept."""
    ranking, widened = list(seeds), 0
    for r, (width, images) in enumerate(design):
        last = r + 1 == len(design)
        while True:
            entrants = sorted(ranking[:width], key=lambda s: (tc(s, images), s))
            more = last and r > 0 and tc_max is not None and width < len(ranking)
            if not (more and tc(entrants[0], images) > tc_max):
                break
            width, widened = width + design[r][0], widened + 1
        ranking = entrants + ranking[width:]
    return ranking[0], widened


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--probes", type=Path, nargs="+", required=True, help="search folders")
    parser.add_argument("--final", type=Path, required=True, help="search folder of final MIGs")
    parser.add_argument("--designs", nargs="+", default=["4@5e5", "6@2.5e5,2@1e6"])
    parser.add_argument("--goal", type=float, default=0.25, help="final MIG counted a success")
    parser.add_argument(
        "--tc-max", type=float, default=None, help="also widen each design's last round above this"
    )
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
    if args.tc_max is not None:
        print(f"\n| probe images | largest TC reaching MIG {args.goal} | smallest TC not |")
        print("|---|---|---|")
        for n in budgets:
            good = [early[s][n] for s in seeds if final[s] >= args.goal]
            bad = [early[s][n] for s in seeds if final[s] < args.goal]
            print(f"| {n / 1e6:.3g} M | {max(good):.3f} | {min(bad):.3f} |")
    print(
        f"\n| design | screening images beyond the kept run | kept MIG >= {args.goal} | "
        "median kept MIG | draws widened |"
    )
    print("|---|---|---|---|---|")
    for text in args.designs:
        design = parse_design(text)
        counts = [k for k, _ in design] + [1]
        extra = sum((counts[r] - counts[r + 1]) * n for r, (_, n) in enumerate(design))
        for tc_max in [None] + ([args.tc_max] if args.tc_max is not None else []):
            picks = [pick(d, design, tc, tc_max) for d in itertools.combinations(seeds, counts[0])]
            kept = [final[seed] for seed, _ in picks]
            share = sum(m >= args.goal for m in kept) / len(kept)
            widened = sum(w > 0 for _, w in picks) / len(picks)
            name = text if tc_max is None else f"{text}, widened above {tc_max:g}"
            print(
                f"| {name} | {extra / 1e6:.2f} M | {share:.2f} | {statistics.median(kept):.3f} "
                f"| {widened:.2f} |"
            )


if __name__ == "__main__":
    main()
