"""MPI3D (rr-learning/disentanglement_dataset, CC BY 4.0) as GroundTruthData: toy, realistic, real.

Each ``mpi3d_<variant>.npz`` holds ``images`` (1036800, 64, 64, 3) uint8 in C order over
object_color (6), object_shape (6), object_size (2), camera_height (3), background_color (3),
horizontal_axis (40) and vertical_axis (40). The files are 12 GiB each: when the archive stores the
images uncompressed they are memory-mapped (pages are read from disk as batches touch them, and
the OS may drop them again); otherwise they are decompressed in chunks into memory (11.9 GiB).

The files come from the Hugging Face dataset ``waleedgondal/mpi3d``, their home since April 2025,
which publishes no checksum: a download's structure is checked and its SHA-256 recorded
(docs/reference/datasets.md#mpi3d has the files' history).
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from tcvae.data.ground_truth import DataError, FactorGrid, GroundTruthData
from tcvae.data.npz import check_layout, iter_npz_rows, memmap_npz, npz_headers

VARIANTS = ("toy", "realistic", "real")
MPI3D_URL = "https://huggingface.co/datasets/waleedgondal/mpi3d/resolve/main/mpi3d_{}.npz"
# The MD5s the disent library pins for the files of the original bucket. The toy and realistic
# files were moved, not remade, so a download should match them; they are reported, not
# enforced, since nobody publishes checksums for the current copies. mpi3d_real.npz was
# replaced by a corrected file in 2025, so the old value says nothing about it.
REFERENCE_MD5 = {
    "toy": "55889cb7c7dfc655d6e0277beee88868",
    "realistic": "59a6225b88b635365f70c91b3e52f70f",
}
FACTOR_NAMES = (
    "object_color",
    "object_shape",
    "object_size",
    "camera_height",
    "background_color",
    "horizontal_axis",
    "vertical_axis",
)
FACTOR_SIZES = (6, 6, 2, 3, 3, 40, 40)
IMAGE_SHAPE = (64, 64, 3)
READ_CHUNK = 8192  # images per chunk when the archive is compressed (96 MiB)

log = logging.getLogger(__name__)


def mpi3d_filename(variant: str) -> str:
    return f"mpi3d_{variant}.npz"


def mpi3d_grid() -> FactorGrid:
    """The MPI3D factor grid; every factor's values are its class indices 0, 1, ..."""
    return FactorGrid.of_classes(FACTOR_NAMES, FACTOR_SIZES)


def check_mpi3d_npz(path: str | os.PathLike) -> None:
    """Raise DataError unless ``path`` holds ``images`` of the MPI3D shape and dtype."""
    expected = {"images": ((int(np.prod(FACTOR_SIZES)), *IMAGE_SHAPE), np.uint8)}
    what = "an MPI3D file of the 1,036,800-image release"
    check_layout(Path(path), npz_headers(path), expected, what)


def load_mpi3d_npz(
    path: str | os.PathLike, variant: str = "toy", progress: bool = False
) -> GroundTruthData:
    """Load one MPI3D file; memory-mapped when stored uncompressed, else read in chunks."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"no MPI3D file at {path}; run `tcvae data download mpi3d_{variant}`")
    check_mpi3d_npz(path)
    grid = mpi3d_grid()
    n = grid.num_points
    images = memmap_npz(path, "images")
    if images is None:
        log.warning("loading MPI3D %s: %.1f GiB of images into memory", variant, n * 12288 / 2**30)
        images = np.empty((n, *IMAGE_SHAPE), dtype=np.uint8)
        chunks = iter_npz_rows(path, "images", READ_CHUNK)
        for start, rows in tqdm(chunks, desc=f"reading {path.name}", disable=not progress):
            images[start : start + rows.shape[0]] = rows
    else:
        log.info("memory-mapping %s (%.1f GiB on disk)", path, n * 12288 / 2**30)
    with warnings.catch_warnings():  # a read-only memory map: nothing ever writes to it
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        pixels = torch.from_numpy(images).permute(0, 3, 1, 2)
    return GroundTruthData(f"mpi3d_{variant}", grid, pixels, grid.all_classes(), max_value=255)
