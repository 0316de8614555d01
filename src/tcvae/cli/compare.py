"""``tcvae compare``: paper-style figures and an HTML page from a sweep's summary."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "compare",
        help="draw MIG / reconstruction / ELBO vs beta and MIG vs TC for a sweep",
        description=(
            "Draw the paper-style comparison of a sweep (MIG vs beta per method with a 10-90% "
            "band over seeds, reconstruction and ELBO vs beta, MIG vs total correlation) into "
            "SWEEP_DIR/figures and an HTML page."
        ),
    )
    p.add_argument("sweep_dir", type=Path, help="a sweep directory written by tcvae sweep")
    p.add_argument("--out", type=Path, help="HTML page to write (default SWEEP_DIR/compare.html)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tcvae.experiments.compare import compare_sweep

    path = compare_sweep(args.sweep_dir, args.out)
    logging.getLogger(__name__).info("wrote %s", path)
    return 0
