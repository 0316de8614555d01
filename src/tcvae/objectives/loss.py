"""One objective for the VAE, beta-VAE and beta-TCVAE (REFERENCE.md section 2), and the baselines.

Maximised per sample (minimised as its negative batch mean):

    log p(x_i|z_i) - alpha * mi_i - beta * tc_i - gamma * dwkl_i

Presets: 'vae' (alpha = beta = gamma = 1: the ELBO), 'beta-vae' (all three = beta: the
reconstruction plus beta times the sampled KL) and 'beta-tcvae' (alpha = gamma = 1, beta free).
The baselines 'factor-vae', 'dip-vae-i', 'dip-vae-ii' and 'annealed-vae' replace the KL terms by
their own penalties (:mod:`tcvae.objectives.baselines`), with beta as their main weight; the
decomposition terms are still estimated (by MSS, whatever the training estimator) and logged for
every method, so runs compare alike.

One function per method takes per-sample tensors and returns the loss (``beta_tcvae_loss``,
``beta_vae_loss``, ``factor_vae_loss``, ``dip_vae_loss``, ``annealed_vae_loss``): a model of
one's own can be trained with them and :func:`~tcvae.objectives.decomposition.elbo_terms`.
:func:`compute_loss` picks the method of an :class:`ObjectiveConfig` and returns the loss with
the terms the trainer logs.
Optional warm-ups from the reference code (REFERENCE.md section 8), both off by default:

    beta_t   = beta_start + (beta - beta_start) * min(1, t / beta_warmup_steps)

(beta_start defaults to 0, a warm-up; above beta it makes the weight decay to beta instead.)
    lambda_t = max(0, lambda0 * (1 - t / lambda_warmup_steps))
    dimension-wise KL weight: gamma * (1 - lambda_t)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import Tensor

from tcvae.models.distributions import get_distribution
from tcvae.models.likelihoods import Bernoulli, Gaussian, get_likelihood
from tcvae.objectives import baselines as B
from tcvae.objectives.decomposition import (
    Components,
    ElboTerms,
    Posterior,
    dimwise_kl,
    elbo_terms_pair,
    index_code_mi,
    total_correlation,
)
from tcvae.objectives.estimators import ESTIMATORS, EstimatorError
from tcvae.options import (
    OptionError,
    check_choices,
    check_fields,
    flag_of,
    non_negative_int,
    non_negative_number,
    option,
    positive_number,
    require,
    unset_or,
)

BASELINES = ("factor-vae", "dip-vae-i", "dip-vae-ii", "annealed-vae")
METHODS = ("vae", "beta-vae", "beta-tcvae", *BASELINES)
# The estimator of the logged log q(z), mi, tc and dwkl, whatever the loss uses. MSS's weights sum
# to one per row, and its sums are unbiased estimates of q(z_i) and q(z_ij). MWS's sum to 1/N, so
# its log q(z_i) and each log q(z_ij) lie between log B and log N nats below MSS's (log N where
# the other points dominate the sum, as in the 1-D marginals; log B where the sample's own
# posterior does): its mi comes out too high by that much, its dwkl too low by about D log N and
# its tc too high by up to (D - 1) log N. An MWS loss therefore logs MSS's terms, computed beside
# it without gradient.
LOGGED_ESTIMATOR = "mss"


class ObjectiveError(OptionError):
    """An objective configuration is invalid; ``option`` names the field at fault."""


DEFAULT_BETA = 6.0  # the paper's example for beta-TCVAE; every method's main weight but the VAE's
DEFAULT_LAMBDA0 = 0.95
DEFAULT_CAPACITY_MAX = 25.0  # nats
DEFAULT_CAPACITY_STEPS = 100_000
# What each baseline weighs instead of alpha and gamma, for the messages refusing them.
_BASELINE_WEIGHTS = {
    "factor-vae": "its loss is the ELBO plus --beta times the discriminator's TC estimate",
    "dip-vae": "its weights are --beta (lambda_od, off the diagonal of the covariance) and "
    "--dip-lambda-d (lambda_d, on it)",
    "annealed-vae": "its loss is the reconstruction plus --beta times |KL - C|, the capacity C "
    "rising to --capacity-max over --capacity-steps",
}
# A baseline's name for --beta where its paper calls it gamma.
_PAPER_GAMMA = {
    "factor-vae": "factor-vae's TC weight (its paper's gamma) is --beta",
    "annealed-vae": "annealed-vae's weight on |KL - C| (its paper's gamma) is --beta",
}


def parse_betas(text: str) -> tuple[float, float]:
    """'0.5,0.9' -> (0.5, 0.9) (the --discriminator-betas flag)."""
    try:
        b1, b2 = (float(v) for v in text.split(","))
    except ValueError:
        raise ObjectiveError(
            f"--discriminator-betas expects two numbers B1,B2 such as 0.5,0.9, got {text!r}"
        ) from None
    return b1, b2


@dataclass(frozen=True)
class ObjectiveConfig:
    """Which objective to train with, and its weights (each field's help says what it does).

    Options a method does not read are refused (:class:`ObjectiveError` naming the option that
    does what was meant), so an accepted option always takes effect. Unset (None) options take
    the method's default, resolved here so that a saved config records them; ``alpha``/``gamma``
    default to the preset's (1 for 'vae' and 'beta-tcvae', beta for 'beta-vae') at each step.
    """

    method: str = option(
        "beta-tcvae",
        flag="--method",
        choices=METHODS,
        help="objective: beta-tcvae (default), beta-vae, vae, or the baselines factor-vae, "
        "dip-vae-i, dip-vae-ii, annealed-vae (--beta is their main weight: FactorVAE's and "
        "AnnealedVAE's gamma, DIP-VAE's lambda_od)",
    )
    beta: float | None = option(
        None,
        flag="--beta",
        help="the method's main weight (default 6): of the total correlation (beta-TCVAE), of "
        "the whole KL (beta-VAE), of the baselines' penalties; vae has none",
    )
    alpha: float | None = option(
        None,
        flag="--alpha",
        help="weight of the index-code mutual information (vae, beta-vae, beta-tcvae; default "
        "per method)",
    )
    gamma: float | None = option(
        None,
        flag="--gamma",
        help="weight of the dimension-wise KL (vae, beta-vae, beta-tcvae; default per method)",
    )
    estimator: str = option(
        "mws",
        flag="--estimator",
        choices=ESTIMATORS,
        help="minibatch estimator of log q(z): mws (weighted, biased; the paper's default) or "
        "mss (stratified, unbiased)",
    )
    beta_warmup_steps: int = option(
        0,
        flag="--beta-warmup-steps",
        metavar="STEPS",
        help="ramp beta linearly from --beta-start to --beta over N steps",
    )
    beta_start: float | None = option(
        None,
        flag="--beta-start",
        metavar="B",
        help="beta at step 0 of the --beta-warmup-steps ramp (default 0, a warm-up; above --beta, "
        "a strong penalty early that decays to --beta)",
    )
    lambda_warmup_steps: int = option(
        0,
        flag="--lambda-warmup-steps",
        metavar="STEPS",
        help="anneal the lambda weight over N steps (vae, beta-vae, beta-tcvae)",
    )
    lambda0: float | None = option(
        None,
        flag="--lambda0",
        help="initial value of the annealed lambda weight (default 0.95; with "
        "--lambda-warmup-steps)",
    )
    dip_lambda_d: float | None = option(
        None,
        flag="--dip-lambda-d",
        help="DIP-VAE's weight on the diagonal of the covariance (default 10 beta for "
        "dip-vae-i, beta for dip-vae-ii)",
    )
    capacity_max: float | None = option(
        None,
        flag="--capacity-max",
        metavar="NATS",
        help="AnnealedVAE's final KL capacity (default 25)",
    )
    capacity_steps: int | None = option(
        None,
        flag="--capacity-steps",
        metavar="STEPS",
        help="AnnealedVAE: steps over which the capacity rises from 0 (default 100000)",
    )
    discriminator_lr: float | None = option(
        None,
        flag="--discriminator-lr",
        help="FactorVAE: Adam learning rate of the discriminator (default 1e-4, the paper's)",
    )
    discriminator_betas: tuple[float, float] | None = option(
        None,
        flag="--discriminator-betas",
        metavar="B1,B2",
        parse=parse_betas,
        help="FactorVAE: Adam betas of the discriminator (default 0.5,0.9, the paper's)",
    )

    def __post_init__(self) -> None:
        check_choices(self, ObjectiveError)
        steps = "must be a non-negative integer"
        rules = {
            "beta": (unset_or(non_negative_number), "must be a non-negative number"),
            "alpha": (unset_or(non_negative_number), "must be a non-negative number"),
            "gamma": (unset_or(non_negative_number), "must be a non-negative number"),
            "beta_warmup_steps": (non_negative_int, f"{steps} (0 turns the warm-up off)"),
            "beta_start": (unset_or(non_negative_number), "must be a non-negative number"),
            "lambda_warmup_steps": (non_negative_int, f"{steps} (0 turns the warm-up off)"),
            "lambda0": (unset_or(lambda v: 0 <= v <= 1), "must lie in [0, 1]"),
            "dip_lambda_d": (unset_or(non_negative_number), "must be >= 0"),
            "capacity_max": (unset_or(non_negative_number), "must be >= 0 nats"),
            "capacity_steps": (unset_or(non_negative_int), steps),
            "discriminator_lr": (unset_or(positive_number), "must be a positive number"),
        }
        check_fields(self, rules, ObjectiveError)
        betas = self.discriminator_betas
        if betas is not None:
            require(
                isinstance(betas, list | tuple)
                and len(betas) == 2
                and all(isinstance(b, int | float) and 0 <= b < 1 for b in betas),
                "discriminator_betas",
                f"must be two numbers in [0, 1), got {betas!r}",
                ObjectiveError,
            )
            object.__setattr__(self, "discriminator_betas", tuple(float(b) for b in betas))
        self._refuse_unused()
        self._resolve_defaults()

    def _refuse_unused(self) -> None:
        """Raise :class:`ObjectiveError` for an option set that ``method`` does not read."""
        for name, why in unused_options(dataclasses.asdict(self)).items():
            flag = flag_of(ObjectiveConfig, name)
            raise ObjectiveError(f"{self.method} does not use {flag}: {why}", name)

    def _resolve_defaults(self) -> None:
        """Fill in the method's defaults for the unset options it reads."""
        m = self.method
        defaults: dict[str, Any] = {}
        if m != "vae":
            defaults["beta"] = DEFAULT_BETA
        if self.lambda_warmup_steps:
            defaults["lambda0"] = DEFAULT_LAMBDA0
        if m == "annealed-vae":
            defaults["capacity_max"] = DEFAULT_CAPACITY_MAX
            defaults["capacity_steps"] = DEFAULT_CAPACITY_STEPS
        if m == "factor-vae":
            defaults.update(
                discriminator_lr=B.DISCRIMINATOR_LR, discriminator_betas=B.DISCRIMINATOR_BETAS
            )
        for name, value in defaults.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)

    def lambda_at(self, step: int) -> float:
        """lambda_t of the reference code's dimension-wise KL warm-up (0 when it is off)."""
        if self.lambda_warmup_steps == 0:
            return 0.0
        return max(0.0, self.lambda0 * (1.0 - step / self.lambda_warmup_steps))

    def weights(self, step: int = 0) -> tuple[float, float, float]:
        """(alpha, beta, gamma) at training step ``step``, warm-ups applied (for the baselines,
        beta is their main weight and alpha = gamma = 1 are only logged)."""
        ramp = 1.0 if self.beta_warmup_steps == 0 else min(1.0, step / self.beta_warmup_steps)
        start = self.beta_start or 0.0
        beta = 1.0 if self.method == "vae" else start + (self.beta - start) * ramp
        if self.method in BASELINES:
            return 1.0, beta, 1.0
        preset = beta if self.method == "beta-vae" else 1.0
        alpha = preset if self.alpha is None else self.alpha
        gamma = preset if self.gamma is None else self.gamma
        return alpha, beta, gamma * (1.0 - self.lambda_at(step))


