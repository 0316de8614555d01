"""Evaluating a trained run directory: encode its data set, score it, write ``metrics.json``.

:data:`METRICS` is the one table of metrics: the name ``tcvae evaluate --metrics`` and
:func:`evaluate_run` take, the section of ``metrics.json`` it writes (its result's ``to_dict()``,
with a ``protocol`` label, except the decomposition's), the function that computes it and its
scores, each with its label and its key in a sweep cell's summary row. ``tcvae evaluate``'s
table, the run report and the sweeps read it. ``metrics.json`` holds ``run_dir``, ``dataset``,
``points`` and one section per metric asked for.

:func:`compute_metrics` scores arrays (posterior means, log-variances, factor classes) from any
model; :func:`evaluate_run` (``tcvae evaluate``) and ``tcvae score`` both call it.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from tcvae.data.ground_truth import GroundTruthData
from tcvae.evaluation.beta_vae_score import beta_vae_score
from tcvae.evaluation.dci import dci
from tcvae.evaluation.decomposition import TERM_LABELS, ElboDecomposition, decompose_elbo
from tcvae.evaluation.encode import encode_dataset, estimate_log_likelihood
from tcvae.evaluation.factor_vae_score import factor_vae_score
from tcvae.evaluation.grid_mixture import GridTooLargeError
from tcvae.evaluation.inputs import EvaluationError
from tcvae.evaluation.mig import MIGResult, mig
from tcvae.evaluation.mig_discrete import mig_discrete
from tcvae.evaluation.mig_sup import mig_sup
from tcvae.evaluation.modularity import modularity_explicitness
from tcvae.evaluation.sap import sap
from tcvae.files import write_json_atomic
from tcvae.training.runs import METRICS_FILE

log = logging.getLogger(__name__)

ALL = "all"


@dataclass(frozen=True)
class Score:
    """One number of a metric's section of ``metrics.json``.

    key: its key in the section (and ``key + "_stderr"`` its standard error, where there is one);
    label: its name in ``tcvae evaluate``'s table and the report; headline: its key in a sweep
    cell's summary row (None: not a headline number, left out of the report's summary too);
    short: its label on the decomposition plot.
    """

    key: str
    label: str
    headline: str | None = None
    short: str = ""


@dataclass(frozen=True)
class Inputs:
    """What every metric is computed from: :func:`compute_metrics`'s arguments."""

    mean: torch.Tensor
    logvar: torch.Tensor | None
    classes: torch.Tensor | None
    factor_names: list[str]
    posterior: str
    factors: list[str] | None
    samples: int
    seed: int
    entropy_estimator: str
    progress: bool
    num_train: int
    num_test: int
    log_likelihood: Callable[[], tuple[float, float]] | None = None

    @property
    def on_means(self) -> dict[str, Any]:
        """The arguments shared by the metrics scored on the posterior means."""
        return dict(factor_names=self.factor_names, factors=self.factors, seed=self.seed)

    @property
    def split(self) -> dict[str, int]:
        """The training and test points of the classifier-based metrics."""
        return dict(num_train=self.num_train, num_test=self.num_test)

    @property
    def examples(self) -> dict[str, int]:
        """The training and evaluation examples (votes) of the BetaVAE and FactorVAE scores."""
        return dict(num_train=self.num_train, num_eval=self.num_test)


@dataclass(frozen=True)
class Metric:
    """One metric: its name (``--metrics``), its section of ``metrics.json``, the function that
    computes its result (a dataclass with ``to_dict()``), its scores, and what it measures, with
    its range (``tcvae evaluate --help``, the report). suite: one of the wider suite, scored on
    the posterior means with disentanglement_lib's protocols and only when asked for; the
    others are the defaults. needs_factors: scored against factor labels (skipped on data
    without them). posteriors: needs the posterior log-variances as well as the means
    (skipped on codes given as means alone)."""

    name: str
    section: str
    compute: Callable[[Inputs], Any]
    scores: tuple[Score, ...]
    help: str
    suite: bool = True
    needs_factors: bool = True
    posteriors: bool = False

    def numbers(self, found: Mapping[str, Any]) -> list[tuple[Score, float, float | None]]:
        """(score, value, standard error or None) of each score with a value in ``found``, this
        metric's section of a ``metrics.json`` dict."""
        out = []
        for score in self.scores:
            value, se = found.get(score.key), found.get(f"{score.key}_stderr")
            if isinstance(value, int | float):
                out.append((score, float(value), None if se is None else float(se)))
        return out


