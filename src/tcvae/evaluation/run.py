"""Evaluating a trained run directory: encode its data set, score it, write ``metrics.json``.

The layout of ``RUN_DIR/metrics.json``: ``run_dir``, ``dataset``, ``points`` and one section per
metric asked for: ``decomposition`` (:class:`~tcvae.evaluation.decomposition.ElboDecomposition`
with E[log p(x|z)] and the ELBO), ``mig`` (the paper's protocol) and ``mig_discrete``
(disentanglement_lib's protocol), each the metric's ``to_dict()``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from tcvae.data.ground_truth import GroundTruthData
from tcvae.evaluation.decomposition import decompose_elbo
from tcvae.evaluation.encode import encode_dataset, estimate_log_likelihood
from tcvae.evaluation.inputs import EvaluationError
from tcvae.evaluation.mig import PAPER_FACTORS, mig
from tcvae.evaluation.mig_discrete import mig_discrete

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.json"
METRICS = ("decomposition", "mig", "mig-discrete")


def evaluate_run(
    run_dir: str | Path,
    metrics: Sequence[str] = METRICS,
    samples: int = 10_000,
    seed: int = 0,
    device: str = "cpu",
    batch_size: int = 2048,
    estimator: str = "deterministic",
    factors: Sequence[str] | None = None,
    progress: bool = False,
    data: GroundTruthData | None = None,
) -> dict[str, Any]:
    """Score the run in ``run_dir`` on its own data set; writes and returns ``metrics.json``.

    factors: the factors MIG scores; default the data set's paper set (``PAPER_FACTORS``, minus
    any factor the run's data holds fixed), else every factor that varies. data: score on this
    data set instead of the run's own (e.g. the full factor grid of a run trained on a biased
    sample of it).
    """
    from tcvae.training.runs import load_run

    unknown = sorted(set(metrics) - set(METRICS))
    if unknown or not metrics:
        raise EvaluationError(f"unknown metric(s) {unknown}; choose from {list(METRICS)}")
    run_dir = Path(run_dir)
    run = load_run(run_dir, device=device)
    if data is None:
        data = run.dataset()
    model = run.model
    posterior = model.posterior.name
    names = list(data.factor_names)
    log.info("encoding %d images of %s", len(data), data.name)
    mean, logvar = encode_dataset(model, data, batch_size, device, progress)
    out: dict[str, Any] = {"run_dir": str(run_dir), "dataset": data.name, "points": len(data)}

    if "decomposition" in metrics:
        log.info("ELBO decomposition with %d samples", samples)
        parts = decompose_elbo(
            mean, logvar, posterior=posterior, samples=samples, seed=seed, progress=progress
        )
        ll, ll_se = estimate_log_likelihood(
            model, data, samples, seed, batch_size, device, progress
        )
        out["decomposition"] = parts.with_log_likelihood(ll, ll_se).to_dict()
    if "mig" in metrics:
        chosen = list(factors) if factors else _paper_factors(data.name, names, data.classes)
        log.info("MIG (%s) over factors %s", estimator, chosen or "all varying")
        result = mig(
            mean,
            logvar,
            data.classes,
            names,
            factors=chosen,
            posterior=posterior,
            estimator=estimator,
            samples=samples,
            seed=seed,
            progress=progress,
        )
        out["mig"] = result.to_dict()
    if "mig-discrete" in metrics:
        out["mig_discrete"] = mig_discrete(mean, data.classes, names, seed=seed).to_dict()

    path = run_dir / METRICS_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(out, indent=2))
    os.replace(tmp, path)
    return out


def _paper_factors(dataset: str, names: list[str], classes: torch.Tensor) -> list[str] | None:
    """The paper's factor set for ``dataset`` restricted to factors that vary, or None."""
    paper = PAPER_FACTORS.get(dataset)
    if paper is None:
        return None
    varying = [f for f in paper if f in names and classes[:, names.index(f)].unique().numel() > 1]
    return varying or None