def unused_options(values: dict[str, Any]) -> dict[str, str]:
    """{option: why} for each option of ``values`` (:class:`ObjectiveConfig` fields) that is set
    but not read by ``values["method"]``; why names the option that does what was meant."""
    m = values.get("method", "beta-tcvae")
    unused: dict[str, str] = {}

    def is_set(name: str) -> bool:
        if name.endswith("_warmup_steps"):
            return bool(values.get(name))  # 0 turns a warm-up off
        return values.get(name) is not None

    if m == "vae" and is_set("beta"):
        unused["beta"] = (
            "its objective is the ELBO, every weight 1; to weight the KL use --method beta-vae "
            "(the whole KL) or beta-tcvae (the total correlation) with --beta"
        )
    if m == "vae" and is_set("beta_warmup_steps"):
        unused["beta_warmup_steps"] = "its objective is the ELBO and has no beta to warm up"
    if m == "vae" and is_set("beta_start"):
        unused["beta_start"] = "its objective is the ELBO and has no beta to ramp"
    if is_set("beta_start") and not is_set("beta_warmup_steps"):
        unused["beta_start"] = "it is the start of the beta ramp; set --beta-warmup-steps"
    if m in BASELINES:
        for name in ("alpha", "gamma"):
            if is_set(name):
                meant = _PAPER_GAMMA.get(m) if name == "gamma" else None
                unused[name] = meant or _BASELINE_WEIGHTS[m.split("-vae")[0] + "-vae"]
        if is_set("lambda_warmup_steps"):
            unused["lambda_warmup_steps"] = (
                "it has no dimension-wise KL weight to anneal (that warm-up is for vae, beta-vae "
                "and beta-tcvae); --beta-warmup-steps ramps its main weight"
            )
    if is_set("lambda0") and not is_set("lambda_warmup_steps"):
        unused["lambda0"] = "it is the start of the lambda warm-up; set --lambda-warmup-steps"
    if not m.startswith("dip-vae") and is_set("dip_lambda_d"):
        unused["dip_lambda_d"] = "it is DIP-VAE's diagonal weight (dip-vae-i, dip-vae-ii)"
    for name in ("capacity_max", "capacity_steps"):
        if m != "annealed-vae" and is_set(name):
            unused[name] = "it sets AnnealedVAE's capacity schedule (annealed-vae)"
    for name in ("discriminator_lr", "discriminator_betas"):
        if m != "factor-vae" and is_set(name):
            unused[name] = "it trains FactorVAE's discriminator (factor-vae)"
    return unused


