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
                 posX, posY); deterministic entropies by default, --entropy-estimator
                 monte-carlo for the paper's
  mig-discrete   discretised MIG, disentanglement_lib's protocol (not comparable with mig)

The wider suite, on the posterior means, with disentanglement_lib's protocols (10,000 training
and 5,000 test points by default, --num-train/--num-test; every varying factor by default):
  beta-vae       BetaVAE score (Higgins et al. 2017), in [0, 1]: accuracy of a linear classifier
                 telling which factor a batch of pairs shares from mean |z1 - z2|
  factor-vae     FactorVAE score (Kim & Mnih 2018), in [0, 1]: majority-vote accuracy of the
                 dimension of least normalised variance when one factor is fixed
  dci            DCI (Eastwood & Williams 2018), each in [0, 1]: disentanglement, completeness
                 from gradient-boosted-tree importances, informativeness = test accuracy;
                 reference protocol (one GradientBoostingClassifier per factor: slow, minutes)
  dci-fast       DCI from histogram gradient boosting (seconds; tracks dci, labelled apart)
  sap            SAP (Kumar et al. 2018), in [0, 1]: mean gap between the two dimensions that
                 best predict each factor (1-D linear SVM accuracy; perfect codes reach ~0.3-0.5)
  modularity     modularity and explicitness (Ridgeway & Mozer 2018), in [0, 1]: does each
                 dimension inform about one factor; test ROC-AUC of a logistic regression
  mig-sup        MIG-sup (Li et al. 2020), in [0, 1]: per dimension, the gap between the two
                 factors it informs most about (discretised estimates, as mig-discrete)
  all            every metric above
"""


def _metrics(text: str) -> list[str]:
    from tcvae.evaluation.run import ALL, METRICS

    chosen = [m.strip() for m in text.split(",") if m.strip()]
    bad = [m for m in chosen if m not in (*METRICS, ALL)]
    if bad or not chosen:
        raise argparse.ArgumentTypeError(
            f"--metrics takes a comma-separated subset of {','.join(METRICS)}, or {ALL}; "
            f"got {text!r}"
        )
    return list(METRICS) if ALL in chosen else chosen


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from tcvae.evaluation.mig import ENTROPY_ESTIMATORS
    from tcvae.evaluation.run import evaluation_defaults

    defaults = evaluation_defaults()
    p = subparsers.add_parser(
        "evaluate",
        help="score a trained run: ELBO decomposition, MIG and the wider metric suite",
        description="Score a trained run; writes RUN_DIR/metrics.json and prints a table.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="run directory written by `tcvae train`")
    p.add_argument(
        "--metrics",
        type=_metrics,
        default=defaults["metrics"],
        help="comma-separated metrics to compute, or all (default: decomposition,mig,"
        "mig-discrete; see below)",
    )
    p.add_argument(
        "--samples",
        type=int,
        default=defaults["samples"],
        help="Monte Carlo samples for the decomposition and Monte Carlo MIG (default %(default)s)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=defaults["seed"],
        help="seed of every random draw (default %(default)s)",
    )
    p.add_argument("--device", default="cpu", help="device to encode on, e.g. cpu or cuda")
    p.add_argument(
        "--batch-size",
        type=int,
        default=defaults["batch_size"],
        help="images per encoder batch (default %(default)s)",
    )
    p.add_argument(
        "--entropy-estimator",
        choices=ENTROPY_ESTIMATORS,
        default=defaults["entropy_estimator"],
        help="MIG entropy estimator (default deterministic: numerical integration)",
    )
    p.add_argument(
        "--factors",
        default=None,
        help="comma-separated factors every metric scores (default: the data set's paper set "
        "for mig, every varying factor for the others)",
    )
    p.add_argument(
        "--num-train",
        type=int,
        default=defaults["num_train"],
        help="training points (examples, votes) of the classifier-based metrics "
        "(default %(default)s)",
    )
    p.add_argument(
        "--num-test",
        type=int,
        default=defaults["num_test"],
        help="test points (examples, votes) of the classifier-based metrics (default %(default)s)",
    )
    add_progress_option(p)
    p.set_defaults(func=run)


def format_table(metrics: dict[str, Any]) -> str:
    """The headline numbers as aligned text lines."""
    from tcvae.evaluation.labels import DECOMPOSITION_TERMS, SUITE

    rows: list[tuple[str, str]] = []
    dec = metrics.get("decomposition")
    if dec:
        for key, label, _ in DECOMPOSITION_TERMS:
            if dec.get(key) is None:
                continue
            se = dec.get(f"{key}_stderr")
            rows.append((label, f"{dec[key]:.4f}" + (f" +- {se:.4f}" if se is not None else "")))
        per_dim = zip(dec["analytic_kl_per_dim"], dec["dimwise_kl_per_dim"])
        for j, (analytic, dimwise) in enumerate(per_dim):
            rows.append(
                (f"  z{j}: KL analytic / KL(q(z_j)||p(z_j))", f"{analytic:.4f} / {dimwise:.4f}")
            )
    paper = metrics.get("mig")
    if paper:
        rows.append(("MIG (paper protocol)", f"{paper['mig']:.4f}  [{paper['entropy_estimator']}]"))
        for name, gap, j in zip(paper["factor_names"], paper["gaps"], paper["latent"]):
            rows.append((f"  {name}", f"gap {gap:.4f} (z{j})"))
    discrete = metrics.get("mig_discrete")
    if discrete:
        rows.append(("MIG (discretised, disentanglement_lib)", f"{discrete['mig_discrete']:.4f}"))
    for section, key, label, _, _ in SUITE:
        if metrics.get(section):
            rows.append((label, f"{metrics[section][key]:.4f}"))
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
        entropy_estimator=args.entropy_estimator,
        factors=factors,
        progress=args.progress,
        num_train=args.num_train,
        num_test=args.num_test,
    )
    print(format_table(metrics))
    print(f"wrote {args.run_dir.rstrip('/')}/{METRICS_FILE}")
    return 0
