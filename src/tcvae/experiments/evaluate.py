"""Scoring one sweep cell on the full evaluation grid with ``evaluate_run``.

``evaluate_run`` writes the full results to ``RUN_DIR/metrics.json``; a cell's summary row keeps
the headline numbers as flat keys: ``mig`` (the paper's protocol, REFERENCE.md section 5),
``mig_discrete`` (disentanglement_lib's protocol, section 6, labelled apart), ``log_px`` =
E[log p(x|z)], ``elbo`` = log_px - analytic E_n KL, ``kl``, and the decomposition ``mi``, ``tc``,
``dwkl`` (section 4), each with its standard error, and ``eval_points``; and, when the spec's
``metrics`` ask for them (e.g. ``metrics = ["all"]``), the wider suite's headline numbers:
``beta_vae``, ``factor_vae``, ``dci_disentanglement`` / ``_completeness`` / ``_informativeness``
(reference protocol), the same with ``dci_fast_``, ``sap``, ``modularity``, ``explicitness`` and
``mig_sup``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tcvae.data.ground_truth import GroundTruthData
from tcvae.evaluation.run import evaluation_defaults
from tcvae.experiments.spec import SpecError

# [evaluation] options of a sweep spec: the keyword arguments of evaluate_run, with its defaults
# (the paper's 10,000 samples, the decomposition and both MIG protocols).
EVALUATION_DEFAULTS: dict[str, Any] = evaluation_defaults()
# Headline key -> (section of metrics.json, key in it).
HEADLINE = {
    "mig": ("mig", "mig"),
    "mig_discrete": ("mig_discrete", "mig_discrete"),
    "log_px": ("decomposition", "log_likelihood"),
    "log_px_stderr": ("decomposition", "log_likelihood_stderr"),
    "elbo": ("decomposition", "elbo"),
    "kl": ("decomposition", "analytic_kl"),
    "mi": ("decomposition", "index_code_mi"),
    "mi_stderr": ("decomposition", "index_code_mi_stderr"),
    "tc": ("decomposition", "total_correlation"),
    "tc_stderr": ("decomposition", "total_correlation_stderr"),
    "dwkl": ("decomposition", "dimwise_kl"),
    "dwkl_stderr": ("decomposition", "dimwise_kl_stderr"),
    "beta_vae": ("beta_vae", "beta_vae"),
    "factor_vae": ("factor_vae", "factor_vae"),
    "dci_disentanglement": ("dci", "disentanglement"),
    "dci_completeness": ("dci", "completeness"),
    "dci_informativeness": ("dci", "informativeness"),
    "dci_fast_disentanglement": ("dci_fast", "disentanglement"),
    "dci_fast_completeness": ("dci_fast", "completeness"),
    "dci_fast_informativeness": ("dci_fast", "informativeness"),
    "sap": ("sap", "sap"),
    "modularity": ("modularity_explicitness", "modularity"),
    "explicitness": ("modularity_explicitness", "explicitness"),
    "mig_sup": ("mig_sup", "mig_sup"),
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


def headline_metrics(results: dict[str, Any]) -> dict[str, Any]:
    """The flat summary numbers of an ``evaluate_run`` result."""
    out: dict[str, Any] = {"eval_points": results["points"]}
    for key, (section, name) in HEADLINE.items():
        if section in results:
            out[key] = results[section][name]
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
