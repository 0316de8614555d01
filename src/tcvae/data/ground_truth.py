"""Data with known generative factors, held in memory as tensors.

A *factor grid* is the Cartesian product of K discrete factors; point n of the grid has classes
(c_1, ..., c_K) and flat index sum_k c_k * stride_k with C-order (mixed radix) strides, so the
last factor varies fastest. A :class:`GroundTruthData` holds images for some or all grid points
with the classes of each image; minibatches are plain tensor indexing.

Binary images (``max_value`` 1, e.g. dSprites) are held bit-packed, eight pixels to a byte
(:class:`PackedImages`): full dSprites takes 360 MiB instead of 2.8 GiB, and each minibatch is
unpacked by :meth:`GroundTruthData.batch`: one gather of packed rows, one unpack, one conversion.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from tcvae.errors import TcvaeError

# Where a data set's images come from: its file if available else the built-in generator
# (auto), always the generator (builtin), or the file (file).
SOURCES = ("auto", "builtin", "file")
FILE_SOURCES = ("auto", "file")  # a data set with no built-in generator


class DataError(TcvaeError):
    """A data set, file or factor specification is not what was expected."""


@dataclass(frozen=True)
class FactorGrid:
    """K discrete factors with names and the value of each class.

    ``values[k]`` is a float64 tensor of shape (sizes[k],): the value of each class of factor k.
    """

    names: tuple[str, ...]
    values: tuple[Tensor, ...]

    @classmethod
    def of_classes(cls, names: Sequence[str], sizes: Sequence[int]) -> FactorGrid:
        """Factors whose values are their class indices 0, 1, ..., size - 1."""
        return cls(tuple(names), tuple(torch.arange(s, dtype=torch.float64) for s in sizes))

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
        return math.prod(self.sizes)

    @property
    def strides(self) -> Tensor:
        """C-order strides, shape (K,): stride_k = prod_{l > k} size_l."""
        sizes = self.sizes
        return torch.tensor([math.prod(sizes[k + 1 :]) for k in range(len(sizes))])

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

    def check_classes(self, classes: Tensor, what: str) -> Tensor:
        """``classes`` (M, K) of this grid as a long tensor; a DataError names what is wrong."""
        classes = torch.as_tensor(classes)
        if classes.dtype.is_floating_point or classes.dtype == torch.bool or classes.is_complex():
            raise DataError(
                f"{what} classes must be an integer tensor (class indices, not factor values), "
                f"got dtype {classes.dtype}; use grid.index_to_classes or torch.long indices"
            )
        if classes.ndim != 2 or classes.shape[1] != self.num_factors:
            raise DataError(
                f"{what} classes must have shape (M, {self.num_factors}), one column per factor "
                f"{self.names}, got {tuple(classes.shape)}"
            )
        classes = classes.to(torch.long)
        self.classes_to_index(classes)  # range check naming the factor sizes
        return classes

    def in_ranges(
        self, classes: Tensor, ranges: dict[str, tuple[int, int] | list[int] | int]
    ) -> Tensor:
        """Bool (N,): whether the class of each factor named in ``ranges`` of each row of
        ``classes`` (N, K) lies in its inclusive range [lo, hi] (an int c means [c, c])."""
        mask = torch.ones(classes.shape[0], dtype=torch.bool)
        for name, r in ranges.items():
            k = self.factor_index(name)
            lo, hi = (r, r) if isinstance(r, int) else r
            if hi >= self.sizes[k]:
                raise DataError(
                    f"range [{lo}, {hi}] for {name!r} exceeds its {self.sizes[k]} classes (it has "
                    f"classes 0..{self.sizes[k] - 1})"
                )
            mask &= (classes[:, k] >= lo) & (classes[:, k] <= hi)
        return mask


def pack_bits(images: Tensor | np.ndarray) -> Tensor:
    """Binary images (N, ...) -> bits (N, ceil(P / 8)) uint8, P pixels per image; any nonzero
    pixel is a 1. Pixel p of an image is bit 7 - p % 8 of byte p // 8 (numpy.packbits' order)."""
    flat = images.reshape(images.shape[0], -1)
    if isinstance(flat, Tensor) and flat.device.type != "cpu":
        return _pack_on_device(flat)
    return torch.from_numpy(np.packbits(np.asarray(flat), axis=1))


