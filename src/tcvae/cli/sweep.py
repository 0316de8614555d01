"""``tcvae sweep``: train and evaluate every cell of a method x beta x seed grid.

See :mod:`tcvae.experiments.spec` for the spec format and :mod:`tcvae.experiments.sweep` for
the layout of the sweep directory.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from tcvae.cli.options import add_out_option, add_verb, pick, presets_help
from tcvae.errors import TcvaeError
from tcvae.experiments.backends import BACKENDS, import_ray
from tcvae.experiments.spec import load_preset, preset_names, read_spec

EPILOG = """\
Re-running the same command continues a sweep: finished cells are skipped, failed and
interrupted cells run again (from their last checkpoint). Then draw the figures with:
  tcvae compare SWEEP_DIR
With Ray across several machines, SWEEP_DIR must be on a file system every node can reach:
  tcvae sweep spec.toml --backend ray --address auto -o /shared/sweeps/NAME
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    presets = {name: load_preset(name).description for name in preset_names()}
    epilog = presets_help("Presets (--preset NAME, no spec file needed):", presets, EPILOG)
    help = "train and evaluate a grid of methods x betas x seeds"
    description = "Train and evaluate every cell of a sweep spec; safe to re-run to continue."
    p = add_verb(subparsers, "sweep", run, help, description, epilog)
    p.add_argument("spec", nargs="?", type=Path, help="sweep spec TOML file (or use --preset)")
    p.add_argument("--preset", choices=preset_names(), help="a bundled spec instead of a file")
    add_out_option(p, "sweep directory (default sweeps/<spec name>); reuse to continue")
    p.add_argument(
        "--backend", choices=BACKENDS, default="local", help="local process pool or a Ray cluster"
    )
    workers = "local: parallel cells (default: CPU cores / threads)"
    p.add_argument("--workers", type=int, metavar="N", help=workers)
    threads = "torch threads per cell (default: cores / workers; Ray: 1)"
    p.add_argument("--threads", type=int, metavar="N", help=threads)
    address = "Ray: cluster address ('auto' joins the local node's cluster)"
    p.add_argument("--address", metavar="ADDRESS", help=address)
    gpus = "Ray: GPUs reserved per cell (e.g. 0.5)"
    p.add_argument("--gpus-per-cell", type=float, default=0.0, metavar="G", help=gpus)


def run(args: argparse.Namespace) -> int:
    if (args.spec is None) == (args.preset is None):
        raise TcvaeError("give a sweep spec file or --preset NAME (one of them)")
    spec = load_preset(args.preset) if args.preset else read_spec(args.spec)
    if args.backend == "ray":
        import_ray()  # fail now, with the install hint, rather than after preparing data
    out = args.out or Path("sweeps") / spec.name
    from tcvae.experiments.sweep import run_sweep

    settings = pick(args, "backend", "workers", "threads", "address", "gpus_per_cell")
    result = run_sweep(spec, out, progress=not args.quiet, **settings)
    counts = [sum(o.status == s for o in result.outcomes) for s in ("done", "skipped", "failed")]
    summary = "sweep %s: %d ran, %d already finished, %d failed; summary in %s"
    logging.getLogger(__name__).info(summary, spec.name, *counts, out / "summary.csv")
    for outcome in result.failed:
        print(f"failed: {outcome.cell.cell_id}: {outcome.error}", file=sys.stderr)
    return 1 if result.failed else 0
