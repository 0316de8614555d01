"""The ``tcvae`` command: one verb per module in this package, and the exit status of each error."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import traceback

from tcvae.cli.options import common_options
from tcvae.errors import CorruptFileError, TcvaeError
from tcvae.training.checkpoint import CheckpointError
from tcvae.training.trainer import DivergedError

# Each module defines ``add_parser(subparsers)`` which registers its verb(s) and sets ``func``
# (a callable taking the parsed args and returning an exit status) as a default.
COMMAND_MODULES = "data train sweep compare evaluate encode score report demo".split()

# The errors the command reports in one line, with their exit status; the first row that matches
# decides. 2: what the user typed (argparse's own errors exit 2 too); 1: the work failed; 130: an
# interrupt. Any other error is a bug: it keeps its traceback (and Python's exit status, 1).
EXIT_STATUS: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], int], ...] = (
    (KeyboardInterrupt, 130),  # Ctrl-C (a training run checkpoints first: 128 + the signal)
    (DivergedError, 1),  # training blew up
    (CheckpointError, 1),  # a checkpoint that cannot be read: truncated, corrupt, foreign
    (CorruptFileError, 1),  # a run's config.json or status.json that cannot be read back
    (TcvaeError, 2),  # a flag's value, a setting, a missing run directory, a file's content
    ((FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError), 2),  # a path
    (OSError, 1),  # the system failed the work: a full disk, a lost connection
)
TRACEBACK_HINT = "(run with -v to see the traceback)"


def exit_status(err: BaseException) -> int | None:
    """The exit status of ``err`` from :data:`EXIT_STATUS`, or None for a bug."""
    return next((status for kinds, status in EXIT_STATUS if isinstance(err, kinds)), None)


def build_parser() -> argparse.ArgumentParser:
    from tcvae import __version__

    parser = argparse.ArgumentParser(
        prog="tcvae",
        description=(
            "Learn and measure disentangled representations: train beta-TCVAE and its baselines, "
            "decompose the ELBO, score with the Mutual Information Gap, run sweeps."
        ),
        parents=[common_options(False)],
    )
    parser.add_argument("--version", action="version", version=f"tcvae {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"tcvae.cli.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s: %(message)s")
    logging.getLogger("tcvae").setLevel(level)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (Exception, KeyboardInterrupt) as err:
        status = exit_status(err)
        if status is None:
            raise
        if args.verbose:
            traceback.print_exc()
        what = "interrupted" if status == 130 else f"error: {err}"
        hint = "" if args.verbose else f" {TRACEBACK_HINT}"
        print(f"tcvae {args.command}: {what}{hint}", file=sys.stderr)
        return status


if __name__ == "__main__":
    sys.exit(main())