def _pack_on_device(flat: Tensor) -> Tensor:
    """:func:`pack_bits` of (N, P) images with torch operations (for GPU tensors)."""
    pad = -flat.shape[1] % 8
    if pad:
        flat = torch.nn.functional.pad(flat, (0, pad))
    weights = (1 << torch.arange(7, -1, -1, device=flat.device)).to(torch.uint8)
    grouped = flat.reshape(flat.shape[0], -1, 8).ne(0).to(torch.uint8)
    return (grouped * weights).sum(-1, dtype=torch.uint8)


def unpack_bits(bits: Tensor, num_pixels: int) -> Tensor:
    """Inverse of :func:`pack_bits`: bits (N, B) uint8 -> (N, num_pixels) uint8 of 0/1.

    On the CPU this is ``numpy.unpackbits`` (about 1 ms for 2048 dSprites images, far less than
    the conversion to floats that follows); elsewhere shifts and masks on the device.
    """
    if bits.device.type == "cpu":
        return torch.from_numpy(np.unpackbits(bits.numpy(), axis=1, count=num_pixels))
    return _unpack_on_device(bits, num_pixels)


def _unpack_on_device(bits: Tensor, num_pixels: int) -> Tensor:
    """:func:`unpack_bits` to uint8 with torch operations (for GPU tensors)."""
    shifts = torch.arange(7, -1, -1, device=bits.device, dtype=torch.uint8)
    return ((bits.unsqueeze(-1) >> shifts) & 1).view(bits.shape[0], -1)[:, :num_pixels]


def gather_rows(rows: Tensor, index: Tensor | Sequence[int] | slice) -> Tensor:
    """``rows[index]`` along dim 0; on the CPU via numpy, whose fancy indexing copies small rows
    several times faster than torch's."""
    if rows.device.type != "cpu" or isinstance(index, slice):
        return rows[index]
    index = torch.as_tensor(index)
    if index.device.type != "cpu" or index.ndim != 1:
        return rows[index]
    return torch.from_numpy(rows.numpy()[index.numpy()])