def _decomposition(x: Inputs) -> ElboDecomposition:
    parts = decompose_elbo(
        x.mean, x.logvar, posterior=x.posterior, samples=x.samples, seed=x.seed, progress=x.progress
    )
    if x.log_likelihood is None:
        return parts
    return parts.with_log_likelihood(*x.log_likelihood())


def _mig(x: Inputs) -> MIGResult:
    return mig_falling_back(
        x.mean,
        x.logvar,
        x.classes,
        x.factor_names,
        factors=x.factors,
        posterior=x.posterior,
        entropy_estimator=x.entropy_estimator,
        samples=x.samples,
        seed=x.seed,
        progress=x.progress,
    )


def _term(key: str, headline: str | None, short: str = "") -> Score:
    """A score of the ELBO decomposition, labelled as the decomposition labels its terms."""
    return Score(key, TERM_LABELS[key], headline, short)


def _dci_scores(protocol: str, prefix: str) -> tuple[Score, ...]:
    keys = ("disentanglement", "completeness", "informativeness")
    return tuple(Score(key, f"DCI {key} ({protocol})", f"{prefix}_{key}") for key in keys)


METRICS: tuple[Metric, ...] = (
    Metric(
        "decomposition",
        "decomposition",
        _decomposition,
        (
            _term("log_likelihood", "log_px"),
            _term("elbo", "elbo"),
            _term("analytic_kl", "kl", "analytic KL"),
            _term("kl_estimate", None, "sum"),
            _term("index_code_mi", "mi", "MI"),
            _term("total_correlation", "tc", "TC"),
            _term("dimwise_kl", "dwkl", "dim-wise KL"),
        ),
        "E[log p(x|z)], index-code MI, total correlation and dimension-wise KL over the whole "
        "data set, with standard errors, and the analytic KL they must add up to",
        suite=False,
        needs_factors=False,
        posteriors=True,
    ),
    Metric(
        "mig",
        "mig",
        _mig,
        (Score("mig", "MIG (paper protocol)", "mig"),),
        "Mutual Information Gap, the paper's protocol (dSprites: scale, orientation, posX, "
        "posY); deterministic entropies by default, --entropy-estimator monte-carlo for the "
        "paper's",
        suite=False,
        posteriors=True,
    ),
    Metric(
        "mig-discrete",
        "mig_discrete",
        lambda x: mig_discrete(x.mean, x.classes, x.factor_names, factors=x.factors, seed=x.seed),
        (Score("mig_discrete", "MIG (discretised, disentanglement_lib protocol)", "mig_discrete"),),
        "discretised MIG, disentanglement_lib's protocol (not comparable with mig)",
        suite=False,
    ),
    Metric(
        "beta-vae",
        "beta_vae",
        lambda x: beta_vae_score(x.mean, x.classes, **x.examples, **x.on_means),
        (Score("beta_vae", "BetaVAE score", "beta_vae"),),
        "BetaVAE score (Higgins et al. 2017), in [0, 1], chance 1/K: accuracy of a linear "
        "classifier telling which factor a batch of pairs shares from mean |z1 - z2|",
    ),
    Metric(
        "factor-vae",
        "factor_vae",
        lambda x: factor_vae_score(x.mean, x.classes, **x.examples, **x.on_means),
        (Score("factor_vae", "FactorVAE score", "factor_vae"),),
        "FactorVAE score (Kim & Mnih 2018), in [0, 1], chance about 1/K: majority-vote accuracy "
        "of the dimension of least normalised variance when one factor is fixed",
    ),
    Metric(
        "dci",
        "dci",
        lambda x: dci(x.mean, x.classes, **x.split, **x.on_means),
        _dci_scores("reference", "dci"),
        "DCI (Eastwood & Williams 2018), each in [0, 1]: disentanglement, completeness from "
        "gradient-boosted-tree importances, informativeness = test accuracy; reference protocol "
        "(one GradientBoostingClassifier per factor: slow, minutes)",
    ),
    Metric(
        "dci-fast",
        "dci_fast",
        lambda x: dci(x.mean, x.classes, protocol="fast", **x.split, **x.on_means),
        _dci_scores("fast", "dci_fast"),
        "DCI from histogram gradient boosting (seconds; tracks dci, labelled apart)",
    ),
    Metric(
        "sap",
        "sap",
        lambda x: sap(x.mean, x.classes, **x.split, **x.on_means),
        (Score("sap", "SAP", "sap"),),
        "SAP (Kumar et al. 2018), in [0, 1]: mean gap between the two dimensions that best "
        "predict each factor (1-D linear SVM accuracy; perfect codes reach ~0.3-0.5)",
    ),
    Metric(
        "modularity",
        "modularity_explicitness",
        lambda x: modularity_explicitness(x.mean, x.classes, **x.split, **x.on_means),
        (
            Score("modularity", "modularity", "modularity"),
            Score("explicitness", "explicitness", "explicitness"),
        ),
        "modularity and explicitness (Ridgeway & Mozer 2018): does each dimension inform about "
        "one factor (in [0, 1]; uninformative codes can score high); test ROC-AUC of a logistic "
        "regression predicting each factor (in [0.5, 1]; chance 0.5)",
    ),
    Metric(
        "mig-sup",
        "mig_sup",
        lambda x: mig_sup(x.mean, x.classes, **x.on_means),
        (Score("mig_sup", "MIG-sup", "mig_sup"),),
        "MIG-sup (Li et al. 2020), in [0, 1]: per dimension, the gap between the two factors it "
        "informs most about (discretised estimates, as mig-discrete)",
    ),
)
DEFAULT_METRICS = tuple(m.name for m in METRICS if not m.suite)


