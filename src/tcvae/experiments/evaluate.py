"""Scoring one sweep cell on the full evaluation grid with :mod:`tcvae.evaluation`.

The headline numbers (the columns ``tcvae compare`` draws) are flat keys: ``mig`` (the paper's
protocol, REFERENCE.md section 5), ``mig_discrete`` (disentanglement_lib's protocol, section 6,
labelled apart), ``log_px`` = E[log p(x|z)], ``elbo`` = log_px - analytic E_n KL, ``kl``, and the
decomposition ``mi``, ``tc``, ``dwkl`` (section 4), each with a standard error. The full results
(MI matrices, per-dimension KL) go to ``RUN_DIR/metrics.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from tcvae.data.ground_truth import GroundTruthData
from tcvae.experiments.files import write_json_atomic
from tcvae.experiments.spec import SpecError

METRICS_FILE = "metrics.json"
# [evaluation] options of a sweep spec and their defaults (the paper's: 10,000 samples).
EVALUATION_DEFAULTS: dict[str, Any] = {
    "samples": 10_000,
    "seed": 0,
    "batch_size": 2048,
    "mig_estimator": "deterministic",
    "factors": None,
    "discrete_mig": True,
}


def evaluation_options(options: dict[str, Any]) -> dict[str, Any]:
    """The spec's [evaluation] table over the defaults; unknown keys are errors."""
    unknown = sorted(set(options) - set(EVALUATION_DEFAULTS))
    if unknown:
        raise SpecError(
            f"sweep spec: [evaluation] has unknown key(s) {unknown}; "
            f"allowed keys: {list(EVALUATION_DEFAULTS)}"
        )
    return {**EVALUATION_DEFAULTS, **options}


def evaluate_model(
    model: nn.Module,
    data: GroundTruthData,
    options: dict[str, Any],
    run_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Headline metrics of ``model`` (eval mode) on ``data``; full results to ``run_dir``."""
    from tcvae.evaluation import (
        PAPER_FACTORS,
        decompose_elbo,
        encode_dataset,
        estimate_log_likelihood,
        mig,
        mig_discrete,
    )

    opts = evaluation_options(options)
    device = next(model.parameters()).device
    samples, seed, batch = opts["samples"], opts["seed"], opts["batch_size"]
    factors = opts["factors"] or PAPER_FACTORS.get(data.name)
    names = list(data.factor_names)

    mean, logvar = encode_dataset(model, data, batch_size=batch, device=device)
    log_px, log_px_se = estimate_log_likelihood(
        model, data, samples=samples, seed=seed, batch_size=batch, device=device
    )
    posterior = model.posterior.name
    parts = decompose_elbo(mean, logvar, posterior=posterior, samples=samples, seed=seed)
    parts = parts.with_log_likelihood(log_px, log_px_se)
    scored = mig(
        mean,
        logvar,
        data.classes,
        names,
        factors=factors,
        posterior=posterior,
        estimator=opts["mig_estimator"],
        samples=samples,
        seed=seed,
    )
    headline: dict[str, Any] = {
        "mig": scored.mig,
        "log_px": log_px,
        "log_px_stderr": log_px_se,
        "elbo": parts.elbo,
        "kl": parts.analytic_kl,
        "mi": parts.index_code_mi,
        "mi_stderr": parts.index_code_mi_stderr,
        "tc": parts.total_correlation,
        "tc_stderr": parts.total_correlation_stderr,
        "dwkl": parts.dimwise_kl,
        "dwkl_stderr": parts.dimwise_kl_stderr,
        "eval_points": len(data),
        "mig_gaps": dict(zip(scored.factor_names, scored.gaps.tolist())),
    }
    full: dict[str, Any] = {"mig": scored.to_dict(), "decomposition": parts.to_dict()}
    if opts["discrete_mig"]:
        discrete = mig_discrete(mean, data.classes, names, seed=seed)
        headline["mig_discrete"] = discrete.mig_discrete
        full["mig_discrete"] = discrete.to_dict()
    if run_dir is not None:
        write_json_atomic(Path(run_dir) / METRICS_FILE, {**headline, "details": full})
    return headline
