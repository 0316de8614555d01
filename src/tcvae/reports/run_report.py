"""The report of one run directory: every plot as a PNG and one self-contained ``report.html``.

Inputs are what a run leaves behind (``config.json``, the weights, ``train_log.jsonl``) and its
``metrics.json`` (written by :func:`tcvae.evaluation.run.evaluate_run`), whose sections, scores
and their labels are those of the metric table :data:`tcvae.evaluation.run.METRICS`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from matplotlib.figure import Figure
from tqdm.auto import tqdm

from tcvae.data.ground_truth import GroundTruthData
from tcvae.data.sprites import SHAPE_NAMES
from tcvae.errors import TcvaeError
from tcvae.evaluation import encode_dataset
from tcvae.evaluation.run import METRICS_FILE, computed_metrics, evaluate_run, metric_named
from tcvae.files import write_text_atomic
from tcvae.markup import esc, figure, key_value_table, paragraph, table
from tcvae.reports import images, plots
from tcvae.reports.explain import explain_mig
from tcvae.reports.html import page
from tcvae.training.config import flatten, to_dict
from tcvae.training.hardware import describe_hardware
from tcvae.training.runs import (
    FIGURE_DIR,
    REPORT_FILE,
    SCREENING_FILE,
    LoadedRun,
    load_run,
    read_run_json,
)

log = logging.getLogger(__name__)

# The training log's names of the KL and its three terms (tcvae.objectives.compute_loss), with
# their panel titles: kl is the minibatch mean of the analytic KL; mi, tc and dwkl are minibatch
# estimates by MSS, whatever estimator the loss used.
LOGGED_KL_TERMS = {
    "mi": "index-code MI (minibatch, MSS)",
    "tc": "total correlation (minibatch, MSS)",
    "dwkl": "dimension-wise KL (minibatch, MSS)",
    "kl": "analytic KL (minibatch mean)",
}
# Images shown: seeds of the traversals, reconstructed inputs, prior samples.
TRAVERSAL_SEEDS = 3
RECONSTRUCTIONS = 10
PRIOR_SAMPLES = 30


class ReportError(TcvaeError):
    """A run directory cannot be reported on; the message says what to run first."""


@dataclass(frozen=True)
class Report:
    """Where the report went: the HTML page and the PNG of each figure."""

    html: Path
    figures: dict[str, Path]


def section(metrics: Any, name: str) -> dict[str, Any] | None:
    """The section ``name`` of a metrics.json dict, or None when it was not computed."""
    value = metrics.get(name) if isinstance(metrics, Mapping) else None
    return value if isinstance(value, Mapping) else None


def read_metrics(run_dir: str | Path) -> dict[str, Any] | None:
    """``RUN_DIR/metrics.json`` as a dict, or None when the run has not been evaluated."""
    path = Path(run_dir) / METRICS_FILE
    return read_run_json(path) if path.is_file() else None


def headline_numbers(metrics: Mapping[str, Any]) -> dict[str, tuple[float, float | None]]:
    """The key numbers of a run (the headline scores) as label -> (value, standard error or
    None)."""
    return {
        score.label: (value, se)
        for metric, found in computed_metrics(metrics)
        for score, value, se in metric.numbers(found)
        if score.headline
    }


def write_report(
    run_dir: str | Path,
    *,
    device: str = "cpu",
    evaluate: bool = True,
    seed: int = 0,
    progress: bool = False,
    data: GroundTruthData | None = None,
) -> Report:
    """Write ``RUN_DIR/report.html`` and ``RUN_DIR/report/*.png`` for a trained run.

    Without ``metrics.json`` the run is evaluated first when ``evaluate`` is true, else a
    :class:`ReportError` says how to evaluate it. ``seed`` picks the images shown. ``data``
    is the data set to show (default: rebuilt from the run's config); pass it when the caller
    already holds it, to skip rendering or loading it again.
    """
    run_dir = Path(run_dir)
    run = load_run(run_dir, device=device)
    metrics = read_metrics(run_dir)
    if metrics is None:
        if not evaluate:
            raise ReportError(
                f"{run_dir} has no {METRICS_FILE}; run `tcvae evaluate {run_dir}` first, "
                "or let the report evaluate it (drop --no-evaluate)"
            )
        log.info("%s has no %s; evaluating the run first", run_dir, METRICS_FILE)
        metrics = evaluate_run(run_dir, device=device, progress=progress)
    if data is None:
        data = run.dataset()
    mean, logvar = encode_dataset(run.model, data, device=device, progress=progress)
    figures = report_figures(run, data, mean, logvar, metrics, seed=seed, progress=progress)
    paths = {
        name: plots.save_figure(fig, run_dir / FIGURE_DIR / f"{name}.png")
        for name, (fig, _) in figures.items()
    }
    document = report_page(run, data, metrics, figures, paths)
    return Report(write_text_atomic(run_dir / REPORT_FILE, document), paths)


def report_figures(
    run: LoadedRun,
    data: GroundTruthData,
    mean: torch.Tensor,
    logvar: torch.Tensor,
    metrics: Mapping[str, Any],
    *,
    seed: int = 0,
    progress: bool = False,
) -> dict[str, tuple[Figure, str]]:
    """Every figure of the report as name -> (figure, caption); absent inputs skip a figure."""
    model = run.model
    gen = torch.Generator().manual_seed(seed)
    dec = section(metrics, "decomposition")
    if dec is not None and dec.get("analytic_kl_per_dim") is not None:
        kl = torch.tensor(dec["analytic_kl_per_dim"], dtype=torch.float64)
    else:
        kl = model.posterior.kl_to_prior(mean.double(), logvar.double()).mean(0)
    order, active = plots.active_dims(kl)
    shown = torch.randperm(len(data), generator=gen)
    rows = run.log()
    steps: dict[str, tuple[str, Callable[[], Figure]]] = {
        "traversals": (
            "Latent traversals: each row sweeps one latent dimension (ordered by KL) from -2.5 "
            "to 2.5 while the others keep the seed image's posterior mean.",
            lambda: images.latent_traversals(
                model, data.batch(shown[:TRAVERSAL_SEEDS]), kl.numpy()
            ),
        ),
        "reconstructions": (
            "Inputs (odd rows) and their reconstructions from the posterior mean (even rows).",
            lambda: images.reconstructions(model, data.batch(shown[:RECONSTRUCTIONS])),
        ),
        "prior_samples": (
            "Images decoded from latents drawn from the prior p(z).",
            lambda: images.prior_samples(model, PRIOR_SAMPLES, generator=gen),
        ),
        "kl_per_dim": (
            "E_x KL(q(z_j|x) || p(z_j)) per latent dimension; grey bars are inactive dimensions.",
            lambda: plots.kl_per_dimension(kl),
        ),
    }
    paper = section(metrics, "mig")
    if paper is not None:
        steps["mutual_information"] = (
            "Mutual information between each factor and each latent, normalised by the factor's "
            "entropy (paper protocol); boxes mark the two most informative latents of each "
            "factor, whose difference is that factor's gap.",
            lambda: plots.mutual_information_matrix(
                paper["mutual_information"],
                paper["factor_names"],
                factor_entropy=paper["factor_entropy"],
            ),
        )
    latents = [int(j) for j in order[active]] or [int(order[0])]
    labels = SHAPE_NAMES if data.name.startswith("dsprites") else None
    if data.has_factors:
        steps["latent_vs_factors"] = (
            "Each active latent's posterior mean, averaged over the images with a given factor "
            "value, against that value (one line per shape): a latent that encodes a factor "
            "varies along it and stays flat along the others.",
            lambda: plots.latent_vs_factors(
                mean, data.classes, data.grid, latents, group_labels=labels
            ),
        )
    if rows:
        losses = [k for k in plots.loss_keys(rows) if k not in LOGGED_KL_TERMS]
        steps["training_loss"] = (
            "Training log: every loss term against the step (smoothed line over raw values).",
            lambda: plots.training_curves(rows, losses, title="Loss terms"),
        )
        steps["training_decomposition"] = (
            "Training log: the analytic KL averaged over each minibatch, and minibatch estimates "
            "of its three terms by stratified sampling (MSS, REFERENCE.md section 3) whatever "
            "estimator the loss used; their sum is the sampled KL. Small minibatches bias them "
            "(the sample's own posterior dominates the estimate of q(z)); the ELBO decomposition "
            "above is over the whole data set.",
            lambda: plots.training_curves(
                rows,
                list(LOGGED_KL_TERMS),
                title="KL decomposition during training (minibatch estimates)",
                labels=LOGGED_KL_TERMS,
            ),
        )
    if dec is not None:
        terms = {
            score.short: (value, se or 0.0)
            for score, value, se in metric_named("decomposition").numbers(dec)
            if score.short
        }
        steps["decomposition"] = (
            "ELBO decomposition on the whole data set with +-2 standard errors; the sum of the "
            "three terms estimates the analytic KL.",
            lambda: plots.decomposition_bars(terms),
        )
    bar = tqdm(steps.items(), desc="plots", disable=not progress)
    return {name: (make(), caption) for name, (caption, make) in bar}


def report_page(
    run: LoadedRun,
    data: GroundTruthData,
    metrics: Mapping[str, Any],
    figures: Mapping[str, tuple[Figure, str]],
    paths: Mapping[str, Path],
) -> str:
    """The HTML document: summary (with what the MIG says, :mod:`tcvae.reports.explain`),
    metrics, decomposition, then every figure; data without factor labels has no metrics or
    factor sections."""

    def fig(name: str) -> str:
        return (
            figure(paths[name].read_bytes(), figures[name][1], alt=name) if name in figures else ""
        )

    config = run.config
    o = config.objective
    summary_rows = [
        (label, value, "" if se is None else f"+- {se:.3g}")
        for label, (value, se) in headline_numbers(metrics).items()
    ]
    weight = "" if o.beta is None else f"beta = {o.beta:g}, "  # the VAE has no beta
    summary = paragraph(
        f"{o.method} ({weight}{o.estimator.upper()} estimator), "
        f"{config.model.arch.upper()} with {config.model.latent_dim} latent dimensions, trained "
        f"on {len(data):,} {data.name} images ({data.image_shape[1]}x{data.image_shape[2]}). "
        f"Weights: {run.weights.name}. {_trained_on(run)}"
    )
    summary += table(summary_rows, header=("quantity", "value", "standard error"))
    summary += "".join(paragraph(sentence) for sentence in explain_mig(metrics))
    sections = [
        ("Summary", summary),
        ("Restart screening", _screening_section(run.run_dir)),
        ("Metrics", _metrics_section(metrics) if data.has_factors else ""),
        ("ELBO decomposition", _decomposition_section(metrics) + fig("decomposition")),
        ("Factors and latents", fig("mutual_information") + fig("latent_vs_factors")),
        ("Latent traversals", fig("traversals")),
        ("Reconstructions and samples", fig("reconstructions") + fig("prior_samples")),
        ("Training curves", fig("training_loss") + fig("training_decomposition")),
        ("KL per latent dimension", fig("kl_per_dim") + _kl_table(metrics)),
        ("Configuration", key_value_table(flatten(to_dict(config)))),
    ]
    return page(  # a section with nothing to show (no factors, no training log) is left out
        f"tcvae report: {run.run_dir.name}",
        [(heading, body) for heading, body in sections if body],
        subtitle=f"Run directory {run.run_dir.resolve()}",
    )


def _trained_on(run: LoadedRun) -> str:
    """'Trained on cpu, bf16, 2 threads, CPU avx512_bf16 avx512f avx2.' from status.json (the
    precision alone for runs that predate its hardware record)."""
    hardware = run.status().get("hardware")
    if hardware:
        return f"Trained on {describe_hardware(hardware)}."
    return f"Trained in {run.config.run.precision}."


def _screening_section(run_dir: Path) -> str:
    """Every screened candidate's scores round by round and why one was kept, from
    ``screening.json`` ('' without one)."""
    path = run_dir / SCREENING_FILE
    if not path.is_file():
        return ""
    record = read_run_json(path)
    optim = record["config"]["optim"]
    rounds = optim["screen_images"]
    candidates, kept = record["candidates"], record.get("kept")

    def cell(c: dict[str, Any], r: int) -> str:
        if len(c["scores"]) <= r:
            return ""
        s = c["scores"][r]
        return f"{s['total_correlation']:.4f} +- {s['total_correlation_stderr']:.2g}"

    rows = [
        (c["seed"], *(cell(c, r) for r in range(len(rounds))), "kept" if c["index"] == kept else "")
        for c in candidates
    ]
    chosen = next((c for c in candidates if c["index"] == kept), None)
    why = (
        f"Seed {chosen['seed']} had the lowest in the last round and was trained on in this "
        "directory."
        if chosen
        else "No candidate has been kept yet."
    )
    if "rounds_scored" in record:
        why = (
            f"The time budget ran out after round {record['rounds_scored']}, so later rounds "
            f"did not run. {why}"
        )
    last = sum(len(c["scores"]) == len(rounds) for c in candidates)
    tc_max = optim.get("screen_tc_max")
    if tc_max is not None and last > optim["screen"][-1]:
        why = (
            f"Round {len(rounds)}'s lowest TC was above {tc_max:g} nats, so the next-ranked of "
            f"round {len(rounds) - 1} joined it ({last} candidates in all). {why}"
        )
    pool = sum(len(c["scores"]) >= len(rounds) - 1 for c in candidates)
    if (
        tc_max is not None
        and chosen is not None
        and len(rounds) > 1
        and chosen["scores"][-1]["total_correlation"] > tc_max
        and len(chosen["scores"]) == len(rounds)
        and last < pool
    ):  # candidates were left to widen with: the clock stopped it
        why += (
            f" Its TC is still above {tc_max:g} nats: the time budget left too little to widen "
            f"round {len(rounds)} further."
        )
    plan = ", then ".join(
        f"{k} at {n:,} images" for k, n in zip(optim["screen"], rounds, strict=True)
    )
    text = paragraph(
        f"Candidate runs (seeds {record['config']['run']['seed']}, +1000, ...) trained on the same "
        f"images and were scored by their {record['criterion']}: {plan}, the lowest going on. "
        "This uses no factor labels: it is the term beta-TCVAE penalises, measured without "
        f"minibatch bias. {why}"
    )
    header = ("seed", *(f"TC at {n:,} images (nats)" for n in rounds), "")
    return text + table(rows, header=header)


def _metrics_section(metrics: Mapping[str, Any]) -> str:
    parts = []
    for metric in map(metric_named, ("mig", "mig-discrete")):
        label = metric.scores[0].label
        found = section(metrics, metric.section) or {}
        numbers = metric.numbers(found)
        if not numbers:
            parts.append(paragraph(f"{label}: not computed.", "note"))
            continue
        parts.append(f"<h3>{esc(label)}: {numbers[0][1]:.4f}</h3>")
        parts.append(paragraph(found.get("protocol", ""), "note"))
        rows = [
            (factor, f"z{int(latent)}", float(gap))
            for factor, latent, gap in zip(found["factor_names"], found["latent"], found["gaps"])
        ]
        parts.append(table(rows, header=("factor", "most informative latent", "gap / H(v)")))
    parts.append(
        paragraph(
            "The two protocols estimate mutual information differently (mixture entropies of "
            "the posteriors vs. histograms of the posterior means), so their numbers are not "
            "comparable with each other.",
            "note",
        )
    )
    parts.append(_suite_table(metrics))
    return "\n".join(parts)


def _suite_table(metrics: Mapping[str, Any]) -> str:
    """One row per score of the wider suite present in metrics.json, with its value; what the
    metric measures, with its range, and its protocol on the metric's first row."""
    rows = []
    for metric, found in computed_metrics(metrics):
        if not metric.suite:
            continue
        about = (metric.help, found.get("protocol", ""))
        for i, (score, value, _) in enumerate(metric.numbers(found)):
            rows.append((score.label, value, *(about if i == 0 else ("", ""))))
    if not rows:
        return ""
    return "<h3>Other disentanglement metrics (posterior means)</h3>" + table(
        rows, header=("metric", "value", "what it measures, range", "protocol")
    )


def _decomposition_section(metrics: Mapping[str, Any]) -> str:
    dec = section(metrics, "decomposition")
    if dec is None:
        return paragraph("The ELBO decomposition was not computed.", "note")
    rows = [
        (score.label, value, "" if se is None else se)
        for score, value, se in metric_named("decomposition").numbers(dec)
    ]
    note = paragraph(
        f"Monte Carlo over {dec.get('samples')} samples (seed {dec.get('seed')}) with the exact "
        f"aggregate posterior; marginals: {dec.get('marginals')}.",
        "note",
    )
    return table(rows, header=("term", "nats", "standard error")) + note


def _kl_table(metrics: Mapping[str, Any]) -> str:
    dec = section(metrics, "decomposition")
    if dec is None or dec.get("analytic_kl_per_dim") is None:
        return ""
    per_dim = dec["analytic_kl_per_dim"]
    dimwise = dec.get("dimwise_kl_per_dim") or [None] * len(per_dim)
    rows = [
        (f"z{j}", float(a), "" if d is None else float(d))
        for j, (a, d) in enumerate(zip(per_dim, dimwise))
    ]
    return table(rows, header=("latent", "E_x KL(q(z_j|x) || p(z_j))", "KL(q(z_j) || p(z_j))"))
