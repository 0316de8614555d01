"""The ``tcvae`` command: one sub-command per module in this package."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from tcvae.errors import TcvaeError

# Each module defines ``add_parser(subparsers)`` which registers its sub-command(s) and sets
# ``func`` (a callable taking the parsed args and returning an exit code) as a default.
COMMAND_MODULES = [
    "data",
    "train",
    "sweep",
    "compare",
    "evaluate",
    "encode",
    "score",
    "report",
    "demo",
]


def user_errors() -> tuple[type[Exception], ...]:
    """The errors shown as one line (exit status 2) instead of a traceback: the library's own
    (:class:`TcvaeError`) and the operating system's (a file missing, a disk full); anything
    else is a bug and keeps its traceback."""
    return (TcvaeError, OSError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tcvae",
        description=(
            "Learn and measure disentangled representations: train beta-TCVAE and its baselines, "
            "decompose the ELBO, score with the Mutual Information Gap, run sweeps."
        ),
    )
    from tcvae import __version__

    parser.add_argument("--version", action="version", version=f"tcvae {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"tcvae.cli.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s: %(message)s"
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("tcvae: interrupted", file=sys.stderr)
        return 130
    except user_errors() as err:
        if args.verbose:
            raise
        print(f"tcvae {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
