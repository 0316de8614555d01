"""The penalties of the baseline methods beta-TCVAE is compared with.

Each is added to the negative reconstruction term -log p(x|z) of a minibatch; ``beta`` is the
method's main weight, so that a sweep over beta sweeps every method.

* FactorVAE (Kim & Mnih 2018, eq. 2): KL(q(z|x) || p(z)) + beta * TC, with the total correlation
  estimated by a discriminator D(z) -> logits (joint, product) trained to tell samples of q(z)
  from samples of prod_j q(z_j) (the minibatch's z with each dimension permuted independently
  across the batch): TC ~ E_q[logit_joint(z) - logit_product(z)] (the density-ratio trick).
  The discriminator is an MLP of ``DISCRIMINATOR_LAYERS`` hidden layers of
  ``DISCRIMINATOR_WIDTH`` units with LeakyReLU(0.2), trained by its own Adam (by default lr 1e-4,
  betas 0.5, 0.9) on the cross-entropy of that classification alone (Kim & Mnih, Algorithm 2 and
  appendix; disentanglement_lib): the VAE's loss reads D(z) with the discriminator held fixed.
  :class:`FactorVAE` owns the discriminator, its optimiser and its update.
* DIP-VAE (Kumar et al. 2018, eqs. 6-7): KL + lambda_od sum_{i != j} C_ij^2
  + lambda_d sum_i (C_ii - 1)^2, with C = Cov_batch[mu(x)] (DIP-VAE-I) or
  C = Cov_batch[mu(x)] + E_batch[diag sigma^2(x)] (DIP-VAE-II); lambda_od = beta and
  lambda_d = ``dip_lambda_d`` (default 10 beta for I and beta for II, disentanglement_lib's).
* AnnealedVAE (Burgess et al. 2018, eq. 8): beta * |KL - C_t| with the capacity
  C_t = capacity_max * min(1, t / capacity_steps) nats.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call

from tcvae.models.vae import in_float32_under_autocast

DISCRIMINATOR_WIDTH = 1000
DISCRIMINATOR_LAYERS = 6
DISCRIMINATOR_LR = 1e-4
DISCRIMINATOR_BETAS = (0.5, 0.9)


def discriminator(latent_dim: int) -> nn.Module:
    """FactorVAE's discriminator: z (B, D) -> logits (B, 2) of (joint, product)."""
    layers: list[nn.Module] = []
    width = latent_dim
    for _ in range(DISCRIMINATOR_LAYERS):
        layers += [nn.Linear(width, DISCRIMINATOR_WIDTH), nn.LeakyReLU(0.2)]
        width = DISCRIMINATOR_WIDTH
    layers.append(nn.Linear(width, 2))
    return nn.Sequential(*layers)


def permute_dims(z: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Samples of prod_j q(z_j): each column of z (B, D) permuted independently over the batch."""
    batch, dim = z.shape
    keys = torch.rand(batch, dim, generator=generator, device=z.device)
    return torch.gather(z, 0, keys.argsort(0))


class FactorVAE:
    """FactorVAE's discriminator with its own optimiser and update (Kim & Mnih 2018, Algorithm 2).

    The VAE's loss reads the discriminator's TC estimate through :meth:`tc`, with the
    discriminator held fixed: the gradient reaches z (and so the encoder), never the
    discriminator's parameters. The discriminator learns only from its cross-entropy
    (:meth:`loss`, then :meth:`step`), on z detached from the encoder.

    Over several processes each passes the whole batch's z (gathered) and the same ``generator``
    state to :meth:`loss`, so the permutation is that of the whole batch, as on one process;
    ``rows`` is this process's share of the cross-entropy, and :meth:`step` averages the gradient
    over processes with ``average``, so every copy of the discriminator takes the same step.
    ``amp_dtype``: run the discriminator under autocast to that dtype (None: not at all), its
    logits in float32. ``optimizer``: an Adam class taking (params, lr=, betas=).
    """

    def __init__(
        self,
        latent_dim: int,
        lr: float = DISCRIMINATOR_LR,
        betas: tuple[float, float] = DISCRIMINATOR_BETAS,
        *,
        device: torch.device | str | None = None,
        amp_dtype: torch.dtype | None = None,
        optimizer: Callable[..., Any] = torch.optim.Adam,
    ) -> None:
        self.discriminator = discriminator(latent_dim).to(device)
        self.optimizer = optimizer(self.discriminator.parameters(), lr=lr, betas=tuple(betas))
        self.amp_dtype = amp_dtype

    def tc(self, z: Tensor) -> Tensor:
        """The VAE's per-sample TC estimate logit_joint - logit_product (B,) at z (B, D), the
        discriminator held fixed."""
        fixed = {name: p.detach() for name, p in self.discriminator.named_parameters()}
        network = partial(functional_call, self.discriminator, fixed)  # z is its one argument
        logits = in_float32_under_autocast(network, z, self.amp_dtype)
        return logits[:, 0] - logits[:, 1]

    def loss(
        self, z: Tensor, generator: torch.Generator | None = None, rows: slice | None = None
    ) -> Tensor:
        """Cross-entropy of telling z ~ q(z) (class 0) from the dimension-wise permuted batch
        ~ prod_j q(z_j) (class 1), over the whole batch z (B, D), or over its ``rows`` only (the
        permutation is always of the whole batch). A scalar with the discriminator's gradient."""
        z = z.detach()
        permuted = permute_dims(z, generator)
        if rows is not None:
            z, permuted = z[rows], permuted[rows]
        logits = in_float32_under_autocast(
            self.discriminator, torch.cat([z, permuted]), self.amp_dtype
        )
        labels = torch.cat(
            [z.new_zeros(len(z), dtype=torch.long), z.new_ones(len(z), dtype=torch.long)]
        )
        return nn.functional.cross_entropy(logits, labels)

    def step(self, loss: Tensor, average: Callable[[Tensor], Tensor] | None = None) -> None:
        """One optimiser step on the gradient of ``loss`` (from :meth:`loss`) alone; ``average``
        maps this process's flattened gradient to its mean over processes."""
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if average is not None:
            grads = [p.grad for p in self.discriminator.parameters()]
            mean = average(torch.cat([g.reshape(-1) for g in grads]))
            for g, m in zip(grads, mean.split([g.numel() for g in grads]), strict=True):
                g.copy_(m.view_as(g))
        self.optimizer.step()


def dip_covariance(mean: Tensor, logvar: Tensor, variant: str) -> Tensor:
    """(D, D) covariance penalised by DIP-VAE: Cov[mu] (variant 'i') or Cov[mu] + E[diag
    sigma^2] (variant 'ii'), over the batch (biased covariance, as in the paper)."""
    centred = mean - mean.mean(0)
    cov = centred.T @ centred / mean.shape[0]
    if variant == "ii":
        cov = cov + torch.diag(logvar.exp().mean(0))
    return cov


def dip_penalty(cov: Tensor, lambda_od: float, lambda_d: float) -> Tensor:
    """lambda_od sum_{i != j} C_ij^2 + lambda_d sum_i (C_ii - 1)^2, a scalar."""
    diag = torch.diagonal(cov)
    off = cov - torch.diag(diag)
    return lambda_od * (off**2).sum() + lambda_d * ((diag - 1) ** 2).sum()


def capacity(step: int, capacity_max: float, capacity_steps: int) -> float:
    """AnnealedVAE's target KL C_t in nats, rising linearly to capacity_max."""
    if capacity_steps == 0:
        return capacity_max
    return capacity_max * min(1.0, step / capacity_steps)
