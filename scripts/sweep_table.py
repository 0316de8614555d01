"""Print a finished (or running) sweep's cells as a Markdown table, with per-method medians.

One row per cell of ``SWEEP_DIR/summary.json``: method, beta, seed, the paper-protocol MIG, the
per-factor gaps, E[log p(x|z)] and the total correlation of the full-data decomposition (both on
the evaluation grid), and the training seconds; then one row per (method, beta) with the medians.

    python scripts/sweep_table.py sweeps/dependent-correlated [--factors posX posY scale]
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path, help="a sweep directory (holding summary.json)")
    parser.add_argument(
        "--factors", nargs="*", default=["scale", "posX", "posY"], help="factors whose gaps to show"
    )
    args = parser.parse_args()
    rows = json.loads((args.sweep_dir / "summary.json").read_text())
    done = [r for r in rows if r.get("status") == "done"]
    gaps = ", ".join(args.factors)
    print(f"| method | beta | seed | MIG | gaps ({gaps}) | E[log p(x\\|z)] | TC | train s |")
    print("|---|---|---|---|---|---|---|---|")
    groups: dict[tuple[str, float], list[dict]] = defaultdict(list)
    for r in sorted(done, key=lambda r: (r["method"], r["beta"], r["seed"])):
        groups[(r["method"], r["beta"])].append(r)
        shown = ", ".join(f"{r.get(f'mig_gaps.{f}', float('nan')):.2f}" for f in args.factors)
        print(
            f"| {r['method']} | {r['beta']:g} | {r['seed']} | {r['mig']:.3f} | {shown} | "
            f"{r['log_px']:.1f} | {r['tc']:.3f} | {r['seconds']:.0f} |"
        )
    print()
    print(
        f"| method | beta | cells | median MIG | MIG range | median gaps ({gaps}) "
        "| median E[log p(x\\|z)] | median TC |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for (method, beta), cells in groups.items():
        migs = [c["mig"] for c in cells]
        med = ", ".join(
            f"{statistics.median(c.get(f'mig_gaps.{f}', float('nan')) for c in cells):.2f}"
            for f in args.factors
        )
        print(
            f"| {method} | {beta:g} | {len(cells)} | {statistics.median(migs):.3f} | "
            f"{min(migs):.3f}-{max(migs):.3f} | {med} | "
            f"{statistics.median(c['log_px'] for c in cells):.1f} | "
            f"{statistics.median(c['tc'] for c in cells):.3f} |"
        )
    missing = len(rows) - len(done)
    if missing:
        print(f"\n{missing} of {len(rows)} cells not finished")


if __name__ == "__main__":
    main()
