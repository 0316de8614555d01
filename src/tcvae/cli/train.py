"""``tcvae train``: train a VAE into a run directory, or resume one.

Settings resolve as preset < TOML file (--config) < flags; see :mod:`tcvae.training.config`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from tcvae.training.config import (
    DATA_SOURCES,
    DEVICES,
    PRECISIONS,
    PRESETS,
    ConfigError,
    merge,
    resolve_config,
    to_dict,
)

EPILOG = """\
Presets:
  paper-dsprites  the paper's dSprites set-up: MLP 4096-1200-1200, D = 10, Bernoulli, Adam lr 1e-3,
                  batch 2048, 50 epochs, beta-TCVAE with beta = 6 and the paper's default MWS
                  estimator (pass --estimator mss for the unbiased stratified one)
  faces           the paper's 3D-faces set-up: conv networks, D = 10, beta-TCVAE with beta = 6 and
                  MWS, beta warm-up over 2500 steps, batch 2048, 50 epochs (built-in stand-in
                  renders, or your Basel file: tcvae data list)
  cpu-small       minutes on a laptop CPU: 20,000 random dSprites images, hidden width 256,
                  batch 256, 5 epochs, beta-TCVAE with beta = 6 and MSS

Precedence: preset < --config file < flags. A TOML file has tables [data] [model] [objective]
[optim] [run] whose keys are the option names below with '_' (e.g. batch_size = 512), and may set
preset = "cpu-small" at the top level.

Multi-GPU / multi-node: run the same command under torchrun, e.g.
  torchrun --nproc_per_node 4 -m tcvae train --preset paper-dsprites --run-dir runs/ddp
