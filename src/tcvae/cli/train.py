"""``tcvae train``: train a VAE into a run directory, or resume one.

Settings resolve as preset < TOML file (--config) < flags; see :mod:`tcvae.training.resolve`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tcvae.cli.options import add_config_option, add_verb, presets_help
from tcvae.options import options_of
from tcvae.training.config import CONFIG_SECTIONS, OPTION_FLAGS, ConfigError, from_dict, to_dict
from tcvae.training.resolve import PRESETS, config_toml, merge, resolve_config
from tcvae.training.runs import RESUMABLE_KEYS

EPILOG = """\
Precedence: preset < --config file < flags. A TOML file has tables [data] [model] [objective]
[optim] [run] whose keys are the names --print-config writes (batch_size = 512 for --batch-size,
run_dir for --out), and may set preset = "cpu-small" at the top level. --print-config prints the
resolved settings as such a file; a sweep spec's [data] and [train.SECTION] take the same keys.

Multi-GPU / multi-node: run the same command under torchrun, e.g.
  torchrun --nproc_per_node 4 -m tcvae train --preset paper-dsprites --out runs/ddp
Interrupt with Ctrl-C or SIGTERM: a checkpoint is written; continue with --resume RUN_DIR.
A run whose loss becomes NaN, infinite or blows up (its loss or ELBO beyond 1000 x pixels x log 2
nats per image) stops as 'diverged' (RUN_DIR/status.json) with exit status 1.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    presets = {name: preset["description"] for name, preset in PRESETS.items()}
    p = add_verb(
        subparsers,
        "train",
        run,
        help="train a VAE (beta-TCVAE, beta-VAE, VAE) into a run directory, or resume one",
        description="Train a VAE on ground-truth data into a run directory (config.json, "
        "checkpoints/, train_log.jsonl, tb/, model.pt), or resume an interrupted run.",
        epilog=presets_help("Presets:", presets, EPILOG),
    )
    p.add_argument("--preset", choices=sorted(PRESETS), help="start from a named preset")
    p.add_argument("--config", metavar="FILE", help="TOML file of settings (over the preset)")
    resumable = [flag for key, flag in OPTION_FLAGS.items() if key in RESUMABLE_KEYS]
    p.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue the run in RUN_DIR from its newest checkpoint (with its config.json; only "
        f"{', '.join(resumable[:-1])} and {resumable[-1]} may change)",
    )
    p.add_argument(
        "--print-config",
        action="store_true",
        help="print the resolved settings as a TOML file that --config reads back, and exit "
        "without training",
    )
    for section, cls in CONFIG_SECTIONS.items():
        group = p.add_argument_group(f"[{section}] options")
        for f in options_of(cls):
            dest = f"{section}.{f.name}"
            add_config_option(group, cls, f.name, dest=dest, default=argparse.SUPPRESS)


def overrides_from_args(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The options given on the command line, as a nested config layer."""
    tree: dict[str, dict[str, Any]] = {}
    for section, cls in CONFIG_SECTIONS.items():
        for f in options_of(cls):
            key = f"{section}.{f.name}"
            if hasattr(args, key):
                value = getattr(args, key)
                if f.metadata["repeat"] and isinstance(f.default_factory(), dict):
                    value = dict(value)  # repeated FACTOR=... pairs -> a mapping
                tree.setdefault(section, {})[f.name] = value
    return tree


def run(args: argparse.Namespace) -> int:
    from tcvae.experiments.screening import saved_config, train
    from tcvae.training.hardware import describe_hardware

    overrides = overrides_from_args(args)
    if args.resume:
        if args.preset or args.config:
            raise ConfigError(
                "--resume takes its settings from RUN_DIR/config.json; drop --preset and --config"
            )
        config = from_dict(merge(to_dict(saved_config(args.resume)), overrides))
    else:
        config = resolve_config(args.preset, args.config, overrides)
    if args.print_config:
        sys.stdout.write(config_toml(config))
        return 0
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
    print(f"trained on: {describe_hardware(result.hardware)}")
    if terms:
        print(f"final: {terms}")
    print(f"next: tcvae evaluate {result.run_dir}, then tcvae report {result.run_dir}")
    return 0
