"""The Mutual Information Gap with the paper's protocol (REFERENCE.md section 5).

    I(z_j; v_k) = H(z_j) - sum_v p(v_k = v) H(z_j | v_k = v),   clamped at >= 0
    MIG = (1/K) sum_k [I_(1)(k) - I_(2)(k)] / H(v_k)

where H(z_j) is the entropy of the 1-D mixture q(z_j) = (1/N) sum_n q(z_j | x_n) over all N
posteriors and H(z_j | v_k = v) that of the mixture over the points whose factor k has value v.

Two estimators of these 1-D mixture entropies:

* ``"deterministic"`` (default): numerical integration of each mixture density on a grid
  (:mod:`tcvae.evaluation.grid_mixture`); ``resolution`` grid points per standard deviation of the
  narrowest component set the accuracy. No sampling, so no seed dependence.
* ``"monte-carlo"``: the paper's estimator, -mean_s log q(z_s) over ``samples`` draws z_s from each
  mixture, with exact mixture densities (:mod:`tcvae.evaluation.exact_mixture`), O(S N D) per
  factor; it reports standard errors.

For the discretised variant used by later papers see :mod:`tcvae.evaluation.mig_discrete`; the two
protocols give numbers that are not comparable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from tcvae.evaluation.exact_mixture import Family, log_mixture_density_per_dim
from tcvae.evaluation.grid_mixture import DEFAULT_MAX_GRID_POINTS, DEFAULT_RESOLUTION, GridMixtures
from tcvae.evaluation.inputs import (
    ArrayLike,
    EvaluationError,
    as_factor_classes,
    as_posterior_params,
    check_counts,
    dense_labels,
    plugin_entropy,
    resolve_factors,
)
from tcvae.evaluation.results import ShownAsTables
from tcvae.models.distributions import get_distribution

# The factors each of the paper's experiments scores (shape and identity excluded): MIG's default.
PAPER_FACTORS: dict[str, tuple[str, ...]] = {
    "dsprites": ("scale", "orientation", "posX", "posY"),
    "faces": ("azimuth", "elevation", "lighting"),
}
ENTROPY_ESTIMATORS = ("deterministic", "monte-carlo")


@dataclass(frozen=True)
class MIGResult(ShownAsTables):
    """MIG and everything it is made of; arrays are numpy, entropies in nats.

    mutual_information (K, D): I(z_j; v_k); factor_entropy (K,): H(v_k); gaps (K,): normalised
    gap per factor; latent (K,): the dimension with the largest I per factor; marginal_entropy
    (D,): H(z_j); conditional_entropy (K, D): H(z_j | v_k). Standard errors (Monte Carlo only)
    follow the same shapes.
    """

    mig: float
    factor_names: tuple[str, ...]
    mutual_information: np.ndarray
    factor_entropy: np.ndarray
    gaps: np.ndarray
    latent: np.ndarray
    marginal_entropy: np.ndarray
    conditional_entropy: np.ndarray
    entropy_estimator: str
    samples: int | None = None
    seed: int | None = None
    resolution: float | None = None
    marginal_entropy_stderr: np.ndarray | None = None
    conditional_entropy_stderr: np.ndarray | None = None
    protocol: str = "mig (Chen et al. 2018: mixture entropies over all posteriors)"


def mig(
    mean: ArrayLike,
    logvar: ArrayLike,
    factor_classes: ArrayLike,
    factor_names: Sequence[str] | None = None,
    factors: Sequence[str | int] | None = None,
    posterior: str = "normal",
    entropy_estimator: str = "deterministic",
    samples: int = 10_000,
    seed: int = 0,
    resolution: float | None = None,
    max_grid_points: int = DEFAULT_MAX_GRID_POINTS,
    progress: bool = False,
) -> MIGResult:
    """Mutual Information Gap of posteriors q(z|x_n) = family(mean_n, exp(logvar_n)).

    mean, logvar: (N, D); factor_classes: (N, K) integer classes of each point's factors;
    factors: names or column indices to score, default :func:`default_factors` (the data set's
    paper factors, else every factor that varies; ``tcvae evaluate`` and ``tcvae score`` use
    the same default); samples, seed: Monte Carlo only; resolution: grid points per narrowest
    standard deviation (deterministic only; default 4 for Normal, 16 for Laplace posteriors).
    """
    mean, logvar = as_posterior_params(mean, logvar)
    n, d = mean.shape
    if d < 2:
        raise EvaluationError(
            "MIG compares the two most informative latent dimensions, so it needs D >= 2, "
            f"got D={d}; score a representation with at least two dimensions"
        )
    classes = as_factor_classes(factor_classes, n)
    if factors is None:
        factors = default_factors(factor_names, classes)
    columns, names = resolve_factors(classes, factor_names, factors)
    try:
        family = get_distribution(posterior)
    except ValueError as err:
        raise EvaluationError(str(err)) from None
    groups = [dense_labels(classes[:, k]) for k in columns]

    if entropy_estimator == "deterministic":
        resolution = DEFAULT_RESOLUTION[family.name] if resolution is None else float(resolution)
        h_marginal, h_conditional = _grid_entropies(
            mean, logvar, groups, family, resolution, max_grid_points, progress
        )
        se_marginal = se_conditional = None
        samples_used = seed_used = None
    elif entropy_estimator == "monte-carlo":
        (samples_used,) = check_counts(samples=(samples, 2))
        h_marginal, h_conditional, se_marginal, se_conditional = _monte_carlo_entropies(
            mean, logvar, groups, family, samples_used, seed, progress
        )
        seed_used, resolution = int(seed), None
    else:
        raise EvaluationError(
            f"unknown entropy_estimator {entropy_estimator!r}; choose one of {ENTROPY_ESTIMATORS}"
        )

    factor_entropy = torch.stack([plugin_entropy(counts) for _, counts in groups])
    info = (h_marginal.unsqueeze(0) - h_conditional).clamp_min(0.0)  # (K, D)
    top = info.topk(2, dim=1)
    gaps = (top.values[:, 0] - top.values[:, 1]) / factor_entropy
    return MIGResult(
        mig=float(gaps.mean()),
        factor_names=tuple(names),
        mutual_information=info.numpy(),
        factor_entropy=factor_entropy.numpy(),
        gaps=gaps.numpy(),
        latent=top.indices[:, 0].numpy(),
        marginal_entropy=h_marginal.numpy(),
        conditional_entropy=h_conditional.numpy(),
        entropy_estimator=entropy_estimator,
        samples=samples_used,
        seed=seed_used,
        resolution=resolution,
        marginal_entropy_stderr=None if se_marginal is None else se_marginal.numpy(),
        conditional_entropy_stderr=None if se_conditional is None else se_conditional.numpy(),
    )


def default_factors(factor_names: Sequence[str] | None, classes: Tensor) -> list[str] | None:
    """MIG's default factors: the paper's set for the data set these factors come from (the
    first ``PAPER_FACTORS`` set whose names are all in ``factor_names``) less any factor that
    takes a single value in ``classes`` (N, K); None, meaning every factor that varies, where
    no set matches or none of its factors varies.

    The paper scores dSprites on scale, orientation, posX and posY and 3D faces on azimuth,
    elevation and lighting, leaving out the categorical shape and identity (REFERENCE.md
    section 5): scoring the same factors by default keeps "MIG (paper protocol)" comparable
    with its tables. Other data sets get disentanglement_lib's choice, every varying factor.
    """
    names = [str(name) for name in factor_names or ()]
    if len(names) != classes.shape[1]:
        return None  # resolve_factors reports the mismatch
    for paper in PAPER_FACTORS.values():
        if set(paper) <= set(names):
            varying = [f for f in paper if classes[:, names.index(f)].unique().numel() > 1]
            return varying or None
    return None


def _grid_entropies(
    mean: Tensor,
    logvar: Tensor,
    groups: list[tuple[Tensor, Tensor]],
    family: Family,
    resolution: float,
    max_grid_points: int,
    progress: bool,
) -> tuple[Tensor, Tensor]:
    """H(z_j) (D,) and H(z_j | v_k) (K, D) by numerical integration, one grid per dimension.

    The marginal density is sum_v p_v q(z_j | v) of the first factor's conditional densities, so
    it costs no extra deposit.
    """
    d = mean.shape[1]
    var = logvar.exp()
    h_marginal = torch.empty(d, dtype=torch.float64)
    h_conditional = torch.empty(len(groups), d, dtype=torch.float64)
    for j in tqdm(range(d), disable=not progress, desc="MIG (deterministic)"):
        mixtures = GridMixtures(mean[:, j], var[:, j], family, resolution, max_grid_points)
        for i, (labels, counts) in enumerate(groups):
            p = counts.to(torch.float64) / counts.sum()
            density = mixtures.densities(labels, counts.numel())
            h_conditional[i, j] = (p * mixtures.entropy(density)).sum()
            if i == 0:
                h_marginal[j] = mixtures.entropy(p @ density)
    return h_marginal, h_conditional


def _monte_carlo_entropies(
    mean: Tensor,
    logvar: Tensor,
    groups: list[tuple[Tensor, Tensor]],
    family: Family,
    samples: int,
    seed: int,
    progress: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """H(z_j), H(z_j | v_k) and their standard errors from ``samples`` draws per mixture.

    A draw picks a member n of the mixture uniformly and samples z ~ q(z | x_n) in all D
    dimensions at once; each dimension's entropy is -mean_s log q(z_sj | mixture).
    """
    generator = torch.Generator().manual_seed(int(seed))
    n, d = mean.shape
    mixtures = [torch.arange(n)]
    for labels, counts in groups:
        order = torch.argsort(labels, stable=True)
        mixtures.extend(order.split(counts.tolist()))
    entropy = torch.empty(len(mixtures), d, dtype=torch.float64)
    stderr = torch.empty(len(mixtures), d, dtype=torch.float64)
    for m, members in enumerate(tqdm(mixtures, disable=not progress, desc="MIG (Monte Carlo)")):
        pick = members[torch.randint(members.numel(), (samples,), generator=generator)]
        z = family.rsample(mean[pick], logvar[pick], generator)
        neg_log_q = -log_mixture_density_per_dim(z, mean[members], logvar[members], family)
        entropy[m] = neg_log_q.mean(0)
        stderr[m] = neg_log_q.std(0) / math.sqrt(samples)
    sizes = [counts.numel() for _, counts in groups]
    h_conditional, se_conditional = [], []
    for (_, counts), h, se in zip(groups, entropy[1:].split(sizes), stderr[1:].split(sizes)):
        p = counts.to(torch.float64) / counts.sum()
        h_conditional.append(p @ h)
        se_conditional.append((p.pow(2) @ se.pow(2)).sqrt())
    return entropy[0], torch.stack(h_conditional), stderr[0], torch.stack(se_conditional)
