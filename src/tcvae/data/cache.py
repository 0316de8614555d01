"""Where data sets live on disk, and the compact on-disk cache of binary image stacks.

Binary image stacks are stored compactly: eight pixels per byte (``np.packbits`` along each image
row) in a zlib-compressed ``.npz``; dSprites' 3 GB of 0/1 pixels become a few tens of MB.
"""

from __future__ import annotations

import logging
import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from tcvae.data.ground_truth import DataError
from tcvae.files import atomic_write

CACHE_ENV_VAR = "TCVAE_CACHE_DIR"

log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """``$TCVAE_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/tcvae``, else ``~/.cache/tcvae``."""
    if os.environ.get(CACHE_ENV_VAR):
        return Path(os.environ[CACHE_ENV_VAR]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "tcvae"
    return Path.home() / ".cache" / "tcvae"


def resolve_cache_dir(cache_dir: str | os.PathLike | None) -> Path:
    return Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()


def save_binary_images(path: Path, images: Tensor, version: int) -> None:
    """Store a uint8 {0, 1} tensor (N, C, H, W) bit-packed and compressed, written atomically."""
    packed = np.packbits(images.numpy(), axis=-1)  # nonzero -> 1, no bool copy
    with atomic_write(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(
            f, packed=packed, shape=np.asarray(images.shape, dtype=np.int64), version=version
        )


def load_binary_images(path: Path, version: int) -> Tensor:
    """Read what :func:`save_binary_images` wrote: uint8 (N, C, H, W). Raises DataError if stale."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            stored_version = int(npz["version"])
            shape = tuple(int(s) for s in npz["shape"])
            packed = npz["packed"]
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise DataError(f"cannot read image cache {path}: {err}") from err
    if stored_version != version:
        raise DataError(f"{path} holds cache format version {stored_version}, not {version}")
    if len(shape) != 4 or packed.shape != (*shape[:-1], (shape[-1] + 7) // 8):
        raise DataError(f"image cache {path} is inconsistent: packed {packed.shape} for {shape}")
    images = np.unpackbits(packed, axis=-1, count=shape[-1])
    del packed
    return torch.from_numpy(images)


def cached_binary_images(path: Path, render: Callable[[], Tensor], version: int) -> Tensor:
    """Images from the cache file ``path`` if it is readable and current, else ``render()`` them
    and cache the result (a cache that cannot be written only costs a warning)."""
    if path.exists():
        try:
            return load_binary_images(path, version)
        except DataError as err:
            log.warning("ignoring unusable cache (%s); rendering again", err)
    images = render()
    try:
        save_binary_images(path, images, version)
        log.info("cached %d images in %s", images.shape[0], path)
    except OSError as err:
        log.warning("could not write the cache %s (%s); continuing without it", path, err)
    return images
