"""Where a run's settings come from: defaults < preset < TOML file < overrides (flags).

Each layer is a partial config as nested plain types, ``{"optim": {"lr": 1e-3}}``; later layers
win, option by option, and :func:`tcvae.training.config.from_dict` fills in the declared
defaults and checks the result.

A preset is a config file shipped with the package, ``tcvae/training/presets/NAME.toml``, whose
top-level ``description`` says what it is for (``tcvae train --help`` lists them). Presets leave
beta unset: 6 is every method's default, and an explicit beta would be refused with
``--method vae``, which has none. Sweep presets are read by the same :func:`bundled_presets`.

:func:`config_toml` writes a resolved config back as a config file (``tcvae train
--print-config``); reading that file with ``--config`` gives the same config.
"""

from __future__ import annotations

import copy
import json
import math
import re
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from tcvae.training.config import ConfigError, TrainConfig, from_dict, to_dict

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

# Top-level keys of a config file that are not sections: the preset it starts from, and what the
# file is for.
FILE_KEYS = ("preset", "description")


def bundled_presets(package: str) -> dict[str, dict[str, Any]]:
    """Name -> parsed TOML of each ``presets/NAME.toml`` shipped in ``package``, by name."""
    folder = resources.files(package) / "presets"
    files = sorted((p for p in folder.iterdir() if p.name.endswith(".toml")), key=lambda p: p.name)
    return {p.name[: -len(".toml")]: tomllib.loads(p.read_text("utf-8")) for p in files}


# Training presets: name -> the preset's config file (its description and sections).
PRESETS: dict[str, dict[str, Any]] = bundled_presets("tcvae.training")


def merge(base: dict[str, dict[str, Any]], *layers: dict[str, dict[str, Any]]) -> dict:
    """Section-wise update of ``base`` by each layer in turn (later layers win); :func:`from_dict`
    then refuses unknown sections."""
    out = copy.deepcopy(base)
    for layer in layers:
        for section, values in layer.items():
            if not isinstance(values, dict):
                raise ConfigError(f"config section [{section}] must be a table of options")
            out.setdefault(section, {}).update(copy.deepcopy(values))
    return out


def read_toml(
    path: str | Path,
    what: str = "config file",
    missing: str = " (--config)",
    error: type[Exception] = ConfigError,
) -> dict[str, Any]:
    """Read a TOML file (a config file: tables [data] [model] [objective] [optim] [run], and
    optionally top-level ``preset = "name"`` and ``description = "..."``; or a sweep spec).
    ``error`` says "{what} PATH does not exist{missing}" or that the file is not valid TOML."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{what} {path} does not exist{missing}")
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as err:
        raise error(f"{what} {path} is not valid TOML: {err}") from err


def _sections(tree: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A config file's sections, without its top-level :data:`FILE_KEYS`."""
    return {k: v for k, v in tree.items() if k not in FILE_KEYS}


def resolve_config(
    preset: str | None = None,
    file: str | Path | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> TrainConfig:
    """defaults < preset < TOML file < overrides, checked.

    A ``preset`` argument wins over a ``preset`` key in the file.
    """
    file_tree = read_toml(file) if file is not None else {}
    preset = preset or file_tree.get("preset")
    if preset is not None and preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r} (--preset); choose from {list(PRESETS)}")
    layers = [_sections(PRESETS[preset])] if preset else []
    # The defaults layer is the dataclasses' declarations, which from_dict fills in: an instance's
    # values would carry the default method's resolved options (such as beta) into every method.
    return from_dict(merge({}, *layers, _sections(file_tree), overrides or {}))


# TOML keys that need no quotes.
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _toml_string(key)


def _toml_string(text: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's, and TOML also escapes DEL."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_value(value: Any, where: str) -> str:
    """One value as TOML: strings, booleans, integers, floats (inf and nan included), arrays and
    inline tables of them. TOML has no null, so None is refused here (options left unset are
    omitted by :func:`config_toml`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)  # shortest round-tripping form, always with '.' or an exponent
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v, where) for v in value) + "]"
    if isinstance(value, dict):
        items = (f"{_toml_key(str(k))} = {_toml_value(v, where)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    raise ConfigError(f"{where} = {value!r} cannot be written as TOML ({type(value).__name__})")


def config_toml(config: TrainConfig) -> str:
    """The config as a TOML config file that :func:`resolve_config` reads back to an equal config:
    one table per section, every option set; options that are unset (None: automatic or off)
    are omitted, TOML having no null, and named in a comment under their table."""
    lines = [
        "# tcvae train configuration, fully resolved; train it with: tcvae train --config FILE",
    ]
    for section, values in to_dict(config).items():
        lines += ["", f"[{section}]"]
        unset = [name for name, value in values.items() if value is None]
        if unset:
            lines.append(f"# left unset (the default applies): {', '.join(unset)}")
        lines += [
            f"{_toml_key(name)} = {_toml_value(value, f'{section}.{name}')}"
            for name, value in values.items()
            if value is not None
        ]
    return "\n".join(lines) + "\n"
