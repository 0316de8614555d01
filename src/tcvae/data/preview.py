"""Factor sweeps: vary one factor at a time around a base point, and draw them as a figure."""

from __future__ import annotations

import os

import torch
from matplotlib.figure import Figure
from torch import Tensor

from tcvae.data.ground_truth import DataError, FactorGrid


def factor_sweeps(
    grid: FactorGrid, base: Tensor | None = None, num_columns: int = 10
) -> list[tuple[str, Tensor]]:
    """One (factor name, classes (c, K)) pair per factor with more than one value.

    Each row holds ``base`` (default: the middle class of every factor) with one factor swept
    over ``min(num_columns, size)`` evenly spaced classes, first and last included.
    """
    if num_columns < 2:
        raise DataError(f"a sweep needs at least 2 columns, got {num_columns}")
    sizes = torch.tensor(grid.sizes)
    base = sizes // 2 if base is None else torch.as_tensor(base, dtype=torch.long)
    grid.classes_to_index(base)  # validates shape and range
    rows = []
    for k, (name, size) in enumerate(zip(grid.names, grid.sizes)):
        if size < 2:
            continue
        steps = torch.linspace(0, size - 1, min(num_columns, size)).round().long()
        classes = base.repeat(steps.numel(), 1)
        classes[:, k] = steps
        rows.append((name, classes))
    return rows


def save_sweep_figure(
    rows: list[tuple[str, Tensor]],
    path: str | os.PathLike,
    max_value: int = 1,
    title: str = "",
) -> None:
    """Write a PNG: one row per (factor name, images (c, C, H, W) uint8) sweep, blank padding."""
    num_columns = max(images.shape[0] for _, images in rows)
    fig = Figure(figsize=(1.1 * num_columns + 1.0, 1.1 * len(rows) + 0.4))
    axes = fig.subplots(len(rows), num_columns, squeeze=False)
    for ax_row, (name, images) in zip(axes, rows):
        ax_row[0].set_ylabel(name, rotation=0, ha="right", va="center")
        for j, ax in enumerate(ax_row):
            ax.set_xticks([])
            ax.set_yticks([])
            if j >= images.shape[0]:
                ax.set_axis_off()
                continue
            picture = images[j].permute(1, 2, 0).float() / max_value
            shown = picture[..., 0] if picture.shape[-1] == 1 else picture
            ax.imshow(shown.numpy(), cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=80, bbox_inches="tight")