Interrupt with Ctrl-C or SIGTERM: a checkpoint is written; continue with --resume RUN_DIR.
"""


def _filter(text: str) -> tuple[str, list[int]]:
    """'posX=0:15' -> ('posX', [0, 15]); 'shape=0' -> ('shape', [0, 0])."""
    name, sep, rng = text.partition("=")
    lo, colon, hi = rng.partition(":")
    try:
        if not (sep and name):
            raise ValueError
        bounds = [int(lo), int(hi if colon else lo)]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--filter expects FACTOR=CLASS or FACTOR=LO:HI (class indices), got {text!r}"
        ) from None
    return name, bounds


# (config key, flags, argparse keyword arguments); every option of TrainConfig appears once.
OPTIONS: list[tuple[str, tuple[str, ...], dict[str, Any]]] = [
    (
        "data.name",
        ("--data",),
        {
            "metavar": "NAME",
            "help": "data set: dsprites (default), faces, shapes3d, mpi3d_toy, mpi3d_realistic, "
            "mpi3d_real, or a path to your own .npz (see tcvae data list, docs/datasets.md)",
        },
    ),
    (
        "data.source",
        ("--data-source",),
        {
            "choices": DATA_SOURCES,
            "help": "where images come from: the data set file if cached, else the built-in "
            "generator (auto, default); always the generator (builtin); the official file "
            "(file). Built-in generators exist for dsprites and faces",
        },
    ),
    (
        "data.cache_dir",
        ("--cache-dir",),
        {"metavar": "DIR", "help": "where data set files are kept"},
    ),
    (
        "data.subset",
        ("--subset",),
        {"type": int, "metavar": "N", "help": "train on a seeded random subset of N images"},
    ),
    (
        "data.subset_seed",
        ("--subset-seed",),
        {"type": int, "metavar": "SEED", "help": "seed of the --subset draw (default 0)"},
    ),
    (
        "data.filters",
        ("--filter",),
        {
            "type": _filter,
            "action": "append",
            "metavar": "FACTOR=LO:HI",
            "help": "keep images whose factor class lies in [LO, HI] (or equals CLASS with "
            "FACTOR=CLASS); repeat for several factors, e.g. --filter shape=0 --filter posX=0:15",
        },
    ),
    ("model.arch", ("--arch",), {"choices": ("mlp", "conv"), "help": "network architecture"}),
    (
        "model.latent_dim",
        ("--latent-dim",),
        {"type": int, "metavar": "D", "help": "number of latent dimensions (default 10)"},
    ),
    (
        "model.posterior",
        ("--posterior",),
        {"choices": ("normal", "laplace"), "help": "posterior and prior family (default normal)"},
    ),
    (
        "model.likelihood",
        ("--likelihood",),
        {"metavar": "NAME", "help": "decoder likelihood p(x|z): bernoulli (default) or gaussian"},
    ),
    (
        "model.hidden",
        ("--hidden",),
        {
            "type": int,
            "metavar": "H",
            "help": "MLP hidden width (paper: 1200) or conv base channels (paper: 32)",
        },
    ),
    (
        "objective.method",
        ("--method",),
        {
            "metavar": "METHOD",
            "help": "objective: beta-tcvae (default), beta-vae, vae, or the baselines factor-vae, "
            "dip-vae-i, dip-vae-ii, annealed-vae (--beta is their main weight: FactorVAE's and "
            "AnnealedVAE's gamma, DIP-VAE's lambda_od)",
        },
    ),
    (
        "objective.beta",
        ("--beta",),
        {
            "type": float,
            "help": "weight of the total correlation (beta-TCVAE) or of the whole KL (beta-VAE)",
        },
    ),
    (
        "objective.alpha",
        ("--alpha",),
        {"type": float, "help": "weight of the index-code mutual information (default per method)"},
    ),
    (
        "objective.gamma",
        ("--gamma",),
        {"type": float, "help": "weight of the dimension-wise KL (default per method)"},
    ),
    (
        "objective.estimator",
        ("--estimator",),
        {
            "metavar": "NAME",
            "help": "minibatch estimator of log q(z): mss (stratified, unbiased) or mws "
            "(weighted, the paper's default)",
        },
    ),
    (
        "objective.beta_warmup_steps",
        ("--beta-warmup-steps",),
        {"type": int, "metavar": "STEPS", "help": "ramp beta up from 0 over this many steps"},
    ),
    (
        "objective.lambda_warmup_steps",
        ("--lambda-warmup-steps",),
        {"type": int, "metavar": "STEPS", "help": "anneal the lambda weight over this many steps"},
    ),
    (
        "objective.lambda0",
        ("--lambda0",),
        {"type": float, "help": "initial value of the annealed lambda weight"},
    ),
    (
        "objective.dip_lambda_d",
        ("--dip-lambda-d",),
        {
            "type": float,
            "help": "DIP-VAE's weight on the diagonal of the covariance (default 10 beta for "
            "dip-vae-i, beta for dip-vae-ii)",
        },
    ),
    (
        "objective.capacity_max",
        ("--capacity-max",),
        {"type": float, "metavar": "NATS", "help": "AnnealedVAE's final KL capacity (default 25)"},
    ),
    (
        "objective.capacity_steps",
        ("--capacity-steps",),
        {
            "type": int,
            "metavar": "STEPS",
            "help": "AnnealedVAE: steps over which the capacity rises from 0 (default 100000)",
        },
    ),
    ("optim.lr", ("--lr",), {"type": float, "help": "Adam learning rate (default 1e-3)"}),
    (
        "optim.batch_size",
        ("--batch-size",),
        {"type": int, "metavar": "B", "help": "global batch size (split across processes)"},
    ),
    ("optim.epochs", ("--epochs",), {"type": int, "help": "passes over the training set"}),
    (
        "optim.max_steps",
        ("--max-steps",),
        {
            "type": int,
            "metavar": "STEPS",
            "help": "stop after this many steps in total (resume later with a larger value)",
        },
    ),
    (
        "optim.max_minutes",
        ("--max-minutes",),
        {
            "type": float,
            "metavar": "MIN",
            "help": "stop after this many minutes of training (this invocation), with a "
            "checkpoint; RUN_DIR/status.json records the step reached, and --max-steps of that "
            "step repeats the run exactly",
        },
    ),
    (
        "run.run_dir",
        ("--run-dir",),
        {"metavar": "DIR", "help": "run directory to create (default runs/<time>-<method>-...)"},
    ),
    ("run.seed", ("--seed",), {"type": int, "help": "random seed (default 0)"}),
    (
        "run.device",
        ("--device",),
        {"metavar": "{auto,cpu,cuda,cuda:N}", "help": f"device, one of {DEVICES} (default auto)"},
    ),
    (
        "run.precision",
        ("--precision",),
        {
            "choices": PRECISIONS,
            "help": "precision of the networks: fp32 (default without a preset); bf16 autocast "
            "(CPU or CUDA; about 3x fp32 on CPUs with AVX512-BF16 or AMX); fp16 autocast (CUDA "
            "only); auto (the presets' default) picks bf16 where the device computes it natively, "
            "else fp32. Posterior parameters, z, the estimators and the loss stay in fp32",
        },
    ),
    (
        "run.threads",
        ("--threads",),
        {
            "type": int,
            "metavar": "N",
            "help": "torch CPU threads (default: automatic, the cores that other processes leave "
            "free, revisited every few seconds; at most torch's default or OMP_NUM_THREADS)",
        },
    ),
    (
        "run.checkpoint_every",
        ("--checkpoint-every",),
        {"type": int, "metavar": "STEPS", "help": "write a checkpoint every this many steps"},
    ),
    (
        "run.keep_checkpoints",
        ("--keep-checkpoints",),
        {"type": int, "metavar": "K", "help": "keep the newest K checkpoints"},
    ),
    (
        "run.log_every",
        ("--log-every",),
        {"type": int, "metavar": "STEPS", "help": "log averaged loss terms every this many steps"},
    ),
    (
        "run.tensorboard",
        ("--tensorboard",),
        {
            "action": argparse.BooleanOptionalAction,
            "help": "write TensorBoard event files under RUN_DIR/tb (default on)",
        },
    ),
]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a VAE (beta-TCVAE, beta-VAE, VAE) into a run directory, or resume one",
        description="Train a VAE on ground-truth data into a run directory (config.json,\n"
        "checkpoints/, train_log.jsonl, tb/, model.pt), or resume an interrupted run.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--preset", choices=sorted(PRESETS), help="start from a named preset")
    p.add_argument("--config", metavar="FILE", help="TOML file of settings (over the preset)")
    p.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue the run in RUN_DIR from its newest checkpoint (with its config.json; only "
        "--epochs, --max-steps, --max-minutes, --device, --threads and checkpoint/log cadence "
        "may change)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or info messages")
    groups = {
        s: p.add_argument_group(f"[{s}] options")
        for s in ("data", "model", "objective", "optim", "run")
    }
    for key, flags, kwargs in OPTIONS:
        if "choices" not in kwargs and kwargs.get("action") is None:
            kwargs = {"metavar": flags[0].lstrip("-").upper().replace("-", "_"), **kwargs}
        groups[key.split(".")[0]].add_argument(
            *flags, dest=key, default=argparse.SUPPRESS, **kwargs
        )
    p.set_defaults(func=run)


def overrides_from_args(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The options given on the command line, as a nested config layer."""
    tree: dict[str, dict[str, Any]] = {}
    for key, _, _ in OPTIONS:
        if hasattr(args, key):
            value = getattr(args, key)
            if key == "data.filters":
                value = dict(value)
            section, name = key.split(".")
            tree.setdefault(section, {})[name] = value
    return tree


def run(args: argparse.Namespace) -> int:
    from tcvae.training.runs import read_config
    from tcvae.training.trainer import train

    overrides = overrides_from_args(args)
    if args.quiet:
        logging.getLogger("tcvae").setLevel(logging.WARNING)
    if args.resume:
        if args.preset or args.config:
            raise ConfigError(
                "--resume takes its settings from RUN_DIR/config.json; drop --preset and --config"
            )
        from tcvae.training.config import from_dict

        config = from_dict(merge(to_dict(read_config(args.resume)), overrides))
    else:
        config = resolve_config(args.preset, args.config, overrides)
    result = train(config, resume=args.resume, progress=not args.quiet)
    if result.status == "interrupted":
        print(
            f"tcvae train: stopped at step {result.step} by signal {result.signal}; checkpoint "
            f"{result.checkpoint}. Resume with: tcvae train --resume {result.run_dir}",
            file=sys.stderr,
        )
        return 128 + int(result.signal or 0)
    terms = ", ".join(f"{k} {v:.4g}" for k, v in result.final_terms.items() if isinstance(v, float))
    print(f"{result.status}: step {result.step}, run dir {result.run_dir}")
    if terms:
        print(f"final: {terms}")
    return 0
