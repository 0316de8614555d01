"""``tcvae report RUN_DIR``: plots and a self-contained HTML report of a trained run."""

from __future__ import annotations

import argparse

from tcvae.cli.options import add_compute_options, add_verb, device_of, pick

DESCRIPTION = """\
Write RUN_DIR/report.html, one self-contained page (images embedded, no external files, opens
offline in any browser), and every plot as a PNG in RUN_DIR/report/: the run's configuration, both
MIG protocols, the ELBO decomposition with standard errors, the factor x latent mutual information
with the MIG gaps, latent vs factor curves, latent traversals, reconstructions, prior samples,
training curves and the KL of each latent dimension. Data without factor labels (a folder of
images) gets every part that needs none: no metrics, mutual information or latent vs factor plots.

If RUN_DIR has no metrics.json yet, the run is evaluated first (as `tcvae evaluate RUN_DIR` would,
which writes metrics.json); pass --no-evaluate to stop with an error instead.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    help = "write an HTML report (plots, metrics, decomposition) of a trained run"
    p = add_verb(subparsers, "report", run, help, DESCRIPTION)
    p.add_argument("run_dir", metavar="RUN_DIR", help="run directory written by `tcvae train`")
    add_compute_options(p)
    p.add_argument(
        "--no-evaluate",
        dest="evaluate",
        action="store_false",
        help="fail if metrics.json is missing instead of evaluating the run first",
    )
    p.add_argument("--seed", type=int, default=0, help="seed choosing the images shown (default 0)")


def run(args: argparse.Namespace) -> int:
    from tcvae.reports.run_report import write_report

    settings = pick(args, "evaluate", "seed")
    report = write_report(args.run_dir, device=device_of(args), progress=not args.quiet, **settings)
    print(f"report: {report.html}")
    print(f"figures: {report.html.parent / 'report'} ({len(report.figures)} PNG files)")
    return 0
