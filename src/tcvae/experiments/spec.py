"""Sweep specifications: what a sweep trains, read from TOML and checked before anything runs.

A spec file has these tables (every key is optional except the grid's methods, betas and seeds)::

    name = "my-sweep"

    [grid]
    methods = ["vae", "beta-vae", "beta-tcvae-mws", "beta-tcvae-mss"]
    betas = [1, 2, 4, 6]
    seeds = [0, 1, 2]
    [grid.options]               # any training option, swept as a further grid axis
    "optim.lr" = [1e-3, 3e-4]

    [data]                       # the training data; evaluation always uses the full grid
    dataset = "dsprites"
    source = "builtin"           # auto | builtin | file
    stride = { posX = 2 }        # keep every k-th class of a factor (a coarser grid)
    size = 20000                 # number of images drawn when [data.correlation] is given
    seed = 0
    [data.correlation]           # two factors drawn with this correlation, the others uniform
    factors = ["posX", "posY"]
    rho = 0.8
    [[data.exclude]]             # factor combinations never shown in training
    shape = 2
    posX = [0, 7]

    [train.model]                # fixed training options: sections of tcvae.training's config
    hidden_dim = 256
    [train.optim]
    epochs = 5

    [evaluation]                 # keyword options of the evaluation

Presets live as TOML files in ``tcvae/experiments/presets``.
"""

from __future__ import annotations

import copy
import math
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from tcvae.data.ground_truth import SOURCES
from tcvae.errors import TcvaeError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 only
    import tomli as tomllib


class SpecError(TcvaeError):
    """A sweep specification is invalid; the message names the key and how to fix it."""


