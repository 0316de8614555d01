"""The real sweep cell: train one model on the sweep's training set, evaluate it on the full grid.

A cell's training config is the library defaults < the spec's [train.SECTION] tables < its
method's [train.METHOD.SECTION] tables < the swept [grid.options] < the cell's method, beta (for
every method but the VAE, which has none), estimator, seed and run directory,
with the spec's [data] as its data section: the cell trains on what its config.json says, so
``load_run(cell).dataset()`` and ``tcvae train --resume`` rebuild the same images.
An interrupted cell resumes from its newest checkpoint (the trainer's exact resume); a run
directory without one is cleared and the cell starts again.

The trained cell is scored on the full evaluation grid by ``evaluate_run``, which writes the full
results to ``RUN_DIR/metrics.json``; the cell's summary row keeps ``eval_points``, the paper MIG's
``mig_gaps`` per factor, and each computed score's ``headline`` key in the metric table
(:data:`tcvae.evaluation.run.METRICS`: ``mig``, ``mig_discrete``, ``log_px``, ``elbo``, ``kl``,
``mi``, ``tc``, ``dwkl``, ...), with ``_stderr`` where it has one.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
from pathlib import Path
from typing import Any

from tcvae.evaluation.inputs import EvaluationError
from tcvae.evaluation.run import computed_metrics, evaluation_defaults, metric_names
from tcvae.experiments.grid import Cell, expand_grid
from tcvae.experiments.spec import METHOD_LABELS, SpecError, SweepSpec
from tcvae.experiments.sweep_data import INFO_FILE, load_evaluation_grid
from tcvae.training.config import TrainConfig, from_dict
from tcvae.training.resolve import merge

log = logging.getLogger(__name__)

# Facts about the training set copied into every cell's metrics (under "data.").
DATA_FACTS = (
    "requested_rho",
    "empirical_correlation",
    "train_images",
    "distinct_train_points",
    "excluded_grid_points",
)
# [evaluation] options of a sweep spec: the keyword arguments of evaluate_run, with its defaults
# (the paper's 10,000 samples, the decomposition and both MIG protocols).
EVALUATION_DEFAULTS: dict[str, Any] = evaluation_defaults()


def cell_config(spec: SweepSpec, cell: Cell, run_dir: str | Path | None = None) -> TrainConfig:
    """The validated training config of ``cell``."""
    method, estimator = METHOD_LABELS[cell.method]
    tree = merge(spec.train, spec.by_method.get(cell.method, {}))
    for key, value in cell.options.items():
        section, name = key.split(".", 1)
        tree.setdefault(section, {})[name] = value
    tree.setdefault("objective", {})["method"] = method
    if method != "vae":  # the VAE's objective, the ELBO, has no beta
        tree["objective"]["beta"] = cell.beta
    if estimator is not None:
        tree["objective"]["estimator"] = estimator
    tree.setdefault("run", {}).update(
        seed=cell.seed, run_dir=None if run_dir is None else str(run_dir)
    )
    tree["data"] = dataclasses.asdict(spec.data)
    return from_dict(tree)


def evaluation_options(options: dict[str, Any]) -> dict[str, Any]:
    """The spec's [evaluation] table over the defaults; unknown keys are errors."""
    unknown = sorted(set(options) - set(EVALUATION_DEFAULTS))
    if unknown:
        raise SpecError(
            f"sweep spec: [evaluation] has unknown key(s) {unknown}; "
            f"allowed keys: {list(EVALUATION_DEFAULTS)}"
        )
    try:
        metric_names(options.get("metrics", EVALUATION_DEFAULTS["metrics"]))
    except EvaluationError as err:
        raise SpecError(f"sweep spec: [evaluation] metrics: {err}") from None
    return {**EVALUATION_DEFAULTS, **options}


def headline_metrics(results: dict[str, Any]) -> dict[str, Any]:
    """The flat summary numbers of an ``evaluate_run`` result (see module doc)."""
    out: dict[str, Any] = {"eval_points": results["points"]}
    for metric, found in computed_metrics(results):
        for score, value, se in metric.numbers(found):
            if score.headline:
                out[score.headline] = value
                if se is not None:
                    out[f"{score.headline}_stderr"] = se
    if "mig" in results:
        out["mig_gaps"] = dict(zip(results["mig"]["factor_names"], results["mig"]["gaps"]))
    return out


def check_cells(spec: SweepSpec) -> None:
    """Build every cell's config once, and check the data selection against the data set's
    factor grid, so a bad option fails before any training starts."""
    from tcvae.training.datasets import grid_selection

    evaluation_options(spec.evaluation)
    grid_selection(spec.data)
    for cell in expand_grid(spec):
        cell_config(spec, cell)


def train_cell(spec: SweepSpec, cell: Cell, run_dir: Path):
    """Train (or resume) the cell's model in ``run_dir``; return the trainer's Run."""
    from tcvae.experiments.screening import screening_started, train
    from tcvae.training.checkpoint import latest_checkpoint

    config = cell_config(spec, cell, run_dir)
    if latest_checkpoint(run_dir) is not None or screening_started(run_dir):
        log.info("resuming cell %s from %s", cell.cell_id, latest_checkpoint(run_dir))
        run = train(config, resume=run_dir)
    else:
        shutil.rmtree(run_dir)  # a start that never reached its first checkpoint
        run_dir.mkdir(parents=True)
        run = train(config)
    if run.status == "interrupted":
        raise RuntimeError(
            f"training of {cell.cell_id} was interrupted (signal {run.signal}); "
            "re-run the sweep to resume it"
        )
    return run


def train_and_evaluate(cell: Cell, run_dir: Path, context: dict[str, Any]) -> dict[str, Any]:
    """The cell function of real sweeps: the metrics of one trained model (see module doc)."""
    from tcvae.evaluation.run import evaluate_run
    from tcvae.files import read_json

    spec: SweepSpec = context["spec"]
    run = train_cell(spec, cell, run_dir)
    grid_data = load_evaluation_grid(context["data_dir"])
    device = str(next(run.model.parameters()).device)
    options = evaluation_options(spec.evaluation)
    metrics = headline_metrics(evaluate_run(run_dir, device=device, data=grid_data, **options))
    facts = read_json(Path(context["data_dir"]) / INFO_FILE)
    metrics["data"] = {k: facts[k] for k in DATA_FACTS if k in facts}
    metrics["train"] = {"steps": run.step, **run.final_terms}
    return metrics
