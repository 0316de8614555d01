"""``tcvae sweep``: train and evaluate every cell of a method x beta x seed grid.

See :mod:`tcvae.experiments.spec` for the spec format and :mod:`tcvae.experiments.sweep` for
the layout of the sweep directory.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from tcvae.cli.options import add_progress_option, presets_help
from tcvae.errors import TcvaeError
from tcvae.experiments.backends import BACKENDS, import_ray
from tcvae.experiments.spec import load_preset, preset_names, read_spec

EPILOG = """\
Re-running the same command continues a sweep: finished cells are skipped, failed and
interrupted cells run again (from their last checkpoint). Then draw the figures with:
  tcvae compare SWEEP_DIR
With Ray across several machines, SWEEP_DIR must be on a file system every node can reach:
  tcvae sweep spec.toml --backend ray --address auto --out /shared/sweeps/NAME
"""


def presets_epilog() -> str:
    """One line per bundled preset (its spec's description), then :data:`EPILOG`."""
    descriptions = {name: load_preset(name).description for name in preset_names()}
    title = "Presets (--preset NAME, no spec file needed):"
    return presets_help(title, descriptions) + "\n\n" + EPILOG


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "sweep",
        help="train and evaluate a grid of methods x betas x seeds",
        description="Train and evaluate every cell of a sweep spec; safe to re-run to continue.",
        epilog=presets_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("spec", nargs="?", type=Path, help="sweep spec TOML file (or use --preset)")
    p.add_argument("--preset", choices=preset_names(), help="a bundled spec instead of a file")
    p.add_argument(
        "--out", type=Path, help="sweep directory (default sweeps/<spec name>); reuse to continue"
    )
    p.add_argument(
        "--backend", choices=BACKENDS, default="local", help="local process pool or a Ray cluster"
    )
    p.add_argument(
        "--workers", type=int, help="local: parallel cells (default: CPU cores / threads)"
    )
    p.add_argument(
        "--threads", type=int, help="torch threads per cell (default: cores / workers; Ray: 1)"
    )
    p.add_argument("--address", help="Ray: cluster address ('auto' joins the local node's cluster)")
    p.add_argument(
        "--gpus-per-cell", type=float, default=0.0, help="Ray: GPUs reserved per cell (e.g. 0.5)"
    )
    add_progress_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if (args.spec is None) == (args.preset is None):
        raise TcvaeError("give a sweep spec file or --preset NAME (one of them)")
    spec = load_preset(args.preset) if args.preset else read_spec(args.spec)
    if args.backend == "ray":
        import_ray()  # fail now, with the install hint, rather than after preparing data
    out = args.out or Path("sweeps") / spec.name
    from tcvae.experiments.sweep import run_sweep

    result = run_sweep(
        spec,
        out,
        backend=args.backend,
        workers=args.workers,
        threads=args.threads,
        address=args.address,
        gpus_per_cell=args.gpus_per_cell,
        progress=args.progress,
    )
    counts = {s: sum(o.status == s for o in result.outcomes) for s in ("done", "skipped", "failed")}
    logging.getLogger(__name__).info(
        "sweep %s: %d ran, %d already finished, %d failed; summary in %s",
        spec.name,
        counts["done"],
        counts["skipped"],
        counts["failed"],
        out / "summary.csv",
    )
    for outcome in result.failed:
        print(f"failed: {outcome.cell.cell_id}: {outcome.error}", file=sys.stderr)
    return 1 if result.failed else 0