def metric_named(name: str) -> Metric:
    """The row of ``METRICS`` called ``name``."""
    return {m.name: m for m in METRICS}[name]


def headline_key(metric: str, key: str) -> str:
    """The key in a sweep cell's summary row of score ``key`` of the metric called ``metric``."""
    (headline,) = [s.headline for s in metric_named(metric).scores if s.key == key]
    assert headline is not None, f"{metric}'s {key} is not a headline score"
    return headline


def metric_names(chosen: str | Sequence[str]) -> list[str]:
    """The metrics in ``chosen`` in the table's order, every one for ``"all"``; an
    :class:`EvaluationError` names the choices when one is unknown or none is given."""
    names = [m.name for m in METRICS]
    chosen = [chosen] if isinstance(chosen, str) else list(chosen)
    unknown = sorted(set(chosen) - {*names, ALL})
    if unknown or not chosen:
        raise EvaluationError(f"unknown metric(s) {unknown}; choose from {names} or {ALL!r}")
    return names if ALL in chosen else [name for name in names if name in chosen]


def computed_metrics(results: Mapping[str, Any]) -> list[tuple[Metric, Mapping[str, Any]]]:
    """(metric, its section) of every metric whose section a ``metrics.json`` dict holds."""
    sections = [(m, results.get(m.section)) for m in METRICS]
    return [(m, found) for m, found in sections if isinstance(found, Mapping)]


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
    default for MIG :func:`~tcvae.evaluation.mig.default_factors`, as :func:`mig` (the data
    set's paper set, less any factor its data holds fixed, else every factor that varies), for
    the others every factor that varies (disentanglement_lib's choice). data: score on this
    data set instead of the run's own (e.g. the full factor grid of a run trained on a biased
    sample of it). num_train, num_test: training and test points (or examples, or votes) of the
    classifier-based metrics; seed: every random draw. On data without factor labels the
    metrics that need them are skipped, with one warning.
    """
    from tcvae.training.runs import load_run

    metrics = metric_names(metrics)
    run_dir = Path(run_dir)
    run = load_run(run_dir, device=device)
    if data is None:
        data = run.dataset()
    log.info("encoding %d images of %s", len(data), data.name)
    mean, logvar = encode_dataset(run.model, data, batch_size, device, progress)
    out: dict[str, Any] = {"run_dir": str(run_dir), "dataset": data.name, "points": len(data)}
    out |= compute_metrics(
        mean,
        logvar,
        data.classes,
        list(data.factor_names),
        metrics=metrics,
        posterior=run.model.posterior.name,
        samples=samples,
        seed=seed,
        entropy_estimator=entropy_estimator,
        factors=factors,
        progress=progress,
        num_train=num_train,
        num_test=num_test,
        log_likelihood=lambda: estimate_log_likelihood(
            run.model, data, samples, seed, batch_size, device, progress
        ),
    )
    write_json_atomic(run_dir / METRICS_FILE, out)
    return out


def compute_metrics(
    mean: torch.Tensor,
    logvar: torch.Tensor | None,
    classes: torch.Tensor | None,
    factor_names: Sequence[str],
    *,
    metrics: str | Sequence[str] = DEFAULT_METRICS,
    posterior: str = "normal",
    samples: int = 10_000,
    seed: int = 0,
    entropy_estimator: str = "deterministic",
    factors: Sequence[str] | None = None,
    progress: bool = False,
    num_train: int = 10_000,
    num_test: int = 5_000,
    log_likelihood: Callable[[], tuple[float, float]] | None = None,
) -> dict[str, Any]:
    """The section of ``metrics.json`` of each metric in ``metrics``, scored on arrays.

    mean, logvar: posterior parameters (N, D) of any model (logvar None for codes given as means
    alone: the metrics marked ``posteriors`` are then skipped, with one warning); classes,
    factor_names: the factor classes (N, K) of the same points in the same order and the K
    names (None and () without factor labels: the metrics marked ``needs_factors`` are
    skipped, with one warning); posterior: the posterior family of the decomposition and MIG
    ("normal" or "laplace"); log_likelihood: computes E[log p(x|z)] (mean, standard error) for
    the decomposition's ELBO, only when it runs (None: no ELBO). The other settings are
    :func:`evaluate_run`'s. Raises :class:`EvaluationError` when every metric asked for is
    skipped.
    """
    names = metric_names(metrics)
    if classes is None:
        unusable = [m.name for m in METRICS if m.needs_factors]
        names = _skipping(names, unusable, "they need factor labels, and these points have none")
    if logvar is None:
        unusable = [m.name for m in METRICS if m.posteriors]
        names = _skipping(
            names, unusable, "they need posterior log-variances; only means are given"
        )
    if not names:
        raise EvaluationError(
            f"none of the metrics asked for can be scored on these inputs ({metric_names(metrics)} "
            "skipped above); give factor classes, log-variances, or ask for other metrics"
        )
    inputs = Inputs(
        mean=mean,
        logvar=logvar,
        classes=classes,
        factor_names=list(factor_names),
        posterior=posterior,
        factors=list(factors) if factors else None,
        samples=samples,
        seed=seed,
        entropy_estimator=entropy_estimator,
        progress=progress,
        num_train=num_train,
        num_test=num_test,
        log_likelihood=log_likelihood,
    )
    out: dict[str, Any] = {}
    for metric in METRICS:
        if metric.name in names:
            log.info("computing %s", metric.name)
            out[metric.section] = metric.compute(inputs).to_dict()
    return out


def _skipping(names: list[str], unusable: list[str], why: str) -> list[str]:
    """``names`` without the ``unusable`` metrics, with one warning naming those left out."""
    skipped = [name for name in names if name in unusable]
    if skipped:
        log.warning("skipping %s: %s", ", ".join(skipped), why)
    return [name for name in names if name not in skipped]


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
