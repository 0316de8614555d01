"""3D Shapes (deepmind/3d-shapes, Apache 2.0) as GroundTruthData, from ``3dshapes.h5``.

The file holds ``images`` (480000, 64, 64, 3) uint8 and ``labels`` (480000, 6) float64 in C order
over floor_hue (10), wall_hue (10), object_hue (10), scale (8), shape (4) and orientation (15).
Reading it needs the optional ``h5py`` (``pip install 'tcvae[h5]'``). The images are read in
chunks into one channel-last array (5.5 GiB, held as a channel-first view, never copied), so
loading needs that much memory plus one chunk; the factor values are taken from the labels.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from tcvae.data.ground_truth import DataError, FactorGrid, GroundTruthData
from tcvae.data.npz import NpyHeader, check_layout

SHAPES3D_FILENAME = "3dshapes.h5"
SHAPES3D_URL = "https://storage.googleapis.com/3d-shapes/3dshapes.h5"
# MD5 of the official file as pinned by the disent library (nmichlo/disent); not published by
# DeepMind and not re-computed here.
SHAPES3D_MD5 = "099a2078d58cec4daad0702c55d06868"
FACTOR_NAMES = ("floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation")
FACTOR_SIZES = (10, 10, 10, 8, 4, 15)
IMAGE_SHAPE = (64, 64, 3)
READ_CHUNK = 10_000  # images per h5py read (117 MiB)

log = logging.getLogger(__name__)


def load_shapes3d_h5(path: str | os.PathLike, progress: bool = False) -> GroundTruthData:
    """Load ``3dshapes.h5``, checking datasets, shapes, dtypes and that the labels are the factor
    grid in C order; the factor values are the distinct label values of each column."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"no 3D Shapes file at {path}; run `tcvae data download shapes3d`")
    try:
        import h5py
    except ImportError:
        raise DataError(
            "reading 3dshapes.h5 needs h5py: pip install 'tcvae[h5]' (or pip install h5py)"
        ) from None
    sizes = FACTOR_SIZES
    n = int(np.prod(sizes))
    try:
        with h5py.File(path, "r") as f:
            expected = {"images": ((n, *IMAGE_SHAPE), np.uint8), "labels": ((n, 6), np.float64)}
            found = {
                key: NpyHeader(item.shape, item.dtype, False)
                for key, item in f.items()
                if isinstance(item, h5py.Dataset)
            }
            check_layout(path, found, expected, "the official 3dshapes.h5")
            grid, classes = _grid_from_labels(f["labels"][()], sizes, path)
            log.warning("loading 3D Shapes: %.1f GiB of images into memory", n * 12288 / 2**30)
            images = np.empty((n, *IMAGE_SHAPE), dtype=np.uint8)
            starts = range(0, n, READ_CHUNK)
            for start in tqdm(starts, desc="reading 3dshapes", unit="chunk", disable=not progress):
                rows = np.s_[start : min(n, start + READ_CHUNK)]
                f["images"].read_direct(images, source_sel=rows, dest_sel=rows)
    except DataError:
        raise
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        raise DataError(
            f"{path} is not a readable HDF5 file ({type(err).__name__}: {err}); it may be "
            "truncated or corrupt: delete it and run `tcvae data download shapes3d`"
        ) from err
    pixels = torch.from_numpy(images).permute(0, 3, 1, 2)  # (N, 3, 64, 64) view, no copy
    return GroundTruthData("shapes3d", grid, pixels, classes, max_value=255)


def _grid_from_labels(
    labels: np.ndarray, sizes: tuple[int, ...], path: Path
) -> tuple[FactorGrid, torch.Tensor]:
    values, columns = [], []
    for k, (name, size) in enumerate(zip(FACTOR_NAMES, sizes)):
        distinct, column = np.unique(labels[:, k], return_inverse=True)
        if distinct.size != size:
            raise DataError(
                f"{path}: factor {name!r} takes {distinct.size} distinct values, expected {size}"
            )
        values.append(torch.from_numpy(distinct.astype(np.float64)))
        columns.append(column.reshape(-1))
    grid = FactorGrid(FACTOR_NAMES, tuple(values))
    classes = torch.from_numpy(np.stack(columns, 1).astype(np.int64))
    if not torch.equal(classes, grid.all_classes()):
        raise DataError(
            f"{path}: labels are not the 3D Shapes factor grid in C order (orientation fastest)"
        )
    return grid, classes


def shapes3d_grid() -> FactorGrid:
    """The factor grid with the class indices as values (the file's values need the file)."""
    return FactorGrid.of_classes(FACTOR_NAMES, FACTOR_SIZES)
