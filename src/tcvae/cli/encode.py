"""``tcvae encode``: a run's posterior means and log-variances of every image, in an ``.npz``."""

from __future__ import annotations

import argparse

from tcvae.cli.options import (
    add_compute_options,
    add_config_option,
    add_out_option,
    add_verb,
    device_of,
)
from tcvae.training.config import DataConfig

DESCRIPTION = """\
Encode every image of the run's data set (or of --data) and write the posterior means and
log-variances, the factor classes and names when the data has them, and the run's provenance (run
directory, config, weights file and step, tcvae version) to an .npz that `tcvae score` reads
(np.load(path, allow_pickle=False))."""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    help = "write a run's posterior means and log-variances of every image to an .npz"
    p = add_verb(subparsers, "encode", run, help, DESCRIPTION)
    p.add_argument("run_dir", metavar="RUN_DIR", help="run directory written by `tcvae train`")
    add_out_option(p, "the .npz file to write", "CODES.npz", required=True)
    data = "encode this data set (a registered name or your own .npz) instead of the run's own, "
    data += "e.g. the full factor grid of a run trained on a subset"
    p.add_argument("--data", metavar="NAME|FILE", help=data)
    source = "where --data's images come from (auto, builtin, file; default: the run's source "
    source += "when --data is the run's data set, else auto)"
    add_config_option(p, DataConfig, "source", default=None, help=source)
    add_compute_options(p, batch_size=2048)


def run(args: argparse.Namespace) -> int:
    from tcvae.evaluation.codes import encode_run, save_codes
    from tcvae.training.datasets import build_dataset
    from tcvae.training.runs import read_config

    data = None
    if args.data is not None:
        trained_on = read_config(args.run_dir).data
        same = args.data == trained_on.name
        source = args.data_source or (trained_on.source if same else "auto")
        config = DataConfig(name=args.data, source=source, cache_dir=trained_on.cache_dir)
        data = build_dataset(config, progress=not args.quiet)
    codes = encode_run(args.run_dir, data, args.batch_size, device_of(args), not args.quiet)
    path = save_codes(args.out, codes)
    n, d = codes.mean.shape
    print(f"wrote {path}: {n} points x {d} dimensions of {codes.dataset}")
    return 0
