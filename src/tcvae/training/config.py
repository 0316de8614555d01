"""Training configuration: one dataclass per concern, resolved and saved in full.

A run is described by a :class:`TrainConfig` with five sections: ``data`` (which images),
``model`` (a :class:`tcvae.models.ModelConfig`, the arguments of :func:`tcvae.models.build_model`),
``objective`` (a :class:`tcvae.objectives.ObjectiveConfig`), ``optim`` (Adam and the training
length) and ``run`` (seed, device, precision, run directory, checkpoints and logging).

Each section checks its own fields when it is built; :func:`from_dict` builds a whole config from
plain types (``config.json``, TOML), refusing unknown sections and options, and names the option
at fault as ``section.name (--flag)``. Where settings come from (defaults < preset < TOML file <
flags) is :mod:`tcvae.training.resolve`; what a resumed run may change is
:mod:`tcvae.training.runs`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tcvae.data.ground_truth import SOURCES
from tcvae.models import ModelConfig
from tcvae.objectives import ObjectiveConfig
from tcvae.options import (
    OptionError,
    check_choices,
    check_fields,
    non_negative_int,
    non_negative_number,
    option,
    options_of,
    positive_int,
    positive_number,
    require,
    unset_or,
)


class ConfigError(OptionError):
    """A training setting is invalid; the message names the option and how to fix it."""


def _parser(flag: str, expects: str, read: Callable[[str], Any]) -> Callable[[str], Any]:
    """The parser of a ``flag`` value: ``read(text)``, a ValueError in it reported as
    :class:`ConfigError` saying what the flag ``expects``."""

    def parse(text: str) -> Any:
        try:
            return read(text)
        except ValueError:
            raise ConfigError(f"{flag} expects {expects}, got {text!r}") from None

    return parse


def _factor_range(text: str) -> tuple[str, list[int]]:
    """'posX=0:15' -> ('posX', [0, 15]); 'shape=0' -> ('shape', [0, 0])."""
    name, sep, rng = text.partition("=")
    lo, colon, hi = rng.partition(":")
    if not (sep and name):
        raise ValueError(text)
    return name, [int(lo), int(hi if colon else lo)]


def _correlation(text: str) -> dict[str, Any]:
    """'posX,posY=0.75' -> {'factors': ['posX', 'posY'], 'rho': 0.75}."""
    names, sep, rho = text.partition("=")
    factors = names.split(",")
    if not sep or len(factors) != 2 or not all(factors):
        raise ValueError(text)
    return {"factors": factors, "rho": float(rho)}


def _stride(text: str) -> tuple[str, int]:
    """'orientation=4' -> ('orientation', 4)."""
    name, sep, k = text.partition("=")
    if not (sep and name):
        raise ValueError(text)
    return name, int(k)


RANGE = "FACTOR=CLASS or FACTOR=LO:HI"
parse_filter = _parser("--filter", f"{RANGE} (class indices)", _factor_range)
parse_exclude = _parser(
    "--exclude",
    f"{RANGE} joined by commas, e.g. posX=16:31,posY=16:31",
    lambda text: dict(_factor_range(part) for part in text.split(",")),
)
parse_correlation = _parser(
    "--correlation", "A,B=RHO (two factor names and a number)", _correlation
)
parse_stride = _parser("--stride", "FACTOR=K (an integer K >= 1)", _stride)
parse_screen = _parser(
    "--screen",
    "candidate counts K[,K2,...] such as 4 or 6,2",
    lambda t: [int(v) for v in t.split(",")],
)
parse_screen_images = _parser(
    "--screen-images",
    "image counts N[,N2,...] such as 500000 or 250000,1000000",
    lambda t: [int(float(v)) for v in t.split(",")],
)

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def _check(ok: bool, option: str, must: str) -> None:
    require(ok, option, must, ConfigError)


def _class_range(value: Any) -> bool:
    """True for an inclusive class range [lo, hi] with 0 <= lo <= hi."""
    return (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(non_negative_int(v) for v in value)
        and value[0] <= value[1]
    )


@dataclass
class DataConfig:
    """Which images to train on, built in this order by :func:`tcvae.training.build_dataset`
    (each field's help says what it does; data without factor labels takes only ``subset``).

    ``stride`` maps a factor name to k (its classes 0, k, 2k, ... are kept), ``filters`` a factor
    name to an inclusive class range ``[lo, hi]``; each ``exclude`` rule ``{factor: [lo, hi] or
    c, ...}`` removes the images whose class of every named factor lies in its range;
    ``correlation`` ``{"factors": [a, b], "rho": r}`` draws the images i.i.d. from a
    distribution in which a and b have class correlation r (:mod:`tcvae.data.factor_sampling`).
    Every draw is seeded by ``subset_seed``: the same config gives the same images in order.
    """

    name: str = option(
        "dsprites",
        flag="--data",
        metavar="NAME",
        help="data set: dsprites (default), faces, shapes3d, mpi3d_toy, mpi3d_realistic, "
        "mpi3d_real, a path to your own .npz, or a folder of PNG/JPEG images (any size: "
        "centre-cropped and resized to 64x64 with PIL, read once into a cache; see tcvae data "
        "list, docs/reference/datasets.md, docs/tutorials/own-data.md)",
    )
    source: str = option(
        "auto",
        flag="--data-source",
        choices=SOURCES,
        help="where images come from: the data set file if cached, else the built-in generator "
        "(auto, default); always the generator (builtin); the official file (file). Built-in "
        "generators exist for dsprites and faces",
    )
    cache_dir: str | None = option(
        None, flag="--cache-dir", metavar="DIR", help="where data set files are kept"
    )
    channels: int | None = option(
        None,
        flag="--channels",
        metavar="{1,3}",
        help="a folder of images: 1 (grey) or 3 (colour) channels (default: as the files are, "
        "grey if every file is)",
    )
    stride: dict[str, int] = option(
        flag="--stride",
        metavar="FACTOR=K",
        parse=parse_stride,
        repeat=True,
        default_factory=dict,
        help="keep classes 0, K, 2K, ... of a factor (a coarser grid, whose classes --filter and "
        "--exclude then count in); repeat for several factors",
    )
    subset: int | None = option(
        None,
        flag="--subset",
        metavar="N",
        help="train on a seeded random subset of N images (with a [data.correlation] table in "
        "the config file: N images drawn from the correlated distribution)",
    )
    subset_seed: int = option(
        0, flag="--subset-seed", metavar="SEED", help="seed of the --subset draw (default 0)"
    )
    filters: dict[str, list[int]] = option(
        flag="--filter",
        metavar="FACTOR=LO:HI",
        parse=parse_filter,
        repeat=True,
        default_factory=dict,
        help="keep images whose factor class lies in [LO, HI] (or equals CLASS with "
        "FACTOR=CLASS); repeat for several factors, e.g. --filter shape=0 --filter posX=0:15",
    )
    exclude: list[dict[str, list[int] | int]] = option(
        flag="--exclude",
        metavar="FACTOR=LO:HI,...",
        parse=parse_exclude,
        repeat=True,
        default_factory=list,
        help="leave out the images whose classes lie in all the given ranges at once (a "
        "[[data.exclude]] table in a config file); repeat for several rules, e.g. "
        "--exclude posX=16:31,posY=16:31 leaves out one corner of the positions",
    )
    correlation: dict[str, Any] | None = option(
        None,
        flag="--correlation",
        metavar="A,B=RHO",
        parse=parse_correlation,
        help="draw the training images with factors A and B correlated (class correlation RHO, "
        "a discretised Gaussian copula; the other factors uniform), --subset of them (default: "
        "as many as --stride and --filter leave); a [data.correlation] table in a config file",
    )

    def __post_init__(self) -> None:
        """Check what can be checked without the data set's factor grid (factor names and class
        counts are checked when the data is built)."""
        check_choices(self, ConfigError)
        _check(isinstance(self.name, str) and bool(self.name), "name", "must name a data set")
        rules = {
            "channels": (lambda c: c in (None, 1, 3), "must be 1 (grey) or 3 (colour)"),
            "subset": (unset_or(positive_int), "must be a positive number of images"),
            "subset_seed": (non_negative_int, "must be an integer >= 0"),
        }
        check_fields(self, rules, ConfigError)
        _check(isinstance(self.filters, dict), "filters", "must map factor names to [lo, hi]")
        for name, rng in self.filters.items():
            _check(
                _class_range(rng),
                "filters",
                f"for factor {name!r} must be [lo, hi] with 0 <= lo <= hi, got {rng!r}",
            )
        _check(
            isinstance(self.stride, dict) and all(positive_int(k) for k in self.stride.values()),
            "stride",
            f"must map factor names to integers >= 1, got {self.stride!r}",
        )
        _check(
            isinstance(self.exclude, list | tuple)
            and all(isinstance(rule, dict) and rule for rule in self.exclude),
            "exclude",
            f"must be a list of rules such as {{shape = 2, posX = [0, 7]}}, got {self.exclude!r}",
        )
        for i, rule in enumerate(self.exclude):
            for name, rng in rule.items():
                _check(
                    non_negative_int(rng) or _class_range(rng),
                    f"exclude[{i}].{name}",
                    f"must be a class c or an inclusive range [lo, hi], got {rng!r}",
                )
        corr = self.correlation
        if corr is None:
            return
        _check(
            isinstance(corr, dict) and set(corr) == {"factors", "rho"},
            "correlation",
            f"must be a table with keys factors and rho, got {corr!r}",
        )
        factors, rho = corr["factors"], corr["rho"]
        _check(
            isinstance(factors, list | tuple)
            and len(factors) == 2
            and all(isinstance(f, str) for f in factors)
            and factors[0] != factors[1],
            "correlation.factors",
            f"must name two different factors, got {factors!r}",
        )
        _check(
            isinstance(rho, int | float) and not isinstance(rho, bool) and -1 < rho < 1,
            "correlation.rho",
            f"must be a number in (-1, 1), got {rho!r}",
        )


@dataclass
class OptimConfig:
    """Adam and the length of training.

    ``max_steps`` stops early (resume with a larger one); ``max_minutes`` stops after that much
    wall-clock training time in this invocation, with a checkpoint, and records the step reached
    in ``status.json`` so that ``max_steps`` can repeat the run exactly.
    """

    lr: float = option(1e-3, flag="--lr", help="Adam learning rate (default 1e-3)")
    lr_warmup_steps: int = option(
        0,
        flag="--lr-warmup-steps",
        metavar="STEPS",
        help="raise the learning rate linearly from lr / STEPS to lr over the first STEPS steps "
        "(default 0: the full rate from the start)",
    )
    grad_clip_norm: float | None = option(
        None,
        flag="--grad-clip-norm",
        metavar="NORM",
        help="rescale the gradient to this global L2 norm when it is larger, before Adam's step; "
        "the norm before clipping is logged as grad_norm (default: no clipping)",
    )
    batch_size: int = option(
        2048, flag="--batch-size", metavar="B", help="global batch size (split across processes)"
    )
    epochs: int = option(50, flag="--epochs", help="passes over the training set")
    max_steps: int | None = option(
        None,
        flag="--max-steps",
        metavar="STEPS",
        help="stop after this many steps in total (resume later with a larger value)",
    )
    max_minutes: float | None = option(
        None,
        flag="--max-minutes",
        metavar="MIN",
        help="stop after this many minutes of training (this invocation), with a checkpoint; "
        "RUN_DIR/status.json records the step reached, and --max-steps of that step repeats the "
        "run exactly",
    )
    screen: list[int] | None = option(
        None,
        flag="--screen",
        metavar="K[,K2,...]",
        parse=parse_screen,
        help="restart screening: train K candidate runs (seeds SEED, SEED+1000, ...) on the same "
        "images to the first --screen-images count, score each by its total correlation over "
        "the whole training set (no labels), and keep the lowest; with K,K2,... the best K2 go "
        "on to the next count, and so on, until one is kept and trained on. RUN_DIR/"
        "screening.json records every candidate (default: no screening; 1 turns a preset's off)",
    )
    screen_images: list[int] | None = option(
        None,
        flag="--screen-images",
        metavar="N[,N2,...]",
        parse=parse_screen_images,
        help="images the --screen candidates have trained when they are scored, one count per "
        "--screen round, increasing (e.g. --screen 6,2 --screen-images 250000,1000000)",
    )
    screen_tc_max: float | None = option(
        None,
        flag="--screen-tc-max",
        metavar="NATS",
        help="with two or more --screen rounds: while the last round's lowest total correlation "
        "is above NATS, the next-ranked candidates of the round before train to the last count "
        "too (as many at a time as the last round has), if the clock leaves 1.5 times "
        "as long as the round took; the lowest of all is kept (default: unset, no widening)",
    )

    def __post_init__(self) -> None:
        rules = {
            "batch_size": (positive_int, "must be a positive integer"),
            "epochs": (positive_int, "must be a positive integer"),
            "lr": (positive_number, "must be a positive number"),
            "lr_warmup_steps": (non_negative_int, "must be a non-negative integer"),
            "grad_clip_norm": (unset_or(positive_number), "must be a positive number or unset"),
            "max_steps": (unset_or(positive_int), "must be a positive integer or unset"),
            "max_minutes": (
                unset_or(positive_number),
                "must be a positive number of minutes or unset",
            ),
        }
        check_fields(self, rules, ConfigError)
        self._check_screening()

    def _check_screening(self) -> None:
        k, n = self.screen, self.screen_images
        if k == [1]:  # one candidate: no screening (turns a preset's off)
            self.screen = self.screen_images = k = n = None
        if k is None:
            _check(n is None, "screen_images", "is set without --screen; add --screen K")
            _check(
                self.screen_tc_max is None,
                "screen_tc_max",
                "is set without --screen; add --screen K,K2",
            )
            return
        _check(
            _ints(k) and k[0] >= 2 and all(a > b >= 1 for a, b in zip(k, k[1:])),
            "screen",
            f"must be candidate counts K[,K2,...], the first >= 2, each smaller than the one "
            f"before, got {k!r}",
        )
        _check(
            _ints(n) and len(n) == len(k) and all(a < b for a, b in zip(n, n[1:])),
            "screen_images",
            f"must be {len(k)} increasing image count(s), one per --screen round, got {n!r}",
        )
        tc_max = self.screen_tc_max
        _check(
            tc_max is None or (non_negative_number(tc_max) and len(k) >= 2),
            "screen_tc_max",
            f"must be a number of nats, with two or more --screen rounds (it widens the last "
            f"round from the round before), got {tc_max!r} with --screen {k!r}",
        )


def _ints(values: Any) -> bool:
    """A non-empty list of positive ints."""
    return isinstance(values, list) and bool(values) and all(map(positive_int, values))


@dataclass
class RunConfig:
    """Seed, hardware and everything written to the run directory.

    ``precision``: 'auto' resolves to bf16 where the device computes it natively, else fp32 (see
    :mod:`tcvae.training.hardware`); the resolved value is what ``config.json`` records.
    ``threads``: torch threads on CPU, or None for the cores left free when the run starts
    (:mod:`tcvae.training.threads`); the count chosen is what ``config.json`` records.
    """

    run_dir: str | None = option(
        None,
        flag="--out",
        metavar="DIR",
        help="run directory to create (default runs/<time>-<method>-...)",
    )
    seed: int = option(0, flag="--seed", help="random seed (default 0)")
    device: str = option(
        "auto",
        flag="--device",
        metavar="{auto,cpu,cuda,cuda:N}",
        help=f"device, one of {DEVICES} or cuda:N (default auto)",
    )
    precision: str = option(
        "fp32",
        flag="--precision",
        choices=PRECISIONS,
        help="precision of the networks: fp32 (default without a preset); bf16 autocast (CPU or "
        "CUDA; faster where the hardware computes bf16 natively); fp16 autocast "
        "(CUDA only); auto (the presets' default) picks bf16 where the device computes it "
        "natively, else fp32. Posterior parameters, z, the estimators and the loss stay in fp32",
    )
    threads: int | None = option(
        None,
        flag="--threads",
        metavar="N",
        help="torch CPU threads (default: the cores that other processes leave free when the run "
        "starts, at most torch's default or OMP_NUM_THREADS). The count is recorded and a "
        "resumed run keeps it, so results do not depend on the load",
    )
    adaptive_threads: bool = option(
        False,
        flag="--adaptive-threads",
        help="revisit the thread count every few seconds as other processes come and go: faster "
        "under changing load, but results may then differ at rounding level between runs on "
        "CPUs whose kernels split work differently by thread count",
    )
    checkpoint_every: int = option(
        500, flag="--checkpoint-every", metavar="STEPS", help="write a checkpoint every N steps"
    )
    keep_checkpoints: int = option(
        3, flag="--keep-checkpoints", metavar="K", help="keep the newest K checkpoints"
    )
    log_every: int = option(
        10, flag="--log-every", metavar="STEPS", help="log averaged loss terms every N steps"
    )
    tensorboard: bool = option(
        True, flag="--tensorboard", help="write TensorBoard event files under RUN_DIR/tb"
    )

    def __post_init__(self) -> None:
        check_choices(self, ConfigError)
        cuda = f"must be one of {DEVICES} (or cuda:N)"
        rules = {
            "seed": (non_negative_int, "must be an integer >= 0"),
            "device": (lambda d: d in DEVICES or str(d).startswith("cuda:"), cuda),
            "threads": (unset_or(positive_int), "must be a positive integer or unset (automatic)"),
            "checkpoint_every": (positive_int, "must be a positive integer"),
            "keep_checkpoints": (positive_int, "must be a positive integer"),
            "log_every": (positive_int, "must be a positive integer"),
        }
        check_fields(self, rules, ConfigError)


@dataclass
class TrainConfig:
    """The full description of a training run."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)


