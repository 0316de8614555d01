"""dSprites as GroundTruthData: the official file or the built-in generator (REFERENCE.md s7).

``source="file"`` reads the official npz from the cache directory (fetch it with
``tcvae data download dsprites``); ``source="builtin"`` renders the same factor grid offline
(:mod:`tcvae.data.sprites`) and caches it; ``source="auto"`` uses the file when it is present.
"""

from __future__ import annotations

import logging
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from tcvae.data.cache import cached_binary_images, resolve_cache_dir
from tcvae.data.download import download_file, file_md5
from tcvae.data.ground_truth import (
    SOURCES,
    DataError,
    GroundTruthData,
    PackedImages,
    pack_bits,
)
from tcvae.data.npz import iter_npz_rows
from tcvae.data.sprites import IMAGE_SIZE, dsprites_grid, render_dsprites_packed

DSPRITES_FILENAME = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
DSPRITES_URL = f"https://github.com/deepmind/dsprites-dataset/raw/master/{DSPRITES_FILENAME}"
DSPRITES_MD5 = "7da33b31b13a06f4b04a70402ce90c2e"
URL_ENV_VAR = "TCVAE_DSPRITES_URL"
# Bump when the generator's pictures change, so stale caches are rendered again.
BUILTIN_VERSION = 1
BUILTIN_FILENAME = f"dsprites_builtin_v{BUILTIN_VERSION}.npz"
READ_CHUNK = 8192  # images read from the file at a time (32 MiB unpacked)

log = logging.getLogger(__name__)


def download_dsprites(
    cache_dir: str | os.PathLike | None = None,
    url: str | None = None,
    md5: str = DSPRITES_MD5,
    progress: bool = False,
) -> Path:
    """Fetch the official dSprites npz into ``cache_dir`` and return its path.

    ``url`` defaults to ``$TCVAE_DSPRITES_URL`` or the official release. A file already in the
    cache with the right MD5 is kept; the download is verified before it replaces anything.
    """
    dest = resolve_cache_dir(cache_dir) / DSPRITES_FILENAME
    if dest.exists() and file_md5(dest) == md5.lower():
        log.info("%s is already present and verified", dest)
        return dest
    url = url or os.environ.get(URL_ENV_VAR) or DSPRITES_URL
    return download_file(url, dest, md5, progress=progress)


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
    n = grid.num_points
    expected = {
        "imgs": ((n, IMAGE_SIZE, IMAGE_SIZE), np.dtype(np.uint8)),
        "latents_values": ((n, grid.num_factors), np.dtype(np.float64)),
        "latents_classes": ((n, grid.num_factors), np.dtype(np.int64)),
    }
    try:
        with np.load(path, allow_pickle=False) as npz:
            _check_layout(npz, expected, path)
            values, classes = npz["latents_values"], npz["latents_classes"]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        if isinstance(err, DataError):
            raise
        raise DataError(
            f"{path} is not a readable dSprites npz ({type(err).__name__}: {err}); it may be "
            "truncated or corrupt: delete it and run `tcvae data download dsprites`"
        ) from err
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


def _check_layout(
    npz: np.lib.npyio.NpzFile, expected: dict[str, tuple[tuple[int, ...], np.dtype]], path: Path
) -> None:
    """Compare each array's header (shape, dtype) with ``expected`` before reading any data."""
    missing = [key for key in expected if key not in npz.files]
    if missing:
        raise DataError(
            f"{path} lacks {missing}; a dSprites npz holds {sorted([*expected, 'metadata'])}, "
            f"this one holds {sorted(npz.files)}"
        )
    for key, (shape, dtype) in expected.items():
        with npz.zip.open(f"{key}.npy") as member:
            major, _ = np.lib.format.read_magic(member)
            read_header = (
                np.lib.format.read_array_header_1_0
                if major == 1
                else np.lib.format.read_array_header_2_0
            )
            found_shape, _, found_dtype = read_header(member)
        if found_shape != shape or found_dtype != dtype:
            raise DataError(
                f"{path}: {key!r} is {found_dtype} {found_shape}, expected {dtype} {shape}; "
                "this is not the official dSprites file"
            )


def builtin_dsprites(
    cache_dir: str | os.PathLike | None = None, progress: bool = False
) -> GroundTruthData:
    """The full grid from the built-in generator; rendered once, then read from the cache."""
    grid = dsprites_grid()
    classes = grid.all_classes()
    path = resolve_cache_dir(cache_dir) / BUILTIN_FILENAME
    images = cached_binary_images(
        path, lambda: render_dsprites_packed(classes, progress=progress), BUILTIN_VERSION
    )
    if tuple(images.shape) != (grid.num_points, 1, IMAGE_SIZE, IMAGE_SIZE):
        raise DataError(f"{path} holds images of shape {tuple(images.shape)}; delete it")
    return GroundTruthData("dsprites", grid, images, classes, max_value=1)


def builtin_dsprites_subset(classes: Tensor) -> GroundTruthData:
    """Render only the grid points ``classes`` (M, 6) long, e.g. a correlated-factor sample."""
    images = render_dsprites_packed(classes)
    return GroundTruthData("dsprites", dsprites_grid(), images, torch.as_tensor(classes), 1)


def resolve_source(source: str, cache_dir: str | os.PathLike | None = None) -> str:
    """ "builtin" or "file": what ``source`` ("auto", "builtin" or "file") means here and now."""
    if source not in SOURCES:
        raise DataError(f"unknown dSprites source {source!r}; choose one of {list(SOURCES)}")
    if source == "auto":
        present = (resolve_cache_dir(cache_dir) / DSPRITES_FILENAME).is_file()
        return "file" if present else "builtin"
    return source


def load_dsprites(
    source: str = "auto", cache_dir: str | os.PathLike | None = None, progress: bool = False
) -> GroundTruthData:
    """dSprites from ``source``: "file" (official npz), "builtin" (generator) or "auto" (the file
    when it is in the cache, else the generator)."""
    if resolve_source(source, cache_dir) == "file":
        return load_dsprites_npz(resolve_cache_dir(cache_dir) / DSPRITES_FILENAME)
    return builtin_dsprites(cache_dir, progress=progress)
