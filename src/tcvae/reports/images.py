"""Pictures decoded by a model: latent traversals, reconstructions and samples from the prior.

The model needs ``encode(x) -> (mean, logvar)``, ``decode(z) -> likelihood parameters``,
``likelihood.mean(params)`` (the expected image in [0, 1]), ``reconstruct(x)`` and
``latent_dim``, as :class:`tcvae.models.vae.VAE` has. Each function decodes all its images in one
batch and returns a :class:`matplotlib.figure.Figure` built without pyplot.
"""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor, nn

from tcvae.reports.explain import ACTIVE_KL_NATS
from tcvae.reports.plots import DPI, PlotError, active_dims

PAD = 2  # pixels of grey frame around each image in a montage
FRAME = 0.5


def montage(images: Tensor) -> np.ndarray:
    """Tile images (R, K, C, H, W) in [0, 1] into one (R*(H+2p), K*(W+2p), C) array, framed."""
    if images.ndim != 5:
        raise PlotError(f"montage needs a (rows, cols, C, H, W) tensor, got {tuple(images.shape)}")
    framed = torch.nn.functional.pad(images.float().clamp(0, 1), (PAD,) * 4, value=FRAME)
    r, k, c, h, w = framed.shape
    tiled = framed.permute(0, 3, 1, 4, 2).reshape(r * h, k * w, c)
    return tiled.cpu().numpy()


