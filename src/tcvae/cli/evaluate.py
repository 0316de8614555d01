"""``tcvae evaluate``: score a trained run; writes RUN_DIR/metrics.json and prints a table."""

from __future__ import annotations

import argparse
import textwrap
from typing import Any

from tcvae.cli.options import add_compute_options, add_verb, device_of, pick

SUITE_INTRO = """\
The wider suite, on the posterior means, with disentanglement_lib's protocols (10,000 training
and 5,000 test points by default, --num-train/--num-test; every varying factor by default):"""
# The integer settings of the scoring, with their help; their defaults: evaluation_defaults().
INT_SETTINGS = {
    "samples": "Monte Carlo samples for the decomposition and Monte Carlo MIG",
    "seed": "seed of every random draw",
    "num_train": "training points (examples, votes) of the classifier-based metrics",
    "num_test": "test points (examples, votes) of the classifier-based metrics",
}


def epilog() -> str:
    """Every metric of the table with its description, the defaults first."""
    from tcvae.evaluation.run import ALL, METRICS

    def lines(suite: bool) -> list[str]:
        return [
            textwrap.fill(m.help, 99, initial_indent=f"  {m.name:<15}", subsequent_indent=" " * 17)
            for m in METRICS
            if m.suite == suite
        ]

    return "\n".join(
        ["Metrics:", *lines(False), "", SUITE_INTRO, *lines(True), f"  {ALL:<15}every metric above"]
    )


def _metrics(text: str) -> list[str]:
    from tcvae.evaluation.inputs import EvaluationError
    from tcvae.evaluation.run import metric_names

    try:
        return metric_names([m.strip() for m in text.split(",") if m.strip()])
    except EvaluationError as err:
        raise argparse.ArgumentTypeError(f"{err}; got {text!r}") from None


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from tcvae.evaluation.run import evaluation_defaults

    help = "score a trained run: ELBO decomposition, MIG and the wider metric suite"
    description = "Score a trained run; writes RUN_DIR/metrics.json and prints a table."
    p = add_verb(subparsers, "evaluate", run, help, description, epilog())
    p.add_argument("run_dir", metavar="RUN_DIR", help="run directory written by `tcvae train`")
    add_scoring_options(p)
    add_compute_options(p, evaluation_defaults()["batch_size"])


def add_scoring_options(p: argparse.ArgumentParser) -> None:
    """The options of what is scored and how, shared by ``tcvae evaluate`` and ``tcvae score``:
    --metrics, --samples, --seed, --num-train, --num-test, --entropy-estimator, --factors."""
    from tcvae.evaluation.mig import ENTROPY_ESTIMATORS
    from tcvae.evaluation.run import evaluation_defaults

    defaults = evaluation_defaults()
    p.add_argument(
        "--metrics",
        type=_metrics,
        default=defaults["metrics"],
        help=f"comma-separated metrics to compute, or all (default: "
        f"{','.join(defaults['metrics'])}; see below)",
    )
    for name, help in INT_SETTINGS.items():
        flag, help = f"--{name.replace('_', '-')}", f"{help} (default %(default)s)"
        p.add_argument(flag, type=int, default=defaults[name], metavar="N", help=help)
    p.add_argument(
        "--entropy-estimator",
        choices=ENTROPY_ESTIMATORS,
        default=defaults["entropy_estimator"],
        help="MIG entropy estimator (default deterministic: numerical integration)",
    )
    p.add_argument(
        "--factors",
        type=lambda text: [name.strip() for name in text.split(",") if name.strip()],
        default=None,
        help="comma-separated factors every metric scores (default for mig, as mig() in Python: "
        "the paper's set where the factor names hold one, e.g. dSprites' scale, orientation, "
        "posX, posY; else every varying factor, as for the others)",
    )


def format_table(metrics: dict[str, Any]) -> str:
    """The scores of every computed metric as aligned text lines, with the decomposition's
    per-dimension KLs and the paper MIG's estimator and per-factor gaps, then what the MIG
    says about this run (:func:`tcvae.reports.explain.explain_mig`)."""
    from tcvae.evaluation.run import computed_metrics
    from tcvae.reports.explain import explain_mig

    rows: list[tuple[str, str]] = []
    for metric, found in computed_metrics(metrics):
        for score, value, se in metric.numbers(found):
            rows.append((score.label, f"{value:.4f}" + ("" if se is None else f" +- {se:.4f}")))
        if metric.section == "decomposition":
            per_dim = zip(found["analytic_kl_per_dim"], found["dimwise_kl_per_dim"])
            for j, (analytic, dimwise) in enumerate(per_dim):
                label = f"  z{j}: KL analytic / KL(q(z_j)||p(z_j))"
                rows.append((label, f"{analytic:.4f} / {dimwise:.4f}"))
        if metric.section == "mig":
            rows.append(("  entropy estimator", found["entropy_estimator"]))
            for name, gap, j in zip(found["factor_names"], found["gaps"], found["latent"]):
                rows.append((f"  {name}", f"gap {gap:.4f} (z{j})"))
    width = max((len(label) for label, _ in rows), default=0)
    lines = [f"{label:<{width}}  {value}" for label, value in rows]
    notes = [
        textwrap.fill(s, 99, initial_indent="- ", subsequent_indent="  ")
        for s in explain_mig(metrics)
    ]
    return "\n".join(lines + (["", "What the MIG says:", *notes] if notes else []))


def run(args: argparse.Namespace) -> int:
    from tcvae.evaluation.run import METRICS_FILE, evaluate_run, evaluation_defaults

    settings = pick(args, *evaluation_defaults())
    progress = not args.quiet
    metrics = evaluate_run(args.run_dir, device=device_of(args), progress=progress, **settings)
    print(format_table(metrics))
    print(f"wrote {args.run_dir.rstrip('/')}/{METRICS_FILE}")
    return 0
