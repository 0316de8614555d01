"""Your own data as GroundTruthData: arrays in memory (:func:`from_arrays`) or an ``.npz`` file.

The ``.npz`` layout (written with ``np.savez``, read with ``allow_pickle=False``):

* ``images``: uint8 or bool, (N, 64, 64), (N, 64, 64, C) or (N, C, 64, 64) with C = 1 or 3;
* ``factor_classes`` (optional): integer (N, K), the class (0, 1, ...) of each factor for each
  image; without it the data has no factor labels (training, reconstructions and the ELBO
  decomposition work; the disentanglement metrics need labels);
* ``factor_names`` (optional): K strings (a numpy string array, not objects);
* ``factor_values`` (optional): float (K, S), row k the value of each class of factor k, padded
  at the end with NaN when factors have different numbers of classes.

Images whose pixels are all 0 or 1 (or all 0 or 255) are binary and held bit-packed; others are
8-bit grey levels or colours (0..255). A path ending in ``.npz`` works wherever a data set name
does: ``load_dataset("my_data.npz")``, ``tcvae train --data my_data.npz``. For a folder of
image files of any size, see :mod:`tcvae.data.folder`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from tcvae.data.ground_truth import DataError, FactorGrid, GroundTruthData
from tcvae.data.npz import reading

IMAGE_SIZE = 64
CHANNELS = (1, 3)
NPZ_KEYS = ("images", "factor_classes", "factor_names", "factor_values")
RESIZE_HINT = (
    "resize to 64 x 64 first, e.g. torch.nn.functional.interpolate(x.float(), size=64, "
    "mode='area') on (N, C, H, W) images, then back to uint8"
)


def from_arrays(
    images: np.ndarray | Tensor,
    factor_classes: np.ndarray | Tensor | None = None,
    factor_names: Sequence[str] | None = None,
    factor_values: Sequence[np.ndarray | Tensor | Sequence[float]] | None = None,
    name: str = "arrays",
) -> GroundTruthData:
    """A data set from images and (optionally) the factor classes that generated them.

    images: uint8 or bool, (N, 64, 64), (N, 64, 64, C) or (N, C, 64, 64), C = 1 or 3; shares
    memory with the input where it can (a channel-last array is viewed, not copied), except that
    binary images are bit-packed. factor_classes: integers (N, K), classes 0..size-1; None for
    images without factor labels (then factor_names and factor_values must be None too).
    factor_names: K unique names (default factor0, factor1, ...). factor_values: K sequences, the
    value of each class of factor k (default 0, 1, 2, ...; its length sets the number of classes,
    else the largest class + 1 does).
    """
    x = _as_tensor(images, "images")
    if x.dtype == torch.bool:
        x = x.to(torch.uint8)
    elif x.dtype != torch.uint8:
        raise DataError(
            f"images must be uint8 (0..255) or bool, got {x.dtype}; for floats in [0, 1] use "
            "(x * 255).round() as uint8"
        )
    x = _channels_first(x)
    if factor_classes is None:
        if factor_names is not None or factor_values is not None:
            raise DataError(
                "factor_names and factor_values describe factor_classes; give those too"
            )
        return _with_max_value(name, None, x, None)
    classes = _as_tensor(factor_classes, "factor_classes")
    if classes.dtype.is_floating_point or classes.dtype == torch.bool or classes.is_complex():
        raise DataError(f"factor_classes must be integers (class indices), got {classes.dtype}")
    if classes.ndim != 2 or classes.shape[1] < 1:
        raise DataError(
            f"factor_classes must be (N, K): one row per image, one column per factor; got shape "
            f"{tuple(classes.shape)}"
        )
    n, k = classes.shape
    if n != x.shape[0]:
        raise DataError(
            f"images and factor_classes differ in length: {x.shape[0]} images but {n} rows of "
            "classes; give one row of classes per image"
        )
    classes = classes.to(torch.long)
    names = _factor_names(factor_names, k)
    if n and int(classes.min()) < 0:
        bad = int((classes < 0).any(0).nonzero()[0])
        raise DataError(f"factor {names[bad]!r} has negative classes; classes count from 0")
    values = _factor_values(factor_values, classes, names)
    return _with_max_value(name, FactorGrid(names, values), x, classes)


def _with_max_value(
    name: str, grid: FactorGrid | None, x: Tensor, classes: Tensor | None
) -> GroundTruthData:
    """The data set, binary (bit-packed) when every pixel is 0/1 or 0/255, else 8-bit."""
    top = int(x.max()) if x.numel() else 0
    if top <= 1:
        return GroundTruthData(name, grid, x, classes, max_value=1)
    if top == 255 and bool(((x == 0) | (x == 255)).all()):
        return GroundTruthData(name, grid, x // 255, classes, max_value=1)
    return GroundTruthData(name, grid, x, classes, max_value=255)


def load_npz(path: str | os.PathLike, name: str | None = None) -> GroundTruthData:
    """Load a data set saved in the layout of this module's docstring (never unpickles)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"no data file at {path}; check the path (a .npz in the documented layout)")
    fix = "write it again, strings as a numpy str array (pickled objects are not read)"
    with reading(path, "a readable .npz of plain arrays", fix):
        with np.load(path, allow_pickle=False) as npz:
            if "images" not in npz.files:
                raise DataError(
                    f"{path} lacks ['images']; a data set .npz holds images (and optionally "
                    f"factor_classes, factor_names, factor_values); it holds {sorted(npz.files)}"
                )
            arrays = {key: npz[key] for key in NPZ_KEYS if key in npz.files}
    names = arrays.get("factor_names")
    values = arrays.get("factor_values")
    if values is not None:
        if values.ndim != 2 or not np.issubdtype(values.dtype, np.floating):
            raise DataError(
                f"{path}: factor_values must be a float array (K, S) padded with NaN, got "
                f"{values.dtype} {values.shape}"
            )
        values = [row[: _unpadded_length(row)] for row in values]
    return from_arrays(
        arrays["images"],
        arrays.get("factor_classes"),
        factor_names=None if names is None else [str(s) for s in names.tolist()],
        factor_values=values,
        name=name or path.stem,
    )