# Sweep method label -> (objective.method, objective.estimator or None to keep the default).
# "beta-tcvae" means what ``--method beta-tcvae`` means: the objective's default estimator (MWS).
METHODS: dict[str, tuple[str, str | None]] = {
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
# Options the sweep itself sets per cell, so a spec may not fix or sweep them.
CELL_KEYS = ("objective.method", "objective.beta", "run.seed", "run.run_dir")
_TOP_KEYS = ("name", "description", "grid", "data", "train", "evaluation")
_GRID_KEYS = ("methods", "betas", "seeds", "options")
_DATA_KEYS = ("dataset", "source", "cache_dir", "stride", "size", "seed", "correlation", "exclude")


@dataclass(frozen=True)
class Correlation:
    """Two factors whose classes are drawn jointly with Pearson correlation ``rho``."""

    factors: tuple[str, str]
    rho: float


@dataclass(frozen=True)
class DataSpec:
    """The training data of every cell (see the module docstring)."""

    dataset: str = "dsprites"
    source: str = "builtin"
    cache_dir: str | None = None
    stride: dict[str, int] = field(default_factory=dict)
    size: int | None = None
    seed: int = 0
    correlation: Correlation | None = None
    exclude: tuple[dict[str, tuple[int, int]], ...] = ()

    @property
    def is_biased(self) -> bool:
        """True when training data differ from the uniform (strided) grid."""
        return self.correlation is not None or bool(self.exclude)


@dataclass(frozen=True)
class SweepSpec:
    """A resolved sweep: the grid axes, the data, fixed training options and evaluation options."""

    name: str
    methods: tuple[str, ...]
    betas: tuple[float, ...]
    seeds: tuple[int, ...]
    options: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    data: DataSpec = field(default_factory=DataSpec)
    train: dict[str, dict[str, Any]] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def _fail(key: str, message: str) -> SpecError:
    return SpecError(f"sweep spec: {key} {message}")


def _unknown(table: dict, allowed: tuple[str, ...], where: str) -> None:
    extra = sorted(set(table) - set(allowed))
    if extra:
        raise _fail(where, f"has unknown key(s) {extra}; allowed keys: {list(allowed)}")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


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
        if m not in METHODS:
            raise _fail("grid.methods", f"has unknown method {m!r}; choose from {list(METHODS)}")
    if "beta-tcvae" in methods and "beta-tcvae-mws" in methods:
        raise _fail("grid.methods", "lists both 'beta-tcvae' and 'beta-tcvae-mws' (the same)")
    betas = _nonempty_list(grid["betas"], "grid.betas")
    for b in betas:
        if isinstance(b, bool) or not isinstance(b, int | float) or not b > 0 or math.isinf(b):
            raise _fail("grid.betas", f"must hold positive finite numbers, got {b!r}")
    seeds = _nonempty_list(grid["seeds"], "grid.seeds")
    for s in seeds:
        if not _is_int(s) or s < 0:
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


def _parse_class_range(value: Any, where: str) -> tuple[int, int]:
    if _is_int(value):
        value = [value, value]
    ok = (
        isinstance(value, list)
        and len(value) == 2
        and all(_is_int(v) and v >= 0 for v in value)
        and value[0] <= value[1]
    )
    if not ok:
        raise _fail(where, f"must be a class c or an inclusive range [lo, hi], got {value!r}")
    return int(value[0]), int(value[1])


def _parse_data(data: Any) -> DataSpec:
    if not isinstance(data, dict):
        raise _fail("[data]", "must be a table")
    _unknown(data, _DATA_KEYS, "[data]")
    source = data.get("source", "builtin")
    if source not in SOURCES:
        raise _fail("data.source", f"must be one of {list(SOURCES)}, got {source!r}")
    stride = data.get("stride", {})
    if not isinstance(stride, dict) or not all(_is_int(v) and v >= 1 for v in stride.values()):
        raise _fail("data.stride", f"must map factor names to integers >= 1, got {stride!r}")
    size = data.get("size")
    if size is not None and (not _is_int(size) or size < 1):
        raise _fail("data.size", f"must be a positive number of images, got {size!r}")
    seed = data.get("seed", 0)
    if not _is_int(seed) or seed < 0:
        raise _fail("data.seed", f"must be an integer >= 0, got {seed!r}")
    correlation = None
    if "correlation" in data:
        corr = data["correlation"]
        if not isinstance(corr, dict):
            raise _fail("[data.correlation]", "must be a table with factors and rho")
        _unknown(corr, ("factors", "rho"), "[data.correlation]")
        factors = corr.get("factors")
        if (
            not isinstance(factors, list)
            or len(factors) != 2
            or not all(isinstance(f, str) for f in factors)
            or factors[0] == factors[1]
        ):
            raise _fail(
                "data.correlation.factors", f"must name two different factors, got {factors!r}"
            )
        rho = corr.get("rho")
        if isinstance(rho, bool) or not isinstance(rho, int | float) or not -1 < rho < 1:
            raise _fail("data.correlation.rho", f"must be a number in (-1, 1), got {rho!r}")
        correlation = Correlation((factors[0], factors[1]), float(rho))
    exclude = data.get("exclude", [])
    if not isinstance(exclude, list) or not all(isinstance(e, dict) and e for e in exclude):
        raise _fail(
            "[[data.exclude]]", "must be an array of tables such as {shape = 2, posX = [0, 7]}"
        )
    rules = tuple(
        {f: _parse_class_range(v, f"data.exclude[{i}].{f}") for f, v in rule.items()}
        for i, rule in enumerate(exclude)
    )
    if size is not None and correlation is None:
        raise _fail("data.size", "only applies with [data.correlation] (images are drawn then)")
    return DataSpec(
        dataset=str(data.get("dataset", "dsprites")),
        source=source,
        cache_dir=data.get("cache_dir"),
        stride=dict(stride),
        size=size,
        seed=seed,
        correlation=correlation,
        exclude=rules,
    )


def _parse_train(train: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(train, dict):
        raise _fail("[train]", "must be a table of training sections")
    if "data" in train:
        raise _fail("[train.data]", "is not used by sweeps; describe the data in [data]")
    _unknown(train, TRAIN_SECTIONS, "[train]")
    for section, values in train.items():
        if not isinstance(values, dict):
            raise _fail(f"[train.{section}]", "must be a table of options")
        for key in values:
            _check_option_key(f"{section}.{key}", f"train.{section}.{key}")
    return copy.deepcopy(train)


def parse_spec(tree: dict[str, Any], default_name: str = "sweep") -> SweepSpec:
    """Validate a spec given as nested plain types (a parsed TOML document)."""
    if not isinstance(tree, dict):
        raise SpecError("sweep spec must be a TOML table")
    _unknown(tree, _TOP_KEYS, "top level")
    methods, betas, seeds, options = _parse_grid(tree.get("grid"))
    train = _parse_train(tree.get("train", {}))
    for key in options:
        section, _, name = key.partition(".")
        if name in train.get(section, {}):
            raise _fail(f"grid.options.{key!r}", f"is also fixed in [train.{section}]; keep one")
    if "objective.estimator" in options or "estimator" in train.get("objective", {}):
        if any(METHODS[m][1] for m in methods):
            raise _fail(
                "objective.estimator",
                "is set by the method names beta-tcvae-mws / beta-tcvae-mss; do not set it as well",
            )
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
        evaluation=dict(evaluation),
        description=str(tree.get("description", "")),
        raw=copy.deepcopy(tree),
    )


def read_spec(path: str | Path) -> SweepSpec:
    """Read and validate a spec file."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"sweep spec {path} does not exist; give a TOML file or use --preset")
    try:
        with path.open("rb") as f:
            tree = tomllib.load(f)
    except tomllib.TOMLDecodeError as err:
        raise SpecError(f"sweep spec {path} is not valid TOML: {err}") from err
    return parse_spec(tree, default_name=path.stem)


def preset_names() -> list[str]:
    """Names of the bundled presets (``tcvae sweep --preset NAME``)."""
    folder = resources.files("tcvae.experiments") / "presets"
    return sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_preset(name: str) -> SweepSpec:
    """A bundled preset spec by name."""
    if name not in preset_names():
        raise SpecError(f"unknown sweep preset {name!r}; choose from {preset_names()}")
    text = (resources.files("tcvae.experiments") / "presets" / f"{name}.toml").read_text()
    return parse_spec(tomllib.loads(text), default_name=name)
