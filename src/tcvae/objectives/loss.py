"""One objective for the VAE, beta-VAE and beta-TCVAE (REFERENCE.md section 2), and the baselines.

Maximised per sample (minimised as its negative batch mean):

    log p(x_i|z_i) - alpha * mi_i - beta * tc_i - gamma * dwkl_i

Presets: 'vae' (alpha = beta = gamma = 1: the ELBO), 'beta-vae' (all three = beta: the
reconstruction plus beta times the sampled KL) and 'beta-tcvae' (alpha = gamma = 1, beta free).
The baselines 'factor-vae', 'dip-vae-i', 'dip-vae-ii' and 'annealed-vae' replace the KL terms by
their own penalties (:mod:`tcvae.objectives.baselines`), with beta as their main weight; the
decomposition terms are still estimated and logged for every method, so runs compare alike.
Optional warm-ups from the reference code (REFERENCE.md section 8), both off by default:

    beta_t   = beta * min(1, t / beta_warmup_steps)
    lambda_t = max(0, lambda0 * (1 - t / lambda_warmup_steps))
    dimension-wise KL weight: gamma * (1 - lambda_t)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Protocol

import torch
from torch import Tensor, nn

from tcvae.errors import TcvaeError
from tcvae.models.distributions import Laplace, Normal
from tcvae.models.likelihoods import Bernoulli, Gaussian
from tcvae.objectives import baselines as B
from tcvae.objectives.decomposition import (
    dimwise_kl,
    elbo_terms,
    index_code_mi,
    total_correlation,
)
from tcvae.objectives.estimators import ESTIMATORS
from tcvae.options import option

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


class ObjectiveError(TcvaeError):
    """An objective configuration is invalid; ``option`` names the field at fault."""

    def __init__(self, message: str, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option


@dataclass(frozen=True)
class ObjectiveConfig:
    """Which objective to train with; ``alpha``/``gamma`` = None take the method's preset value.

    For 'vae' every weight defaults to 1 and ``beta`` is not used. For the baselines ``beta``
    is FactorVAE's gamma (TC weight), DIP-VAE's lambda_od, and AnnealedVAE's gamma (1000 in
    disentanglement_lib); ``dip_lambda_d`` is DIP-VAE's lambda_d (default 10 beta for DIP-VAE-I,
    beta for DIP-VAE-II), and AnnealedVAE's capacity rises to ``capacity_max`` nats over
    ``capacity_steps`` steps.
    """

    method: str = option(
        "beta-tcvae",
        flag="--method",
        choices=METHODS,
        help="objective: beta-tcvae (default), beta-vae, vae, or the baselines factor-vae, "
        "dip-vae-i, dip-vae-ii, annealed-vae (--beta is their main weight: FactorVAE's and "
        "AnnealedVAE's gamma, DIP-VAE's lambda_od)",
    )
    beta: float = option(
        6.0,
        flag="--beta",
        help="weight of the total correlation (beta-TCVAE) or of the whole KL (beta-VAE)",
    )
    alpha: float | None = option(
        None,
        flag="--alpha",
        help="weight of the index-code mutual information (default per method)",
    )
    gamma: float | None = option(
        None, flag="--gamma", help="weight of the dimension-wise KL (default per method)"
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
        help="anneal the lambda weight over N steps",
    )
    lambda0: float = option(
        0.95, flag="--lambda0", help="initial value of the annealed lambda weight"
    )
    dip_lambda_d: float | None = option(
        None,
        flag="--dip-lambda-d",
        help="DIP-VAE's weight on the diagonal of the covariance (default 10 beta for "
        "dip-vae-i, beta for dip-vae-ii)",
    )
    capacity_max: float = option(
        25.0, flag="--capacity-max", metavar="NATS", help="AnnealedVAE's final KL capacity"
    )
    capacity_steps: int = option(
        100_000,
        flag="--capacity-steps",
        metavar="STEPS",
        help="AnnealedVAE: steps over which the capacity rises from 0 (default 100000)",
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
        if not 0 <= self.lambda0 <= 1:
            raise ObjectiveError(f"lambda0 must lie in [0, 1], got {self.lambda0!r}", "lambda0")
        if self.dip_lambda_d is not None and not self.dip_lambda_d >= 0:
            raise ObjectiveError(
                f"dip_lambda_d must be >= 0, got {self.dip_lambda_d!r}", "dip_lambda_d"
            )
        if not self.capacity_max >= 0:
            raise ObjectiveError(
                f"capacity_max must be >= 0 nats, got {self.capacity_max!r}", "capacity_max"
            )
        if not isinstance(self.capacity_steps, int) or self.capacity_steps < 0:
            raise ObjectiveError(
                f"capacity_steps must be a non-negative integer, got {self.capacity_steps!r}",
                "capacity_steps",
            )

    def lambda_at(self, step: int) -> float:
        """lambda_t of the reference code's dimension-wise KL warm-up (0 when it is off)."""
        if self.lambda_warmup_steps == 0:
            return 0.0
        return max(0.0, self.lambda0 * (1.0 - step / self.lambda_warmup_steps))

    def weights(self, step: int = 0) -> tuple[float, float, float]:
        """(alpha, beta, gamma) at training step ``step``, warm-ups applied."""
        if self.method == "vae":
            alpha, beta, gamma = 1.0, 1.0, 1.0
        elif self.method in BASELINES:  # their own penalties; beta is their main weight
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
    discriminator: nn.Module | None = None,
    components: tuple[Tensor, Tensor, int] | None = None,
) -> LossResult:
    """The objective of ``config`` for a minibatch ``x`` (B distinct points of a data set of
    ``dataset_size``) and the model's output ``out`` on it; FactorVAE also needs its
    ``discriminator`` (:func:`auxiliary_network`). ``components``: the whole minibatch's
    posteriors when it is spread over processes (see :func:`elbo_terms`).

    terms: loss, elbo (mean ELBO), log_px, kl (analytic mean KL(q(z|x) || p(z))), mi, tc, dwkl
    (means of the section-2 terms), log_qz_x, log_qz, log_pz, and the weights alpha, beta, gamma,
    lambda in force at ``step``; FactorVAE adds tc_discriminator, AnnealedVAE capacity.
    """
    alpha, beta, gamma = config.weights(step)
    baseline = config.method in BASELINES
    if config.method == "factor-vae" and discriminator is None:
        raise ObjectiveError(
            "factor-vae needs its discriminator: pass discriminator=auxiliary_network(config, D)"
        )
    # The estimates of log q(z) and sum_j log q(z_j) enter the objective with weights alpha - beta
    # and beta - gamma; when both vanish (or a baseline has its own penalty) they are only logged
    # and need no gradient.
    terms = elbo_terms(
        x,
        out.x_params,
        out.z,
        out.mean,
        out.logvar,
        dataset_size,
        config.estimator,
        model.posterior.name,
        model.likelihood.name,
        with_aggregate=not baseline and (alpha != beta or beta != gamma),
        components=components,
    )
    mi = index_code_mi(terms)
    tc = total_correlation(terms)
    dwkl = dimwise_kl(terms)
    extra: dict[str, Tensor] = {}
    if baseline:
        loss, extra = _baseline_loss(model, out, terms, config, beta, step, discriminator)
    else:
        loss = -(terms.log_px - alpha * mi - beta * tc - gamma * dwkl).mean()
    with torch.no_grad():
        log = {
            "loss": loss.detach(),
            "elbo": (terms.log_px - terms.log_qz_x + terms.log_pz).mean(),
            "log_px": terms.log_px.mean(),
            "kl": model.posterior.kl_to_prior(out.mean, out.logvar).sum(1).mean(),
            "mi": mi.mean(),
            "tc": tc.mean(),
            "dwkl": dwkl.mean(),
            "log_qz_x": terms.log_qz_x.mean(),
            "log_qz": terms.log_qz.mean(),
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


def _baseline_loss(model, out, terms, config, beta, step, discriminator):
    """The loss of a baseline method and its extra logged terms (see baselines)."""
    kl = model.posterior.kl_to_prior(out.mean, out.logvar).sum(1)  # (B,)
    if config.method == "factor-vae":
        tc_d = B.discriminator_tc(discriminator(out.z))
        return -(terms.log_px - kl - beta * tc_d).mean(), {"tc_discriminator": tc_d.mean()}
    if config.method == "annealed-vae":
        c = B.capacity(step, config.capacity_max, config.capacity_steps)
        loss = -terms.log_px.mean() + beta * (kl.mean() - c).abs()
        return loss, {"capacity": torch.tensor(c)}
    variant = config.method.rsplit("-", 1)[1]  # 'i' or 'ii'
    lambda_d = config.dip_lambda_d
    if lambda_d is None:
        lambda_d = 10.0 * beta if variant == "i" else beta
    penalty = B.dip_penalty(B.dip_covariance(out.mean, out.logvar, variant), beta, lambda_d)
    return -(terms.log_px - kl).mean() + penalty, {"dip_penalty": penalty}


def auxiliary_network(config: ObjectiveConfig, latent_dim: int) -> nn.Module | None:
    """The extra network an objective trains beside the VAE (FactorVAE's discriminator), or None."""
    return B.discriminator(latent_dim) if config.method == "factor-vae" else None


def auxiliary_loss(
    config: ObjectiveConfig, network: nn.Module, out: ModelOutput, generator: torch.Generator | None
) -> Tensor:
    """The loss the auxiliary network minimises on this minibatch (its own optimiser's)."""
    return B.discriminator_loss(network, out.z, generator)
