"""A folder of image files (PNG, JPEG; searched recursively) as a data set without factor labels.

Each image is centre-cropped to the largest square that fits and resized to ``size`` x ``size``
(64 by default, what the networks take) with PIL: area averaging (the box filter) when shrinking,
bicubic interpolation when enlarging. ``channels`` keeps grey (1) or colour (3); by default it is
as the files are, grey when every file is grey, else colour.

A folder is decoded once into a uint8 array (N, C, size, size) cached in the cache directory
(:func:`tcvae.data.cache.default_cache_dir`), under a name derived from the folder's file list,
each file's size and modification time, and the options; a later load reads that array back in
one call, and any change to the folder (a file added, removed, rewritten) decodes it again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from tqdm import tqdm

from tcvae.data.arrays import IMAGE_SIZE
from tcvae.data.cache import cached_images, load_uint8_images, resolve_cache_dir, save_uint8_images
from tcvae.data.ground_truth import DataError, GroundTruthData

if TYPE_CHECKING:  # PIL loads only when a folder is read (the tcvae command stays light)
    from PIL import Image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")
CACHE_SUBDIR = "folders"
CACHE_VERSION = 1


def image_files(folder: str | os.PathLike) -> list[Path]:
    """Every PNG and JPEG file under ``folder`` (recursively), sorted by relative path."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DataError(f"no folder at {folder}; give a folder of PNG or JPEG images")
    files = sorted(
        (p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()),
        key=lambda p: p.relative_to(folder).as_posix(),
    )
    if not files:
        raise DataError(
            f"{folder} holds no image files ({', '.join(IMAGE_SUFFIXES)}, searched recursively)"
        )
    return files


def center_crop_resize(image: Image.Image, size: int = IMAGE_SIZE) -> Image.Image:
    """The largest centred square of ``image``, resized to ``size`` x ``size`` (box filter when
    shrinking, bicubic when enlarging)."""
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    square = image.crop((left, top, left + side, top + side))
    from PIL import Image

    resample = Image.Resampling.BOX if side >= size else Image.Resampling.BICUBIC
    return square.resize((size, size), resample)


def from_folder(
    path: str | os.PathLike,
    size: int = IMAGE_SIZE,
    channels: int | None = None,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = False,
) -> GroundTruthData:
    """The images under folder ``path``, uint8 (N, channels, size, size), without factor labels
    (this module's docstring); channels: 1 (grey), 3 (colour) or None (as the files are)."""
    if channels not in (None, 1, 3):
        raise DataError(
            f"channels must be 1 (grey), 3 (colour) or None (as the files are), got {channels}"
        )
    folder = Path(path).expanduser().resolve()
    files = image_files(folder)
    cache = resolve_cache_dir(cache_dir) / CACHE_SUBDIR / f"{_cache_key(files, size, channels)}.npy"
    shape = (len(files), channels, size, size)
    images = cached_images(
        cache,
        lambda: _decode(files, size, channels, progress),
        lambda: load_uint8_images(cache, shape),
        lambda images: save_uint8_images(cache, images),
    )
    return GroundTruthData(folder.name, None, images, None, max_value=255)


def _cache_key(files: list[Path], size: int, channels: int | None) -> str:
    """A digest of the file list, each file's size and modification time, and the options."""
    listing = [(str(file), file.stat().st_size, file.stat().st_mtime_ns) for file in files]
    text = json.dumps(
        {"version": CACHE_VERSION, "size": size, "channels": channels, "files": listing}
    )
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _open(file: Path) -> Image.Image:
    from PIL import Image, UnidentifiedImageError

    try:
        return Image.open(file)
    except (OSError, UnidentifiedImageError) as err:
        raise DataError(f"cannot read the image {file} ({err}); remove or replace it") from err


def _decode(files: list[Path], size: int, channels: int | None, progress: bool) -> torch.Tensor:
    if channels is None:  # headers only: PIL reads the pixels lazily
        channels = 1 if all(_open(f).mode in GREY_MODES for f in files) else 3
    mode = "L" if channels == 1 else "RGB"
    out = np.empty((len(files), size, size, channels), dtype=np.uint8)
    for i, file in enumerate(tqdm(files, desc="reading images", disable=not progress)):
        with _open(file) as image:
            try:
                pixels = center_crop_resize(image.convert(mode), size)
            except OSError as err:
                raise DataError(f"cannot decode the image {file} ({err})") from err
        out[i] = np.asarray(pixels).reshape(size, size, channels)
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()
