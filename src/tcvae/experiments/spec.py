"""Sweep specifications: what a sweep trains, read from TOML and checked before anything runs.

A spec file has these tables (every key is optional except the grid's methods, betas and seeds)::

    name = "my-sweep"

    [grid]
    methods = ["vae", "beta-vae", "beta-tcvae-mws", "beta-tcvae-mss", "factor-vae"]
    betas = [1, 2, 4, 6]
    seeds = [0, 1, 2]
    [grid.options]               # any training option, swept as a further grid axis
    "optim.lr" = [1e-3, 3e-4]

    [data]                       # the [data] section of every cell's training config
    name = "dsprites"
    source = "builtin"           # auto | builtin (the default in sweeps) | file
    stride = { posX = 2 }        # keep every k-th class of a factor (a coarser grid)
    subset = 20000               # number of images drawn when [data.correlation] is given
    subset_seed = 0
    [data.correlation]           # two factors drawn with this correlation, the others uniform
    factors = ["posX", "posY"]
    rho = 0.8
    [[data.exclude]]             # factor combinations never shown in training
    shape = 2
    posX = [0, 7]

    [train.model]                # fixed training options: sections of tcvae.training's config
    hidden = 256
    [train.optim]
    epochs = 5
    [train.factor-vae.objective] # options of one method's cells (a label of grid.methods), over
    discriminator_lr = 1e-4      # the [train.SECTION] tables; an option a method does not use
                                 # (here: any other method) is refused when cells are built

    [evaluation]                 # keyword options of the evaluation

[data] takes the keys of a training config's [data] (:class:`tcvae.training.config.DataConfig`);
each cell trains on the set they describe, and every cell is evaluated on the full (strided) grid
without the selection of training images (filters, exclude, correlation, subset).

Presets are spec files shipped in ``tcvae/experiments/presets``, read by
:func:`tcvae.training.resolve.bundled_presets` like the training presets.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from tcvae.errors import TcvaeError
from tcvae.training.config import CONFIG_SECTIONS, ConfigError, DataConfig, from_dict
from tcvae.training.resolve import bundled_presets, read_toml


class SpecError(TcvaeError):
    """A sweep specification is invalid; the message names the key and how to fix it."""


# Sweep method label (grid.methods) -> (objective.method, objective.estimator or None to keep the
# default). "beta-tcvae" means what ``--method beta-tcvae`` means: the objective's default (MWS).
METHOD_LABELS: dict[str, tuple[str, str | None]] = {
    "vae": ("vae", None),
    "beta-vae": ("beta-vae", None),
    "beta-tcvae": ("beta-tcvae", None),
    "beta-tcvae-mws": ("beta-tcvae", "mws"),
    "beta-tcvae-mss": ("beta-tcvae", "mss"),
    "factor-vae": ("factor-vae", None),
    "dip-vae-i": ("dip-vae-i", None),
    "dip-vae-ii": ("dip-vae-ii", None),
    "annealed-vae": ("annealed-vae", None),
}
# Training sections a spec may set under [train]; [train.data] is replaced by the spec's [data].
TRAIN_SECTIONS = ("model", "objective", "optim", "run")
_SECTION_KEYS = {s: [f.name for f in fields(CONFIG_SECTIONS[s])] for s in TRAIN_SECTIONS}
# Options the sweep itself sets per cell, so a spec may not fix or sweep them.
CELL_KEYS = ("objective.method", "objective.beta", "run.seed", "run.run_dir")
_TOP_KEYS = ("name", "description", "grid", "data", "train", "evaluation")
_GRID_KEYS = ("methods", "betas", "seeds", "options")
_DATA_KEYS = tuple(f.name for f in fields(DataConfig))
# A sweep's images come from the built-in generator unless [data] says otherwise, so that a spec
# means the same images on every machine (a training config's default is "auto").
SWEEP_DATA_DEFAULTS: dict[str, Any] = {"source": "builtin"}
# Keys of sweep specs before [data] became a training config's [data] -> their names now.
_RENAMED_DATA_KEYS = {"dataset": "name", "size": "subset", "seed": "subset_seed"}


@dataclass(frozen=True)
class SweepSpec:
    """A resolved sweep: the grid axes, the data, fixed training options and evaluation options."""

    name: str
    methods: tuple[str, ...]
    betas: tuple[float, ...]
    seeds: tuple[int, ...]
    options: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    data: DataConfig = field(default_factory=lambda: _parse_data({}))
    train: dict[str, dict[str, Any]] = field(default_factory=dict)
    # grid.methods label -> section -> option: the [train.METHOD.SECTION] tables
    by_method: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def _fail(key: str, message: str) -> SpecError:
    return SpecError(f"sweep spec: {key} {message}")


def _unknown(table: dict, allowed: tuple[str, ...], where: str) -> None:
    extra = sorted(set(table) - set(allowed))
    if extra:
        raise _fail(where, f"has unknown key(s) {extra}; allowed keys: {list(allowed)}")


def _nonempty_list(value: Any, key: str) -> list:
    if not isinstance(value, list) or not value:
        raise _fail(key, f"must be a non-empty list, got {value!r}")
    if len(set(map(repr, value))) != len(value):
        raise _fail(key, f"has duplicate entries: {value!r}")
    return value


def _parse_grid(grid: Any) -> tuple[tuple[str, ...], tuple[float, ...], tuple[int, ...], dict]:
    if not isinstance(grid, dict):
        raise _fail("[grid]", "is required: a table with methods, betas and seeds")
    _unknown(grid, _GRID_KEYS, "[grid]")
    for key in ("methods", "betas", "seeds"):
        if key not in grid:
            raise _fail(f"grid.{key}", "is required")
    methods = _nonempty_list(grid["methods"], "grid.methods")
    for m in methods:
        if m not in METHOD_LABELS:
            raise _fail(
                "grid.methods", f"has unknown method {m!r}; choose from {list(METHOD_LABELS)}"
            )
    if "beta-tcvae" in methods and "beta-tcvae-mws" in methods:
        raise _fail("grid.methods", "lists both 'beta-tcvae' and 'beta-tcvae-mws' (the same)")
    betas = _nonempty_list(grid["betas"], "grid.betas")
    for b in betas:
        if isinstance(b, bool) or not isinstance(b, int | float) or not b > 0 or math.isinf(b):
            raise _fail("grid.betas", f"must hold positive finite numbers, got {b!r}")
    seeds = _nonempty_list(grid["seeds"], "grid.seeds")
    for s in seeds:
        if not isinstance(s, int) or isinstance(s, bool) or s < 0:
            raise _fail("grid.seeds", f"must hold integers >= 0, got {s!r}")
    options = grid.get("options", {})
    if not isinstance(options, dict):
        raise _fail("[grid.options]", 'must map "section.option" to a list of values')
    for key, values in options.items():
        _check_option_key(key, f"grid.options.{key!r}")
        _nonempty_list(values, f"grid.options.{key!r}")
    return (
        tuple(methods),
        tuple(float(b) for b in betas),
        tuple(seeds),
        {k: tuple(v) for k, v in options.items()},
    )


def _check_option_key(key: str, where: str) -> None:
    section, _, name = key.partition(".")
    if section not in TRAIN_SECTIONS or not name:
        raise _fail(
            where,
            f"must be 'section.option' with section in {list(TRAIN_SECTIONS)} "
            "(data options go in [data])",
        )
    if key in CELL_KEYS:
        raise _fail(where, f"sets {key}, which the sweep sets per cell from [grid]")
    known = _SECTION_KEYS[section]
    if name not in known:
        raise _fail(where, f"is not an option of a training config's [{section}]: one of {known}")


def _parse_data(data: Any) -> DataConfig:
    if not isinstance(data, dict):
        raise _fail("[data]", "must be a table")
    renamed = {k: v for k, v in _RENAMED_DATA_KEYS.items() if k in data}
    if renamed:
        raise _fail(
            "[data]",
            "takes the keys of a training config's [data]; rename "
            + ", ".join(f"{old!r} to {new!r}" for old, new in renamed.items()),
        )
    _unknown(data, _DATA_KEYS, "[data]")
    try:
        return from_dict({"data": {**SWEEP_DATA_DEFAULTS, **copy.deepcopy(data)}}).data
    except ConfigError as err:
        raise SpecError(f"sweep spec: {err}") from err


def _check_sections(tables: dict[str, Any], where: str) -> None:
    for section, values in tables.items():
        if not isinstance(values, dict):
            raise _fail(f"[{where}.{section}]", "must be a table of options")
        for key in values:
            _check_option_key(f"{section}.{key}", f"{where}.{section}.{key}")


def _parse_train(train: Any, methods: tuple[str, ...]) -> tuple[dict, dict]:
    """The [train.SECTION] tables of every cell and the [train.METHOD.SECTION] tables of the
    cells of one method (a label of grid.methods)."""
    if not isinstance(train, dict):
        raise _fail("[train]", "must be a table of training sections")
    if "data" in train:
        raise _fail("[train.data]", "is not used by sweeps; describe the data in [data]")
    for key in train:
        if key in METHOD_LABELS and key not in methods:
            raise _fail(f"[train.{key}]", "sets options of a method grid.methods does not list")
    _unknown(train, TRAIN_SECTIONS + methods, "[train]")
    common = {k: v for k, v in train.items() if k in TRAIN_SECTIONS}
    by_method = {k: v for k, v in train.items() if k in methods}
    _check_sections(common, "train")
    for method, tables in by_method.items():
        if not isinstance(tables, dict):
            raise _fail(f"[train.{method}]", f"must hold tables such as [train.{method}.optim]")
        _unknown(tables, TRAIN_SECTIONS, f"[train.{method}]")
        _check_sections(tables, f"train.{method}")
    return copy.deepcopy(common), copy.deepcopy(by_method)


def parse_spec(tree: dict[str, Any], default_name: str = "sweep") -> SweepSpec:
    """Validate a spec given as nested plain types (a parsed TOML document)."""
    if not isinstance(tree, dict):
        raise SpecError("sweep spec must be a TOML table")
    _unknown(tree, _TOP_KEYS, "top level")
    methods, betas, seeds, options = _parse_grid(tree.get("grid"))
    train, by_method = _parse_train(tree.get("train", {}), methods)
    fixed_tables = [("train", train)] + [(f"train.{m}", t) for m, t in by_method.items()]
    for key in options:
        section, _, name = key.partition(".")
        for where, tables in fixed_tables:
            if name in tables.get(section, {}):
                raise _fail(
                    f"grid.options.{key!r}", f"is also fixed in [{where}.{section}]; keep one"
                )
    fixed = [m for m in methods if METHOD_LABELS[m][1]]
    if "objective.estimator" in options or "estimator" in train.get("objective", {}):
        if fixed:
            raise _fail(
                "objective.estimator",
                "is set by the method names beta-tcvae-mws / beta-tcvae-mss; do not set it as well",
            )
    for m in fixed:
        if "estimator" in by_method.get(m, {}).get("objective", {}):
            raise _fail(f"train.{m}.objective.estimator", f"is set by the method name {m}")
    evaluation = tree.get("evaluation", {})
    if not isinstance(evaluation, dict):
        raise _fail("[evaluation]", "must be a table of evaluation options")
    name = tree.get("name", default_name)
    if not isinstance(name, str) or not name:
        raise _fail("name", f"must be a non-empty string, got {name!r}")
    return SweepSpec(
        name=name,
        methods=methods,
        betas=betas,
        seeds=seeds,
        options=options,
        data=_parse_data(tree.get("data", {})),
        train=train,
        by_method=by_method,
        evaluation=dict(evaluation),
        description=str(tree.get("description", "")),
        raw=copy.deepcopy(tree),
    )


def read_spec(path: str | Path) -> SweepSpec:
    """Read and validate a spec file."""
    missing = "; give a TOML file or use --preset"
    tree = read_toml(path, "sweep spec", missing, SpecError)
    return parse_spec(tree, default_name=Path(path).stem)


def preset_names() -> list[str]:
    """Names of the bundled presets (``tcvae sweep --preset NAME``)."""
    return list(bundled_presets("tcvae.experiments"))


def load_preset(name: str) -> SweepSpec:
    """A bundled preset spec by name."""
    presets = bundled_presets("tcvae.experiments")
    if name not in presets:
        raise SpecError(f"unknown sweep preset {name!r}; choose from {list(presets)}")
    return parse_spec(presets[name], default_name=name)