def _unpadded_length(row: np.ndarray) -> int:
    finite = np.flatnonzero(~np.isnan(row))
    return int(finite[-1]) + 1 if finite.size else 0


def _as_tensor(array: np.ndarray | Tensor, what: str) -> Tensor:
    if isinstance(array, Tensor):
        return array.detach().cpu()
    array = np.asarray(array)
    if array.dtype == object:
        raise DataError(f"{what} must be a numeric array, got an object array")
    if not array.flags.writeable:
        array = array.copy()
    return torch.from_numpy(array)


def _channels_first(x: Tensor) -> Tensor:
    s = tuple(x.shape)
    if x.ndim == 3 and s[1:] == (IMAGE_SIZE, IMAGE_SIZE):
        return x.unsqueeze(1)
    if x.ndim == 4 and s[1] in CHANNELS and s[2:] == (IMAGE_SIZE, IMAGE_SIZE):
        return x
    if x.ndim == 4 and s[3] in CHANNELS and s[1:3] == (IMAGE_SIZE, IMAGE_SIZE):
        return x.permute(0, 3, 1, 2)
    raise DataError(
        f"images must be (N, 64, 64), (N, 64, 64, C) or (N, C, 64, 64) with C = 1 or 3, got "
        f"shape {s}; {RESIZE_HINT}"
    )


def _factor_names(names: Sequence[str] | None, k: int) -> tuple[str, ...]:
    if names is None:
        return tuple(f"factor{i}" for i in range(k))
    names = tuple(str(s) for s in names)
    if len(names) != k:
        raise DataError(f"got {len(names)} factor_names for {k} factors (columns of classes)")
    return names


def _factor_values(
    values: Sequence | None, classes: Tensor, names: tuple[str, ...]
) -> tuple[Tensor, ...]:
    top = classes.max(0).values if classes.shape[0] else torch.zeros(len(names), dtype=torch.long)
    if values is None:
        return tuple(torch.arange(int(t) + 1, dtype=torch.float64) for t in top)
    if len(values) != len(names):
        raise DataError(f"got {len(values)} factor_values lists for {len(names)} factors")
    out = []
    for name, v, t in zip(names, values, top.tolist()):
        v = torch.as_tensor(np.asarray(v, dtype=np.float64))
        if v.ndim != 1 or v.numel() == 0:
            raise DataError(f"factor_values of {name!r} must be a non-empty 1-D list of numbers")
        if t >= v.numel():
            raise DataError(
                f"factor {name!r} has class {t} but only {v.numel()} values (classes "
                f"0..{v.numel() - 1}); give one value per class"
            )
        out.append(v)
    return tuple(out)
