"""Scoring one sweep cell on the full evaluation grid with ``evaluate_run``.

``evaluate_run`` writes the full results to ``RUN_DIR/metrics.json``; a cell's summary row keeps
``eval_points``, the paper MIG's ``mig_gaps`` per factor, and each computed score's ``headline``
key in the metric table (:data:`tcvae.evaluation.run.METRICS`: ``mig``, ``mig_discrete``,
``log_px``, ``elbo``, ``kl``, ``mi``, ``tc``, ``dwkl``, ...), with ``_stderr`` where it has one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tcvae.data.ground_truth import GroundTruthData
from tcvae.evaluation.inputs import EvaluationError
from tcvae.evaluation.run import computed_metrics, evaluation_defaults, metric_names
from tcvae.experiments.spec import SpecError

# [evaluation] options of a sweep spec: the keyword arguments of evaluate_run, with its defaults
# (the paper's 10,000 samples, the decomposition and both MIG protocols).
EVALUATION_DEFAULTS: dict[str, Any] = evaluation_defaults()


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
    """The flat summary numbers of an ``evaluate_run`` result."""
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


def evaluate_cell(
    run_dir: str | Path, data: GroundTruthData, options: dict[str, Any], device: str = "cpu"
) -> dict[str, Any]:
    """Score the trained run in ``run_dir`` on ``data`` (the full grid); headline numbers."""
    from tcvae.evaluation.run import evaluate_run

    results = evaluate_run(run_dir, device=device, data=data, **evaluation_options(options))
    return headline_metrics(results)