class PackedImages:
    """Binary images (N, C, H, W) stored eight pixels to a byte.

    ``bits`` is a uint8 tensor (N, ceil(C*H*W / 8)) as :func:`pack_bits` writes it; ``shape``
    the shape of the unpacked images. Indexing selects images (``packed[index]`` is again
    packed); :meth:`unpack` gives them back as uint8 0/1.
    """

    def __init__(self, bits: Tensor, shape: Sequence[int]) -> None:
        shape = torch.Size(int(s) for s in shape)
        pixels = shape[1:].numel() if len(shape) == 4 else 0
        if (
            bits.dtype != torch.uint8
            or len(shape) != 4
            or bits.shape != (shape[0], -(-pixels // 8))
        ):
            raise DataError(
                f"packed images need uint8 bits of shape (N, ceil(C*H*W / 8)) for a 4-d image "
                f"shape (N, C, H, W); got {bits.dtype} bits {tuple(bits.shape)} for {tuple(shape)}"
            )
        self.bits = bits
        self.shape = shape

    @classmethod
    def pack(cls, images: Tensor) -> PackedImages:
        """Pack a uint8 tensor (N, C, H, W) of 0/1 pixels."""
        return cls(pack_bits(images), images.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"PackedImages(shape={tuple(self.shape)}, device={self.device})"

    def __getitem__(self, index) -> PackedImages:
        bits = gather_rows(self.bits, index)
        if bits.ndim != 2:
            raise DataError("index packed images with a 1-d index, mask or slice")
        return PackedImages(bits, (bits.shape[0], *self.shape[1:]))

    @property
    def device(self) -> torch.device:
        return self.bits.device

    @property
    def nbytes(self) -> int:
        return self.bits.numel()

    def to(self, device: torch.device | str, non_blocking: bool = False) -> PackedImages:
        return PackedImages(self.bits.to(device, non_blocking=non_blocking), self.shape)

    def unpack(self, index: Tensor | None = None) -> Tensor:
        """Images ``index`` (default all) as uint8 0/1 values, shape (B, C, H, W)."""
        bits = self.bits if index is None else gather_rows(self.bits, index)
        return unpack_bits(bits, self.shape[1:].numel()).reshape(bits.shape[0], *self.shape[1:])


def _compact_classes(classes: Tensor) -> Tensor:
    """``classes`` as uint8 when every class is in 0..255 (all built-in grids), else as long:
    the full dSprites grid's classes take 4 MiB instead of 34 MiB."""
    if classes.is_floating_point() or classes.is_complex():
        raise DataError(f"classes must be integers, got {classes.dtype}")
    if classes.numel() and 0 <= int(classes.min()) and int(classes.max()) <= 255:
        return classes.to(torch.uint8)
    return classes.to(torch.long)


class GroundTruthData:
    """Images with the factor classes that generated them, all in memory; or images alone.

    Data without factor labels (a folder of photos) has ``grid`` and ``classes`` None and
    :attr:`has_factors` false: everything that reads pixels works (training, reconstructions,
    the ELBO decomposition); what needs labels (the disentanglement metrics, factor filters)
    checks :attr:`has_factors` or calls :meth:`require_factors`.

    images:    uint8 tensor (N, C, H, W) (any strides, e.g. a channel-last view of a file);
               pixel value ``max_value`` means full intensity (255 for 8-bit images). Binary
               images (``max_value=1``) are stored as :class:`PackedImages`; a uint8 tensor of
               0/1 pixels given with ``max_value=1`` is packed here.
    classes:   integer tensor (N, K), the factor classes of each image in ``grid``; read back
               as a long tensor (classes below 256 are held as uint8, an eighth of the memory).
               None, with ``grid`` None, for data without factor labels.

    Read pixels with :meth:`batch` (floats in [0, 1]) or :meth:`images_uint8` (stored values);
    :attr:`images` is the storage itself (a tensor, or :class:`PackedImages` for binary data),
    which can be moved with ``.to(device)`` and given back to the constructor.
    """

    def __init__(
        self,
        name: str,
        grid: FactorGrid | None,
        images: Tensor | PackedImages,
        classes: Tensor | None,
        max_value: int = 255,
    ) -> None:
        if not 1 <= int(max_value) <= 255:
            raise DataError(f"max_value must be in 1..255 for uint8 images, got {max_value}")
        if isinstance(images, PackedImages):
            if int(max_value) != 1:
                raise DataError(f"packed images are binary: max_value must be 1, got {max_value}")
        elif not isinstance(images, Tensor) or images.dtype != torch.uint8 or images.ndim != 4:
            raise DataError(
                f"images must be a uint8 tensor of shape (N, C, H, W), got "
                f"{getattr(images, 'dtype', type(images).__name__)} "
                f"{tuple(getattr(images, 'shape', ()))}"
            )
        elif int(max_value) == 1:
            top = int(images.max()) if images.numel() else 0
            if top > 1:
                raise DataError(
                    f"max_value=1 means binary images, but pixels go up to {top}; "
                    "pass max_value=255 for 8-bit images"
                )
            images = PackedImages.pack(images)
        if (grid is None) != (classes is None):
            raise DataError(
                "give both a factor grid and classes, or neither (data without factor labels)"
            )
        if classes is not None and (
            classes.ndim != 2 or classes.shape != (images.shape[0], grid.num_factors)
        ):
            raise DataError(
                f"classes must have shape (N, K) = ({images.shape[0]}, {grid.num_factors}), "
                f"got {tuple(classes.shape)}"
            )
        self.name = name
        self.grid = grid
        self.images = images
        self._classes = None if classes is None else _compact_classes(classes)
        self.max_value = int(max_value)
        self._full_grid: bool | None = None

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def classes(self) -> Tensor | None:
        """The factor classes of each image, long (N, K); None without factor labels."""
        return None if self._classes is None else self._classes.long()

    @property
    def has_factors(self) -> bool:
        """Whether the images come with factor labels (a grid and the classes of each image)."""
        return self.grid is not None

    def require_factors(self, purpose: str) -> None:
        """Raise a DataError saying that ``purpose`` needs factor labels, if there are none."""
        if not self.has_factors:
            raise DataError(
                f"{purpose} needs factor labels, but {self.name!r} holds images only; use a data "
                "set with factor classes (a registered one, or an .npz with factor_classes)"
            )

    def __repr__(self) -> str:
        factors = dict(zip(self.grid.names, self.grid.sizes)) if self.has_factors else None
        return (
            f"GroundTruthData({self.name!r}, n={len(self)}, image_shape={self.image_shape}, "
            f"factors={factors})"
        )

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    @property
    def is_packed(self) -> bool:
        return isinstance(self.images, PackedImages)

    @property
    def nbytes(self) -> int:
        """Bytes the pixels take in memory (packed bits for binary data)."""
        return self.images.nbytes

    @property
    def factor_names(self) -> tuple[str, ...]:
        """The factors' names; empty without factor labels."""
        return self.grid.names if self.has_factors else ()

    @property
    def factor_values(self) -> Tensor:
        """Factor values of every held image, (N, K) float64."""
        self.require_factors("factor values")
        return self.grid.classes_to_values(self.classes)

    @property
    def is_full_grid(self) -> bool:
        """True when the images are every grid point exactly once (in any order)."""
        if not self.has_factors:
            return False
        if self._full_grid is None:
            n = self.grid.num_points
            self._full_grid = len(self) == n and bool(
                (torch.bincount(self.grid.classes_to_index(self.classes), minlength=n) == 1).all()
            )
        return self._full_grid

    def require_full_grid(self, purpose: str) -> None:
        """Raise a DataError saying why ``purpose`` needs the full factor grid, if it is not."""
        self.require_factors(purpose)
        if self.is_full_grid:
            return
        distinct = int(torch.unique(self.grid.classes_to_index(self.classes)).numel())
        raise DataError(
            f"{purpose} needs every point of the factor grid of {self.name!r} "
            f"({' x '.join(map(str, self.grid.sizes))} = {self.grid.num_points:,}) exactly once, "
            f"but it holds {len(self):,} images of {distinct:,} distinct points; use data with "
            "one image per combination of factor classes"
        )

    def rows_of(self, classes: Tensor) -> Tensor:
        """Positions of the images with factor classes ``classes`` (M, K) (a full grid only)."""
        self.require_full_grid("looking images up by their factor classes")
        position = torch.empty(len(self), dtype=torch.long)
        position[self.grid.classes_to_index(self.classes)] = torch.arange(len(self))
        return position[self.grid.classes_to_index(classes)]

    def batch(
        self, index: Tensor, device: torch.device | str | None = None, dtype=torch.float32
    ) -> Tensor:
        """Images ``index`` as floats in [0, 1], shape (B, C, H, W); one gather, no Python loop
        (binary images: a gather of packed rows, unpacked on ``device``, then the conversion).

        ``dtype=torch.bool`` gives binary images as they are (True where a pixel is on), which the
        MLP encoder reads without a float copy.
        """
        if dtype == torch.bool and self.max_value != 1:
            raise DataError(
                f"{self.name} has pixel values up to {self.max_value}, not binary images: ask for "
                "a floating-point batch instead of dtype=torch.bool"
            )
        x = self.images[index]
        if self.is_packed:
            if device is not None and torch.device(device).type != "cpu":
                x = x.to(device, non_blocking=True)  # unpacked there: 1/8 of the copy
            x = x.unpack()
        if device is not None:
            x = x.to(device, non_blocking=True)
        if dtype == torch.bool or self.max_value == 1:
            return x.to(dtype)
        return x.to(dtype).div_(self.max_value)

    def images_uint8(self, index: Tensor | None = None) -> Tensor:
        """Stored pixel values (0..max_value) of images ``index`` (default all), (B, C, H, W)."""
        if self.is_packed:
            return self.images.unpack(index)
        return self.images if index is None else self.images[index]

    def subset(self, index: Tensor | Sequence[int], name: str | None = None) -> GroundTruthData:
        """The images at ``index`` (a long index or bool mask) as a new data set."""
        index = torch.as_tensor(index)
        classes = None if self._classes is None else self._classes[index]
        return GroundTruthData(
            name or self.name, self.grid, self.images[index], classes, self.max_value
        )

    def where(self, **ranges: tuple[int, int] | int) -> GroundTruthData:
        """Filter by factor classes: ``where(shape=0, posX=(0, 15))`` keeps classes in [lo, hi]."""
        self.require_factors("filtering by factor classes")
        return self.subset(factor_filter(self.classes, self.grid, ranges))


def factor_filter(
    classes: Tensor, grid: FactorGrid, ranges: dict[str, tuple[int, int] | list[int] | int]
) -> Tensor:
    """Increasing indices of the rows of ``classes`` (N, K) inside ``ranges``
    (:meth:`FactorGrid.in_ranges`)."""
    index = grid.in_ranges(classes, ranges).nonzero().squeeze(1)
    if index.numel() == 0:
        raise DataError(f"no image matches the factor filter {dict(ranges)}")
    return index


def random_subset(index: Tensor, size: int, seed: int) -> Tensor:
    """``size`` entries of ``index`` drawn uniformly without replacement by ``seed``, in order."""
    if size > index.numel():
        raise DataError(f"{size} is larger than the {index.numel()} images available")
    chosen = torch.randperm(index.numel(), generator=torch.Generator().manual_seed(seed))[:size]
    return index[chosen.sort().values]
