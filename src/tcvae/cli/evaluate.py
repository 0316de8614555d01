"""``tcvae evaluate``: score a trained run; writes RUN_DIR/metrics.json and prints a table."""

from __future__ import annotations

import argparse
from typing import Any

from tcvae.cli.options import add_progress_option

EPILOG = """\
Metrics:
  decomposition  E[log p(x|z)], index-code MI, total correlation and dimension-wise KL over the
                 whole data set, with standard errors, and the analytic KL they must add up to
  mig            Mutual Information Gap, the paper's protocol (dSprites: scale, orientation,
                 posX, posY); deterministic by default, --estimator monte-carlo for the paper's
  mig-discrete   discretised MIG, disentanglement_lib's protocol (not comparable with mig)
"""


def _metrics(text: str) -> list[str]:
    from tcvae.evaluation.run import METRICS

    chosen = [m.strip() for m in text.split(",") if m.strip()]
    bad = [m for m in chosen if m not in METRICS]
    if bad or not chosen:
        raise argparse.ArgumentTypeError(
            f"--metrics takes a comma-separated subset of {','.join(METRICS)}, got {text!r}"
        )
    return chosen


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="score a trained run: ELBO decomposition, MIG, discretised MIG",
        description="Score a trained run; writes RUN_DIR/metrics.json and prints a table.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="run directory written by `tcvae train`")
    p.add_argument(
        "--metrics",
        type=_metrics,
        default=["decomposition", "mig", "mig-discrete"],
        help="comma-separated metrics to compute (default: decomposition,mig,mig-discrete)",
    )
    p.add_argument(
        "--samples",
        type=int,
        default=10_000,
        help="Monte Carlo samples for the decomposition and Monte Carlo MIG (default 10000)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    p.add_argument("--device", default="cpu", help="device to encode on, e.g. cpu or cuda")
    p.add_argument(
        "--batch-size", type=int, default=2048, help="images per encoder batch (default 2048)"
    )
    p.add_argument(
        "--estimator",
        choices=["deterministic", "monte-carlo"],
        default="deterministic",
        help="MIG entropy estimator (default deterministic: numerical integration)",
    )
    p.add_argument(
        "--factors",
        default=None,
        help="comma-separated factors for MIG (default: the data set's paper set)",
    )
    add_progress_option(p)
    p.set_defaults(func=run)


def format_table(metrics: dict[str, Any]) -> str:
    """The headline numbers as aligned text lines."""
    rows: list[tuple[str, str]] = []
    dec = metrics.get("decomposition")
    if dec:
        for label, key in (
            ("E[log p(x|z)]", "log_likelihood"),
            ("ELBO", "elbo"),
            ("KL, analytic E_n KL(q(z|x_n)||p(z))", "analytic_kl"),
            ("KL, sum of the three terms", "kl_estimate"),
            ("  index-code MI", "index_code_mi"),
            ("  total correlation", "total_correlation"),
            ("  dimension-wise KL", "dimwise_kl"),
        ):
            se = dec.get(f"{key}_stderr")
            rows.append((label, f"{dec[key]:.4f}" + (f" +- {se:.4f}" if se is not None else "")))
        per_dim = zip(dec["analytic_kl_per_dim"], dec["dimwise_kl_per_dim"])
        for j, (analytic, dimwise) in enumerate(per_dim):
            rows.append(
                (f"  z{j}: KL analytic / KL(q(z_j)||p(z_j))", f"{analytic:.4f} / {dimwise:.4f}")
            )
    paper = metrics.get("mig")
    if paper:
        rows.append(("MIG (paper protocol)", f"{paper['mig']:.4f}  [{paper['estimator']}]"))
        for name, gap, j in zip(paper["factor_names"], paper["gaps"], paper["latent"]):
            rows.append((f"  {name}", f"gap {gap:.4f} (z{j})"))
    discrete = metrics.get("mig_discrete")
    if discrete:
        rows.append(("MIG (discretised, disentanglement_lib)", f"{discrete['mig_discrete']:.4f}"))
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)


def run(args: argparse.Namespace) -> int:
    from tcvae.evaluation.run import METRICS_FILE, evaluate_run

    factors = [f.strip() for f in args.factors.split(",")] if args.factors else None
    metrics = evaluate_run(
        args.run_dir,
        metrics=args.metrics,
        samples=args.samples,
        seed=args.seed,
        device=args.device,
        batch_size=args.batch_size,
        estimator=args.estimator,
        factors=factors,
        progress=args.progress,
    )
    print(format_table(metrics))
    print(f"wrote {args.run_dir.rstrip('/')}/{METRICS_FILE}")
    return 0