# The sections of a config: TrainConfig's fields, each a dataclass whose fields are options.
CONFIG_SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "model": ModelConfig,
    "objective": ObjectiveConfig,
    "optim": OptimConfig,
    "run": RunConfig,
}

# Command-line flag of every option (``section.name`` -> flag), from the declarations above.
OPTION_FLAGS: dict[str, str] = {
    f"{section}.{f.name}": f.metadata["flag"]
    for section, cls in CONFIG_SECTIONS.items()
    for f in options_of(cls)
}


def option_name(key: str) -> str:
    """``optim.batch_size`` -> ``optim.batch_size (--batch-size)`` for error messages."""
    flag = OPTION_FLAGS.get(key)
    return f"{key} ({flag})" if flag else key


def to_dict(config: TrainConfig) -> dict[str, dict[str, Any]]:
    """The config as nested plain types (JSON/TOML friendly): the layout of ``config.json``."""
    return dataclasses.asdict(config)


def flatten(tree: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``{"optim": {"lr": 1}}`` -> ``{"optim.lr": 1}``."""
    return {f"{s}.{k}": v for s, section in tree.items() for k, v in section.items()}


def _qualified(section: str, err: OptionError) -> str:
    """A section's error with its option named in full: ``subset must be ...`` of [data] ->
    ``data.subset (--subset) must be ...``."""
    if err.option is None:
        return f"[{section}]: {err}"
    text, name = str(err), option_name(f"{section}.{err.option}")
    if text.startswith(f"{err.option} "):
        return name + text[len(err.option) :]
    return f"{name}: {text}"


def from_dict(tree: dict[str, dict[str, Any]]) -> TrainConfig:
    """Build a config from nested plain types, each section checking its own options; unknown
    sections and options are errors (:class:`ConfigError` naming them)."""
    unknown_sections = sorted(set(tree) - set(CONFIG_SECTIONS))
    if unknown_sections:
        raise ConfigError(
            f"unknown config section(s) {unknown_sections}; known: {list(CONFIG_SECTIONS)}"
        )
    sections = {}
    for name, cls in CONFIG_SECTIONS.items():
        values = dict(tree.get(name, {}))
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(
                f"unknown option(s) {', '.join(f'{name}.{k}' for k in unknown)}; "
                f"options of [{name}]: {sorted(known)}"
            )
        try:
            sections[name] = cls(**values)
        except OptionError as err:
            raise ConfigError(_qualified(name, err)) from err
        except TypeError as err:
            raise ConfigError(f"[{name}]: {err}") from err
    return TrainConfig(**sections)
