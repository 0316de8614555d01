"""Settings declared once: a dataclass field that is also a command-line option.

Each field of a configuration dataclass carries its flag, help text and (where they are fixed)
choices in its metadata; the command line (``tcvae train``), the error messages that name an
option, and the check of choices are all generated from that one declaration. Each such dataclass
checks its own fields when it is built, raising an :class:`OptionError` that names the field.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from tcvae.errors import TcvaeError


class OptionError(TcvaeError):
    """A setting is invalid. ``option`` names the field at fault (``correlation.rho`` for a value
    inside one); a message saying what the field must be starts with that name."""

    def __init__(self, message: str, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option


def require(ok: bool, option: str, must: str, error: type[OptionError] = OptionError) -> None:
    """Raise ``error("{option} {must}")`` naming ``option`` unless ``ok``."""
    if not ok:
        raise error(f"{option} {must}", option)


def positive_int(value: Any) -> bool:
    """True for an int > 0 (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def non_negative_int(value: Any) -> bool:
    """True for an int >= 0 (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def non_negative_number(value: Any) -> bool:
    """True for an int or float >= 0 (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def positive_number(value: Any) -> bool:
    """True for an int or float > 0 (not a bool)."""
    return non_negative_number(value) and value > 0


def unset_or(predicate: Callable[[Any], bool]) -> Callable[[Any], bool]:
    """``predicate`` that also accepts None (an option left unset)."""
    return lambda value: value is None or predicate(value)


Rules = dict[str, tuple[Callable[[Any], bool], str]]


def check_fields(instance: Any, rules: Rules, error: type[OptionError] = OptionError) -> None:
    """For each ``name: (predicate, must)`` of ``rules`` in turn, raise ``error("{name} {must},
    got {value!r}")`` unless the field's value passes ``predicate``."""
    for name, (ok, must) in rules.items():
        value = getattr(instance, name)
        require(ok(value), name, f"{must}, got {value!r}", error)


def option(
    default: Any = dataclasses.MISSING,
    *,
    flag: str,
    help: str,
    choices: Sequence[Any] | None = None,
    metavar: str | None = None,
    parse: Callable[[str], Any] | None = None,
    repeat: bool = False,
    default_factory: Callable[[], Any] | Any = dataclasses.MISSING,
) -> Any:
    """A dataclass field with its command-line ``flag`` and ``help``.

    ``choices``: the allowed values (checked by :func:`check_choices`, listed by ``--help``);
    ``parse``: how to read one command-line value (default: from the field's type); ``repeat``:
    the flag may be given several times, each value parsed and collected.
    """
    metadata = {
        "flag": flag,
        "help": help,
        "choices": tuple(choices) if choices is not None else None,
        "metavar": metavar,
        "parse": parse,
        "repeat": repeat,
    }
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def options_of(cls: type) -> list[dataclasses.Field]:
    """The fields of dataclass ``cls`` declared with :func:`option`, in order."""
    return [f for f in dataclasses.fields(cls) if "flag" in f.metadata]


def flag_of(cls: type, name: str) -> str | None:
    """The command-line flag of field ``name`` of ``cls`` (None if it has none)."""
    for f in dataclasses.fields(cls):
        if f.name == name:
            return f.metadata.get("flag")
    return None


def check_choices(instance: Any, error: type[OptionError] = OptionError) -> None:
    """Raise ``error`` for the first field of ``instance`` whose value is not among its choices."""
    for f in options_of(type(instance)):
        choices, value = f.metadata["choices"], getattr(instance, f.name)
        if choices is not None and value not in choices:
            raise error(f"{f.name} must be one of {list(choices)}, got {value!r}", f.name)
