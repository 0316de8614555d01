"""``tcvae score``: every metric of ``tcvae evaluate`` on codes from a file, from any framework."""

from __future__ import annotations

import argparse

from tcvae.cli.evaluate import INT_SETTINGS, add_scoring_options, epilog, format_table
from tcvae.cli.options import add_out_option, add_verb, pick

CODES_INTRO = """\
CODES.npz holds mean (N, D) and optionally logvar (N, D), factor_classes (N, K) and
factor_names (K,) (numpy arrays; `tcvae encode` writes one). With means alone, the metrics
that need posterior log-variances (decomposition, mig) are skipped; mig-discrete and the
wider suite read the means. Without factor_classes, --data names the data set whose order
the codes follow. The decomposition has no E[log p(x|z)] or ELBO here (they need the model).

"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    help = "score codes from any model (an .npz of means, log-variances, factor classes)"
    description = "Score a representation given as codes in an .npz; writes metrics.json and "
    description += "prints the same table as `tcvae evaluate`."
    p = add_verb(subparsers, "score", run, help, description, CODES_INTRO + epilog())
    p.add_argument("codes", metavar="CODES.npz", help="codes file (see below)")
    data = "the factors of the points, in the codes' order: a registered data set's whole factor "
    data += "grid (e.g. dsprites) or an .npz with factor_classes (default: the codes file's own)"
    p.add_argument("--data", metavar="NAME|FILE", help=data)
    posterior = "posterior family of the log-variances (default: the file's, else normal)"
    p.add_argument("--posterior", choices=("normal", "laplace"), help=posterior)
    out = "where to write the results: a .json file, or a directory to hold metrics.json "
    out += "(default: ./metrics.json)"
    add_out_option(p, out, "DIR|FILE.json", default="metrics.json")
    add_scoring_options(p)


def run(args: argparse.Namespace) -> int:
    import torch

    from tcvae.evaluation.codes import data_factors, load_codes
    from tcvae.evaluation.inputs import EvaluationError
    from tcvae.evaluation.run import METRICS_FILE, compute_metrics
    from tcvae.files import write_json_atomic

    codes = load_codes(args.codes)
    if args.data is not None:
        classes, names, dataset = data_factors(args.data)
        codes = codes.with_factors(classes, names, dataset, f"--data {args.data}")
    elif codes.factor_classes is None:
        raise EvaluationError(
            f"{args.codes} has no factor_classes, so the order of its points is unknown; give "
            "--data NAME|FILE, the data set the codes follow in order (e.g. --data dsprites)"
        )
    results = {"codes": str(args.codes), "dataset": codes.dataset, "points": len(codes.mean)}
    results |= compute_metrics(
        torch.from_numpy(codes.mean),
        None if codes.logvar is None else torch.from_numpy(codes.logvar),
        torch.from_numpy(codes.factor_classes),
        codes.factor_names,
        posterior=args.posterior or codes.posterior,
        progress=not args.quiet,
        **pick(args, "metrics", "entropy_estimator", "factors", *INT_SETTINGS),
    )
    path = args.out if args.out.suffix == ".json" else args.out / METRICS_FILE
    write_json_atomic(path, results)
    print(format_table(results))
    print(f"wrote {path}")
    return 0
