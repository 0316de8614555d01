"""Options shared by several sub-commands, defined once so they read and behave the same."""

from __future__ import annotations

import argparse


def add_progress_option(parser: argparse.ArgumentParser) -> None:
    """``--no-progress``: sets ``args.progress`` to False (progress bars are on by default)."""
    parser.add_argument(
        "--no-progress", dest="progress", action="store_false", help="hide progress bars"
    )
