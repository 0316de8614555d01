"""Evaluating a trained run directory: encode its data set, score it, write ``metrics.json``.

The layout of ``RUN_DIR/metrics.json``: ``run_dir``, ``dataset``, ``points`` and one section per
metric asked for, each the metric's ``to_dict()`` with a ``protocol`` label: ``decomposition``
(:class:`~tcvae.evaluation.decomposition.ElboDecomposition` with E[log p(x|z)] and the ELBO),
``mig`` (the paper's protocol), ``mig_discrete`` (disentanglement_lib's protocol), and the wider
suite on the posterior means, disentanglement_lib's protocols: ``beta_vae``, ``factor_vae``,
``dci`` (reference protocol), ``dci_fast``, ``sap``, ``modularity_explicitness`` and ``mig_sup``.
``--metrics all`` asks for every one.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from tcvae.data.ground_truth import GroundTruthData
from tcvae.evaluation.beta_vae_score import beta_vae_score
from tcvae.evaluation.dci import dci
from tcvae.evaluation.decomposition import decompose_elbo
from tcvae.evaluation.encode import encode_dataset, estimate_log_likelihood
from tcvae.evaluation.factor_vae_score import factor_vae_score
from tcvae.evaluation.grid_mixture import GridTooLargeError
from tcvae.evaluation.inputs import EvaluationError
from tcvae.evaluation.mig import PAPER_FACTORS, MIGResult, mig
from tcvae.evaluation.mig_discrete import mig_discrete
from tcvae.evaluation.mig_sup import mig_sup
from tcvae.evaluation.modularity import modularity_explicitness
from tcvae.evaluation.sap import sap
from tcvae.files import write_json_atomic

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.json"
METRICS = (
    "decomposition",
    "mig",
    "mig-discrete",
    "beta-vae",
    "factor-vae",
    "dci",
    "dci-fast",
    "sap",
    "modularity",
    "mig-sup",
)
DEFAULT_METRICS = ("decomposition", "mig", "mig-discrete")
ALL = "all"
# Section of metrics.json written by each metric.
SECTIONS = {
    "decomposition": "decomposition",
    "mig": "mig",
    "mig-discrete": "mig_discrete",
    "beta-vae": "beta_vae",
    "factor-vae": "factor_vae",
    "dci": "dci",
    "dci-fast": "dci_fast",
    "sap": "sap",
    "modularity": "modularity_explicitness",
    "mig-sup": "mig_sup",
}


def evaluate_run(
    run_dir: str | Path,
    metrics: Sequence[str] = DEFAULT_METRICS,
    samples: int = 10_000,
    seed: int = 0,
    device: str = "cpu",
    batch_size: int = 2048,
    entropy_estimator: str = "deterministic",
    factors: Sequence[str] | None = None,
    progress: bool = False,
    data: GroundTruthData | None = None,
    num_train: int = 10_000,
    num_test: int = 5_000,
) -> dict[str, Any]:
    """Score the run in ``run_dir`` on its own data set; writes and returns ``metrics.json``.

    metrics: names from ``METRICS``, or ``"all"``. factors: the factors every metric scores;
    default for MIG the data set's paper set (``PAPER_FACTORS``, minus any factor the run's data
    holds fixed), else, and for the other metrics, every factor that varies (disentanglement_lib's
    choice). data: score on this data set instead of the run's own (e.g. the full factor grid of
    a run trained on a biased sample of it). num_train, num_test: training and test points (or
    examples, or votes) of the classifier-based metrics; seed: every random draw.
    """
    from tcvae.training.runs import load_run

    if isinstance(metrics, str):
        metrics = [metrics]
    if ALL in metrics:
        metrics = METRICS
    unknown = sorted(set(metrics) - set(METRICS))
    if unknown or not metrics:
        raise EvaluationError(
            f"unknown metric(s) {unknown}; choose from {list(METRICS)} or {ALL!r}"
        )
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
        log.info("MIG (%s) over factors %s", entropy_estimator, chosen or "all varying")
        result = mig_falling_back(
            mean,
            logvar,
            data.classes,
            names,
            factors=chosen,
            posterior=posterior,
            entropy_estimator=entropy_estimator,
            samples=samples,
            seed=seed,
            progress=progress,
        )
        out["mig"] = result.to_dict()
    if "mig-discrete" in metrics:
        out["mig_discrete"] = mig_discrete(
            mean, data.classes, names, factors=factors or None, seed=seed
        ).to_dict()
    codes = mean
    common = dict(factor_names=names, factors=list(factors) if factors else None, seed=seed)
    suite = {
        "beta-vae": lambda: beta_vae_score(
            codes, data.classes, num_train=num_train, num_eval=num_test, **common
        ),
        "factor-vae": lambda: factor_vae_score(
            codes, data.classes, num_train=num_train, num_eval=num_test, **common
        ),
        "dci": lambda: dci(codes, data.classes, num_train=num_train, num_test=num_test, **common),
        "dci-fast": lambda: dci(
            codes, data.classes, num_train=num_train, num_test=num_test, protocol="fast", **common
        ),
        "sap": lambda: sap(codes, data.classes, num_train=num_train, num_test=num_test, **common),
        "modularity": lambda: modularity_explicitness(
            codes, data.classes, num_train=num_train, num_test=num_test, **common
        ),
        "mig-sup": lambda: mig_sup(codes, data.classes, **common),
    }
    for name, compute in suite.items():
        if name in metrics:
            log.info("%s on %d training / %d test points", name, num_train, num_test)
            out[SECTIONS[name]] = compute().to_dict()

    write_json_atomic(run_dir / METRICS_FILE, out)
    return out


def mig_falling_back(
    mean, logvar, classes, names, *, entropy_estimator: str, **kwargs
) -> MIGResult:
    """:func:`mig`, but when the deterministic estimator's grid would be too large (posteriors
    far narrower than their spread, as a diverged run can have) it uses the Monte Carlo
    estimator instead, with a warning; the result records the estimator used."""
    try:
        return mig(mean, logvar, classes, names, entropy_estimator=entropy_estimator, **kwargs)
    except GridTooLargeError as err:
        if entropy_estimator != "deterministic":
            raise
        log.warning("%s; using the Monte Carlo estimator instead", err)
        return mig(mean, logvar, classes, names, entropy_estimator="monte-carlo", **kwargs)


def evaluation_defaults() -> dict[str, Any]:
    """The default of every setting of :func:`evaluate_run` (declared once, in its signature)."""
    skip = ("run_dir", "progress", "data", "device")
    return {
        name: list(p.default) if isinstance(p.default, tuple) else p.default
        for name, p in inspect.signature(evaluate_run).parameters.items()
        if name not in skip
    }


def _paper_factors(dataset: str, names: list[str], classes: torch.Tensor) -> list[str] | None:
    """The paper's factor set for ``dataset`` restricted to factors that vary, or None."""
    paper = PAPER_FACTORS.get(dataset)
    if paper is None:
        return None
    varying = [f for f in paper if f in names and classes[:, names.index(f)].unique().numel() > 1]
    return varying or None
