"""``tcvae compare``: paper-style figures, the paper's claims and an HTML page from a sweep."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from tcvae.cli.options import add_out_option, add_verb

DESCRIPTION = """\
Draw the paper-style comparison of a sweep (MIG vs beta per method with a 10-90% band over seeds,
reconstruction and ELBO vs beta, MIG vs total correlation) into SWEEP_DIR/figures and an HTML
page. When the sweep has finished beta-VAE and beta-TCVAE cells, also test the paper's claims
(higher MIG and better reconstruction at equal beta: paired Wilcoxon tests with bootstrap
intervals; lower TC with higher MIG: Spearman's rho), print a verdict for each, and write them to
the page and to claims.json beside it."""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    help = "draw MIG / reconstruction / ELBO vs beta and MIG vs TC for a sweep; test its claims"
    p = add_verb(subparsers, "compare", run, help, DESCRIPTION)
    p.add_argument("sweep_dir", type=Path, metavar="SWEEP_DIR", help="written by tcvae sweep")
    add_out_option(p, "HTML page to write (default SWEEP_DIR/compare.html)", "FILE.html")


def run(args: argparse.Namespace) -> int:
    from tcvae.experiments.claims import ALPHA
    from tcvae.experiments.compare import write_comparison

    result = write_comparison(args.sweep_dir, args.out)
    log = logging.getLogger(__name__)
    log.info("wrote %s", result.page)
    if result.claims is not None:
        print(f"Claims (one-sided tests, alpha {ALPHA:g}):")
        for line in result.claims.lines():
            print(f"  {line}")
        log.info("wrote %s", result.claims_file)
    return 0
