"""``tcvae demo``: the main job in one command, on a CPU, with no download."""

from __future__ import annotations

import argparse
import math

from tcvae.cli.options import (
    add_compute_options,
    add_config_option,
    add_out_option,
    add_verb,
    pick,
)
from tcvae.training.config import PRECISIONS, DataConfig

DESCRIPTION = """\
Render the built-in dSprites (a seeded random subset of the factor grid), train beta-TCVAE
(beta = 6, MWS estimator, MLP encoder/decoder) with a CPU-sized budget, keeping the best of
eight restarts by their total correlation over the data (no labels; --seed S screens S, S+1000,
..., S+7000, side by side on a multi-core CPU), evaluate it (ELBO decomposition, MIG with the
paper's protocol and the discretised one), score an untrained copy of the network with the same
MIG protocol, and write OUT/run/report.html. About 10 minutes or less
on two CPU cores; see docs/lab-notes/demo.md for how the budget was chosen. Scale it up with
--epochs, --subset 0 (the whole grid), --device cuda and --data-source file (the official dSprites
file, fetched with `tcvae data download dsprites`)."""


def _subset(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"--subset must be >= 0 (0: every image), got {value}")
    return value


def _minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0:
        raise argparse.ArgumentTypeError(f"--minutes must be a positive number, got {text}")
    return value


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    help = "train, evaluate and report beta-TCVAE on built-in dSprites in minutes on a CPU"
    p = add_verb(subparsers, "demo", run, help, DESCRIPTION)
    add_out_option(p, "output folder (default tcvae-demo)", default="tcvae-demo")
    p.add_argument("--epochs", type=int, help="training epochs (default: the demo budget's)")
    minutes = "training clock in minutes, screening included (default 9, so that the demo ends "
    minutes += "within 10 minutes on two CPU cores; with --epochs, none unless given). In fp32 "
    minutes += "(a CPU without native bf16) 9 minutes on two cores leave the kept run about 2 M "
    minutes += "images, too few to separate scale; docs/lab-notes/demo.md measures what a longer "
    minutes += "clock gives"
    p.add_argument("--minutes", type=_minutes, metavar="M", help=minutes)
    subset = "train on N random grid points (default: the demo budget's; 0: all 737,280)"
    p.add_argument("--subset", type=_subset, metavar="N", help=subset)
    add_compute_options(p)
    source = "where images come from: the built-in generator (builtin, default), the official "
    source += "file (file), or the file if cached (auto)"
    add_config_option(p, DataConfig, "source", default="builtin", help=source)
    precision = "precision of the networks: auto (default) trains in bf16 where the CPU or GPU "
    precision += "computes it natively, else fp32 (results over seeds per precision: "
    precision += "docs/lab-notes/demo.md)"
    p.add_argument("--precision", choices=PRECISIONS, default="auto", help=precision)
    p.add_argument("--seed", type=int, default=0, help="seed of the data subset and training")
    p.add_argument("--force", action="store_true", help="replace an earlier demo run in --out")
    tiny = "a seconds-long run that learns little (for tests)"
    p.add_argument("--tiny", action="store_true", help=tiny)


def run(args: argparse.Namespace) -> int:
    from tcvae.experiments.demo import run_demo

    subset = "default" if args.subset is None else (args.subset or None)
    settings = pick(
        args, "tiny", "epochs", "minutes", "device", "precision", "data_source", "seed", "force"
    )
    result = run_demo(args.out, subset=subset, progress=not args.quiet, **settings)
    minutes, seconds = divmod(round(result.seconds), 60)
    print(
        f"\nbeta-TCVAE (beta = 6, {result.estimator.upper()}) on {result.images:,} dSprites "
        f"images: trained, evaluated and reported in {minutes} min {seconds} s\n"
        f"  MIG (paper protocol), trained model:   {result.mig:.4f}\n"
        f"  MIG (paper protocol), untrained model: {result.mig_untrained:.4f}\n"
        f"{_screening_line(result.run_dir)}"
        f"  run directory: {result.run_dir}\n"
        f"  open the report: {result.report.resolve()}"
    )
    return 0


def _screening_line(run_dir) -> str:
    """'  restart screening: kept seed 1000 of 6 candidates (full-data TC 0.18 nats)'."""
    from tcvae.training.runs import SCREENING_FILE, read_run_json

    path = run_dir / SCREENING_FILE
    if not path.is_file():
        return ""
    record = read_run_json(path)
    kept = next(c for c in record["candidates"] if c["index"] == record["kept"])
    return (
        f"  restart screening: kept seed {kept['seed']} of {len(record['candidates'])} candidates "
        f"(full-data TC {kept['scores'][-1]['total_correlation']:.3f} nats; see the report)\n"
    )
