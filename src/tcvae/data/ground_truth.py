"""Data with known generative factors, held in memory as tensors.

A *factor grid* is the Cartesian product of K discrete factors; point n of the grid has classes
(c_1, ..., c_K) and flat index sum_k c_k * stride_k with C-order (mixed radix) strides, so the
last factor varies fastest. A :class:`GroundTruthData` holds images for some or all grid points,
as a uint8 tensor, with the classes of each image; minibatches are plain tensor indexing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor


class DataError(ValueError):
    """A data set, file or factor specification is not what was expected."""


@dataclass(frozen=True)
class FactorGrid:
    """K discrete factors with names and the value of each class.

    ``values[k]`` is a float64 tensor of shape (sizes[k],): the value of each class of factor k.
    """

    names: tuple[str, ...]
    values: tuple[Tensor, ...]

    def __post_init__(self) -> None:
        if len(self.names) != len(self.values):
            raise DataError(
                f"FactorGrid got {len(self.names)} names but {len(self.values)} value lists; "
                "give one value list per factor."
            )
        if len(set(self.names)) != len(self.names):
            raise DataError(f"factor names must be unique, got {self.names}")
        for name, v in zip(self.names, self.values):
            if v.ndim != 1 or v.numel() < 1:
                raise DataError(f"factor {name!r} needs a 1-D tensor of at least one value")

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(int(v.numel()) for v in self.values)

    @property
    def num_factors(self) -> int:
        return len(self.names)

    @property
    def num_points(self) -> int:
        n = 1
        for s in self.sizes:
            n *= s
        return n

    @property
    def strides(self) -> Tensor:
        """C-order strides, shape (K,): stride_k = prod_{l > k} size_l."""
        strides = [1] * self.num_factors
        for k in range(self.num_factors - 2, -1, -1):
            strides[k] = strides[k + 1] * self.sizes[k + 1]
        return torch.tensor(strides, dtype=torch.long)

    def factor_index(self, name: str) -> int:
        """Position of factor ``name``; a clear error names the known factors."""
        try:
            return self.names.index(name)
        except ValueError:
            raise DataError(f"unknown factor {name!r}; known factors: {list(self.names)}") from None

    def index_to_classes(self, index: Tensor) -> Tensor:
        """Flat indices (...,) -> classes (..., K), mixed radix in C order."""
        index = torch.as_tensor(index, dtype=torch.long)
        if index.numel() and (int(index.min()) < 0 or int(index.max()) >= self.num_points):
            raise DataError(f"flat index out of range [0, {self.num_points})")
        sizes = torch.tensor(self.sizes, dtype=torch.long)
        return (index.unsqueeze(-1) // self.strides) % sizes

    def classes_to_index(self, classes: Tensor) -> Tensor:
        """Classes (..., K) -> flat indices (...,)."""
        classes = torch.as_tensor(classes, dtype=torch.long)
        if classes.shape[-1:] != (self.num_factors,):
            raise DataError(
                f"classes must have {self.num_factors} columns (one per factor), "
                f"got shape {tuple(classes.shape)}"
            )
        sizes = torch.tensor(self.sizes, dtype=torch.long)
        if classes.numel() and bool(((classes < 0) | (classes >= sizes)).any()):
            raise DataError(
                f"factor classes out of range; sizes are {dict(zip(self.names, self.sizes))}"
            )
        return (classes * self.strides).sum(-1)

    def all_classes(self) -> Tensor:
        """Classes of every grid point in flat-index order, shape (num_points, K)."""
        return self.index_to_classes(torch.arange(self.num_points))

    def classes_to_values(self, classes: Tensor) -> Tensor:
        """Classes (N, K) -> factor values (N, K), float64."""
        classes = torch.as_tensor(classes, dtype=torch.long)
        return torch.stack([self.values[k][classes[..., k]] for k in range(self.num_factors)], -1)


class GroundTruthData:
    """Images with the factor classes that generated them, all in memory.

    images:    uint8 tensor (N, C, H, W); pixel value ``max_value`` means full intensity
               (1 for binary data such as dSprites, 255 for 8-bit images).
    classes:   long tensor (N, K), the factor classes of each image in ``grid``.
    """

    def __init__(
        self,
        name: str,
        grid: FactorGrid,
        images: Tensor,
        classes: Tensor,
        max_value: int = 255,
    ) -> None:
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise DataError(
                f"images must be a uint8 tensor of shape (N, C, H, W), got {images.dtype} "
                f"{tuple(images.shape)}"
            )
        if classes.ndim != 2 or classes.shape != (images.shape[0], grid.num_factors):
            raise DataError(
                f"classes must have shape (N, K) = ({images.shape[0]}, {grid.num_factors}), "
                f"got {tuple(classes.shape)}"
            )
        self.name = name
        self.grid = grid
        self.images = images
        self.classes = classes.to(torch.long)
        self.max_value = int(max_value)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __repr__(self) -> str:
        return (
            f"GroundTruthData({self.name!r}, n={len(self)}, image_shape={self.image_shape}, "
            f"factors={dict(zip(self.grid.names, self.grid.sizes))})"
        )

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    @property
    def factor_names(self) -> tuple[str, ...]:
        return self.grid.names

    @property
    def factor_values(self) -> Tensor:
        """Factor values of every held image, (N, K) float64."""
        return self.grid.classes_to_values(self.classes)

    @property
    def is_full_grid(self) -> bool:
        return len(self) == self.grid.num_points

    def batch(
        self, index: Tensor, device: torch.device | str | None = None, dtype=torch.float32
    ) -> Tensor:
        """Images ``index`` as floats in [0, 1], shape (B, C, H, W); one gather, no Python loop."""
        x = self.images[index]
        if device is not None:
            x = x.to(device, non_blocking=True)
        x = x.to(dtype)
        return x if self.max_value == 1 else x.div_(self.max_value)

    def subset(self, index: Tensor | Sequence[int], name: str | None = None) -> GroundTruthData:
        """The images at ``index`` (a long index or bool mask) as a new data set."""
        index = torch.as_tensor(index)
        return GroundTruthData(
            name or self.name, self.grid, self.images[index], self.classes[index], self.max_value
        )

    def where(self, **ranges: tuple[int, int] | int) -> GroundTruthData:
        """Filter by factor classes: ``where(shape=0, posX=(0, 15))`` keeps classes in [lo, hi]."""
        mask = torch.ones(len(self), dtype=torch.bool)
        for fname, r in ranges.items():
            k = self.grid.factor_index(fname)
            lo, hi = (r, r) if isinstance(r, int) else r
            mask &= (self.classes[:, k] >= lo) & (self.classes[:, k] <= hi)
        if not bool(mask.any()):
            raise DataError(f"no image matches the factor filter {ranges}")
        return self.subset(mask)