class LossResult(NamedTuple):
    """``loss``: scalar to minimise; ``terms``: detached scalar tensors for logging."""

    loss: Tensor
    terms: dict[str, Tensor]


# One function per method: per-sample tensors of a minibatch in, the scalar to minimise out.
# log_px (B,) is log p(x_i|z_i); kl (B,) the analytic KL(q(z|x_i) || p(z)) summed over dims.


def beta_tcvae_loss(
    log_px: Tensor, terms: ElboTerms, beta: float, alpha: float = 1.0, gamma: float = 1.0
) -> Tensor:
    """-mean_i (log p(x_i|z_i) - alpha mi_i - beta tc_i - gamma dwkl_i) (REFERENCE.md section 2),
    ``terms`` from :func:`~tcvae.objectives.decomposition.elbo_terms` at the same samples; with
    alpha = beta = gamma = 1, the negative ELBO (the VAE's loss)."""
    mi, tc, dwkl = index_code_mi(terms), total_correlation(terms), dimwise_kl(terms)
    return -(log_px - alpha * mi - beta * tc - gamma * dwkl).mean()


def beta_vae_loss(log_px: Tensor, terms: ElboTerms, beta: float) -> Tensor:
    """-mean_i (log p(x_i|z_i) - beta (log q(z_i|x_i) - log p(z_i))): every weight beta, so the
    estimates of log q(z) in ``terms`` cancel and need no gradient (``aggregate_grad=False``)."""
    return beta_tcvae_loss(log_px, terms, beta, beta, beta)


