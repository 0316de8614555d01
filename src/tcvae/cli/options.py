"""The command line's one grammar: each idea has one flag, declared once here, on every verb.

Every verb takes -v/--verbose and -q/--quiet, before or after its name; a verb that writes results
somewhere takes -o/--out; one that computes on a device takes --device, and one that reads images
--data-source, both as ``tcvae train`` declares them (:mod:`tcvae.training.config`).
"""

from __future__ import annotations

import argparse
import dataclasses
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tcvae.options import OptionError, options_of
from tcvae.training.config import RunConfig

# The short spelling of a long flag, the same on every verb.
SHORT_FLAGS = {"--out": "-o", "--quiet": "-q", "--verbose": "-v"}
# Python types of option fields, as the dataclass annotations spell them, -> argparse type.
_TYPES = {"int": int, "float": float, "str": str}


def flags(flag: str) -> tuple[str, ...]:
    """A long flag, after its short spelling where it has one: '--out' -> ('-o', '--out')."""
    return (SHORT_FLAGS[flag], flag) if flag in SHORT_FLAGS else (flag,)


def common_options(default: Any) -> argparse.ArgumentParser:
    """-v/--verbose and -q/--quiet as a parent parser. Before the verb ``default`` is False; after
    it, argparse.SUPPRESS: the verb then sets them only when given, so ``tcvae -v train`` and
    ``tcvae train -v`` mean the same."""
    p = argparse.ArgumentParser(add_help=False)
    verbose = "log debug messages, and show the traceback of an error"
    p.add_argument(*flags("--verbose"), action="store_true", default=default, help=verbose)
    quiet = "no progress bars or info messages"
    p.add_argument(*flags("--quiet"), action="store_true", default=default, help=quiet)
    return p


def add_verb(
    subparsers: argparse._SubParsersAction,
    name: str,
    run: Callable[[argparse.Namespace], int] | None,
    help: str,
    description: str | None = None,
    epilog: str | None = None,
) -> argparse.ArgumentParser:
    """Declare the verb ``name`` with the common options; ``run(args)`` returns its exit status.
    ``description`` (default: ``help``) is wrapped paragraph by paragraph; ``epilog`` is shown as
    written."""
    text = description or f"{help[0].upper()}{help[1:]}."
    p = subparsers.add_parser(
        name,
        help=help,
        description="\n\n".join(textwrap.fill(part, 99) for part in text.split("\n\n")),
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common_options(argparse.SUPPRESS)],
    )
    if run is not None:
        p.set_defaults(func=run)
    return p


def add_out_option(p: argparse.ArgumentParser, help: str, metavar: str = "DIR", **kw: Any) -> None:
    """-o/--out: where the verb writes its results."""
    p.add_argument(*flags("--out"), type=Path, metavar=metavar, help=help, **kw)


def _argparse_type(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """A command-line parser whose errors argparse reports with their own message."""

    def wrapped(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    return wrapped


def option_arguments(f: dataclasses.Field) -> dict[str, Any]:
    """argparse keyword arguments of an option field (see :mod:`tcvae.options`)."""
    meta = f.metadata
    base = str(f.type).split("|")[0].strip()
    if base == "bool":
        return {"action": argparse.BooleanOptionalAction, "help": meta["help"]}
    kwargs: dict[str, Any] = {"help": meta["help"]}
    parse = meta["parse"] or _TYPES[base]
    kwargs["type"] = _argparse_type(parse) if meta["parse"] else parse
    if meta["repeat"]:
        kwargs["action"] = "append"
    if meta["choices"] is not None:
        kwargs["choices"] = meta["choices"]
    else:
        kwargs["metavar"] = meta["metavar"] or meta["flag"].lstrip("-").upper().replace("-", "_")
    return kwargs


def add_config_option(p: Any, cls: type, name: str, **kwargs: Any) -> None:
    """The option of field ``name`` of config dataclass ``cls``, as declared there (flag, help,
    choices; default the field's); ``kwargs`` replace any of these."""
    f = next(f for f in options_of(cls) if f.name == name)
    arguments = {"default": f.default, **option_arguments(f), **kwargs}
    p.add_argument(*flags(f.metadata["flag"]), **arguments)


def add_compute_options(p: argparse.ArgumentParser, batch_size: int | None = None) -> None:
    """--device as ``tcvae train`` declares it (choices, default auto, help) and, given its
    default, --batch-size B of the encoder."""
    add_config_option(p, RunConfig, "device")
    if batch_size is not None:
        help = "images per encoder batch (default %(default)s)"
        p.add_argument("--batch-size", type=int, default=batch_size, metavar="B", help=help)


def device_of(args: argparse.Namespace) -> str:
    """``args.device`` checked as ``tcvae train`` checks it; auto: CUDA if available, else CPU."""
    from tcvae.training.distributed import DistInfo
    from tcvae.training.hardware import resolve_device

    try:
        device = RunConfig(device=args.device).device
    except OptionError as err:
        raise OptionError(f"--device{str(err).removeprefix('device')}", "device") from None
    return str(resolve_device(device, DistInfo()))


def pick(args: argparse.Namespace, *names: str) -> dict[str, Any]:
    """The parsed values of the options ``names``, as keyword arguments."""
    return {name: getattr(args, name) for name in names}


def presets_help(title: str, descriptions: dict[str, str], after: str) -> str:
    """An epilog: ``title``, each preset's name and description (wrapped), then ``after``."""
    width = max(map(len, descriptions))
    lines = [title]
    for name, text in descriptions.items():
        first, rest = f"  {name:<{width}}  ", " " * (width + 4)
        lines.append(textwrap.fill(text, 100, initial_indent=first, subsequent_indent=rest))
    return "\n".join([*lines, "", after])
