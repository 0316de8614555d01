"""One objective for the VAE, beta-VAE and beta-TCVAE (REFERENCE.md section 2), and the baselines.

Maximised per sample (minimised as its negative batch mean):

    log p(x_i|z_i) - alpha * mi_i - beta * tc_i - gamma * dwkl_i

Presets: 'vae' (alpha = beta = gamma = 1: the ELBO), 'beta-vae' (all three = beta: the
reconstruction plus beta times the sampled KL) and 'beta-tcvae' (alpha = gamma = 1, beta free).
The baselines 'factor-vae', 'dip-vae-i', 'dip-vae-ii' and 'annealed-vae' replace the KL terms by
their own penalties (:mod:`tcvae.objectives.baselines`), with beta as their main weight; the
decomposition terms are still estimated (by MSS, whatever the training estimator) and logged for
every method, so runs compare alike.
Optional warm-ups from the reference code (REFERENCE.md section 8), both off by default:

    beta_t   = beta * min(1, t / beta_warmup_steps)
    lambda_t = max(0, lambda0 * (1 - t / lambda_warmup_steps))
    dimension-wise KL weight: gamma * (1 - lambda_t)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import torch
from torch import Tensor

from tcvae.errors import TcvaeError
from tcvae.models.distributions import Laplace, Normal
from tcvae.models.likelihoods import Bernoulli, Gaussian
from tcvae.objectives import baselines as B
from tcvae.objectives.decomposition import (
    dimwise_kl,
    elbo_terms,
    index_code_mi,
    reestimate_aggregate,
    total_correlation,
)
from tcvae.objectives.estimators import ESTIMATORS
from tcvae.options import flag_of, option

METHODS = (
    "vae",
    "beta-vae",
    "beta-tcvae",
    "factor-vae",
    "dip-vae-i",
    "dip-vae-ii",
    "annealed-vae",
)
BASELINES = ("factor-vae", "dip-vae-i", "dip-vae-ii", "annealed-vae")
# The estimator of the logged log q(z), mi, tc and dwkl, whatever the loss uses: MSS's weights sum
# to one per row, so its terms estimate the decomposition's (MWS's are off by up to D log N).
LOGGED_ESTIMATOR = "mss"


class ObjectiveError(TcvaeError):
    """An objective configuration is invalid; ``option`` names the field at fault."""

    def __init__(self, message: str, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option


DEFAULT_BETA = 6.0  # the paper's example for beta-TCVAE; every method's main weight but the VAE's
DEFAULT_LAMBDA0 = 0.95
DEFAULT_CAPACITY_MAX = 25.0  # nats
DEFAULT_CAPACITY_STEPS = 100_000
# What each baseline weighs instead of alpha and gamma, for the messages refusing them.
_BASELINE_WEIGHTS = {
    "factor-vae": "its loss is the ELBO plus --beta times the discriminator's TC estimate",
    "dip-vae-i": "its weights are --beta (lambda_od, off the diagonal of the covariance) and "
    "--dip-lambda-d (lambda_d, on it)",
    "dip-vae-ii": "its weights are --beta (lambda_od, off the diagonal of the covariance) and "
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
    """Which objective to train with, and its weights.

    Options a method does not read are refused (:class:`ObjectiveError` naming the option that
    does what was meant), so an accepted option always takes effect. Unset (None) options take
    the method's default, resolved here so that a saved config records them: ``beta`` 6 for
    every method but 'vae' (whose objective is the ELBO, every weight 1, and has no ``beta``);
    ``alpha``/``gamma`` the preset's (1 for 'vae' and 'beta-tcvae', beta for 'beta-vae'; for
    those three methods only); ``lambda0`` 0.95 when ``lambda_warmup_steps`` is set. The
    baselines replace the KL terms by their own penalties with ``beta`` as their main weight:
    FactorVAE's gamma (TC weight), DIP-VAE's lambda_od and AnnealedVAE's gamma (1000 in
    disentanglement_lib); ``dip_lambda_d`` is DIP-VAE's lambda_d (None: 10 beta for DIP-VAE-I,
    beta for DIP-VAE-II), AnnealedVAE's capacity rises to ``capacity_max`` nats (default 25)
    over ``capacity_steps`` steps (default 100,000), and FactorVAE's discriminator trains with
    Adam at ``discriminator_lr`` (default 1e-4) and ``discriminator_betas`` (default 0.5, 0.9).
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
        0, flag="--beta-warmup-steps", metavar="STEPS", help="ramp beta up from 0 over N steps"
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
        if self.method not in METHODS:
            raise ObjectiveError(
                f"unknown method {self.method!r}; choose one of {list(METHODS)}", "method"
            )
        if self.estimator not in ESTIMATORS:
            raise ObjectiveError(
                f"unknown estimator {self.estimator!r}; choose one of {list(ESTIMATORS)}",
                "estimator",
            )
        for name in ("beta", "alpha", "gamma"):
            value = getattr(self, name)
            if value is not None and not value >= 0:
                raise ObjectiveError(f"{name} must be a non-negative number, got {value!r}", name)
        for name in ("beta_warmup_steps", "lambda_warmup_steps"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ObjectiveError(
                    f"{name} must be a non-negative integer (0 turns the warm-up off), "
                    f"got {value!r}",
                    name,
                )
        if self.lambda0 is not None and not 0 <= self.lambda0 <= 1:
            raise ObjectiveError(f"lambda0 must lie in [0, 1], got {self.lambda0!r}", "lambda0")
        if self.dip_lambda_d is not None and not self.dip_lambda_d >= 0:
            raise ObjectiveError(
                f"dip_lambda_d must be >= 0, got {self.dip_lambda_d!r}", "dip_lambda_d"
            )
        if self.capacity_max is not None and not self.capacity_max >= 0:
            raise ObjectiveError(
                f"capacity_max must be >= 0 nats, got {self.capacity_max!r}", "capacity_max"
            )
        if self.capacity_steps is not None and (
            not isinstance(self.capacity_steps, int) or self.capacity_steps < 0
        ):
            raise ObjectiveError(
                f"capacity_steps must be a non-negative integer, got {self.capacity_steps!r}",
                "capacity_steps",
            )
        if self.discriminator_lr is not None and not self.discriminator_lr > 0:
            raise ObjectiveError(
                f"discriminator_lr must be a positive number, got {self.discriminator_lr!r}",
                "discriminator_lr",
            )
        if self.discriminator_betas is not None:
            betas = self.discriminator_betas
            if (
                not isinstance(betas, list | tuple)
                or len(betas) != 2
                or not all(isinstance(b, int | float) and 0 <= b < 1 for b in betas)
            ):
                raise ObjectiveError(
                    f"discriminator_betas must be two numbers in [0, 1), got {betas!r}",
                    "discriminator_betas",
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
        if self.method == "vae":
            alpha, beta, gamma = 1.0, 1.0, 1.0
        elif self.method in BASELINES:
            ramp = 1.0 if self.beta_warmup_steps == 0 else min(1.0, step / self.beta_warmup_steps)
            return 1.0, self.beta * ramp, 1.0
        else:
            ramp = 1.0 if self.beta_warmup_steps == 0 else min(1.0, step / self.beta_warmup_steps)
            beta = self.beta * ramp
            preset = beta if self.method == "beta-vae" else 1.0
            alpha, gamma = preset, preset
        alpha = alpha if self.alpha is None else self.alpha
        gamma = gamma if self.gamma is None else self.gamma
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
    if m in BASELINES:
        for name in ("alpha", "gamma"):
            if is_set(name):
                meant = _PAPER_GAMMA.get(m) if name == "gamma" else None
                unused[name] = meant or _BASELINE_WEIGHTS[m]
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


class Model(Protocol):
    """What the objective reads of a model (:class:`tcvae.models.VAE` is one)."""

    @property
    def posterior(self) -> type[Normal] | type[Laplace]: ...

    @property
    def likelihood(self) -> type[Bernoulli] | type[Gaussian]: ...


class ModelOutput(Protocol):
    """One pass of a model (:class:`tcvae.models.VAEOutput` is one): posterior parameters
    ``mean`` and ``logvar`` (B, D), the sample ``z`` (B, D), likelihood parameters ``x_params``
    (B, C, H, W)."""

    @property
    def mean(self) -> Tensor: ...

    @property
    def logvar(self) -> Tensor: ...

    @property
    def z(self) -> Tensor: ...

    @property
    def x_params(self) -> Tensor: ...


class LossResult(NamedTuple):
    """``loss``: scalar to minimise; ``terms``: detached scalar tensors for logging."""

    loss: Tensor
    terms: dict[str, Tensor]


def compute_loss(
    model: Model,
    x: Tensor,
    out: ModelOutput,
    dataset_size: int,
    config: ObjectiveConfig,
    step: int = 0,
    factor_vae: B.FactorVAE | None = None,
    components: tuple[Tensor, Tensor, int] | None = None,
) -> LossResult:
    """The objective of ``config`` for a minibatch ``x`` (B distinct points of a data set of
    ``dataset_size``) and the model's output ``out`` on it; FactorVAE also needs its
    discriminator (a :class:`tcvae.objectives.baselines.FactorVAE`, held fixed here).
    ``components``: the whole minibatch's posteriors when it is spread over processes (see
    :func:`elbo_terms`); the estimators, DIP-VAE's covariance and AnnealedVAE's mean KL are then
    over the whole minibatch, as on one process.

    terms: loss, elbo (mean ELBO), log_px, kl (analytic mean KL(q(z|x) || p(z))), mi, tc, dwkl
    (means of the section-2 terms), log_qz_x, log_qz, log_pz, and the weights alpha, beta, gamma,
    lambda in force at ``step``; FactorVAE adds tc_discriminator, AnnealedVAE capacity. Whatever
    the training estimator, the logged log_qz, mi, tc and dwkl are MSS's minibatch estimates
    (with MWS, they are computed again by MSS without gradient beside the MWS loss).
    """
    alpha, beta, gamma = config.weights(step)
    baseline = config.method in BASELINES
    if config.method == "factor-vae" and factor_vae is None:
        raise ObjectiveError(
            "factor-vae needs its discriminator: pass factor_vae=FactorVAE(D) (from "
            "tcvae.objectives)"
        )
    # The estimates of log q(z) and sum_j log q(z_j) enter the objective with weights alpha - beta
    # and beta - gamma; when both vanish (or a baseline has its own penalty) they are only logged
    # and need no gradient. What is logged is always MSS's estimate: MWS's sits log B to log N
    # below it, which shifts its mi, tc and dwkl by up to D log N (see reestimate_aggregate), so
    # an MWS loss gets MSS's terms computed beside it, without gradient, for the log.
    with_aggregate = not baseline and (alpha != beta or beta != gamma)
    estimator = config.estimator if with_aggregate else LOGGED_ESTIMATOR
    terms = elbo_terms(
        x,
        out.x_params,
        out.z,
        out.mean,
        out.logvar,
        dataset_size,
        estimator,
        model.posterior.name,
        model.likelihood.name,
        with_aggregate=with_aggregate,
        components=components,
    )
    logged = terms
    if estimator != LOGGED_ESTIMATOR:
        logged = reestimate_aggregate(
            terms,
            out.z,
            out.mean,
            out.logvar,
            dataset_size,
            LOGGED_ESTIMATOR,
            model.posterior.name,
            components,
        )
    mi = index_code_mi(terms)
    tc = total_correlation(terms)
    dwkl = dimwise_kl(terms)
    extra: dict[str, Tensor] = {}
    if baseline:
        loss, extra = _baseline_loss(model, out, terms, config, beta, step, factor_vae, components)
    else:
        loss = -(terms.log_px - alpha * mi - beta * tc - gamma * dwkl).mean()
    with torch.no_grad():
        log = {
            "loss": loss.detach(),
            "elbo": (terms.log_px - terms.log_qz_x + terms.log_pz).mean(),
            "log_px": terms.log_px.mean(),
            "kl": model.posterior.kl_to_prior(out.mean, out.logvar).sum(1).mean(),
            "mi": index_code_mi(logged).mean(),
            "tc": total_correlation(logged).mean(),
            "dwkl": dimwise_kl(logged).mean(),
            "log_qz_x": terms.log_qz_x.mean(),
            "log_qz": logged.log_qz.mean(),
            "log_pz": terms.log_pz.mean(),
        }
        for name, value in (
            ("alpha", alpha),
            ("beta", beta),
            ("gamma", gamma),
            ("lambda", config.lambda_at(step)),
        ):
            log[name] = torch.tensor(value, dtype=loss.dtype)
        log.update({k: v.detach() for k, v in extra.items()})
    return LossResult(loss, log)


def _baseline_loss(model, out, terms, config, beta, step, factor_vae, components):
    """The loss of a baseline method and its extra logged terms (see baselines). Batch statistics
    (DIP-VAE's covariance, AnnealedVAE's mean KL) are over the whole minibatch's ``components``
    when it is spread over processes; the gradient reaches every process's rows through them."""
    kl = model.posterior.kl_to_prior(out.mean, out.logvar).sum(1)  # (B,)
    mean, logvar = (out.mean, out.logvar) if components is None else components[:2]
    if config.method == "factor-vae":
        tc_d = factor_vae.tc(out.z)
        return -(terms.log_px - kl - beta * tc_d).mean(), {"tc_discriminator": tc_d.mean()}
    if config.method == "annealed-vae":
        c = B.capacity(step, config.capacity_max, config.capacity_steps)
        batch_kl = model.posterior.kl_to_prior(mean, logvar).sum(1).mean()
        loss = -terms.log_px.mean() + beta * (batch_kl - c).abs()
        return loss, {"capacity": torch.tensor(c)}
    variant = config.method.rsplit("-", 1)[1]  # 'i' or 'ii'
    lambda_d = config.dip_lambda_d
    if lambda_d is None:
        lambda_d = 10.0 * beta if variant == "i" else beta
    penalty = B.dip_penalty(B.dip_covariance(mean, logvar, variant), beta, lambda_d)
    return -(terms.log_px - kl).mean() + penalty, {"dip_penalty": penalty}