def factor_vae_loss(log_px: Tensor, kl: Tensor, tc: Tensor, beta: float) -> Tensor:
    """-mean_i (log p(x_i|z_i) - KL_i - beta tc_i), tc (B,) the discriminator's density-ratio
    estimate at z_i (:meth:`~tcvae.objectives.baselines.FactorVAE.tc`; Kim & Mnih 2018, eq. 2)."""
    return -(log_px - kl - beta * tc).mean()


def dip_vae_loss(log_px: Tensor, kl: Tensor, penalty: Tensor) -> Tensor:
    """-mean_i (log p(x_i|z_i) - KL_i) + penalty, the penalty on the minibatch's covariance of
    :func:`~tcvae.objectives.baselines.dip_penalty` (Kumar et al. 2018, eqs. 6-7)."""
    return -(log_px - kl).mean() + penalty


def annealed_vae_loss(log_px: Tensor, kl: Tensor, capacity: float, beta: float) -> Tensor:
    """-mean_i log p(x_i|z_i) + beta |mean_i KL_i - C|, the capacity C in nats
    (:func:`~tcvae.objectives.baselines.capacity`; Burgess et al. 2018, eq. 8)."""
    batch_kl = kl.mean()
    return -log_px.mean() + beta * (batch_kl - capacity).abs()


