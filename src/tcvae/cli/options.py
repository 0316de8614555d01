"""Options shared by several sub-commands, defined once so they read and behave the same."""

from __future__ import annotations

import argparse
import textwrap


def add_progress_option(parser: argparse.ArgumentParser) -> None:
    """``--no-progress``: sets ``args.progress`` to False (progress bars are on by default)."""
    parser.add_argument(
        "--no-progress", dest="progress", action="store_false", help="hide progress bars"
    )


def presets_help(title: str, descriptions: dict[str, str]) -> str:
    """``title``, then each preset's name with its description wrapped beside it (for an epilog)."""
    width = max(map(len, descriptions))
    lines = [title]
    for name, text in descriptions.items():
        first, rest = f"  {name:<{width}}  ", " " * (width + 4)
        lines.append(textwrap.fill(text, 100, initial_indent=first, subsequent_indent=rest))
    return "\n".join(lines)
