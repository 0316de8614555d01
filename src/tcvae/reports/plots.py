"""Charts of what a model learned, drawn from plain arrays.

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot, so nothing is
left in global plotting state; save it with :func:`save_figure` or :func:`figure_png`.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from torch import Tensor

from tcvae.data.ground_truth import FactorGrid
from tcvae.errors import TcvaeError
from tcvae.reports.explain import ACTIVE_KL_NATS

DPI = 110
# Columns of a training log that are bookkeeping, not loss terms.
LOG_BOOKKEEPING = ("step", "epoch", "images_per_s", "images/s", "time", "lr")


class PlotError(TcvaeError):
    """Inputs to a plot have the wrong shape or are empty."""


def as_numpy(x: torch.Tensor | np.ndarray | Sequence[float]) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=np.float64)


def figure_png(fig: Figure) -> bytes:
    """The PNG bytes of ``fig``."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi, bbox_inches="tight", facecolor="white")
    return buf.getvalue()


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as a PNG at ``path`` (parent folders are created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(figure_png(fig))
    return path


def loss_keys(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The numeric columns of a training log but the bookkeeping ones, in first-seen order."""
    keys: list[str] = []
    for row in rows:
        for key, value in row.items():
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            if numeric and key not in LOG_BOOKKEEPING and key not in keys:
                keys.append(key)
    return keys


def active_dims(kl_per_dim: torch.Tensor | np.ndarray, threshold: float = ACTIVE_KL_NATS):
    """Latent dims ordered by decreasing KL, and a bool mask (in that order) of the active ones."""
    kl = as_numpy(kl_per_dim)
    order = np.argsort(-kl, kind="stable")
    return order, kl[order] > threshold


def kl_per_dimension(
    kl_per_dim: torch.Tensor | np.ndarray, threshold: float = ACTIVE_KL_NATS
) -> Figure:
    """Bar chart of E_x KL(q(z_j|x) || p(z_j)) per latent dim j, largest first (REFERENCE.md 4)."""
    kl = as_numpy(kl_per_dim)
    if kl.ndim != 1 or kl.size == 0:
        raise PlotError(f"kl_per_dim must be a non-empty 1-D array, got shape {kl.shape}")
    order, active = active_dims(kl, threshold)
    fig = Figure(figsize=(max(4.0, 0.5 * kl.size + 1.5), 3.2), dpi=DPI)
    ax = fig.add_subplot()
    colors = np.where(active, "#1f77b4", "#b0b0b0")
    ax.bar(np.arange(kl.size), kl[order], color=colors)
    ax.axhline(threshold, color="#d62728", lw=0.8, ls="--", label=f"active if > {threshold} nats")
    ax.set_xticks(np.arange(kl.size), [f"z{j}" for j in order])
    ax.set_ylabel("KL (nats)")
    ax.set_title(f"KL per latent dimension ({int(active.sum())} of {kl.size} active)")
    ax.legend(frameon=False, loc="upper right")
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def mutual_information_matrix(
    mi: torch.Tensor | np.ndarray,
    factor_names: Sequence[str],
    *,
    factor_entropy: torch.Tensor | np.ndarray | None = None,
    title: str = "Mutual information I(z_j; v_k) / H(v_k)",
) -> Figure:
    """Heatmap of the factor x latent mutual information with each factor's MIG gap marked.

    ``mi`` is (K, D) in nats; with ``factor_entropy`` (K,) it is normalised by H(v_k) as in the
    MIG (REFERENCE.md 5). For each factor the best latent is boxed in a solid line, the runner-up
    in a dashed one, and the gap (top1 - top2) is written beside the row.
    """
    m = as_numpy(mi)
    if m.ndim != 2 or m.shape[0] != len(factor_names) or m.shape[1] < 2:
        raise PlotError(
            f"mi must be (K, D) with K = {len(factor_names)} factor names and D >= 2, "
            f"got shape {m.shape}"
        )
    if factor_entropy is not None:
        h = as_numpy(factor_entropy)
        if h.shape != (m.shape[0],):
            raise PlotError(f"factor_entropy must have shape ({m.shape[0]},), got {h.shape}")
        m = m / np.where(h > 0, h, np.nan)[:, None]
    k, d = m.shape
    fig = Figure(figsize=(max(5.0, 0.6 * d + 3.0), max(2.4, 0.55 * k + 1.6)), dpi=DPI)
    ax = fig.add_subplot()
    vmax = max(float(np.nanmax(m)) if np.isfinite(m).any() else 1.0, 1e-12)
    image = ax.imshow(m, cmap="viridis", vmin=0.0, vmax=vmax, aspect="auto")
    fig.colorbar(image, ax=ax, fraction=0.04, pad=0.14)
    for (r, c), val in np.ndenumerate(m):
        color = "black" if val > 0.6 * vmax else "white"
        ax.text(c, r, f"{val:.2f}", ha="center", va="center", fontsize=7, color=color)
    gaps = []
    for r in range(k):
        top1, top2 = np.argsort(-np.nan_to_num(m[r], nan=-np.inf), kind="stable")[:2]
        gap = float(m[r, top1] - m[r, top2])
        gaps.append(gap)
        for col, style in ((top1, "-"), (top2, "--")):
            ax.add_patch(
                Rectangle((col - 0.5, r - 0.5), 1, 1, fill=False, ec="#ff3030", lw=1.8, ls=style)
            )
        ax.text(d - 0.3, r, f" gap {gap:.2f}", va="center", ha="left", fontsize=8)
    ax.set_xticks(np.arange(d), [f"z{j}" for j in range(d)])
    ax.set_yticks(np.arange(k), list(factor_names))
    ax.set_xlabel("latent dimension (solid: best, dashed: runner-up)")
    ax.set_title(f"{title}\nmean gap (MIG) = {np.nanmean(gaps):.3f}", fontsize=10)
    return fig


def conditional_means(
    z: Tensor, group: Tensor, n_groups: int, cls: Tensor, n_classes: int
) -> tuple[Tensor, Tensor]:
    """Mean of z (N, L) over the points of each (group, class) cell, by one scatter-add.

    Returns the means (G, C, L) (zero for empty cells) and a bool mask (G, C) of non-empty cells.
    """
    cell = group * n_classes + cls
    sums = torch.zeros(n_groups * n_classes, z.shape[1], dtype=z.dtype).index_add_(0, cell, z)
    counts = torch.bincount(cell, minlength=n_groups * n_classes).to(z.dtype)
    avg = sums / counts.clamp_min(1).unsqueeze(1)
    return avg.view(n_groups, n_classes, -1), (counts > 0).view(n_groups, n_classes)


def latent_vs_factors(
    mean: torch.Tensor | np.ndarray,
    classes: torch.Tensor,
    grid: FactorGrid,
    latents: Sequence[int],
    *,
    group_by: str | None = "shape",
    group_labels: Sequence[str] | None = None,
) -> Figure:
    """For each latent (row) and factor (column): mean of E[z_j|x] against the factor value.

    Points are grouped by the factor ``group_by`` (one line per shape on dSprites, as in the
    paper's figure); a flat line means the latent ignores that factor, a monotone one that it
    encodes it. ``mean`` is (N, D), ``classes`` (N, K) in ``grid``. Averages are one scatter-add.
    """
    mu = torch.as_tensor(as_numpy(mean))
    classes = torch.as_tensor(classes, dtype=torch.long)
    if mu.ndim != 2 or classes.shape != (mu.shape[0], grid.num_factors) or mu.shape[0] == 0:
        raise PlotError(
            f"mean must be (N, D) and classes (N, {grid.num_factors}) for the same N, "
            f"got {tuple(mu.shape)} and {tuple(classes.shape)}"
        )
    latents = [int(j) for j in latents]
    if not latents or min(latents) < 0 or max(latents) >= mu.shape[1]:
        raise PlotError(f"latents must be a non-empty list of dims in [0, {mu.shape[1]})")
    if group_by is not None and group_by not in grid.names:
        group_by = None
    factor_idx = [
        k
        for k, name in enumerate(grid.names)
        if name != group_by and int(classes[:, k].unique().numel()) > 1
    ]
    if not factor_idx:
        raise PlotError("no factor takes more than one value in these data; nothing to plot")
    if group_by is None:
        group = torch.zeros(mu.shape[0], dtype=torch.long)
        n_groups, labels = 1, ["all"]
    else:
        g = grid.factor_index(group_by)
        group = classes[:, g]
        n_groups = grid.sizes[g]
        labels = (
            list(group_labels)
            if group_labels is not None
            else [f"{group_by} {float(v):g}" for v in grid.values[g]]
        )
    rows, cols = len(latents), len(factor_idx)
    fig = Figure(figsize=(2.3 * cols + 0.8, 1.7 * rows + 0.9), dpi=DPI)
    axes = fig.subplots(rows, cols, squeeze=False, sharey="row")
    z = mu[:, latents]
    for c, k in enumerate(factor_idx):
        avg, seen = conditional_means(z, group, n_groups, classes[:, k], grid.sizes[k])
        x = grid.values[k].numpy()
        for r in range(rows):
            ax = axes[r, c]
            for gi in range(n_groups):
                if bool(seen[gi].any()):
                    keep = seen[gi].numpy()
                    ax.plot(x[keep], avg[gi, keep, r].numpy(), lw=1.4, label=labels[gi])
            ax.tick_params(labelsize=7)
            ax.spines[["top", "right"]].set_visible(False)
            if r == rows - 1:
                ax.set_xlabel(grid.names[k], fontsize=9)
            if c == 0:
                ax.set_ylabel(f"z{latents[r]}", fontsize=9)
    handles, legend_labels = axes[0, 0].get_legend_handles_labels()
    if n_groups > 1 and handles:
        fig.legend(handles, legend_labels, loc="lower center", ncol=n_groups, frameon=False)
    fig.suptitle("Mean posterior mean of each active latent against each factor", fontsize=10)
    fig.tight_layout(rect=(0, 0.05 if n_groups > 1 else 0, 1, 1))
    return fig


def training_curves(
    rows: Sequence[Mapping[str, float]],
    keys: Sequence[str] | None = None,
    *,
    title: str = "Training curves",
    labels: Mapping[str, str] | None = None,
) -> Figure:
    """One panel per logged term against the training step (raw, and smoothed when long).

    ``rows`` are the JSON lines of a run's training log; every numeric column other than the
    bookkeeping ones is plotted unless ``keys`` names the columns to show. ``labels`` titles a
    column's panel (default: the column's name).
    """
    if not rows:
        raise PlotError("the training log is empty; train for at least one logged step")
    keys = [k for k in (loss_keys(rows) if keys is None else keys) if any(k in r for r in rows)]
    if not keys:
        raise PlotError("the training log has no loss terms to plot")
    steps = np.array([float(row.get("step", i)) for i, row in enumerate(rows)])
    ncols = min(4, len(keys))
    nrows = math.ceil(len(keys) / ncols)
    fig = Figure(figsize=(3.2 * ncols, 2.4 * nrows + 0.4), dpi=DPI)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for i, key in enumerate(keys):
        ax = axes[i // ncols, i % ncols]
        y = np.array([float(row.get(key, np.nan)) for row in rows])
        keep = np.isfinite(y)
        long = int(keep.sum()) > 50
        ax.plot(steps[keep], y[keep], lw=0.8, color="#1f77b4", alpha=0.4 if long else 1.0)
        if long:
            smooth = _moving_average(y[keep], max(5, int(keep.sum()) // 25))
            ax.plot(steps[keep], smooth, lw=1.5, color="#1f77b4")
        ax.set_title((labels or {}).get(key, key), fontsize=9)
        ax.tick_params(labelsize=7)
        ax.spines[["top", "right"]].set_visible(False)
        ax.set_xlabel("step", fontsize=8)
    for j in range(len(keys), nrows * ncols):
        axes[j // ncols, j % ncols].set_visible(False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def _moving_average(y: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average; near the ends it averages over the points that exist."""
    kernel = np.ones(window)
    return np.convolve(y, kernel, "same") / np.convolve(np.ones_like(y), kernel, "same")


def decomposition_bars(terms: Mapping[str, tuple[float, float]]) -> Figure:
    """Bar chart of the ELBO decomposition terms with +- 2 standard-error bars (REFERENCE.md 4).

    ``terms`` maps a label to (estimate, standard error).
    """
    if not terms:
        raise PlotError("no decomposition terms to plot")
    labels = list(terms)
    vals = np.array([terms[k][0] for k in labels], dtype=float)
    errs = np.array([terms[k][1] for k in labels], dtype=float)
    fig = Figure(figsize=(max(4.0, 1.1 * len(labels) + 1.0), 3.0), dpi=DPI)
    ax = fig.add_subplot()
    ax.bar(np.arange(len(labels)), vals, yerr=2 * np.nan_to_num(errs), capsize=4, color="#4c72b0")
    ax.set_xticks(np.arange(len(labels)), labels)
    ax.set_ylabel("nats")
    ax.axhline(0, color="black", lw=0.6)
    ax.set_title("KL decomposition (bars: +-2 standard errors)", fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    return fig