def _show(ax, tiled: np.ndarray) -> None:
    if tiled.shape[-1] == 1:
        ax.imshow(tiled[..., 0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    else:
        ax.imshow(tiled, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def _check_images(model: nn.Module, x: Tensor) -> None:
    shape = tuple(getattr(model, "image_shape", x.shape[1:]))
    if x.ndim != 4 or tuple(x.shape[1:]) != shape or x.shape[0] == 0:
        raise PlotError(
            f"expected a non-empty batch of images (B, {', '.join(map(str, shape))}) in [0, 1], "
            f"got {tuple(x.shape)}"
        )


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def decode_mean(model: nn.Module, z: Tensor) -> Tensor:
    """Expected images E[x|z] in [0, 1] for latents z (B, D)."""
    return model.likelihood.mean(model.decode(z.to(_device(model)))).cpu()


def traversal_latents(mean: Tensor, dims: Tensor, values: Tensor) -> Tensor:
    """Latent codes of a traversal, (R, S, T, D): z[r, s, t] is ``mean[s]`` (S, D) with dim
    ``dims[r]`` set to ``values[t]``, all other dims unchanged."""
    r, s, t = dims.numel(), mean.shape[0], values.numel()
    z = mean[None, :, None, :].repeat(r, 1, t, 1)
    z[torch.arange(r), :, :, dims] = values.to(mean.dtype).expand(r, s, t)
    return z


@torch.no_grad()
def latent_traversals(
    model: nn.Module,
    x: Tensor,
    kl_per_dim: Tensor | np.ndarray,
    *,
    span: float = 2.5,
    steps: int = 9,
    threshold: float = ACTIVE_KL_NATS,
) -> Figure:
    """For each seed image (panel) and latent dim j (row, by decreasing KL): decode the posterior
    mean with z_j swept over linspace(-span, span, steps) and every other dim held fixed.

    Rows of dims whose KL is below ``threshold`` nats are labelled inactive: the decoder has
    learned to ignore them, so their rows should not change.
    """
    _check_images(model, x)
    if steps < 2 or span <= 0:
        raise PlotError(f"need steps >= 2 and span > 0, got steps={steps}, span={span}")
    d = model.latent_dim
    kl = torch.as_tensor(np.asarray(kl_per_dim, dtype=np.float64)).flatten()
    if kl.numel() != d:
        raise PlotError(f"kl_per_dim has {kl.numel()} entries but the model has {d} latent dims")
    order, active = active_dims(kl, threshold)
    was_training = model.training
    model.eval()
    mean, _ = model.encode(x.to(_device(model)))
    values = torch.linspace(-span, span, steps, dtype=mean.dtype)
    z = traversal_latents(mean.cpu(), torch.as_tensor(order.copy()), values)
    s = mean.shape[0]
    imgs = decode_mean(model, z.reshape(-1, d)).reshape(d, s, steps, *x.shape[1:])
    model.train(was_training)

    fig = Figure(figsize=(0.42 * steps * s + 1.4, 0.45 * d + 0.9), dpi=DPI)
    axes = fig.subplots(1, s, squeeze=False)[0]
    side = x.shape[-1] + 2 * PAD
    for i, ax in enumerate(axes):
        _show(ax, montage(imgs[:, i]))
        ax.set_title(f"seed image {i + 1}", fontsize=8)
        ax.set_xticks([side / 2, side * (steps - 0.5)], [f"{-span:g}", f"{span:g}"], fontsize=7)
    labels = [
        f"z{j} KL {float(kl[j]):.2f}" + ("" if on else " inactive") for j, on in zip(order, active)
    ]
    axes[0].set_yticks(side * (np.arange(d) + 0.5), labels, fontsize=7)
    for tick, on in zip(axes[0].get_yticklabels(), active):
        tick.set_color("black" if on else "#999999")
    fig.suptitle("Latent traversals (rows by decreasing KL; z_j from -span to +span)", fontsize=9)
    fig.tight_layout()
    return fig


@torch.no_grad()
def reconstructions(model: nn.Module, x: Tensor, per_row: int = 10) -> Figure:
    """Inputs and their reconstructions E[x | z = posterior mean], in alternating rows."""
    _check_images(model, x)
    was_training = model.training
    model.eval()
    recon = model.reconstruct(x.to(_device(model))).cpu()
    model.train(was_training)
    n = x.shape[0]
    per_row = min(per_row, n)
    n_rows = -(-n // per_row)
    blank = torch.full((n_rows * per_row - n, *x.shape[1:]), FRAME)
    inputs = torch.cat([x.cpu().float(), blank]).reshape(n_rows, 1, per_row, *x.shape[1:])
    outputs = torch.cat([recon, blank]).reshape(n_rows, 1, per_row, *x.shape[1:])
    grid = torch.cat([inputs, outputs], 1).reshape(2 * n_rows, per_row, *x.shape[1:])
    fig = Figure(figsize=(0.75 * per_row + 1.2, 1.5 * n_rows + 0.5), dpi=DPI)
    ax = fig.add_subplot()
    _show(ax, montage(grid))
    side = x.shape[-2] + 2 * PAD
    ax.set_yticks(side * (np.arange(2 * n_rows) + 0.5), ["input", "reconstruction"] * n_rows)
    ax.tick_params(labelsize=8, length=0)
    ax.set_title("Inputs and reconstructions (decoded posterior means)", fontsize=9)
    return fig


@torch.no_grad()
def prior_samples(
    model: nn.Module, n: int = 40, per_row: int = 10, generator: torch.Generator | None = None
) -> Figure:
    """Expected images E[x|z] of n latents z drawn from the prior p(z)."""
    if n < 1 or per_row < 1:
        raise PlotError(f"need n >= 1 and per_row >= 1, got n={n}, per_row={per_row}")
    was_training = model.training
    model.eval()
    d = model.latent_dim
    z = model.posterior.rsample(torch.zeros(n, d), torch.zeros(n, d), generator)
    imgs = decode_mean(model, z)
    model.train(was_training)
    per_row = min(per_row, n)
    n_rows = -(-n // per_row)
    blank = torch.full((n_rows * per_row - n, *imgs.shape[1:]), FRAME)
    grid = torch.cat([imgs, blank]).reshape(n_rows, per_row, *imgs.shape[1:])
    fig = Figure(figsize=(0.75 * per_row + 0.4, 0.75 * n_rows + 0.5), dpi=DPI)
    ax = fig.add_subplot()
    _show(ax, montage(grid))
    ax.set_title("Samples from the prior (decoded means)", fontsize=9)
    return fig