def compute_loss(
    config: ObjectiveConfig,
    x: Tensor,
    x_params: Tensor,
    z: Tensor,
    mean: Tensor,
    logvar: Tensor,
    *,
    dataset_size: int,
    step: int = 0,
    posterior: Posterior = "normal",
    likelihood: str | type[Bernoulli] | type[Gaussian] = "bernoulli",
    factor_vae: B.FactorVAE | None = None,
    components: Components | None = None,
) -> LossResult:
    """The loss of ``config``'s method at training step ``step``, and the terms to log.

    ``x`` (B, C, H, W): a minibatch of B distinct points of a data set of ``dataset_size``;
    ``x_params``: the decoder's output for them (parameters of ``likelihood``, 'bernoulli' or
    'gaussian' or its class); ``z`` (B, D): samples from the posteriors ``mean``, ``logvar``
    (B, D) of ``posterior`` ('normal' or 'laplace' or its class). FactorVAE also needs its
    discriminator ``factor_vae`` (held fixed here). ``components=(mean, logvar, start)``: the
    whole minibatch's posteriors when it is spread over processes (see
    :func:`~tcvae.objectives.decomposition.elbo_terms`); the estimators, DIP-VAE's covariance
    and AnnealedVAE's mean KL are then over the whole minibatch, as on one process.

    terms: loss, elbo (mean ELBO), log_px, kl (analytic mean KL(q(z|x) || p(z))), mi, tc, dwkl
    (means of the section-2 terms), log_qz_x, log_qz, log_pz, and the weights alpha, beta, gamma,
    lambda in force at ``step``; FactorVAE adds tc_discriminator, DIP-VAE dip_penalty and
    AnnealedVAE capacity. Whatever the training estimator, the logged log_qz, mi, tc and dwkl
    are MSS's minibatch estimates (``LOGGED_ESTIMATOR``).
    """
    if x.shape != x_params.shape:
        raise EstimatorError(
            f"decoder output has shape {tuple(x_params.shape)} but the images have shape "
            f"{tuple(x.shape)}; they must match"
        )
    if x.shape[0] != z.shape[0]:
        raise EstimatorError(
            f"images have batch size {x.shape[0]} but z has {z.shape[0]}; pass one minibatch"
        )
    method = config.method
    if method == "factor-vae" and factor_vae is None:
        raise ObjectiveError(
            "factor-vae needs its discriminator: pass factor_vae=FactorVAE(D) (from "
            "tcvae.objectives)"
        )
    family = get_distribution(posterior)
    observation = get_likelihood(likelihood) if isinstance(likelihood, str) else likelihood
    alpha, beta, gamma = config.weights(step)
    # log q(z) and sum_j log q(z_j) enter the objective with weights alpha - beta and
    # beta - gamma; when both vanish (or a baseline has its own penalty) they are only logged,
    # need no gradient and are estimated by the logged estimator alone.
    aggregate_grad = method not in BASELINES and (alpha != beta or beta != gamma)
    estimator = config.estimator if aggregate_grad else LOGGED_ESTIMATOR
    log_px = observation.log_likelihood(x, x_params)
    # the logged estimator's terms come from the same pass, without gradient
    terms, logged = elbo_terms_pair(
        z,
        mean,
        logvar,
        dataset_size,
        estimator,
        LOGGED_ESTIMATOR,
        family,
        components=components,
        aggregate_grad=aggregate_grad,
    )
    kl = family.kl_to_prior(mean, logvar).sum(1)
    # DIP-VAE's covariance and AnnealedVAE's mean KL are statistics of the whole minibatch.
    whole = (mean, logvar) if components is None else components[:2]
    extra: dict[str, Tensor] = {}
    if method == "factor-vae":
        tc = factor_vae.tc(z)
        loss, extra = factor_vae_loss(log_px, kl, tc, beta), {"tc_discriminator": tc.mean()}
    elif method == "annealed-vae":
        c = B.capacity(step, config.capacity_max, config.capacity_steps)
        batch_kl = kl if components is None else family.kl_to_prior(*whole).sum(1)
        loss, extra = annealed_vae_loss(log_px, batch_kl, c, beta), {"capacity": torch.tensor(c)}
    elif method.startswith("dip-vae"):
        variant = method.rsplit("-", 1)[1]  # 'i' or 'ii'
        lambda_d = config.dip_lambda_d
        if lambda_d is None:
            lambda_d = 10.0 * beta if variant == "i" else beta
        penalty = B.dip_penalty(B.dip_covariance(*whole, variant), beta, lambda_d)
        loss, extra = dip_vae_loss(log_px, kl, penalty), {"dip_penalty": penalty}
    else:
        loss = beta_tcvae_loss(log_px, terms, beta, alpha, gamma)
    with torch.no_grad():
        log_pz = terms.log_pzj.sum(1)
        log = {
            "loss": loss.detach(),
            "elbo": (log_px - terms.log_qz_x + log_pz).mean(),
            "log_px": log_px.mean(),
            "kl": kl.mean(),
            "mi": index_code_mi(logged).mean(),
            "tc": total_correlation(logged).mean(),
            "dwkl": dimwise_kl(logged).mean(),
            "log_qz_x": terms.log_qz_x.mean(),
            "log_qz": logged.log_qz.mean(),
            "log_pz": log_pz.mean(),
        }
        weights = {"alpha": alpha, "beta": beta, "gamma": gamma, "lambda": config.lambda_at(step)}
        log.update({k: torch.tensor(v, dtype=loss.dtype) for k, v in weights.items()})
        log.update({k: v.detach() for k, v in extra.items()})
    return LossResult(loss, log)
