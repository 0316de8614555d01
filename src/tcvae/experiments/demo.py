"""The main job, end to end on a CPU: built-in dSprites -> beta-TCVAE -> evaluation -> report.

Steps: render a seeded random subset of the dSprites grid with the built-in generator (no
download), train beta-TCVAE (beta = 6, MWS estimator) with a CPU-sized budget, screening eight
restarts by their full-data total correlation (:mod:`tcvae.experiments.screening`), evaluate
it (ELBO decomposition, both MIG protocols), score an untrained copy of the same network with the
same MIG protocol as a baseline, and write the HTML report. docs/lab-notes/demo.md explains the
budget.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tcvae.data.ground_truth import GroundTruthData
from tcvae.errors import TcvaeError
from tcvae.evaluation import encode_dataset, mig
from tcvae.evaluation.run import evaluate_run
from tcvae.experiments.screening import train
from tcvae.objectives import ObjectiveConfig
from tcvae.reports.run_report import section, write_report
from tcvae.training import (
    DataConfig,
    ModelConfig,
    OptimConfig,
    RunConfig,
    TrainConfig,
    build_dataset,
)
from tcvae.training.runs import CONFIG_FILE, model_from_config
from tcvae.training.seeding import seed_everything

log = logging.getLogger(__name__)

DEFAULT_OUT = "tcvae-demo"
RUN_NAME = "run"


class DemoError(TcvaeError):
    """The demo cannot start as asked (an earlier demo in the way, a bad setting)."""


@dataclass(frozen=True)
class DemoBudget:
    """How much data and compute the demo spends; see docs/lab-notes/demo.md for how it was chosen.

    Training stops after ``train_minutes`` of wall-clock time, screening included (the
    trainer's ``optim.max_minutes``), or after ``epochs`` of the kept run, whichever comes first;
    with ``train_minutes=None`` it runs all ``epochs``. The networks run in bf16 where the CPU
    computes it natively.
    """

    subset: int | None  # random grid points rendered and trained on (None: all 737,280)
    hidden: int  # MLP hidden width (the paper's is 1200)
    batch_size: int
    epochs: int
    train_minutes: float | None
    lr: float
    lr_warmup_steps: int  # linear learning-rate warm-up (the trainer's optim.lr_warmup_steps)
    estimator: str  # minibatch estimator of log q(z): "mws" or "mss" (objectives.estimators)
    screen: list[int] | None  # restart screening's candidates per round (optim.screen)
    screen_images: list[int] | None  # images the candidates have trained when each round scores
    screen_tc_max: float | None  # widen the last round while its lowest TC is above (nats)
    eval_samples: int  # Monte Carlo samples of the decomposition (the paper uses 10,000)


# From the recipe search (scripts/recipe_search.py, docs/lab-notes/demo.md): the recipe alone
# disentangled 6 of 16 seeds (bf16), and which way a run goes is settled early, so the demo screens
# restarts by their full-data TC: eight candidates at 0.25 M images (side by side on a multi-core
# CPU), the two lowest again at 1 M, the lower trained on. Where both end above 0.217 nats (where,
# at 1 M, the TCs of the 16 runs that disentangled and of those that did not meet), the next two
# of the first round train to 1 M as well, if the clock allows. Training, screening
# included, stops at 100 epochs of the kept run (6 million images) or at 9 minutes, so that the
# demo ends within 10.
DEFAULT_BUDGET = DemoBudget(
    subset=60_000,
    hidden=256,
    batch_size=512,
    epochs=100,
    train_minutes=9.0,
    lr=3e-3,
    lr_warmup_steps=0,
    estimator="mws",
    screen=[8, 2],
    screen_images=[250_000, 1_000_000],
    screen_tc_max=0.217,
    eval_samples=10_000,
)
# Seconds on a CPU, for tests only: it runs every step but learns little.
TINY_BUDGET = DemoBudget(
    subset=256,
    hidden=32,
    batch_size=64,
    epochs=3,
    train_minutes=None,
    lr=1e-3,
    lr_warmup_steps=0,
    estimator="mws",
    screen=[3, 2],
    screen_images=[128, 256],
    screen_tc_max=None,
    eval_samples=200,
)
BETA = 6.0
LATENT_DIM = 10


@dataclass(frozen=True)
class DemoResult:
    """What the demo produced, and the numbers of its summary."""

    run_dir: Path
    report: Path
    mig: float
    mig_untrained: float
    metrics: dict[str, Any]
    seconds: float
    images: int
    estimator: str  # "mws" or "mss", as trained


def demo_config(
    run_dir: Path,
    budget: DemoBudget,
    *,
    epochs: int | None = None,
    minutes: float | None = None,
    device: str = "auto",
    precision: str = "auto",
    data_source: str = "builtin",
    seed: int = 0,
) -> TrainConfig:
    """The training config of the demo: beta-TCVAE, beta = 6, an MLP of ``budget.hidden``.

    Training stops at ``minutes`` (screening included) or at the budget's epochs; without
    ``minutes``, at the budget's clock, or with ``epochs`` at whole epochs only.
    """
    if minutes is None:
        minutes = None if epochs else budget.train_minutes
    return TrainConfig(
        data=DataConfig(
            name="dsprites", source=data_source, subset=budget.subset, subset_seed=seed
        ),
        model=ModelConfig(arch="mlp", latent_dim=LATENT_DIM, hidden=budget.hidden),
        objective=ObjectiveConfig(method="beta-tcvae", beta=BETA, estimator=budget.estimator),
        optim=OptimConfig(
            lr=budget.lr,
            lr_warmup_steps=budget.lr_warmup_steps,
            batch_size=budget.batch_size,
            epochs=epochs or budget.epochs,
            max_minutes=minutes,
            screen=budget.screen,
            screen_images=budget.screen_images,
            screen_tc_max=budget.screen_tc_max,
        ),
        run=RunConfig(
            run_dir=str(run_dir),
            seed=seed,
            device=device,
            precision=precision,
            checkpoint_every=1000,
            log_every=10,
        ),
    )


def untrained_mig(
    config: TrainConfig, data: GroundTruthData, factors: list[str], device: str
) -> float:
    """MIG (paper protocol, over ``factors``) of the demo's network at its initialisation."""
    seed_everything(config.run.seed)
    model = model_from_config(config.model).to(device).eval()
    mean, logvar = encode_dataset(model, data, device=device)
    return mig(mean, logvar, data.classes, data.factor_names, factors=factors).mig


def run_demo(
    out: str | Path = DEFAULT_OUT,
    *,
    tiny: bool = False,
    epochs: int | None = None,
    minutes: float | None = None,
    subset: int | None | str = "default",
    device: str = "auto",
    precision: str = "auto",
    data_source: str = "builtin",
    seed: int = 0,
    force: bool = False,
    progress: bool = True,
) -> DemoResult:
    """Train, evaluate and report; returns where everything went and the headline numbers.

    ``subset``: "default" keeps the budget's subset, None trains on the whole grid.
    ``minutes``: the training clock, screening included, in place of the budget's.
    ``precision``: the trainer's ``run.precision`` ("auto": bf16 where the device computes it
    natively). ``force`` replaces an earlier demo run in ``out``.
    """
    start = time.perf_counter()
    budget = TINY_BUDGET if tiny else DEFAULT_BUDGET
    if subset != "default":
        budget = DemoBudget(**{**budget.__dict__, "subset": subset})
    if epochs is not None and epochs < 1:
        raise DemoError(f"--epochs must be a positive integer, got {epochs}")
    if minutes is not None and not minutes > 0:
        raise DemoError(f"--minutes must be a positive number of minutes, got {minutes}")
    run_dir = Path(out) / RUN_NAME
    _clear_earlier_demo(run_dir, force)
    config = demo_config(
        run_dir,
        budget,
        epochs=epochs,
        minutes=minutes,
        device=device,
        precision=precision,
        data_source=data_source,
        seed=seed,
    )
    log.info("rendering %s dSprites images", budget.subset or "all")
    data = build_dataset(config.data, progress=progress)
    run = train(config, progress=progress, data=data)
    if run.status == "interrupted":
        raise DemoError(
            f"training stopped by signal {run.signal}; continue it with "
            f"`tcvae train --resume {run.run_dir}`, or run the demo again with --force"
        )
    eval_device = str(next(run.model.parameters()).device)
    metrics = evaluate_run(
        run.run_dir, samples=budget.eval_samples, device=eval_device, progress=progress, data=data
    )
    trained = section(metrics, "mig")
    if trained is None:
        raise DemoError(f"the evaluation wrote no paper-protocol MIG to {run.run_dir}")
    baseline = untrained_mig(run.config, data, list(trained["factor_names"]), eval_device)
    report = write_report(
        run.run_dir, device=eval_device, evaluate=False, progress=progress, data=data
    )
    return DemoResult(
        run_dir=run.run_dir,
        report=report.html,
        mig=float(trained["mig"]),
        mig_untrained=baseline,
        metrics=metrics,
        seconds=time.perf_counter() - start,
        images=len(data),
        estimator=run.config.objective.estimator,
    )


def _clear_earlier_demo(run_dir: Path, force: bool) -> None:
    """Refuse to overwrite an earlier demo unless ``force``; then remove only what a demo made."""
    if run_dir.exists() and not force:
        raise DemoError(
            f"{run_dir} already holds a demo run; open {run_dir / 'report.html'}, or pass "
            "--force to replace it, or --out DIR to keep it"
        )
    if not run_dir.exists():
        return
    if not (run_dir / CONFIG_FILE).is_file():
        raise DemoError(f"{run_dir} exists but was not made by the demo; remove it yourself")
    shutil.rmtree(run_dir)
