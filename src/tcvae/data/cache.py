"""Where data sets live on disk, and the on-disk caches of rendered images.

Binary image stacks are stored as they are held in memory, eight pixels per byte
(:class:`~tcvae.data.ground_truth.PackedImages`), in a zlib-compressed ``.npz``; dSprites' 2.8 GiB
of 0/1 pixels become a few tens of MB on disk, 360 MiB in memory. 8-bit images are cached as plain
``.npy`` files, read back in one call.
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

from tcvae.data.ground_truth import FILE_SOURCES, SOURCES, DataError, PackedImages
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


def resolve_source(
    name: str, source: str, filename: str, cache_dir: str | os.PathLike | None, builtin: bool = True
) -> str:
    """ "builtin" or "file": what ``source`` means now for data set ``name``, whose file is
    ``filename`` in the cache; "auto" is the file when it is there, else the built-in generator
    (a data set with no generator, ``builtin`` false, has the sources "auto" and "file" only)."""
    sources = SOURCES if builtin else FILE_SOURCES
    if source not in sources:
        fix = "" if builtin else f" ({name} has no built-in generator: tcvae data download {name})"
        raise DataError(f"unknown source {source!r} for {name}; choose one of {list(sources)}{fix}")
    if source == "auto":
        present = (resolve_cache_dir(cache_dir) / filename).is_file()
        return "file" if present or not builtin else "builtin"
    return source


def save_binary_images(path: Path, images: PackedImages, version: int) -> None:
    """Store packed binary images, compressed, written atomically."""
    with atomic_write(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(
            f,
            packed=images.bits.numpy(),
            shape=np.asarray(images.shape, dtype=np.int64),
            version=version,
        )


def load_binary_images(path: Path, version: int) -> PackedImages:
    """Read what :func:`save_binary_images` wrote, still packed. Raises DataError if stale."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            stored_version = int(npz["version"])
            shape = tuple(int(s) for s in npz["shape"])
            packed = npz["packed"]
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise DataError(f"cannot read image cache {path}: {err}") from err
    if stored_version != version:
        raise DataError(f"{path} holds cache format version {stored_version}, not {version}")
    try:
        return PackedImages(torch.from_numpy(packed), shape)
    except DataError as err:
        raise DataError(f"image cache {path} is inconsistent: {err}") from err


def cached_images(path: Path, render: Callable, load: Callable, save: Callable):
    """``load()`` the cache file ``path`` if it is readable and current, else ``render()`` the
    images and ``save(images)`` them (a cache that cannot be written only costs a warning)."""
    if path.exists():
        try:
            return load()
        except DataError as err:
            log.warning("ignoring unusable cache (%s); rendering again", err)
    images = render()
    try:
        save(images)
        log.info("cached %d images in %s", len(images), path)
    except OSError as err:
        log.warning("could not write the cache %s (%s); continuing without it", path, err)
    return images


def save_uint8_images(path: Path, images: Tensor) -> None:
    """Store a uint8 image tensor as a plain ``.npy`` file (fast to read back), atomically."""
    with atomic_write(path) as tmp, open(tmp, "wb") as f:
        np.save(f, images.contiguous().numpy(), allow_pickle=False)


def load_uint8_images(path: Path, shape: tuple[int | None, ...]) -> Tensor:
    """Read what :func:`save_uint8_images` wrote; DataError unless it is uint8 of ``shape``
    (an entry None matches any length)."""
    try:
        images = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise DataError(f"cannot read image cache {path}: {err}") from err
    matches = len(images.shape) == len(shape) and all(
        want is None or want == got for want, got in zip(shape, images.shape)
    )
    if images.dtype != np.uint8 or not matches:
        raise DataError(
            f"image cache {path} holds {images.dtype} {images.shape}, expected uint8 {shape}"
        )
    return torch.from_numpy(images)
