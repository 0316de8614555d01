"""Training configuration: one dataclass per concern, resolved and saved in full.

A run is described by a :class:`TrainConfig` with five sections: ``data`` (which images),
``model`` (the arguments of :func:`tcvae.models.build_model`), ``objective`` (a
:class:`tcvae.objectives.ObjectiveConfig`), ``optim`` (Adam and the training length) and ``run``
(seed, device, precision, run directory, checkpoints and logging).

Settings are resolved in layers, later ones winning: dataclass defaults < preset < TOML file <
explicit overrides (command-line flags). The resolved config is written to ``config.json`` in the
run directory, so a run can always be rebuilt from its directory alone.
"""

from __future__ import annotations

import copy
import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tcvae.data.ground_truth import SOURCES
from tcvae.errors import TcvaeError
from tcvae.models.distributions import DISTRIBUTIONS
from tcvae.models.likelihoods import LIKELIHOODS
from tcvae.models.networks import ARCHITECTURES
from tcvae.objectives import ObjectiveConfig
from tcvae.options import check_choices, option, options_of

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib


class ConfigError(TcvaeError):
    """A training setting is invalid; the message names the option and how to fix it."""


def parse_filter(text: str) -> tuple[str, list[int]]:
    """'posX=0:15' -> ('posX', [0, 15]); 'shape=0' -> ('shape', [0, 0]) (the --filter flag)."""
    name, sep, rng = text.partition("=")
    lo, colon, hi = rng.partition(":")
    try:
        if not (sep and name):
            raise ValueError
        return name, [int(lo), int(hi if colon else lo)]
    except ValueError:
        raise ConfigError(
            f"--filter expects FACTOR=CLASS or FACTOR=LO:HI (class indices), got {text!r}"
        ) from None


def parse_exclude(text: str) -> dict[str, list[int]]:
    """'posX=16:31,posY=16:31' -> {'posX': [16, 31], 'posY': [16, 31]} (one --exclude rule)."""
    rule = {}
    for part in text.split(","):
        try:
            name, rng = parse_filter(part)
        except ConfigError:
            raise ConfigError(
                "--exclude expects FACTOR=CLASS or FACTOR=LO:HI joined by commas, e.g. "
                f"posX=16:31,posY=16:31; got {text!r}"
            ) from None
        rule[name] = rng
    return rule


def parse_correlation(text: str) -> dict[str, Any]:
    """'posX,posY=0.75' -> {'factors': ['posX', 'posY'], 'rho': 0.75} (the --correlation flag)."""
    names, sep, rho = text.partition("=")
    factors = names.split(",")
    try:
        if not sep or len(factors) != 2 or not all(factors):
            raise ValueError
        return {"factors": factors, "rho": float(rho)}
    except ValueError:
        raise ConfigError(
            f"--correlation expects A,B=RHO (two factor names and a number), got {text!r}"
        ) from None


def parse_stride(text: str) -> tuple[str, int]:
    """'orientation=4' -> ('orientation', 4) (the --stride flag)."""
    name, sep, k = text.partition("=")
    try:
        if not (sep and name):
            raise ValueError
        return name, int(k)
    except ValueError:
        raise ConfigError(f"--stride expects FACTOR=K (an integer K >= 1), got {text!r}") from None


DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@dataclass
class DataConfig:
    """Which images to train on, built in this order by :func:`tcvae.training.build_dataset`.

    ``name``: a registered data set (``tcvae data list``) or a path to an ``.npz`` file of the
    user's own images and factor classes (layout in :mod:`tcvae.data.arrays`).

    ``stride`` maps a factor name to k: keep its classes 0, k, 2k, ..., a coarser factor grid
    whose classes every later option (and a sweep's evaluation grid) counts in.
    ``filters`` maps a factor name to an inclusive class range ``[lo, hi]`` to keep.
    ``exclude`` lists factor combinations never shown: each rule ``{factor: [lo, hi] or c, ...}``
    removes the images whose class of every named factor lies in its range.
    ``correlation`` ``{"factors": [a, b], "rho": r}`` draws the training images i.i.d. (with
    replacement) from a distribution over the remaining images in which factors a and b have
    class correlation r (:mod:`tcvae.data.factor_sampling`); ``subset`` is then the number
    drawn (default: as many as the stride and filters leave).
    Without a correlation, ``subset`` keeps a uniformly random subset of that many images. Either
    draw is seeded by ``subset_seed``, so the same config always gives the same images in the
    same order.
    """

    name: str = option(
        "dsprites",
        flag="--data",
        metavar="NAME",
        help="data set: dsprites (default), faces, shapes3d, mpi3d_toy, mpi3d_realistic, "
        "mpi3d_real, or a path to your own .npz (see tcvae data list, docs/datasets.md)",
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
    stride: dict[str, int] = option(
        flag="--stride",
        metavar="FACTOR=K",
        parse=parse_stride,
        repeat=True,
        default_factory=dict,
        help="keep classes 0, K, 2K, ... of a factor (a coarser grid, whose classes --filter and "
        "the config file's exclude rules then count in); repeat for several factors",
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


@dataclass
class ModelConfig:
    """Arguments of :func:`tcvae.models.build_model`; ``image_shape`` is filled in from the data."""

    arch: str = option(
        "mlp", flag="--arch", choices=sorted(ARCHITECTURES), help="network architecture"
    )
    latent_dim: int = option(
        10, flag="--latent-dim", metavar="D", help="number of latent dimensions (default 10)"
    )
    posterior: str = option(
        "normal",
        flag="--posterior",
        choices=sorted(DISTRIBUTIONS),
        help="posterior and prior family (default normal)",
    )
    likelihood: str = option(
        "bernoulli",
        flag="--likelihood",
        choices=sorted(LIKELIHOODS),
        help="decoder likelihood p(x|z) (default bernoulli)",
    )
    hidden: int | None = option(
        None,
        flag="--hidden",
        metavar="H",
        help="MLP hidden width (paper: 1200) or conv base channels (paper: 32)",
    )
    image_shape: list[int] | None = None  # filled in from the data at train time


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
        flag="--run-dir",
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
        "CUDA; about 1.6x fp32 for the paper's MLP on CPUs with AVX512-BF16); fp16 autocast "
        "(CUDA only); auto (the presets' default) picks bf16 where the device computes it "
        "natively, else fp32. Posterior parameters, z, the estimators and the loss stay in fp32",
    )
    bool_batches: bool = option(
        False,
        flag="--bool-batches",
        help="in fp32 on a CPU, give binary images to an MLP encoder as bool (its first layer "
        "then sums the weights of the pixels that are on: about 1.2x faster steps for the "
        "paper's MLP, a few percent for the demo's). Gradients agree with float batches to "
        "1e-6, but runs differ from them at rounding level; over 8 paired seeds neither "
        "disentangled better (docs/performance.md)",
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


@dataclass
class TrainConfig:
    """The full description of a training run."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)


SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "model": ModelConfig,
    "objective": ObjectiveConfig,
    "optim": OptimConfig,
    "run": RunConfig,
}

# Command-line flag of every option (``section.name`` -> flag), from the declarations above.
OPTION_FLAGS: dict[str, str] = {
    f"{section}.{f.name}": f.metadata["flag"]
    for section, cls in SECTIONS.items()
    for f in options_of(cls)
}

# Presets: partial configs applied over the defaults. They leave beta unset: 6 is the methods'
# default, and an explicit beta would be refused with ``--method vae``, which has none.
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    # The paper's dSprites set-up (REFERENCE.md section 8): MLP 4096-1200-1200 encoder, Bernoulli
    # decoder, D = 10, Adam lr 1e-3, batch 2048, 50 epochs, beta-TCVAE with beta = 6. The paper's
    # default estimator is minibatch weighted sampling (MWS), so the preset uses it; pass
    # ``--estimator mss`` for the unbiased stratified estimator.
    "paper-dsprites": {
        "data": {"name": "dsprites", "subset": None, "filters": {}},
        "model": {"arch": "mlp", "latent_dim": 10, "likelihood": "bernoulli", "hidden": None},
        "objective": {"method": "beta-tcvae", "estimator": "mws"},
        "optim": {"lr": 1e-3, "batch_size": 2048, "epochs": 50},
        "run": {"precision": "auto"},
    },
    # The paper's 3D-faces set-up (REFERENCE.md section 8): the conv encoder/decoder, D = 10,
    # beta-TCVAE with beta = 6 and MWS, batch 2048, Adam lr 1e-3, 50 epochs, and the reference
    # code's beta warm-up on faces. On the built-in stand-in or the user's Basel renders.
    "faces": {
        "data": {"name": "faces", "subset": None, "filters": {}},
        "model": {"arch": "conv", "latent_dim": 10, "likelihood": "bernoulli", "hidden": 32},
        "objective": {
            "method": "beta-tcvae",
            "estimator": "mws",
            "beta_warmup_steps": 2500,
        },
        "optim": {"lr": 1e-3, "batch_size": 2048, "epochs": 50},
        "run": {"precision": "auto"},
    },
    # A run that finishes in minutes on a laptop CPU: 20,000 random dSprites images, a narrower
    # MLP (hidden width 256), batch 256, 5 epochs, beta-TCVAE (beta = 6) with the MSS estimator.
    "cpu-small": {
        "data": {"name": "dsprites", "subset": 20_000, "filters": {}},
        "model": {"arch": "mlp", "latent_dim": 10, "likelihood": "bernoulli", "hidden": 256},
        "objective": {"method": "beta-tcvae", "estimator": "mss"},
        "optim": {"lr": 1e-3, "batch_size": 256, "epochs": 5},
        "run": {"checkpoint_every": 200, "log_every": 10, "precision": "auto"},
    },
}

# What may change when a run is resumed; anything else would make it a different run.
RESUMABLE_KEYS = frozenset(
    {
        "optim.epochs",
        "optim.max_steps",
        "optim.max_minutes",
        "run.device",
        "run.threads",
        "run.adaptive_threads",
        "run.checkpoint_every",
        "run.keep_checkpoints",
        "run.log_every",
        "run.tensorboard",
    }
)


def option_name(key: str) -> str:
    """``optim.batch_size`` -> ``optim.batch_size (--batch-size)`` for error messages."""
    flag = OPTION_FLAGS.get(key)
    return f"{key} ({flag})" if flag else key


def to_dict(config: TrainConfig) -> dict[str, dict[str, Any]]:
    """The config as nested plain types (JSON/TOML friendly)."""
    return {name: dataclasses.asdict(getattr(config, name)) for name in SECTIONS}


def flatten(tree: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``{"optim": {"lr": 1}}`` -> ``{"optim.lr": 1}``."""
    return {f"{s}.{k}": v for s, section in tree.items() for k, v in section.items()}


def merge(base: dict[str, dict[str, Any]], *layers: dict[str, dict[str, Any]]) -> dict:
    """Section-wise update of ``base`` by each layer in turn (later layers win)."""
    out = copy.deepcopy(base)
    for layer in layers:
        for section, values in layer.items():
            if section not in SECTIONS:
                raise ConfigError(
                    f"unknown config section [{section}]; known sections: {list(SECTIONS)}"
                )
            if not isinstance(values, dict):
                raise ConfigError(f"config section [{section}] must be a table of options")
            out.setdefault(section, {}).update(copy.deepcopy(values))
    return out


def from_dict(tree: dict[str, dict[str, Any]]) -> TrainConfig:
    """Build and validate a config from nested plain types; unknown keys are errors."""
    sections = {}
    for name, cls in SECTIONS.items():
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
        except TcvaeError as err:  # a section that validates itself names the field at fault
            key = f"{name}.{err.option}" if getattr(err, "option", None) else f"[{name}]"
            raise ConfigError(f"{option_name(key)}: {err}") from err
        except TypeError as err:
            raise ConfigError(f"[{name}]: {err}") from err
        wrong = check_choices(sections[name])
        if wrong is not None:
            raise ConfigError(f"{option_name(f'{name}.{wrong[0]}')} {wrong[1]}")
    unknown_sections = sorted(set(tree) - set(SECTIONS))
    if unknown_sections:
        raise ConfigError(f"unknown config section(s) {unknown_sections}; known: {list(SECTIONS)}")
    config = TrainConfig(**sections)
    validate(config)
    return config


def read_toml(path: str | Path) -> dict[str, dict[str, Any]]:
    """Read a TOML config file: tables [data] [model] [objective] [optim] [run], and optionally a
    top-level ``preset = "name"``."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist (--config)")
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config file {path} is not valid TOML: {err}") from err


def resolve_config(
    preset: str | None = None,
    file: str | Path | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> TrainConfig:
    """defaults < preset < TOML file < overrides, validated.

    A ``preset`` argument wins over a ``preset`` key in the file.
    """
    file_tree = read_toml(file) if file is not None else {}
    preset = preset or file_tree.pop("preset", None)
    file_tree.pop("preset", None)
    if preset is not None and preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r} (--preset); choose from {list(PRESETS)}")
    layers = [PRESETS[preset]] if preset else []
    # The defaults layer is the dataclasses' declarations, which from_dict fills in: an instance's
    # values would carry the default method's resolved options (such as beta) into every method.
    tree = merge({}, *layers, file_tree, overrides or {})
    return from_dict(tree)


def _check(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise ConfigError(f"{option_name(key)} {message}")


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _positive_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _class_range(value: Any) -> bool:
    """True for an inclusive class range [lo, hi] with 0 <= lo <= hi."""
    return (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(_is_class(v) for v in value)
        and value[0] <= value[1]
    )


def _is_class(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def validate_data(d: DataConfig) -> None:
    """Check the [data] options that can be checked without the data set's factor grid (factor
    names and class counts are checked when the data is built)."""
    _check(isinstance(d.name, str) and bool(d.name), "data.name", "must name a data set")
    _check(
        d.subset is None or _positive_int(d.subset),
        "data.subset",
        f"must be a positive number of images, got {d.subset!r}",
    )
    _check(
        _is_class(d.subset_seed),
        "data.subset_seed",
        f"must be an integer >= 0, got {d.subset_seed!r}",
    )
    _check(isinstance(d.filters, dict), "data.filters", "must map factor names to [lo, hi]")
    for fname, rng in d.filters.items():
        _check(
            _class_range(rng),
            "data.filters",
            f"for factor {fname!r} must be [lo, hi] with 0 <= lo <= hi, got {rng!r}",
        )
    _check(
        isinstance(d.stride, dict) and all(_positive_int(k) for k in d.stride.values()),
        "data.stride",
        f"must map factor names to integers >= 1, got {d.stride!r}",
    )
    rules_ok = isinstance(d.exclude, list | tuple) and all(
        isinstance(rule, dict) and rule for rule in d.exclude
    )
    _check(
        rules_ok,
        "data.exclude",
        f"must be a list of rules such as {{shape = 2, posX = [0, 7]}}, got {d.exclude!r}",
    )
    for i, rule in enumerate(d.exclude):
        for fname, rng in rule.items():
            _check(
                _is_class(rng) or _class_range(rng),
                f"data.exclude[{i}].{fname}",
                f"must be a class c or an inclusive range [lo, hi], got {rng!r}",
            )
    if d.correlation is None:
        return
    corr = d.correlation
    _check(
        isinstance(corr, dict) and set(corr) == {"factors", "rho"},
        "data.correlation",
        f"must be a table with keys factors and rho, got {corr!r}",
    )
    factors, rho = corr["factors"], corr["rho"]
    _check(
        isinstance(factors, list | tuple)
        and len(factors) == 2
        and all(isinstance(f, str) for f in factors)
        and factors[0] != factors[1],
        "data.correlation.factors",
        f"must name two different factors, got {factors!r}",
    )
    _check(
        isinstance(rho, int | float) and not isinstance(rho, bool) and -1 < rho < 1,
        "data.correlation.rho",
        f"must be a number in (-1, 1), got {rho!r}",
    )


def validate(config: TrainConfig) -> None:
    """Check every setting that can be checked without loading data; raise :class:`ConfigError`.

    Choices declared with the options are checked by :func:`from_dict`; these are the rest."""
    m, o, r = config.model, config.optim, config.run
    validate_data(config.data)
    _check(
        _positive_int(m.latent_dim),
        "model.latent_dim",
        f"must be a positive integer, got {m.latent_dim!r}",
    )
    _check(
        m.hidden is None or _positive_int(m.hidden),
        "model.hidden",
        f"must be a positive integer or unset, got {m.hidden!r}",
    )
    _check(
        _positive_number(o.lr),
        "optim.lr",
        f"must be a positive number, got {o.lr!r}",
    )
    _check(
        _positive_int(o.batch_size),
        "optim.batch_size",
        f"must be a positive integer, got {o.batch_size!r}",
    )
    _check(_positive_int(o.epochs), "optim.epochs", f"must be a positive integer, got {o.epochs!r}")
    _check(
        o.lr_warmup_steps == 0 or _positive_int(o.lr_warmup_steps),
        "optim.lr_warmup_steps",
        f"must be a non-negative integer, got {o.lr_warmup_steps!r}",
    )
    _check(
        o.grad_clip_norm is None or _positive_number(o.grad_clip_norm),
        "optim.grad_clip_norm",
        f"must be a positive number or unset, got {o.grad_clip_norm!r}",
    )
    _check(
        o.max_steps is None or _positive_int(o.max_steps),
        "optim.max_steps",
        f"must be a positive integer or unset, got {o.max_steps!r}",
    )
    _check(
        o.max_minutes is None or _positive_number(o.max_minutes),
        "optim.max_minutes",
        f"must be a positive number of minutes or unset, got {o.max_minutes!r}",
    )
    _check(
        r.threads is None or _positive_int(r.threads),
        "run.threads",
        f"must be a positive integer or unset (automatic), got {r.threads!r}",
    )
    _check(
        isinstance(r.seed, int) and r.seed >= 0,
        "run.seed",
        f"must be an integer >= 0, got {r.seed!r}",
    )
    _check(
        r.device in DEVICES or str(r.device).startswith("cuda:"),
        "run.device",
        f"must be one of {DEVICES} (or cuda:N), got {r.device!r}",
    )
    for key in ("checkpoint_every", "keep_checkpoints", "log_every"):
        value = getattr(r, key)
        _check(_positive_int(value), f"run.{key}", f"must be a positive integer, got {value!r}")


def resumed_config(saved: TrainConfig, requested: TrainConfig | None) -> TrainConfig:
    """The config to continue a run with: ``saved`` with the changes ``requested`` may make.

    Only :data:`RESUMABLE_KEYS` may differ (training length, device, checkpoint and log cadence);
    any other difference is an error naming the option.
    """
    if requested is None:
        return saved
    old, new = flatten(to_dict(saved)), flatten(to_dict(requested))
    # image_shape is filled in from the data, and 'auto' precision was resolved when the run began.
    ignored = {"model.image_shape"} | (
        {"run.precision"} if new["run.precision"] == "auto" else set()
    )
    if new["run.threads"] is None:  # the count chosen when the run began stands
        ignored.add("run.threads")
    changed = sorted(k for k in old if old[k] != new[k] and k not in ignored)
    frozen = [k for k in changed if k not in RESUMABLE_KEYS]
    if frozen:
        raise ConfigError(
            "a resumed run keeps its settings; these differ from the run's config.json: "
            + ", ".join(f"{option_name(k)} {old[k]!r} -> {new[k]!r}" for k in frozen)
            + f". Only {sorted(RESUMABLE_KEYS)} may change on resume; start a new run otherwise."
        )
    tree = to_dict(saved)
    for key in changed:
        section, name = key.split(".")
        tree[section][name] = new[key]
    return from_dict(tree)
