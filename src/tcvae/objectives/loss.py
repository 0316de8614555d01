"""One objective for the VAE, beta-VAE and beta-TCVAE (REFERENCE.md section 2).

Maximised per sample (minimised as its negative batch mean):

    log p(x_i|z_i) - alpha * mi_i - beta * tc_i - gamma * dwkl_i

Presets: 'vae' (alpha = beta = gamma = 1: the ELBO), 'beta-vae' (all three = beta: the
reconstruction plus beta times the sampled KL) and 'beta-tcvae' (alpha = gamma = 1, beta free).
Optional warm-ups from the reference code (REFERENCE.md section 8), both off by default:

    beta_t   = beta * min(1, t / beta_warmup_steps)
    lambda_t = max(0, lambda0 * (1 - t / lambda_warmup_steps))
    dimension-wise KL weight: gamma * (1 - lambda_t)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import torch
from torch import Tensor

from tcvae.objectives.decomposition import (
    dimwise_kl,
    elbo_terms,
    index_code_mutual_information,
    total_correlation,
)
from tcvae.objectives.estimators import ESTIMATORS

if TYPE_CHECKING:
    from tcvae.models.vae import VAE, VAEOutput

METHODS = ("vae", "beta-vae", "beta-tcvae")


class ObjectiveError(ValueError):
    """An objective configuration is invalid."""


@dataclass(frozen=True)
class ObjectiveConfig:
    """Which objective to train with; ``alpha``/``gamma`` = None take the method's preset value.

    For 'vae' every weight defaults to 1 and ``beta`` is not used.
    """

    method: str = "beta-tcvae"
    beta: float = 6.0
    alpha: float | None = None
    gamma: float | None = None
    estimator: str = "mss"
    beta_warmup_steps: int = 0
    lambda_warmup_steps: int = 0
    lambda0: float = 0.95

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ObjectiveError(f"unknown method {self.method!r}; choose one of {list(METHODS)}")
        if self.estimator not in ESTIMATORS:
            raise ObjectiveError(
                f"unknown estimator {self.estimator!r}; choose one of {list(ESTIMATORS)}"
            )
        for name in ("beta", "alpha", "gamma"):
            value = getattr(self, name)
            if value is not None and not value >= 0:
                raise ObjectiveError(f"{name} must be a non-negative number, got {value!r}")
        for name in ("beta_warmup_steps", "lambda_warmup_steps"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ObjectiveError(
                    f"{name} must be a non-negative integer (0 turns the warm-up off), "
                    f"got {value!r}"
                )
        if not 0 <= self.lambda0 <= 1:
            raise ObjectiveError(f"lambda0 must lie in [0, 1], got {self.lambda0!r}")

    def lambda_at(self, step: int) -> float:
        """lambda_t of the reference code's dimension-wise KL warm-up (0 when it is off)."""
        if self.lambda_warmup_steps == 0:
            return 0.0
        return max(0.0, self.lambda0 * (1.0 - step / self.lambda_warmup_steps))

    def weights(self, step: int = 0) -> tuple[float, float, float]:
        """(alpha, beta, gamma) at training step ``step``, warm-ups applied."""
        if self.method == "vae":
            alpha, beta, gamma = 1.0, 1.0, 1.0
        else:
            ramp = 1.0 if self.beta_warmup_steps == 0 else min(1.0, step / self.beta_warmup_steps)
            beta = self.beta * ramp
            preset = beta if self.method == "beta-vae" else 1.0
            alpha, gamma = preset, preset
        alpha = alpha if self.alpha is None else self.alpha
        gamma = gamma if self.gamma is None else self.gamma
        return alpha, beta, gamma * (1.0 - self.lambda_at(step))


class LossResult(NamedTuple):
    """``loss``: scalar to minimise; ``terms``: detached scalar tensors for logging."""

    loss: Tensor
    terms: dict[str, Tensor]


def compute_loss(
    model: VAE,
    x: Tensor,
    out: VAEOutput,
    dataset_size: int,
    config: ObjectiveConfig,
    step: int = 0,
) -> LossResult:
    """The objective of ``config`` for a minibatch ``x`` (B distinct points of a data set of
    ``dataset_size``) and the model's output ``out`` on it.

    terms: loss, elbo (mean ELBO), log_px, kl (analytic mean KL(q(z|x) || p(z))), mi, tc, dwkl
    (means of the section-2 terms), log_qz_x, log_qz, log_pz, and the weights alpha, beta, gamma,
    lambda in force at ``step``.
    """
    alpha, beta, gamma = config.weights(step)
    # The estimates of log q(z) and sum_j log q(z_j) enter the objective with weights alpha - beta
    # and beta - gamma; when both vanish they are only logged and need no gradient.
    terms = elbo_terms(
        x,
        out.x_params,
        out.z,
        out.mean,
        out.logvar,
        dataset_size,
        config.estimator,
        model.posterior,
        model.likelihood,
        with_aggregate=(alpha != beta or beta != gamma),
    )
    mi = index_code_mutual_information(terms)
    tc = total_correlation(terms)
    dwkl = dimwise_kl(terms)
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
    return LossResult(loss, log)
