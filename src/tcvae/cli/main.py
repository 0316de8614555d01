"""The ``tcvae`` command: one sub-command per module in this package."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import MutableMapping
from pathlib import Path

from tcvae.errors import TcvaeError

# Each module defines ``add_parser(subparsers)`` which registers its sub-command(s) and sets
# ``func`` (a callable taking the parsed args and returning an exit code) as a default.
COMMAND_MODULES = ["data", "train", "sweep", "compare", "evaluate", "report", "demo"]

# PyTorch's CPU allocator reads this variable once, at its first allocation: with it set to 1,
# tensors of 2 MiB or more are page-aligned and backed by transparent huge pages. Training the
# paper's MLP on full-grid dSprites then peaks about 70 MiB lower (about 965 MiB instead of
# 1,040: glibc's heap keeps far fewer free holes between the step's large tensors), at the same
# speed (benchmarks/bench_data.py; docs/performance.md).
HUGE_PAGES_ENV = "THP_MEM_ALLOC_ENABLE"


def user_errors() -> tuple[type[Exception], ...]:
    """The errors shown as one line (exit status 2) instead of a traceback: the library's own
    (:class:`TcvaeError`) and the operating system's (a file missing, a disk full); anything
    else is a bug and keeps its traceback."""
    return (TcvaeError, OSError)


THP_SETTING = Path("/sys/kernel/mm/transparent_hugepage/enabled")


def huge_pages_supported(setting: Path = THP_SETTING) -> bool:
    """Whether the kernel offers transparent huge pages to a process that asks (Linux, mode
    ``always`` or ``madvise``; elsewhere PyTorch would only warn that it could not use them)."""
    try:
        return "[never]" not in setting.read_text()
    except OSError:
        return False


def use_huge_pages(environ: MutableMapping[str, str] = os.environ) -> bool:
    """Ask PyTorch's CPU allocator for huge-page tensors in this process (``HUGE_PAGES_ENV``)
    where the kernel supports them, unless the environment already sets the variable (the
    user's choice stands) or torch is already imported (too late to take effect). Returns
    whether the variable asks for them."""
    if HUGE_PAGES_ENV not in environ and "torch" not in sys.modules and huge_pages_supported():
        environ[HUGE_PAGES_ENV] = "1"
    return environ.get(HUGE_PAGES_ENV, "0").strip() not in ("", "0")


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
    use_huge_pages()
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
