"""dSprites as GroundTruthData: the official file or the built-in generator (REFERENCE.md s7).

``source="file"`` reads the official npz from the cache directory (fetch it with
``tcvae data download dsprites``); ``source="builtin"`` renders the same factor grid offline
(:mod:`tcvae.data.sprites`) and caches it; ``source="auto"`` uses the file when it is present.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from tcvae.data.cache import (
    cached_images,
    load_binary_images,
    resolve_cache_dir,
    save_binary_images,
)
from tcvae.data.ground_truth import DataError, GroundTruthData, PackedImages, pack_bits
from tcvae.data.npz import check_layout, iter_npz_rows, npz_headers, reading
from tcvae.data.sprites import IMAGE_SIZE, dsprites_grid, render_dsprites_packed

DSPRITES_FILENAME = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
DSPRITES_URL = f"https://github.com/deepmind/dsprites-dataset/raw/master/{DSPRITES_FILENAME}"
DSPRITES_MD5 = "7da33b31b13a06f4b04a70402ce90c2e"
# Bump when the generator's pictures change, so stale caches are rendered again.
BUILTIN_VERSION = 1
BUILTIN_FILENAME = f"dsprites_builtin_v{BUILTIN_VERSION}.npz"
READ_CHUNK = 8192  # images read from the file at a time (32 MiB unpacked)


def load_dsprites_npz(path: str | os.PathLike) -> GroundTruthData:
    """Load the official dSprites npz, checking keys, shapes, dtypes, classes and values.

    The ``metadata`` entry is a pickle and is never read (``allow_pickle=False``): everything in
    it is known from :func:`dsprites_grid`. The images are read in chunks and bit-packed as they
    arrive (:class:`PackedImages`, 360 MiB), so the 2.8 GiB of unpacked pixels are never held.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(
            f"no dSprites file at {path}; run `tcvae data download dsprites` or use the built-in "
            "generator (source='builtin')"
        )
    grid = dsprites_grid()
    n, k = grid.num_points, grid.num_factors
    expected = {
        "imgs": ((n, IMAGE_SIZE, IMAGE_SIZE), np.uint8),
        "latents_values": ((n, k), np.float64),
        "latents_classes": ((n, k), np.int64),
    }
    fix = "delete it and run `tcvae data download dsprites`"
    with reading(path, "a readable dSprites npz", fix), np.load(path, allow_pickle=False) as npz:
        check_layout(path, npz_headers(path), expected, "the official dSprites file")
        values, classes = npz["latents_values"], npz["latents_classes"]
    classes_t = torch.from_numpy(classes)
    if not torch.equal(classes_t, grid.all_classes()):
        raise DataError(
            f"{path}: latents_classes are not the dSprites grid in C order "
            f"(posY fastest, sizes {grid.sizes}); this is not the official file"
        )
    if not np.allclose(values, grid.classes_to_values(classes_t).numpy(), atol=1e-6):
        raise DataError(f"{path}: latents_values do not match the dSprites factor values")
    bits = torch.empty(n, IMAGE_SIZE * IMAGE_SIZE // 8, dtype=torch.uint8)
    for start, chunk in iter_npz_rows(path, "imgs", READ_CHUNK):
        top = int(chunk.max(initial=0))
        if top > 1:
            raise DataError(f"{path}: imgs must be binary (0/1), found values up to {top}")
        bits[start : start + chunk.shape[0]] = pack_bits(chunk)
    images = PackedImages(bits, (n, 1, IMAGE_SIZE, IMAGE_SIZE))
    return GroundTruthData("dsprites", grid, images, classes_t, max_value=1)


def builtin_dsprites(
    cache_dir: str | os.PathLike | None = None, progress: bool = False
) -> GroundTruthData:
    """The full grid from the built-in generator; rendered once, then read from the cache."""
    grid = dsprites_grid()
    classes = grid.all_classes()
    path = resolve_cache_dir(cache_dir) / BUILTIN_FILENAME
    images = cached_images(
        path,
        lambda: render_dsprites_packed(classes, progress=progress),
        lambda: load_binary_images(path, BUILTIN_VERSION),
        lambda images: save_binary_images(path, images, BUILTIN_VERSION),
    )
    if tuple(images.shape) != (grid.num_points, 1, IMAGE_SIZE, IMAGE_SIZE):
        raise DataError(f"{path} holds images of shape {tuple(images.shape)}; delete it")
    return GroundTruthData("dsprites", grid, images, classes, max_value=1)


def builtin_dsprites_subset(classes: Tensor) -> GroundTruthData:
    """Render only the grid points ``classes`` (M, 6) long, e.g. a correlated-factor sample."""
    images = render_dsprites_packed(classes)
    return GroundTruthData("dsprites", dsprites_grid(), images, torch.as_tensor(classes), 1)
